#!/usr/bin/env python3
"""Train vsrtn restoration or colorization weights (resumable: rerun the same command to continue).

  python scripts/train.py --run ~/vsrtn-runs/compact --iters 20000
  python scripts/train.py --run ~/vsrtn-runs/next --init rtn-compact --iters 2000   # continue shipped weights
  python scripts/train.py --run ~/vsrtn-runs/next --init rtn-compact --iters 2000 \\
      --export weights/rtn-compact.safetensors --manifest weights/manifest.json --name rtn-compact  # ship it
Run folders (checkpoint, log) belong outside the repository; only exported weights ship, with the
run's command, settings and log (and those of the runs it started from) in the manifest entry.
Colorization: --model color-compact. On a GPU add --device cuda (and larger --crop/--batch).
Photographs are gathered once into ~/.cache/vsrtn/content; --data DIR trains on your own videos or
frame folders instead.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from vsrtn.errors import VsrtnError
from vsrtn.train.config import TrainConfig
from vsrtn.train.trainer import Trainer


def parse_args() -> argparse.Namespace:
    d = TrainConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run directory (checkpoint, log.jsonl)")
    ap.add_argument("--model", default=d.model)
    ap.add_argument("--dis-preset", default=None, choices=("ultrafast", "fast", "medium"),
                    help="DIS flow preset to train (and later run) the network with; default: the model's")
    ap.add_argument("--presets", default=",".join(d.presets), help="degradation presets to sample from")
    ap.add_argument("--frames", default=f"{d.frames[0]},{d.frames[1]}", help="clip length range, e.g. 7,11")
    ap.add_argument("--crop", type=int, default=d.crop)
    ap.add_argument("--batch", type=int, default=d.batch)
    ap.add_argument("--iters", type=int, default=d.iters)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--perceptual", type=float, default=d.perceptual)
    ap.add_argument("--gan", type=float, default=d.gan)
    ap.add_argument("--mask-supervision", type=float, default=d.mask_supervision)
    ap.add_argument("--lowpass", type=float, default=d.lowpass,
                    help="restoration: weight of the pixel loss's low-frequency part")
    ap.add_argument("--keep-grain", action="store_true",
                    help="restoration: the target keeps the degradation's grain (remove damage, keep texture)")
    ap.add_argument("--tied-reference", type=float, default=d.tied_reference,
                    help="colorization: share of samples whose reference shows a clip frame")
    ap.add_argument("--reference-gap", default=f"{d.reference_gap[0]},{d.reference_gap[1]}",
                    help="colorization: frames between an untied reference and the clip, e.g. 3,12")
    ap.add_argument("--holes", type=float, default=d.holes,
                    help="colorization: share of samples whose hint has holes to fill (no color, no confidence)")
    ap.add_argument("--ab-loss", default=d.ab_loss, choices=("l1", "l2"),
                    help="colorization: pixel loss on ab (l2: pulls in proportion to the error)")
    ap.add_argument("--head-init", type=float, default=d.head_init,
                    help="std of a new run's output-layer weights (0: the identity start)")
    ap.add_argument("--objects", type=float, default=d.objects,
                    help="share of photograph clips that get objects moving on their own paths (occlusion)")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--data", default=None)
    ap.add_argument("--init", default=None, help="start a new run from these weights: a weights name "
                    "(e.g. rtn-compact), a .safetensors file or a run's checkpoint.pt")
    ap.add_argument("--device", default=d.device)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--workers", type=int, default=d.workers,
                    help="processes drawing training samples (0: the training process; same samples either way)")
    ap.add_argument("--export", default=None, help="write the current weights here and stop")
    ap.add_argument("--manifest", default=None)
    ap.add_argument("--name", default=None)
    return ap.parse_args()


def config(args: argparse.Namespace) -> TrainConfig:
    """The run's settings from the command line."""
    lo, hi = (int(v) for v in args.frames.split(","))
    return TrainConfig(model=args.model, dis_preset=args.dis_preset, presets=args.presets.split(","),
                       frames=(lo, hi), crop=args.crop,
                       batch=args.batch, iters=args.iters, lr=args.lr, perceptual=args.perceptual, gan=args.gan,
                       mask_supervision=args.mask_supervision, lowpass=args.lowpass, keep_grain=args.keep_grain,
                       tied_reference=args.tied_reference,
                       reference_gap=tuple(int(v) for v in args.reference_gap.split(",")), objects=args.objects,
                       holes=args.holes, ab_loss=args.ab_loss, head_init=args.head_init, seed=args.seed,
                       data=args.data, init=args.init, device=args.device, workers=args.workers)


def command(run: str, c: TrainConfig, color: bool) -> str:
    """The command line that trains run `run` with settings `c` (recorded with exported weights)."""
    argv = ["python", "scripts/train.py", "--run", run, "--model", c.model, "--presets", ",".join(c.presets),
            "--frames", f"{c.frames[0]},{c.frames[1]}", "--crop", str(c.crop), "--batch", str(c.batch),
            "--iters", str(c.iters), "--lr", str(c.lr), "--perceptual", str(c.perceptual), "--gan", str(c.gan),
            "--mask-supervision", str(c.mask_supervision), "--lowpass", str(c.lowpass), "--seed", str(c.seed),
            "--device", c.device]
    if color:
        argv += ["--tied-reference", str(c.tied_reference),
                 "--reference-gap", f"{c.reference_gap[0]},{c.reference_gap[1]}"]
        if c.holes:
            argv += ["--holes", str(c.holes)]
        if c.ab_loss != "l1":
            argv += ["--ab-loss", c.ab_loss]
    for flag, value in (("--keep-grain", c.keep_grain), ("--objects", c.objects), ("--head-init", c.head_init),
                        ("--dis-preset", c.dis_preset), ("--data", c.data), ("--init", c.init)):
        if value is True:
            argv.append(flag)
        elif value:
            argv += [flag, str(value)]
    return " ".join(shlex.quote(a) for a in argv)


def main() -> int:
    args = parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cfg = config(args)
    from vsrtn.assets import cache_dir

    cache = cache_dir()
    try:
        trainer = Trainer(cfg, Path(args.run), cache)
    except (ValueError, VsrtnError) as e:  # refused settings, checkpoints or data: a message, not a traceback
        print(e, file=sys.stderr)
        return 2
    if args.export:
        name = args.name or Path(args.export).stem
        res = trainer.export(Path(args.export), Path(args.manifest) if args.manifest else None, name,
                             command(args.run, cfg, trainer.color))
        print(f"exported {res['path']} sha256 {res['sha256']} after {res['training']['iterations']} iterations")
        return 0
    trainer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
