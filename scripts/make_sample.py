#!/usr/bin/env python3
"""Make the two sample frames `vsrtn doctor` restores and colorizes (run once by a developer; the
result is committed in `vsrtn/data/sample/`).

A crop of scikit-image's `astronaut` photograph (NASA, public domain), seen by a camera panning
3 px to the right between the two frames, as 8-bit color PNGs.

    python scripts/make_sample.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "vsrtn" / "data" / "sample"
WIDTH, HEIGHT, PAN = 160, 128, 3


def main() -> int:
    from skimage import data

    photo = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)  # RGB uint8
    OUT.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        x = 64 + i * PAN
        frame = np.ascontiguousarray(photo[100:100 + HEIGHT, x:x + WIDTH, ::-1])  # BGR for OpenCV
        path = OUT / f"frame{i}.png"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{path}: {WIDTH}x{HEIGHT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
