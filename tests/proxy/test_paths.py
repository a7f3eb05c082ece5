"""One reading of a request's path: the proxy routes (admin API or backend) and forwards the same path, so
no spelling of a path reaches a backend as an admin path, or the admin API without its token."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

import pytest

from proxy.paths import normal_target
from tests.proxy.rig import ADMIN, TARGETS, Rig

HOSTILE = [
    b"/x/../_proxy/backends",
    b"/x/%2e%2e/_proxy/backends",
    b"/x/%2E%2E/_proxy/backends",
    b"/x/.%2e/_proxy/backends",
    b"/./_proxy/backends",
    b"//_proxy/backends",
    b"/x//..//_proxy/backends",
    b"/%5fproxy/backends",
    b"/%5Fproxy%2Fbackends",
    b"/x/..%2f_proxy/backends",
    b"/x/..%5c_proxy/backends",
    b"/_proxy%2fbackends",
    b"/x/../_proxy/../_proxy/backends",
    b"/../_proxy/backends",
    b"http://example/x/../_proxy/backends",
    b"http://example/_proxy/backends",
    b"/_proxy#x",
    b"/_proxy/backends#",
    b"/x/..#/_proxy/backends",
]


def as_a_lenient_server_reads_it(target: str) -> str:
    """The path a server that decodes everything, takes a backslash for a slash, merges slashes and drops a
    fragment would serve."""
    path = re.sub(r"/+", "/", unquote(re.split("[?#]", target)[0]).replace("\\", "/"))
    return posixpath.normpath(path) if path != "/" else path


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/a/b?c=/../d", b"/a/b?c=/../d"),
        (b"/a/./b/../c/", b"/a/c/"),
        (b"/a/b/..", b"/a/"),
        (b"/a//b", b"/a/b"),
        (b"/%7euser/%41%2f%20", b"/~user/A%2F%20"),
        (b"/x/%2e%2E/y", b"/y"),
        (b"/../../y", b"/y"),
        (b"http://example/a/../b?q", b"/b?q"),
        (b"*", b"*"),
        (b"/x/../_proxy/backends", b"/_proxy/backends"),
        (b"/x/..%2f_proxy/backends", None),
        (b"/_proxy%2Fbackends", None),
        (b"/x/..%5C_proxy", None),
    ],
)
def test_normal_targets(target: bytes, expected: bytes | None) -> None:
    assert normal_target(target) == expected


@pytest.mark.parametrize("target", HOSTILE)
async def test_no_spelling_of_an_admin_path_reaches_a_backend_or_passes_without_the_token(
    rig: Rig, target: bytes
) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await client.answer()
    assert answer.status in (400, 401), answer.body
    reached = [t for t in rig.apps["node-1"][TARGETS] if as_a_lenient_server_reads_it(t).startswith("/_proxy")]
    assert reached == []


async def test_a_normalised_admin_path_is_the_admin_api_with_the_token(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(
        b"GET /x/%2e%2e/_proxy/backends HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + ADMIN["Authorization"].encode()
        + b"\r\n\r\n"
    )
    answer = await client.answer()
    assert (answer.status, answer.headers["content-type"].split(";")[0]) == (200, "application/json")
    assert rig.apps["node-1"][TARGETS] == []


async def test_a_backend_gets_the_path_the_proxy_routed(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /a/./b/%2e%2e//c%20d?q=/../x HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await client.answer()
    assert (answer.status, rig.apps["node-1"][TARGETS]) == (200, ["/a/c%20d?q=/../x"])
