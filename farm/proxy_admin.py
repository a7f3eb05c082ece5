"""The proxy's admin API as the farm commands call it: blocking, over plain HTTP, with the farm's token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import cast

from farm.errors import FarmError
from proxy.backends import BackendJson
from proxy.drain import DRAIN_TIMEOUT_S

JsonObject = dict[str, object]


class ProxyAdmin:
    def __init__(self, proxy_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.proxy_url = proxy_url
        self.token = token
        self.timeout = timeout

    def backends(self) -> list[BackendJson]:
        return cast(list[BackendJson], self._call("GET", "/backends")["backends"])

    def up(self) -> set[str]:
        """The names of the backends the proxy sends requests to now."""
        return {b["name"] for b in self.backends() if b["state"] == "up"}

    def add(self, name: str, url: str) -> None:
        self._call("POST", "/backends", {"name": name, "url": url})

    def drain_and_remove(self, name: str, drain_timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Returns once the backend's requests in flight have finished (or ``drain_timeout`` passed)."""
        self._call("DELETE", f"/backends/{name}?drain_timeout={drain_timeout:g}")

    def _call(self, method: str, path: str, body: JsonObject | None = None) -> JsonObject:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.proxy_url + "/_proxy" + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return cast(JsonObject, json.loads(reply.read()))
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")
            raise FarmError(f"proxy admin {method} {path}: {exc.code} {detail}") from None
        except OSError as exc:
            raise FarmError(f"proxy admin {method} {path}: cannot reach the proxy: {exc}") from None
