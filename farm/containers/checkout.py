"""Where the compose project lives: compose/ in the cachefarm checkout the farm runs from (the images build from
its sources). An editable install finds it beside the package; an installed package looks in the current folder
and its parents, since a wheel carries no compose/."""

from __future__ import annotations

from pathlib import Path

from farm.errors import FarmError

CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder the package was imported from: a checkout, unless the package was installed from a wheel."""
COMPOSE_FILE_NAME = Path("compose") / "compose.yaml"


def is_checkout(folder: Path) -> bool:
    return (folder / COMPOSE_FILE_NAME).is_file() and (folder / "pyproject.toml").is_file()


def compose_checkout() -> Path:
    for folder in (CHECKOUT, Path.cwd(), *Path.cwd().parents):
        if is_checkout(folder):
            return folder
    raise FarmError(
        "--engine compose builds its images from a cachefarm checkout (compose/compose.yaml and the sources), and "
        f"none is here: run it from a checkout, or install cachefarm from one with `pip install -e .` (the package "
        f"was imported from {CHECKOUT})"
    )


def compose_file() -> Path:
    return compose_checkout() / COMPOSE_FILE_NAME
