"""scripts/quality: the baselines do the work they are named for; the report's verdicts follow the numbers."""
from __future__ import annotations

import json
import sys

import cv2
import numpy as np

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from quality import baselines, report


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
    out = baselines.mv_chain(aged, 400)
    assert len(out) == len(aged) and out[0].shape == aged[0].shape
    assert np.mean([psnr(c, o) for c, o in zip(clean, out)]) > np.mean([psnr(c, a) for c, a in zip(clean, aged)]) + 3
    for n, where in ((4, np.s_[40:44, 60:64]), (3, np.s_[:, 90])):  # most of each defect is gone
        left, before = out[n][where].mean() - clean[n][where].mean(), aged[n][where].mean() - clean[n][where].mean()
        assert abs(left) < 0.25 * abs(before)


def test_real_film_targets_need_every_film_below_the_input_and_a_ten_percent_lead():
    def rows(vsrtn_scores):
        out = []
        for film, ours in zip(("a", "b"), vsrtn_scores):
            out += [{"film": film, "method": "input", "niqe": 5.0, "brisque": 40.0},
                    *({"film": film, "method": m, "niqe": 6.0, "brisque": 50.0}
                      for m in baselines.RESTORATION_BASELINES),
                    {"film": film, "method": "vsrtn", "niqe": ours, "brisque": 30.0}]
        return out

    def niqe_met(checks):
        return next(ok for name, ok, _ in checks if name.startswith("real films: NIQE"))

    assert niqe_met(report._real_checks(rows((4.0, 4.0))))
    assert not niqe_met(report._real_checks(rows((4.8, 4.8))))  # below the input, but by 4%
    assert not niqe_met(report._real_checks(rows((3.0, 5.2))))  # 18% below on average, above on film b


def test_the_report_renders_from_the_kept_results():
    results = json.loads((ROOT / "docs" / "quality.json").read_text())
    text = report.restoration_report(results)
    assert text.startswith("## Restoration") and "| medium (degrain=True): PSNR tone kept >= input + 4.5 dB |" in text
    for r in results["real"]:
        assert f"| {r['film']} | {r['method']} | {r['niqe']:.2f} | {r['brisque']:.2f} |" in text
