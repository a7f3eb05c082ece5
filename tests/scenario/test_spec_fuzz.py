"""Scenario files generated from the JSON Schema and mutated from the shipped ones: reading one gives a scenario or
``file:line: field: message`` problems (``farm run`` exits 2 with them and starts nothing), never anything else.

Each YAML oddity that once crashed the reader is an example of ``test_yaml_oddities_are_problems_on_their_line``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from farm.scenario.errors import ScenarioSpecError
from farm.scenario.expectations import describe
from farm.scenario.schema import SCHEMA
from farm.scenario.spec import Scenario, parse_scenario
from farm.scenario.steps.flow import ExpectStep
from farm.scenario.yaml_reader import MAX_DEPTH, decode
from tests.fuzzing import examples

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {path.name: path.read_text() for path in sorted((ROOT / "scenarios").glob("*.yaml"))}
FILE = "fuzzed.yaml"
PROBLEM = re.compile(rf"^{re.escape(FILE)}:(\d+): [^\n]+: [^\n]+$")


def read(text: str) -> Scenario | ScenarioSpecError:
    """What `farm run` reads: a scenario, or the problems it prints; anything else escapes and fails the test."""
    try:
        scenario = parse_scenario(text, FILE)
    except ScenarioSpecError as problems:
        refused: ScenarioSpecError | None = problems
    else:
        refused = None
    if refused is not None:
        assert refused.problems, "a spec error with no problem in it"
        lines = text.count("\n") + 2
        for problem in refused.problems:
            shown = PROBLEM.match(str(problem))
            assert shown is not None, f"not a file:line: field: message line: {problem}"
            assert 1 <= int(shown[1]) <= lines, f"line {shown[1]} is not in the file: {problem}"
        return refused
    for index, step in enumerate(scenario.steps, 1):
        assert step.numbered(index)  # the labels the live view and the reports print
        if isinstance(step, ExpectStep):
            assert all(describe(threshold) for threshold in step.thresholds.values())
    return scenario


# -- generated from the schema ----------------------------------------------------------------------
def from_schema(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped by a JSON Schema (the parts the scenario schema uses): mostly valid, sometimes not where rules
    span fields (``oneOf`` of required fields, ``not``, ``if``), which the reader must then refuse with problems."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kinds = schema.get("type")
    if kinds is None and "oneOf" in schema:
        return st.one_of([from_schema(branch) for branch in schema["oneOf"]])
    if isinstance(kinds, list):
        return st.one_of([from_schema({**schema, "type": kind}) for kind in kinds])
    match kinds:
        case "object":
            properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {name: value for name, value in properties.items() if name in required},
                optional={name: value for name, value in properties.items() if name not in required},
            )
        case "array":
            items = from_schema(schema.get("items", {"type": "string"}))
            low = schema.get("minItems", 0)
            high = min(schema.get("maxItems", low + 4), low + 4)
            if schema.get("uniqueItems"):
                return st.lists(items, min_size=low, max_size=high, unique_by=repr)
            return st.lists(items, min_size=low, max_size=high)
        case "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        case "number":
            low, high = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum")
            floats = st.floats(
                low, high, exclude_min="exclusiveMinimum" in schema, allow_nan=False, allow_infinity=False
            )
            return floats | st.integers(None if low is None else int(low) + 1, None if high is None else int(high))
        case "string":
            return st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema else st.text(max_size=20)
        case "boolean":
            return st.booleans()
    raise AssertionError(f"a schema this generator does not know: {schema}")


@examples(40)
@given(from_schema(SCHEMA), st.booleans())
def test_files_generated_from_the_schema_are_read_or_refused_with_problems(document: Any, flow: bool) -> None:
    """Every value the schema allows, written as YAML in block or flow style."""
    read(yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True))


# -- mutated from the shipped scenarios -------------------------------------------------------------
NASTY_SCALARS = [
    ".nan", "-.inf", "1e999", "1.0e+999", "9" * 5000, "0x" + "f" * 400, "-0", "~", "null", "[]", "{}", "''",
    "2024-05-01", "2024-05-01T10:00:00Z", "!!binary aGk=", "!!set {a}", "!!python/name:os.system", "!custom x",
    "&anchor 1", "*undefined", "<<: 1", "? [a]", "|", ">-", "'unterminated", '"\\ud800"', "\t", "\x00", "\x85",
    "- - -", "{a: 1, a: 2}", "[" * 100 + "]" * 100, "yes", "0o777", "1_000", "190:20:30", "é🔑", "%TAG ! x",
]  # fmt: skip
# Lines as users might break them, or tools might insert them.
NASTY_LINES = [
    "steps: []", "name: dup", "farm: {nodes: 0}", "steps:", "  - wait: .nan", "  - expect: {1: 2}",
    "  - load: &l {requests: 5}", "  - load: *l", "  - load: {<<: *l, rate: 10}", "x: &x [*x]", "---", "...",
    "? [1, 2]\n: 3", "  - {wait: 1, wait: 2}", "  - restart: {nodes: [node-1, node-1]}",
]  # fmt: skip


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    text = SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))]
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        at = draw(st.integers(0, len(lines) - 1))
        match draw(st.sampled_from(["scalar", "line", "delete", "duplicate", "cut", "indent", "swap"])):
            case "scalar":  # a value replaced by a nasty one
                line = lines[at]
                spots = [m.start() for m in re.finditer(r"(?<=[:\[,-] )[^\s,\]}]", line)] or [len(line)]
                start = draw(st.sampled_from(spots))
                end = start + len(re.match(r"[^\s,\]}]*", line[start:])[0])  # type: ignore[index]
                lines[at] = line[:start] + draw(st.sampled_from(NASTY_SCALARS)) + line[end:]
            case "line":
                lines.insert(at, draw(st.sampled_from(NASTY_LINES)))
            case "delete":
                del lines[at]
            case "duplicate":
                lines.insert(at, lines[at])
            case "cut":  # a file cut short or a character lost
                position = draw(st.integers(0, len(text)))
                text = text[:position] + text[position + draw(st.integers(1, 40)) :]
                continue
            case "indent":
                lines[at] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[at]
            case "swap":
                other = draw(st.integers(0, len(lines) - 1))
                lines[at], lines[other] = lines[other], lines[at]
        text = "\n".join(lines)
    return text


@examples(80)
@given(mutated_texts())
def test_mutated_shipped_scenarios_are_read_or_refused_with_problems(text: str) -> None:
    read(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A shipped scenario with values replaced, keys dropped or added, at any depth."""
    document = yaml.safe_load(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(1, 3))):
        container = document
        while isinstance(container, dict | list) and container and draw(st.booleans()):
            keys = list(container) if isinstance(container, dict) else list(range(len(container)))
            child = container[draw(st.sampled_from(keys))]
            if not isinstance(child, dict | list):
                break
            container = child
        if isinstance(container, dict) and container:
            key = draw(st.sampled_from(list(container)))
            match draw(st.sampled_from(["replace", "drop", "add"])):
                case "replace":
                    container[key] = draw(json_values)
                case "drop":
                    del container[key]
                case "add":
                    container[draw(st.text(max_size=10))] = draw(json_values)
        elif isinstance(container, list) and container:
            container[draw(st.integers(0, len(container) - 1))] = draw(json_values)
    return document


@examples(50)
@given(mutated_documents())
def test_shipped_scenarios_with_values_of_any_kind_are_read_or_refused_with_problems(document: Any) -> None:
    read(yaml.safe_dump(document, allow_unicode=True))


@examples(40)
@given(st.binary(max_size=200), st.sampled_from(sorted(SHIPPED)), st.integers(0, 2000))
def test_bytes_spliced_into_a_shipped_scenario_are_read_or_refused_with_problems(
    junk: bytes, name: str, at: int
) -> None:
    """What a file damaged on disk or written in another encoding looks like to `farm run`."""
    raw = SHIPPED[name].encode()
    raw = raw[:at] + junk + raw[at:]
    try:
        text = decode(raw, FILE)
    except ScenarioSpecError as problems:
        refused: ScenarioSpecError | None = problems
    else:
        refused = None
    if refused is not None:
        assert all(PROBLEM.match(str(p)) for p in refused.problems), refused
        return
    read(text)


# -- each oddity that once escaped as something else ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("name: a\nfarm: {nodes: " + "9" * 5000 + "}\n", 2, "(yaml)", "5000 digits is too large a number"),
        ("name: a\nsteps: " + "[" * 2000 + "]" * 2000 + "\n", 2, "(yaml)", f"nested more than {MAX_DEPTH} deep"),
        ("name: a\nx: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n", 2, "(yaml)", f"nested more than {MAX_DEPTH}"),
        ("name: a\nsteps: &s [*s]\n", 2, "(yaml)", "an alias refers to a value that holds it"),
        ("name: a\nname: b\nsteps: [{wait: 1}]\n", 2, "name", "given twice in one mapping (first on line 1)"),
        ("name: a\nsteps:\n  - wait: 1\n    wait: 2\n", 4, "wait", "given twice in one mapping (first on line 3)"),
        ("name: a\nsteps: [{expect: {errors: .nan}}]\n", 2, "steps[0].expect.errors", "nan is not a number"),
        ("name: a\nsteps: [{wait: .inf}]\n", 2, "steps[0].wait", "inf is not a number a scenario can use"),
        ("name: a\nsteps: [{load: {requests: 0x" + "f" * 40 + "}}]\n", 2, "steps[0].load.requests", "too large"),
        ("name: a\n1: x\nsteps: [{wait: 1}]\n", 1, "(top level)", "keys are text; 1 (int) is not"),
        ("name: a\nsteps: [{wait: 1}]\nx: \x00\n", 3, "(yaml)", "character U+0000 is not allowed"),
        ('name: a\nfarm: {"x\\ny": .nan}\n', 2, "farm['x\\ny']", "nan is not a number a scenario can use"),
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nname: a\n",
            1,
            "(yaml)",
            "its aliases expand it to more than 100,000 values",
        ),
        ("name: a\ndescription: [" + ", ".join(["x" * 50] * 200) + "]\nsteps: [{wait: 1}]\n", 2, "description", "..."),
        ("name: a\u2028steps: [{wait: .nan}]\n", 1, "steps[0].wait", "nan is not a number"),
        ("name: a\x85steps: [{wait: 1}\n", 2, "(yaml)", "expected ',' or ']'"),
    ],
    ids=[
        "huge-integer", "deep-list", "deep-mapping", "self-alias", "duplicate-key", "duplicate-step-key", "nan",
        "infinity", "hex-integer", "integer-key", "nul", "line-break-in-key", "alias-bomb", "long-message",
        "lines-as-newlines-count-them", "lines-as-newlines-count-them-to-an-error",
    ],
)  # fmt: skip
def test_yaml_oddities_are_problems_on_their_line(text: str, line: int, field: str, message: str) -> None:
    problems = read(text)
    assert isinstance(problems, ScenarioSpecError)
    found = [(p.line, p.field) for p in problems.problems if message in p.message]
    assert all("\n" not in str(p) for p in problems.problems)
    assert (line, field) in found, problems
    assert all(len(p.message) <= 160 for p in problems.problems)


def test_dates_are_text_as_in_json() -> None:
    scenario = read("name: 2024-05-01\nsteps: [{wait: 1}]\n")
    assert isinstance(scenario, Scenario)
    assert scenario.name == "2024-05-01"


@pytest.mark.parametrize(
    ("raw", "line", "message"),
    [
        (b"name: a\nsteps: [{wait: 1}]\ndescription: caf\xe9\n", 3, "not UTF-8 text: byte 0xe9 at column 17"),
        (b"\xff\xfen\x00a\x00", 1, "not UTF-8 text: byte 0xff at column 1"),
        (b"name: a\n" + b"#" * (1024 * 1024), 1, "1,048,584 bytes; a scenario file holds at most 1,048,576"),
    ],
    ids=["latin-1", "utf-16", "too-large"],
)
def test_files_that_are_not_utf8_text_or_too_large_are_problems(raw: bytes, line: int, message: str) -> None:
    with pytest.raises(ScenarioSpecError) as refused:
        decode(raw, FILE)
    assert [(p.line, p.field, p.message) for p in refused.value.problems] == [(line, "(file)", message)]


def test_farm_run_exits_2_with_problem_lines_and_starts_nothing(tmp_path: Path) -> None:
    """Through the real command, a few at once (each is a Python process importing the farm)."""
    files = {
        "latin1.yaml": b"name: caf\xe9\nsteps: [{wait: 1}]\n",
        "oddities.yaml": SHIPPED["coherence.yaml"].replace("nodes: 3", "nodes: 3\n  nodes: " + "9" * 5000).encode(),
    }
    runs = {}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
        out = tmp_path / f"out-{name}"
        command = [sys.executable, "-m", "farm.cli", "run", str(tmp_path / name), "--out", str(out)]
        runs[name] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    for name, run in runs.items():
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode == 2, (name, stderr)
        assert "Traceback" not in stderr
        *problems, last = stderr.strip().split("\n")
        assert problems, (name, stderr)
        pattern = re.compile(rf"^farm run: {re.escape(str(tmp_path / name))}:\d+: [^:]+: .+$")
        assert all(pattern.match(line) for line in problems), (name, stderr)
        assert re.fullmatch(r"farm run: \d+ problem\(s\); nothing was run", last), (name, stderr)
        assert stdout == ""
        assert not (tmp_path / f"out-{name}").exists(), "a report folder means something ran"
    assert not (tmp_path / "results").exists()
