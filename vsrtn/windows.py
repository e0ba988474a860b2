"""Window planning: which source frames each model call sees and which outputs it keeps.

Windows lie on a fixed grid of the clip, so the result for frame n is a pure function of the
clip and the settings, whatever order frames are requested in. Each window restores its core
frames [start, stop) from `context` extra frames on each side, mirrored at the ends of the clip.
Scene cuts do not move windows: they tell the network where to restart, so nothing crosses a
cut. Cuts take these forms, named here and used by these names everywhere:
- `Cuts`: a whole clip's cuts, asked pair by pair (`cut_before(b)`); `ShotStarts` when the
  frames that start a shot are known in advance, `vsrtn.scenecut.Detector` when decided from
  the frames and their props (`CutSettings` say how);
- `CutBetween`: do neighbouring source frames a and b lie in different shots (`Cuts.between`);
- `CutFlags`: one window's cuts, flags[p] True where a new shot starts at position p of its
  frames (`cut_flags`); the model takes them as a bool tensor of the same length.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable, Sequence, TypeAlias

from vsrtn.errors import ArgumentError
from vsrtn.options import check, is_int

CutBetween: TypeAlias = Callable[[int, int], bool]
CutFlags: TypeAlias = Sequence[bool]


class Cuts:
    """Where shots start. `cut_before(b)`: frames b-1 and b lie in different shots."""

    def cut_before(self, b: int) -> bool:
        raise NotImplementedError

    def between(self, a: int, b: int) -> bool:
        """Do neighbouring frames a and b (either order) lie in different shots?"""
        return a != b and self.cut_before(max(a, b))


@dataclass(frozen=True)
class ShotStarts(Cuts):
    """Cuts known in advance: the frames that start a new shot."""

    starts: frozenset[int] = frozenset()

    def cut_before(self, b: int) -> bool:
        return b in self.starts


NO_CUTS = ShotStarts()


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


def cut_flags(frames: Sequence[int], between: CutBetween) -> list[bool]:
    """A window's cut flags: flags[p] is True where positions p-1 and p of `frames` (source frame
    indices, mirrored stretches included) lie in different shots, as `between(a, b)` says of
    neighbouring frames a and b."""
    return [False] + [a != b and between(a, b) for a, b in zip(frames, frames[1:])]


def validate(num_frames: int, window: int, context: int, func: str = "plan_windows") -> None:
    if not is_int(num_frames) or num_frames < 1:
        raise ArgumentError(func, "num_frames", "an integer >= 1", num_frames)
    check("window", window, func)
    check("context", context, func)


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


def plan_windows(num_frames: int, window: int, context: int) -> WindowPlan:
    """Plan a clip of `num_frames`: cores of `window` frames on a fixed grid, `context` frames
    each side (mirrored at the clip's ends)."""
    validate(num_frames, window, context)
    plan = []
    for a in range(0, num_frames, window):
        b = min(num_frames, a + window)
        left = [reflect(i, 0, num_frames) for i in range(a - context, a)]
        right = [reflect(i, 0, num_frames) for i in range(b, b + context)]
        plan.append(Window(a, b, (*left, *range(a, b), *right), len(left)))
    return WindowPlan(tuple(plan))
