"""Sample-value conversions between a clip's luma plane and the network's [0, 1] range."""
from __future__ import annotations

import numpy as np


def luma_to_unit(plane: np.ndarray, bits: int, is_float: bool, limited: bool) -> np.ndarray:
    """Plane of any VapourSynth sample type -> float32 in [0, 1] (full range).

    Integer limited-range luma (16..235 at 8 bits, scaled for higher depths) is stretched to full
    range, because the network was trained on full-range images.
    """
    if is_float:
        return np.asarray(plane, dtype=np.float32)
    x = np.asarray(plane, dtype=np.float32)
    if limited:
        scale = float(1 << (bits - 8))
        return (x - 16.0 * scale) / (219.0 * scale)
    return x / float((1 << bits) - 1)


def unit_to_luma(y: np.ndarray, bits: int, is_float: bool, limited: bool, dtype: np.dtype) -> np.ndarray:
    """Inverse of `luma_to_unit`: rounded and clipped to the legal code range of the format."""
    if is_float:
        return np.asarray(y, dtype=dtype)
    if limited:
        scale = float(1 << (bits - 8))
        code = y * (219.0 * scale) + 16.0 * scale
    else:
        code = y * float((1 << bits) - 1)
    return np.clip(np.rint(code), 0, (1 << bits) - 1).astype(dtype)
