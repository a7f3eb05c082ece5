"""Where the compose project lives: compose/ in the checkout the farm runs from (the images build from it)."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = CHECKOUT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
