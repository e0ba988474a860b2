#!/usr/bin/env python3
"""Find a Python >= 3.12 built with a shared libpython (what VapourSynth's vspipe needs).

Prints the interpreter's path on stdout and exits 0, or explains on stderr and exits 1.
Search order: $PYTHON (the user's choice is final: if it is unfit we fail rather than pick
another), python3.13 / python3.12 / python3 on PATH, pyenv's versions (newest first), and the
interpreter that scripts/build_python.sh caches under $VSRTN_CACHE (default ~/.cache/vsrtn).

Standard library only: it runs before any virtual environment exists, on whatever python3
the machine has.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_VERSION = (3, 12)

# Run inside each candidate; prints what we need to judge it.
PROBE = (
    "import json, sys, sysconfig, os; "
    "libdir = sysconfig.get_config_var('LIBDIR') or ''; "
    "lib = sysconfig.get_config_var('LDLIBRARY') or ''; "
    "print(json.dumps({'version': list(sys.version_info[:3]), "
    "'shared': bool(sysconfig.get_config_var('Py_ENABLE_SHARED')), "
    "'libpython': os.path.join(libdir, lib), 'executable': sys.executable}))"
)


@dataclass(frozen=True)
class Probe:
    """What a candidate interpreter reported about itself."""

    path: str
    version: tuple[int, ...]
    shared: bool
    libpython: str

    def problem(self) -> str | None:
        """Why this interpreter cannot host vspipe, or None when it can."""
        if tuple(self.version[:2]) < MIN_VERSION:
            return f"Python {'.'.join(map(str, self.version))} is older than 3.12"
        if not self.shared:
            return "built without --enable-shared (vspipe needs a shared libpython)"
        if not os.path.exists(self.libpython):
            return f"its shared library {self.libpython} is missing"
        return None


def probe(path: str) -> Probe | None:
    """Ask the interpreter at `path` about itself; None when it does not run."""
    try:
        out = subprocess.run([path, "-c", PROBE], capture_output=True, text=True, timeout=30, check=True).stdout
        info = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return Probe(path=path, version=tuple(info["version"]), shared=bool(info["shared"]), libpython=info["libpython"])


def _version_key(name: str) -> tuple[int, ...]:
    parts = []
    for part in name.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else -1)
    return tuple(parts)


def candidates(env: dict[str, str], home: Path) -> list[str]:
    """Interpreter paths to try, in order, without duplicates (user's $PYTHON excluded)."""
    found: list[str] = []
    path_var = env.get("PATH", "")
    for name in ("python3.13", "python3.12", "python3"):
        hit = shutil.which(name, path=path_var)
        if hit:
            found.append(hit)
    pyenv_root = Path(env.get("PYENV_ROOT") or home / ".pyenv")
    versions = pyenv_root / "versions"
    if versions.is_dir():
        for vdir in sorted(versions.iterdir(), key=lambda p: _version_key(p.name), reverse=True):
            exe = vdir / "bin" / "python3"
            if exe.exists():
                found.append(str(exe))
    cache = Path(env.get("VSRTN_CACHE") or home / ".cache" / "vsrtn")
    built = cache / "python" / "bin" / "python3"
    if built.exists():
        found.append(str(built))
    unique: list[str] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find(env: dict[str, str], home: Path, log=lambda msg: None) -> str | None:
    """Return the first fit interpreter, or None. Raises ValueError if the user's $PYTHON is unfit."""
    user = env.get("PYTHON")
    if user:
        path = shutil.which(user, path=env.get("PATH", "")) or user
        info = probe(path)
        if info is None:
            raise ValueError(f"PYTHON={user}: cannot run it")
        problem = info.problem()
        if problem:
            raise ValueError(f"PYTHON={user}: {problem}")
        return info.path
    for path in candidates(env, home):
        info = probe(path)
        if info is None:
            log(f"  skip {path}: does not run")
            continue
        problem = info.problem()
        if problem:
            log(f"  skip {path}: {problem}")
            continue
        return info.path
    return None


def main() -> int:
    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        path = find(dict(os.environ), Path.home(), log)
    except ValueError as exc:
        log(f"find_python: {exc}")
        return 2
    if path is None:
        log("find_python: no Python >= 3.12 with a shared libpython found")
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
