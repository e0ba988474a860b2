"""vsrtn.Colorize inside VapourSynth: luma kept bit for bit, chroma added, cuts, errors, vspipe."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import vapoursynth as vs

from conftest import H, W, colored, moving_clip

core = vs.core


def gray_clip(fmt=vs.GRAY8, n=8):
    frames = moving_clip(n, H, W)
    clip = core.std.BlankClip(format=fmt, width=W, height=H, length=n)
    fmt = clip.format
    peak = (1 << fmt.bits_per_sample) - 1

    def put(n, f):
        out, k = f.copy(), n
        luma = frames[k] if fmt.sample_type == vs.FLOAT else np.rint(frames[k] * peak)
        for p in range(fmt.num_planes):
            plane = np.asarray(out[p])
            if p == 0 or fmt.color_family == vs.RGB:
                np.copyto(plane, luma.astype(plane.dtype))
            else:  # neutral chroma
                plane[:] = 0 if fmt.sample_type == vs.FLOAT else 1 << (fmt.bits_per_sample - 1)
        return out

    return clip.std.ModifyFrame(clip, put), frames


def _fill_rgb(frame, rgb):
    out = frame.copy()
    for p in range(3):
        np.copyto(np.asarray(out[p]), rgb[..., p])
    return out


@pytest.mark.parametrize("fmt,out_name", [(vs.GRAY8, "YUV444P8"), (vs.YUV420P10, "YUV420P10"),
                                          (vs.GRAY16, "YUV444P16"), (vs.GRAYS, "YUV444PS")])
def test_colorize_keeps_luma_bit_exact_and_adds_chroma(fmt, out_name, color_weights, key_png):
    import vsrtn

    clip, _ = gray_clip(fmt)
    out = vsrtn.Colorize(clip, str(key_png), ref_frames=[0], weights=str(color_weights), device="cpu",
                         window=4, context=2)
    assert out.format.name == out_name and out.num_frames == clip.num_frames
    for n in (0, 5):
        f, src = out.get_frame(n), clip.get_frame(n)
        assert np.array_equal(np.asarray(f[0]), np.asarray(src[0]))
        mid = 0.0 if fmt == vs.GRAYS else 1 << (out.format.bits_per_sample - 1)
        assert np.abs(np.asarray(f[1]).astype(np.float64) - mid).mean() > (0.01 if fmt == vs.GRAYS else 2)
        assert f.props["vsrtn_references"] == 1 and f.props["_Matrix"] == 1


def test_colorize_rgb_output_reference_clip_and_request_order(color_weights):
    import vsrtn

    clip, frames = gray_clip(vs.GRAY8, 10)
    keys = np.stack([colored(frames[0], 0.5), colored(frames[9], 2.0)])
    ref = core.std.BlankClip(format=vs.RGBS, width=W, height=H, length=2)
    ref = ref.std.ModifyFrame(ref, lambda n, f: _fill_rgb(f, keys[n]))
    kw = dict(ref=ref, ref_frames=[0, 9], weights=str(color_weights), device="cpu", window=4, context=2)
    rgb = vsrtn.Colorize(clip, output="rgb", **kw)
    assert rgb.format.name == "RGB24"
    linear = [np.stack([np.asarray(rgb.get_frame(n)[p]) for p in range(3)]) for n in range(10)]
    again = vsrtn.Colorize(clip, output="rgb", **kw)
    for n in [7, 2, 9, 0, 5, 3, 1, 8, 6, 4]:
        assert np.array_equal(np.stack([np.asarray(again.get_frame(n)[p]) for p in range(3)]), linear[n])
    # The keyframe's frame shows the keyframe's color (within the tiny model's correction).
    assert np.abs(linear[0].transpose(1, 2, 0) / 255.0 - keys[0]).mean() < 0.08


def test_colorize_stops_a_keyframe_at_a_cut_prop_outside_the_window(color_weights):
    import vsrtn

    clip, frames = gray_clip(vs.GRAY8, 12)
    clip = clip[:6] + clip[6].std.SetFrameProps(_SceneChangePrev=1) + clip[7:]
    ref = core.std.BlankClip(format=vs.RGBS, width=W, height=H, length=1)
    runs = []
    for hue in (0.5, 2.5):  # only the first shot's keyframe changes
        key = ref.std.ModifyFrame(ref, lambda n, f, hue=hue: _fill_rgb(f, colored(frames[0], hue)))
        out = vsrtn.Colorize(clip, key, ref_frames=0, weights=str(color_weights), device="cpu", window=4, context=1)
        runs.append([np.asarray(out.get_frame(n)[1]).copy() for n in (11, 9, 0, 6)])  # window [8, 12) first
    assert not np.array_equal(runs[0][2], runs[1][2])
    # Frames 8-11 are windowed apart from the cut at 6; the keyframe's chain meets it on the way.
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][:2] + runs[0][3:], runs[1][:2] + runs[1][3:]))


@pytest.mark.parametrize("kwargs,message", [
    (dict(ref="/nonexistent/key.png"), "'ref' must be readable color image files"),
    (dict(ref=42), "'ref' must be a color clip, an image file or a list of image files"),
    (dict(ref_frames=[99]), "'ref_frames' must be frame numbers in 0..7"),
    (dict(ref_frames=[0, 1]), "'ref_frames' must be one frame number per reference"),
    (dict(output="lab"), "'output' must be 'yuv', 'rgb' or None"),
    (dict(weights="rtn-compact"), "'weights' must be colorization weights"),
])
def test_colorize_errors_at_evaluation(kwargs, message, color_weights, key_png):
    import vsrtn

    clip, _ = gray_clip()
    kw = {"ref": str(key_png), "weights": str(color_weights), "device": "cpu", **kwargs}
    with pytest.raises(vs.Error, match=r"^vsrtn\.Colorize: " + message.replace("(", r"\(").replace(".", r"\.")):
        vsrtn.Colorize(clip, **kw)


def test_colorize_refuses_a_gray_reference_clip(color_weights):
    import vsrtn

    clip, _ = gray_clip()
    with pytest.raises(vs.Error, match="'ref' must be a color"):
        vsrtn.Colorize(clip, clip, weights=str(color_weights))


def test_colorize_through_vspipe_y4m(tmp_path, color_weights, key_png):
    """A .vpy with Colorize piped as y4m: a clean 4:4:4 stream equal to the in-process frames."""
    from pathlib import Path

    import vsrtn

    from conftest import parse_y4m, write_script

    body = (f"clip = vsrtn.Colorize(src.std.ShufflePlanes(0, vs.GRAY), {str(key_png)!r}, ref_frames=[0], weights=W, "
            "window=4, context=2)")
    script = write_script(tmp_path, str(color_weights), body=body, src="textured(vs.YUV420P8, 64, 48, 5)")
    venv_bin = Path(sys.executable).parent
    res = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", script, "-"], capture_output=True)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b" C444" in res.stdout.partition(b"\n")[0]
    frames = parse_y4m(res.stdout, 64, 48, chroma_div=1)
    from vsclips import textured

    src = textured(vs.YUV420P8, 64, 48, 5).std.ShufflePlanes(0, vs.GRAY)
    clip = vsrtn.Colorize(src, str(key_png), ref_frames=[0], weights=str(color_weights), window=4, context=2)
    assert len(frames) == 5
    for n, data in enumerate(frames):
        f = clip.get_frame(n)
        assert data == b"".join(np.asarray(f[p]).tobytes() for p in range(3))
