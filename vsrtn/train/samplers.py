"""Training samples, each a pure function of (seed, index): clean clips from photographs under a
synthetic camera (or the user's videos), degraded on the fly for restoration; color clips with a
keyframe for colorization. Sample workers draw the same samples in other processes.
"""
from __future__ import annotations

import signal
from pathlib import Path

import cv2
import numpy as np
import torch

from vsrtn.degrade import Degrader
from vsrtn.presets import load_preset
from vsrtn.train import content
from vsrtn.train.config import TrainConfig

_WORKER_SAMPLER = None  # a sample worker's own sampler (`workers` > 0)


def start_worker(cfg: TrainConfig, cache: Path, color: bool) -> None:
    global _WORKER_SAMPLER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the trainer stops them
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    _WORKER_SAMPLER = (ColorSampler if color else ClipSampler)(cfg, cache, log=lambda msg: None)


def worker_sample(k: int, frames: int):
    return _WORKER_SAMPLER.sample(k, frames)


class ClipSampler:
    """Deterministic training samples: sample k is a pure function of (seed, k)."""

    def __init__(self, cfg: TrainConfig, cache: Path, log=print) -> None:
        self.cfg = cfg
        self.specs = [load_preset(p)["degradation"] for p in cfg.presets]
        if cfg.data:
            self.sources = content.folder_sources(Path(cfg.data))
            self.photos = None
        else:
            self.photos = [content.load_gray(p) for p in content.build_photos(cache, log)]
        self._frames_cache: dict = {}

    def sample(self, k: int, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(degraded, target, damage mask), each (T, crop, crop) float32; the target is the clean
        clip in the degraded clip's tone (`Degrader.target`), with its grain where `keep_grain`."""
        rng = np.random.default_rng([self.cfg.seed, k])
        if self.photos is not None:
            clean = content.camera_clip(self.photos[int(rng.integers(len(self.photos)))], rng, frames, self.cfg.crop)
            clean = add_objects(clean, self.photos, self.cfg, k)
        else:
            src = self.sources[int(rng.integers(len(self.sources)))]
            clean = content.folder_clip(src, rng, frames, self.cfg.crop, self._frames_cache)
        if rng.random() < 0.5:
            clean = clean[::-1].copy()  # time reversal: both directions see both kinds of motion
        degrader = Degrader(self.specs[int(rng.integers(len(self.specs)))], seed=int(rng.integers(2**31)))
        start = int(rng.integers(0, 1000))  # a random stretch of the degradation's timeline
        pairs = [degrader.frame(f, start + t) for t, f in enumerate(clean)]
        keep = ("grain",) if self.cfg.keep_grain else ()
        target = np.stack([degrader.target(f, start + t, keep) for t, f in enumerate(clean)])
        return np.stack([p[0] for p in pairs]), target, np.stack([p[1] for p in pairs])


class ColorSampler:
    """Colorization samples: a color photograph under camera motion (or a run of the user's color
    videos / frame folders) and a color reference: the clip's first frame (a keyframe tied to
    that frame) or a view `reference_gap` frames before the clip (reached by long-range flow and
    content matching only).
    Sample k is a pure function of (seed, k)."""

    def __init__(self, cfg: TrainConfig, cache: Path, log=print) -> None:
        self.cfg = cfg
        self.sources = self.photos = None
        if cfg.data:
            self.sources = content.folder_sources(Path(cfg.data))
        else:
            photos = [content.load_rgb(p) for p in content.build_photos(cache, log)]
            self.photos = [p for p in photos if _colorful(p)]  # gray photographs teach no color
        self._frames_cache: dict = {}

    def sample(self, k: int, frames: int) -> tuple[np.ndarray, np.ndarray, int | None]:
        """(clip (T, S, S, 3) RGB, reference (S, S, 3) RGB, index of the clip frame it shows or None)."""
        rng = np.random.default_rng([self.cfg.seed, k])
        gap = int(rng.integers(self.cfg.reference_gap[0], self.cfg.reference_gap[1] + 1))
        if self.photos is not None:
            photo = self.photos[int(rng.integers(len(self.photos)))]
            clip = content.camera_clip(photo, rng, frames + gap, self.cfg.crop)
            clip = add_objects(clip, self.photos, self.cfg, k)
        else:
            src = self.sources[int(rng.integers(len(self.sources)))]
            clip = content.folder_clip(src, rng, frames + gap, self.cfg.crop, self._frames_cache, color=True)
        ref = clip[0]
        tied = rng.random() < self.cfg.tied_reference
        clip = clip[:frames] if tied else clip[gap:]
        index = 0 if tied else None
        if rng.random() < 0.5:
            clip = clip[::-1].copy()
            index = None if index is None else frames - 1
        return clip, ref, index


def add_objects(clip: np.ndarray, photos: list[np.ndarray], cfg: TrainConfig, k: int) -> np.ndarray:
    """Sample k's clip with moving objects for a `cfg.objects` share of samples. A stream of its
    own, so runs without objects draw exactly the samples they drew before the option existed."""
    if cfg.objects <= 0:
        return clip
    rng = np.random.default_rng([cfg.seed, k, 1])
    if rng.random() >= cfg.objects:
        return clip
    return content.with_objects(clip, photos[int(rng.integers(len(photos)))], rng, int(rng.integers(1, 3)))


def keyframe_chains(ref: np.ndarray, index: int | None, gray: np.ndarray, ref_index: int) -> list[list] | None:
    """A sample's keyframe color carried along its clip (T, H, W gray) as the engine does at run
    time (`KeyframeChains`), when the reference is tied to clip frame `index`; for color_hints,
    with the keyframe known as `ref_index` there."""
    if index is None:
        return None
    from vsrtn.colorize import KeyframeChains, Reference, chain_results

    chains = KeyframeChains([Reference(ref, index)], capacity=0)
    frames = range(len(gray))
    chained, _ = chain_results(chains.walk(chains.plan(frames), gray.__getitem__, lambda a, b: False), frames)
    return [[(ref_index, state) for _, state in here] for here in chained]


def hint_holes(rng: np.random.Generator, size: int, share: float) -> np.ndarray:
    """A (size, size) float32 mask of 1-3 random ellipses (semi-axes 10-30 % of the side, any
    angle) for a `share` of draws, all zeros otherwise."""
    mask = np.zeros((size, size), np.float32)
    if rng.random() >= share:
        return mask
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, size, 2)
        ay, ax = rng.uniform(0.1, 0.3, 2) * size
        angle = rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = (yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle)
        mask[(u / ax) ** 2 + (v / ay) ** 2 <= 1] = 1
    return mask


def _colorful(rgb: np.ndarray) -> bool:
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    return float(np.abs(cv2.cvtColor(small, cv2.COLOR_RGB2Lab)[..., 1:]).mean()) > 3.0
