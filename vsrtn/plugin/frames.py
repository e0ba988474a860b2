"""VapourSynth frames in and out of vsrtn: luma (and RGB) read as float32 [0, 1] in the frame's
own range and matrix, results written back at the clip's depth, and the checks a clip must pass.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import vapoursynth as vs

from vsrtn.color import (
    DEFAULT_MATRIX,
    chroma_codes,
    chroma_to_unit,
    color_matrix,
    luma_ab_to_rgb,
    luma_coefficients,
    luma_to_unit,
    unit_to_luma,
    ycbcr_to_rgb,
)

# The range frame prop: `_Range` (RANGE_LIMITED = 0, RANGE_FULL = 1) since VapourSynth replaced
# `_ColorRange` (0 = full, 1 = limited). Reading the old name on a new core returns the new
# value unconverted, so the key and its values come from the running core's own enum.
RANGE_PROP = "_Range" if int(vs.RANGE_LIMITED) == 0 else "_ColorRange"


def range_limited(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> bool:
    """Limited (TV) range? From the range prop; absent: limited for integer YUV/GRAY, full for
    RGB and float."""
    value = frame.props.get(RANGE_PROP)
    if value is not None:
        return int(value) == int(vs.RANGE_LIMITED)
    return fmt.sample_type == vs.INTEGER and fmt.color_family != vs.RGB


def set_range(frame: vs.VideoFrame, limited: bool) -> None:
    frame.props[RANGE_PROP] = vs.RANGE_LIMITED if limited else vs.RANGE_FULL


def frame_luma(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> np.ndarray:
    """The frame's luma as float32 [0, 1] (for RGB: Y of the frame's matrix)."""
    is_float = fmt.sample_type == vs.FLOAT
    if fmt.color_family != vs.RGB:
        return luma_to_unit(np.asarray(frame[0]), fmt.bits_per_sample, is_float, range_limited(frame, fmt))
    r, g, b = (luma_to_unit(np.asarray(frame[p]), fmt.bits_per_sample, is_float, False) for p in range(3))
    kr, kb = luma_coefficients(int(frame.props.get("_Matrix", DEFAULT_MATRIX)))
    return kr * r + (1 - kr - kb) * g + kb * b


def write_luma(src: vs.VideoFrame, fmt: vs.VideoFormat, y: np.ndarray) -> vs.VideoFrame:
    """Copy of `src` with its luma replaced (chroma untouched; RGB moved along the luma axis only)."""
    out = src.copy()
    is_float = fmt.sample_type == vs.FLOAT
    bits = fmt.bits_per_sample
    if fmt.color_family != vs.RGB:
        plane = np.asarray(out[0])
        np.copyto(plane, unit_to_luma(y, bits, is_float, range_limited(src, fmt), plane.dtype))
        return out
    delta = y - frame_luma(src, fmt)  # U and V unchanged <=> R, G, B all move by the luma change
    for p in range(3):
        plane = np.asarray(out[p])
        unit = luma_to_unit(np.asarray(src[p]), bits, is_float, False) + delta
        np.copyto(plane, unit_to_luma(unit, bits, is_float, False, plane.dtype))
    return out


def frame_rgb(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> np.ndarray:
    """A color frame (RGB or YUV, any depth and subsampling) as R'G'B' (H, W, 3) float32 in [0, 1]."""
    is_float, bits = fmt.sample_type == vs.FLOAT, fmt.bits_per_sample
    if fmt.color_family == vs.RGB:
        return np.stack([luma_to_unit(np.asarray(frame[p]), bits, is_float, False) for p in range(3)], -1)
    import cv2

    limited = range_limited(frame, fmt)
    y = luma_to_unit(np.asarray(frame[0]), bits, is_float, limited)
    h, w = y.shape
    cb, cr = (cv2.resize(chroma_to_unit(np.asarray(frame[p]), bits, is_float, limited), (w, h),
                         interpolation=cv2.INTER_LINEAR) for p in (1, 2))
    return ycbcr_to_rgb(y, cb, cr, int(frame.props.get("_Matrix", DEFAULT_MATRIX)))


def write_color(out: vs.VideoFrame, out_fmt: vs.VideoFormat, src: vs.VideoFrame, fmt: vs.VideoFormat,
                  ab: np.ndarray) -> None:
    """Fill `out` (YUV or RGB) from the source's luma and the predicted ab."""
    is_float, bits = out_fmt.sample_type == vs.FLOAT, out_fmt.bits_per_sample
    y = frame_luma(src, fmt)
    if out_fmt.color_family == vs.RGB:
        rgb = luma_ab_to_rgb(y, ab)
        for p in range(3):
            plane = np.asarray(out[p])
            np.copyto(plane, unit_to_luma(rgb[..., p], bits, is_float, False, plane.dtype))
        out.props["_Matrix"] = 0
        set_range(out, False)
        return
    from_rgb = fmt.color_family == vs.RGB
    matrix = DEFAULT_MATRIX if from_rgb else color_matrix(int(src.props.get("_Matrix", DEFAULT_MATRIX)))
    limited = not is_float if from_rgb else range_limited(src, fmt)
    luma = np.asarray(out[0])
    if from_rgb:
        np.copyto(luma, unit_to_luma(y, bits, is_float, limited, luma.dtype))
    else:  # the source's luma plane, bit for bit
        np.copyto(luma, np.asarray(src[0]))
    height, width = np.asarray(out[1]).shape
    dtype = np.asarray(out[1]).dtype
    for p, c in zip((1, 2), chroma_codes(y, ab, matrix, (width, height), bits, is_float, limited, dtype)):
        np.copyto(np.asarray(out[p]), c)
    out.props["_Matrix"] = matrix
    set_range(out, limited)


def props_say_cut(earlier: vs.VideoFrame, later: vs.VideoFrame) -> bool | None:
    """What two neighbouring frames' scene-change props say of the pair: None where neither has one."""
    prev, nxt = later.props.get("_SceneChangePrev"), earlier.props.get("_SceneChangeNext")
    if prev is None and nxt is None:
        return None
    return bool(prev) or bool(nxt)


INTERLACED_HELP = ("deinterlace it first (e.g. QTGMC from havsfunc, or core.bwdif.Bwdif), or, if the "
                   "film is progressive and only flagged otherwise, clip = core.std.SetFieldBased(clip, 0)")


def check_progressive(frame: vs.VideoFrame, n: int, func: str) -> None:
    if int(frame.props.get("_FieldBased", 0)) != 0:
        raise vs.Error(f"{func}: frame {n} of 'clip' is interlaced (_FieldBased="
                       f"{int(frame.props['_FieldBased'])}); vsrtn restores progressive frames: {INTERLACED_HELP}")


def check_clip(clip: Any, func: str) -> vs.VideoFormat:
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error(f"{func}: 'clip' must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    fmt = clip.format
    if fmt is None or fmt.color_family == vs.UNDEFINED or clip.width == 0 or clip.height == 0:
        raise vs.Error(f"{func}: 'clip' must have a constant format and size (use resize to make it constant)")
    if fmt.color_family not in (vs.GRAY, vs.YUV, vs.RGB):
        raise vs.Error(f"{func}: 'clip' must be GRAY, YUV or RGB, got {fmt.name}")
    ok = (fmt.sample_type == vs.INTEGER and 8 <= fmt.bits_per_sample <= 16) or \
         (fmt.sample_type == vs.FLOAT and fmt.bits_per_sample in (16, 32))
    if not ok:
        raise vs.Error(f"{func}: 'clip' must be 8-16 bit integer or 16/32 bit float, got {fmt.name}")
    if clip.num_frames < 1:
        raise vs.Error(f"{func}: 'clip' must have at least 1 frame")
    check_progressive(clip.get_frame(0), 0, func)  # decoded once, now, so a wrong source fails early
    return fmt
