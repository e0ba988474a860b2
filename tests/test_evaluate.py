"""The evaluation's baselines do the work they are named for (scripts/evaluate.py)."""
from __future__ import annotations

import importlib.util

import cv2
import numpy as np

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("evaluate", ROOT / "scripts" / "evaluate.py")
evaluate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evaluate)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


def test_vapoursynth_chain_removes_dust_scratches_and_grain_on_a_moving_clip():
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((96, 150), dtype=np.float32), (0, 0), 2)
    base = (base - base.min()) / (base.max() - base.min())
    clean = [base[:, i:i + 128].copy() for i in range(8)]  # a 1 px/frame pan
    aged = [np.clip(c + rng.normal(0, 0.05, c.shape).astype(np.float32), 0, 1) for c in clean]
    aged[4][40:44, 60:64] = 1.0  # a dust speck on one frame
    aged[3][:, 90] = 0.0  # a one-frame dark line
    out = evaluate.mv_chain(aged, 400)
    assert len(out) == len(aged) and out[0].shape == aged[0].shape
    assert np.mean([psnr(c, o) for c, o in zip(clean, out)]) > np.mean([psnr(c, a) for c, a in zip(clean, aged)]) + 3
    for n, where in ((4, np.s_[40:44, 60:64]), (3, np.s_[:, 90])):  # most of each defect is gone
        assert abs(out[n][where].mean() - clean[n][where].mean()) < 0.25 * abs(aged[n][where].mean() - clean[n][where].mean())
