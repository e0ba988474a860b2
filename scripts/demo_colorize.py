#!/usr/bin/env python3
"""Color the 1952 film excerpt in ../shared/data/real/a_bomb_1952 from its four hand-colored
keyframes, through the VapourSynth plugin (bestsource -> vsrtn.Colorize), and write a
before/after strip (one row per shot) and optionally the colored video.

Each keyframe is tied to the excerpt frame whose luma it matches best (the keyframes' file names
count frames of the whole film); shot cuts are found by the in-house detector (on by default).

  python scripts/demo_colorize.py --out docs/img/colorize_a_bomb.jpg [--video out/a_bomb_color.mkv]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FILM = Path(os.environ.get("VSRTN_SHARED", ROOT.parent / "shared")) / "data" / "real" / "a_bomb_1952"


def best_frames(keyframes: list[np.ndarray], lumas: list[np.ndarray]) -> list[int]:
    """For each keyframe, the frame of the clip whose luma it matches best (mean absolute error)."""
    from vsrtn.color import rgb_to_ycbcr

    h, w = lumas[0].shape
    out = []
    for key in keyframes:
        y = cv2.resize(rgb_to_ycbcr(key, 1)[0], (w, h), interpolation=cv2.INTER_AREA)
        out.append(int(np.argmin([np.mean(np.abs(y - f)) for f in lumas])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="colorization weights (default: the preset's)")
    ap.add_argument("--out", default="docs/img/colorize_a_bomb.jpg")
    ap.add_argument("--video", default=None, help="also encode the colored clip here (FFV1 .mkv)")
    ap.add_argument("--sc-threshold", type=float, default=None, help="scene-cut threshold (default: the detector's)")
    args = ap.parse_args()

    import vapoursynth as vs

    import vsrtn
    from vsrtn.media import read_gray, read_image

    video = FILM / "a-bomb_blast_effects_part.mp4"
    refs = sorted((FILM / "references").glob("*.png"))
    if not video.is_file() or not refs:
        print(f"demo_colorize: {FILM} with the film and its references/ is needed", file=sys.stderr)
        return 2
    lumas = read_gray(video)
    frames = best_frames([read_image(r) for r in refs], lumas)
    print(f"demo_colorize: keyframes {[r.name for r in refs]} tied to frames {frames}", file=sys.stderr)

    core = vs.core
    clip = core.bs.VideoSource(str(video))
    colored = vsrtn.Colorize(clip, [str(r) for r in refs], ref_frames=frames, weights=args.weights,
                              sc_threshold=args.sc_threshold, output="rgb")
    rgb8 = colored.resize.Point(format=vs.RGB24) if colored.format.id != vs.RGB24 else colored

    def picture(n: int) -> np.ndarray:
        f = rgb8.get_frame(n)
        return np.stack([np.asarray(f[p]) for p in range(3)], -1)

    # One row per shot: the film's frame, the colored frame, a few frames later.
    rows = []
    for key in frames:
        later = min(key + 15, clip.num_frames - 1)
        gray = [np.repeat((np.clip(lumas[n], 0, 1) * 255).astype(np.uint8)[..., None], 3, -1) for n in (key, later)]
        rows.append(np.concatenate([gray[0], picture(key), gray[1], picture(later)], 1))
    strip = np.concatenate(rows, 0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"demo_colorize: wrote {args.out} (columns: film at the keyframe, colored, film 15 frames "
          "later, colored)", file=sys.stderr)
    if args.video:
        import av

        with av.open(args.video, "w") as c:
            s = c.add_stream("ffv1", rate=29)
            s.width, s.height, s.pix_fmt = clip.width, clip.height, "bgr0"
            for n in range(clip.num_frames):
                for packet in s.encode(av.VideoFrame.from_ndarray(picture(n), format="rgb24")):
                    c.mux(packet)
            for packet in s.encode(None):
                c.mux(packet)
        print(f"demo_colorize: wrote {args.video}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
