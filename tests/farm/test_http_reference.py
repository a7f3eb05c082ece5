"""docs/http-api.md is what the descriptions say now, and each description lists exactly the routes its service
serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from farm.http_reference import COMMAND, DOC_FILE, render
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.source.openapi import DESCRIPTION as SOURCE
from nodes.app import create_app as create_node
from nodes.openapi import DESCRIPTION as NODE
from nodes.settings import NodeSettings
from proxy.admin import DESCRIPTION as PROXY_ADMIN
from proxy.admin import PREFIX, admin_app
from proxy.backends import BackendPool

DOCS = Path(__file__).parents[2] / "docs"


def test_the_http_api_doc_is_current() -> None:
    assert (DOCS / DOC_FILE).read_text() == render(), f"regenerate with: .venv/bin/{COMMAND} docs"


def _routes(app: web.Application, prefix: str = "") -> set[tuple[str, str]]:
    return {
        (prefix + route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # aiohttp adds HEAD beside each GET
    }


def _described(description: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in description["paths"].items() for method in item if method != "parameters"}


@pytest.mark.parametrize("service", ["node", "source store", "proxy admin API"])
def test_a_description_lists_exactly_the_routes_served(service: str, tmp_path: Path) -> None:
    if service == "node":
        settings = NodeSettings(name="node-1", source_url="http://127.0.0.1:9", cache_url=None)
        served, description = _routes(create_node(settings)), NODE
    elif service == "source store":
        served, description = _routes(create_source(SourceSettings(tmp_path / "catalog.db"))), SOURCE
    else:
        served, description = _routes(admin_app(BackendPool(), "token"), PREFIX), PROXY_ADMIN
    assert served == _described(description)
