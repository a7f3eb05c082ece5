"""The plots of report.html: one figure per cache, its series over time, the scenario's events marked."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt

from farm.scenario.history import NOTE
from farm.scenario.report.series import series
from farm.scenario.result import CacheResult
from farm.scenario.steps import STEP_TYPES

PANELS = (
    ("requests/s", ("requests",)),
    ("source requests/s", ("source_requests",)),
    ("hit ratio", ("hit_ratio",)),
    ("latency ms", ("p50_ms", "p99_ms")),
    ("errors/s", ("errors",)),
)
EVENT_COLOURS = {kind: step.colour for kind, step in STEP_TYPES.items()} | {NOTE: "tab:gray"}


def cache_figure_png(result: CacheResult) -> bytes:
    rows = series(result)
    seconds = [row["second"] + 0.5 for row in rows]
    figure, axes = plt.subplots(len(PANELS), 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    figure.suptitle(f"cache: {result.cache}", fontsize=13, x=0.01, ha="left")
    for axis, (title, columns) in zip(axes, PANELS, strict=True):
        for column in columns:
            values = [row[column] for row in rows]
            axis.plot(seconds, values, label=column.replace("_", " "), linewidth=1.4)
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
        if title == "hit ratio":
            axis.set_ylim(-0.05, 1.05)
        elif all(math.isnan(row[c]) or row[c] >= 0 for row in rows for c in columns):
            axis.set_ylim(bottom=0)
        if len(columns) > 1:
            axis.legend(loc="upper right", fontsize=8)
        for event in result.events:
            colour = EVENT_COLOURS.get(event.kind, "tab:gray")
            axis.axvspan(event.start, max(event.end, event.start + 0.05), color=colour, alpha=0.25, linewidth=0)
    top = axes[0]
    for index, event in enumerate(result.events):
        top.annotate(
            event.label,
            xy=(event.start, 1),
            xycoords=("data", "axes fraction"),
            rotation=45,
            fontsize=7,
            xytext=(0, 2 + 10 * (index % 2)),
            textcoords="offset points",
            ha="left",
            va="bottom",
            color=EVENT_COLOURS.get(event.kind, "tab:gray"),
        )
    axes[-1].set_xlabel("seconds since the scenario started")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
