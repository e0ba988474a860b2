"""Small pure functions: luma conversions, preset validation, pixel-format choices."""
from __future__ import annotations

import av
import numpy as np
import pytest

from vsrtn.color import luma_to_unit, unit_to_luma
from vsrtn.errors import PresetError
from vsrtn.io import _planar_equivalent, choose_pix_fmt
from vsrtn.presets import load_preset, validate


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
@pytest.mark.parametrize("limited", [False, True])
def test_luma_round_trip_is_exact_for_integers(bits, limited):
    codes = np.arange(0, 1 << bits, max(1, (1 << bits) // 4096), dtype=np.uint16 if bits > 8 else np.uint8)
    if limited:  # legal limited range only; outside values clip at the ends of [0, 1] after restoration
        lo, hi = 16 << (bits - 8), 235 << (bits - 8)
        codes = codes[(codes >= lo) & (codes <= hi)]
    unit = luma_to_unit(codes, bits, False, limited)
    back = unit_to_luma(unit, bits, False, limited, codes.dtype)
    assert np.array_equal(back, codes)


def test_limited_range_maps_black_and_white_to_0_and_1():
    assert luma_to_unit(np.array([16, 235], np.uint8), 8, False, True).tolist() == [0.0, 1.0]
    assert luma_to_unit(np.array([64, 940], np.uint16), 10, False, True).tolist() == [0.0, 1.0]
    assert unit_to_luma(np.array([-0.5, 2.0]), 8, False, True, np.uint8).tolist() == [0, 255]  # clipped to codes


def test_float_luma_passes_through():
    y = np.array([0.25, 0.5], np.float32)
    assert luma_to_unit(y, 32, True, False) is not None
    assert unit_to_luma(y, 16, True, False, np.float16).dtype == np.float16


@pytest.mark.parametrize("data,message", [
    ({"restore": {"window": 0}}, "'restore.window' must be an integer in 1..256, got 0"),
    ({"restore": {"context": True}}, "'restore.context' must be an integer in 0..64"),
    ({"restore": {"speed": 2}}, "unknown key 'restore.speed'"),
    ({"colour": 1}, "unknown key 'colour'"),
    ({"restore": []}, "'restore' must be a dict"),
])
def test_restore_preset_validation(data, message):
    with pytest.raises(PresetError) as err:
        validate(data, "test")
    assert message in str(err.value)


def test_invalid_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restore: [unclosed\n")
    with pytest.raises(PresetError, match="not valid YAML"):
        load_preset(bad)
    bad.write_text("- a list\n")
    with pytest.raises(PresetError, match="must hold a mapping"):
        load_preset(bad)


@pytest.mark.parametrize("src,expected", [
    ("yuv420p", "yuv420p"), ("yuv420p10le", "yuv420p10le"), ("yuvj420p", "yuv420p"), ("nv12", "yuv420p"),
    ("p010le", "yuv420p10le"), ("yuyv422", "yuv422p"), ("rgb24", "yuv444p"), ("gbrp10le", "yuv444p10le"),
    ("gray", "gray"), ("gray16le", "gray16le"), ("yuv444p16be", "yuv444p16le"), ("yuva420p", "yuv420p"),
])
def test_working_formats(src, expected):
    assert _planar_equivalent(av.VideoFormat(src)) == expected


@pytest.mark.parametrize("encoder,wanted,expected", [
    ("x264", "yuv420p10le", "yuv420p10le"), ("x264", "yuv444p16le", "yuv444p10le"),
    ("x264", "gray16le", "gray10le"), ("prores", "yuv420p", "yuv422p10le"), ("ffv1", "yuv444p16le", "yuv444p16le"),
])
def test_encoder_pixel_formats(encoder, wanted, expected):
    assert choose_pix_fmt(encoder, wanted) == expected
