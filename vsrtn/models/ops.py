"""Small tensor operations shared by the networks: warping by optical flow and size padding."""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def flow_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `x` (N,C,H,W) at pixel + flow (N,2,H,W; x then y), bilinear, zeros outside.

    Always computed in float32 (half-precision sampling coordinates lose whole pixels on large
    frames); the result has x's dtype. Matches the published network's grid convention
    (align_corners=True, coordinates normalised by size-1).
    """
    n, _, h, w = x.shape
    dtype = x.dtype
    with torch.autocast(device_type=x.device.type, enabled=False):
        flow = flow.float()
        ys = torch.arange(h, device=x.device, dtype=torch.float32).view(1, h, 1)
        xs = torch.arange(w, device=x.device, dtype=torch.float32).view(1, 1, w)
        gx = 2.0 * (xs + flow[:, 0]) / max(w - 1, 1) - 1.0
        gy = 2.0 * (ys + flow[:, 1]) / max(h - 1, 1) - 1.0
        grid = torch.stack((gx, gy), dim=3)
        out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.to(dtype)


def padded_size(size: int, multiple: int, minimum: int = 1) -> int:
    """Smallest value >= max(size, minimum) that is a multiple of `multiple`."""
    target = max(size, minimum)
    return -(-target // multiple) * multiple


def pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad the last two dims of `x` at the bottom/right to (height, width).

    Reflection where the frame is large enough (no hard edge for convolutions to see),
    otherwise edge replication.
    """
    h, w = x.shape[-2:]
    ph, pw = height - h, width - w
    if ph == 0 and pw == 0:
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w) if x.dim() != 4 else x
    out = F.pad(flat, (0, pw, 0, ph), mode="reflect" if _mirrored(h, w, ph, pw) else "replicate")
    return out.reshape(*lead, height, width)


def pad_plane(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """`pad_to` for one plane (H, W) in NumPy: the same values, without torch (for threads that
    must not start torch's own worker threads)."""
    h, w = plane.shape
    ph, pw = height - h, width - w
    if ph == 0 and pw == 0:
        return plane
    border = cv2.BORDER_REFLECT_101 if _mirrored(h, w, ph, pw) else cv2.BORDER_REPLICATE
    return cv2.copyMakeBorder(plane, 0, ph, 0, pw, border)


def _mirrored(h: int, w: int, ph: int, pw: int) -> bool:
    """Whether padding by (ph, pw) mirrors the frame (it is large enough) or repeats its edge."""
    return ph < h and pw < w
