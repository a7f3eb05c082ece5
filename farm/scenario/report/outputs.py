"""Every file a scenario run leaves in its results folder, written in one go (history.jsonl goes as it runs)."""

from __future__ import annotations

from pathlib import Path

from farm.scenario.report.html_report import write_html_report
from farm.scenario.report.json_report import build_report, write_json_report
from farm.scenario.report.junit import write_junit
from farm.scenario.result import CacheResult
from farm.scenario.spec import Scenario


def write_reports(out: Path, scenario: Scenario, results: list[CacheResult], started: str) -> None:
    write_json_report(out / "report.json", build_report(scenario, results, started))
    write_junit(out / "junit.xml", scenario, results)
    write_html_report(out / "report.html", scenario, results, started)
