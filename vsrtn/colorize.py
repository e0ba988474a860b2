"""Colorization engine: color keyframes (references), which of them each window may use, and
the windowed run. Independent of VapourSynth; the plugin and the `vsrtn colorize` command drive it.

Frames in are gray luma planes, float32 (H, W) in [0, 1]; results are ab planes (2, H, W) in Lab
units, to be joined with the untouched source luma (`vsrtn.color.luma_ab_to_rgb`).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np
import torch

from vsrtn.cache import LRUCache
from vsrtn.color import AB_SCALE, gray_to_lightness, rgb_luma, rgb_to_lab
from vsrtn.engine import Engine, EngineSettings, Support, finite, torch_work
from vsrtn.errors import ArgumentError
from vsrtn.models.colorize import (
    CHAIN_HORIZON,
    COLOR_CHANNELS,
    ChainState,
    ReferenceMatcher,
    ReferenceSet,
    chain_step,
    color_hints,
    network_input,
    propagation_size,
    to_propagation_size,
)
from vsrtn.models.rtn import RTN
from vsrtn.windows import CutBetween, CutFlags, Window


@dataclass(frozen=True, eq=False)
class Reference:
    """A color keyframe: R'G'B' (H, W, 3) float32 in [0, 1] at the clip's size, and the clip
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


def references_for_window(frames: Sequence[int], cuts: CutFlags | None,
                          ref_frames: Sequence[int | None]) -> list[tuple[int, ...]]:
    """For each position of a window (its source frame indices and cut flags), the indices of the
    references it may take color from. A pure function of the window, so seeking gives the same
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


@dataclass(frozen=True, eq=False)
class Walk:
    """One walk along a keyframe's chain: from frame `start` (state `state`; None or CUT if the
    chain has already ended there) one frame at a time in `direction` (+1 forward, -1 backward) to
    `stop`, for the keyframe tied to frame `key` (reference `ref`)."""

    direction: int
    key: int
    ref: int
    start: int
    state: ChainState | str | None
    stop: int


@dataclass(frozen=True, eq=False)
class ChainPlan:
    """What one window's keyframe chains need: the walks, and the source frames they read (the
    starting states are held here, so the memo evicting them cannot change a walk)."""

    walks: tuple[Walk, ...]
    frames: tuple[int, ...]


CUT = "cut"  # a chain that ended at a scene cut: its keyframe belongs to another shot


class KeyframeChains:
    """Color of tied keyframes carried frame by frame along flow, forward from each keyframe up to
    CHAIN_HORIZON frames and backward as far, each step fused with the keyframe's straight warp
    (`chain_step`); a chain ends where frames stop lining up, or at a cut, which also tells that
    the keyframe belongs to another shot. A frame uses the chain of the nearest keyframe at or
    before it and of the nearest after it. Each state is a pure function of its keyframe and the
    frames between, so the memo (which lets consecutive windows continue a walk instead of
    restarting it) never changes a result."""

    def __init__(self, references: Sequence[Reference], capacity: int) -> None:
        self.tied: dict[int, int] = {}
        for r, ref in enumerate(references):
            if ref.frame is not None:
                self.tied.setdefault(ref.frame, r)
        self._frames = sorted(self.tied)
        height, width = references[0].rgb.shape[:2]
        self.size = propagation_size(height, width)
        self._keys: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for frame, r in self.tied.items():
            rgb = torch.from_numpy(references[r].rgb).permute(2, 0, 1).float()
            luma = to_propagation_size(rgb_luma(rgb)[0].numpy(), self.size)
            ab = np.stack([to_propagation_size(c, self.size) for c in rgb_to_lab(rgb)[1:].numpy()])
            self._keys[frame] = (luma, ab)
        self._memo: LRUCache[ChainState | str] = LRUCache(capacity)

    def origin(self, frame: int, direction: int) -> int | None:
        """The keyframe frame whose chain reaches `frame` going in `direction`, or None (a
        keyframe's own frame takes it forward only: one state there, not two)."""
        if direction > 0:
            i = bisect.bisect_right(self._frames, frame) - 1
            k = self._frames[i] if i >= 0 else None
        else:
            i = bisect.bisect_right(self._frames, frame)
            k = self._frames[i] if i < len(self._frames) else None
        return k if k is not None and abs(frame - k) <= CHAIN_HORIZON else None

    def plan(self, frames: Sequence[int]) -> ChainPlan:
        """The walks that give chain states for every frame in `frames`, each starting from the
        memoised state nearest its targets (or from the keyframe)."""
        walks, needed = [], set()
        for direction in (1, -1):
            groups: dict[int, list[int]] = {}
            for f in set(frames):
                k = self.origin(f, direction)
                if k is not None:
                    groups.setdefault(k, []).append(f)
            for k, targets in sorted(groups.items()):
                near, far = (min(targets), max(targets)) if direction > 0 else (max(targets), min(targets))
                start, state = k, ChainState(self._keys[k][1], np.ones(self.size, np.float32), 0)
                for m in range(near, k, -direction):  # the memoised state closest to the targets
                    remembered = self._memo.get((direction, k, m))
                    if remembered is not None:
                        start, state = m, remembered
                        break
                walks.append(Walk(direction, k, self.tied[k], start, state, far))
                if isinstance(state, ChainState) and start != far:
                    needed.update(range(min(start, far), max(start, far) + 1))
        return ChainPlan(tuple(walks), tuple(sorted(needed)))

    def walk(self, plan: ChainPlan, luma_of: Callable[[int], np.ndarray],
             cut_between: CutBetween) -> dict[tuple[int, int], tuple[int, ChainState | str]]:
        """Run `plan`'s walks: {(direction, frame): (reference, state)} for every frame the chain
        reaches, and (reference, CUT) for every target past a cut on the way. `luma_of(i)`:
        source frame i's luma (H, W) in [0, 1]; `cut_between(a, b)`: adjacent frames a and b
        lie in different shots."""
        out: dict[tuple[int, int], tuple[int, ChainState | str]] = {}
        for w in plan.walks:
            d = w.direction
            key_luma, key_ab = self._keys[w.key]
            state, frame = w.state, w.start
            live = isinstance(state, ChainState) and frame != w.stop
            small = to_propagation_size(luma_of(frame), self.size) if live else None
            while isinstance(state, ChainState):
                if d > 0 or frame != w.key:  # a keyframe's own frame takes its chain forward only
                    out[(d, frame)] = (w.ref, state)
                if frame == w.stop:
                    break
                nxt = frame + d
                if cut_between(frame, nxt):
                    state = CUT
                else:
                    nxt_small = to_propagation_size(luma_of(nxt), self.size)
                    state = chain_step(state, small, nxt_small, key_luma, key_ab)
                    small = nxt_small
                frame = nxt
                self._memo.put((d, w.key, frame), state)
            if state is CUT:
                out.update({(d, f): (w.ref, CUT) for f in range(frame, w.stop + d, d)})
        return out


def chain_results(states: Mapping[tuple[int, int], tuple[int, ChainState | str]], frames: Sequence[int]
                  ) -> tuple[list[list[tuple[int, ChainState]]], list[set[int]]]:
    """From `KeyframeChains.walk`'s result, for each of `frames`: the (reference, state) pairs of
    the chains that reach it, and the references whose chain met a cut on the way (their keyframe
    lies in another shot)."""
    reached = [[states[(d, f)] for d in (1, -1) if (d, f) in states] for f in frames]
    return ([[(r, s) for r, s in here if s is not CUT] for here in reached],
            [{r for r, s in here if s is CUT} for here in reached])


class ColorEngine(Engine):
    """Runs a colorization RTN window by window with the given references. `run_window` returns
    the core frames' ab planes (2, H, W) in Lab units."""

    CHANNELS = COLOR_CHANNELS
    KIND = "colorization"
    KEEP = COLOR_CHANNELS[1]  # both ab planes

    def __init__(self, model: RTN, device: torch.device | str, settings: EngineSettings | None,
                 references: Sequence[Reference]) -> None:
        if not references:
            raise ArgumentError("ColorEngine", "ref", "at least one color reference")
        for name, stage in (("deflicker", "brightness steadying"), ("grain", "grain retention")):
            value = getattr(settings, name) if settings is not None else 0
            if value:
                raise ArgumentError("ColorEngine", name, f"0 ({stage} is part of restoration)", value)
        super().__init__(model, device, settings)
        self.references = list(references)
        self._load_references()

    @torch_work
    def _load_references(self) -> None:
        """The references' features for matching and their keyframe chains."""
        self.matcher = ReferenceMatcher(self.device)
        rgb = torch.from_numpy(np.stack([r.rgb for r in self.references])).permute(0, 3, 1, 2)
        self._refs = ReferenceSet.from_rgb(rgb, self.matcher)
        # Enough memo for a backward walk over the whole horizon plus the windows around it (at
        # most 512 px a side: 1.8 MB a state, about 260 MB in all with the default window).
        span = self.settings.window + 2 * self.settings.context
        self.chains = KeyframeChains(self.references, capacity=CHAIN_HORIZON + 2 * span)

    def prepare(self, window: Window) -> ChainPlan:
        """The keyframe-chain walks `window` needs; `.frames` lists the source frames they read."""
        return self.chains.plan(window.frames)

    def prefetch_flows(self, frames: Sequence[np.ndarray], window: Window, reuse: None = None) -> None:
        """None: the color network's flows are computed with its input (`run_window`)."""
        return None

    @torch_work
    @torch.inference_mode()
    def run_window(self, frames: Sequence[np.ndarray], window: Window, cuts: CutFlags | None = None,
                   support: Support | None = None, flows: None = None) -> list[np.ndarray]:
        """ab planes (2, H, W) of the core frames of `window` from its gray source frames.
        `support`: `prepare(window)` and the luma of the frames it lists (without it, those must
        all be frames of the window). `flows` is unused (see `prefetch_flows`)."""
        if len(frames) != len(window.frames):
            raise ValueError(f"run_window: {len(window.frames)} frames expected, got {len(frames)}")
        frames = [finite(f) for f in frames]
        lumas: dict[int, np.ndarray] = dict(zip(window.frames, frames))
        flags = list(cuts) if cuts is not None else [False] * len(frames)
        cut_pairs = {frozenset(window.frames[p - 1:p + 1]) for p in range(1, len(frames)) if flags[p]}
        cut_between: CutBetween = lambda a, b: frozenset((a, b)) in cut_pairs
        plan = self.prepare(window) if support is None else support.plan
        if support is not None:
            lumas.update({i: finite(y) for i, y in support.lumas.items()})
            cut_between = lambda a, b, inside=cut_between: inside(a, b) or support.cut_between(a, b)
        missing = [i for i in plan.frames if i not in lumas]
        if missing:
            raise ValueError(f"run_window: source frames {missing[:8]} are needed for keyframe chains; "
                             "pass them in `support` (see prepare)")
        # A keyframe whose chain met a cut on the way lies in another shot: it gives no color here.
        chained, severed = chain_results(self.chains.walk(plan, lumas.__getitem__, cut_between), window.frames)
        gray = torch.from_numpy(np.stack([np.asarray(f, np.float32) for f in frames])).unsqueeze(1)
        allowed = [tuple(r for r in refs if r not in cut_off) for refs, cut_off in
                   zip(references_for_window(window.frames, cuts, [r.frame for r in self.references]), severed)]
        hint, match_conf, warp_conf = color_hints(self.matcher, gray, allowed, self._refs, chained)
        x = network_input(gray_to_lightness(gray), hint, match_conf, warp_conf)
        out = self.infer(x, window, cuts)
        return list(out * AB_SCALE)
