#!/usr/bin/env python3
"""The README demo, end to end through the real tools:

1. a photograph that ships with scikit-image, filmed by a synthetic moving camera (clean.mkv);
2. aged like old film by `vsrtn degrade` (aged.mkv);
3. restored by `vspipe` running `vsrtn.Restore` in a .vpy script, piped into ffmpeg (restored.mp4);
4. a before/after image (clean | aged | restored) and PSNR against the clean clip, and against
   the clean clip in the aged clip's tone (its fading kept, as vsrtn restores to).

  python scripts/demo.py [--out out/demo] [--preset medium] [--weights NAME|FILE] [--frames 48]
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def compare(clean: Path, aged: Path, restored: Path, out: Path, args: argparse.Namespace) -> None:
    """PSNR of the aged and restored clips against the clean one (and in the aged clip's tone),
    and a before/after picture of the middle frame."""
    from vsrtn.degrade import Degrader
    from vsrtn.media import read_gray
    from vsrtn.metrics import psnr
    from vsrtn.presets import load_preset

    a, b, r = read_gray(clean), read_gray(aged), read_gray(restored)
    n = min(len(a), len(b), len(r))
    if n != args.frames:
        raise SystemExit(f"demo: expected {args.frames} frames, got clean {len(a)}, aged {len(b)}, restored {len(r)}")
    mid = n // 2
    panel = np.concatenate([a[mid], b[mid], r[mid]], axis=1)
    labels = ["clean", "aged (degrade)", "restored (vsrtn)"]
    # Limited-range footroom reads slightly below 0: clamp, or -1 would wrap to a white 255.
    img = cv2.cvtColor(np.clip(np.rint(panel * 255), 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for i, label in enumerate(labels):
        cv2.putText(img, label, (i * 384 + 8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 220, 255), 2, cv2.LINE_AA)
    cv2.imwrite(str(out / "before_after.png"), img)
    p_aged = np.mean([psnr(x, y) for x, y in zip(a, b)])
    p_rest = np.mean([psnr(x, y) for x, y in zip(a, r)])
    print(f"demo: {n} frames; PSNR vs clean: aged {p_aged:.2f} dB, restored {p_rest:.2f} dB")
    # `vsrtn degrade` ages frame t with Degrader(preset, seed).frame(clean, t): the same draws give its tone.
    toner = Degrader(load_preset(args.preset)["degradation"], args.seed)
    toned = [toner.target(x, t) for t, x in enumerate(a[:n])]
    t_aged = np.mean([psnr(x, y) for x, y in zip(toned, b)])
    t_rest = np.mean([psnr(x, y) for x, y in zip(toned, r)])
    print(f"demo: PSNR vs clean in the aged clip's tone ({', '.join(toner.components)}): "
          f"aged {t_aged:.2f} dB, restored {t_rest:.2f} dB")
    print(f"demo: wrote {restored} and {out / 'before_after.png'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--weights", default=None, help="default: the preset's (the shipped weights)")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent

    from skimage import data

    from vsrtn.media import write_gray
    from vsrtn.train.content import camera_clip

    def step(msg: str) -> None:
        print(f"[demo] {msg}", file=sys.stderr, flush=True)

    step("1/4 filming scikit-image's 'astronaut' photograph with a synthetic camera")
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    photo = cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(args.seed)
    clip = camera_clip(photo, rng, args.frames, 384)  # square crop, 384 px
    clean = out / "clean.mkv"
    write_gray(list(clip), clean)

    step(f"2/4 ageing it: vsrtn degrade --preset {args.preset} --seed {args.seed}")
    aged = out / "aged.mkv"
    subprocess.run([str(bindir / "vsrtn"), "degrade", str(clean), str(aged), "--preset", args.preset,
                    "--seed", str(args.seed), "--encoder", "ffv1", "--overwrite", "-q"], check=True)

    step("3/4 restoring it: vspipe (vsrtn.Restore) | ffmpeg")
    script = out / "restore.vpy"
    options = f"preset={args.preset!r}" + (f", weights={args.weights!r}" if args.weights else "")
    script.write_text("import vapoursynth as vs\nimport vsrtn\n"
                      f"clip = vs.core.bs.VideoSource({str(aged.resolve())!r})\n"
                      f"vsrtn.Restore(clip, {options}).set_output()\n")
    restored = out / "restored.mp4"
    pipe = (f"{shlex.quote(str(bindir / 'vspipe'))} -c y4m {shlex.quote(str(script))} - | "
            f"ffmpeg -v error -y -i - -c:v libx264 -crf 12 -pix_fmt yuv420p {shlex.quote(str(restored))}")
    step(f"   {pipe}")
    subprocess.run(pipe, shell=True, check=True, executable="/bin/bash")

    step("4/4 comparing")
    compare(clean, aged, restored, out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
