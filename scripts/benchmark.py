#!/usr/bin/env python3
"""Speed and memory benchmark of the inference engine (not a test).

Each (mode, size, length) runs in its own subprocess so that its peak RSS is its own.
Modes:
  engine-compact-dis    the default engine: compact config, DIS flow, default windows
                        (engine modes deflicker as the medium preset does unless --deflicker)
  plugin-restore        `vsrtn.Restore(clip)` with every default (the shipped weights of the
                        medium preset) on a YUV420P8 clip of the same frames, read in order
                        through VapourSynth (its threads run the callbacks, as under vspipe)
  engine-published-dis  published network size, DIS flow, our windows
  engine-published-raft published network size, RAFT (24 iterations), our windows
  colorize-compact      the colorization engine (compact color model, default windows), one
                        keyframe tied to frame 0 (warping + VGG matching + the color RTN)
  published-procedure   the published test procedure re-created with our code: RAFT 24
                        iterations, windows of 20 frames with stride 10, zero state per window,
                        every frame computed twice (overlaps averaged)
Weights are random (speed does not depend on their values). Frames are a synthetic textured
pan generated on the fly, so the clip itself never sits in memory.

Example:
  python scripts/benchmark.py --sizes 480x368 --lengths 50,500 --json out/bench.json
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

MODES = ("engine-compact-dis", "plugin-restore", "engine-published-dis", "engine-published-raft", "published-procedure",
         "colorize-compact")


def synthetic_frames(n: int, h: int, w: int):
    """A deterministic textured image panning 1.5 px a frame (float32 luma in [0, 1])."""
    texture = _texture(h, w)
    for i in range(n):
        yield synthetic_frame(texture, i, h, w)


def _texture(h: int, w: int):
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((h + 64, w + 64), dtype=np.float32), (0, 0), 2.0)
    return (big - big.min()) / (big.max() - big.min())


def synthetic_frame(texture, i: int, h: int, w: int):
    """Frame i of `synthetic_frames` from its `_texture`."""
    import cv2
    import numpy as np

    dx, dy = 1.5 * i, 0.5 * i
    m = np.float32([[1, 0, -(dx % 32)], [0, 1, -(dy % 32)]])
    return cv2.warpAffine(texture, m, (w + 32, h + 32), flags=cv2.INTER_LINEAR)[:h, :w].copy()


def plugin_restore(n: int, h: int, w: int, device: str, precision: str):
    """`vsrtn.Restore` with its defaults on the synthetic frames as YUV420P8, frames in order
    (fp16 when `precision` says so; --deflicker, --grain and --window do not apply)."""
    import numpy as np
    import vapoursynth as vs

    import vsrtn

    texture = _texture(h, w)
    blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=w, height=h, length=n, color=[0, 128, 128])

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        np.copyto(np.asarray(out[0]), np.rint(synthetic_frame(texture, n, h, w) * 255).astype(np.uint8))
        return out

    clip = vsrtn.Restore(blank.std.ModifyFrame(blank, fill), device=device, fp16=precision == "fp16")
    for frame in clip.frames(close=True):
        yield frame


def build_model(mode: str, device: str):
    import torch

    from vsrtn.models.config import COLOR_COMPACT, COMPACT, PUBLISHED, RTNConfig
    from vsrtn.models.rtn import RTN

    torch.manual_seed(0)
    cfg = {"engine-compact-dis": COMPACT, "colorize-compact": COLOR_COMPACT,
           "engine-published-dis": RTNConfig(**{**PUBLISHED.to_dict(), "flow": "dis"})}.get(mode, PUBLISHED)
    return RTN(cfg).eval().to(device)


def published_procedure(model, frames, n: int, device: str, precision: str):
    """Windows of 20 frames, stride 10, each restored from a zero state; overlaps averaged."""
    import numpy as np
    import torch

    buf = {}
    src = iter(frames)
    read = 0
    acc, cnt = {}, {}
    starts = list(range(0, max(n - 20, 0) + 1, 10))
    if starts[-1] + 20 < n:
        starts.append(n - 20)
    emitted = 0
    for s in starts:
        e = min(n, s + 20)
        for i in [i for i in buf if i < s]:
            del buf[i]
        while read < e:
            buf[read] = next(src)
            read += 1
        x = torch.from_numpy(np.stack([buf[i] for i in range(s, e)])).to(device)
        x = x.mul(2).sub(1)[None, :, None].expand(-1, -1, 3, -1, -1)
        with torch.inference_mode():
            y = model(x)[0, :, 0].float().add(1).div(2).cpu().numpy()
        for k, i in enumerate(range(s, e)):
            acc[i] = acc.get(i, 0) + y[k]
            cnt[i] = cnt.get(i, 0) + 1
        done = s + 10 if s != starts[-1] else n
        while emitted < done:
            out = acc.pop(emitted) / cnt.pop(emitted)
            emitted += 1
            yield out


def run_one(mode: str, h: int, w: int, n: int, device: str, precision: str, deflicker: int = 0,
            grain: float = 0.0, window: int | None = None) -> dict:
    import torch

    from vsrtn.engine import Engine, EngineSettings

    model = None if mode == "plugin-restore" else build_model(mode, device)
    frames = synthetic_frames(n, h, w)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    if mode == "published-procedure":
        out = published_procedure(model, frames, n, device, precision)
    elif mode == "plugin-restore":
        out = plugin_restore(n, h, w, device, precision)
    elif mode == "colorize-compact":
        import numpy as np

        from vsrtn.color import luma_ab_to_rgb
        from vsrtn.colorize import ColorEngine, Reference

        first = next(synthetic_frames(1, h, w))
        key = luma_ab_to_rgb(first, np.stack([np.full((h, w), 20.0), np.full((h, w), -15.0)]).astype(np.float32))
        engine = ColorEngine(model, device, EngineSettings(precision=precision, tile=None), [Reference(key, 0)])
        out = engine.run_clip(frames, n)
    else:
        windows = {} if window is None else {"window": window}
        engine = Engine(model, device, EngineSettings(precision=precision, tile=None, deflicker=deflicker,
                                                          grain=grain, **windows))
        out = engine.run_clip(frames, n)
    count = sum(1 for _ in out)
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    result = {"mode": mode, "size": f"{w}x{h}", "frames": count, "seconds": round(elapsed, 2),
              "fps": round(count / elapsed, 4),
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "rss_before_run_mib": round(rss_before / 1024, 1), "device": device, "precision": precision}
    if mode.startswith("engine-"):
        result["deflicker"], result["grain"], result["window"] = deflicker, grain, engine.settings.window
    if device == "cuda":
        result["peak_vram_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["gpu"] = torch.cuda.get_device_name()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--sizes", default="480x368,720x480", help="WxH list")
    ap.add_argument("--lengths", default="50,500")
    ap.add_argument("--slow-frames", type=int, default=30,
                    help="clip length for every mode but the default engine (seconds a frame on a 2-core CPU)")
    ap.add_argument("--slow-sizes", default="480x368", help="sizes (WxH) at which those slow modes run")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--deflicker", type=int, default=None,
                    help="deflicker radius of the engine modes (default: the medium preset's)")
    ap.add_argument("--grain", type=float, default=0.0, help="grain retention of the engine modes (default 0)")
    ap.add_argument("--window", type=int, default=None, help="window of the engine modes (default: the engine's)")
    ap.add_argument("--json", default=None, help="append results to this JSON file")
    ap.add_argument("--_child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.deflicker is None:
        from vsrtn.presets import load_preset

        args.deflicker = load_preset("medium")["restore"].get("deflicker", 0)

    if args._child:
        mode, h, w, n, prec = args._child
        print(json.dumps(run_one(mode, int(h), int(w), int(n), args.device, prec, args.deflicker, args.grain,
                                 args.window)))
        return 0

    results = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        for mode in args.modes.split(","):
            slow = mode not in ("engine-compact-dis", "plugin-restore")
            if slow and size not in args.slow_sizes.split(","):
                continue
            lengths = [args.slow_frames] if slow else [int(v) for v in args.lengths.split(",")]
            for n in lengths:
                cmd = [sys.executable, __file__, "--device", args.device, "--deflicker", str(args.deflicker),
                       "--grain", str(args.grain), *(["--window", str(args.window)] if args.window else []),
                       "--_child", mode, str(h), str(w), str(n), args.precision]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{mode} {size} n={n}: FAILED\n{proc.stderr}", file=sys.stderr)
                    return 1
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append(res)
                print(json.dumps(res), flush=True)
    meta = {"machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
            "cpu_count": __import__("os").cpu_count(), "python": platform.python_version(),
            "command": " ".join(sys.argv)}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
