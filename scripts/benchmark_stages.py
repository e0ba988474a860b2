#!/usr/bin/env python3
"""Speed of everything but the network (not a test): `vsrtn restore` on a synthetic 1080p file
with the network replaced by an identity that takes the same inputs, so that what is timed is
decoding, scene-cut detection, DIS flow (computed as for the network), deflicker, grain, the
luma exchange and encoding. Each core count runs in its own process pinned to that many cores
(`os.sched_setaffinity`), with as many torch and OpenCV threads.

  python scripts/benchmark_stages.py --cores 1,2 --frames 60 --json out/bench-stages.json

The projection to more cores is Amdahl's law fitted to the 1- and 2-core runs: it assumes the
share of the work that ran in parallel on two cores keeps doing so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def make_source(path: Path, size: str, frames: int) -> None:
    """A synthetic film-like source: moving test pattern with grain, lossless (decoding stays cheap)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24",
                    "-vf", "noise=alls=12:allf=t,format=yuv420p", "-frames:v", str(frames), "-c:v", "ffv1",
                    str(path)], check=True)


class Identity:
    """Stands in for the network: takes its inputs (flows included) and returns its input's core frames."""

    def __init__(self) -> None:
        from vsrtn.models.config import COMPACT
        from vsrtn.models.flow import build_flow

        self.config = COMPACT
        self.flow = build_flow(COMPACT)

    def to(self, device):
        return self

    def eval(self):
        return self

    def __call__(self, x, cuts=None, flows=None, out_range=None):
        a, b = out_range
        return x[:, a:b, :self.config.out_channels]


def run_child(src: str, encoder: str, cores: int, flow_scale: float) -> dict:
    import cv2
    import torch

    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    torch.set_num_threads(cores)
    cv2.setNumThreads(cores)
    from vsrtn.engine import Engine
    from vsrtn.media import EncoderSettings
    from vsrtn.pipeline import engine_transform, transcode
    from vsrtn.presets import engine_settings, load_preset

    # The real engine around the stand-in, with whole frames (no tiling) as on a GPU with room for a window.
    settings = engine_settings(load_preset("medium")["restore"], flow_scale=flow_scale)
    engine = Engine(Identity(), "cpu", replace(settings, tile=(1 << 15, 1 << 15)))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        res = transcode(src, Path(tmp) / "out.mkv", engine_transform(engine), EncoderSettings(encoder=encoder))
        seconds = time.perf_counter() - start
    return {"cores": cores, "encoder": encoder, "flow_scale": flow_scale, "frames": res.frames,
            "seconds": round(seconds, 2), "fps": round(res.frames / seconds, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--cores", default="1,2")
    ap.add_argument("--encoders", default="ffv1,x264")
    ap.add_argument("--flow-scales", default="1,0.5")
    ap.add_argument("--json", default=None)
    ap.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        src, encoder, cores, scale = args._child
        print(json.dumps(run_child(src, encoder, int(cores), float(scale))))
        return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "source.mkv"
        make_source(src, args.size, args.frames)
        runs = [(e, int(c), float(s)) for e in args.encoders.split(",") for s in args.flow_scales.split(",")
                for c in args.cores.split(",")]
        for encoder, cores, scale in runs:
            out = subprocess.run([sys.executable, __file__, "--_child", str(src), encoder, str(cores), str(scale)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    for encoder, _, scale in dict.fromkeys((e, 0, s) for e, _, s in runs):
        fps = {r["cores"]: r["fps"] for r in results if r["encoder"] == encoder and r["flow_scale"] == scale}
        if 1 in fps and 2 in fps:
            parallel = min(1.0, max(0.0, 2 * (1 - fps[1] / fps[2])))
            results.append({"encoder": encoder, "flow_scale": scale, "projected_cores": 16,
                            "parallel_share": round(parallel, 3),
                            "fps": round(fps[1] / ((1 - parallel) + parallel / 16), 1)})
            print(json.dumps(results[-1]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                                               "size": args.size, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
