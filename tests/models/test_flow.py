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
