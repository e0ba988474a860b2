"""Window planning: which source frames each model call sees and which outputs it keeps.

Windows lie on a fixed grid of the clip, so the result for frame n is a pure function of the
clip and the settings, whatever order frames are requested in. Each window restores its core
frames [start, stop) from `context` extra frames on each side: mirrored at the ends of the clip,
cut off at scene cuts (nothing crosses a cut).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from vsrtn.errors import ArgumentError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Window:
    """One model call: source frame indices in temporal order; outputs kept for [start, stop)."""

    start: int
    stop: int
    frames: tuple[int, ...]
    offset: int  # position of frame `start` in `frames`

    @property
    def core(self) -> range:
        return range(self.start, self.stop)


def reflect(i: int, lo: int, hi: int) -> int:
    """Mirror index i into [lo, hi) without repeating the edge frame (…2 1 [0 1 2 …] 1 0…)."""
    n = hi - lo
    if n == 1:
        return lo
    period = 2 * (n - 1)
    j = (i - lo) % period
    return lo + (j if j < n else period - j)


def segments(num_frames: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """Shots [s, e) of a clip, given the frames that start a new shot."""
    bounds = sorted({c for c in cuts if 0 < c < num_frames})
    edges = [0, *bounds, num_frames]
    return [(edges[k], edges[k + 1]) for k in range(len(edges) - 1)]


def is_scene_cut(prev: "np.ndarray", cur: "np.ndarray", threshold: float) -> bool:
    """The in-house cut detector: the mean absolute luma difference of two frames exceeds `threshold`."""
    import numpy as np

    return float(np.mean(np.abs(np.asarray(cur, np.float32) - np.asarray(prev, np.float32)))) > threshold


def validate(num_frames: int, window: int, context: int, func: str = "plan_windows") -> None:
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ArgumentError(func, "num_frames", "an integer >= 1", num_frames)
    if not isinstance(window, int) or window < 1:
        raise ArgumentError(func, "window", "an integer >= 1", window)
    if not isinstance(context, int) or context < 0:
        raise ArgumentError(func, "context", "an integer >= 0", context)


@dataclass(frozen=True)
class WindowPlan:
    """The windows of a clip, in order; every frame is the core of exactly one window."""

    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [w.start for w in self.windows])

    def __len__(self) -> int:
        return len(self.windows)

    def __iter__(self):
        return iter(self.windows)

    def __getitem__(self, k: int) -> Window:
        return self.windows[k]

    def index_of(self, n: int) -> int:
        """Index of the window whose core holds frame n."""
        k = bisect.bisect_right(self._starts, n) - 1
        if k < 0 or not self.windows[k].start <= n < self.windows[k].stop:
            raise IndexError(f"frame {n} is outside the plan")
        return k


def plan_windows(num_frames: int, window: int, context: int, cuts: Sequence[int] = ()) -> WindowPlan:
    """Plan a clip of `num_frames`: cores of `window` frames on a fixed grid, `context` frames
    each side, `cuts` the frames that start a new shot."""
    validate(num_frames, window, context)
    plan = []
    for s, e in segments(num_frames, cuts):
        # Grid blocks [k*window, (k+1)*window) of the whole clip, intersected with this shot.
        a = s
        while a < e:
            b = min(e, (a // window + 1) * window)
            left = [i if i >= s else reflect(i, s, e) for i in range(a - context, a) if i >= s or s == 0]
            right = [i if i < e else reflect(i, s, e) for i in range(b, b + context) if i < e or e == num_frames]
            plan.append(Window(a, b, (*left, *range(a, b), *right), len(left)))
            a = b
    return WindowPlan(tuple(plan))
