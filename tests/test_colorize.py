"""Colourisation: colour conversions, reference choice, the engine, the plugin, the command, training."""
from __future__ import annotations

import json
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest
import torch
import vapoursynth as vs

from conftest import moving_clip, tiny_model
from vsrtn.color import (chroma_to_unit, gray_to_lightness, lab_to_rgb, luma_ab_to_rgb, rgb_to_lab, rgb_to_ycbcr,
                         unit_to_chroma, ycbcr_to_rgb)
from vsrtn.colorize import ColorEngine, Reference, fit_reference, references_for_window
from vsrtn.engine import EngineSettings
from vsrtn.windows import Window

core = vs.core
H, W = 40, 56


def tiny_colour_model(seed: int = 0):
    """A random colour RTN whose head is not zero, so the network visibly changes the hint."""
    model = tiny_model(seed, in_channels=5, out_channels=2, guide_channel=2, output="linear")
    torch.manual_seed(seed + 1)
    torch.nn.init.normal_(model.head.out.weight, std=0.05)
    return model


@pytest.fixture(scope="module")
def colour_weights(tmp_path_factory):
    from vsrtn.weights import save_weights

    path = tmp_path_factory.mktemp("w") / "tiny-colour.safetensors"
    model = tiny_colour_model()
    save_weights(model, path, {"config": model.config.to_dict()})
    return path


def coloured(gray: np.ndarray, hue: float) -> np.ndarray:
    """An RGB keyframe with the gray frame's lightness and a strong colour that varies across it."""
    ramp = np.linspace(0.5, 1.5, gray.shape[1], dtype=np.float32)[None, :].repeat(gray.shape[0], 0)
    ab = np.stack([30 * np.cos(hue) * ramp, 30 * np.sin(hue) * ramp])
    return luma_ab_to_rgb(gray, ab)


# ---------------------------------------------------------------- conversions

def test_lab_matches_opencv_and_round_trips():
    rgb = np.random.default_rng(0).random((24, 32, 3), dtype=np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)).max() < 0.5
    back = lab_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(back - rgb).max() < 1e-4


def test_gray_has_no_colour_and_keeps_its_lightness():
    y = np.linspace(0, 1, 50, dtype=np.float32).reshape(5, 10)
    rgb = luma_ab_to_rgb(y, np.zeros((2, 5, 10), np.float32))
    assert np.abs(rgb - y[..., None]).max() < 1e-4
    lab = cv2.cvtColor(np.repeat(y[..., None], 3, -1), cv2.COLOR_RGB2Lab)
    assert np.abs(gray_to_lightness(torch.from_numpy(y)).numpy() - lab[..., 0]).max() < 0.5


@pytest.mark.parametrize("matrix", [1, 5, 9])
def test_ycbcr_round_trip(matrix):
    rgb = np.random.default_rng(1).random((8, 8, 3), dtype=np.float32)
    assert np.abs(ycbcr_to_rgb(*rgb_to_ycbcr(rgb, matrix), matrix) - rgb).max() < 1e-5


@pytest.mark.parametrize("bits,limited", [(8, True), (8, False), (10, True), (16, False)])
def test_chroma_codes_round_trip(bits, limited):
    c = np.linspace(-0.5, 0.5, 41, dtype=np.float32)
    dtype = np.uint8 if bits == 8 else np.uint16
    codes = unit_to_chroma(c, bits, False, limited, dtype)
    assert codes[20] == (128 << (bits - 8) if limited else 1 << (bits - 1))  # zero chroma is the midpoint
    step = 1 / ((224 << (bits - 8)) if limited else (1 << bits) - 1)
    assert np.abs(chroma_to_unit(codes, bits, False, limited) - c).max() <= step


# ---------------------------------------------------------------- reference choice

def test_references_for_window_rules():
    frames = (10, 11, 12, 13, 14, 15)
    # Tied refs at 3 (before), 12 (inside), 20 and 30 (after); one free ref.
    ref_frames = [3, 12, 20, 30, None]
    assert references_for_window(frames, None, ref_frames) == [(0, 1, 2, 4)] * 6
    # A cut at position 3 (frame 13): the first piece keeps the ref before, the second the one after.
    cuts = [False, False, False, True, False, False]
    assert references_for_window(frames, cuts, ref_frames) == [(0, 1, 4)] * 3 + [(2, 4)] * 3
    # Mirrored clip start: frames run backwards, nothing lies before frame 0.
    assert references_for_window((2, 1, 0, 1, 2), None, [0, 9]) == [(0, 1)] * 5
    assert references_for_window((4, 5), None, [None]) == [(0,)] * 2


def test_fit_reference_resizes_to_the_clip():
    out = fit_reference(np.random.default_rng(0).random((80, 100, 3), dtype=np.float32), 56, 40)
    assert out.shape == (40, 56, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


# ---------------------------------------------------------------- engine

def engine(model, refs, window=4, context=2):
    return ColorEngine(model, "cpu", EngineSettings(window=window, context=context), refs)


def test_tied_frame_gets_its_keyframe_colour_with_an_untrained_model():
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    clip = moving_clip(6, H, W)
    key = coloured(clip[0], 0.5)
    e = engine(RTN(COLOR_COMPACT).eval(), [Reference(key, 0)])
    ab = next(iter(e.run_clip(iter(clip), 6)))
    want = rgb_to_lab(torch.from_numpy(key).permute(2, 0, 1))[1:].numpy()
    # The identity-initialised network passes the hint through; the keyframe warps onto its own
    # frame with (near) zero flow.
    assert np.abs(ab - want).mean() < 1.0


def test_engine_output_is_independent_of_window_order():
    clip = moving_clip(10, H, W)
    e = engine(tiny_colour_model(), [Reference(coloured(clip[0], 0.5), 0), Reference(coloured(clip[9], 2.0), None)])
    plan = e.plan(10)
    forward = [e.run_window([clip[i] for i in w.frames], w) for w in plan]
    backward = [e.run_window([clip[i] for i in w.frames], w) for w in reversed(list(plan))][::-1]
    for a, b in zip(forward, backward):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    streamed = list(e.run_clip(iter(clip), 10))
    assert all(np.array_equal(x, y) for x, y in zip(streamed, [f for win in forward for f in win]))


def test_tiled_colourisation_matches_whole_frames():
    clip = moving_clip(6, 64, 96)
    refs = [Reference(coloured(clip[0], 0.5), 0)]
    model = tiny_colour_model()
    whole = ColorEngine(model, "cpu", EngineSettings(window=6, context=0), refs)
    tiled = ColorEngine(model, "cpu", EngineSettings(window=6, context=0, tile=(64, 48), tile_overlap=16), refs)
    win = whole.plan(6)[0]
    a, b = np.stack(whole.run_window(list(clip), win)), np.stack(tiled.run_window(list(clip), win))
    assert a.shape == b.shape == (6, 2, 64, 96)
    assert np.abs(a - b).mean() < 0.5 and not np.array_equal(a, b)  # Lab units; tiles do differ a little


def test_colour_never_crosses_a_cut():
    clip = moving_clip(8, H, W)
    win = Window(0, 8, tuple(range(8)), 0)
    cuts = [False] * 4 + [True] + [False] * 3
    second_shot = Reference(coloured(clip[4], 3.0), 4)
    runs = []
    for hue in (0.5, 2.5):  # only the first shot's keyframe changes
        e = engine(tiny_colour_model(), [Reference(coloured(clip[0], hue), 0), second_shot], window=8, context=0)
        runs.append(e.run_window(list(clip), win, cuts))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][4:], runs[1][4:]))
    assert not np.array_equal(runs[0][0], runs[1][0])


def test_a_keyframe_of_other_content_is_dropped_for_a_frame():
    from vsrtn.models.colorize import ReferenceMatcher, ReferenceSet, colour_hints

    clip = moving_clip(4, H, W)
    other = moving_clip(4, H, W, seed=7)[0]  # unrelated content
    keys = torch.from_numpy(np.stack([coloured(clip[0], 0.5), coloured(other, 2.5)])).permute(0, 3, 1, 2)
    matcher = ReferenceMatcher()
    refs = ReferenceSet.from_rgb(keys, matcher)
    gray = torch.from_numpy(clip[2:3])[:, None]
    both = colour_hints(matcher, gray, [[0, 1]], refs)
    alone = colour_hints(matcher, gray, [[0]], refs)
    assert all(torch.equal(x, y) for x, y in zip(both, alone))


def fading_shot(t: int) -> np.ndarray:
    """A panning texture that darkens 3% a frame: neighbours agree, far frames do not."""
    return np.stack([f * (1 - 0.03 * i) for i, f in enumerate(moving_clip(t, H, W))]).astype(np.float32)


def test_keyframe_colour_is_carried_along_the_chain_where_a_straight_warp_fails(monkeypatch):
    import vsrtn.colorize
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    clip = fading_shot(16)
    key = coloured(clip[0], 0.5)
    want = rgb_to_lab(torch.from_numpy(key).permute(2, 0, 1))[1:].numpy()
    model = RTN(COLOR_COMPACT).eval()  # identity start: the output is the hint
    errors = []
    for horizon in (vsrtn.colorize.CHAIN_HORIZON, 0):  # 0: no chain, straight warps and matching only
        monkeypatch.setattr(vsrtn.colorize, "CHAIN_HORIZON", horizon)
        last = list(engine(model, [Reference(key, 0)], window=8, context=2).run_clip(iter(clip), 16))[-1]
        # The texture has panned 15 px: pixel x now shows what the keyframe had at x + 15.
        errors.append(float(np.abs(last[:, 4:-4, 8:W - 23] - want[:, 4:-4, 23:W - 8]).mean()))
    assert errors[0] < 0.5 * errors[1], errors


def test_chains_do_not_depend_on_window_order_or_the_memo():
    from vsrtn.engine import Support

    clip = fading_shot(14)
    refs = [Reference(coloured(clip[0], 0.5), 0), Reference(coloured(clip[13], 2.0), 13)]
    model = tiny_colour_model()
    streamed = list(engine(model, refs).run_clip(iter(clip), 14))
    e = engine(model, refs)
    e.chains.capacity = 1  # every walk starts again from its keyframe
    plan = list(e.plan(14))
    backward = []
    for win in reversed(plan):
        prepared = e.prepare(win)
        assert prepared.frames  # windows away from both keyframes need frames beyond their own
        backward = e.run_window([clip[i] for i in win.frames], win,
                                support=Support(prepared, {i: clip[i] for i in prepared.frames})) + backward
    assert all(np.array_equal(a, b) for a, b in zip(streamed, backward))
    fresh = engine(model, refs)
    with pytest.raises(ValueError, match="needed for keyframe chains"):
        fresh.run_window([clip[i] for i in plan[1].frames], plan[1])


def test_a_cut_outside_the_window_keeps_a_shot_without_keyframe_gray():
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    clip = moving_clip(12, H, W)
    e = engine(RTN(COLOR_COMPACT).eval(), [Reference(coloured(clip[0], 0.5), 0)], window=4, context=1)
    from vsrtn.scenecut import ShotStarts

    # Window [8, 12) (frames 7..12) holds no cut: only the keyframe chain from frame 0 meets it.
    out = list(e.run_clip(iter(clip), 12, cuts=ShotStarts(frozenset({6}))))
    assert all(np.abs(ab).mean() > 5 for ab in out[:6])
    # The identity-start network passes the hint through: no keyframe of this shot, no colour.
    assert all(np.abs(ab).max() < 1e-3 for ab in out[6:])


def test_engine_refuses_restoration_weights():
    from vsrtn.errors import ArgumentError

    with pytest.raises(ArgumentError, match="colourisation weights"):
        engine(tiny_model(), [Reference(np.zeros((H, W, 3), np.float32), 0)])


@pytest.mark.parametrize("option", [dict(deflicker=2), dict(grain=0.5)])
def test_engine_refuses_restoration_only_settings(option):
    from vsrtn.errors import ArgumentError
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    with pytest.raises(ArgumentError, match=f"'{next(iter(option))}' must be 0"):
        ColorEngine(RTN(COLOR_COMPACT).eval(), "cpu", EngineSettings(context=2, **option),
                    [Reference(np.zeros((H, W, 3), np.float32), 0)])


# ---------------------------------------------------------------- plugin

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


@pytest.fixture(scope="module")
def key_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("k") / "key.png"
    rgb = coloured(moving_clip(8, H, W)[0], 0.5)
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize("fmt,out_name", [(vs.GRAY8, "YUV444P8"), (vs.YUV420P10, "YUV420P10"),
                                          (vs.GRAY16, "YUV444P16"), (vs.GRAYS, "YUV444PS")])
def test_colorize_keeps_luma_bit_exact_and_adds_chroma(fmt, out_name, colour_weights, key_png):
    import vsrtn

    clip, _ = gray_clip(fmt)
    out = vsrtn.Colorize(clip, str(key_png), ref_frames=[0], weights=str(colour_weights), device="cpu",
                         window=4, context=2)
    assert out.format.name == out_name and out.num_frames == clip.num_frames
    for n in (0, 5):
        f, src = out.get_frame(n), clip.get_frame(n)
        assert np.array_equal(np.asarray(f[0]), np.asarray(src[0]))
        mid = 0.0 if fmt == vs.GRAYS else 1 << (out.format.bits_per_sample - 1)
        assert np.abs(np.asarray(f[1]).astype(np.float64) - mid).mean() > (0.01 if fmt == vs.GRAYS else 2)
        assert f.props["vsrtn_references"] == 1 and f.props["_Matrix"] == 1


def test_colorize_rgb_output_reference_clip_and_request_order(colour_weights):
    import vsrtn

    clip, frames = gray_clip(vs.GRAY8, 10)
    keys = np.stack([coloured(frames[0], 0.5), coloured(frames[9], 2.0)])
    ref = core.std.BlankClip(format=vs.RGBS, width=W, height=H, length=2)
    ref = ref.std.ModifyFrame(ref, lambda n, f: _fill_rgb(f, keys[n]))  # noqa: E731
    kw = dict(ref=ref, ref_frames=[0, 9], weights=str(colour_weights), device="cpu", window=4, context=2)
    rgb = vsrtn.Colorize(clip, output="rgb", **kw)
    assert rgb.format.name == "RGB24"
    linear = [np.stack([np.asarray(rgb.get_frame(n)[p]) for p in range(3)]) for n in range(10)]
    again = vsrtn.Colorize(clip, output="rgb", **kw)
    for n in [7, 2, 9, 0, 5, 3, 1, 8, 6, 4]:
        assert np.array_equal(np.stack([np.asarray(again.get_frame(n)[p]) for p in range(3)]), linear[n])
    # The keyframe's frame shows the keyframe's colour (within the tiny model's correction).
    assert np.abs(linear[0].transpose(1, 2, 0) / 255.0 - keys[0]).mean() < 0.08


def test_colorize_stops_a_keyframe_at_a_cut_prop_outside_the_window(colour_weights):
    import vsrtn

    clip, frames = gray_clip(vs.GRAY8, 12)
    clip = clip[:6] + clip[6].std.SetFrameProps(_SceneChangePrev=1) + clip[7:]
    ref = core.std.BlankClip(format=vs.RGBS, width=W, height=H, length=1)
    runs = []
    for hue in (0.5, 2.5):  # only the first shot's keyframe changes
        key = ref.std.ModifyFrame(ref, lambda n, f, hue=hue: _fill_rgb(f, coloured(frames[0], hue)))
        out = vsrtn.Colorize(clip, key, ref_frames=0, weights=str(colour_weights), device="cpu", window=4, context=1)
        runs.append([np.asarray(out.get_frame(n)[1]).copy() for n in (11, 9, 0, 6)])  # window [8, 12) first
    assert not np.array_equal(runs[0][2], runs[1][2])
    # Frames 8-11 are windowed apart from the cut at 6; the keyframe's chain meets it on the way.
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][:2] + runs[0][3:], runs[1][:2] + runs[1][3:]))


def _fill_rgb(frame, rgb):
    out = frame.copy()
    for p in range(3):
        np.copyto(np.asarray(out[p]), rgb[..., p])
    return out


@pytest.mark.parametrize("kwargs,message", [
    (dict(ref="/nonexistent/key.png"), "'ref' must be readable colour image files"),
    (dict(ref=42), "'ref' must be a colour clip, an image file or a list of image files"),
    (dict(ref_frames=[99]), "'ref_frames' must be frame numbers in 0..7"),
    (dict(ref_frames=[0, 1]), "'ref_frames' must be one frame number per reference"),
    (dict(output="lab"), "'output' must be 'yuv', 'rgb' or None"),
    (dict(weights="rtn-compact"), "'weights' must be colourisation weights"),
])
def test_colorize_errors_at_evaluation(kwargs, message, colour_weights, key_png):
    import vsrtn

    clip, _ = gray_clip()
    kw = {"ref": str(key_png), "weights": str(colour_weights), "device": "cpu", **kwargs}
    with pytest.raises(vs.Error, match=r"^vsrtn\.Colorize: " + message.replace("(", r"\(").replace(".", r"\.")):
        vsrtn.Colorize(clip, **kw)


def test_colorize_refuses_a_gray_reference_clip(colour_weights):
    import vsrtn

    clip, _ = gray_clip()
    with pytest.raises(vs.Error, match="'ref' must be a colour"):
        vsrtn.Colorize(clip, clip, weights=str(colour_weights))


# ---------------------------------------------------------------- command

def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    from vsrtn.io import plane_array

    return plane_array(frame, index)


@pytest.mark.parametrize("pix_fmt,out_fmt,size", [("gray", "yuv444p", (41, 57)), ("yuv420p10le", "yuv420p10le", (H, W))])
def test_colorize_command_keeps_luma_timestamps_and_audio(tmp_path, colour_weights, key_png, pix_fmt, out_fmt, size):
    from vsrtn.cli import parse_reference

    assert parse_reference("a@b.png@12") == ("a@b.png", 12) and parse_reference("k.png") == ("k.png", None)
    src, dst = tmp_path / "bw.mkv", tmp_path / "colour.mkv"
    frames = moving_clip(8, *size)
    with av.open(str(src), "w") as c:
        v = c.add_stream("ffv1", rate=24)
        v.width, v.height, v.pix_fmt = size[1], size[0], pix_fmt
        a = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        for f in frames:
            gray = av.VideoFrame.from_ndarray(np.rint(f * 255).astype(np.uint8), format="gray")
            for p in v.encode(gray.reformat(format=pix_fmt)):
                c.mux(p)
        samples = (np.sin(np.arange(2667) / 5) * 8000).astype(np.int16)[None]
        af = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        af.sample_rate = 8000
        for p in a.encode(af):
            c.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                c.mux(p)
    cmd = [sys.executable, "-m", "vsrtn.cli", "colorize", str(src), str(dst), "--ref", f"{key_png}@0",
           "--weights", str(colour_weights), "--device", "cpu", "--encoder", "ffv1", "--window", "4", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    with av.open(str(src)) as c:
        before = [f for f in c.decode(video=0)]
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == out_fmt and len(c.streams.audio) == 1
        out = [f for f in c.decode(video=0)]
    assert len(out) == 8 and [f.pts for f in out] == [f.pts for f in before]
    for f, g in zip(out, before):
        assert np.array_equal(_plane(f, 0), _plane(g, 0))  # luma untouched, bit for bit
    audio = []
    for path in (src, dst):
        with av.open(str(path)) as c:
            audio.append(b"".join(bytes(p) for p in c.demux(c.streams.audio[0]) if p.size))
    assert audio[0] and audio[0] == audio[1]  # audio copied bit for bit
    mid = 128 if out_fmt == "yuv444p" else 512
    assert np.abs(_plane(out[0], 1).astype(int) - mid).mean() > 2  # chroma added
    bad = subprocess.run(cmd[:7] + [f"{key_png}@50"] + cmd[8:] + ["--overwrite"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frame 50 is past the end" in bad.stderr


# ---------------------------------------------------------------- training

def test_colour_training_runs_resumes_and_exports(tmp_path):
    from vsrtn.models.colorize import is_colour_model
    from vsrtn.train.trainer import ColorSampler, Trainer, TrainConfig
    from vsrtn.weights import load_model

    cfg = TrainConfig(model="color-compact", frames=(3, 4), crop=32, batch=2, iters=2, perceptual=0.0,
                      mask_supervision=0.0, data=str(_colour_frames(tmp_path)), log_every=1, checkpoint_every=1)
    clip, ref, index = ColorSampler(cfg, tmp_path).sample(3, 4)
    again = ColorSampler(cfg, tmp_path).sample(3, 4)
    assert clip.shape == (4, 32, 32, 3) and ref.shape == (32, 32, 3) and np.array_equal(clip, again[0])
    assert index is None or np.array_equal(clip[index], ref)
    run = tmp_path / "run"
    t = Trainer(cfg, run, tmp_path, log=lambda m: None)
    t.run()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [1, 2] and all(np.isfinite(r["loss"]) for r in records)
    assert Trainer(cfg, run, tmp_path, log=lambda m: None).step == 2
    res = t.export(tmp_path / "c.safetensors", None, "c", "python scripts/train.py ...")
    assert is_colour_model(load_model(res["path"]).config)


def _colour_frames(tmp_path):
    seq = tmp_path / "data" / "000"
    seq.mkdir(parents=True)
    big = cv2.GaussianBlur(np.random.default_rng(0).random((64, 120, 3), dtype=np.float32), (0, 0), 2)
    for i in range(12):
        cv2.imwrite(str(seq / f"{i:05d}.png"), np.rint(big[:, i:i + 64] * 255 / big.max()).astype(np.uint8))
    return tmp_path / "data"


def test_hint_holes_are_seeded_ellipses_for_the_given_share():
    from vsrtn.train.trainer import hint_holes

    masks = [hint_holes(np.random.default_rng([0, k, 2]), 64, 1.0) for k in range(40)]
    assert all(m.shape == (64, 64) and m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0} for m in masks)
    cover = np.array([m.mean() for m in masks])
    # 1-3 ellipses with semi-axes of 10-30 % of the side: never nothing, never most of the frame
    assert cover.min() > 0.005 and cover.max() < 0.85 and 0.05 < cover.mean() < 0.4
    assert np.array_equal(masks[5], hint_holes(np.random.default_rng([0, 5, 2]), 64, 1.0))
    assert not np.array_equal(masks[5], masks[6])
    drawn = [hint_holes(np.random.default_rng([1, k]), 32, 0.5).any() for k in range(200)]
    assert 0.35 < np.mean(drawn) < 0.65
    assert not any(hint_holes(np.random.default_rng([1, k]), 32, 0.0).any() for k in range(20))


def test_l2_ab_loss_lets_the_wrong_pixels_lead():
    from vsrtn.train.trainer import L2_UNIT, ab_pixel_loss

    target = torch.zeros(1, 2, 2, 8, 8)
    grads = {}
    for kind in ("l1", "l2"):
        out = torch.zeros(1, 2, 2, 8, 8)
        out[..., :4] = 0.01  # nearly right
        out[..., 4:] = 0.5  # wrong
        out.requires_grad_(True)
        ab_pixel_loss(out, target, kind).backward()
        grads[kind] = out.grad
    assert torch.allclose(grads["l1"][..., :4], grads["l1"][..., 4:])  # L1: every pixel pulls alike
    ratio = (grads["l2"][..., :4] / grads["l2"][..., 4:]).mean().item()
    assert ratio == pytest.approx(0.01 / 0.5, rel=1e-4)  # L2: in proportion to the error
    at_unit = torch.full((1, 2, 2, 8, 8), L2_UNIT, requires_grad=True)
    ab_pixel_loss(at_unit, target, "l2").backward()
    assert torch.allclose(at_unit.grad, grads["l1"][..., :1].mean().expand_as(at_unit.grad))  # as L1 at L2_UNIT


def test_colour_training_with_holes_hides_the_hint_there_and_logs_the_decoder(tmp_path):
    from vsrtn.train.trainer import Trainer, TrainConfig

    data = _colour_frames(tmp_path)
    base = dict(model="color-compact", frames=(3, 3), crop=32, batch=2, iters=2, perceptual=0.0, data=str(data),
                log_every=1, checkpoint_every=10)
    run = tmp_path / "run"
    Trainer(TrainConfig(**base, holes=1.0, ab_loss="l2"), run, tmp_path, log=lambda m: None).run()
    first, second = (json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())
    # The untrained network returns its hint: in a hole that is no colour, so its error there is
    # the true colour's whole size.
    assert first["hole_l1"] == pytest.approx(first["hole_l1_hint"], rel=1e-5) and first["hole_l1"] > 0.005
    assert first["head_std"] > 1e-4 and np.isfinite(second["head_std"])
    for bad, match in ((dict(holes=1.5), "'holes' must be a share in \\[0, 1\\], got 1.5"),
                       (dict(ab_loss="huber"), "'ab_loss' must be 'l1' or 'l2', got 'huber'")):
        with pytest.raises(ValueError, match=match):
            Trainer(TrainConfig(**{**base, **bad}), tmp_path / "bad", tmp_path, log=lambda m: None)


def test_training_hints_carry_a_tied_keyframe_along_the_clip_as_at_run_time():
    from vsrtn.models.colorize import ChainState
    from vsrtn.train.trainer import _chained

    clip = moving_clip(5, H, W)
    ref = coloured(clip[4], 0.5)
    chained = _chained(ref, 4, clip, ref_index=3)  # a reversed sample: the keyframe is the last frame
    assert len(chained) == 5 and all(len(c) == 1 and c[0][0] == 3 for c in chained)
    assert [c[0][1].steps for c in chained] == [4, 3, 2, 1, 0]  # walked backward from frame 4
    assert all(isinstance(c[0][1], ChainState) for c in chained)
    assert _chained(ref, None, clip, ref_index=3) is None  # an untied reference has no chain


def test_colorize_through_vspipe_y4m(tmp_path, colour_weights, key_png):
    """A .vpy with Colorize piped as y4m: a clean 4:4:4 stream equal to the in-process frames."""
    from pathlib import Path

    from test_plugin import parse_y4m, write_script

    import vsrtn

    body = f"clip = vsrtn.Colorize(src.std.ShufflePlanes(0, vs.GRAY), {str(key_png)!r}, ref_frames=[0], weights=W, window=4, context=2)"
    script = write_script(tmp_path, str(colour_weights), body=body, src="textured(vs.YUV420P8, 64, 48, 5)")
    venv_bin = Path(sys.executable).parent
    res = subprocess.run([str(venv_bin / "vspipe"), "-c", "y4m", script, "-"], capture_output=True)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b" C444" in res.stdout.partition(b"\n")[0]
    frames = parse_y4m(res.stdout, 64, 48, chroma_div=1)
    from vsclips import textured

    src = textured(vs.YUV420P8, 64, 48, 5).std.ShufflePlanes(0, vs.GRAY)
    clip = vsrtn.Colorize(src, str(key_png), ref_frames=[0], weights=str(colour_weights), window=4, context=2)
    assert len(frames) == 5
    for n, data in enumerate(frames):
        f = clip.get_frame(n)
        assert data == b"".join(np.asarray(f[p]).tobytes() for p in range(3))


def test_vpy_with_refs_writes_a_colorize_script_vspipe_runs(tmp_path, colour_weights, key_png):
    from pathlib import Path

    src = tmp_path / "bw.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("ffv1", rate=24)
        v.width, v.height, v.pix_fmt = W, H, "gray"
        for f in moving_clip(6, H, W):
            for p in v.encode(av.VideoFrame.from_ndarray(np.rint(f * 255).astype(np.uint8), format="gray")):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    cli = [sys.executable, "-m", "vsrtn.cli", "vpy", str(src), "--weights", str(colour_weights)]
    mixed = subprocess.run(cli + ["--ref", f"{key_png}@0", "--ref", str(key_png)], capture_output=True, text=True)
    assert mixed.returncode == 2 and "every keyframe or for none" in mixed.stderr
    res = subprocess.run(cli + ["--ref", f"{key_png}@0"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    script = src.with_suffix(".vpy")
    assert "vsrtn.Colorize(clip, [" in script.read_text() and "ref_frames=[0]" in script.read_text()
    vspipe = Path(sys.executable).parent / "vspipe"
    info = subprocess.run([str(vspipe), "--info", str(script)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "Frames: 6" in info.stdout and "YUV444P8" in info.stdout
