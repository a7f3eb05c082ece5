"""The farm's fault links: which link each node's cache and source traffic takes, and the client of the fault
proxy's control API (blocking, like the proxy's admin client)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from farm.cache import mask_secrets
from farm.errors import FarmError

if TYPE_CHECKING:
    from farm.state import FarmState

TARGETS = ("cache", "source")
"""What a node reaches over a link of its own."""

FAULT_KINDS = ("partition", "latency", "reset")

_DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "postgresql": 5432, "postgres": 5432, "mariadb": 3306}
_DEFAULT_PORTS |= {"mysql": 3306, "mssql": 1433, "sqlserver": 1433}

FaultJson = dict[str, Any]


def link_name(node: str, target: str) -> str:
    return f"{node}/{target}"


def cache_address(url: str | None) -> tuple[str, int] | None:
    """The host and port a cache URL reaches, or None when the cache is not a server over TCP (memory, a
    SQLite file, a unix socket, an ODBC connection string)."""
    if url is None or "://" not in url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise FarmError(f"bad port in cache URL {mask_secrets(url)}") from None
    return parts.hostname, port


def reroute(url: str, port: int, host: str = "127.0.0.1") -> str:
    """The cache URL with its host and port replaced by the link's; user, password, database and query are
    kept exactly as written."""
    if cache_address(url) is None:
        raise FarmError(f"cache {mask_secrets(url)} is not reached over TCP: it cannot go through a fault link")
    parts = urlsplit(url)
    user, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}{at}{host}:{port}"))


def describe_fault(fault: dict[str, Any], now: float | None = None) -> str:
    """One line for a fault: its id, kind, parameters, links and when it ends."""
    parameters = " ".join(f"{k}={v:g}" for k, v in fault.get("parameters", {}).items())
    ends_at = fault.get("ends_at")
    ends = "until healed" if ends_at is None else f"ends in {max(ends_at - (now or time.time()), 0):.1f} s"
    if fault["kind"] == "reset" and fault.get("duration_s") is None:
        ends = "once"  # the open connections are cut, and that is all
    kind = f"{fault['kind']} {parameters}".strip()
    return f"{fault['id']:<5}{kind:<28}{', '.join(fault['links'])}   ({ends})"


class FaultsControl:
    """The fault proxy's control API, called with the farm's token."""

    def __init__(self, port: int, token: str, *, timeout: float = 10.0) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.token = token
        self.timeout = timeout

    def links(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", "/links")["links"])

    def add_link(self, name: str, listen_port: int, target_host: str, target_port: int) -> None:
        body = {"name": name, "listen_port": listen_port, "target_host": target_host, "target_port": target_port}
        self._call("POST", "/links", body)

    def remove_link(self, name: str) -> None:
        self._call("DELETE", f"/links/{name}")

    def faults(self) -> list[FaultJson]:
        return cast(list[FaultJson], self._call("GET", "/faults")["faults"])

    def add_fault(self, kind: str, links: list[str], **parameters: float | None) -> FaultJson:
        body = {"kind": kind, "links": links, **{k: v for k, v in parameters.items() if v is not None}}
        return self._call("POST", "/faults", body)

    def heal(self, links: list[str] | None = None) -> list[FaultJson]:
        """Ends every fault on these links, or every fault."""
        query = "" if links is None else "?links=" + ",".join(links)
        return cast(list[FaultJson], self._call("DELETE", "/faults" + query)["healed"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return cast(dict[str, Any], json.loads(reply.read()))
        except urllib.error.HTTPError as exc:
            with exc:
                detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise FarmError(f"fault proxy: {method} {path}: {detail}") from None
        except OSError as exc:
            raise FarmError(f"fault proxy: {method} {path}: cannot reach it at {self.url}: {exc}") from None


def chosen_links(state: FarmState, target: str | None, nodes: list[str] | None) -> list[str]:
    """The links of these nodes (default: all) to this target (default: both) that the farm has; the caller has
    checked the target and that the nodes exist."""
    wanted = [link_name(n, t) for n in nodes or state.nodes for t in ([target] if target else TARGETS)]
    links = [link for link in wanted if link in state.link_ports]
    if not links:
        raise FarmError(
            f"this farm's cache ({state.cache_kind}) is not reached over the network: it has no cache links"
        )
    return links
