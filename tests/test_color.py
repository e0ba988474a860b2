"""vsrtn.color: sample codes in and out of range, Lab and YCbCr conversions, chroma codes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vsrtn.color import (
    chroma_to_unit,
    gray_to_lightness,
    lab_to_rgb,
    luma_ab_to_rgb,
    luma_to_unit,
    rgb_to_lab,
    rgb_to_ycbcr,
    unit_to_chroma,
    unit_to_luma,
    ycbcr_to_rgb,
)

from conftest import TorchKernels


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


def test_lab_matches_opencv_and_round_trips():
    rgb = np.random.default_rng(0).random((24, 32, 3), dtype=np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)).max() < 0.5
    back = lab_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(back - rgb).max() < 1e-4


def test_gray_has_no_color_and_keeps_its_lightness():
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


def test_color_output_runs_no_torch_kernel_on_the_calling_thread():
    """Writing predicted color happens on VapourSynth's and the encoder's threads; its torch work
    runs on vsrtn's one torch thread, like inference, and gives the same colors."""
    rng = np.random.default_rng(3)
    y = rng.random((48, 64), dtype=np.float32)
    ab = rng.uniform(-40, 40, (2, 48, 64)).astype(np.float32)
    with TorchKernels() as seen:
        rgb = luma_ab_to_rgb(y, ab)
    lab = torch.cat([gray_to_lightness(torch.from_numpy(y))[None], torch.from_numpy(ab)])
    assert not seen.kernels, sorted(seen.kernels)
    assert np.array_equal(rgb, lab_to_rgb(lab).permute(1, 2, 0).numpy())
