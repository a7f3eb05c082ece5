"""The scenario package's errors: a bad file lists every problem with file, line and field."""

from __future__ import annotations

from dataclasses import dataclass


class ScenarioError(Exception):
    """A scenario could not be read or run."""


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        """One line, whatever the file held: line breaks in a field or message are shown escaped."""
        return f"{self.file}:{self.line}: {_one_line(self.field)}: {_one_line(self.message)}"


def _one_line(text: str) -> str:
    return "".join(char if char.isprintable() or char == " " else repr(char)[1:-1] for char in text)


class ScenarioSpecError(ScenarioError, ValueError):
    """The file is not a valid scenario; nothing has run."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
