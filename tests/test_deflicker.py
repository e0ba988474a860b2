"""Temporal brightness stabilisation: the pure functions and the engine's use of them."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vsrtn.deflicker import neighbourhood, stabilise
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
