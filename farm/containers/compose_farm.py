"""The farm as compose containers (``farm up --engine compose``): the same commands, steps and checks as the farm
of processes, acting on the containers through the Docker SDK.

Containers are found by their compose labels (project, service, replica number), never by name: Compose v1 and
v2 name them differently. Replica N of the ``node`` service is ``node-N``, the name the node gives itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farm.cache import mask_secrets
from farm.cache_server import CACHE_TABLE
from farm.config import CacheChoice
from farm.containers.checkout import compose_file
from farm.containers.compose_cli import ComposeError, last_lines, run_compose
from farm.containers.engine import connect
from farm.containers.images import build_images, ensure_base_image, image_tag, write_wheelhouse
from farm.containers.network_faults import NetworkFaults, link_ports
from farm.containers.podman import drives_health
from farm.errors import FarmError
from farm.fault_links import FAULT_KINDS, TARGETS, FaultJson, chosen_links
from farm.health import healthz, wait_for
from farm.node_signals import NodeSignal
from farm.ports import port_taken
from farm.proxy_admin import ProxyAdmin
from farm.source_control import source_back_to_normal, source_control
from farm.state import STATE_FILE, FarmState
from farm.topology import CACHE_ACTIONS, STATUS_TIMEOUT_S, NodeRestarted
from nodes.admission import AdmissionLimits
from nodes.settings import SHUTDOWN_TIMEOUT_S

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
NODE, SOURCE, PROXY = "node", "source", "proxy"
NODE_PORT, SOURCE_PORT, PROXY_PORT = 8000, 8100, 8080
CACHE_SERVICES = {"redis": "redis", "sql": "postgres"}
"""The compose service (and profile, and Dockerfile target) of each cache kind the farm runs a server for."""
CACHE_URLS = {
    "redis": "redis://redis:6379/0",
    "sql": f"postgresql://postgres@postgres:5432/postgres?table={CACHE_TABLE}",
    "memory": "memory://",
    "none": "none",
}
"""The nodes' cache URL for each cache kind, as the nodes reach it on the compose network."""
PROFILES = {"redis": "redis", "sql": "sql"}
HEALTHY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = int(SHUTDOWN_TIMEOUT_S) + 1
NODE_TEMPLATE = "node-template.json"
"""The first node container's settings, kept so that ``add-node`` can copy them even after every node was removed."""
CONTAINER_LOG_LINES = 15


def project_name(run: Path) -> str:
    """One compose project per run directory: farms in different folders never share containers."""
    return "cachefarm-" + hashlib.sha256(str(run).encode()).hexdigest()[:10]


def number_of(container: Container) -> int:
    return int(container.labels.get(NUMBER_LABEL, "0"))


def host_port(container: Container, port: int) -> int:
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    raise FarmError(f"container {container.name} publishes no port for {port}: is it running?")


def network_address(container: Container) -> str:
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    for network in networks.values():
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    raise FarmError(f"container {container.name} has no address on the farm's network: is it running?")


def container_state(container: Container) -> str:
    """``running``, ``paused``, ``restarting``, ``exited``...; ``unhealthy`` or ``starting`` while its health
    says so."""
    status = str(container.status)
    health = (container.attrs.get("State", {}).get("Health") or {}).get("Status")
    if status == "running" and health in ("starting", "unhealthy"):
        return str(health)
    return status


def log_tail(container: Container, lines: int = CONTAINER_LOG_LINES) -> str:
    try:
        return last_lines(container.logs(tail=lines).decode(errors="replace"), lines)
    except Exception as exc:
        return f"    (its log cannot be read: {exc})"


def admission_environment(limits: AdmissionLimits) -> dict[str, str]:
    """The nodes' admission flags as compose.yaml reads them (``FARM_MAX_IN_FLIGHT`` for ``--max-in-flight``, ...)."""
    flags = limits.node_arguments()
    pairs = zip(flags[::2], flags[1::2], strict=True)
    return {"FARM_" + flag.removeprefix("--").replace("-", "_").upper(): value for flag, value in pairs}


class ComposeFarm:
    def __init__(self, run: Path) -> None:
        self.run = run.resolve()
        self.project = project_name(self.run)
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    # -- finding the containers ----------------------------------------------------------------------
    def _containers(self, service: str | None = None) -> list[Container]:
        labels = [f"{PROJECT_LABEL}={self.project}"]
        if service is not None:
            labels.append(f"{SERVICE_LABEL}={service}")
        return list(self.client.containers.list(all=True, filters={"label": labels}))

    def _service(self, service: str) -> Container:
        found = self._containers(service)
        if not found:
            raise FarmError(f"the farm's {service} container is gone (project {self.project}): `farm down`, then up")
        return found[0]

    def _nodes(self) -> dict[str, Container]:
        return {f"node-{number_of(c)}": c for c in sorted(self._containers(NODE), key=number_of)}

    def _node(self, state: FarmState, name: str) -> Container:
        if name not in state.nodes:
            known = ", ".join(state.nodes) or "none"
            raise FarmError(f"no node named {name!r} in this farm (nodes: {known})")
        container = self._nodes().get(name)
        if container is None:
            raise FarmError(f"{name}'s container is gone (project {self.project})")
        return container

    # -- state ----------------------------------------------------------------------------------------
    def _saved_state(self) -> FarmState:
        state = FarmState.load(self.run)
        if state.engine != "compose":
            raise FarmError(f"the farm in {self.run} runs as processes, not containers")
        return state

    def _running_state(self) -> FarmState:
        state = self._saved_state()
        if not self._containers(PROXY):
            raise FarmError(
                f"the farm in {self.run} is down: start it with `farm up --engine compose --run-dir {self.run}`"
            )
        return state

    def state_now(self) -> FarmState:
        """The saved state with the ports the engine publishes now (a restarted container may get new ones)."""
        state = self._saved_state()
        nodes = self._nodes()
        ports = {}
        for name, container in nodes.items():
            if container.status in ("running", "paused"):
                ports[name] = host_port(container, NODE_PORT)
            elif name in state.nodes:
                ports[name] = state.nodes[name]
        state.nodes = ports
        state.next_node = max([state.next_node, *(number_of(c) + 1 for c in nodes.values())])
        state.link_ports = link_ports(state) if state.fault_links else {}
        proxy, source = self._containers(PROXY), self._containers(SOURCE)
        if proxy and proxy[0].status == "running":
            state.proxy_port = host_port(proxy[0], PROXY_PORT)
        if source and source[0].status == "running":
            state.source_port = host_port(source[0], SOURCE_PORT)
        state.save(self.run)
        return state

    def _environment(self, state: FarmState) -> dict[str, str]:
        """What compose.yaml reads; the cache URL stays out of every command line."""
        return {
            "FARM_PROXY_TOKEN": state.admin_token,
            "FARM_CACHE_URL": state.cache_url or "none",
            "FARM_PROXY_PORT": str(state.proxy_port or ""),
            "FARM_ITEM_SLIDING": f"{state.item_sliding:g}",
            "FARM_ITEM_ABSOLUTE": f"{state.item_absolute or 0:g}",
            "FARM_SOURCE_LATENCY_MS": f"{state.source_latency_ms:g}",
            "FARM_WRITE_POLICY": state.write_policy,
            **admission_environment(state.admission),
            "FARM_CACHE_PERSISTENCE": "yes" if state.cache_persistence else "no",
            "FARM_REDIS_SAVE": "3600 1 300 100 60 10000" if state.cache_persistence else "",
            "FARM_IMAGE_TAG": image_tag(),
        }

    def _compose(self, state: FarmState, arguments: list[str], what: str, *, all_profiles: bool = False) -> str:
        profiles = (
            sorted(set(PROFILES.values()))
            if all_profiles
            else [p for k, p in PROFILES.items() if k == state.cache_kind]
        )
        return run_compose(
            compose_file(),
            self.project,
            arguments,
            environment=self._environment(state),
            profiles=profiles,
            log=self.run / "logs" / "compose.log",
            what=what,
        )

    # -- up and down ----------------------------------------------------------------------------------
    def up(
        self,
        *,
        nodes: int,
        cache: CacheChoice,
        proxy_port: int | None,
        item_sliding: float = 300.0,
        item_absolute: float | None = None,
        source_latency_ms: float = 20.0,
        cache_persistence: bool = True,
        fault_links: bool = False,
        admission: AdmissionLimits | None = None,
    ) -> FarmState:
        if nodes < 1:
            raise FarmError(f"--nodes {nodes}: a farm needs at least one node")
        if cache.kind not in CACHE_URLS or cache.url is not None:
            raise FarmError(
                f"--engine compose runs its own cache: use --cache {'|'.join(CACHE_URLS)} (not {cache.describe()})"
            )
        if proxy_port and port_taken(proxy_port):
            raise self._port_taken(proxy_port)
        if (self.run / STATE_FILE).exists() and FarmState.load(self.run).engine != "compose":
            raise FarmError(
                f"a farm of processes is in {self.run}: `farm down --run-dir {self.run}` first, or use another "
                "--run-dir"
            )
        return self._start(
            nodes=nodes,
            cache=cache,
            proxy_port=proxy_port,
            item_sliding=item_sliding,
            item_absolute=item_absolute,
            source_latency_ms=source_latency_ms,
            cache_persistence=cache_persistence,
            fault_links=fault_links,
            admission=admission or AdmissionLimits(),
        )

    @drives_health
    def _start(
        self,
        *,
        nodes: int,
        cache: CacheChoice,
        proxy_port: int | None,
        item_sliding: float,
        item_absolute: float | None,
        source_latency_ms: float,
        cache_persistence: bool,
        fault_links: bool,
        admission: AdmissionLimits,
    ) -> FarmState:
        """After the checks that need no engine: what is wrong with the request is said even with none running."""
        client = self.client
        if self._containers():
            raise FarmError(
                f"a farm is already up in {self.run} (project {self.project}): `farm down --run-dir {self.run}` first"
            )
        self.run.mkdir(parents=True, exist_ok=True)
        state = FarmState(
            proxy_port=proxy_port or 0,
            admin_token=secrets.token_urlsafe(24),
            source_port=0,
            cache_kind=cache.kind,
            cache_url=CACHE_URLS[cache.kind],
            item_sliding=item_sliding,
            item_absolute=item_absolute,
            source_latency_ms=source_latency_ms,
            cache_persistence=cache_persistence,
            write_policy=cache.write_policy,
            engine="compose",
            compose_project=self.project,
            cache_container=CACHE_SERVICES.get(cache.kind),
            fault_links=fault_links,
            admission=admission,
        )
        state.save(self.run)  # first: `farm down` finds the project even when `up` stops halfway
        try:
            log = self.run / "logs" / "build.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            ensure_base_image(client, log)
            write_wheelhouse(log)
            images = ["app", *([state.cache_container] if state.cache_container else [])]
            build_images(client, images + (["netfault"] if fault_links else []), log)
            # What the nodes need, first and together: the cache (as on processes, their first writes land in it)
            # and the source store.
            first = [*([state.cache_container] if state.cache_container else []), SOURCE]
            self._compose(state, ["up", "-d", "--no-build", *first], "starting the cache and the source store")
            for service in first:
                self._wait_healthy(service)
            scale = ["--scale", f"{NODE}={nodes}"]
            try:
                # The nodes before the proxy: a node that crashes at start is told at once, with its log, instead
                # of after compose has waited for its health on the proxy's behalf.
                self._compose(state, ["up", "-d", "--no-build", *scale, NODE], "starting the nodes")
                self._wait_healthy(NODE)
                self._compose(state, ["up", "-d", "--no-build", *scale], "starting the farm")
            except ComposeError as exc:
                self._fail_if_broken(self._containers())
                raise self._explained(exc, proxy_port) from None
            self._wait_healthy()
            state = self.state_now()
            (self.run / NODE_TEMPLATE).write_text(json.dumps(self._nodes()["node-1"].attrs))
            self._wait_proxy_sees_all(state)
        except BaseException as failure:
            try:
                self.down()
            except Exception as cleanup:  # the cause comes first; what the cleanup could not do follows it
                failure.add_note(f"and removing what was started failed too: {cleanup}")
            raise
        return state

    @staticmethod
    def _explained(exc: ComposeError, proxy_port: int | None) -> FarmError:
        text = str(exc)
        if proxy_port and re.search(r"already (allocated|in use)|address already in use", text):
            return ComposeFarm._port_taken(proxy_port, f"\n{text}")
        return exc

    @staticmethod
    def _port_taken(port: int, detail: str = "") -> FarmError:
        return FarmError(
            f"port {port} on 127.0.0.1 is taken: choose another --proxy-port, or leave it out for a free one{detail}"
        )

    @drives_health
    def _wait_healthy(self, service: str | None = None, timeout: float = HEALTHY_TIMEOUT_S) -> None:
        """Until every container (of ``service``) is healthy; a container that exits or restarts fails at once."""
        deadline = time.monotonic() + timeout
        while True:
            containers = self._containers(service)
            self._fail_if_broken(containers)
            waiting = [container for container in containers if container_state(container) != "running"]
            if containers and not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(str(c.name) for c in waiting) or f"the {service or 'farm'}'s containers"
                tails = "\n".join(f"  {c.name}:\n{log_tail(c)}" for c in waiting)
                raise FarmError(
                    f"{names} did not become healthy in {timeout:.0f} s; the last lines of their logs:\n{tails}"
                )
            time.sleep(0.2)

    def _fail_if_broken(self, containers: list[Container]) -> None:
        """A container that exited, crashed (restarted) or is unhealthy: its name and the end of its log."""
        for container in containers:
            state = container_state(container)
            restarts = int(container.attrs.get("RestartCount", 0))
            if state in ("exited", "dead", "unhealthy") or restarts > 0:
                said = state if restarts == 0 else f"restarting after a crash ({restarts} restarts)"
                raise FarmError(
                    f"container {container.name} is {said}; the last lines of its log:\n{log_tail(container)}\n"
                    f"(every log: {self.run}/logs after `farm down`)"
                )

    def _wait_proxy_sees_all(self, state: FarmState) -> None:
        wanted = {f"{NODE}@{network_address(c)}" for c in self._nodes().values() if c.status == "running"}
        admin = self._admin(state)
        wait_for("every node at the proxy", lambda: admin.up() >= wanted, timeout=HEALTHY_TIMEOUT_S)

    @staticmethod
    def _admin(state: FarmState) -> ProxyAdmin:
        return ProxyAdmin(state.proxy_url, state.admin_token)

    def down(self) -> None:
        """Removes every container and network of the project (their logs kept in ``logs/``), then the state."""
        try:
            state: FarmState | None = self._saved_state()
        except FarmError:
            state = None
        if state is None and not (self.run / STATE_FILE).exists():
            return
        self._network_faults().remove_all()  # first: an agent holds its node's network namespace
        containers = self._containers()
        self._keep_logs(containers)
        if state is not None:
            with contextlib.suppress(ComposeError):  # what compose could not remove, the sweep below does
                self._compose(
                    state,
                    ["down", "-v", "--remove-orphans", "-t", str(STOP_TIMEOUT_S)],
                    "compose down",
                    all_profiles=True,
                )
        for container in self._containers():
            container.remove(force=True, v=True)
        for network in self.client.networks.list(filters={"label": [f"{PROJECT_LABEL}={self.project}"]}):
            network.remove()
        (self.run / STATE_FILE).unlink(missing_ok=True)
        (self.run / NODE_TEMPLATE).unlink(missing_ok=True)

    def _keep_logs(self, containers: list[Container]) -> None:
        logs = self.run / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for container in containers:
            service = container.labels.get(SERVICE_LABEL, container.name)
            name = f"node-{number_of(container)}" if service == NODE else service
            try:
                (logs / f"{name}.log").write_bytes(container.logs())
            except Exception:  # a log lost must not keep the farm from going down
                continue

    # -- status ---------------------------------------------------------------------------------------
    @drives_health
    def status(self) -> dict[str, Any]:
        state = self.state_now()
        nodes = self._nodes()

        def service_state(service: str) -> dict[str, Any]:
            found = self._containers(service)
            return {
                "state": container_state(found[0]) if found else "gone",
                "pid": None,
                "container": found[0].short_id if found else None,
            }

        cache_server = state.cache_container
        services = [s for s in (cache_server, SOURCE, PROXY) if s is not None]
        return {
            "run_dir": str(self.run),
            "engine": "compose",
            "project": self.project,
            "proxy": state.proxy_url,
            "admin_token": state.admin_token,
            "cache": mask_secrets(state.cache_url) if state.cache_url else state.cache_kind,
            "cache_kind": state.cache_kind,
            "write_policy": state.write_policy,
            "cache_server": cache_server,
            "cache_state": self.cache_state(),
            "cache_persistence": state.cache_persistence if cache_server is not None else None,
            "source": state.source_url,
            "source_faults": self._source_faults(state),
            "nodes": [
                {
                    "name": name,
                    "url": state.node_url(name) if name in state.nodes else None,
                    "state": container_state(container),
                    "pid": None,
                    "container": container.short_id,
                }
                for name, container in nodes.items()
            ],
            "processes": {service: service_state(service) for service in services},
            "fault_links": state.fault_links,
            "faults": self._network_faults().active() if state.fault_links else [],
        }

    @staticmethod
    def _source_faults(state: FarmState) -> dict[str, float] | None:
        try:
            return source_control(state.source_url, timeout=STATUS_TIMEOUT_S)
        except FarmError:
            return None

    def source_faults(self, changes: dict[str, float]) -> dict[str, float]:
        return source_control(self._running_state().source_url, changes)

    # -- nodes ----------------------------------------------------------------------------------------
    def add_node(self) -> tuple[str, FarmState]:
        """A copy of the first node's container as the next replica: the proxy finds it by DNS once it is healthy."""
        state = self._running_state()
        state = self.state_now()
        number = state.next_node
        name = f"node-{number}"
        template = json.loads((self.run / NODE_TEMPLATE).read_text())
        config, host = template["Config"], template["HostConfig"]
        networks = template["NetworkSettings"]["Networks"]
        labels = {**config["Labels"], NUMBER_LABEL: str(number)}
        api = self.client.api
        endpoint = {net: api.create_endpoint_config(aliases=[NODE]) for net in networks}
        created = api.create_container(
            image=config["Image"],
            command=config["Cmd"],
            environment=config["Env"],
            labels=labels,
            user=config.get("User") or None,
            working_dir=config.get("WorkingDir") or None,
            healthcheck=config.get("Healthcheck"),
            ports=[NODE_PORT],
            name=re.sub(r"\d+$", str(number), template["Name"].lstrip("/")),
            host_config=api.create_host_config(
                port_bindings={NODE_PORT: ("127.0.0.1", None)},
                init=host.get("Init"),
                restart_policy=host.get("RestartPolicy"),
            ),
            networking_config=api.create_networking_config(endpoint),  # type: ignore[arg-type]
        )
        state.next_node = number + 1  # a name is never given twice, even to a node that failed to come up
        state.save(self.run)
        try:
            api.start(created["Id"])
            container = self.client.containers.get(created["Id"])
            state = self.state_now()
            try:
                wait_for(name, healthz(state.node_url(name)), timeout=HEALTHY_TIMEOUT_S)
            except FarmError as exc:
                raise FarmError(f"{exc}; the last lines of its log:\n{log_tail(container)}") from None
            self._wait_proxy_sees_all(state)
        except BaseException:  # no half-added replica left for the proxy's discovery to find
            self._keep_logs([self.client.containers.get(created["Id"])])
            api.remove_container(created["Id"], force=True)
            self.state_now()
            raise
        return name, state

    def remove_node(self, name: str) -> FarmState:
        """Drained at the proxy first (which then leaves it out of what DNS finds), then stopped and removed."""
        state = self._running_state()
        container = self._node(state, name)
        self._keep_logs([container])
        if state.fault_links:  # its links go, and their faults with them
            self._network_faults().forget_node(name)
        self._drain(state, container)
        container.stop(timeout=STOP_TIMEOUT_S)
        container.remove(force=True)
        return self.state_now()

    def _drain(self, state: FarmState, container: Container) -> None:
        """Out of the proxy, its requests in flight finished; a node that is not running (crashed, stopped) has
        nothing in flight, and one the proxy's discovery already dropped is out already."""
        if container.status != "running":
            return
        try:
            self._admin(state).drain_and_remove(f"{NODE}@{network_address(container)}")
        except FarmError as exc:
            if " 404 " not in str(exc):
                raise

    def restart_nodes(self, names: list[str], *, rolling: bool, on_restarted: NodeRestarted | None = None) -> None:
        state = self._running_state()
        containers = [self._node(state, name) for name in names]
        told = on_restarted or (lambda name, began, ended: None)
        admin = self._admin(state)
        if rolling or len(names) == 1:
            for name, container in zip(names, containers, strict=True):
                began = time.monotonic()
                self._drain(state, container)
                container.stop(timeout=STOP_TIMEOUT_S)
                container.start()
                self._back_at_the_proxy(name, container, admin)
                told(name, began, time.monotonic())
            return
        began = time.monotonic()
        with ThreadPoolExecutor(len(containers)) as pool:
            list(pool.map(lambda c: c.restart(timeout=STOP_TIMEOUT_S), containers))
        for name, container in zip(names, containers, strict=True):
            self._back_at_the_proxy(name, container, admin, add=False)
        ended = time.monotonic()
        for name in names:
            told(name, began, ended)

    def _back_at_the_proxy(self, name: str, container: Container, admin: ProxyAdmin, *, add: bool = True) -> None:
        """Healthy at its (maybe new) published port, then at the proxy (added back, if it was drained)."""
        state = self.state_now()
        container.reload()
        wait_for(name, healthz(state.node_url(name)), timeout=HEALTHY_TIMEOUT_S, hint=f"\n{log_tail(container)}")
        backend = f"{NODE}@{network_address(container)}"
        if add:
            try:
                admin.add(backend, f"http://{network_address(container)}:{NODE_PORT}")
            except FarmError as exc:
                if " 409 " not in str(exc):  # found again by DNS meanwhile: as good
                    raise
        wait_for(f"{name} at the proxy", lambda: backend in admin.up(), timeout=HEALTHY_TIMEOUT_S)

    def signal_node(self, name: str, signal: NodeSignal) -> None:
        """kill: SIGKILL to the node's processes inside its container (the init stays: the engine sees a crash and
        its restart policy starts the container again); pause and resume: the engine's freezer."""
        state = self._running_state()
        container = self._node(state, name)
        if signal is NodeSignal.KILL:
            container.exec_run(["sh", "-c", "kill -KILL -1"], detach=True)
        elif signal is NodeSignal.PAUSE:
            if container.status != "paused":
                container.pause()
        elif container.status == "paused":
            container.unpause()

    # -- the cache server -----------------------------------------------------------------------------
    def _cache(self, state: FarmState) -> Container:
        if state.cache_container is None:
            raise FarmError(
                f"this farm's cache ({state.cache_kind}) is not a server the farm started: only its own redis or "
                "PostgreSQL (--cache redis or sql) can be stopped, started or paused"
            )
        return self._service(state.cache_container)

    def cache_state(self) -> str | None:
        state = self._saved_state()
        if state.cache_container is None:
            return None
        found = self._containers(state.cache_container)
        status = found[0].status if found else "exited"
        return "running" if status == "running" else "paused" if status == "paused" else "stopped"

    def cache_service(self, action: str) -> None:
        if action not in CACHE_ACTIONS:
            raise FarmError(f"cache {action!r}: use {', '.join(CACHE_ACTIONS)}")
        state = self._running_state()
        container = self._cache(state)
        now = self.cache_state()
        if action == "pause":
            if now == "stopped":
                raise FarmError(f"the cache ({state.cache_container}) is stopped: `farm cache start` first")
            if now == "running":
                container.pause()
        elif action == "resume":
            if now == "stopped":
                raise FarmError(f"the cache ({state.cache_container}) is stopped, not paused: `farm cache start`")
            if now == "paused":
                container.unpause()
        elif action == "stop":
            if now == "paused":
                container.unpause()  # a frozen container cannot hear its stop signal
            container.stop(timeout=STOP_TIMEOUT_S)
        elif action == "start":
            if now == "paused":
                container.unpause()
            elif now == "stopped":
                self._start_cache(state, container)
        else:
            if now == "paused":
                container.unpause()
            container.stop(timeout=STOP_TIMEOUT_S)
            self._start_cache(state, container)

    def _start_cache(self, state: FarmState, container: Container) -> None:
        container.start()
        self._wait_healthy(state.cache_container, timeout=HEALTHY_TIMEOUT_S)
        if not state.cache_persistence:  # started empty, as a farm without persistence promises
            forget = (
                ["redis-cli", "FLUSHALL"]
                if state.cache_kind == "redis"
                else ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f'TRUNCATE "{CACHE_TABLE}"']
            )
            code, output = container.exec_run(forget)
            if code != 0:
                said = output.decode(errors="replace").strip() if isinstance(output, bytes) else ""
                raise FarmError(f"the cache did not start empty: {said}")

    # -- network faults -------------------------------------------------------------------------------
    def _network_faults(self) -> NetworkFaults:
        return NetworkFaults(self.client, self.project, self.run)

    def _links(self, state: FarmState, target: str | None, nodes: list[str] | None) -> list[str]:
        """The links of these nodes (default: all) to this target (default: both), each checked."""
        if not state.fault_links:
            raise FarmError(
                f"this farm has no fault links: `farm down --run-dir {self.run}`, then start it again with "
                f"`farm up --engine compose --faults --run-dir {self.run}`"
            )
        if target is not None and target not in TARGETS:
            raise FarmError(f"{target!r}: a link goes to {' or '.join(TARGETS)}")
        for name in nodes or ():
            self._node(state, name)
        return chosen_links(state, target, nodes)

    def fault(
        self,
        kind: str,
        target: str,
        nodes: list[str] | None = None,
        *,
        ms: float | None = None,
        jitter_ms: float | None = None,
        duration_s: float | None = None,
    ) -> FaultJson:
        """Puts a network fault on the links from these nodes (default: all) to ``target`` (see network_faults)."""
        if kind not in FAULT_KINDS:
            raise FarmError(f"fault {kind!r}: use {', '.join(FAULT_KINDS)}")
        self._running_state()
        state = self.state_now()
        links = self._links(state, target, nodes)
        return self._network_faults().add(
            self._nodes(), state.link_ports, kind, links, ms=ms, jitter_ms=jitter_ms, duration_s=duration_s
        )

    def heal(self, nodes: list[str] | None = None, target: str | None = None) -> list[FaultJson]:
        """Ends the faults on these nodes' links (to ``target``, or both); with neither, every network fault."""
        state = self._running_state()
        if nodes is None and target is None:
            self._links(state, None, None)
            return self._network_faults().heal()
        return self._network_faults().heal(self._links(state, target, nodes))

    def faults(self) -> list[FaultJson]:
        """The network faults active now."""
        state = self._running_state()
        return self._network_faults().active() if state.fault_links else []

    def heal_everything(self) -> list[str]:
        state = self._running_state()
        ended = []
        if state.fault_links:
            ended += [f"healed {fault['id']} {fault['kind']} on {', '.join(fault['links'])}" for fault in self.heal()]
        was = self.cache_state()
        if was not in (None, "running"):
            self.cache_service("resume" if was == "paused" else "start")
            ended.append(f"cache {state.cache_container} was {was}: {'resumed' if was == 'paused' else 'started'}")
        return ended + source_back_to_normal(state.source_url, state.source_latency_ms)
