"""Grain retention: put a share of the source's fine film grain back on a restored frame.

RTN removes grain along with the damage. Archives often want the film's grain kept (it is part
of the picture, and no-reference measures such as NIQE read a grainless frame as unnatural), so
this hands back the fine-scale part of what restoration took out of a frame, leaving out
what stands out from that frame's grain: dust, dirt, scratches and other damage. Only detail
finer than GRAIN_SIGMA comes back, so flicker and blotches (low-frequency) stay removed. What
comes back is the source's own fine texture, its softness included. A pure function of one
frame and its restoration.
"""
from __future__ import annotations

import cv2
import numpy as np

GRAIN_SIGMA = 2.0  # px: the removed detail finer than this Gaussian scale counts as grain
OUTLIER_MADS = 3.0  # removed detail beyond this many robust deviations of the frame's is damage


def retain(restored: np.ndarray, source: np.ndarray, amount: float) -> np.ndarray:
    """`restored` (H, W, [0, 1]) plus `amount` (0..1) of the fine detail restoration removed from
    `source`, without damage: values standing out from the frame's grain are faded out with a
    one-pixel margin, so a dust speck leaves no ring."""
    if amount <= 0:
        return restored
    removed = np.asarray(source, np.float32) - restored
    fine = removed - cv2.GaussianBlur(removed, (0, 0), GRAIN_SIGMA, borderType=cv2.BORDER_REFLECT)
    magnitude = np.abs(fine)
    limit = OUTLIER_MADS * 1.4826 * float(np.median(magnitude)) + 1e-6  # 1.4826 MAD ~ one std
    near_max = cv2.dilate(magnitude, np.ones((3, 3), np.uint8))
    # Full weight within the limit, fading to none at twice it.
    weight = np.clip(2.0 - near_max / limit, 0.0, 1.0)
    return np.clip(restored + amount * weight * fine, 0.0, 1.0).astype(np.float32)
