"""report.html: one self-contained page (the plots are embedded) that a person can open and read."""

from __future__ import annotations

from html import escape
from pathlib import Path

from farm.scenario.catalogue import FIGURES, shown
from farm.scenario.report.plots import cache_figure_png, png_data_uri
from farm.scenario.result import CacheResult
from farm.scenario.spec import Scenario

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#17702b}.fail{color:#b00020;font-weight:600}.xfail{color:#8a6d00}
img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 .2rem}h2{margin-top:2.5rem}
"""


def _figures_table(results: list[CacheResult]) -> str:
    head = "".join(f"<th>{escape(r.cache)}</th>" for r in results)
    rows = []
    for figure in FIGURES:
        values = [r.figures.values.get(figure.name) if r.figures else None for r in results]
        if not shown(figure, values):
            continue
        cells = "".join(f'<td class="n">{escape(figure.show(v))}</td>' for v in values)
        rows.append(f"<tr><td>{escape(figure.label)}</td>{cells}</tr>")
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"


def _expectations_table(results: list[CacheResult]) -> str:
    names = list(dict.fromkeys(v.name for r in results for v in r.verdicts))
    if not names:
        return "<p>This scenario has no expectations.</p>"
    head = "".join(f"<th>{escape(r.cache)}</th>" for r in results)
    rows = []
    for name in names:
        cells = ""
        for result in results:
            verdict = next((v for v in result.verdicts if v.name == name), None)
            if verdict is None:
                cells += '<td class="n">-</td>'
                continue
            shown = "not measured" if verdict.value is None else f"{verdict.value:.4g}"
            css, word = ("pass", "pass") if verdict.passed else ("fail", "FAIL")
            if not verdict.passed and verdict.expected_to_fail:
                css, word = "xfail", "fail (expected)"
            cells += f'<td class="n {css}">{word} {escape(shown)}</td>'
        rows.append(f"<tr><td><code>{escape(name)}</code></td>{cells}</tr>")
    return f"<table><tr><th>expectation</th>{head}</tr>{''.join(rows)}</table>"


def _cache_section(result: CacheResult) -> str:
    parts = [f"<h2>{escape(result.cache)}</h2>"]
    if result.failure:
        parts.append(f'<p class="fail">Stopped early: {escape(result.failure)}</p>')
    parts.append(f'<img alt="{escape(result.cache)} over time" src="{png_data_uri(cache_figure_png(result))}">')
    if result.events:
        items = "".join(f"<li>{e.start:.1f} to {e.end:.1f} s: {escape(e.label)}</li>" for e in result.events)
        parts.append(f"<h3>Events</h3><ul>{items}</ul>")
    if result.figures and result.figures.first_violations:
        rows = "".join(
            f"<tr><td class='n'>{v.time:.3f}</td><td class='n'>{v.key}</td><td>{escape(v.node or '?')}</td>"
            f"<td class='n'>{v.seen}</td><td class='n'>{v.expected}</td></tr>"
            for v in result.figures.first_violations
        )
        parts.append(
            "<h3>First coherence violations</h3><table><tr><th>time s</th><th>key</th><th>node</th>"
            f"<th>version seen</th><th>version expected</th></tr>{rows}</table>"
        )
    if result.figures and result.figures.errors_by_step:
        items = "".join(f"<li>{escape(s)}: {n}</li>" for s, n in result.figures.errors_by_step.items())
        parts.append(f"<h3>Failed requests by step</h3><ul>{items}</ul>")
    return "\n".join(parts)


def _expiry(scenario: Scenario) -> str:
    sliding, absolute = scenario.farm.item_sliding_s, scenario.farm.item_absolute_s
    parts = [
        f"{sliding:g} s after their last read" if sliding else "",
        f"{absolute:g} s after they were set" if absolute else "",
    ]
    found = " or ".join(p for p in parts if p)
    return f"cached items expire {found}" if found else "cached items never expire"


def render_html(scenario: Scenario, results: list[CacheResult], started: str) -> str:
    verdict = "passed" if all(r.acceptable for r in results) else "failed"
    farm = scenario.farm
    steps = "".join(f"<li>{escape(s.numbered(i))} (line {s.line})</li>" for i, s in enumerate(scenario.steps, 1))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cachefarm: {escape(scenario.name)}</title>
<style>{STYLE}</style></head><body>
<h1>Scenario {escape(scenario.name)} <span class="{"pass" if verdict == "passed" else "fail"}">{verdict}</span></h1>
<p>{escape(scenario.description)}</p>
<p>Started {escape(started)} from <code>{escape(scenario.file)}</code>: {farm.nodes} nodes,
{_expiry(scenario)}, source store latency {farm.source_latency_ms:g} ms.</p>
<h2>Comparison</h2>
{_figures_table(results)}
{_expectations_table(results)}
{"".join(_cache_section(r) for r in results)}
<h2>Steps</h2><ul>{steps}</ul>
</body></html>
"""


def write_html_report(path: Path, scenario: Scenario, results: list[CacheResult], started: str) -> None:
    path.write_text(render_html(scenario, results, started))
