"""The proxy's admin API, fuzzed from its OpenAPI description against the real proxy process (tests.api_fuzz)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import given
from schemathesis import Case, CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from farm.openapi import DESCRIPTION_PATH
from proxy.admin import DESCRIPTION, PREFIX
from tests.api_fuzz import assert_described, hostile_bodies, load
from tests.fuzzing import examples
from tests.services import Service, service

pytestmark = pytest.mark.fuzz

TOKEN = "fuzz-admin-token"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("proxy")
    env = {"FARM_PROXY_TOKEN": TOKEN}
    with service(folder, "proxy", "proxy", env=env, health=PREFIX + DESCRIPTION_PATH) as running:
        yield running
        assert running.healthy(f"{PREFIX}/backends", AUTHORIZED), "the admin API stopped answering"
        assert running.tracebacks() == []


schema = load(DESCRIPTION, token=TOKEN)


def test_the_admin_api_serves_its_description_without_the_token(proxy: Service) -> None:
    assert requests.get(proxy.url + PREFIX + DESCRIPTION_PATH, timeout=5).json() == DESCRIPTION


@schema.parametrize()
@examples(50)
def test_every_answer_is_as_described(case: Case[Any], proxy: Service) -> None:
    # A URL the schema cannot tell from a usable one ("http://[") is refused (400) as designed: that operation's
    # valid-looking requests may be refused; every other check still holds for it.
    unsure: list[CheckFunction] = [positive_data_acceptance] if case.method == "POST" else []
    response = case.call_and_validate(base_url=proxy.url, excluded_checks=unsure)
    if case.method == "POST" and response.status_code == 201:
        # Added backends would be health-checked every second for the rest of the run: removed at once.
        name = quote(response.json()["name"], safe="")
        removed = requests.delete(f"{proxy.url}{PREFIX}/backends/{name}?drain_timeout=0", headers=AUTHORIZED, timeout=5)
        assert removed.status_code == 200, removed.text


@given(body=hostile_bodies(["name", "url"]))
@examples(40)
def test_a_backend_the_proxy_cannot_take_is_refused(body: bytes, proxy: Service) -> None:
    headers = {**AUTHORIZED, "Content-Type": "application/json"}
    reply = requests.post(f"{proxy.url}{PREFIX}/backends", data=body, headers=headers, timeout=30)
    assert_described(DESCRIPTION, f"{PREFIX}/backends", "post", reply)
    if reply.status_code == 201:
        name = quote(reply.json()["name"], safe="")
        requests.delete(f"{proxy.url}{PREFIX}/backends/{name}?drain_timeout=0", headers=AUTHORIZED, timeout=5)
