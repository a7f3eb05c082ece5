"""argparse types for the services' numeric flags. A value a service cannot use (NaN, infinity, out of range) is
refused at the command line, where argparse names the flag, instead of starting a service that fails later with
500s or a traceback. The message gives the range and the unit."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number_between(low: float, high: float, unit: str, *, above_low: bool = False) -> Callable[[str], float]:
    """A finite number from ``low`` (excluded if ``above_low``) to ``high``, in ``unit``."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        fits = (low < value if above_low else low <= value) and value <= high  # False for NaN
        if not fits or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text}: give {_span(low, high, above_low)} {unit}")
        return value

    return number


def whole_number_between(low: int, high: int, unit: str) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``, in ``unit``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: give {_span(low, high, False)} {unit}")
        return value

    return whole_number


def _span(low: float, high: float, above_low: bool) -> str:
    return f"more than {_shown(low)} and up to {_shown(high)}" if above_low else f"{_shown(low)} to {_shown(high)}"


def _shown(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
