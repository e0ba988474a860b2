"""Temporal brightness stabilisation (deflicker) of restored frames.

The network removes most exposure flicker, but a restored frame can keep part of its own
frame-wide or regional brightness swing: the network sees small crops in training, where a
global gain looks like content. What remains is low-frequency, so it is corrected here against
a reference that cannot flicker: the temporal median of the frame's neighbours (source frames,
motion-compensated onto it). Only the local mean brightness moves; detail is never taken from
the neighbours. Pure functions: the result for a frame depends on the frames handed in, nothing
else.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from vsrtn.models.flow import dis_flow, warp_by_flow
from vsrtn.windows import CutFlags

WORK_SIDE = 96  # short side of the working resolution: flicker is low-frequency
BOX_FRACTION = 0.125  # local-mean box radius as a share of the working short side


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
    radius = max(1, int(min(cur.shape) * BOX_FRACTION))
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


__all__ = ["stabilise", "neighbourhood"]
