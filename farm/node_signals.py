"""The signals a farm sends its nodes to break them on purpose: a crash, a hang, and the end of the hang."""

from __future__ import annotations

from enum import StrEnum


class NodeSignal(StrEnum):
    """Named by what it does to the node; the value is also the scenario step and the ``farm`` command's verb."""

    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"

    @property
    def supervisor_name(self) -> str:
        """The signal's name as supervisord takes it (``SIG`` omitted)."""
        return _SIGNALS[self]

    @property
    def effect(self) -> str:
        """What it does to the node, as the ``farm`` command's help and the scenario docs say."""
        return _EFFECTS[self]


_SIGNALS = {NodeSignal.KILL: "KILL", NodeSignal.PAUSE: "STOP", NodeSignal.RESUME: "CONT"}
_EFFECTS = {
    NodeSignal.KILL: "SIGKILL: the node crashes, and supervisord starts it again.",
    NodeSignal.PAUSE: "SIGSTOP: the node hangs, holding its connections and answering nothing.",
    NodeSignal.RESUME: "SIGCONT: a paused node answers again.",
}
