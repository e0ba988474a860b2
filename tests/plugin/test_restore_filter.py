"""vsrtn.Restore inside VapourSynth: formats, scheduling, pipes into ffmpeg and x264, errors."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsrtn

from conftest import ROOT, parse_y4m, write_script
from test_cli import run
from vsclips import textured

core = vs.core


def frames_of(clip: vs.VideoNode, order=None) -> list[list[np.ndarray]]:
    order = range(clip.num_frames) if order is None else order
    got = {}
    for n in order:
        f = clip.get_frame(int(n))
        got[int(n)] = [np.asarray(f[p]).copy() for p in range(f.format.num_planes)]
    return [got[n] for n in range(clip.num_frames)]


def restore(clip, weights, **kw):
    kw.setdefault("window", 4)
    kw.setdefault("context", 2)
    return vsrtn.Restore(clip, weights=weights, **kw)


def test_vspipe_y4m_is_clean_and_equals_in_process(tmp_path, tiny_weights, venv_bin):
    script = write_script(tmp_path, tiny_weights)
    out = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", script, "-"], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    raw = parse_y4m(out.stdout, 64, 48)  # fails on any stray byte
    expected = frames_of(restore(textured(vs.YUV420P8, 64, 48, 7), tiny_weights))
    assert len(raw) == 7
    for got, exp in zip(raw, expected):
        assert got == b"".join(p.tobytes() for p in exp)


def test_vspipe_into_ffmpeg_and_x264(tmp_path, tiny_weights, venv_bin):
    script = write_script(tmp_path, tiny_weights)
    expected = frames_of(restore(textured(vs.YUV420P8, 64, 48, 7), tiny_weights))
    exp_bytes = b"".join(p.tobytes() for f in expected for p in f)
    vspipe = f"{venv_bin / 'vspipe'} -c y4m {script} -"
    ffv1 = tmp_path / "out.mkv"
    subprocess.run(f"{vspipe} | ffmpeg -v error -y -i - -c:v ffv1 {ffv1}", shell=True, check=True)
    h264 = tmp_path / "out.264"
    subprocess.run(f"{vspipe} | x264 --quiet --demuxer y4m --qp 0 --preset ultrafast -o {h264} -", shell=True,
                   check=True)
    for encoded in (ffv1, h264):
        dec = subprocess.run(["ffmpeg", "-v", "error", "-i", str(encoded), "-f", "rawvideo", "-pix_fmt", "yuv420p",
                              "-"], capture_output=True, check=True).stdout
        assert dec == exp_bytes, encoded.name  # both are lossless here: exact frames


def test_vspipe_start_end_and_threads_do_not_change_frames(tmp_path, tiny_weights, venv_bin):
    script = write_script(tmp_path, tiny_weights)
    full = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", "-r", "1", script, "-"], capture_output=True,
                          check=True).stdout
    part = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", "-s", "3", "-e", "5", "-r", "8", script, "-"],
                          capture_output=True, check=True).stdout
    assert parse_y4m(part, 64, 48) == parse_y4m(full, 64, 48)[3:6]


def test_request_order_and_thread_count_do_not_change_frames(tiny_weights):
    src = textured(vs.YUV420P10, 64, 48, 11)
    old = core.num_threads
    try:
        core.num_threads = 1
        linear = frames_of(restore(src, tiny_weights))
        core.num_threads = 8
        shuffled = frames_of(restore(src, tiny_weights), np.random.default_rng(1).permutation(11))
        backwards = frames_of(restore(src, tiny_weights, num_streams=3), range(10, -1, -1))
    finally:
        core.num_threads = old
    for a, b, c in zip(linear, shuffled, backwards):
        assert all(np.array_equal(x, y) and np.array_equal(x, z) for x, y, z in zip(a, b, c))


def test_each_window_is_inferred_once(tiny_weights, monkeypatch):
    from vsrtn.engine import Engine

    calls = []
    original = Engine.run_window

    def counting(self, frames, window, cuts=None, support=None):
        calls.append(window.start)
        return original(self, frames, window, cuts, support)

    monkeypatch.setattr(Engine, "run_window", counting)
    old = core.num_threads
    core.num_threads = 8
    try:
        clip = restore(textured(length=12), tiny_weights)
        frames_of(clip)
    finally:
        core.num_threads = old
    assert sorted(calls) == [0, 4, 8]


@pytest.mark.parametrize("length", [1, 2, 3])
def test_very_short_clips(tiny_weights, length):
    out = frames_of(restore(textured(length=length), tiny_weights, window=12, context=5))
    assert len(out) == length and out[0][0].shape == (48, 64)


@pytest.mark.parametrize("fmt", [vs.GRAY8, vs.GRAY16, vs.GRAYS, vs.YUV420P8, vs.YUV420P10, vs.YUV422P12,
                                 vs.YUV444P16, vs.YUV444PS, vs.YUV444PH])
def test_formats_keep_format_and_chroma(tiny_weights, fmt):
    src = textured(fmt, 62 if fmt in (vs.GRAY8, vs.GRAYS) else 64, 46, 5)
    out = restore(src, tiny_weights)
    assert (out.format.id, out.width, out.height, out.num_frames) == (src.format.id, src.width, src.height, 5)
    a, b = frames_of(src), frames_of(out)
    for fa, fb in zip(a, b):
        assert not np.array_equal(fa[0], fb[0])  # luma restored
        for pa, pb in zip(fa[1:], fb[1:]):
            assert np.array_equal(pa, pb)  # chroma untouched, bit for bit


def test_odd_sizes(tiny_weights):
    src = textured(vs.GRAY8, 37, 29, 4)
    out = frames_of(restore(src, tiny_weights))
    assert out[0][0].shape == (29, 37)


@pytest.mark.parametrize("fmt", [vs.RGB24, vs.RGBS, vs.RGB48])
def test_rgb_moves_only_along_luma(tiny_weights, fmt):
    src = textured(fmt, 64, 48, 4)
    out = restore(src, tiny_weights)
    assert out.format.id == src.format.id
    for fa, fb in zip(frames_of(src), frames_of(out)):
        r, g, b = (p.astype(np.float64) for p in fa)
        r2, g2, b2 = (p.astype(np.float64) for p in fb)
        assert not np.array_equal(r, r2)
        tol = 1e-5 if fmt == vs.RGBS else 1.0  # integer RGB: rounding (and clipping at the ends)
        inside = (r2 > 0) & (g2 > 0) & (b2 > 0) & (r2 < r.max()) & (g2 < g.max()) & (b2 < b.max())
        assert np.abs(((r2 - g2) - (r - g))[inside]).max() <= tol
        assert np.abs(((b2 - g2) - (b - g))[inside]).max() <= tol


def test_props_kept_and_provenance_added(tiny_weights):
    src = textured(length=3).std.SetFrameProps(_Matrix=1, MyProp=7)
    f = restore(src, tiny_weights).get_frame(1)
    assert f.props["MyProp"] == 7 and f.props["_Matrix"] == 1
    assert f.props["vsrtn_weights"] == tiny_weights and f.props["vsrtn_version"] == vsrtn.__version__
    # The medium preset's deflicker radius (5), capped at the context used (2); or as given.
    assert f.props["vsrtn_context"] == 2 and f.props["vsrtn_deflicker"] == 2
    assert restore(src, tiny_weights, deflicker=0).get_frame(1).props["vsrtn_deflicker"] == 0
    assert f.props["vsrtn_grain"] == 0.0
    assert restore(src, tiny_weights, grain=0.5).get_frame(1).props["vsrtn_grain"] == 0.5


def test_default_keeps_the_grain_and_degrain_picks_the_presets_other_network(tmp_path):
    from vsrtn.presets import load_preset

    src = textured(length=3)
    for preset in ("medium", "heavy"):
        section = load_preset(preset)["restore"]
        kept = vsrtn.Restore(src, preset, window=3, context=0)
        clean = vsrtn.Restore(src, preset, window=3, context=0, degrain=True)
        assert kept.get_frame(0).props["vsrtn_weights"] == section["weights"]
        assert clean.get_frame(0).props["vsrtn_weights"] == section["degrain_weights"]
        assert not np.array_equal(frames_of(kept)[0][0], frames_of(clean)[0][0])
    # A user's preset may make grain removal its default.
    own = tmp_path / "clean.yaml"
    own.write_text("base: medium\nrestore:\n  degrain: true\n")
    props = vsrtn.Restore(src, str(own), window=3, context=0).get_frame(0).props
    assert props["vsrtn_weights"] == load_preset("medium")["restore"]["degrain_weights"]


def test_range_prop_decides_how_luma_is_read(tiny_weights):
    from vsrtn.plugin.frames import RANGE_PROP, range_limited

    src = textured(vs.YUV420P8, length=3)
    fmt = src.format
    full = src.std.SetFrameProps(**{RANGE_PROP: vs.RANGE_FULL})
    limited = src.std.SetFrameProps(**{RANGE_PROP: vs.RANGE_LIMITED})
    assert not range_limited(full.get_frame(0), fmt)
    assert range_limited(limited.get_frame(0), fmt) and range_limited(src.get_frame(0), fmt)
    # The same codes read as full or limited range are different pictures, so restore differently.
    a, b = frames_of(restore(full, tiny_weights)), frames_of(restore(limited, tiny_weights))
    assert not np.array_equal(a[0][0], b[0][0])


def test_scene_cuts_from_props_where_present_else_detected_by_default(tiny_weights):
    a = textured(length=10, cut_at=5, seed=1)  # _SceneChangePrev=1 on frame 5, no prop elsewhere
    b = textured(length=10, cut_at=5, seed=1).std.Trim(0, 4) + textured(length=10, seed=9).std.Trim(5, 9)
    b = core.std.Splice([b.std.Trim(0, 4), b.std.Trim(5, 9).std.SetFrameProps(_SceneChangePrev=1)])

    def first_shot_same(x, y, **kw):
        rx, ry = frames_of(restore(x, tiny_weights, **kw)), frames_of(restore(y, tiny_weights, **kw))
        return all(np.array_equal(u[0], v[0]) for u, v in zip(rx[:5], ry[:5]))

    # The props mark the cut: the second shot never reaches the first.
    assert first_shot_same(a, b)
    # No props at all (what bestsource, lsmas and ffms2 give): the detector finds the cut by default...
    bare_a, bare_b = (c.std.RemoveFrameProps(props=["_SceneChangePrev"]) for c in (a, b))
    assert first_shot_same(bare_a, bare_b)
    # ... and without it the later shot leaks into the earlier one.
    assert not first_shot_same(bare_a, bare_b, scene_detect=False)
    # Props win where frames have them, even when they say there is no cut.
    assert not first_shot_same(a.std.SetFrameProps(_SceneChangePrev=0), b.std.SetFrameProps(_SceneChangePrev=0))
    # scene_change=False restores straight through every cut.
    assert not first_shot_same(a, b, scene_change=False)


def test_lowercase_alias():
    assert vsrtn.restore is vsrtn.Restore


@pytest.mark.parametrize("kwargs,message", [
    (dict(clip="nope"), "'clip' must be a vapoursynth.VideoNode"),
    (dict(window=0), "'window' must be an integer in 1..256, got 0"),
    (dict(context=-1), "'context' must be an integer in 0..64"),
    (dict(num_streams=0), "'num_streams' must be an integer in 1..16"),
    (dict(sc_threshold=2.0), "'sc_threshold' must be None or a number in (0, 1]"),
    (dict(scene_detect=1), "'scene_detect' must be True or False"),
    (dict(tile=[8, 8]), "'tile' must be [width, height], each an integer >= 32"),
    (dict(tile_overlap="x"), "'tile_overlap' must be an integer in 0..64, got 'x'"),
    (dict(tile_overlap=float("nan")), "'tile_overlap' must be an integer in 0..64, got nan"),
    (dict(tile_overlap=-1), "'tile_overlap' must be an integer in 0..64, got -1"),
    (dict(tile_overlap=10**9), "'tile_overlap' must be an integer in 0..64"),
    (dict(tile_overlap=2.5), "'tile_overlap' must be an integer in 0..64, got 2.5"),
    (dict(tile_overlap=True), "'tile_overlap' must be an integer in 0..64, got True"),
    (dict(tile=64, tile_overlap=40), "'tile_overlap' must be 0..31 for tile [64, 64], got 40"),
    (dict(window=True), "'window' must be an integer in 1..256, got True"),
    (dict(context=True), "'context' must be an integer in 0..64, got True"),
    (dict(deflicker=True), "'deflicker' must be an integer in 0..context (5), got True"),
    (dict(weights=5), "'weights' must be None, a weights name or a file path, got 5"),
    (dict(weights=b"rtn-compact"), "'weights' must be None, a weights name or a file path, got b'rtn-compact'"),
    (dict(weights="rtn-color-compact"),
     "'weights' must be restoration weights (a network with 3 inputs and 3 outputs)"),
    (dict(device="tpu"), "'device' must be 'cpu', 'cuda' or None (automatic), got 'tpu'"),
    (dict(num_streams=True), "'num_streams' must be an integer in 1..16, got True"),
    (dict(tile="big"), "'tile' must be None, an int or [width, height]"),
    (dict(preset="extreme"), "unknown preset 'extreme' (available: heavy, light, medium"),
    (dict(preset="/nonexistent/p.yaml"), "preset file /nonexistent/p.yaml does not exist"),
    (dict(weights="no-such-weights"), "no weights named 'no-such-weights'"),
    (dict(weights="/nonexistent/w.safetensors"), "weights file /nonexistent/w.safetensors does not exist"),
    (dict(fp16=True), "'fp16' must be False or None on the CPU"),
    (dict(deflicker=6), "'deflicker' must be an integer in 0..context (5), got 6"),
    (dict(context=2, deflicker=3), "'deflicker' must be an integer in 0..context (2), got 3"),
    (dict(deflicker=1.5), "'deflicker' must be an integer in 0..context"),
    (dict(grain=1.5), "'grain' must be a number in 0..1, got 1.5"),
    (dict(grain="some"), "'grain' must be a number in 0..1"),
    (dict(degrain=True), "'degrain' must be None or False when 'weights' names the network, got True"),
    (dict(degrain="yes"), "'degrain' must be None, True or False, got 'yes'"),
])
def test_errors_at_evaluation(tiny_weights, kwargs, message):
    clip = kwargs.pop("clip", textured(length=3))
    kwargs.setdefault("weights", tiny_weights)
    with pytest.raises(vs.Error) as err:
        vsrtn.Restore(clip, **kwargs)
    assert str(err.value).startswith("vsrtn.Restore: ")
    assert message in str(err.value)


def test_format_errors(tiny_weights):
    variable = core.std.Splice([textured(vs.YUV420P8, length=2), textured(vs.GRAY8, length=2)], mismatch=True)
    with pytest.raises(vs.Error, match="constant format and size"):
        vsrtn.Restore(variable, weights=tiny_weights)
    gray32 = core.std.BlankClip(format=core.query_video_format(vs.GRAY, vs.INTEGER, 32, 0, 0).id)
    with pytest.raises(vs.Error, match="8-16 bit integer or 16/32 bit float"):
        vsrtn.Restore(gray32, weights=tiny_weights)


def test_invalid_preset_file(tmp_path, tiny_weights):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restore:\n  window: 999\n")
    with pytest.raises(vs.Error, match=r"'restore.window' must be an integer in 1..256, got 999"):
        vsrtn.Restore(textured(length=3), preset=str(bad), weights=tiny_weights)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_unavailable(tiny_weights):
    with pytest.raises(vs.Error, match="CUDA is not available"):
        vsrtn.Restore(textured(length=3), weights=tiny_weights, device="cuda")


def test_error_in_vspipe_script_is_reported_before_any_output(tmp_path, tiny_weights, venv_bin):
    script = write_script(tmp_path, tiny_weights, body="clip = vsrtn.Restore(src, weights=W, window=0)")
    out = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", script, "-"], capture_output=True)
    assert out.returncode != 0
    assert out.stdout == b""
    assert b"vsrtn.Restore: 'window' must be an integer in 1..256" in out.stderr


def test_example_script_restores_a_real_file(tmp_path, tiny_weights, venv_bin):
    src = tmp_path / "film.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=0.5",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src)], check=True)
    # A relative path is the caller's: vspipe started elsewhere, with the shell's $PWD.
    env = dict(os.environ, PWD=str(tmp_path))
    out = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", str(ROOT / "scripts" / "restore.vpy"),
                          "--arg", "src=film.mp4", "--arg", f"weights={tiny_weights}", "-"],
                         capture_output=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr.decode()
    expected = frames_of(vsrtn.Restore(core.bs.VideoSource(str(src)), weights=tiny_weights))
    got = parse_y4m(out.stdout, 96, 64)
    assert len(got) == len(expected) == 12
    assert all(g == b"".join(p.tobytes() for p in e) for g, e in zip(got, expected))


core = vs.core


@pytest.fixture
def tiny(tiny_weights):
    return tiny_weights


def test_interlaced_input_is_refused_with_a_deinterlacer_named(tiny_weights, tmp_path):
    with pytest.raises(vs.Error, match=r"vsrtn.Restore: frame 0 of 'clip' is interlaced .*bwdif"):
        vsrtn.Restore(textured(length=3).std.SetFieldBased(1), weights=tiny_weights)
    src = tmp_path / "tff.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=0.4",
                    "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264opts", "tff=1", "-field_order", "tt",
                    str(src)], check=True)
    res = run("restore", src, tmp_path / "out.mkv", "--weights", tiny_weights, check=False)
    assert res.returncode == 2 and "interlaced" in res.stderr and not (tmp_path / "out.mkv").exists()


def test_evaluation_errors_name_the_option_once(tiny_weights):
    with pytest.raises(vs.Error, match=r"'seed' must be an integer in 0..2\*\*63-1"):
        vsrtn.Degrade(textured(length=2), seed=2**70)
    variable = core.std.Splice([textured(length=1), textured(vs.RGB24, length=1)], mismatch=True)
    with pytest.raises(vs.Error, match="got 'a clip of variable format or size'"):
        vsrtn.Colorize(textured(length=2), variable, weights=tiny_weights)
    if not torch.cuda.is_available():
        with pytest.raises(vs.Error) as err:
            vsrtn.Restore(textured(length=2), weights=tiny_weights, device="cuda")
        assert str(err.value).count("vsrtn.Restore:") == 1
