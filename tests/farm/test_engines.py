"""One run directory holds one farm: a farm of processes and one on containers never take each other's state
(the other would be left running, its state file overwritten, and `farm down` would stop only one of them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.config import CacheChoice
from farm.containers.compose_farm import ComposeFarm
from farm.engines import farm_at
from farm.errors import FarmError
from farm.state import FarmState
from farm.topology import Farm


def state_of(engine: str) -> FarmState:
    return FarmState(proxy_port=1, admin_token="t", source_port=2, cache_kind="memory", cache_url=None, engine=engine)


def test_a_farm_on_containers_is_not_started_over_a_farm_of_processes(tmp_path: Path) -> None:
    state_of("processes").save(tmp_path)
    with pytest.raises(FarmError, match=r"a farm of processes is in .*`farm down --run-dir"):
        ComposeFarm(tmp_path).up(nodes=1, cache=CacheChoice("memory", None), proxy_port=None)
    assert FarmState.load(tmp_path).engine == "processes", "its state is kept"


def test_a_farm_of_processes_is_not_started_over_a_farm_on_containers(tmp_path: Path) -> None:
    state_of("compose").save(tmp_path)
    with pytest.raises(FarmError, match=r"a farm on containers is in .*`farm down --run-dir"):
        Farm(tmp_path).up(nodes=1, cache=CacheChoice("memory", None), proxy_port=None)
    assert isinstance(farm_at(tmp_path), ComposeFarm), "the commands still find it on its engine"
