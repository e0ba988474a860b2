#!/usr/bin/env python3
"""Build vsrtn's wheel and sdist, install the wheel (not editable) into a fresh virtual environment
outside the checkout, and use it there as a user would. Run by CI after the test suite.

- `python -m build` and `twine check` on both archives;
- a new venv on the same base Python, with the oldest VapourSynth vsrtn supports (R74) and the
  `bestsource` extra from the package index, and PyTorch taken from the developer's venv (hard
  links, as if the user had installed their own build first: nothing heavy is downloaded twice);
- from a folder outside the checkout, with its own HOME (VapourSynth's configuration file lives
  there): `vsrtn --version`, `vsrtn doctor`, `Restore` with defaults through vspipe into ffmpeg,
  `Colorize` from a PNG keyframe, and `vsrtn restore` on a file with audio.

    .venv/bin/python scripts/wheel_smoke.py [--keep DIR] [--python PYTHON]

With --python (another base Python, e.g. 3.12), torch comes from the package index through the
`torch` extra instead (a download of several GB).
"""
from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLDEST_VAPOURSYNTH = "74"
FRAMES = 12


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("[smoke] $", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    out = subprocess.run([str(c) for c in cmd], **kw)
    if out.returncode != 0:
        detail = out.stderr.decode(errors="replace")[-3000:] if isinstance(out.stderr, bytes) else (out.stderr or "")
        raise SystemExit(f"[smoke] FAILED ({out.returncode}): {' '.join(map(str, cmd))}\n{detail}")
    return out


def requirement_closure(name: str) -> list[metadata.Distribution]:
    """`name` and every distribution it needs, with the extras asked for (markers evaluated here)."""
    from packaging.requirements import Requirement

    dists: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(name, "")]
    while todo:
        req_name, extra = todo.pop()
        key = re.sub(r"[-_.]+", "-", req_name).lower()
        if (key, extra) in done:
            continue
        done.add((key, extra))
        try:
            dist = dists.get(key) or metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue  # an optional platform package this machine does not have
        dists[key] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(req.name, "")] + [(req.name, e) for e in req.extras]
    return list(dists.values())


def link_distributions(name: str, site: Path) -> int:
    """Hard-link `name` and its requirements from this Python's site-packages into `site`."""
    count = 0
    for dist in requirement_closure(name):
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            src = Path(dist.locate_file(file))
            rel = src.resolve().relative_to(base.resolve()) if src.resolve().is_relative_to(base.resolve()) else None
            if rel is None or not src.is_file():
                continue  # scripts installed outside site-packages are not needed
            dst = site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
            count += 1
    return count


def make_film(work: Path) -> tuple[Path, Path]:
    """A 12-frame color test film with a stereo audio track, and its first frame as a PNG keyframe."""
    film, key = work / "film.mkv", work / "key.png"
    run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=128x96:rate=24:duration={FRAMES / 24}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-ac", "2", "-shortest",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(film)])
    run(["ffmpeg", "-v", "error", "-i", str(film), "-frames:v", "1", str(key)])
    return film, key


def probe(path: Path) -> dict:
    out = run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
              capture_output=True, text=True)
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


COLORIZE_CHECK = """
import numpy as np, vapoursynth as vs, vsrtn
core = vs.core
gray = core.std.ShufflePlanes(core.bs.VideoSource("film.mkv"), 0, vs.GRAY)
out = vsrtn.Colorize(gray, ref="key.png", ref_frames=0)
f = out.get_frame(6)
spread = max(float(np.abs(np.asarray(f[p], np.float32) - 128).mean()) for p in (1, 2))
assert out.num_frames == gray.num_frames and spread > 4, spread
print(f"Colorize: {out.num_frames} frames, mean chroma distance from gray {spread:.1f} codes")
"""


def install(work: Path, python: str | None) -> tuple[Path, Path]:
    """Build the wheel and sdist, check them, and install the wheel into a fresh venv: its
    python and site-packages."""
    dist = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT])
    archives = sorted(dist.iterdir())
    run([sys.executable, "-m", "twine", "check", "--strict", *archives])
    (wheel,) = [a for a in archives if a.suffix == ".whl"]

    env = work / "env"
    run([python or sys._base_executable, "-m", "venv", env])
    py = env / "bin" / "python"
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    capture_output=True, text=True).stdout.strip())
    extras = "bestsource"
    if python is None:
        print(f"[smoke] linked {link_distributions('torch', site)} files of torch and its requirements",
              file=sys.stderr)
    else:
        extras += ",torch"
    run([py, "-m", "pip", "install", "--quiet", f"{wheel}[{extras}]", f"vapoursynth=={OLDEST_VAPOURSYNTH}"])
    return py, site


def user_environment(work: Path, py: Path, site: Path) -> dict:
    """How a user runs things there: the venv first on PATH, a HOME of its own (VapourSynth's
    config lives there), nothing of the checkout; checks that vsrtn comes from the wheel."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    user = dict(os.environ, HOME=str(home), PATH=f"{py.parent}{os.pathsep}{os.environ['PATH']}")
    user.pop("PYTHONPATH", None)
    user.pop("VSRTN_WEIGHTS", None)
    at = dict(cwd=work, env=user)
    run(["vapoursynth", "config"], **at)

    where = run([py, "-c", "import vsrtn; print(vsrtn.__file__)"], capture_output=True, text=True, **at).stdout
    if not Path(where.strip()).is_relative_to(site):
        raise SystemExit(f"[smoke] vsrtn was imported from {where.strip()}, not from the installed wheel")
    version = run(["vsrtn", "--version"], capture_output=True, text=True, **at).stdout.strip()
    print(f"[smoke] {version} from {where.strip()}", file=sys.stderr)
    run(["vsrtn", "doctor"], **at)
    return at


def use_it(work: Path, py: Path, at: dict) -> None:
    """Restore through vspipe into ffmpeg, Colorize from a PNG keyframe, and `vsrtn restore`."""
    film, key = make_film(work)
    (work / "restore.vpy").write_text("import vapoursynth as vs\nimport vsrtn\n"
                                      "vsrtn.Restore(vs.core.bs.VideoSource('film.mkv')).set_output()\n")
    pipe = subprocess.Popen(["vspipe", "-c", "y4m", "restore.vpy", "-"], stdout=subprocess.PIPE, **at)
    run(["ffmpeg", "-v", "error", "-y", "-i", "-", "-c:v", "libx264", "-crf", "16", "vspipe.mkv"],
        stdin=pipe.stdout, **at)
    if pipe.wait() != 0:
        raise SystemExit(f"[smoke] vspipe failed ({pipe.returncode})")
    frames = int(probe(work / "vspipe.mkv")["video"]["nb_read_frames"])
    if frames != FRAMES:
        raise SystemExit(f"[smoke] vspipe | ffmpeg wrote {frames} frames, expected {FRAMES}")
    print(f"[smoke] Restore through vspipe into ffmpeg: {frames} frames", file=sys.stderr)

    run([py, "-c", COLORIZE_CHECK], **at)

    run(["vsrtn", "restore", film, "cli.mkv"], **at)
    streams = probe(work / "cli.mkv")
    if "audio" not in streams or int(streams["video"]["nb_read_frames"]) != FRAMES:
        raise SystemExit(f"[smoke] vsrtn restore lost the audio or frames: {sorted(streams)}")
    print("[smoke] vsrtn restore: all frames and the audio kept", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temporary one)")
    ap.add_argument("--python", default=None, help="base Python of the new venv (default: the one of this venv)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="vsrtn-wheel-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if work.is_relative_to(ROOT):
        raise SystemExit("[smoke] --keep must be outside the checkout")
    try:
        py, site = install(work, args.python)
        at = user_environment(work, py, site)
        use_it(work, py, at)
        print("[smoke] the installed wheel works outside the checkout", file=sys.stderr)
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
