"""vsrtn.colorize: reference choice, keyframe chains and the colorization engine."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsrtn.color import rgb_to_lab
from vsrtn.colorize import ColorEngine, Reference, fit_reference, references_for_window
from vsrtn.engine import EngineSettings
from vsrtn.windows import Window

from conftest import H, W, colored, moving_clip, tiny_color_model, tiny_model

# ---------------------------------------------------------------- conversions


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


def test_tied_frame_gets_its_keyframe_color_with_an_untrained_model():
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    clip = moving_clip(6, H, W)
    key = colored(clip[0], 0.5)
    e = engine(RTN(COLOR_COMPACT).eval(), [Reference(key, 0)])
    ab = next(iter(e.run_clip(iter(clip), 6)))
    want = rgb_to_lab(torch.from_numpy(key).permute(2, 0, 1))[1:].numpy()
    # The identity-initialised network passes the hint through; the keyframe warps onto its own
    # frame with (near) zero flow.
    assert np.abs(ab - want).mean() < 1.0


def test_engine_output_is_independent_of_window_order():
    clip = moving_clip(10, H, W)
    e = engine(tiny_color_model(), [Reference(colored(clip[0], 0.5), 0), Reference(colored(clip[9], 2.0), None)])
    plan = e.plan(10)
    forward = [e.run_window([clip[i] for i in w.frames], w) for w in plan]
    backward = [e.run_window([clip[i] for i in w.frames], w) for w in reversed(list(plan))][::-1]
    for a, b in zip(forward, backward):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    streamed = list(e.run_clip(iter(clip), 10))
    assert all(np.array_equal(x, y) for x, y in zip(streamed, [f for win in forward for f in win]))


def test_tiled_colorization_matches_whole_frames():
    clip = moving_clip(6, 64, 96)
    refs = [Reference(colored(clip[0], 0.5), 0)]
    model = tiny_color_model()
    whole = ColorEngine(model, "cpu", EngineSettings(window=6, context=0), refs)
    tiled = ColorEngine(model, "cpu", EngineSettings(window=6, context=0, tile=(64, 48), tile_overlap=16), refs)
    win = whole.plan(6)[0]
    a, b = np.stack(whole.run_window(list(clip), win)), np.stack(tiled.run_window(list(clip), win))
    assert a.shape == b.shape == (6, 2, 64, 96)
    assert np.abs(a - b).mean() < 0.5 and not np.array_equal(a, b)  # Lab units; tiles do differ a little


def test_color_never_crosses_a_cut():
    clip = moving_clip(8, H, W)
    win = Window(0, 8, tuple(range(8)), 0)
    cuts = [False] * 4 + [True] + [False] * 3
    second_shot = Reference(colored(clip[4], 3.0), 4)
    runs = []
    for hue in (0.5, 2.5):  # only the first shot's keyframe changes
        e = engine(tiny_color_model(), [Reference(colored(clip[0], hue), 0), second_shot], window=8, context=0)
        runs.append(e.run_window(list(clip), win, cuts))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][4:], runs[1][4:]))
    assert not np.array_equal(runs[0][0], runs[1][0])


def test_a_keyframe_of_other_content_is_dropped_for_a_frame():
    from vsrtn.models.colorize import ReferenceMatcher, ReferenceSet, color_hints

    clip = moving_clip(4, H, W)
    other = moving_clip(4, H, W, seed=7)[0]  # unrelated content
    keys = torch.from_numpy(np.stack([colored(clip[0], 0.5), colored(other, 2.5)])).permute(0, 3, 1, 2)
    matcher = ReferenceMatcher()
    refs = ReferenceSet.from_rgb(keys, matcher)
    gray = torch.from_numpy(clip[2:3])[:, None]
    both = color_hints(matcher, gray, [[0, 1]], refs)
    alone = color_hints(matcher, gray, [[0]], refs)
    assert all(torch.equal(x, y) for x, y in zip(both, alone))


def fading_shot(t: int) -> np.ndarray:
    """A panning texture that darkens 3% a frame: neighbours agree, far frames do not."""
    return np.stack([f * (1 - 0.03 * i) for i, f in enumerate(moving_clip(t, H, W))]).astype(np.float32)


def test_keyframe_color_is_carried_along_the_chain_where_a_straight_warp_fails(monkeypatch):
    import vsrtn.colorize
    from vsrtn.models.config import COLOR_COMPACT
    from vsrtn.models.rtn import RTN

    clip = fading_shot(16)
    key = colored(clip[0], 0.5)
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
    refs = [Reference(colored(clip[0], 0.5), 0), Reference(colored(clip[13], 2.0), 13)]
    model = tiny_color_model()
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
    e = engine(RTN(COLOR_COMPACT).eval(), [Reference(colored(clip[0], 0.5), 0)], window=4, context=1)
    from vsrtn.windows import ShotStarts

    # Window [8, 12) (frames 7..12) holds no cut: only the keyframe chain from frame 0 meets it.
    out = list(e.run_clip(iter(clip), 12, cuts=ShotStarts(frozenset({6}))))
    assert all(np.abs(ab).mean() > 5 for ab in out[:6])
    # The identity-start network passes the hint through: no keyframe of this shot, no color.
    assert all(np.abs(ab).max() < 1e-3 for ab in out[6:])


def test_engine_refuses_restoration_weights():
    from vsrtn.errors import ArgumentError

    with pytest.raises(ArgumentError, match="colorization weights"):
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


# ---------------------------------------------------------------- command


# ---------------------------------------------------------------- training


