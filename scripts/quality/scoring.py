"""Scores of a method's output: restoration against the clean clip (and in the print's tone),
no-reference scores of real films, colorization in RGB; and their means per method."""
from __future__ import annotations

import numpy as np


def score(out: list[np.ndarray], clean: list[np.ndarray], toned: list[np.ndarray]) -> dict[str, float]:
    """Metrics against the clean clip, and PSNR/SSIM against `toned`: the clean clip in the
    degraded clip's tone (its fading kept), which is what restoration is meant to give."""
    from vsrtn import metrics

    def mean(metric, refs):
        return float(np.mean([metric(c, o) for c, o in zip(refs, out)]))

    return {"psnr": mean(metrics.psnr, clean), "ssim": mean(metrics.ssim, clean),
            "lpips": mean(lambda c, o: metrics.lpips(c, np.clip(o, 0, 1)), clean),
            "ewarp": metrics.ewarp(out, clean),
            "psnr_toned": mean(metrics.psnr, toned), "ssim_toned": mean(metrics.ssim, toned)}


def no_reference(frames: list[np.ndarray], step: int) -> dict[str, float]:
    from vsrtn import metrics

    pick = frames[::step]
    return {"niqe": float(np.mean([metrics.niqe(f) for f in pick])),
            "brisque": float(np.mean([metrics.brisque(f) for f in pick]))}


def color_score(rgb_out: list[np.ndarray], rgb_true: list[np.ndarray], skip: set[int]) -> dict[str, float]:
    from vsrtn.metrics import cdc, lpips, psnr, ssim

    idx = [t for t in range(len(rgb_true)) if t not in skip]  # reference frames are given, not predicted
    return {"psnr": float(np.mean([psnr(rgb_out[t], rgb_true[t]) for t in idx])),
            "ssim": float(np.mean([ssim(rgb_out[t], rgb_true[t]) for t in idx])),
            "lpips": float(np.mean([lpips(rgb_out[t], rgb_true[t]) for t in idx])),
            "cdc": cdc(rgb_out)}


def means(rows: list[dict], keys: tuple[str, ...], digits: int) -> dict:
    """{method: {key: mean over its rows}} (keys a method's rows lack are left out)."""
    by_method: dict[str, list[dict]] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
    return {m: {k: round(float(np.mean([r[k] for r in rs])), digits) for k in keys if k in rs[0]}
            for m, rs in by_method.items()}


def weights_used(res: dict) -> list[str]:
    """Every network an evaluation ran (the default rows' and the degrain=True rows'), once each."""
    return list(dict.fromkeys([*res["weights"].values(), *res["degrain_weights"].values()]))


def summary(res: dict, name: str) -> dict:
    """The evaluation numbers kept in the manifest entry of weights `name`: for each preset that
    used them, the means per method over the synthetic clips, and per-method means over the real
    films when they restored those (with the medium preset)."""
    out: dict = {"command": res["command"]}
    networks = [res["weights"], res["degrain_weights"]]
    for preset in dict.fromkeys(p for n in networks for p, w in n.items() if w == name and p != "real"):
        out[preset] = means([r for r in res["synthetic"] if r["preset"] == preset],
                             ("psnr", "ssim", "lpips", "ewarp", "psnr_toned", "ssim_toned"), 4)
    if name in (n.get("real") for n in networks):
        out["real"] = means(res["real"], ("niqe", "brisque"), 3)
    return out
