"""Deterministic test clips built inside VapourSynth (importable from .vpy scripts too)."""
from __future__ import annotations

import numpy as np
import vapoursynth as vs


def textured(fmt: int = vs.YUV420P8, width: int = 64, height: int = 48, length: int = 9, seed: int = 0,
             cut_at: int | None = None) -> vs.VideoNode:
    """A smooth random texture panning 1 px a frame in every plane; `cut_at` starts a new
    texture there and marks it with `_SceneChangePrev`."""
    core = vs.core
    clip = core.std.BlankClip(format=fmt, width=width, height=height, length=length)
    info = clip.format

    def plane_values(n: int, p: int, h: int, w: int) -> np.ndarray:
        shot = 1 if cut_at is not None and n >= cut_at else 0
        rng = np.random.default_rng(seed * 1000 + shot * 100 + p)
        big = rng.random((h // 4 + 3, (w + length) // 4 + 3))
        big = np.kron(big, np.ones((4, 4)))  # blocky texture, then shifted per frame
        return big[:h, n:n + w]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(info.num_planes):
            arr = np.asarray(out[p])
            v = plane_values(n, p, arr.shape[0], arr.shape[1])
            if info.sample_type == vs.FLOAT:
                v = v if p == 0 or info.color_family == vs.RGB else v - 0.5
                arr[...] = v.astype(arr.dtype)
            else:
                arr[...] = np.rint(v * ((1 << info.bits_per_sample) - 1)).astype(arr.dtype)
        if cut_at is not None and n == cut_at:
            out.props["_SceneChangePrev"] = 1
        return out

    return clip.std.ModifyFrame(clip, fill)
