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
