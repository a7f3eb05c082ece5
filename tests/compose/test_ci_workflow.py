"""The users' CI workflow (compose/ci/github-actions.yml) as the runner would run it: every ``run:`` step through
bash in a checkout, against the real engine; then what its upload step takes must be there.

Where this machine differs from ubuntu-latest, and only there: ``docker compose`` goes to ``docker-compose``
(Compose v1) when v2 is missing; no package index answers, so the workflow's ``pip install`` finds the dependencies
already installed (a virtualenv over this one's) and the images' build finds the wheels in compose/wheels that the
``images`` fixture wrote (on the runner it uses PyPI); the images get a tag and the hand-started compose project a
name of their own, so that nothing shared is replaced or touched.
"""

from __future__ import annotations

import json
import re
import sysconfig
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from farm.containers.checkout import CHECKOUT
from farm.containers.compose_farm import project_name
from farm.containers.images import TARGETS
from tests.compose.conftest import project_leftovers
from tests.compose.workflow_runner import (
    StepRun,
    compose_v2_shim,
    copy_checkout,
    load_workflow,
    only_job,
    python_over,
    run_steps,
    runner_environment,
)

WORKFLOW = CHECKOUT / "compose" / "ci" / "github-actions.yml"
STEP_TIMEOUT_S = 300
UPLOAD_ACTION = "actions/upload-artifact@"


def upload_paths(workflow: dict[str, object]) -> list[str]:
    uploads = [s for s in only_job(workflow)["steps"] if str(s.get("uses", "")).startswith(UPLOAD_ACTION)]
    assert len(uploads) == 1, "the workflow uploads the reports in one upload-artifact step"
    assert uploads[0].get("if") == "always()", "the reports are uploaded when the scenario fails too"
    return [line.strip() for line in str(uploads[0]["with"]["path"]).splitlines() if line.strip()]


def test_a_failing_step_stops_the_job_but_not_an_always_step(tmp_path: Path) -> None:
    workflow = {
        "jobs": {
            "one": {
                "steps": [
                    {"name": "first", "run": "echo one > first.txt"},
                    {"name": "broken", "run": "echo piped\nexit 3"},
                    {"name": "skipped", "run": "touch skipped.txt"},
                    {"name": "always", "if": "always()", "run": "touch always.txt"},
                ]
            }
        }
    }
    done = run_steps(workflow, tmp_path, runner_environment([], {}), timeout_s=30)
    assert [(s.name, s.returncode) for s in done] == [("first", 0), ("broken", 3), ("always", 0)]
    assert "exited 3" in done[1].explained()
    assert "piped" in done[1].explained()
    assert (tmp_path / "always.txt").exists()
    assert not (tmp_path / "skipped.txt").exists()
    failing = run_steps(
        {"jobs": {"one": {"steps": [{"name": "pipe", "run": "false | true"}]}}},
        tmp_path,
        runner_environment([], {}),
        timeout_s=30,
    )
    assert failing[0].returncode == 1, "pipefail, as on the runner"


@pytest.fixture
def ci_tag(engine: docker.DockerClient, tmp_path: Path) -> Iterator[str]:
    """A tag of the farm's images for this run only, untagged afterwards (their layers are the shared images')."""
    tag = "ci-" + project_name(tmp_path).removeprefix("cachefarm-")
    yield tag
    for repository in TARGETS.values():
        try:
            engine.images.remove(f"{repository}:{tag}")
        except docker.errors.ImageNotFound:
            continue


@pytest.mark.slow
@pytest.mark.timeout(2 * STEP_TIMEOUT_S + 120)
def test_every_command_of_the_workflow_runs_and_leaves_the_reports(
    images: Path, engine: docker.DockerClient, tmp_path: Path, ci_tag: str
) -> None:
    workflow = load_workflow(WORKFLOW)
    checkout = tmp_path / "checkout"
    copy_checkout(CHECKOUT, checkout)
    for wheel in (CHECKOUT / "compose" / "wheels").iterdir():
        (checkout / "compose" / "wheels" / wheel.name).write_bytes(wheel.read_bytes())
    python_bin = python_over(Path(sysconfig.get_paths()["purelib"]), tmp_path / "python")
    shim = compose_v2_shim(tmp_path / "shim")
    project = project_name(checkout)
    environment = runner_environment(
        [python_bin, *([shim] if shim else [])],
        {
            "COMPOSE_PROJECT_NAME": project,
            "FARM_IMAGE_TAG": ci_tag,
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
        },
    )
    try:
        done = run_steps(workflow, checkout, environment, STEP_TIMEOUT_S)
    finally:
        leftovers = project_leftovers(engine, project)
        for container in engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            container.remove(force=True, v=True)
        for network in engine.networks.list(filters={"label": f"com.docker.compose.project={project}"}):
            network.remove()

    failed = [s for s in done if not s.ok]
    assert not failed, "\n".join(s.explained() for s in failed)
    commands = [s for s in only_job(workflow)["steps"] if "run" in s]
    assert len(done) == len(commands) >= 3, "every run step ran"
    assert leftovers == [], "the workflow's own `docker compose down` left the farm behind"

    by_hand = next(s for s in done if "docker compose" in s.script and " up " in s.script)
    assert_read_through_the_proxy(by_hand)
    assert "farm run --engine compose scenarios/coherence.yaml" in " ".join(s.script for s in done)

    for path in upload_paths(workflow):
        assert (checkout / path).is_file(), f"the upload step's {path} was not written"
    junit = ET.parse(checkout / "results" / "junit.xml").getroot()
    suites = [junit] if junit.tag == "testsuite" else list(junit.iter("testsuite"))
    assert sum(int(s.get("tests", "0")) for s in suites) > 0, "junit.xml holds no test case"
    assert sum(int(s.get("failures", "0")) + int(s.get("errors", "0")) for s in suites) == 0
    assert "redis" in ET.tostring(junit, encoding="unicode")
    assert "<html" in (checkout / "results" / "report.html").read_text()[:500].lower()
    (redis,) = json.loads((checkout / "results" / "report.json").read_text())["caches"]
    assert (redis["cache"], redis["passed"]) == ("redis", True), "the shipped coherence scenario held on containers"
    assert (redis["figures"]["coherence_violations"], redis["figures"]["errors"]) == (0, 0)
    assert redis["figures"]["requests"] > 3000, "its loads ran through the proxy"
    history = (checkout / "results" / "history.jsonl").read_text().splitlines()
    served = {json.loads(line)["node"] for line in history}
    assert served >= {"node-1", "node-2", "node-3"}, "every replica answered, under the name its number gives it"


def assert_read_through_the_proxy(step: StepRun) -> None:
    """The item the step read through the proxy, as a node serves it."""
    assert re.search(r'"id":\s*42\b', step.output), f"no item 42 in what the step printed:\n{step.output[-2000:]}"
