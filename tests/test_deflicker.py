"""Temporal brightness stabilisation: the pure functions and the engine's use of them."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vsrtn.deflicker import flicker_gains, log_gain, neighbourhood, shrink, stabilise, steady
from vsrtn.engine import Engine, EngineSettings
from vsrtn.errors import ArgumentError, PresetError
from vsrtn.presets import engine_settings, validate

from conftest import moving_clip, restore_every_way, restore_in_order, tiny_model

OFFSETS = np.array([0.0, 0.08, -0.05, 0.03, -0.07, 0.06, -0.02, 0.05, -0.04], np.float32)


def flickering(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(clean, flickered): a panning textured clip and the same with a per-frame brightness offset."""
    clean = 0.2 + 0.6 * moving_clip(len(OFFSETS), h, w, seed=3)
    return clean, np.clip(clean + OFFSETS[:, None, None], 0, 1)


def test_a_frame_keeping_its_flicker_is_brought_to_its_neighbours_brightness():
    clean, flick = flickering()
    for t in (1, 4, 5):
        fixed = stabilise(flick[t], list(flick))
        before = abs(float((flick[t] - clean[t]).mean()))
        after = abs(float((fixed - clean[t]).mean()))
        assert after < 0.25 * before, (t, before, after)


def test_a_steady_clip_is_left_alone():
    clean, _ = flickering()
    fixed = stabilise(clean[4], list(clean))
    assert np.abs(fixed - clean[4]).max() < 2e-3


def test_only_low_frequencies_move():
    clean, flick = flickering()
    fixed = stabilise(flick[4], list(flick))
    change = fixed - flick[4]
    detail = change - cv2.GaussianBlur(change, (0, 0), 4)
    assert np.abs(change).mean() > 0.05  # it did move (offset -0.07) ...
    assert np.abs(detail).mean() < 0.05 * np.abs(change).mean()  # ... smoothly: no detail taken


def test_a_single_neighbour_changes_nothing():
    frame = flickering()[1][1]
    assert stabilise(frame, [frame]) is frame


def test_log_gain_measures_exposure_not_motion_or_dust():
    clean = 0.2 + 0.6 * moving_clip(2, 96, 128, seed=5)  # the second frame is the first, moved
    brighter = clean[1] * 1.1
    brighter[40:46, 60:66] = 1.0  # a speck of dust
    assert abs(log_gain(brighter, clean[0]) - np.log(1.1)) < 0.01
    assert abs(log_gain(clean[1], clean[0])) < 0.005
    assert abs(log_gain(clean[0], brighter) + np.log(1.1)) < 0.01


def test_flicker_gains_take_fast_swings_and_keep_a_fade_exactly():
    n, radius = 30, 6
    fade = np.full(n, 0.01)  # brightening steadily: content, not flicker
    flicker = 0.05 * np.array([(-1) ** (p // 3) for p in range(n)])  # runs of three bright or dark frames
    gains = list(fade + np.diff(flicker, prepend=flicker[0]))
    got = np.array(flicker_gains(gains, list(range(n)), radius))
    inner = slice(radius, n - radius)  # full support on both sides
    assert np.abs(got[inner] - (flicker[inner] - flicker.mean())).max() < 0.02
    assert np.abs(np.array(flicker_gains(list(fade), list(range(n)), radius))[inner]).max() < 1e-9


def test_flicker_gains_restart_at_a_cut_and_count_a_mirrored_frame_once():
    gains = [0.0, 0.2, -0.1, 0.3, 0.05, -0.02]
    cut = [False, False, False, True, False, False]
    a = flicker_gains(gains, list(range(6)), 5, cut)
    changed = list(gains)
    changed[1] = changed[2] = 0.9  # before the cut
    b = flicker_gains(changed, list(range(6)), 5, cut)
    assert a[3:] == b[3:] and a[:3] != b[:3]
    # positions 0..4 hold frames 2, 1, 0, 1, 2 (mirrored at a clip start): each frame counts once
    level = np.cumsum([0.0, 0.1, 0.1, -0.1, -0.1])
    got = flicker_gains([0.0, 0.1, 0.1, -0.1, -0.1], [2, 1, 0, 1, 2], 4)
    once = np.median([level[4], level[3], level[2]])  # the last position of each frame
    assert got[2] == pytest.approx(level[2] - once)


def test_a_fade_goes_through_steadied_neighbours_unchanged():
    n = 40
    clean = 0.2 + 0.6 * moving_clip(n, 96, 128, seed=3)
    gain = np.ones(n, np.float32)
    gain[14:26], gain[26:] = np.linspace(1.0, 0.4, 12), 0.4  # a fade over half a second
    fade = clean * gain[:, None, None]
    small = steady([shrink(f, 1) for f in fade], list(range(n)), 10)
    for t in range(n):
        fixed = stabilise(fade[t], small[max(0, t - 5):t + 6], shrunk=True)
        assert abs(float((fixed - fade[t]).mean())) < 0.005, t


def test_steadied_neighbours_take_out_a_run_of_bright_frames():
    """A median of neighbours that flicker the same way for several frames keeps their swing; the
    neighbours steadied first keep only the run's share of the trend (5 of 15 frames here)."""
    n = 15
    clean = 0.2 + 0.6 * moving_clip(n, 96, 128, seed=3)
    gain = np.ones(n, np.float32)
    gain[5:10] = 1.12  # five bright frames in a row
    flick = np.clip(clean * gain[:, None, None], 0, 1)
    small = [shrink(f, 1) for f in flick]
    t = 7
    plain = stabilise(flick[t], small[t - 3:t + 4], shrunk=True)
    steadied = stabilise(flick[t], steady(small, list(range(n)), 7)[t - 3:t + 4], shrunk=True)
    error = lambda f: abs(float((f - clean[t]).mean()))
    assert error(steadied) < 0.5 * error(plain), (error(steadied), error(plain))


@pytest.mark.parametrize("position,length,radius,cuts,expected", [
    (5, 12, 2, None, range(3, 8)),
    (0, 12, 3, None, range(0, 4)),
    (11, 12, 3, None, range(8, 12)),
    (5, 12, 3, [False] * 6 + [True] + [False] * 5, range(2, 6)),  # a shot starts at 6
    (6, 12, 3, [False] * 6 + [True] + [False] * 5, range(6, 10)),
    (5, 12, 0, None, range(5, 6)),
])
def test_neighbourhood(position, length, radius, cuts, expected):
    assert neighbourhood(position, length, radius, cuts) == expected


def test_engine_output_with_deflicker_is_independent_of_order_and_streaming():
    model = tiny_model(seed=1)
    _, flick = flickering(48, 64)
    engine = Engine(model, "cpu", EngineSettings(window=3, context=2, deflicker=2))
    linear = restore_every_way(engine, flick)
    plain = restore_in_order(Engine(model, "cpu", EngineSettings(window=3, context=2)), flick, range(len(flick)))
    assert not np.array_equal(linear, plain)


def test_deflicker_does_not_cross_a_cut():
    model = tiny_model(seed=1)
    _, flick = flickering(48, 64)
    other = flick.copy()
    other[5:] = 1 - other[5:]
    engine = Engine(model, "cpu", EngineSettings(window=4, context=3, deflicker=3))
    a, b = restore_in_order(engine, flick, range(9), cuts=[5]), restore_in_order(engine, other, range(9), cuts=[5])
    assert np.array_equal(a[:5], b[:5])


def test_settings_and_presets_validate_deflicker():
    with pytest.raises(ArgumentError, match=r"'deflicker' must be an integer in 0..context \(2\), got 3"):
        EngineSettings(context=2, deflicker=3)
    with pytest.raises(PresetError, match="unknown key 'colorize.deflicker'"):
        validate({"colorize": {"deflicker": 2}}, "test")
    with pytest.raises(PresetError, match="'restore.deflicker' must be an integer in 0..64"):
        validate({"restore": {"deflicker": -1}}, "test")
    section = {"context": 5, "deflicker": 5}
    assert engine_settings(section).deflicker == 5
    assert engine_settings(section, context=2).deflicker == 2  # the preset's radius narrows with the context
    assert engine_settings(section, deflicker=0).deflicker == 0
    with pytest.raises(ArgumentError, match="'deflicker'"):
        engine_settings(section, context=2, deflicker=4)
