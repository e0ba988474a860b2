#!/usr/bin/env python3
"""Speed of the degradation model (not a test): frames per second on one CPU process, averaged
over many seeds so that every component of a preset is sampled as often as training samples it.

  python scripts/benchmark_degrade.py --size 720x480 --seeds 16 --frames 30
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import cv2
import numpy as np

from vsrtn.degrade import Degrader
from vsrtn.presets import load_preset


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="720x480", help="WxH")
    ap.add_argument("--presets", default="light,medium,heavy")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    clean = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 2)
    clean = (clean - clean.min()) / (clean.max() - clean.min())
    cv2.setNumThreads(1)  # one process, one core: what a training data worker gets
    for name in args.presets.split(","):
        spec = load_preset(name)["degradation"]
        total, count = 0.0, 0
        for seed in range(args.seeds):
            d = Degrader(spec, seed)
            start = time.perf_counter()
            for n in range(args.frames):
                d.frame(clean, n)
            total += time.perf_counter() - start
            count += args.frames
        print(json.dumps({"preset": name, "size": args.size, "frames": count, "fps": round(count / total, 1),
                          "threads": 1, "machine": platform.machine(), "cpus": __import__("os").cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
