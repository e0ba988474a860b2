"""`vsrtn doctor`: report whether every piece vsrtn needs is installed and working."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


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
    return Check("vapoursynth", True, f"core R{core.core_version.release_major}, API {vs.__api_version__}, {core.num_threads} threads")


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
        script.write_text("import vapoursynth as vs\nvs.core.std.BlankClip(width=64, height=48, length=2).set_output()\n")
        out = subprocess.run([vspipe, "--info", str(script)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        msg = (out.stderr or out.stdout).strip().splitlines()
        return Check("vspipe", False, f"{vspipe} cannot run a script: {msg[-1] if msg else out.returncode} "
                     "(run 'vapoursynth config' inside the venv)")
    return Check("vspipe", True, f"{vspipe} runs scripts")


def check_torch() -> Check:
    try:
        import torch
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
    path = shutil.which(name)
    if path is None:
        return Check(name, False, f"not found on PATH (apt-get install {name})")
    return Check(name, True, f"{_first_line([path, version_flag])} at {path}")


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


CHECKS: list[Callable[[], Check | list[Check]]] = [
    check_python,
    check_vapoursynth,
    check_vspipe,
    check_torch,
    lambda: check_tool("ffmpeg", "-version"),
    lambda: check_tool("x264", "--version"),
    check_weights,
]


def run(out=print) -> int:
    """Print one line per item; return 0 when nothing is broken, 1 otherwise."""
    broken = 0
    for fn in CHECKS:
        try:
            result = fn()
        except Exception as exc:  # a crashing check is itself a broken item
            result = Check(getattr(fn, "__name__", "check"), False, f"check crashed: {exc!r}")
        for check in result if isinstance(result, list) else [result]:
            tag = "warn" if check.warn else ("ok" if check.ok else "FAIL")
            out(f"[{tag:>4}] {check.name:<14} {check.detail}")
            broken += not check.ok
    out("all checks passed" if broken == 0 else f"{broken} check(s) failed")
    return 0 if broken == 0 else 1
