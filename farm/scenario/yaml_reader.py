"""A scenario file's YAML read as JSON's kinds of values, with every YAML oddity reported as a problem on its line.

``yaml.safe_load`` alone accepts what a scenario cannot mean, or fails with something else than a YAML error:
duplicate keys (the last one silently wins), keys that are not text, dates (no schema type), integers of more than
4300 digits (Python refuses to read them: ValueError), NaN and infinities, nesting deep enough to exhaust the
stack, and aliases that refer to themselves or expand a small file a billion times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.reader import ReaderError

from farm.scenario.errors import ScenarioSpecError, SpecProblem

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
"""Mappings and lists inside each other: the shipped scenarios use 5."""
MAX_VALUES = 100_000
"""Values in the file once its aliases are expanded (the shipped scenarios have a few hundred)."""
MAX_INTEGER = 2**53
"""The largest integer a scenario may hold, as a JSON number keeps it exactly (figures are compared as floats)."""

Path_ = tuple[str | int, ...]
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class ScenarioLoader(yaml.SafeLoader):
    """``SafeLoader`` that reads dates and times as text, as JSON would hold them, and turns an integer that Python
    cannot read into a YAML error on its line."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            too_large = f"{len(node.value)} digits is too large a number"
            raise ConstructorError(None, None, too_large, node.start_mark) from None


ScenarioLoader.add_constructor("tag:yaml.org,2002:int", ScenarioLoader.construct_yaml_int)
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode(raw: bytes, file: str) -> str:
    """The file's text: UTF-8 (a BOM is allowed), at most MAX_FILE_BYTES."""
    if len(raw) > MAX_FILE_BYTES:
        raise _one(file, 1, "(file)", f"{len(raw):,} bytes; a scenario file holds at most {MAX_FILE_BYTES:,}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _one(file, line, "(file)", f"not UTF-8 text: byte {raw[exc.start]:#04x} at column {column}") from None


def read_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its value; raises ScenarioSpecError for what no scenario
    can be, each problem with its line."""
    try:
        _check_depth(text, file)
        root = yaml.compose(text, Loader=ScenarioLoader)
        if _ODD_BREAKS.search(text):
            _count_lines_by_newlines(root, text)
        problems = _node_problems(root, file)
        if problems:
            raise ScenarioSpecError(problems)
        data = _construct(root)
    except ReaderError as exc:  # a character YAML does not allow (NUL, other controls)
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise _one(file, line, "(yaml)", f"character U+{code:04X} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = text.count("\n", 0, mark.index) + 1 if mark is not None else 1
        raise _one(file, line, "(yaml)", str(getattr(exc, "problem", None) or exc)) from None
    problems = [
        SpecProblem(file, line_of(root, path), field_name(path), message) for path, message in _value_problems(data)
    ]
    if problems:
        raise ScenarioSpecError(problems)
    return root, data


_ODD_BREAKS = re.compile("[\x85\u2028\u2029]|\r(?!\n)")
"""What YAML takes for a line break besides \\n (and \\r\\n): lines are counted as editors, grep and sed count them."""


def _count_lines_by_newlines(root: yaml.Node | None, text: str) -> None:
    """Each node's line as the number of \\n before it, not YAML's count, which also breaks at NEL, U+2028, ..."""
    stack = [root] if root is not None else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        node.start_mark.line = text.count("\n", 0, node.start_mark.index)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)


def _construct(root: yaml.Node | None) -> Any:
    """The value of the tree already composed (and checked), without parsing the text again."""
    if root is None:
        return None
    loader = ScenarioLoader("")
    try:
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _one(file: str, line: int, field: str, message: str) -> ScenarioSpecError:
    return ScenarioSpecError([SpecProblem(file, line, field, message)])


def _check_depth(text: str, file: str) -> None:
    """Reading events needs no recursion; composing the tree does, one level per level of nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=ScenarioLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else 1
                raise _one(file, line, "(yaml)", f"nested more than {MAX_DEPTH} deep; a scenario needs a handful")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _node_problems(root: yaml.Node | None, file: str) -> list[SpecProblem]:
    """Aliases that contain themselves or expand too far, and keys given twice in one mapping."""
    problems: list[SpecProblem] = []
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise _one(file, node.start_mark.line + 1, "(yaml)", "an alias refers to a value that holds it")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
            problems.extend(_duplicate_keys(node, file))
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    if root is not None and size(root) > MAX_VALUES:
        problems.append(
            SpecProblem(file, 1, "(yaml)", f"its aliases expand it to more than {MAX_VALUES:,} values; write it out")
        )
    return problems


def _duplicate_keys(node: yaml.MappingNode, file: str) -> Iterator[SpecProblem]:
    """YAML forbids them; PyYAML keeps the last one without a word, so a user's first value would be lost."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if (key.tag, key.value) in seen:
            first = seen[(key.tag, key.value)]
            yield SpecProblem(
                file, line, field_name((str(key.value),)), f"given twice in one mapping (first on line {first})"
            )
        else:
            seen[(key.tag, key.value)] = line


def _value_problems(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Keys that are not text, numbers that are not finite or too large; each shared value (an alias) once."""
    seen: set[int] = set()
    stack: list[tuple[Any, Path_]] = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    yield where, f"keys are text; {key!r} ({type(key).__name__}) is not"
                else:
                    stack.append((item, (*where, key)))
        elif isinstance(value, list):
            stack.extend((item, (*where, index)) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            yield where, f"{value} is not a number a scenario can use"
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            yield where, f"{_short(value)} is too large; the largest number is 2**53"


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} digits)"


def field_name(path: Path_) -> str:
    """``steps[2].load.keys``; a key that is not a plain name is quoted, ``farm['two words']``, so that a field
    never breaks its ``file:line: field: message`` line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_NAME.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{_short_text(part)!r}]"
    return text or "(top level)"


def _short_text(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def node_at(root: yaml.Node | None, path: Path_) -> yaml.Node | None:
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
        if node is None:
            return None
    return node


def line_of(root: yaml.Node | None, path: Path_) -> int:
    """The line of the value at ``path``, or of the nearest value that holds it."""
    for depth in range(len(path), -1, -1):
        node = node_at(root, path[:depth])
        if node is not None:
            return int(node.start_mark.line) + 1
    return 1
