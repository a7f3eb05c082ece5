"""The node's HTTP API, fuzzed from its OpenAPI description against the real process, with a real source store
process and a private redis-server behind it (tests.api_fuzz)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given
from schemathesis import Case

from farm.openapi import DESCRIPTION_PATH
from farm.testing.servers import ServerProcess
from nodes.openapi import DESCRIPTION
from tests.api_fuzz import assert_described, hostile_bodies, load
from tests.fuzzing import examples
from tests.services import Service, service

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, redis_server: ServerProcess) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("node")
    source_args = ("--catalog", str(folder / "catalog.db"), "--latency-ms", "0")
    with service(folder, "source", "farm.source", *source_args) as source:
        cache = f"{redis_server.url}?instance_name=node-api-fuzz:"  # the session's server: keys of its own
        node_args = ("--name", "node-fuzz", "--source", source.url, "--cache", cache)
        with service(folder, "node", "nodes", *node_args) as running:
            yield running
            assert running.healthy(), "the node stopped answering"
            assert running.tracebacks() == []
        assert source.tracebacks() == []


schema = load(DESCRIPTION)


def test_the_node_serves_its_description(node: Service) -> None:
    assert requests.get(node.url + DESCRIPTION_PATH, timeout=5).json() == DESCRIPTION


@schema.parametrize()
@examples(50)
def test_every_answer_is_as_described(case: Case[Any], node: Service) -> None:
    case.call_and_validate(base_url=node.url)


@given(body=hostile_bodies(["name", "price"]))
@examples(40)
def test_an_item_update_the_source_store_cannot_take_is_refused(body: bytes, node: Service) -> None:
    reply = requests.put(node.url + "/items/3", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert_described(DESCRIPTION, "/items/{item_id}", "put", reply)
