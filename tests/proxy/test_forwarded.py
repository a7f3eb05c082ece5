"""X-Forwarded-*: what a backend learns about the client, and whom the proxy believes about it."""

from __future__ import annotations

from tests.proxy.rig import SEEN, Rig

CLAIMS = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "bank.example"}


async def test_a_client_cannot_claim_to_be_someone_else(rig: Rig) -> None:
    await rig.start(["node-1"])
    async with rig.http.get(rig.proxy + "/", headers=CLAIMS) as reply:
        assert reply.status == 200
    seen = rig.apps["node-1"][SEEN][-1]
    assert (seen["X-Forwarded-For"], seen["X-Forwarded-Proto"]) == ("127.0.0.1", "http")
    assert seen["X-Forwarded-Host"] == rig.proxy.removeprefix("http://"), "the Host the client sent, not its claim"


async def test_a_trusted_proxy_in_front_is_believed_and_appended_to(rig: Rig) -> None:
    await rig.start(["node-1"], trusted_proxies=("10.0.0.0/8", "127.0.0.1"))
    async with rig.http.get(rig.proxy + "/", headers=CLAIMS) as reply:
        assert reply.status == 200
    seen = rig.apps["node-1"][SEEN][-1]
    assert (seen["X-Forwarded-For"], seen["X-Forwarded-Proto"]) == ("6.6.6.6, 127.0.0.1", "https")
    assert seen["X-Forwarded-Host"] == "bank.example"


OTHER_CLAIMS = [
    (b"Forwarded", b"for=6.6.6.6;proto=https"),
    (b"X-Forwarded-Port", b"443"),
    (b"X-Forwarded-Prefix", b"/admin"),
    (b"X-Forwarded-Server", b"bank.example"),
    (b"X-Real-IP", b"6.6.6.6"),
]
UNDERSCORED = [(b"X_Forwarded_For", b"6.6.6.6"), (b"X_Real_IP", b"6.6.6.6"), (b"My_Header", b"1")]


async def forward(rig: Rig, headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    client = await rig.raw()
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    assert (await client.answer()).status == 200
    return {name.lower(): value for name, value in rig.apps["node-1"][SEEN][-1].items()}


async def test_no_other_header_about_the_client_passes_from_a_client(rig: Rig) -> None:
    await rig.start(["node-1"])
    seen = await forward(rig, OTHER_CLAIMS + UNDERSCORED)
    assert {name for name in seen if "forward" in name or "real" in name or "_" in name} == {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    }
    assert seen["x-forwarded-for"] == "127.0.0.1"


async def test_a_trusted_proxy_passes_the_other_headers_about_the_client(rig: Rig) -> None:
    await rig.start(["node-1"], trusted_proxies=("127.0.0.1",))
    seen = await forward(rig, OTHER_CLAIMS + UNDERSCORED)
    assert {name: seen.get(name.decode().lower()) for name, _ in OTHER_CLAIMS} == {
        name: value.decode() for name, value in OTHER_CLAIMS
    }
    assert not [name for name in seen if "_" in name], "underscored names are dropped from anyone, as nginx drops them"
