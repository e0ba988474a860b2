"""Temporal brightness stabilisation (deflicker) of restored frames.

The network removes most exposure flicker, but a restored frame can keep part of its own
frame-wide or regional brightness swing: the network sees small crops in training, where a
global gain looks like content. What remains is low-frequency, so it is corrected here against
a reference that cannot flicker: the temporal median of the frame's neighbours (source frames,
motion-compensated onto it). Only the local mean brightness moves; detail is never taken from
the neighbours.

The neighbours flicker too, and a median of a few of them keeps part of their swing. So each
neighbour's own exposure is steadied first (`flicker_gains`): the brightness ratio of each
frame to the one before it (motion-compensated, so motion does not count), accumulated through
the shot, is the shot's brightness path; how far it stands from its median over twice the
deflicker radius is flicker, and is divided out. A fade, or any change of light that keeps its
direction, is its own median and stays exactly.

Pure functions: the result for a frame depends on the frames handed in, nothing else.
"""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

from vsrtn.models.flow import dis_flow, warp_by_flow
from vsrtn.windows import CutFlags

WORK_SIDE = 96  # short side of the working resolution: flicker is low-frequency
BOX_FRACTION = 0.125  # local-mean box radius as a share of the working short side
_DARK = 0.02  # added to local means before their logs are taken: dark areas do not decide a gain


def work_factor(height: int, width: int) -> int:
    """How much frames of this size are shrunk for the comparison."""
    return max(1, round(min(height, width) / WORK_SIDE))


def shrink(img: np.ndarray, factor: int) -> np.ndarray:
    """A frame at the working resolution (area averaged)."""
    h, w = img.shape
    return cv2.resize(np.asarray(img, np.float32), (max(1, w // factor), max(1, h // factor)),
                      interpolation=cv2.INTER_AREA)


def _box(img: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(img, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _radius(small: np.ndarray) -> int:
    return max(1, int(min(small.shape) * BOX_FRACTION))


def log_gain(cur: np.ndarray, prev: np.ndarray) -> float:
    """How much brighter the shrunk frame `cur` is than `prev`, as a log ratio: the median over
    the frame of their local means' log ratio, `prev` motion-compensated onto `cur` (the median
    ignores dust, and the margin the edges the motion uncovers)."""
    radius = _radius(cur)
    here, before = _box(cur, radius), _box(warp_by_flow(prev, dis_flow(cur, prev)), radius)
    m = radius if min(cur.shape) > 4 * radius else 0
    inner = (slice(m, cur.shape[0] - m), slice(m, cur.shape[1] - m))
    return float(np.median(np.log(here[inner] + _DARK) - np.log(before[inner] + _DARK)))


def _starts_shot(p: int, cuts: CutFlags | None) -> bool:
    return p == 0 or (cuts is not None and bool(cuts[p]))


def flicker_gains(gains: Sequence[float], frames: Sequence[int], radius: int,
                  cuts: CutFlags | None = None) -> list[float]:
    """The flicker of each position of a run of frames, as a log gain, from `gains[p]`
    (`log_gain` of position p against p - 1; not read where a shot starts): the brightness
    accumulated through the shot, less its median over the shot within `radius` positions (a
    median, not a mean: a fade, or any change that keeps its direction, is kept exactly).
    `frames`: the source frame at each position (a frame mirrored in at a clip end counts once)."""
    level: list[float] = []
    for p, gain in enumerate(gains):
        level.append(0.0 if _starts_shot(p, cuts) else level[-1] + gain)
    out = []
    for p in range(len(level)):
        near = {frames[q]: level[q] for q in neighbourhood(p, len(level), radius, cuts)}
        out.append(level[p] - float(np.median(list(near.values()))))
    return out


def steady(small: Sequence[np.ndarray], frames: Sequence[int], radius: int, cuts: CutFlags | None = None,
           map_: Callable = map) -> list[np.ndarray]:
    """Shrunk frames with their flicker (`flicker_gains` over `radius`) divided out. `map_` runs
    the `log_gain`s (a pool's map runs them in parallel; the result is the same)."""
    def gain(p: int) -> float:
        return 0.0 if _starts_shot(p, cuts) else log_gain(small[p], small[p - 1])

    gains = list(map_(gain, range(len(small))))
    return [s * np.float32(np.exp(-f)) for s, f in zip(small, flicker_gains(gains, frames, radius, cuts))]


def stabilise(restored: np.ndarray, neighbours: Sequence[np.ndarray], shrunk: bool = False) -> np.ndarray:
    """`restored` (H, W, [0, 1]) with its local mean brightness moved to that of the temporal
    median of `neighbours` (source frames of the same shot, its own included), each warped
    onto it by DIS flow. With one neighbour there is nothing to compare and the frame is kept.
    `shrunk`: the neighbours are given already `shrink`-ed (a window shrinks each source frame
    once, not once for every frame it is a neighbour of)."""
    if len(neighbours) < 2:
        return restored
    h, w = restored.shape
    factor = work_factor(h, w)
    cur = shrink(restored, factor)
    warped = []
    for frame in neighbours:
        src = frame if shrunk else shrink(frame, factor)
        warped.append(warp_by_flow(src, dis_flow(cur, src)))
    reference = np.median(np.stack(warped), axis=0)
    radius = _radius(cur)
    offset = _box(_box(reference, radius) - _box(cur, radius), radius)
    offset = cv2.resize(offset, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(restored + offset, 0.0, 1.0).astype(np.float32)


def neighbourhood(position: int, length: int, radius: int, cuts: CutFlags | None = None) -> range:
    """Positions within `radius` of `position` in a run of `length` frames, not crossing a cut
    (`cuts[p]`: a new shot starts at p)."""
    lo, hi = max(0, position - radius), min(length, position + radius + 1)
    if cuts is not None:
        for p in range(position, lo, -1):
            if cuts[p]:
                lo = p
                break
        for p in range(position + 1, hi):
            if cuts[p]:
                hi = p
                break
    return range(lo, hi)


__all__ = ["stabilise", "steady", "flicker_gains", "log_gain", "neighbourhood"]
