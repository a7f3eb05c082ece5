"""The scenario steps: one class each, with its schema, its label and its action.

Adding a step kind: write its class (in the module of its family) and list it in ``STEP_TYPES``; the schema,
the docs, the runner and the reports pick it up from there.
"""

from farm.scenario.steps.base import Step, StepContext
from farm.scenario.steps.cache import CacheStep
from farm.scenario.steps.faults import HealStep, LatencyStep, PartitionStep, ResetStep
from farm.scenario.steps.flow import ExpectStep, WaitStep
from farm.scenario.steps.nodes import AddStep, KillStep, PauseStep, RemoveStep, RestartStep, ResumeStep
from farm.scenario.steps.source import SourceStep
from farm.scenario.steps.traffic import LoadStep, WriteStep

STEP_TYPES: dict[str, type[Step]] = {
    step.kind: step
    for step in (
        LoadStep,
        RestartStep,
        AddStep,
        RemoveStep,
        KillStep,
        PauseStep,
        ResumeStep,
        CacheStep,
        SourceStep,
        PartitionStep,
        LatencyStep,
        ResetStep,
        HealStep,
        WriteStep,
        WaitStep,
        ExpectStep,
    )
}
"""Every step kind a scenario file may use, in the order the docs and the schema list them."""

__all__ = [
    "STEP_TYPES",
    "AddStep",
    "CacheStep",
    "ExpectStep",
    "HealStep",
    "KillStep",
    "LatencyStep",
    "LoadStep",
    "PartitionStep",
    "PauseStep",
    "RemoveStep",
    "ResetStep",
    "RestartStep",
    "ResumeStep",
    "SourceStep",
    "Step",
    "StepContext",
    "WaitStep",
    "WriteStep",
]
