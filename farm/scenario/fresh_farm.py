"""A scenario on fresh farms, one per cache, each in a short temporary folder and always torn down.

`farm run` and the pytest plugin's ``run_scenario`` both run scenarios this way.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from farm.config import choose_cache
from farm.engines import new_farm
from farm.errors import FarmError
from farm.event_loops import fast_loop_factory
from farm.scenario.result import CacheResult
from farm.scenario.runner import RunView, ScenarioRunner
from farm.scenario.spec import Scenario

INTERRUPTED = "interrupted"
HISTORY = "history.jsonl"


def run_on_fresh_farm(
    scenario: Scenario,
    cache: str,
    out: Path,
    *,
    view: RunView,
    seed: int | None,
    secrets: Mapping[str, str],
    engine: str = "processes",
) -> CacheResult:
    """One cache: a farm of its own in a short temporary folder (supervisord's socket path must stay short),
    always torn down; its logs are kept in ``out/logs/<cache>``. ``secrets`` may name servers of the user's
    (``FARM_REDIS_URL``, ``FARM_SQL_URL``) for the caches that need one; a farm on containers runs its own."""
    choice = choose_cache(cache, None, secrets if engine == "processes" else {})
    folder = cache.replace("/", "-")  # redis/available: logs/redis-available
    run_dir = Path(tempfile.mkdtemp(prefix=f"cachefarm-{folder}-"))
    farm = new_farm(run_dir, engine)
    runner = ScenarioRunner(scenario, choice, farm, seed=seed, view=view, history=out / HISTORY)
    try:
        # The load generator shares the machine with the farm it measures: its loop's overhead is taken from them.
        with asyncio.Runner(loop_factory=fast_loop_factory()) as loop:
            return loop.run(runner.run())
    except FarmError as exc:
        runner.result.failure = str(exc)
        return runner.result
    except KeyboardInterrupt:
        runner.result.failure = INTERRUPTED
        return runner.result
    except Exception as exc:  # a fault of ours: the other caches still run, the reports still get written
        (out / "logs" / folder).mkdir(parents=True, exist_ok=True)
        (out / "logs" / folder / "runner-error.log").write_text(traceback.format_exc())
        runner.result.failure = f"{type(exc).__name__}: {exc} (traceback in logs/{folder}/runner-error.log)"
        return runner.result
    finally:
        runner.records.close()
        farm.down()
        if (run_dir / "logs").is_dir():
            shutil.copytree(run_dir / "logs", out / "logs" / folder, dirs_exist_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)


class CacheRunView(RunView, Protocol):
    """A view that is also told when each cache's farm is about to start."""

    def starting(self, cache: str) -> None: ...


def run_caches(
    scenario: Scenario,
    caches: list[str],
    out: Path,
    *,
    view: CacheRunView,
    seed: int | None,
    secrets: Mapping[str, str],
    engine: str = "processes",
) -> list[CacheResult]:
    """Each cache in turn; every request goes to ``out/history.jsonl`` as the run goes. Stops after an
    interrupted cache."""
    (out / HISTORY).write_text("")
    results: list[CacheResult] = []
    for cache in caches:
        view.starting(cache)
        result = run_on_fresh_farm(scenario, cache, out, view=view, seed=seed, secrets=secrets, engine=engine)
        results.append(result)
        if result.failure == INTERRUPTED:
            break
    return results
