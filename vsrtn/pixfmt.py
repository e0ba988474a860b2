"""PyAV frames in vsrtn's working formats: planar YUV or gray at the source's bit depth.

The luma plane is exchanged with the engines as float32 [0, 1] (full range); chroma is carried
over bit for bit, or made from predicted Lab color (`with_color`).
"""
from __future__ import annotations

import re

import av
import numpy as np

from vsrtn.color import chroma_codes, color_matrix, luma_to_unit, unit_to_luma

_PLANAR = re.compile(r"(yuv(420|422|444|440|411|410)p|gray)(9|10|12|14|16)?(le)?")


def planar_equivalent(fmt: av.VideoFormat) -> str:
    """A planar little-endian YUV / gray format with the source's subsampling and bit depth."""
    name = fmt.name
    if _PLANAR.fullmatch(name) and (name.endswith("le") or fmt.components[0].bits <= 8):
        return name
    if name.startswith("yuvj"):
        return name.replace("yuvj", "yuv")  # the range travels in color_range
    bits = max(c.bits for c in fmt.components)
    depth = "" if bits <= 8 else "10le" if bits <= 10 else "12le" if bits <= 12 else "16le"
    if len(fmt.components) <= 2 and not fmt.is_rgb:
        return f"gray{depth}"
    sub = re.match(r"(yuv|yuva)(420|422|444|440)p", name)
    if sub:
        return f"yuv{sub.group(2)}p{depth}"
    if name.startswith(("nv12", "nv21", "p010", "p012", "p016")):
        return f"yuv420p{depth}"
    if name.startswith(("nv16", "nv20", "yuyv422", "uyvy422", "p210", "p216", "y210")):
        return f"yuv422p{depth}"
    return f"yuv444p{depth}"  # RGB and anything else: no chroma loss


def _dtype(fmt: av.VideoFormat) -> np.dtype:
    return np.dtype("<u2") if fmt.components[0].bits > 8 else np.dtype(np.uint8)


def plane_array(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Copy of one plane as a (height, width) array."""
    plane = frame.planes[index]
    dtype = _dtype(frame.format)
    raw = np.frombuffer(plane, dtype)
    return raw.reshape(plane.height, plane.line_size // dtype.itemsize)[:, :plane.width].copy()


FULL_RANGE = 2  # PyAV color ranges: 1 = MPEG (limited), 2 = JPEG (full), 0 = unspecified


def is_limited(frame: av.VideoFrame) -> bool:
    # Unspecified follows the video convention: limited.
    return int(frame.color_range or 0) != FULL_RANGE


def luma_of(frame: av.VideoFrame) -> np.ndarray:
    """The frame's luma as float32 [0, 1], full range."""
    bits = frame.format.components[0].bits
    return luma_to_unit(plane_array(frame, 0), bits, False, is_limited(frame))


def new_frame(like: av.VideoFrame, fmt_name: str, planes: list[np.ndarray]) -> av.VideoFrame:
    """A frame of format `fmt_name` made of `planes`, with `like`'s timestamps and color metadata."""
    out = av.VideoFrame(like.width, like.height, fmt_name)
    for dst, values in zip(out.planes, planes):
        stride = dst.line_size // values.dtype.itemsize
        if stride == dst.width:
            dst.update(np.ascontiguousarray(values))
        else:
            padded = np.zeros((dst.height, stride), values.dtype)
            padded[:, :dst.width] = values
            dst.update(padded)
    out.pts, out.time_base = like.pts, like.time_base
    for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
        try:
            setattr(out, attr, getattr(like, attr))
        except (AttributeError, ValueError):
            pass
    return out


def with_luma(frame: av.VideoFrame, y: np.ndarray) -> av.VideoFrame:
    """A new frame like `frame` (format, chroma, timestamps, color metadata) with luma `y`."""
    fmt = frame.format
    luma = unit_to_luma(y, fmt.components[0].bits, False, is_limited(frame), _dtype(fmt))
    return new_frame(frame, fmt.name, [luma, *[plane_array(frame, i) for i in range(1, len(frame.planes))]])


def color_format(pix_fmt: str) -> str:
    """The working format of a colorized frame: YUV stays; gray becomes 4:4:4 at its depth."""
    if pix_fmt.startswith("yuv"):
        return pix_fmt
    bits = av.VideoFormat(pix_fmt).components[0].bits
    return "yuv444p" if bits == 8 else f"yuv444p{bits}le"


def with_color(frame: av.VideoFrame, ab: np.ndarray) -> av.VideoFrame:
    """A frame with `frame`'s luma plane untouched, bit for bit, and chroma from the Lab color
    `ab` (2, H, W), in the frame's matrix (BT.709 when unspecified); gray frames become 4:4:4."""
    fmt = frame.format
    bits, dtype, limited = fmt.components[0].bits, _dtype(fmt), is_limited(frame)
    matrix = color_matrix(int(frame.colorspace))
    name = color_format(fmt.name)
    cb_plane = av.VideoFormat(name, frame.width, frame.height).components[1]
    chroma = chroma_codes(luma_of(frame), ab, matrix, (cb_plane.width, cb_plane.height), bits, False, limited, dtype)
    planes = [plane_array(frame, 0), *chroma]
    out = new_frame(frame, name, planes)
    if matrix != int(frame.colorspace):
        out.colorspace = matrix
    return out
