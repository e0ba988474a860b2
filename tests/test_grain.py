"""Grain retention: the pure function and the engine's use of it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vsrtn.engine import Engine, EngineSettings
from vsrtn.errors import ArgumentError, PresetError
from vsrtn.grain import retain
from vsrtn.presets import engine_settings, validate

from conftest import moving_clip, restore_every_way, restore_in_order, tiny_model


def grainy(seed: int = 0, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, grain, source): a smooth picture, fine Gaussian grain, and their sum plus a
    bright dust speck at (40, 60) and a frame-wide brightness offset."""
    rng = np.random.default_rng(seed)
    clean = 0.3 + 0.4 * cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 8)
    clean = (clean - clean.mean()) * 4 + 0.5
    grain = rng.normal(0, 0.02, (h, w)).astype(np.float32)
    source = clean + grain + 0.05
    cv2.circle(source, (60, 40), 3, 1.0, -1)
    return clean, grain, np.clip(source, 0, 1)


def test_the_grain_comes_back_and_the_damage_and_offset_do_not():
    clean, grain, source = grainy()
    out = retain(clean, source, 1.0)
    back = out - clean
    speck = np.zeros(clean.shape, np.uint8)
    cv2.circle(speck, (60, 40), 6, 1, -1)
    away = speck == 0
    assert np.corrcoef(back[away], grain[away])[0, 1] > 0.8
    assert np.abs(back[speck == 1]).max() < 0.05  # the speck (+0.5 and more) stays out, with its rim
    assert abs(float(back.mean())) < 0.005  # the 0.05 brightness offset is not fine detail


def test_amount_scales_what_comes_back():
    clean, _, source = grainy(1)
    half, full = retain(clean, source, 0.5) - clean, retain(clean, source, 1.0) - clean
    assert np.allclose(half, 0.5 * full, atol=1e-6)
    assert retain(clean, source, 0.0) is clean


def test_engine_output_with_grain_is_independent_of_order_and_streaming():
    model = tiny_model(seed=1)
    clip = 0.2 + 0.6 * moving_clip(7, 48, 64, seed=3)
    clip = np.clip(clip + np.random.default_rng(0).normal(0, 0.03, clip.shape), 0, 1).astype(np.float32)
    engine = Engine(model, "cpu", EngineSettings(window=3, context=2, grain=0.7))
    linear = restore_every_way(engine, clip)
    plain = restore_in_order(Engine(model, "cpu", EngineSettings(window=3, context=2)), clip, range(len(clip)))
    # Each output frame is its plain restoration plus its own source frame's grain.
    assert np.array_equal(linear[4], retain(plain[4], clip[4], 0.7))
    assert not np.array_equal(linear, plain)


@pytest.mark.parametrize("value", [-0.1, 1.5, True, "0.5"])
def test_settings_validate_grain(value):
    with pytest.raises(ArgumentError, match=r"'grain' must be a number in 0..1"):
        EngineSettings(grain=value)


def test_presets_take_grain_in_restore_only():
    with pytest.raises(PresetError, match="unknown key 'colorize.grain'"):
        validate({"colorize": {"grain": 0.5}}, "test")
    with pytest.raises(PresetError, match="'restore.grain' must be a number in 0..1"):
        validate({"restore": {"grain": 2}}, "test")
    validate({"restore": {"grain": 1}}, "test")
    assert engine_settings({"grain": 0.25}).grain == 0.25
    assert engine_settings({"grain": 0.25}, grain=0).grain == 0
    assert engine_settings({}).grain == 0
