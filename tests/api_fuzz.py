"""What the API property tests share: a service's description, with the checks every answer must pass.

Schemathesis generates requests from the description, valid and not (``generation.mode: all``), sends them over
real HTTP and checks each answer: a status the description lists, its content type and body schema, no 5xx but
the designed ones (502, 503 and 504 say a dependency failed or the service is overloaded; 500 never), a request
the description calls invalid refused with a 4xx, a valid one not refused as invalid. A dropped connection is
an error of its own. How many requests: ``tests.fuzzing.examples`` per operation, plus Schemathesis's coverage
phase (boundary values and each kind of wrong value, a fixed set per operation).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import BaseSchema

DESIGNED_SERVER_ERRORS = ["502", "503", "504"]
REFUSALS = ["400", "401", "404", "405", "409", "413", "415", "422", "5xx"]
"""What an invalid request may be answered (5xx: a failure of its own, which the other checks judge)."""


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
