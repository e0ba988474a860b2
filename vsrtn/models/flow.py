"""Optical-flow estimators behind one interface: `flow = estimator(ref, src)`.

`ref`, `src`: (N,C,H,W) frames in [0, 1]. The result (N,2,H,W, float32, x then y) is the
displacement such that `flow_warp(src, flow)` lines `src` up with `ref`. Flow is always
computed without gradients, on the degraded input, as in the paper.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn as nn

from vsrtn.models.config import RTNConfig
from vsrtn.models.ops import pad_plane

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _to_u8(frames: np.ndarray) -> np.ndarray:
    """Float32 frames in [0, 1] -> uint8 (rounded to nearest, ties to even)."""
    return np.rint(np.clip(frames, 0, 1) * np.float32(255)).astype(np.uint8)


def dis_flow(ref: np.ndarray, src: np.ndarray, preset: str = "medium") -> np.ndarray:
    """DIS flow (H, W, 2) between two luma frames (H, W) in [0, 1] such that
    `warp_by_flow(src, flow)` lines `src` up with `ref`. Frames below DIS's minimum size are
    edge-padded and the flow cropped back."""
    h, w = ref.shape
    u8 = [np.clip(np.rint(x * 255), 0, 255).astype(np.uint8) for x in (ref, src)]
    pad = max(0, DISFlow.min_size - min(h, w))
    if pad:
        u8 = [cv2.copyMakeBorder(x, 0, pad, 0, pad, cv2.BORDER_REPLICATE) for x in u8]
    return cv2.DISOpticalFlow_create(_DIS_PRESETS[preset]).calc(u8[0], u8[1], None)[:h, :w]


def warp_by_flow(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`img` (H, W[, C]) sampled at position + flow (bilinear, edges replicated)."""
    h, w = img.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class DISFlow(nn.Module):
    """OpenCV's Dense Inverse Search flow: no weights, fast on a CPU, deterministic."""

    min_size = 16

    def __init__(self, preset: str = "medium") -> None:
        super().__init__()
        self.preset = preset

    def forward(self, ref: torch.Tensor, src: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Flow of each pair; `scale` < 1 computes it on frames resized by `scale` (area
        averaged) and brings it back to full size (bilinear, vectors divided by `scale`)."""
        n, _, h, w = ref.shape
        a, b = self.prepare(ref, scale), self.prepare(src, scale)
        out = np.empty((n, 2, h, w), np.float32)
        for i in range(n):
            self.pair(a[i], b[i], out[i])
        return torch.from_numpy(out).to(ref.device)

    @staticmethod
    def prepare(frames: torch.Tensor | np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
        """Frames (N, C, H, W) in [0, 1] as DIS takes them: uint8 luma (channel 0), resized by
        `scale` (area averaged). A frame in several pairs is prepared once (`pair`). A NumPy
        array (float32) is prepared without torch."""
        h, w = frames.shape[-2:]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        luma = frames[:, 0]
        u8 = _to_u8(luma.float().cpu().numpy() if isinstance(luma, torch.Tensor) else luma)
        if size == (w, h):
            return list(u8)
        return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in u8]

    def pair(self, ref: np.ndarray, src: np.ndarray, out: np.ndarray) -> None:
        """Write the flow of two frames from `prepare` into `out` (2, H, W), float32, at the
        full size H x W; `out` may be a view into a larger array (no full-size temporaries)."""
        flow = self._calc(cv2.DISOpticalFlow_create(_DIS_PRESETS[self.preset]), ref, src)
        (h, w), (fh, fw) = out.shape[1:], flow.shape[:2]
        if (fh, fw) == (h, w):
            out[0], out[1] = flow[..., 0], flow[..., 1]
            return
        for c, factor in enumerate((w / fw, h / fh)):
            # Scaled at the small size (bilinear resizing is linear), then resized into place.
            cv2.resize(flow[..., c] * np.float32(factor), (w, h), dst=out[c], interpolation=cv2.INTER_LINEAR)

    def _calc(self, dis: cv2.DISOpticalFlow, ref: np.ndarray, src: np.ndarray) -> np.ndarray:
        """DIS flow (H, W, 2) of two uint8 frames; frames below DIS's minimum size are edge-padded
        and the flow cropped back."""
        h, w = ref.shape
        size = max(h, self.min_size), max(w, self.min_size)
        return dis.calc(pad_plane(ref, *size), pad_plane(src, *size), None)[:h, :w]


def build_flow(config: RTNConfig) -> nn.Module:
    """The flow estimator a configuration names."""
    if config.flow == "raft":
        from vsrtn.models.raft import RAFTFlow

        return RAFTFlow(config.raft_iters)
    return DISFlow(config.dis_preset)
