"""Colourisation engine: colour keyframes (references), which of them each window may use, and
the windowed run. Independent of VapourSynth; the plugin and the `vsrtn colorize` command drive it.

Frames in are gray luma planes, float32 (H, W) in [0, 1]; results are ab planes (2, H, W) in Lab
units, to be joined with the untouched source luma (`vsrtn.color.luma_ab_to_rgb`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from vsrtn.color import AB_SCALE, gray_to_lightness
from vsrtn.engine import Engine, EngineSettings
from vsrtn.errors import ArgumentError
from vsrtn.models.colorize import (COLOUR_CHANNELS, ReferenceMatcher, ReferenceSet, colour_hints, is_colour_model,
                                   network_input)
from vsrtn.models.rtn import RTN
from vsrtn.windows import Window


@dataclass(frozen=True, eq=False)
class Reference:
    """A colour keyframe: R'G'B' (H, W, 3) float32 in [0, 1] at the clip's size, and the clip
    frame it shows (None: not tied to a frame; matched wherever its content appears)."""

    rgb: np.ndarray
    frame: int | None = None


def fit_reference(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a keyframe to the clip's frame size (area when shrinking, cubic when enlarging)."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(rgb, dtype=np.float32)
    interp = cv2.INTER_AREA if w * h > width * height else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb.astype(np.float32), (width, height), interpolation=interp), 0, 1)


def references_for_window(frames: Sequence[int], cuts: Sequence[bool] | None,
                          ref_frames: Sequence[int | None]) -> list[tuple[int, ...]]:
    """For each position of a window (its source frame indices and cut flags), the indices of the
    references it may take colour from. A pure function of the window, so seeking gives the same
    result: a shot piece inside the window uses the references tied to its frames, plus the
    nearest tied ones before/after the window when no cut inside the window separates it from
    them; references tied to no frame are candidates everywhere."""
    n = len(frames)
    flags = list(cuts) if cuts is not None else [False] * n
    bounds = [0, *[p for p in range(1, n) if flags[p]], n]
    tied = [(f, r) for r, f in enumerate(ref_frames) if f is not None]
    free = {r for r, f in enumerate(ref_frames) if f is None}
    result: list[tuple[int, ...]] = [()] * n
    for s, e in zip(bounds[:-1], bounds[1:]):
        lo, hi = min(frames[s:e]), max(frames[s:e])
        chosen = {r for f, r in tied if lo <= f <= hi}
        if s == 0:
            before = [f for f, _ in tied if f < lo]
            chosen |= {r for f, r in tied if before and f == max(before)}
        if e == n:
            after = [f for f, _ in tied if f > hi]
            chosen |= {r for f, r in tied if after and f == min(after)}
        result[s:e] = [tuple(sorted(chosen | free))] * (e - s)
    return result


class ColorEngine(Engine):
    """Runs a colourisation RTN window by window with the given references. `run_window` returns
    the core frames' ab planes (2, H, W) in Lab units."""

    def __init__(self, model: RTN, device: torch.device | str, settings: EngineSettings | None,
                 references: Sequence[Reference]) -> None:
        c = model.config
        if not is_colour_model(c):
            raise ArgumentError("ColorEngine", "weights", "colourisation weights ({} inputs, {} outputs)".format(
                *COLOUR_CHANNELS), f"a model with {c.in_channels} inputs and {c.out_channels} outputs")
        if not references:
            raise ArgumentError("ColorEngine", "ref", "at least one colour reference")
        super().__init__(model, device, settings)
        self.references = list(references)
        self.matcher = ReferenceMatcher(self.device)
        rgb = torch.from_numpy(np.stack([r.rgb for r in self.references])).permute(0, 3, 1, 2)
        self._refs = ReferenceSet.from_rgb(rgb, self.matcher)

    @torch.inference_mode()
    def run_window(self, frames: Sequence[np.ndarray], window: Window,
                   cuts: Sequence[bool] | None = None) -> list[np.ndarray]:
        """ab planes (2, H, W) of the core frames of `window` from its gray source frames."""
        if len(frames) != len(window.frames):
            raise ValueError(f"run_window: {len(window.frames)} frames expected, got {len(frames)}")
        gray = torch.from_numpy(np.stack([np.asarray(f, np.float32) for f in frames])).unsqueeze(1)
        allowed = references_for_window(window.frames, cuts, [r.frame for r in self.references])
        hint, match_conf, warp_conf = colour_hints(self.matcher, gray, allowed, self._refs)
        x = network_input(gray_to_lightness(gray), hint, match_conf, warp_conf)
        out = self.infer(x, window, cuts)
        return list(out * AB_SCALE)
