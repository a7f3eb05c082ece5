"""Which key each request reads: uniform or Zipf over 1..N, from a seed, so that runs repeat."""

from __future__ import annotations

import bisect
import itertools
import random

DISTRIBUTIONS = ("uniform", "zipf")


class KeyChooser:
    def __init__(self, keys: int, distribution: str = "uniform", zipf_s: float = 1.1, seed: int = 0) -> None:
        if keys < 1:
            raise ValueError(f"keys={keys}: at least one key")
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution={distribution!r}: use uniform or zipf")
        self.keys = keys
        self.random = random.Random(seed)
        self._cumulative: list[float] | None = None
        if distribution == "zipf":
            weights = (1 / rank**zipf_s for rank in range(1, keys + 1))
            self._cumulative = list(itertools.accumulate(weights))

    def next(self) -> int:
        if self._cumulative is None:
            return self.random.randint(1, self.keys)
        point = self.random.random() * self._cumulative[-1]
        return bisect.bisect_left(self._cumulative, point) + 1
