"""The `vsrtn` command: batch restoration without writing a script, and tools."""
from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
from pathlib import Path
from vsrtn.errors import VsrtnError

VIDEO_EXTS = (".mkv", ".mp4", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mxf", ".nut", ".y4m")


# ---------------------------------------------------------------- shared options


def _add_encoder_options(p: argparse.ArgumentParser) -> None:
    from vsrtn.io import ENCODERS

    g = p.add_argument_group("output")
    g.add_argument("--encoder", default="x264", choices=sorted(ENCODERS), help="video encoder (default x264)")
    g.add_argument("--crf", "--quality", dest="quality", type=float, default=None,
                   help="x264/x265 CRF (default 16/18) or ProRes qscale")
    g.add_argument("--encoder-preset", default=None, help="x264/x265 speed preset (default medium)")
    g.add_argument("--pix-fmt", default=None, help="output pixel format (default: the source's where allowed)")
    g.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars (for logs)")


def _add_restore_options(p: argparse.ArgumentParser, title: str = "restoration", colour: bool = False) -> None:
    g = p.add_argument_group(title)
    g.add_argument("--preset", default="medium", help="light, medium, heavy or a YAML file")
    g.add_argument("--weights", default=None, help="weights name or file (default: the preset's)")
    g.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    g.add_argument("--fp16", action="store_true", help="half precision (CUDA)")
    g.add_argument("--window", type=int, default=None)
    g.add_argument("--context", type=int, default=None)
    if not colour:
        g.add_argument("--deflicker", type=int, default=None,
                       help="frames each side that steady brightness after the network (0: off; default: the preset's)")
        g.add_argument("--grain", type=float, default=None,
                       help="share (0..1) of the source's fine grain kept, damage left out (default: the preset's, 0)")
    g.add_argument("--tile", type=int, nargs=2, metavar=("W", "H"), default=None)


def _encoder(args):
    from vsrtn.io import EncoderSettings

    return EncoderSettings(encoder=args.encoder, quality=args.quality, preset=args.encoder_preset, pix_fmt=args.pix_fmt)


def _parse_device(text: str | None) -> tuple[str | None, int]:
    if text is None:
        return None, 0
    name, _, index = text.partition(":")
    return name, int(index) if index else 0


def _engine_parts(args, section: str, func: str):
    """(model, device, settings) from the command's options over the preset's `section:`."""
    from vsrtn.engine import resolve_device
    from vsrtn.presets import engine_settings, load_preset
    from vsrtn.weights import load_model

    preset = load_preset(args.preset).get(section, {})
    device, index = _parse_device(args.device)
    dev = resolve_device(device, index, func)
    settings = engine_settings(preset, window=args.window, context=args.context,
                               deflicker=getattr(args, "deflicker", None), grain=getattr(args, "grain", None),
                               tile=tuple(args.tile) if args.tile else None, precision="fp16" if args.fp16 else "fp32")
    weights = args.weights or preset.get("weights")
    if not weights:
        raise VsrtnError(f"{func}: give --weights (the preset's '{section}:' section names none)")
    return load_model(weights, device=dev), dev, settings


def _make_engine(args):
    from vsrtn.engine import Engine

    return Engine(*_engine_parts(args, "restore", "vsrtn restore"))


def parse_reference(text: str) -> tuple[str, int | None]:
    """'key.png@120' -> ('key.png', 120); 'key.png' -> ('key.png', None) (tied to no frame)."""
    path, sep, frame = text.rpartition("@")
    if sep and frame.isdigit() and path:
        return path, int(frame)
    return text, None


class _Progress:
    """Per-file progress bar on stderr (frames, fps, ETA); silent with --quiet."""

    def __init__(self, quiet: bool, label: str, position: int = 0) -> None:
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(desc=label, unit="frame", file=sys.stderr, position=position, leave=True,
                            dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_one(src: Path, dst: Path, transform, args, position: int = 0, colour: bool = False):
    from vsrtn.pipeline import check_paths, transcode

    check_paths(src, dst, args.overwrite)
    progress = _Progress(args.quiet, src.name, position)
    try:
        return transcode(src, dst, transform, _encoder(args), overwrite=args.overwrite, progress=progress,
                         colour=colour)
    finally:
        progress.close()


# ---------------------------------------------------------------- commands


def _cmd_doctor(args) -> int:
    from vsrtn import doctor

    return doctor.run()


def _cmd_convert(args) -> int:
    from vsrtn import weights

    entry = weights.convert_published(args.input, args.output, name=args.name, manifest=args.manifest)
    print(f"wrote {entry.path} (sha256 {entry.sha256})")
    if args.manifest:
        print(f"manifest entry '{entry.name}' written to {args.manifest}")
    return 0


def _cmd_restore(args) -> int:
    from vsrtn.pipeline import engine_transform

    res = _run_one(Path(args.input), Path(args.output), engine_transform(_make_engine(args)), args)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def _cmd_colorize(args) -> int:
    from vsrtn.colorize import ColorEngine, Reference, fit_reference
    from vsrtn.io import VideoSource, read_image
    from vsrtn.pipeline import check_paths, engine_transform

    src, dst = Path(args.input), Path(args.output)
    check_paths(src, dst, args.overwrite)
    with VideoSource(src) as source:
        info = source.info
    refs = []
    for text in args.ref:
        path, frame = parse_reference(text)
        if frame is not None and frame >= info.frames:
            raise VsrtnError(f"--ref {text}: frame {frame} is past the end of {src} ({info.frames} frames)")
        refs.append(Reference(fit_reference(read_image(path), info.width, info.height), frame))
    engine = ColorEngine(*_engine_parts(args, "colorize", "vsrtn colorize"), refs)
    res = _run_one(src, dst, engine_transform(engine), args, colour=True)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def _cmd_degrade(args) -> int:
    from vsrtn.degrade import Degrader
    from vsrtn.pipeline import degrade_transform
    from vsrtn.presets import load_preset

    if args.seed < 0:
        raise VsrtnError(f"'--seed' must be an integer >= 0, got {args.seed}")
    degrader = Degrader(load_preset(args.preset)["degradation"], args.seed)
    res = _run_one(Path(args.input), Path(args.output), degrade_transform(degrader), args)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def expand_inputs(items: list[str], exclude: Path | None = None) -> list[Path]:
    """Files, folders (their video files, recursively) and globs -> sorted unique paths.
    Files under `exclude` (the output folder) are left out."""
    found: list[Path] = []
    for item in items:
        matches = [Path(m) for m in sorted(glob.glob(item, recursive=True))] or [Path(item)]
        for m in matches:
            if m.is_dir():
                found += sorted(p for p in m.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS
                                and ".vsrtn-partial" not in p.name)
            else:
                found.append(m)
    unique: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for p in found:
        if skip is not None and skip in p.resolve().parents:
            continue
        if p not in unique:
            unique.append(p)
    return unique


def _cmd_batch(args) -> int:
    from vsrtn.pipeline import FileResult, engine_transform
    from vsrtn.weights import sha256_file

    outdir = Path(args.output_dir)
    inputs = expand_inputs(args.inputs, exclude=outdir)
    if not inputs:
        raise VsrtnError("no input files matched")
    outdir.mkdir(parents=True, exist_ok=True)
    ext = args.extension if args.extension.startswith(".") else "." + args.extension
    engine = _make_engine(args)
    transform = engine_transform(engine)
    results: list[FileResult] = []
    outer = None
    if not args.quiet:
        from tqdm import tqdm

        outer = tqdm(total=len(inputs), desc="batch", unit="file", file=sys.stderr, position=0, dynamic_ncols=True)
    interrupted = False
    try:
        for src in inputs:
            dst = outdir / (src.stem + ext)
            if dst.exists() and not args.overwrite:
                results.append(FileResult(str(src), str(dst), "skipped", sha256=sha256_file(dst),
                                          error="output exists (finished earlier; --overwrite redoes it)"))
            else:
                try:
                    results.append(_run_one(src, dst, transform, args, position=1))
                except VsrtnError as exc:
                    results.append(FileResult(str(src), str(dst), "failed", error=str(exc)))
                    print(f"vsrtn batch: {exc}", file=sys.stderr)
            if outer is not None:
                outer.update(1)
    except KeyboardInterrupt:
        interrupted = True
        print("vsrtn batch: interrupted; finished files are kept, the current one was removed", file=sys.stderr)
    finally:
        if outer is not None:
            outer.close()
    report = {"inputs": len(inputs), "done": sum(r.status == "done" for r in results),
              "skipped": sum(r.status == "skipped" for r in results),
              "failed": sum(r.status == "failed" for r in results), "interrupted": interrupted,
              "files": [r.__dict__ for r in results]}
    report_path = Path(args.report) if args.report else outdir / "vsrtn-report.json"
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, report_path)
    print(f"vsrtn batch: {report['done']} done, {report['skipped']} skipped, {report['failed']} failed; "
          f"report {report_path}", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if report["failed"] == 0 else 1


def _cmd_vpy(args) -> int:
    src = Path(args.input).resolve()
    out = Path(args.output) if args.output else src.with_suffix(".vpy")
    if out.exists() and not args.overwrite:
        raise VsrtnError(f"{out}: exists (use --overwrite to replace it)")
    options = [f"preset={args.preset!r}"]
    if args.weights:
        options.append(f"weights={args.weights!r}")
    if args.sc_threshold is not None:
        options.append(f"sc_threshold={args.sc_threshold}")
    call, what, suffix = f"vsrtn.Restore(clip, {', '.join(options)})", "Restore", "restored"
    if args.ref:
        refs = [parse_reference(r) for r in args.ref]
        frames = [f for _, f in refs]
        if any(f is None for f in frames) and any(f is not None for f in frames):
            raise VsrtnError("--ref: give @FRAME for every keyframe or for none")
        paths = [str(Path(p).resolve()) for p, _ in refs]
        tied = f", ref_frames={frames!r}" if frames[0] is not None else ""
        call, what, suffix = f"vsrtn.Colorize(clip, {paths!r}{tied}, {', '.join(options)})", "Colour", "colour"
    script = (f"# {what} {src.name} with vsrtn. Encode with, for example:\n"
              f"#   vspipe -c y4m {out.name} - | ffmpeg -i - -c:v libx264 -crf 16 {src.stem}.{suffix}.mkv\n"
              f"import vapoursynth as vs\n\nimport vsrtn\n\ncore = vs.core\n"
              f"clip = core.bs.VideoSource({str(src)!r})\n"
              f"clip = {call}\n"
              f"clip.set_output()\n")
    out.write_text(script)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsrtn", description="Old-film restoration with RTN.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the installation")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("restore", help="restore one video file")
    p.add_argument("input")
    p.add_argument("output", help="output file; the extension picks the container (.mkv, .mp4, .mov, ...)")
    _add_restore_options(p)
    _add_encoder_options(p)
    p.set_defaults(func=_cmd_restore)

    p = sub.add_parser("batch", help="restore many files into a folder (resumable)")
    p.add_argument("inputs", nargs="+", help="files, folders or globs")
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("--extension", default=".mkv", help="output container extension (default .mkv)")
    p.add_argument("--report", default=None, help="JSON report path (default OUTDIR/vsrtn-report.json)")
    _add_restore_options(p)
    _add_encoder_options(p)
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("colorize", help="colour a black-and-white video from colour keyframes")
    p.add_argument("input")
    p.add_argument("output", help="output file; the extension picks the container")
    p.add_argument("--ref", action="append", required=True, metavar="IMAGE[@FRAME]",
                   help="a colour keyframe; @FRAME ties it to the frame it shows (repeat for more)")
    _add_restore_options(p, "colourisation", colour=True)
    _add_encoder_options(p)
    p.set_defaults(func=_cmd_colorize)

    p = sub.add_parser("degrade", help="age a video with the synthetic old-film model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--preset", default="medium")
    p.add_argument("--seed", type=int, default=0)
    _add_encoder_options(p)
    p.set_defaults(func=_cmd_degrade)

    p = sub.add_parser("vpy", help="write a ready .vpy script (Restore, or Colorize with --ref) for a video file")
    p.add_argument("input")
    p.add_argument("-o", "--output", default=None, help="script path (default: INPUT with .vpy)")
    p.add_argument("--preset", default="medium")
    p.add_argument("--weights", default=None)
    p.add_argument("--sc-threshold", type=float, default=None)
    p.add_argument("--ref", action="append", default=None, metavar="IMAGE[@FRAME]",
                   help="colour keyframes: write a vsrtn.Colorize script instead of Restore")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_vpy)

    p = sub.add_parser("convert", help="convert a published RTN checkpoint (net_G_*.pth[.gz]) to vsrtn weights")
    p.add_argument("input", help="published checkpoint: {'netG': state_dict}, plain or .gz")
    p.add_argument("output", help="output .safetensors file")
    p.add_argument("--name", default=None, help="name of the weights (default: output file stem)")
    p.add_argument("--manifest", default=None, help="manifest.json to add a sha256 entry to")
    p.set_defaults(func=_cmd_convert)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (a job scheduler, `kill`, `docker stop`) stops as Ctrl-C does: cleanly, with the
    # unfinished output removed.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args)
    except VsrtnError as exc:
        print(f"vsrtn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrtn {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
