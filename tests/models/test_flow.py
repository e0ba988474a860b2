"""vsrtn.models.flow: DIS flow at full and at reduced scale."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from vsrtn.models.flow import DISFlow


def test_scaled_flow_recovers_a_shift_in_full_size_pixels():
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((140, 220), dtype=np.float32), (0, 0), 3)
    big = (big - big.min()) / (big.max() - big.min())
    ref, src = big[10:138, 10:202], big[12:140, 6:198]  # ref at p is src at p + (4, -2)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None, None]
    for scale in (1.0, 0.5):
        flow = DISFlow("medium")(as_t(ref), as_t(src), scale)[0].numpy()
        assert flow.shape == (2, 128, 192)
        inner = flow[:, 16:-16, 16:-16]
        dx, dy = np.median(inner, (1, 2))
        assert abs(dx - 4) < 0.5 and abs(dy + 2) < 0.5, (scale, dx, dy)


def test_pair_writes_its_flow_in_place_and_nothing_else():
    """The engine hands `pair` a slot of the network's flow input: the flow lands there, channel
    first at full size, and the rest of the array is untouched."""
    rng = np.random.default_rng(1)
    frames = torch.from_numpy(cv2.GaussianBlur(rng.random((2, 64, 96), dtype=np.float32).transpose(1, 2, 0),
                                               (0, 0), 2).transpose(2, 0, 1).copy())[:, None]
    dis = DISFlow("medium")
    for scale in (1.0, 0.5):
        a = dis.prepare(frames, scale)
        store = np.full((3, 2, 64, 96), 7.0, np.float32)
        dis.pair(a[0], a[1], store[1])
        small = dis._calc(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM), a[0], a[1])
        want = cv2.resize(small, (96, 64), interpolation=cv2.INTER_LINEAR) * np.float32([96 / small.shape[1],
                                                                                         64 / small.shape[0]])
        assert np.allclose(store[1], want.transpose(2, 0, 1), atol=1e-5)
        assert (store[0] == 7).all() and (store[2] == 7).all()
        assert np.abs(store[1]).max() > 0
