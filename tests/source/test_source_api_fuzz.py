"""The source store's HTTP API, fuzzed from its OpenAPI description against the real process (tests.api_fuzz)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import example, given
from schemathesis import Case

from farm.openapi import DESCRIPTION_PATH
from farm.source.openapi import DESCRIPTION
from tests.api_fuzz import assert_described, hostile_bodies, load
from tests.fuzzing import examples
from tests.services import Service, service

pytestmark = pytest.mark.fuzz

JSON_TYPE = {"Content-Type": "application/json"}
NO_FAULTS = {"latency_ms": 0, "jitter_ms": 0, "fail_writes_after_apply": 0}


@pytest.fixture(scope="module")
def source_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("source")
    args = ("--catalog", str(folder / "catalog.db"), "--latency-ms", "0", "--seed", "1")
    with service(folder, "source", "farm.source", *args) as running:
        yield running
        assert running.healthy(), "the source store stopped answering"
        assert running.tracebacks() == []


schema = load(DESCRIPTION)


def test_the_store_serves_its_description(source_store: Service) -> None:
    assert requests.get(source_store.url + DESCRIPTION_PATH, timeout=5).json() == DESCRIPTION


@schema.parametrize()
@examples(50)
def test_every_answer_is_as_described(case: Case[Any], source_store: Service) -> None:
    try:
        case.call_and_validate(base_url=source_store.url)
    finally:
        if case.method == "PUT" and case.path == "/control":
            # A generated latency of hours, or lost replies, must not slow or break the requests that follow.
            requests.put(source_store.url + "/control", json=NO_FAULTS, timeout=5).raise_for_status()


@given(body=hostile_bodies(["name", "price"]))
@examples(40)
def test_an_item_update_the_store_cannot_take_is_refused(body: bytes, source_store: Service) -> None:
    reply = requests.put(source_store.url + "/items/3", data=body, headers=JSON_TYPE, timeout=30)
    assert_described(DESCRIPTION, "/items/{item_id}", "put", reply)


@given(body=hostile_bodies(list(NO_FAULTS)))
@example(body=b'{"\\ud800x": 1}')  # found by make fuzz: a field name that is a lone surrogate, named in the 400
@examples(40)
def test_a_fault_change_the_store_cannot_take_is_refused(body: bytes, source_store: Service) -> None:
    try:
        reply = requests.put(source_store.url + "/control", data=body, headers=JSON_TYPE, timeout=30)
        assert_described(DESCRIPTION, "/control", "put", reply)
    finally:
        requests.put(source_store.url + "/control", json=NO_FAULTS, timeout=5).raise_for_status()
