"""The signals a farm sends its nodes to break them on purpose: a crash, a hang, and the end of the hang."""

from __future__ import annotations

from enum import StrEnum


class NodeSignal(StrEnum):
    """Named by what it does to the node; the value is also the scenario step and the ``farm`` command's verb."""

    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"

    @property
    def signal(self) -> str:
        """The name supervisord takes (``SIG`` omitted)."""
        return _SIGNALS[self]

    @property
    def effect(self) -> str:
        return _EFFECTS[self]


_SIGNALS = {NodeSignal.KILL: "KILL", NodeSignal.PAUSE: "STOP", NodeSignal.RESUME: "CONT"}
_EFFECTS = {
    NodeSignal.KILL: "SIGKILL a node (supervisord starts it again, as after a crash)",
    NodeSignal.PAUSE: "SIGSTOP a node: it holds its connections and answers nothing",
    NodeSignal.RESUME: "SIGCONT a paused node",
}
