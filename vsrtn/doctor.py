"""`vsrtn doctor`: report whether every piece vsrtn needs is installed and working."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vsrtn.errors import MissingDependency, torch_missing


@dataclass
class Check:
    """One line of the report: `ok` False means the item is broken."""

    name: str
    ok: bool
    detail: str
    warn: bool = False  # shown but not counted as broken


def _first_line(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else ""


def check_python() -> Check:
    version = sys.version.split()[0]
    shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
    ok = sys.version_info >= (3, 12) and shared
    detail = f"{version} at {sys.executable}" + ("" if shared else " (no shared libpython: vspipe cannot embed it)")
    return Check("python", ok, detail)


def check_vapoursynth() -> Check:
    try:
        import vapoursynth as vs
    except Exception as exc:  # any import failure is the finding
        return Check("vapoursynth", False, f"cannot import: {exc}")
    core = vs.core
    version = f"core R{core.core_version.release_major}, API {vs.__api_version__}, {core.num_threads} threads"
    return Check("vapoursynth", True, version)


def find_vspipe() -> str | None:
    """vspipe next to this interpreter (the venv), else on PATH."""
    local = Path(sys.executable).parent / "vspipe"
    if local.exists():
        return str(local)
    return shutil.which("vspipe")


def check_vspipe() -> Check:
    vspipe = find_vspipe()
    if vspipe is None:
        return Check("vspipe", False, "not found (pip install vapoursynth, then run 'vapoursynth config')")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe.vpy"
        script.write_text("import vapoursynth as vs\n"
                          "vs.core.std.BlankClip(width=64, height=48, length=2).set_output()\n")
        out = subprocess.run([vspipe, "--info", str(script)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        msg = (out.stderr or out.stdout).strip().splitlines()
        return Check("vspipe", False, f"{vspipe} cannot run a script: {msg[-1] if msg else out.returncode} "
                     "(run 'vapoursynth config' inside the venv)")
    return Check("vspipe", True, f"{vspipe} runs scripts")


def check_torch() -> Check:
    try:
        import torch
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        return Check("torch", False, str(torch_missing()))
    except Exception as exc:
        return Check("torch", False, f"cannot import: {exc}")
    if torch.cuda.is_available():
        devs = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devs.append(f"cuda:{i} {p.name} {p.total_memory / 2**30:.1f} GiB")
        where = "; ".join(devs)
    else:
        where = "CPU only"
    return Check("torch", True, f"{torch.__version__}, {where}, {torch.get_num_threads()} CPU threads")


def check_tool(name: str, version_flag: str) -> Check:
    """An encoder vspipe's output is piped into: optional (the vsrtn command encodes with PyAV)."""
    path = shutil.which(name)
    if path is None:
        return Check(name, True, f"not found on PATH (needed only to pipe vspipe into it: apt-get install {name})",
                     warn=True)
    return Check(name, True, f"{_first_line([path, version_flag])} at {path}")


def check_ray() -> Check:
    """Ray, for `--cluster`: optional, and only its version is read (it is not started)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return Check("ray", True, f"{version('ray')} (for --cluster)")
    except PackageNotFoundError:
        return Check("ray", True, 'not installed (needed only for --cluster: pip install "vsrtn[ray]")', warn=True)


def check_weights() -> list[Check]:
    from vsrtn import weights

    entries = weights.list_weights()
    if not entries:
        return [Check("weights", True, "no weights files found (see README: Weights)", warn=True)]
    checks = []
    for entry in entries:
        problem = entry.problem()
        label = f"weights:{entry.name}"
        if problem:
            checks.append(Check(label, False, f"{entry.path}: {problem}"))
        else:
            checks.append(Check(label, True, f"{entry.path} sha256 {entry.sha256[:16]}… verified"))
    return checks


def _sample() -> list:
    """The shipped sample frames as RGB float32 arrays in 0..1."""
    from vsrtn import data
    from vsrtn.media import read_image

    return [read_image(data.path("sample", f"frame{i}.png")) for i in range(2)]


def _clip(frames: list, gray: bool):
    """A VapourSynth clip (GRAYS or RGBS) of `frames`."""
    import numpy as np
    import vapoursynth as vs

    from vsrtn.color import DEFAULT_MATRIX, rgb_to_ycbcr

    h, w = frames[0].shape[:2]
    planes = [rgb_to_ycbcr(f, DEFAULT_MATRIX)[0][..., None] if gray else f for f in frames]
    blank = vs.core.std.BlankClip(format=vs.GRAYS if gray else vs.RGBS, width=w, height=h, length=len(frames))

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(out.format.num_planes):
            np.copyto(np.asarray(out[p]), planes[n][..., p])
        return out

    return blank.std.ModifyFrame(blank, fill)


def _planes(clip) -> list:
    """Every frame of `clip` as an (H, W, planes) float array."""
    import numpy as np

    return [np.stack([np.asarray(f[p]) for p in range(f.format.num_planes)], -1) for f in clip.frames()]


def _psnr(a: list, b: list) -> float:
    import numpy as np

    mse = float(np.mean([np.mean((np.clip(x, 0, 1) - y) ** 2) for x, y in zip(a, b)]))
    return 10 * math.log10(1 / max(mse, 1e-12))


def check_restore() -> Check:
    """Age the sample frames and restore them with the shipped default weights."""
    import vsrtn

    clean = _clip(_sample(), gray=True)
    aged = vsrtn.Degrade(clean, preset="heavy", seed=1)
    start = time.perf_counter()
    restored = _planes(vsrtn.Restore(aged))
    seconds = time.perf_counter() - start
    truth = _planes(clean)
    before, after = _psnr(_planes(aged), truth), _psnr(restored, truth)
    detail = f"2 aged sample frames {before:.1f} dB -> restored {after:.1f} dB PSNR ({seconds:.1f} s)"
    return Check("restore", after > before, detail + ("" if after > before else ": the restoration did not help"))


def check_colorize() -> Check:
    """Color the gray second sample frame from the first, given as a PNG keyframe."""
    import vsrtn
    from vsrtn import data

    color = _sample()
    gray = _clip(color, gray=True)
    start = time.perf_counter()
    out = _planes(vsrtn.Colorize(gray, ref=str(data.path("sample", "frame0.png")), ref_frames=0, output="rgb"))
    seconds = time.perf_counter() - start
    before = _psnr([_planes(gray)[1].repeat(3, -1)], color[1:])
    after = _psnr(out[1:], color[1:])
    detail = f"gray sample frame {before:.1f} dB -> colored from a PNG keyframe {after:.1f} dB PSNR ({seconds:.1f} s)"
    ok = after > before + 1
    return Check("colorize", ok, detail + ("" if ok else ": the colors did not come through"))


CHECKS: list[Callable[[], Check | list[Check]]] = [
    check_python,
    check_vapoursynth,
    check_vspipe,
    check_torch,
    lambda: check_tool("ffmpeg", "-version"),
    lambda: check_tool("x264", "--version"),
    check_ray,
    check_weights,
    check_restore,
    check_colorize,
]


def run(out=print) -> int:
    """Print one line per item; return 0 when nothing is broken, 1 otherwise."""
    broken = 0
    for fn in CHECKS:
        name = getattr(fn, "__name__", "check").removeprefix("check_")
        try:
            result = fn()
        except (MissingDependency, ModuleNotFoundError) as exc:
            missing = "torch" if isinstance(exc, MissingDependency) else exc.name
            result = Check(name, False, "cannot run without PyTorch (see the torch line)" if missing == "torch"
                           else f"cannot run without the package {missing!r}: reinstall vsrtn")
        except Exception as exc:  # a crashing check is itself a broken item
            result = Check(name, False, f"check crashed: {exc!r}")
        for check in result if isinstance(result, list) else [result]:
            tag = "warn" if check.warn else ("ok" if check.ok else "FAIL")
            out(f"[{tag:>4}] {check.name:<14} {check.detail}")
            broken += not check.ok
    out("all checks passed" if broken == 0 else f"{broken} check(s) failed")
    return 0 if broken == 0 else 1
