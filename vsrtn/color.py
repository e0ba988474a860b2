"""Sample-value and color-space conversions: clip planes <-> [0, 1], sRGB <-> Lab, RGB <-> YCbCr."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the Lab conversions take tensors; the rest of vsrtn's media code runs without torch
    import torch


def _code_range(bits: int, limited: bool, chroma: bool) -> tuple[float, float]:
    """(scale, offset) of integer codes: code = value * scale + offset, value in [0, 1] for luma
    and [-0.5, 0.5] for chroma. Limited range: luma 16..235, chroma 16..240 at 8 bits (scaled)."""
    if limited:
        step = float(1 << (bits - 8))
        return (224.0 * step, 128.0 * step) if chroma else (219.0 * step, 16.0 * step)
    return float((1 << bits) - 1), float(1 << (bits - 1)) if chroma else 0.0


def _to_unit(plane: np.ndarray, bits: int, is_float: bool, limited: bool, chroma: bool) -> np.ndarray:
    if is_float:
        return np.asarray(plane, dtype=np.float32)
    scale, offset = _code_range(bits, limited, chroma)
    x = np.asarray(plane).astype(np.float32)  # a new array, so the arithmetic below runs in place
    x -= offset
    x /= scale
    return x


def _to_codes(v: np.ndarray, bits: int, is_float: bool, limited: bool, dtype: np.dtype, chroma: bool) -> np.ndarray:
    if is_float:
        return np.asarray(v, dtype=dtype)
    scale, offset = _code_range(bits, limited, chroma)
    codes = np.multiply(v, scale, dtype=np.float32)  # one temporary, worked on in place
    codes += offset
    np.rint(codes, out=codes)
    np.clip(codes, 0, (1 << bits) - 1, out=codes)
    return codes.astype(dtype)


def luma_to_unit(plane: np.ndarray, bits: int, is_float: bool, limited: bool) -> np.ndarray:
    """Plane of any VapourSynth sample type -> float32 in [0, 1] (full range).

    Integer limited-range luma (16..235 at 8 bits, scaled for higher depths) is stretched to full
    range, because the network was trained on full-range images.
    """
    return _to_unit(plane, bits, is_float, limited, chroma=False)


def unit_to_luma(y: np.ndarray, bits: int, is_float: bool, limited: bool, dtype: np.dtype) -> np.ndarray:
    """Inverse of `luma_to_unit`: rounded and clipped to the legal code range of the format."""
    return _to_codes(y, bits, is_float, limited, dtype, chroma=False)


def chroma_to_unit(plane: np.ndarray, bits: int, is_float: bool, limited: bool) -> np.ndarray:
    """Cb/Cr plane of any sample type -> float32 in [-0.5, 0.5]."""
    return _to_unit(plane, bits, is_float, limited, chroma=True)


def unit_to_chroma(c: np.ndarray, bits: int, is_float: bool, limited: bool, dtype: np.dtype) -> np.ndarray:
    """Inverse of `chroma_to_unit`, rounded and clipped to the format's code range."""
    return _to_codes(c, bits, is_float, limited, dtype, chroma=True)


# ---------------------------------------------------------------- CIE Lab (sRGB primaries, D65)
# Same constants as OpenCV's float RGB<->Lab, so results can be checked against cv2.cvtColor.
_RGB_TO_XYZ = [[0.412453, 0.357580, 0.180423],
               [0.212671, 0.715160, 0.072169],
               [0.019334, 0.119193, 0.950227]]
_WHITE = [0.950456, 1.0, 1.088754]
AB_SCALE = 110.0  # |a|, |b| of sRGB colors stay below this: the network's ab unit


def _srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return (c / 12.92).where(c <= 0.04045, ((c.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    c = c.clamp(0, 1)
    return (c * 12.92).where(c <= 0.0031308, 1.055 * c.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def _f(t: torch.Tensor) -> torch.Tensor:
    return (t.clamp(min=1e-12) ** (1 / 3)).where(t > 0.008856, 7.787 * t + 16 / 116)


def _f_inv(f: torch.Tensor) -> torch.Tensor:
    return (f ** 3).where(f > 0.206893, (f - 16 / 116) / 7.787)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in [0, 1] -> Lab (L in 0..100, a and b about -110..110)."""
    import torch

    lin = _srgb_to_linear(rgb.float())
    xyz = torch.einsum("ij,...jhw->...ihw", torch.tensor(_RGB_TO_XYZ, device=lin.device), lin)
    fx, fy, fz = _f(xyz / torch.tensor(_WHITE, device=lin.device).view(3, 1, 1)).unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_lab`; out-of-gamut colors are clipped to [0, 1]."""
    import torch

    L, a, b = lab.float().unbind(-3)
    fy = (L + 16) / 116
    xyz = torch.stack([_f_inv(fy + a / 500), _f_inv(fy), _f_inv(fy - b / 200)], dim=-3)
    xyz = xyz * torch.tensor(_WHITE, device=lab.device).view(3, 1, 1)
    lin = torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(torch.tensor(_RGB_TO_XYZ)).to(lab.device), xyz)
    return _linear_to_srgb(lin)


def gray_to_lightness(y: torch.Tensor) -> torch.Tensor:
    """Gray (R'=G'=B'=y) in [0, 1] -> its Lab lightness L (0..100), any shape."""
    return 116 * _f(_srgb_to_linear(y.float())) - 16


# ---------------------------------------------------------------- Y'CbCr <-> R'G'B'
# (Kr, Kb) by matrix code (the `_Matrix` frame prop): BT.709, BT.470BG, SMPTE 170M, BT.2020 NCL/CL.
LUMA_COEFFS = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593),
               10: (0.2627, 0.0593)}
DEFAULT_MATRIX = 1  # BT.709 when a clip does not say


def color_matrix(code: int) -> int:
    """The matrix chroma is written in for a `_Matrix`/colorspace code: the code itself when known,
    else BT.709 (also for 0 = RGB and 2 = unspecified)."""
    return code if code in LUMA_COEFFS else DEFAULT_MATRIX


def luma_coefficients(matrix: int) -> tuple[float, float]:
    """(Kr, Kb) of a VapourSynth/ITU matrix code; unknown or unspecified codes use BT.709."""
    return LUMA_COEFFS.get(matrix, LUMA_COEFFS[DEFAULT_MATRIX])


def rgb_to_ycbcr(rgb: np.ndarray, matrix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) R'G'B' in [0, 1] -> Y in [0, 1], Cb and Cr in [-0.5, 0.5]."""
    kr, kb = luma_coefficients(matrix)
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = kr * r + (1 - kr - kb) * g + kb * b
    return y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, matrix: int) -> np.ndarray:
    """Inverse of `rgb_to_ycbcr` -> (H, W, 3), clipped to [0, 1]."""
    kr, kb = luma_coefficients(matrix)
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.stack([r, g, b], -1), 0, 1).astype(np.float32)


def rgb_luma(rgb: torch.Tensor, matrix: int = DEFAULT_MATRIX) -> torch.Tensor:
    """(..., 3, H, W) R'G'B' -> (..., 1, H, W) luma Y' of `matrix` (BT.709 by default)."""
    kr, kb = luma_coefficients(matrix)
    return kr * rgb[..., 0:1, :, :] + (1 - kr - kb) * rgb[..., 1:2, :, :] + kb * rgb[..., 2:3, :, :]


def luma_ab_to_rgb(y: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Gray luma (H, W) in [0, 1] with color ab (2, H, W) -> R'G'B' (H, W, 3) in [0, 1]."""
    from vsrtn.engine import on_torch_thread  # torch's CPU kernels run on one thread (see there)

    return on_torch_thread(_luma_ab_to_rgb, y, ab)


def _luma_ab_to_rgb(y: np.ndarray, ab: np.ndarray) -> np.ndarray:
    import torch

    light = gray_to_lightness(torch.tensor(y, dtype=torch.float32))  # a copy: frames may be read-only
    lab = torch.cat([light[None], torch.tensor(ab, dtype=torch.float32)], 0)
    return lab_to_rgb(lab).permute(1, 2, 0).numpy()


def ab_to_chroma(y: np.ndarray, ab: np.ndarray, matrix: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cb and Cr in [-0.5, 0.5] of luma y (H, W) colored with ab (2, H, W), in `matrix`, at the
    chroma plane size `size` (width, height; area-averaged when subsampled)."""
    import cv2

    _, cb, cr = rgb_to_ycbcr(luma_ab_to_rgb(y, ab), matrix)
    if size != (y.shape[1], y.shape[0]):
        cb, cr = (cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in (cb, cr))
    return cb, cr


def chroma_codes(y: np.ndarray, ab: np.ndarray, matrix: int, size: tuple[int, int], bits: int, is_float: bool,
                 limited: bool, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Cb and Cr sample planes (`dtype`, `bits`, range) of luma y (H, W) in [0, 1] colored with
    ab (2, H, W), at the chroma plane size `size` (width, height): the one path by which the
    plugin and the command line write predicted color."""
    cb, cr = ab_to_chroma(y, ab, matrix, size)
    return (unit_to_chroma(cb, bits, is_float, limited, dtype), unit_to_chroma(cr, bits, is_float, limited, dtype))
