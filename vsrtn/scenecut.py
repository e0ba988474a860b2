"""Scene cuts: where a new shot starts, decided once per pair of neighbouring frames.

Where the cut representations are named: `vsrtn.windows`. Here cuts are decided (`Detector`, a
`Cuts`): from the ecosystem's scene-change frame props (`_SceneChangePrev` on the later frame,
`_SceneChangeNext` on the earlier) where a frame has them, else by the in-house detector.
`cut_before(b)` says whether frames b-1 and b lie in different shots. It reads frames b-2..b+1
only, so the decision, and every frame restored after it, is a pure function of the clip.

The detector compares the structure of frames, not their brightness: each frame is reduced to
a small picture (`SIGNATURE_WIDTH` pixels across, averaged, which removes grain, dust and thin
scratches), its low frequencies are taken away (flicker, exposure changes and fades change
brightness, not structure), and two frames are correlated at the best of a few small shifts
(camera motion). One minus that correlation is the pair's cut score: near 0 inside a shot,
towards 1 across a cut. A pair is a cut when its score exceeds the threshold *and* exceeds the
scores of the pairs on either side by `MARGIN`: a cut is a break between two stretches whose
structure carries on from frame to frame. This keeps grain-only pictures (whose every pair
scores high), one-frame flashes and heavily damaged single frames (whose two pairs both score
high) from counting as cuts. Measured in docs/QUALITY.md (scene cuts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from vsrtn.errors import ArgumentError
from vsrtn.windows import NO_CUTS, Cuts, ShotStarts

SIGNATURE_WIDTH = 64  # pixels across of the reduced frame the detector compares
HIGHPASS_SIGMA = 3.0  # Gaussian (signature pixels) whose blur is taken away: brightness fields
MAX_SHIFT = 3  # signature pixels of motion searched each way
MARGIN = 0.2  # how far a cut's score must stand above its neighbouring pairs' scores
DEFAULT_THRESHOLD = 0.35  # cut score above which a pair may be a cut


def signature(luma: np.ndarray) -> np.ndarray:
    """The reduced, high-passed frame the detector compares (float32, about 64 pixels across)."""
    y = np.nan_to_num(np.clip(np.asarray(luma, np.float32), 0.0, 1.0), nan=0.0)
    h, w = y.shape
    width = min(SIGNATURE_WIDTH, w)
    height = max(1, min(h, round(h * width / w)))
    small = cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
    return small - cv2.GaussianBlur(small, (0, 0), HIGHPASS_SIGMA, borderType=cv2.BORDER_REFLECT)


def cut_score(earlier: np.ndarray, later: np.ndarray) -> float:
    """0 (the same picture) .. 1 (unrelated pictures) for two signatures."""
    if earlier.shape != later.shape:
        return 1.0
    h, w = earlier.shape
    s = min(MAX_SHIFT, h // 4, w // 4)
    best = 0.0
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            a = earlier[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            b = later[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
            a = a - a.mean()
            b = b - b.mean()
            norm = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
            if norm > 1e-12:
                best = max(best, float(np.sum(a * b)) / norm)
    return 1.0 - best


def is_cut(score: float, before: float, after: float, threshold: float) -> bool:
    """Is a pair with cut score `score` a cut, its neighbouring pairs scoring `before` and `after`?"""
    return score > threshold and score - max(before, after) >= MARGIN


def shot_starts(scores: Sequence[float], threshold: float) -> ShotStarts:
    """The cuts of a whole clip from its pairs' cut scores (`scores[b]`: the pair b-1, b;
    `scores[0]` is unused), decided as `Detector` decides them pair by pair."""
    s = [0.0, *scores[1:], 0.0]
    return ShotStarts(frozenset(b for b in range(1, len(scores)) if is_cut(s[b], s[b - 1], s[b + 1], threshold)))


def check_threshold(value: object, func: str) -> float:
    """A valid detector threshold (0 < t <= 1), or ArgumentError naming `sc_threshold`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ArgumentError(func, "sc_threshold", f"None or a number in (0, 1] (default {DEFAULT_THRESHOLD})", value)
    return float(value)


def neighbours(frames: Iterable[int], num_frames: int) -> list[int]:
    """`frames` and the frames next to them (within the clip): what cut decisions between
    neighbouring frames of `frames` read."""
    out = set()
    for i in frames:
        out.update(j for j in (i - 1, i, i + 1) if 0 <= j < num_frames)
    return sorted(out)


@dataclass(frozen=True)
class CutSettings:
    """How cuts are decided: `props` honours scene-change frame props where frames have them,
    `detect` runs the in-house detector where they have none, cutting above `threshold`."""

    props: bool = True
    detect: bool = True
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("props", "detect"):
            if not isinstance(getattr(self, name), bool):
                raise ArgumentError("CutSettings", name, "True or False", getattr(self, name))
        check_threshold(self.threshold, "CutSettings")

    def cuts(self, luma: Callable[[int], np.ndarray], num_frames: int,
             prop: Callable[[int], bool | None] | None = None) -> Cuts:
        """The cuts of a clip of `num_frames` given as `luma(i)`; `prop(b)`: what the props of
        frames b-1 and b say of that pair (True, False, or None where they say nothing)."""
        if not self.props and not self.detect:
            return NO_CUTS
        return Detector(luma, num_frames, self, prop if prop is not None and self.props else None)


class Detector(Cuts):
    """Props where frames have them, else the in-house detector; signatures and scores are
    remembered per frame."""

    def __init__(self, luma: Callable[[int], np.ndarray], num_frames: int, settings: CutSettings,
                 prop: Callable[[int], bool | None] | None = None) -> None:
        self.luma, self.num_frames, self.settings, self.prop = luma, num_frames, settings, prop
        self._sigs: dict[int, np.ndarray] = {}
        self._scores: dict[int, float] = {}

    def _sig(self, i: int) -> np.ndarray:
        if i not in self._sigs:
            self._sigs[i] = signature(self.luma(i))
        return self._sigs[i]

    def score(self, b: int) -> float:
        """Cut score of the pair (b-1, b); 0 outside the clip."""
        if not 1 <= b < self.num_frames:
            return 0.0
        if b not in self._scores:
            self._scores[b] = cut_score(self._sig(b - 1), self._sig(b))
        return self._scores[b]

    def cut_before(self, b: int) -> bool:
        said = self.prop(b) if self.prop is not None else None
        if said is not None:
            return bool(said)
        if not self.settings.detect:
            return False
        return is_cut(self.score(b), self.score(b - 1), self.score(b + 1), self.settings.threshold)

    def forget_before(self, i: int) -> None:
        """Drop what is remembered of frames before i (a stream that has moved on)."""
        for memo in (self._sigs, self._scores):
            for k in [k for k in memo if k < i]:
                del memo[k]
