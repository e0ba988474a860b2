"""vsrtn.media and vsrtn.pixfmt: working pixel formats, encoder formats, gray files read and written by range."""
from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest
import vapoursynth as vs

from vsrtn.media import choose_pix_fmt
from vsrtn.pixfmt import planar_equivalent


@pytest.mark.parametrize("src,expected", [
    ("yuv420p", "yuv420p"), ("yuv420p10le", "yuv420p10le"), ("yuvj420p", "yuv420p"), ("nv12", "yuv420p"),
    ("p010le", "yuv420p10le"), ("yuyv422", "yuv422p"), ("rgb24", "yuv444p"), ("gbrp10le", "yuv444p10le"),
    ("gray", "gray"), ("gray16le", "gray16le"), ("yuv444p16be", "yuv444p16le"), ("yuva420p", "yuv420p"),
])
def test_working_formats(src, expected):
    assert planar_equivalent(av.VideoFormat(src)) == expected


@pytest.mark.parametrize("encoder,wanted,expected", [
    ("x264", "yuv420p10le", "yuv420p10le"), ("x264", "yuv444p16le", "yuv444p10le"),
    ("x264", "gray16le", "gray10le"), ("prores", "yuv420p", "yuv422p10le"), ("ffv1", "yuv444p16le", "yuv444p16le"),
])
def test_encoder_pixel_formats(encoder, wanted, expected):
    assert choose_pix_fmt(encoder, wanted) == expected


core = vs.core


def test_write_gray_files_read_back_as_full_range(tmp_path):
    """Our tools' gray FFV1 files hold full-range values: untagged, VapourSynth and the CLI
    would read them as limited range and the restorer would see stretched, clipped pictures."""
    from vsrtn.media import write_gray
    from vsrtn.pixfmt import luma_of
    from vsrtn.plugin.frames import RANGE_PROP, range_limited

    ramp = np.tile(np.arange(256, dtype=np.float32) / 255, (16, 1))
    path = tmp_path / "ramp.mkv"
    write_gray([ramp, ramp], path)
    clip = core.bs.VideoSource(str(path))
    frame = clip.get_frame(0)
    assert int(frame.props[RANGE_PROP]) == int(vs.RANGE_FULL) and not range_limited(frame, clip.format)
    with av.open(str(path)) as c:
        assert np.array_equal(luma_of(next(c.decode(video=0))), ramp)


def test_read_gray_reads_codes_by_the_stream_range(tmp_path):
    """A full-range gray file made limited-range or full-range YUV by ffmpeg reads back as the
    same picture."""
    from vsrtn.media import read_gray, write_gray

    ramp = np.tile(np.arange(256, dtype=np.float32) / 255, (16, 1))
    gray = tmp_path / "ramp.mkv"
    write_gray([ramp], gray)
    assert np.array_equal(read_gray(gray)[0], ramp)
    for pix_fmt, tolerance in (("yuv420p", 1.5 / 219), ("yuvj420p", 1.5 / 255)):  # one code: 1/219, 1/255
        yuv = tmp_path / f"{pix_fmt}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(gray), "-c:v", "libx264", "-qp", "0", "-pix_fmt", pix_fmt,
                        str(yuv)], check=True)
        assert np.abs(read_gray(yuv)[0] - ramp).max() < tolerance, pix_fmt
