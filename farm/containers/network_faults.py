"""Network faults on the compose farm, with the kernel's own means instead of the fault proxy.

A link is ``node-N/cache`` or ``node-N/source``, as on processes: node N's TCP traffic to the cache's port or the
source store's. A fault on a link is a container of the ``netfault`` image that joins that node's network namespace
(``--network container:<node>``, with NET_ADMIN: the node itself gets no extra capability) and runs
``farm/containers/netfault``: iptables rules that match only the link's port, so the node's published port, its
other link and the other nodes are untouched:

- partition: DROP both ways; TCP retransmits what was sent once the rules go, so work sent meanwhile lands late,
  as the fault proxy delivers the bytes it held;
- latency: both ways through a netfilter queue that lets each packet go ``ms`` ± ``jitter_ms`` later, in order
  (this kernel, like many, has no netem);
- reset: the node's open sockets to the port are destroyed (the peer gets a TCP RST) and, for ``duration_s``,
  every packet it sends there is answered with a RST.

The agent takes its rules off on SIGTERM (``farm heal``), at its end time (``duration_s``: it needs no farm process
to end), or when the node's container stops (its namespace goes with it). Each fault's containers carry its JSON
(id, kind, links, parameters, started, ends_at) as labels, so ``farm status`` reads the faults from the engine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from farm.containers.compose_cli import last_lines
from farm.containers.images import image_name
from farm.errors import FarmError
from farm.fault_links import TARGETS, FaultJson, cache_address, link_name
from farm.state import FarmState
from faults.spec import BadFault, Fault, UnknownLink, parse_fault

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

SOURCE_PORT = 8100
"""The source store's port on the farm's network (compose/compose.yaml)."""
PROJECT = "cachefarm.fault.project"
FAULT, KIND, NODE, TARGET = "cachefarm.fault", "cachefarm.fault.kind", "cachefarm.fault.node", "cachefarm.fault.target"
MS, JITTER_MS, DURATION_S, STARTED = (
    "cachefarm.fault.ms",
    "cachefarm.fault.jitter_ms",
    "cachefarm.fault.duration_s",
    "cachefarm.fault.started",
)
IDS_FILE = "fault-ids"
"""The last fault id given in this run directory: ids are never reused, as the fault proxy's are not."""
APPLY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5
LOG_LINES = 10

T = TypeVar("T")


class NetworkFaultError(FarmError):
    """A fault could not be put on or taken off a link; the message ends with the agent's last lines."""


def link_ports(state: FarmState) -> dict[str, int]:
    """Each node's links and the port each reaches on the farm's network (the port the fault's rules match). A cache
    that is not a server (memory, none) has no cache links."""
    cache = cache_address(state.cache_url)
    ports = {"source": SOURCE_PORT, **({"cache": cache[1]} if cache else {})}
    return {link_name(node, target): ports[target] for node in state.nodes for target in TARGETS if target in ports}


def fault_json(labels: dict[str, str], links: list[str]) -> FaultJson:
    duration = labels.get(DURATION_S)
    fault = Fault(
        id=labels[FAULT],
        kind=labels[KIND],
        links=links,
        ms=float(labels.get(MS, 0)),
        jitter_ms=float(labels.get(JITTER_MS, 0)),
        duration_s=float(duration) if duration else None,
        started=float(labels[STARTED]),
    )
    return fault.to_json()


def _fault_number(fault_id: str) -> int:
    return int(fault_id.lstrip("f"))


def _in_parallel(work: Callable[[T], Any], items: list[T]) -> list[Any]:
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(work, items))


class NetworkFaults:
    """The faults of one compose project: put on, listed, healed, removed."""

    def __init__(self, client: docker.DockerClient, project: str, run: Path) -> None:
        self.client = client
        self.project = project
        self.run = run

    # -- listing --------------------------------------------------------------------------------------
    def _agents(self, fault_id: str | None = None) -> list[Container]:
        labels = [f"{PROJECT}={self.project}", *([f"{FAULT}={fault_id}"] if fault_id else [])]
        # sparse: no inspect per container (the steps poll this while a fault with a duration runs)
        return list(self.client.containers.list(all=True, sparse=True, filters={"label": labels}))

    def _live_agents(self) -> list[Container]:
        """The agents that hold a fault now; those done (healed by time, or their node gone) are removed."""
        live = []
        for agent in self._agents():
            if _state(agent) in ("exited", "dead"):
                with contextlib.suppress(Exception):  # removed meanwhile by another command: as good
                    agent.remove(force=True)
            else:
                live.append(agent)
        return live

    def active(self) -> list[FaultJson]:
        """The faults on now, one entry per fault (its links: the nodes it still holds), in the order they began."""
        links: dict[str, list[str]] = {}
        labels: dict[str, dict[str, str]] = {}
        for agent in self._live_agents():
            fault_id = _labels(agent)[FAULT]
            labels[fault_id] = _labels(agent)
            links.setdefault(fault_id, []).append(_link(agent))
        return [
            fault_json(labels[fault_id], sorted(links[fault_id], key=_node_order))
            for fault_id in sorted(links, key=_fault_number)
        ]

    # -- putting a fault on ---------------------------------------------------------------------------
    def add(
        self,
        nodes: dict[str, Container],
        ports: dict[str, int],
        kind: str,
        links: list[str],
        *,
        ms: float | None,
        jitter_ms: float | None,
        duration_s: float | None,
    ) -> FaultJson:
        """Puts the fault on every link (one agent per node); returns it once every agent has applied it."""
        body = {"kind": kind, "links": links, "ms": ms, "jitter_ms": jitter_ms, "duration_s": duration_s}
        fault_id = self._next_id()
        try:
            fault = parse_fault(
                {k: v for k, v in body.items() if v is not None}, set(ports), fault_id=fault_id, now=time.time()
            )
        except (BadFault, UnknownLink) as exc:
            raise NetworkFaultError(str(exc)) from None
        if kind == "latency":
            self._refuse_stacked_latency(fault.links)
        self._agents_for(fault, nodes, ports)
        return fault.to_json()

    def _refuse_stacked_latency(self, links: list[str]) -> None:
        for fault in self.active():
            taken = sorted(set(fault["links"]) & set(links))
            if fault["kind"] == "latency" and taken:
                raise NetworkFaultError(
                    f"{', '.join(taken)} has a latency already ({fault['id']}): on containers latencies do not add "
                    "up; heal it first (`farm heal --nodes ... --from ...`)"
                )

    def _agents_for(self, fault: Fault, nodes: dict[str, Container], ports: dict[str, int]) -> None:
        """One agent per link, started at once; if one fails, the others are taken off again."""
        until = fault.ends_at if fault.duration_s is not None else None
        once = fault.kind == "reset" and fault.duration_s is None

        def start(link: str) -> Container:
            node, target = link.split("/")
            return self._start_agent(fault, nodes[node], node, target, ports[link], until, once=once)

        outcomes = _in_parallel(lambda link: _outcome(start, link), fault.links)
        started = [agent for agent, _ in outcomes if agent is not None]
        errors = [str(error) for _, error in outcomes if error is not None]
        if errors:
            self._stop(started)
            raise NetworkFaultError(f"fault {fault.id} ({fault.kind}) could not be put on:\n" + "\n".join(errors))

    def _start_agent(
        self,
        fault: Fault,
        node: Container,
        name: str,
        target: str,
        port: int,
        until: float | None,
        *,
        once: bool,
    ) -> Container:
        command = ["apply", "--id", fault.id, "--kind", fault.kind, "--port", str(port)]
        command += ["--queue", str(_fault_number(fault.id) % 65536)]
        if fault.kind == "latency":
            command += ["--ms", f"{fault.ms:g}", "--jitter-ms", f"{fault.jitter_ms:g}"]
        if until is not None:
            command += ["--until", f"{until:.3f}"]
        labels = {PROJECT: self.project, FAULT: fault.id, KIND: fault.kind, NODE: name, TARGET: target}
        labels[STARTED] = repr(fault.started)
        if fault.kind == "latency":
            labels |= {MS: f"{fault.ms:g}", JITTER_MS: f"{fault.jitter_ms:g}"}
        if fault.duration_s is not None:
            labels[DURATION_S] = f"{fault.duration_s:g}"
        agent = self.client.containers.run(
            image_name("netfault"),
            command,
            detach=True,
            name=f"{self.project}-fault-{fault.id}-{name}",
            network_mode=f"container:{node.id}",
            cap_add=["NET_ADMIN"],
            labels=labels,
        )
        try:
            self._wait_applied(agent, f"{name}/{target}", once=once)
        except BaseException:
            with contextlib.suppress(Exception):
                agent.remove(force=True)
            raise
        return agent

    def _wait_applied(self, agent: Container, link: str, *, once: bool) -> None:
        """Until the agent says ``applied`` (and, for a reset that happens once, has exited 0)."""
        import docker.errors

        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while True:
            try:
                agent.reload()
            except docker.errors.NotFound:  # it ended and a listing removed it: a reset done, a fault over already
                return
            output = agent.logs().decode(errors="replace")
            done = agent.status in ("exited", "dead")
            if "applied " in output and (not once or done):
                if once:
                    code = agent.attrs.get("State", {}).get("ExitCode")
                    agent.remove(force=True)
                    if code != 0:
                        raise NetworkFaultError(f"{link}: the reset agent exited {code}:\n{last_lines(output)}")
                return
            if done:
                raise NetworkFaultError(f"{link}: the fault agent stopped before applying it:\n{last_lines(output)}")
            if time.monotonic() > deadline:
                raise NetworkFaultError(
                    f"{link}: the fault agent did not apply the fault in {APPLY_TIMEOUT_S:.0f} s:\n{last_lines(output)}"
                )
            time.sleep(0.05)

    def _next_id(self) -> str:
        path = self.run / IDS_FILE
        try:
            last = int(path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            last = 0
        path.write_text(f"{last + 1}\n")
        return f"f{last + 1}"

    # -- taking faults off ----------------------------------------------------------------------------
    def heal(self, links: Iterable[str] | None = None) -> list[FaultJson]:
        """Ends the faults on these links (every fault without links); a fault that also holds other links stays on
        those. Returns each fault as it was on the links healed."""
        wanted = None if links is None else set(links)
        chosen = [agent for agent in self._live_agents() if wanted is None or _link(agent) in wanted]
        self._stop(chosen)
        healed: dict[str, list[str]] = {}
        labels: dict[str, dict[str, str]] = {}
        for agent in chosen:
            labels[_labels(agent)[FAULT]] = _labels(agent)
            healed.setdefault(_labels(agent)[FAULT], []).append(_link(agent))
        return [
            fault_json(labels[fault_id], sorted(healed[fault_id], key=_node_order))
            for fault_id in sorted(healed, key=_fault_number)
        ]

    def _stop(self, agents: list[Container]) -> None:
        """SIGTERM, so that each agent takes its rules off; one that fails to is made to by a fresh agent."""

        import docker.errors

        def stop(agent: Container) -> None:
            try:
                agent.reload()  # listed sparse: its labels and network mode come with the full record
                agent.stop(timeout=STOP_TIMEOUT_S)
                code = agent.wait(timeout=STOP_TIMEOUT_S + 5).get("StatusCode")
                output = agent.logs().decode(errors="replace")
                agent.remove(force=True)
            except docker.errors.NotFound:  # its fault ended by itself meanwhile and another command removed it
                return
            if code != 0 or f"healed {agent.labels[FAULT]}" not in output:
                self._clear(agent.labels[FAULT], agent.attrs["HostConfig"]["NetworkMode"], output)

        _in_parallel(stop, agents)

    def _clear(self, fault_id: str, network_mode: str, said: str) -> None:
        try:
            self.client.containers.run(
                image_name("netfault"),
                ["clear", "--id", fault_id],
                network_mode=network_mode,
                cap_add=["NET_ADMIN"],
                remove=True,
            )
        except Exception as exc:
            if "is not running" in str(exc) or "non running" in str(exc):
                return  # the node stopped: its namespace, and the rules in it, are gone
            raise NetworkFaultError(
                f"fault {fault_id}: its rules could not be removed ({exc}); the agent said:\n{last_lines(said)}\n"
                "restart the node (`farm restart-node NAME`) to start it with a clean network"
            ) from None

    def forget_node(self, name: str) -> None:
        """Ends the faults on a node that is being removed."""
        self.heal([link_name(name, target) for target in TARGETS])

    def remove_all(self) -> None:
        """For ``farm down``: every agent of the project removed (the nodes go too, and their rules with them)."""
        for agent in self._agents():
            with contextlib.suppress(Exception):
                agent.remove(force=True)
        (self.run / IDS_FILE).unlink(missing_ok=True)


def _labels(agent: Container) -> dict[str, str]:
    """A container's labels, whether it was listed sparse (``Labels``) or inspected (``Config.Labels``)."""
    sparse = agent.attrs.get("Labels")
    return dict(sparse) if isinstance(sparse, dict) else dict(agent.labels)


def _state(agent: Container) -> str:
    state = agent.attrs.get("State")
    return str(state.get("Status") if isinstance(state, dict) else state)


def _link(agent: Container) -> str:
    labels = _labels(agent)
    return link_name(labels[NODE], labels[TARGET])


def _outcome(work: Callable[[str], Container], link: str) -> tuple[Container | None, Exception | None]:
    try:
        return work(link), None
    except Exception as exc:
        return None, exc


def _node_order(link: str) -> tuple[int, str]:
    node, _, target = link.partition("/")
    number = node.rpartition("-")[2]
    return (int(number) if number.isdigit() else 0, target)
