"""A node that sheds load answers 503 with Retry-After: "not done". A GET may then go to another node once."""

from __future__ import annotations

from tests.proxy.rig import ADMIN, SEEN, SHEDDING, Rig


async def test_a_get_shed_by_one_node_is_answered_by_another(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    rig.apps["node-1"][SHEDDING][0] = True
    assert {await rig.node_of() for _ in range(6)} == {"node-2"}
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        backends = {b["name"]: b for b in (await reply.json())["backends"]}
    assert backends["node-1"]["shed"] >= 1
    assert backends["node-1"]["state"] == "up", "shedding is not failing: the node keeps its turn"
    async with rig.http.get(rig.proxy + "/_proxy/metrics", headers=ADMIN) as reply:
        assert f'farm_proxy_shed_total{{backend="node-1"}} {backends["node-1"]["shed"]}.0' in await reply.text()


async def test_when_every_node_sheds_the_client_gets_the_503_and_its_retry_after(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    for app in rig.apps.values():
        app[SHEDDING][0] = True
    async with rig.http.get(rig.proxy + "/items/1") as reply:
        assert (reply.status, reply.headers["Retry-After"]) == (503, "2")
        assert await reply.text() == "overloaded\n"
    assert [len(app[SEEN]) for app in rig.apps.values()] == [1, 1], "one try and one retry, on two nodes"


async def test_a_write_shed_is_passed_on_not_retried(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    rig.apps["node-1"][SHEDDING][0] = True
    statuses = []
    for _ in range(2):  # one lands on each node
        async with rig.http.put(rig.proxy + "/items/1", data=b"v2") as reply:
            statuses.append((reply.status, reply.headers.get("Retry-After")))
    assert sorted(statuses, key=str) == [(200, None), (503, "2")]
    assert len(rig.apps["node-2"][SEEN]) == 1, "the refused write was not sent again elsewhere"
