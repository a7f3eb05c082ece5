"""`farm up --engine compose` builds from a checkout: found beside an editable install, or from the current folder
when the package was installed from a wheel (which carries no compose/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.containers import checkout
from farm.errors import FarmError


def test_an_installed_package_finds_the_checkout_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkout, "CHECKOUT", tmp_path / "site-packages")
    project = tmp_path / "project"
    (project / "compose").mkdir(parents=True)
    (project / "compose" / "compose.yaml").write_text("services: {}\n")
    (project / "pyproject.toml").write_text("[project]\nname = 'cachefarm'\n")
    (project / "scenarios").mkdir()
    monkeypatch.chdir(project / "scenarios")
    assert checkout.compose_file() == project / "compose" / "compose.yaml"


def test_without_a_checkout_the_error_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkout, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FarmError, match=r"from a cachefarm checkout .*`pip install -e \.`"):
        checkout.compose_checkout()
