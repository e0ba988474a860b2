"""The `vsrtn` command: batch restoration without writing a script, and tools."""
from __future__ import annotations

import argparse
import glob
import json
import signal
import sys
from pathlib import Path

from vsrtn import __version__
from vsrtn.errors import VsrtnError, torch_missing

# ---------------------------------------------------------------- shared options


def _add_encoder_options(p: argparse.ArgumentParser) -> None:
    from vsrtn.media import ENCODERS

    g = p.add_argument_group("output")
    g.add_argument("--encoder", default="x264", choices=sorted(ENCODERS), help="video encoder (default x264)")
    g.add_argument("--crf", "--quality", dest="quality", type=float, default=None,
                   help="x264/x265 CRF (default 16/18) or ProRes qscale")
    g.add_argument("--encoder-preset", default=None, help="x264/x265 speed preset (default medium)")
    g.add_argument("--pix-fmt", default=None, help="output pixel format (default: the source's where allowed)")
    g.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars (for logs)")


def _add_restore_options(p: argparse.ArgumentParser, title: str = "restoration", color: bool = False) -> None:
    g = p.add_argument_group(title)
    g.add_argument("--preset", default="medium", help="light, medium, heavy or a YAML file")
    g.add_argument("--weights", default=None, help="weights name or file (default: the preset's)")
    g.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    g.add_argument("--fp16", action="store_true", help="half precision (CUDA)")
    g.add_argument("--window", type=int, default=None)
    g.add_argument("--context", type=int, default=None)
    if not color:
        g.add_argument("--deflicker", type=int, default=None,
                       help="frames each side that steady brightness after the network (0: off; default: the preset's)")
        g.add_argument("--degrain", action="store_true",
                       help="remove the film's grain too (the preset's grain-removing network; default: keep it)")
        g.add_argument("--grain", type=float, default=None,
                       help="share (0..1) of the source's fine grain put back, damage left out "
                            "(default: the preset's, 0)")
    g.add_argument("--tile", type=int, nargs=2, metavar=("W", "H"), default=None)
    g.add_argument("--flow-scale", type=float, default=None,
                   help="compute optical flow on frames scaled by this (0.25..1; faster, at some cost in quality; "
                        "default: the preset's, 1)")
    g.add_argument("--sc-threshold", type=float, default=None,
                   help="scene-cut detector threshold, 0 < T <= 1 (default 0.35; lower finds more cuts)")
    g.add_argument("--no-scene-detect", action="store_true",
                   help="do not detect scene cuts (restore straight through them)")


def _encoder(args, func: str):
    """The output options, validated before any work."""
    from vsrtn.media import EncoderSettings

    settings = EncoderSettings(encoder=args.encoder, quality=args.quality, preset=args.encoder_preset,
                               pix_fmt=args.pix_fmt)
    settings.validate(func)
    return settings


def _engine_options(args) -> dict:
    """`build_engine`'s options from the command line (device and references apart)."""
    return dict(preset=args.preset, weights=args.weights, window=args.window, context=args.context,
                tile=list(args.tile) if args.tile else None, deflicker=getattr(args, "deflicker", None),
                grain=getattr(args, "grain", None), degrain=getattr(args, "degrain", False) or None,
                flow_scale=args.flow_scale,
                scene_detect=not args.no_scene_detect, sc_threshold=args.sc_threshold)


def _build(args, section: str, func: str, references=None):
    """The engine the options ask for (the plugin's builder, so the two cannot drift apart)."""
    from vsrtn.builder import DeviceOptions, build_engine

    return build_engine(func, section, device=DeviceOptions.parse(args.device, args.fp16, func),
                        references=references, **_engine_options(args)).engine


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster (Ray; pip install \"vsrtn[ray]\")")
    g.add_argument("--cluster", default=None, metavar="local|auto|ray://HOST:PORT",
                   help="run in segments on a Ray cluster: local starts one on this machine, auto joins the "
                        "cluster this machine belongs to; rerunning the same command resumes")
    g.add_argument("--workers", type=int, default=None,
                   help="workers (default: one per GPU of the cluster, else one per CPU)")
    g.add_argument("--segment-windows", type=int, default=None,
                   help="windows per segment (default: about four segments per worker, at most 20 windows)")


def _run_cluster(args, pairs, section: str, func: str, encoder, references=()) -> list:
    """Run (input, output) pairs on the cluster `--cluster` names."""
    from vsrtn.cluster import EngineSpec, run

    spec = EngineSpec(func, section, _engine_options(args), args.device, args.fp16, tuple(references))
    progress = _Progress(args.quiet, "segments")
    try:
        return run(pairs, spec, encoder, cluster=args.cluster, workers=args.workers,
                   per_segment=args.segment_windows, warn=_warn, progress=progress,
                   note=lambda text: print(f"{func}: {text}", file=sys.stderr))
    except KeyboardInterrupt:
        print(f"{func}: interrupted; rendered segments are kept beside the output: rerun the same command "
              "to resume", file=sys.stderr)
        raise
    finally:
        progress.close()


def _cluster_result(res, func: str) -> int:
    if res.status != "done":
        print(f"{func}: error: {res.input}: {res.error}", file=sys.stderr)
        return 1
    print(f"{res.output}: {res.frames} frames (joined in {res.seconds:.1f} s)", file=sys.stderr)
    return 0


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

            # Frames arrive a window at a time: rate and ETA are averaged since the start.
            self.bar = tqdm(desc=label, unit="frame", file=sys.stderr, position=position, leave=True,
                            dynamic_ncols=True, smoothing=0)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _warn(text: str) -> None:
    print(f"vsrtn: warning: {text}", file=sys.stderr)


def _run_one(src: Path, dst: Path, transform, args, encoder, position: int = 0, color: bool = False):
    from vsrtn.pipeline import check_paths, transcode

    check_paths(src, dst, args.overwrite)
    progress = _Progress(args.quiet, src.name, position)
    try:
        return transcode(src, dst, transform, encoder, overwrite=args.overwrite, progress=progress,
                         color=color, warn=_warn)
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
    from vsrtn.pipeline import check_paths, engine_transform

    func = "vsrtn restore"
    encoder = _encoder(args, func)
    check_paths(Path(args.input), Path(args.output), args.overwrite)
    if args.cluster:
        return _cluster_result(_run_cluster(args, [(Path(args.input), Path(args.output))], "restore", func,
                                            encoder)[0], func)
    engine = _build(args, "restore", func)
    res = _run_one(Path(args.input), Path(args.output), engine_transform(engine), args, encoder)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def _cmd_colorize(args) -> int:
    from vsrtn.colorize import Reference, fit_reference
    from vsrtn.media import VideoSource, read_image
    from vsrtn.pipeline import check_paths, engine_transform

    func = "vsrtn colorize"
    src, dst = Path(args.input), Path(args.output)
    encoder = _encoder(args, func)
    check_paths(src, dst, args.overwrite)
    with VideoSource(src) as source:
        info = source.info
    refs = []
    for text in args.ref:
        path, frame = parse_reference(text)
        if frame is not None and frame >= info.frames:
            raise VsrtnError(f"--ref {text}: frame {frame} is past the end of {src} ({info.frames} frames)")
        refs.append(Reference(fit_reference(read_image(path), info.width, info.height), frame))
    if args.cluster:
        return _cluster_result(_run_cluster(args, [(src, dst)], "colorize", func, encoder,
                                            [(r.rgb, r.frame) for r in refs])[0], func)
    engine = _build(args, "colorize", func, refs)
    res = _run_one(src, dst, engine_transform(engine), args, encoder, color=True)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def _cmd_degrade(args) -> int:
    from vsrtn.degrade import Degrader
    from vsrtn.pipeline import degrade_transform
    from vsrtn.presets import load_preset

    if not 0 <= args.seed < 2**63:
        raise VsrtnError(f"vsrtn degrade: '--seed' must be an integer in 0..2**63-1, got {args.seed}")
    encoder = _encoder(args, "vsrtn degrade")
    degrader = Degrader(load_preset(args.preset)["degradation"], args.seed)
    res = _run_one(Path(args.input), Path(args.output), degrade_transform(degrader), args, encoder)
    print(f"{res.output}: {res.frames} frames in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def expand_inputs(items: list[str], exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Files, folders (their video files, recursively) and globs -> sorted unique (path, name
    relative to its input root): a file found in a folder keeps its path below that folder, a
    file named directly or by a glob its name. Files under `exclude` (the output folder) are left out."""
    from vsrtn.atomic import JOB_SUFFIX, PARTIAL
    from vsrtn.media import VIDEO_EXTS

    found: list[tuple[Path, Path]] = []
    for item in items:
        matches = [Path(m) for m in sorted(glob.glob(item, recursive=True))] or [Path(item)]
        for m in matches:
            if m.is_dir():
                found += sorted((p, p.relative_to(m)) for p in m.rglob("*") if p.is_file()
                                and p.suffix.lower() in VIDEO_EXTS and PARTIAL not in p.name
                                and not any(d.name.endswith(JOB_SUFFIX) for d in p.parents))
            else:
                found.append((m, Path(m.name)))
    unique: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    skip = exclude.resolve() if exclude is not None else None
    for p, rel in found:
        real = p.resolve()
        if (skip is not None and skip in real.parents) or real in seen:
            continue
        seen.add(real)
        unique.append((p, rel))
    return unique


def batch_outputs(inputs: list[tuple[Path, Path]], outdir: Path, ext: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: each output mirrors its input's path below its input root, with
    `ext`. Two inputs that would share an output are refused, before any work."""
    pairs = [(src, outdir / rel.with_suffix(ext)) for src, rel in inputs]
    by_output: dict[Path, list[Path]] = {}
    for src, dst in pairs:
        by_output.setdefault(dst, []).append(src)
    clashes = {dst: srcs for dst, srcs in by_output.items() if len(srcs) > 1}
    if clashes:
        dst, srcs = next(iter(clashes.items()))
        raise VsrtnError(f"{len(clashes)} output(s) would be written by more than one input, e.g. {dst} by "
                         f"{', '.join(map(str, srcs))}; give them in folders of their own or run them separately")
    return pairs


def _cmd_batch(args) -> int:
    from vsrtn.pipeline import FileResult, check_writable, engine_transform

    func = "vsrtn batch"
    encoder = _encoder(args, func)
    outdir = Path(args.output_dir)
    ext = args.extension if args.extension.startswith(".") else "." + args.extension
    pairs = batch_outputs(expand_inputs(args.inputs, exclude=outdir), outdir, ext)
    if not pairs:
        raise VsrtnError("no input files matched")
    outdir.mkdir(parents=True, exist_ok=True)
    check_writable(outdir)
    report_path = Path(args.report) if args.report else outdir / "vsrtn-report.json"
    if report_path.is_dir() or not report_path.parent.is_dir():
        raise VsrtnError(f"--report {report_path}: must be a file in an existing folder")
    check_writable(report_path.parent)
    results: list[FileResult] = []
    if args.cluster:
        return _batch_cluster(args, pairs, encoder, report_path)
    transform = engine_transform(_build(args, "restore", func))
    outer = None
    if not args.quiet:
        from tqdm import tqdm

        outer = tqdm(total=len(pairs), desc="batch", unit="file", file=sys.stderr, position=0, dynamic_ncols=True)
    interrupted = False
    try:
        for src, dst in pairs:
            if dst.exists() and not args.overwrite:
                results.append(_skipped(src, dst))
            else:
                try:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    results.append(_run_one(src, dst, transform, args, encoder, position=1))
                except Exception as exc:  # one bad file is reported; the batch goes on
                    text = str(exc) if isinstance(exc, VsrtnError) else f"{src}: {type(exc).__name__}: {exc}"
                    results.append(FileResult(str(src), str(dst), "failed", error=text))
                    print(f"vsrtn batch: {text}", file=sys.stderr)
            if outer is not None:
                outer.update(1)
    except KeyboardInterrupt:
        interrupted = True
        print("vsrtn batch: interrupted; finished files are kept, the current one was removed", file=sys.stderr)
    finally:
        if outer is not None:
            outer.close()
        report = _write_report(report_path, len(pairs), results, interrupted)
    if interrupted:
        return 130
    return 0 if report["failed"] == 0 else 1


def _skipped(src: Path, dst: Path):
    from vsrtn.pipeline import FileResult
    from vsrtn.weights import sha256_file

    return FileResult(str(src), str(dst), "skipped", sha256=sha256_file(dst),
                      error="output exists; not redone (--overwrite redoes it)")


def _write_report(path: Path, inputs: int, results: list, interrupted: bool) -> dict:
    """The batch report (JSON), written whole; a summary line on stderr."""
    from vsrtn.atomic import atomic_write

    report = {"inputs": inputs, "done": sum(r.status == "done" for r in results),
              "skipped": sum(r.status == "skipped" for r in results),
              "failed": sum(r.status == "failed" for r in results),
              "not_started": inputs - len(results), "interrupted": interrupted,
              "files": [r.__dict__ for r in results]}
    atomic_write(path, (json.dumps(report, indent=2) + "\n").encode())
    print(f"vsrtn batch: {report['done']} done, {report['skipped']} skipped, {report['failed']} failed; "
          f"report {path}", file=sys.stderr)
    return report


def _batch_cluster(args, pairs, encoder, report_path: Path) -> int:
    """`vsrtn batch --cluster`: every file's segments on the cluster at once, joined file by file."""
    skipped = [_skipped(src, dst) for src, dst in pairs if dst.exists() and not args.overwrite]
    todo = [(src, dst) for src, dst in pairs if not (dst.exists() and not args.overwrite)]
    for _, dst in todo:
        dst.parent.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        results = _run_cluster(args, todo, "restore", "vsrtn batch", encoder) if todo else []
    except KeyboardInterrupt:
        _write_report(report_path, len(pairs), skipped, True)
        return 130
    for r in results:
        if r.status == "failed":
            print(f"vsrtn batch: {r.input}: {r.error}", file=sys.stderr)
    report = _write_report(report_path, len(pairs), skipped + results, False)
    return 0 if report["failed"] == 0 else 1


def vpy_script(src: Path, preset: str, weights: str | None = None, sc_threshold: float | None = None,
               refs: list[tuple[str, int | None]] | None = None, degrain: bool = False) -> str:
    """The text of a .vpy script that restores (or, with `refs`, colors) `src`. Every value
    from the user enters as a Python literal made by repr(); none is written into a comment."""
    options = [f"preset={preset!r}"]
    if weights:
        options.append(f"weights={weights!r}")
    if sc_threshold is not None:
        options.append(f"sc_threshold={float(sc_threshold)!r}")
    restore = [*options, "degrain=True"] if degrain else options
    call = f"vsrtn.Restore(clip, {', '.join(restore)})"
    if refs:
        frames = [f for _, f in refs]
        if any(f is None for f in frames) and any(f is not None for f in frames):
            raise VsrtnError("--ref: give @FRAME for every keyframe or for none")
        paths = [str(Path(p).resolve()) for p, _ in refs]
        tied = f", ref_frames={frames!r}" if frames[0] is not None else ""
        call = f"vsrtn.Colorize(clip, {paths!r}{tied}, {', '.join(options)})"
    return ("# Written by `vsrtn vpy`. Encode with, for example:\n"
            "#   vspipe -c y4m SCRIPT.vpy - | ffmpeg -i - -c:v libx264 -crf 16 OUTPUT.mkv\n"
            "import vapoursynth as vs\n\nimport vsrtn\n\ncore = vs.core\n"
            f"clip = core.bs.VideoSource({str(src)!r})\n"
            f"clip = {call}\n"
            "clip.set_output()\n")


def _cmd_vpy(args) -> int:
    src = Path(args.input).resolve()
    out = Path(args.output) if args.output else src.with_suffix(".vpy")
    if out.exists() and not args.overwrite:
        raise VsrtnError(f"{out}: exists (use --overwrite to replace it)")
    refs = [parse_reference(r) for r in args.ref] if args.ref else None
    if args.degrain:
        from vsrtn.presets import load_preset, network

        if refs:
            raise VsrtnError("--degrain: Restore only (not with --ref)")
        network(load_preset(args.preset).get("restore", {}), args.weights, True, "vsrtn vpy")
    if args.sc_threshold is not None:
        from vsrtn.scenecut import check_threshold

        check_threshold(args.sc_threshold, "vsrtn vpy")
    from vsrtn.atomic import atomic_write

    atomic_write(out, vpy_script(src, args.preset, args.weights, args.sc_threshold, refs, args.degrain).encode())
    print(f"wrote {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsrtn", description="Old-film restoration with RTN.")
    parser.add_argument("--version", action="version", version=f"vsrtn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the installation")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("restore", help="restore one video file")
    p.add_argument("input")
    p.add_argument("output", help="output file; the extension picks the container (.mkv, .mp4, .mov, ...)")
    _add_restore_options(p)
    _add_encoder_options(p)
    _add_cluster_options(p)
    p.set_defaults(func=_cmd_restore)

    p = sub.add_parser("batch", help="restore many files into a folder (resumable)")
    p.add_argument("inputs", nargs="+", help="files, folders or globs")
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("--extension", default=".mkv", help="output container extension (default .mkv)")
    p.add_argument("--report", default=None, help="JSON report path (default OUTDIR/vsrtn-report.json)")
    _add_restore_options(p)
    _add_encoder_options(p)
    _add_cluster_options(p)
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("colorize", help="color a black-and-white video from color keyframes")
    p.add_argument("input")
    p.add_argument("output", help="output file; the extension picks the container")
    p.add_argument("--ref", action="append", required=True, metavar="IMAGE[@FRAME]",
                   help="a color keyframe; @FRAME ties it to the frame it shows (repeat for more)")
    _add_restore_options(p, "colorization", color=True)
    _add_encoder_options(p)
    _add_cluster_options(p)
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
    p.add_argument("--degrain", action="store_true", help="remove the film's grain too (Restore)")
    p.add_argument("--ref", action="append", default=None, metavar="IMAGE[@FRAME]",
                   help="color keyframes: write a vsrtn.Colorize script instead of Restore")
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
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        print(f"vsrtn {args.command}: error: {torch_missing()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrtn {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
