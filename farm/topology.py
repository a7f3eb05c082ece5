"""A farm: which processes it runs, on which ports, and how nodes come, go, restart and fail."""

from __future__ import annotations

import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from farm.cache import from_url, mask_secrets
from farm.cache_server import CACHE_TABLE, CacheServer, cache_server
from farm.config import CacheChoice
from farm.errors import FarmError
from farm.fault_links import (
    FAULT_KINDS,
    TARGETS,
    FaultJson,
    FaultsControl,
    cache_address,
    chosen_links,
    link_name,
    reroute,
)
from farm.health import healthz, http_ok, wait_for
from farm.node_signals import NodeSignal
from farm.ports import free_port
from farm.proxy_admin import ProxyAdmin
from farm.servers import postgres
from farm.servers.process_tree import is_stopped, signal_tree
from farm.source_control import source_back_to_normal, source_control
from farm.state import STATE_FILE, FarmState
from farm.supervise import Program, Supervisor
from nodes.admission import AdmissionLimits
from nodes.settings import SHUTDOWN_TIMEOUT_S
from proxy.drain import DRAIN_TIMEOUT_S

SOURCE, PROXY, FAULTS = "source", "proxy", "faults"

CACHE_ACTIONS = ("stop", "start", "pause", "resume", "restart")
"""What ``cache_service`` does to the farm's own cache server: ``pause`` is SIGSTOP to the server and every
process it started (it hangs with its connections open), ``resume`` SIGCONT; ``start`` also resumes a paused one."""
CACHE_STATES = ("running", "paused", "stopped")
STATUS_TIMEOUT_S = 1.0
"""How long `farm status` waits for the source store's faults: a paused source must not hang the status."""
SOURCE_SEED = 0
"""The source store's jitter and lost replies repeat from one farm to the next."""

NodeRestarted = Callable[[str, float, float], None]
"""Told of each node once it is back: its name, and when its restart began and ended (``time.monotonic()``)."""


class Farm:
    def __init__(self, run: Path) -> None:
        self.run = run.resolve()
        self.supervisor = Supervisor(self.run)

    # -- programs ----------------------------------------------------------------------------------
    def _node_program(self, state: FarmState, name: str) -> Program:
        source_port = state.link_ports.get(link_name(name, SOURCE), state.source_port)
        command = [sys.executable, "-m", "nodes", "--name", name, "--port", str(state.nodes[name])]
        command += ["--source", f"http://127.0.0.1:{source_port}", "--item-sliding", str(state.item_sliding)]
        command += ["--write-policy", state.write_policy, *state.admission.node_arguments()]
        if state.item_absolute:
            command += ["--item-absolute", str(state.item_absolute)]
        environment = {}
        if state.cache_url is None:
            command += ["--cache", "none" if state.cache_kind == "none" else "memory://"]
        else:
            cache_link = state.link_ports.get(link_name(name, "cache"))
            cache_url = state.cache_url if cache_link is None else reroute(state.cache_url, cache_link)
            environment["FARM_CACHE_URL"] = cache_url  # not on the command line: `ps` shows that
        return Program(name, command, environment, priority=300, stop_wait_s=SHUTDOWN_TIMEOUT_S)

    @staticmethod
    def _link_targets(state: FarmState, name: str) -> dict[str, tuple[str, int]]:
        """The node's links, by link name, with the address each leads to."""
        targets = {link_name(name, SOURCE): ("127.0.0.1", state.source_port)}
        cache = cache_address(state.cache_url)
        if cache is not None:
            targets[link_name(name, "cache")] = cache
        return targets

    def _faults_program(self, state: FarmState) -> Program:
        command = [sys.executable, "-m", "faults", "--control-port", str(state.faults_port)]
        for name in state.nodes:
            for link, (host, port) in self._link_targets(state, name).items():
                command += ["--link", f"{link}={state.link_ports[link]}:{host}:{port}"]
        return Program(FAULTS, command, {"FARM_FAULTS_TOKEN": state.faults_token or ""}, priority=250, stop_wait_s=2)

    def _programs(self, state: FarmState) -> list[Program]:
        """Everything but the cache server, in the order they start."""
        programs = []
        command = [sys.executable, "-m", "farm.source", "--port", str(state.source_port)]
        command += ["--catalog", str(self.run / "catalog.db"), "--latency-ms", str(state.source_latency_ms)]
        command += ["--seed", str(SOURCE_SEED)]
        programs.append(Program(SOURCE, command, priority=200))
        if state.fault_links:
            programs.append(self._faults_program(state))
        programs += [self._node_program(state, name) for name in state.nodes]
        command = [sys.executable, "-m", "proxy", "--port", str(state.proxy_port), "--timeout", "5"]
        command += [arg for name in state.nodes for arg in ("--backend", f"{name}={state.node_url(name)}")]
        environment = {"FARM_PROXY_TOKEN": state.admin_token}
        programs.append(Program(PROXY, command, environment, priority=400, stop_wait_s=DRAIN_TIMEOUT_S))
        return programs

    # -- up and down -------------------------------------------------------------------------------
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
        """``fault_links``: put the fault proxy between each node and its cache and source store (every hop costs
        some throughput, so only farms that inject network faults have it). ``admission``: each node's limits
        (None: the node's defaults)."""
        if nodes < 1:
            raise FarmError(f"--nodes {nodes}: a farm needs at least one node")
        if self.supervisor.running():
            raise FarmError(f"a farm is already up in {self.run}: `farm down --run-dir {self.run}` first")
        if (self.run / STATE_FILE).exists() and FarmState.load(self.run).engine != "processes":
            raise FarmError(
                f"a farm on containers is in {self.run}: `farm down --run-dir {self.run}` first, or use another "
                "--run-dir"
            )
        self.run.mkdir(parents=True, exist_ok=True)
        state = FarmState(
            proxy_port=proxy_port or free_port(),
            admin_token=secrets.token_urlsafe(24),
            source_port=free_port(),
            cache_kind=cache.kind,
            cache_url=cache.url,
            item_sliding=item_sliding,
            item_absolute=item_absolute,
            source_latency_ms=source_latency_ms,
            cache_persistence=cache_persistence,
            write_policy=cache.write_policy,
            admission=admission or AdmissionLimits(),
        )
        if fault_links:
            state.fault_links, state.faults_port, state.faults_token = True, free_port(), secrets.token_urlsafe(24)
        for _ in range(nodes):
            state.nodes[self._new_node_name(state)] = free_port()
        try:
            self._own_cache(state)
            for name in state.nodes:  # after the cache: a node's cache link leads to the cache's address
                self._allot_links(state, name)
            state.save(self.run)
            self.supervisor.write_config()
            server = cache_server(state, self.run)
            if server is not None:
                server.prepare_files()
                self.supervisor.write_program(server.program())
            self.supervisor.start()
            if server is not None:
                wait_for(server.name, server.ready, hint=f"; see {self.run}/logs/{server.name}.log")
                server.prepare_data()
            elif cache.kind in ("sql", "sqlite"):
                with from_url(state.cache_url or "") as sql:
                    sql.create_table(if_not_exists=True)  # type: ignore[attr-defined]
            # The rest start once the cache is ready for them: their first writes land in it.
            for program in self._programs(state):
                self.supervisor.add(program)
            self.wait_healthy(state)
        except BaseException:
            self.down()
            raise
        return state

    def _own_cache(self, state: FarmState) -> None:
        """The cache server (or SQLite file) the farm provides when its cache kind was given without a URL."""
        if state.cache_url is not None:
            return
        if state.cache_kind == "redis":
            state.redis_port = free_port()
            state.cache_url = f"redis://127.0.0.1:{state.redis_port}/0"
        elif state.cache_kind == "sql":
            state.postgres_port = free_port()
            state.postgres_dir = str(postgres.owned_directory("cachefarm-pg-", postgres.server_user()))
            state.cache_url = f"{postgres.cache_url(state.postgres_port)}?table={CACHE_TABLE}"
        elif state.cache_kind == "sqlite":
            state.cache_url = f"sqlite:///{self.run / 'cache.db'}?table={CACHE_TABLE}"

    def wait_healthy(self, state: FarmState) -> None:
        hint = f"; see the logs in {self.run}/logs"
        server = cache_server(state, self.run)
        if server is not None:
            wait_for(server.name, server.ready, hint=hint)
        wait_for("the source store", healthz(state.source_url), hint=hint)
        if state.fault_links:
            wait_for("the fault proxy", lambda: self._faults_answer(state), hint=hint)
        for name in state.nodes:
            wait_for(name, healthz(state.node_url(name)), hint=hint)
        wait_for("the proxy", lambda: self._proxy_sees_all_up(state), hint=hint)

    @staticmethod
    def _admin(state: FarmState) -> ProxyAdmin:
        return ProxyAdmin(state.proxy_url, state.admin_token)

    def _proxy_sees_all_up(self, state: FarmState) -> bool:
        if not http_ok(state.proxy_url + "/_proxy/backends", headers={"Authorization": f"Bearer {state.admin_token}"}):
            return False
        return self._admin(state).up() >= set(state.nodes)

    def _faults_answer(self, state: FarmState) -> bool:
        try:
            return {link["name"] for link in self._faults(state).links()} >= set(state.link_ports)
        except FarmError:
            return False

    def down(self) -> None:
        """Stops everything this farm started; afterwards none of its processes, and none of its files outside
        the run directory, is left."""
        try:
            server = cache_server(FarmState.load(self.run), self.run)
        except FarmError:  # no farm here, or its state is damaged: stop what runs all the same
            server = None
        if self.supervisor.running():
            if server is not None:  # a paused cache and its backends must wake to hear their stop signal
                self._signal_cache(server, signal.SIGCONT)
            for info in self.supervisor.all_info():
                if info["statename"] in ("RUNNING", "STARTING"):  # a paused node must wake to hear its TERM
                    self.supervisor.signal(info["name"], NodeSignal.RESUME.supervisor_name)
        self.supervisor.shutdown()
        if server is not None:
            server.remove_files()

    # -- status ------------------------------------------------------------------------------------
    def _running_state(self, *, fault_links: bool = False) -> FarmState:
        """The farm's state, for commands that act on its processes: a farm that is down says so (and, first, one
        without the fault links a command needs)."""
        state = FarmState.load(self.run)
        if fault_links:
            self._faults(state)
        if not self.supervisor.running():
            raise FarmError(f"the farm in {self.run} is down: start it with `farm up --run-dir {self.run}`")
        return state

    def state_now(self) -> FarmState:
        return FarmState.load(self.run)

    def status(self) -> dict[str, Any]:
        state = FarmState.load(self.run)
        running = self.supervisor.running()
        infos = {i["name"]: i for i in self.supervisor.all_info()} if running else {}
        server = cache_server(state, self.run)
        servers = () if server is None else (server.name,)

        def process(name: str) -> dict[str, Any]:
            info = infos.get(name, {})
            return {"state": str(info.get("statename", "STOPPED")).lower(), "pid": info.get("pid") or None}

        return {
            "run_dir": str(self.run),
            "running": running,
            "proxy": state.proxy_url,
            "admin_token": state.admin_token,
            "cache": mask_secrets(state.cache_url) if state.cache_url else state.cache_kind,
            "cache_kind": state.cache_kind,
            "write_policy": state.write_policy,
            "cache_server": server.name if server is not None else None,
            "cache_state": self._cache_state(server) if server is not None else None,
            "cache_persistence": state.cache_persistence if server is not None else None,
            "source": state.source_url,
            "source_faults": self._source_faults(state),
            "nodes": [{"name": n, "url": state.node_url(n), **process(n)} for n in state.nodes],
            "processes": {name: process(name) for name in (*servers, SOURCE, FAULTS, PROXY) if name in infos},
            "fault_links": state.fault_links,
            "faults": self._faults(state).faults() if state.fault_links and FAULTS in infos else [],
        }

    # -- the source store's faults -------------------------------------------------------------------
    def source_faults(self, changes: dict[str, float]) -> dict[str, float]:
        """Changes the running source store's faults (``latency_ms``, ``jitter_ms``, ``fail_writes_after_apply``);
        returns them all as they are now."""
        return source_control(self._running_state().source_url, changes)

    @staticmethod
    def _source_faults(state: FarmState) -> dict[str, float] | None:
        try:
            return source_control(state.source_url, timeout=STATUS_TIMEOUT_S)
        except FarmError:  # a farm that is down has no faults to show
            return None

    # -- nodes -------------------------------------------------------------------------------------
    @staticmethod
    def _new_node_name(state: FarmState) -> str:
        name = f"node-{state.next_node}"
        state.next_node += 1
        return name

    def _require_node(self, state: FarmState, name: str) -> None:
        if name not in state.nodes:
            known = ", ".join(state.nodes) or "none"
            raise FarmError(f"no node named {name!r} in this farm (nodes: {known})")

    def add_node(self) -> tuple[str, FarmState]:
        """Starts one more node and puts it behind the proxy; returns its name and the farm as it is now."""
        state = self._running_state()
        name = self._new_node_name(state)
        state.nodes[name] = free_port()
        links = self._allot_links(state, name)
        state.save(self.run)
        for link, (host, port) in links.items():
            self._faults(state).add_link(link, state.link_ports[link], host, port)
        self.supervisor.add(self._node_program(state, name))
        wait_for(name, healthz(state.node_url(name)), hint=f"; see {self.run}/logs/{name}.log")
        self._admin(state).add(name, state.node_url(name))
        wait_for(f"{name} at the proxy", lambda: self._proxy_sees_all_up(state))
        return name, state

    def remove_node(self, name: str) -> FarmState:
        """Drains the node at the proxy, then stops it; returns the farm as it is now."""
        state = self._running_state()
        self._require_node(state, name)
        self._admin(state).drain_and_remove(name)
        self.supervisor.remove(name)
        del state.nodes[name]
        for link in self._link_targets(state, name) if state.fault_links else ():
            del state.link_ports[link]
            self._faults(state).remove_link(link)
        state.save(self.run)
        return state

    def restart_nodes(self, names: list[str], *, rolling: bool, on_restarted: NodeRestarted | None = None) -> None:
        """One by one with ``rolling`` (or for a single node): out of the proxy, restart, healthy, back in.
        Otherwise all at once, as a careless deployment would: the proxy sees them go and come back."""
        state = self._running_state()
        for name in names:
            self._require_node(state, name)
        told = on_restarted or (lambda name, began, ended: None)
        admin = self._admin(state)
        if rolling or len(names) == 1:
            for name in names:
                began = time.monotonic()
                admin.drain_and_remove(name)
                self.supervisor.stop(name)
                self.supervisor.start_program(name)
                wait_for(name, healthz(state.node_url(name)))
                admin.add(name, state.node_url(name))
                wait_for(f"{name} at the proxy", lambda: self._proxy_sees_all_up(state))
                told(name, began, time.monotonic())
            return
        began = time.monotonic()
        for name in names:
            self.supervisor.stop(name)
        for name in names:
            self.supervisor.start_program(name)
        for name in names:
            wait_for(name, healthz(state.node_url(name)))
        wait_for("every node at the proxy", lambda: self._proxy_sees_all_up(state))
        ended = time.monotonic()
        for name in names:
            told(name, began, ended)

    def signal_node(self, name: str, signal: NodeSignal) -> None:
        state = self._running_state()
        self._require_node(state, name)
        self.supervisor.signal(name, signal.supervisor_name)

    # -- the cache server ----------------------------------------------------------------------------
    def cache_service(self, action: str) -> None:
        """One of ``CACHE_ACTIONS`` on the farm's own cache server; waits until a started one answers. A farm
        without persistence starts its server empty."""
        if action not in CACHE_ACTIONS:
            raise FarmError(f"cache {action!r}: use {', '.join(CACHE_ACTIONS)}")
        state = self._running_state()
        server = cache_server(state, self.run)
        if server is None:
            where = mask_secrets(state.cache_url or "in each node")
            raise FarmError(
                f"this farm's cache ({state.cache_kind}, {where}) is not a server the farm started: only its own "
                "redis or PostgreSQL (--cache redis or sql, without a URL) can be stopped, started or paused"
            )
        now = self._cache_state(server)
        if action == "pause":
            if now == "stopped":
                raise FarmError(f"the cache ({server.name}) is stopped: `farm cache start` first")
            self._signal_cache(server, signal.SIGSTOP)
        elif action == "resume":
            if now == "stopped":
                raise FarmError(f"the cache ({server.name}) is stopped, not paused: `farm cache start`")
            self._signal_cache(server, signal.SIGCONT)
        elif action == "stop":
            self._stop_cache(server)
        elif action == "start":
            if now == "paused":
                self._signal_cache(server, signal.SIGCONT)
            elif now == "stopped":
                self._start_cache(server, state)
        else:
            self._stop_cache(server)
            self._start_cache(server, state)

    def cache_state(self) -> str | None:
        """One of ``CACHE_STATES`` for the farm's own cache server; None when its cache is not one."""
        server = cache_server(FarmState.load(self.run), self.run)
        return None if server is None else self._cache_state(server)

    def _cache_pid(self, server: CacheServer) -> int | None:
        if not self.supervisor.running():
            return None
        info = self.supervisor.info(server.name)
        return int(info["pid"]) if info["statename"] in ("RUNNING", "STARTING") and info["pid"] else None

    def _cache_state(self, server: CacheServer) -> str:
        pid = self._cache_pid(server)
        return "stopped" if pid is None else "paused" if is_stopped(pid) else "running"

    def _signal_cache(self, server: CacheServer, sig: signal.Signals) -> None:
        pid = self._cache_pid(server)
        if pid is not None:
            signal_tree(pid, sig)

    def _stop_cache(self, server: CacheServer) -> None:
        self._signal_cache(server, signal.SIGCONT)  # a paused server cannot hear its stop signal
        self.supervisor.stop(server.name)

    def _start_cache(self, server: CacheServer, state: FarmState) -> None:
        self.supervisor.start_program(server.name)
        wait_for(server.name, server.ready, hint=f"; see {self.run}/logs/{server.name}.log")
        if not state.cache_persistence:
            server.forget()

    # -- network faults ----------------------------------------------------------------------------
    def _allot_links(self, state: FarmState, name: str) -> dict[str, tuple[str, int]]:
        """Ports for a new node's links (when the farm has fault links); returns the links and their targets."""
        if not state.fault_links:
            return {}
        links = self._link_targets(state, name)
        for link in links:
            state.link_ports[link] = free_port()
        return links

    def _faults(self, state: FarmState) -> FaultsControl:
        if not state.fault_links or state.faults_port is None:
            raise FarmError(
                f"this farm has no fault links: `farm down --run-dir {self.run}`, then start it again with "
                f"`farm up --faults --run-dir {self.run}`"
            )
        return FaultsControl(state.faults_port, state.faults_token or "")

    def _links(self, state: FarmState, target: str | None, nodes: list[str] | None) -> list[str]:
        """The links of these nodes (default: all) to this target (default: both), each checked."""
        self._faults(state)
        if target is not None and target not in TARGETS:
            raise FarmError(f"{target!r}: a link goes to {' or '.join(TARGETS)}")
        for name in nodes or ():
            self._require_node(state, name)
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
        """Puts a network fault on the links from these nodes (default: all) to ``target``; returns it as the
        fault proxy reports it (``id``, ``links``, ``started``, ``ends_at``, ...)."""
        if kind not in FAULT_KINDS:
            raise FarmError(f"fault {kind!r}: use {', '.join(FAULT_KINDS)}")
        state = self._running_state(fault_links=True)
        links = self._links(state, target, nodes)
        return self._faults(state).add_fault(kind, links, ms=ms, jitter_ms=jitter_ms, duration_s=duration_s)

    def heal(self, nodes: list[str] | None = None, target: str | None = None) -> list[FaultJson]:
        """Ends the faults on these nodes' links (to ``target``, or both); with neither, every network fault."""
        state = self._running_state(fault_links=True)
        control = self._faults(state)
        if nodes is None and target is None:
            return control.heal()
        return control.heal(self._links(state, target, nodes))

    def heal_everything(self) -> list[str]:
        """Ends every fault the farm can have: its network faults, a paused or stopped cache server, and the source
        store's added latency and lost replies (back to what the farm started with). One line per fault ended."""
        state = self._running_state()
        ended = []
        if state.fault_links:
            ended += [f"healed {fault['id']} {fault['kind']} on {', '.join(fault['links'])}" for fault in self.heal()]
        server = cache_server(state, self.run)
        if server is not None:
            was = self._cache_state(server)
            if was != "running":
                self.cache_service("resume" if was == "paused" else "start")
                ended.append(f"cache {server.name} was {was}: {'resumed' if was == 'paused' else 'started'}")
        return ended + source_back_to_normal(state.source_url, state.source_latency_ms)

    def faults(self) -> list[FaultJson]:
        """The network faults active now."""
        state = self._running_state()
        return self._faults(state).faults()
