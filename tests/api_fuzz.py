"""What the API property tests share: a service's description, with the checks every answer must pass.

Schemathesis generates requests from the description, valid and not (``generation.mode: all``), sends them over
real HTTP and checks each answer: a status the description lists, its content type and body schema, no 5xx but
the designed ones (502, 503 and 504 say a dependency failed or the service is overloaded; 500 never), a request
the description calls invalid refused with a 4xx, a valid one not refused as invalid. A dropped connection is
an error of its own. How many requests: ``tests.fuzzing.examples`` per operation, plus Schemathesis's coverage
phase (boundary values and each kind of wrong value, a fixed set per operation).
"""

from __future__ import annotations

import json
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import BaseSchema

DESIGNED_SERVER_ERRORS = ["502", "503", "504"]
REFUSALS = ["400", "401", "404", "405", "409", "413", "414", "415", "422", "431", "5xx"]
"""What an invalid request may be answered (414 and 431: a target or head beyond the proxy's limits; 5xx: a
failure of its own, which the other checks judge)."""


def load(description: dict[str, Any], *, token: str | None = None) -> BaseSchema:
    """``description`` ready to generate requests from; each test sends them to its running service (``base_url``),
    which serves the same description (a test checks it)."""
    settings: dict[str, Any] = {
        # Not unknown headers and query parameters as invalid requests: the services ignore them, as HTTP servers do.
        "generation": {"mode": "all", "allow-extra-parameters": False},
        "checks": {
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", *DESIGNED_SERVER_ERRORS]},
            # A write whose X-Deadline has passed is refused (412) before anything else is looked at, valid or not.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "404", "409", "412", "5xx"]},
            "negative_data_rejection": {"expected-statuses": [*REFUSALS, "412"]},
        },
        "request-timeout": 30,
    }
    if token is not None:
        settings["auth"] = {"openapi": {"token": {"bearer": token}}}
    return schemathesis.openapi.from_dict(description, config=schemathesis.Config.from_dict(settings))


ODD_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "9223372036854775808",
    "1" + "0" * 400,
]
ODD_VALUES = [*ODD_NUMBERS, '"\\ud800"', '"\\udfff\\ud800x"', '"\\u0000"', '"a/b"', '""', "null", "true", "[]", "{}"]
TOO_DEEP = "[" * 5000  # deeper than Python's json module recurses


def _value() -> st.SearchStrategy[str]:
    plain = st.text(max_size=20).map(json.dumps) | st.integers().map(str) | st.floats().map(json.dumps)
    return st.sampled_from(ODD_VALUES) | plain


def _splice(parts: tuple[bytes, bytes, int]) -> bytes:
    text, noise, at = parts
    return text[:at] + noise + text[at:]


def hostile_bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Bodies a JSON API must refuse with a 4xx and take no harm from: objects of ``fields`` (and others) holding
    what JSON parsers take and a store cannot (NaN, infinities, numbers beyond a float or SQLite, lone surrogates),
    bytes spliced in (not UTF-8, cut JSON), any bytes at all, a thousand digits, and nesting too deep to parse."""
    name = st.sampled_from(fields) | st.text(max_size=8)
    member = st.tuples(name.map(json.dumps), _value()).map(": ".join)
    document = st.lists(member, max_size=4).map(lambda members: "{" + ", ".join(members) + "}") | _value()
    encoded = document.map(str.encode)  # json.dumps escapes all but ASCII, so any text encodes
    spliced = st.tuples(encoded, st.binary(min_size=1, max_size=8), st.integers(0, 40)).map(_splice)
    extremes = st.sampled_from([TOO_DEEP.encode(), b'{"x": 1' + b"0" * 5000 + b"}", b"", b"\xff\xfe"])
    return encoded | spliced | st.binary(max_size=64) | extremes


def assert_described(description: dict[str, Any], path: str, method: str, reply: requests.Response) -> None:
    """The answer is one the description lists for the operation, with its content type; never a 500."""
    responses = description["paths"][path][method]["responses"]
    sent = reply.request.body
    shown = (sent if isinstance(sent, bytes) else b"")[:200]
    assert reply.status_code != 500, f"{reply.text} (to {shown!r})"
    assert str(reply.status_code) in responses, f"{reply.status_code} is not described: {reply.text[:200]}"
    declared = responses[str(reply.status_code)].get("content", {})
    media = reply.headers.get("Content-Type", "").partition(";")[0]
    assert not declared or media in declared, f"{reply.status_code} came as {media}, described as {list(declared)}"
