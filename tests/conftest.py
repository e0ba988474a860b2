"""Shared fixtures: tiny random-weight models (fast on 2 CPU cores) and paths."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VSRTN_SHARED", ROOT.parent / "shared"))  # project material beside the clone
REFERENCE = SHARED / "reference"


def tiny_config(**overrides):
    from vsrtn.models.config import RTNConfig

    base = dict(num_feat=8, embed_dim=16, depths=(2,), num_heads=(2,), window_size=4, flow="dis",
                dis_preset="ultrafast")
    base.update(overrides)
    return RTNConfig(**base)


def tiny_model(seed: int = 0, **overrides):
    """A random-weight RTN, scaled so that its output visibly depends on its input."""
    import torch

    from vsrtn.models.rtn import RTN

    torch.manual_seed(seed)
    model = RTN(tiny_config(**overrides)).eval()
    return model


def moving_clip(t: int = 6, h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    """A textured image panning right by 1 px a frame, float32 in [0, 1], shape (T,H,W)."""
    rng = np.random.default_rng(seed)
    base = rng.random((h, w + t + 8), dtype=np.float32)
    import cv2

    base = cv2.GaussianBlur(base, (5, 5), 1.0)
    return np.stack([base[:, i:i + w] for i in range(t)]).astype(np.float32)


def to_x(clip: np.ndarray):
    """A (T,H,W) clip in [0, 1] as the model's input: (1, T, 3, H, W) in [-1, 1]."""
    import torch

    return torch.from_numpy(clip).mul(2).sub(1)[None, :, None].expand(-1, -1, 3, -1, -1).contiguous()


def restore_in_order(engine, clip: np.ndarray, order, cuts=()) -> np.ndarray:
    """Every frame of `clip` restored by `engine`, window by window, requested in `order`;
    `cuts`: the frames that start a new shot."""
    from vsrtn.scenecut import ShotStarts
    from vsrtn.windows import cut_flags

    plan = engine.plan(len(clip))
    shots = ShotStarts(frozenset(cuts))
    out = {}
    for n in order:
        win = plan[plan.index_of(n)]
        res = engine.run_window([clip[i] for i in win.frames], win, cut_flags(win.frames, shots.between))
        out[n] = res[n - win.start]
    return np.stack([out[n] for n in range(len(clip))])


def restore_every_way(engine, clip: np.ndarray) -> np.ndarray:
    """`clip` restored by `engine` in order, backwards and streamed by `run_clip` (no cuts);
    asserts the three agree exactly and returns the result."""
    from vsrtn.scenecut import NO_CUTS

    linear = restore_in_order(engine, clip, range(len(clip)))
    backwards = restore_in_order(engine, clip, range(len(clip) - 1, -1, -1))
    streamed = np.stack(list(engine.run_clip(iter(clip), len(clip), cuts=NO_CUTS)))
    assert np.array_equal(linear, backwards) and np.array_equal(linear, streamed)
    return linear


@pytest.fixture
def frames_folder(tmp_path):
    """A user's REDS-style training folder: one sequence of 12 moving frames."""
    import cv2

    seq = tmp_path / "data" / "000"
    seq.mkdir(parents=True)
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((96, 160), dtype=np.float32), (0, 0), 2)
    for i in range(12):
        cv2.imwrite(str(seq / f"{i:05d}.png"), np.rint(big[:, i:i + 96] * 255 / big.max()).astype(np.uint8))
    return tmp_path / "data"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> str:
    """A tiny random-weight restoration network saved as vsrtn weights."""
    from vsrtn.weights import save_weights

    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    save_weights(tiny_model(seed=2), path)
    return str(path)


@pytest.fixture
def venv_bin() -> Path:
    return Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _no_user_weights(monkeypatch):
    monkeypatch.delenv("VSRTN_WEIGHTS", raising=False)
    yield


def pytest_report_header(config):
    return f"vsrtn tests, shared material at {SHARED} ({'present' if SHARED.exists() else 'MISSING'})"
