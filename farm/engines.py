"""What runs a farm: processes under supervisord (``farm.topology.Farm``) or compose containers
(``farm.containers.compose_farm.ComposeFarm``). The commands, the scenario steps and the runner use either through
``FarmEngine``; a farm that is up is found again by the engine its state file names."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from farm.config import CacheChoice
from farm.errors import FarmError
from farm.fault_links import FaultJson
from farm.node_signals import NodeSignal
from farm.state import FarmState
from farm.topology import Farm, NodeRestarted
from nodes.admission import AdmissionLimits

ENGINES = ("processes", "compose")


class FarmEngine(Protocol):
    run: Path

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
    ) -> FarmState: ...

    def down(self) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def state_now(self) -> FarmState:
        """The farm as it runs now (a node container's published port can change when it restarts)."""

    def add_node(self) -> tuple[str, FarmState]: ...

    def remove_node(self, name: str) -> FarmState: ...

    def restart_nodes(self, names: list[str], *, rolling: bool, on_restarted: NodeRestarted | None = None) -> None: ...

    def signal_node(self, name: str, signal: NodeSignal) -> None: ...

    def cache_service(self, action: str) -> None: ...

    def cache_state(self) -> str | None: ...

    def source_faults(self, changes: dict[str, float]) -> dict[str, float]: ...

    def fault(
        self,
        kind: str,
        target: str,
        nodes: list[str] | None = None,
        *,
        ms: float | None = None,
        jitter_ms: float | None = None,
        duration_s: float | None = None,
    ) -> FaultJson: ...

    def heal(self, nodes: list[str] | None = None, target: str | None = None) -> list[FaultJson]: ...

    def heal_everything(self) -> list[str]: ...

    def faults(self) -> list[FaultJson]: ...


def new_farm(run: Path, engine: str) -> FarmEngine:
    if engine == "processes":
        return Farm(run)
    if engine == "compose":
        from farm.containers.compose_farm import ComposeFarm  # the Docker SDK only where containers are used

        return ComposeFarm(run)
    raise FarmError(f"--engine {engine!r}: use {' or '.join(ENGINES)}")


def farm_at(run: Path) -> FarmEngine:
    """The farm in ``run``, on the engine it was started with (processes when there is none: the commands then
    say the farm is down)."""
    try:
        engine = FarmState.load(run).engine
    except FarmError:
        engine = ENGINES[0]
    return new_farm(run, engine)
