"""Window planning: a video becomes fixed windows (default 20 s), the unit of work and checkpoint."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    index: int
    t_start: float
    t_end: float

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start


def plan_windows(duration_s: float, window_s: float = 20.0) -> list[Window]:
    """Windows covering [0, duration); the last one is shorter. A tail under 1 s joins the previous window.

    >>> [(w.t_start, w.t_end) for w in plan_windows(40.5, 20)]
    [(0.0, 20.0), (20.0, 40.5)]
    """
    if window_s <= 0:
        raise ValueError("window length must be positive")
    if duration_s <= 0:
        return []
    n = max(1, math.ceil(duration_s / window_s))
    if n > 1 and duration_s - (n - 1) * window_s < 1.0:
        n -= 1
    return [Window(i, round(float(i * window_s), 3), round(float((i + 1) * window_s if i < n - 1 else duration_s), 3)) for i in range(n)]
