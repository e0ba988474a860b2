"""The engine and the model's temporal semantics, on tiny random-weight models (CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsrtn
from vsrtn.engine import Engine, EngineSettings, blend_ramp, resolve_device, tile_starts
from vsrtn.errors import ArgumentError, DeviceError

from conftest import TorchKernels, moving_clip, restore_in_order, tiny_model, to_x
from vsclips import textured


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=1)


def test_output_range_equals_slice_of_full_result(model):
    x = to_x(moving_clip(7))
    with torch.inference_mode():
        full = model(x)
        part = model(x, out_range=(2, 5))
    assert torch.equal(part, full[:, 2:5])


def test_cut_isolates_shots_exactly(model):
    clip = moving_clip(8)
    cuts = torch.zeros(8, dtype=torch.bool)
    cuts[4] = True
    changed = clip.copy()
    changed[4:] = np.random.default_rng(5).random(changed[4:].shape, dtype=np.float32)
    with torch.inference_mode():
        a = model(to_x(clip), cuts=cuts)
        b = model(to_x(changed), cuts=cuts)
        first_shot_alone = model(to_x(clip[:4]))
        no_cut = model(to_x(changed))
    assert torch.equal(a[:, :4], b[:, :4])  # frames after the cut cannot reach frames before it
    assert torch.equal(a[:, :4], first_shot_alone)  # a cut is the same as a separate clip
    assert not torch.equal(no_cut[:, :4], b[:, :4])  # ... whereas without the cut they do


def test_per_sample_cuts_in_a_batch(model):
    clip = to_x(moving_clip(5))
    batch = torch.cat([clip, clip])
    cuts = torch.zeros(2, 5, dtype=torch.bool)
    cuts[1, 2] = True
    with torch.inference_mode():
        y = model(batch, cuts=cuts)
        alone = model(clip)
    assert torch.allclose(y[0], alone[0], atol=1e-5)
    assert not torch.allclose(y[1], alone[0], atol=1e-5)


@pytest.mark.parametrize("h,w", [(37, 53), (17, 16), (5, 7)])
def test_any_frame_size(model, h, w):
    clip = moving_clip(4, h, w)
    with torch.inference_mode():
        y = model(to_x(clip))
    assert y.shape == (1, 4, 3, h, w) and torch.isfinite(y).all()


def test_access_order_does_not_change_any_frame(model):
    clip = moving_clip(11)
    engine = Engine(model, "cpu", EngineSettings(window=3, context=2))
    linear = restore_in_order(engine, clip, range(11))
    shuffled = restore_in_order(engine, clip, np.random.default_rng(0).permutation(11))
    backwards = restore_in_order(engine, clip, range(10, -1, -1))
    assert np.array_equal(linear, shuffled) and np.array_equal(linear, backwards)


def test_streaming_clip_equals_windows_and_keeps_memory_bounded(model):
    clip = moving_clip(13)
    engine = Engine(model, "cpu", EngineSettings(window=4, context=2))
    seen = []

    def frames():
        for i, f in enumerate(clip):
            seen.append(i)
            yield f

    streamed = np.stack(list(engine.run_clip(frames(), len(clip))))
    assert np.array_equal(streamed, restore_in_order(engine, clip, range(13)))
    assert seen == list(range(13))  # each source frame decoded once, in order


def test_streaming_reports_a_short_clip(model):
    engine = Engine(model, "cpu", EngineSettings(window=4, context=1))
    with pytest.raises(ValueError, match="ended after 3 frames, 6 were announced"):
        list(engine.run_clip(iter(moving_clip(3)), 6))


def test_scene_cut_in_engine_isolates_shots(model):
    clip = moving_clip(10)
    other = clip.copy()
    other[6:] = 1 - other[6:]
    engine = Engine(model, "cpu", EngineSettings(window=4, context=3))
    a = restore_in_order(engine, clip, range(10), cuts=[6])
    b = restore_in_order(engine, other, range(10), cuts=[6])
    assert np.array_equal(a[:6], b[:6])
    assert not np.array_equal(a[6:], b[6:])


def test_tiling_matches_whole_frames_within_tolerance(model):
    clip = moving_clip(5, 96, 128)
    whole = Engine(model, "cpu", EngineSettings(window=5, context=0))
    tiled = Engine(model, "cpu", EngineSettings(window=5, context=0, tile=(64, 64), tile_overlap=24))
    win = whole.plan(5)[0]
    a = np.stack(whole.run_window(list(clip), win))
    b = np.stack(tiled.run_window(list(clip), win))
    assert a.shape == b.shape == (5, 96, 128)
    assert np.abs(a - b).mean() < 2e-3 and np.abs(a - b).max() < 0.05
    assert not np.array_equal(a, b)  # it really ran tiled


def test_tile_geometry():
    assert tile_starts(100, 100, 8) == [0]
    assert tile_starts(100, 40, 8) == [0, 32, 60]
    w = blend_ramp(40, 8, at_start=False, at_end=True)
    assert w[0] < w[7] < 1 and w[-1] == 1
    # Overlapping ramps of neighbours sum to a positive weight everywhere.
    total = np.zeros(100)
    for s in tile_starts(100, 40, 8):
        total[s:s + 40] += blend_ramp(40, 8, s == 0, s + 40 == 100)
    assert (total > 0.5).all()


def test_settings_are_validated():
    with pytest.raises(ArgumentError, match="'window'"):
        EngineSettings(window=0)
    with pytest.raises(ArgumentError, match="'tile'"):
        EngineSettings(tile=(16, 64))
    with pytest.raises(ArgumentError, match="'precision'"):
        EngineSettings(precision="fp8")


def test_half_precision_needs_cuda(model):
    with pytest.raises(ArgumentError, match="fp16/bf16 need CUDA"):
        Engine(model, "cpu", EngineSettings(precision="fp16"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error path")
def test_cuda_requested_without_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device(None).type == "cpu"
    with pytest.raises(ArgumentError, match="'device'"):
        resolve_device("tpu")


def test_automatic_tiling_is_decided_once_per_frame_size(model, monkeypatch):
    import vsrtn.engine as eng

    monkeypatch.setattr(eng, "_memory_budget", lambda device: 1e6)  # far too small: must tile
    engine = Engine(model, "cpu", EngineSettings(window=4, context=1))
    tile = engine.tiles_for(256, 320)
    assert tile == (128, 128)
    monkeypatch.setattr(eng, "_memory_budget", lambda device: 1e12)
    assert engine.tiles_for(256, 320) == tile  # same engine, same frames: same decision
    assert Engine(model, "cpu", EngineSettings(window=4, context=1)).tiles_for(256, 320) is None
    assert engine.tiles_for(64, 64) is None  # small frames fit


@pytest.fixture
def tiny(tiny_weights):
    return tiny_weights


def test_one_non_finite_pixel_does_not_spread(tiny_weights):
    clip = textured(vs.GRAYS, length=8)

    def poison(n, f):
        out = f.copy()
        if n == 3:
            a = np.asarray(out[0])
            a[5, 5], a[6, 6], a[7, 7] = np.nan, np.inf, 1e30
        return out

    bad = clip.std.ModifyFrame(clip, poison)
    out = vsrtn.Restore(bad, weights=tiny_weights, window=4, context=2, deflicker=0)
    ref = vsrtn.Restore(clip, weights=tiny_weights, window=4, context=2, deflicker=0)
    for n in range(8):
        y, r = np.asarray(out.get_frame(n)[0]), np.asarray(ref.get_frame(n)[0])
        assert np.isfinite(y).all(), n
        assert np.abs(y - r).mean() < 0.02, n


def test_flows_computed_by_the_engine_are_the_networks_own(model):
    """The engine computes DIS flows on its pool (and ahead, for the next window): the frames
    it gives are those of the network computing its flows itself."""
    from vsrtn.windows import plan_windows

    clip = moving_clip(9, 40, 56)
    win = plan_windows(9, 4, 2)[1]
    eng = Engine(model, "cpu", EngineSettings(window=4, context=2))
    x = to_x(np.stack([clip[i] for i in win.frames]))
    with torch.inference_mode():
        own = model(x, out_range=(win.offset, win.offset + 4))[0, :, 0].numpy()
    pending = eng.prefetch_flows([clip[i] for i in win.frames], win)
    for flows in (None, pending):
        got = eng.run_window([clip[i] for i in win.frames], win, flows=flows)
        assert np.array_equal(np.stack(got), np.clip((own + 1) / 2, 0, 1))


def test_flow_scale_is_checked_and_changes_the_frames(model):
    with pytest.raises(ArgumentError, match=r"'flow_scale' must be a number in 0\.25\.\.1"):
        EngineSettings(flow_scale=0.1)
    clip = moving_clip(8, 64, 96)
    full = restore_in_order(Engine(model, "cpu", EngineSettings(window=4, context=2)), clip, range(8))
    half = restore_in_order(Engine(model, "cpu", EngineSettings(window=4, context=2, flow_scale=0.5)), clip, range(8))
    assert not np.array_equal(full, half) and np.abs(full - half).mean() < 0.02


def test_cpu_inference_runs_on_one_thread_whoever_calls(model):
    """Torch's CPU kernels run on one thread of the process (see `on_torch_thread`), whichever
    thread asks for a window, and the frames do not depend on it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    clip = moving_clip(10)
    engine = Engine(model, "cpu", EngineSettings(window=4, context=2))
    plan = engine.plan(len(clip))
    threads = []
    hook = model.register_forward_hook(lambda *_: threads.append(threading.current_thread().name))
    try:
        here = [engine.run_window([clip[i] for i in w.frames], w) for w in plan]
        with ThreadPoolExecutor(3) as callers:
            there = list(callers.map(lambda w: engine.run_window([clip[i] for i in w.frames], w), plan))
    finally:
        hook.remove()
    assert len(threads) == 2 * len(plan) and len(set(threads)) == 1
    assert threads[0].startswith("vsrtn-torch") and threading.current_thread().name not in threads
    assert all(np.array_equal(a, b) for x, y in zip(here, there) for a, b in zip(x, y))


def test_the_calling_thread_runs_no_torch_kernels(model):
    """Around CPU inference the calling thread only wraps NumPy arrays as tensors: a torch kernel
    there would start a second team of torch worker threads (see `on_torch_thread`)."""
    clip = moving_clip(12)
    engine = Engine(model, "cpu", EngineSettings(window=4, context=2, deflicker=2))
    with TorchKernels() as seen:
        frames = list(engine.run_clip(iter(clip), len(clip)))
    assert len(frames) == 12 and seen.ran and not seen.kernels, sorted(seen.kernels)


def test_streaming_computes_each_flow_pair_once(model, monkeypatch):
    """Neighbouring windows overlap by their context: run_clip shares the flow pairs of the
    same two source frames instead of computing them again, and the frames do not change."""
    clip = moving_clip(21)
    engine = Engine(model, "cpu", EngineSettings(window=4, context=2))
    expected = np.stack(restore_in_order(engine, clip, range(21)))
    calls, prepared = [], []
    pair, prepare = model.flow.pair, model.flow.prepare

    def counted_pair(ref, src, out):
        calls.append((ref.tobytes(), src.tobytes()))
        return pair(ref, src, out)

    def counted_prepare(frames, scale=1.0):
        prepared.append(np.asarray(frames).tobytes())
        return prepare(frames, scale)

    monkeypatch.setattr(model.flow, "pair", counted_pair)
    monkeypatch.setattr(model.flow, "prepare", counted_prepare)
    streamed = np.stack(list(engine.run_clip(iter(clip), len(clip))))
    assert np.array_equal(streamed, expected)
    assert calls and len(calls) == len(set(calls))  # no pair of frames twice
    per_window = 0
    for win in engine.plan(21):
        a, b, t = win.offset, win.offset + (win.stop - win.start), len(win.frames)
        per_window += (b - 1) + (t - 1 - a)
    assert len(calls) < per_window
    # Each frame is prepared for DIS once per window, not once per pair it is in.
    assert len(prepared) <= sum(len(w.frames) for w in engine.plan(21)) < 2 * len(calls)
