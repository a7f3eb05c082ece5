"""Reading a scenario file: YAML, checked against the JSON Schema, every problem reported with its line.

Nothing runs unless the whole file is valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from farm.scenario.errors import ScenarioSpecError, SpecProblem
from farm.scenario.schema import SCHEMA
from farm.scenario.steps import STEP_TYPES, Step
from farm.scenario.yaml_reader import Path_, decode, field_name, line_of, read_yaml
from nodes.admission import AdmissionLimits

MAX_MESSAGE = 160
"""A problem's message is cut to this: jsonschema's quote the whole value, which may be a long text or list."""

# The steps are checked one by one against their own kind's schema: a oneOf over every kind would bury a
# user's mistake under eleven "is not valid under any of the given schemas".
_TOP_SCHEMA = {**SCHEMA, "properties": {**SCHEMA["properties"], "steps": {"type": "array", "minItems": 1}}}


@dataclass(frozen=True)
class FarmSpec:
    nodes: int = 3
    caches: tuple[str, ...] = ("redis",)
    item_sliding_s: float | None = 300.0
    item_absolute_s: float | None = None
    source_latency_ms: float = 20.0
    cache_persistence: bool = True
    """The farm's own cache server keeps its data across ``cache: stop/start/restart``."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """Each node's admission limits (``max_in_flight``, ``max_queue``, ``queue_timeout_ms``)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    description: str = ""
    farm: FarmSpec = field(default_factory=FarmSpec)
    steps: tuple[Step, ...] = ()
    expected_to_fail: tuple[str, ...] = ()
    """Caches that the scenario shows falling short: their failed expectations do not fail the run."""

    @property
    def needs_fault_links(self) -> bool:
        """A step acts on network links: the farm runs the fault proxy (which costs some throughput) only then."""
        return any(step.needs_fault_links for step in self.steps)


def _problems(
    file: str,
    root: yaml.Node | None,
    base: Path_,
    errors: Iterable[jsonschema.ValidationError],
    messages: dict[str, str] | None = None,
) -> list[SpecProblem]:
    problems = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = base + tuple(error.absolute_path)
        message = error.message
        if error.validator == "required":
            missing = message.split("'")[1] if "'" in message else ""
            path = (*path, missing) if missing else path
            message = "is required"
        elif messages and str(error.validator) in messages and not error.absolute_path:
            message = messages[str(error.validator)]
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        problems.append(SpecProblem(file, line_of(root, base + tuple(error.absolute_path)), field_name(path), message))
    return problems


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    root, data = read_yaml(text, file)
    if not isinstance(data, dict):
        raise ScenarioSpecError([SpecProblem(file, 1, "(top level)", "a scenario is a mapping with name and steps")])
    validator = jsonschema.Draft202012Validator
    problems = _problems(file, root, (), validator(_TOP_SCHEMA).iter_errors(data))
    raw_steps = data.get("steps")
    steps: list[Step] = []
    for index, item in enumerate(raw_steps if isinstance(raw_steps, list) else []):
        where: Path_ = ("steps", index)
        line = line_of(root, where)
        match item:
            case {**only} if len(only) == 1 and (kind := next(iter(only))) in STEP_TYPES:
                step_type, body = STEP_TYPES[kind], only[kind]
                errors = list(validator(step_type.schema).iter_errors(body))
                if errors:
                    problems += _problems(file, root, (*where, kind), errors, step_type.messages)
                elif broken := step_type.check(body):
                    for name, message in broken:
                        at: Path_ = (*where, kind, name)
                        problems.append(SpecProblem(file, line_of(root, at), field_name(at), message))
                else:
                    steps.append(step_type.parse(body, line))
            case _:
                found = ", ".join(map(str, item)) if isinstance(item, dict) and item else repr(item)
                found = found if len(found) <= 60 else found[:57] + "..."
                message = f"a step is one of {', '.join(STEP_TYPES)}; found {found}"
                problems.append(SpecProblem(file, line, field_name(where), message))
    if problems:
        raise ScenarioSpecError(sorted(problems, key=lambda p: (p.line, p.field, p.message)))
    farm = data.get("farm", {})
    return Scenario(
        name=data["name"],
        file=file,
        description=data.get("description", ""),
        expected_to_fail=tuple(data.get("expected_to_fail", ())),
        farm=FarmSpec(
            nodes=farm.get("nodes", 3),
            caches=tuple(farm.get("caches", ("redis",))),
            item_sliding_s=farm.get("item_sliding_s", 300.0),
            item_absolute_s=farm.get("item_absolute_s"),
            source_latency_ms=farm.get("source_latency_ms", 20.0),
            cache_persistence=farm.get("cache_persistence", True),
            admission=_admission(farm),
        ),
        steps=tuple(steps),
    )


def _admission(farm: dict[str, Any]) -> AdmissionLimits:
    defaults = AdmissionLimits()
    return AdmissionLimits(  # int(): the schema's integers include 3.0
        max_in_flight=int(farm.get("max_in_flight", defaults.max_in_flight)),
        max_queue=int(farm.get("max_queue", defaults.max_queue)),
        queue_timeout=farm.get("queue_timeout_ms", defaults.queue_timeout * 1000) / 1000,
    )


def load_scenario(path: Path) -> Scenario:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioSpecError([SpecProblem(str(path), 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    return parse_scenario(decode(raw, str(path)), str(path))
