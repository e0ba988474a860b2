"""The setup's Python finder, against fake interpreters in fake directories."""
from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("find_python", ROOT / "scripts" / "find_python.py")
fp = importlib.util.module_from_spec(spec)
sys.modules["find_python"] = fp  # dataclasses look their module up there
spec.loader.exec_module(fp)


def fake_python(path: Path, version=(3, 13, 0), shared=True, lib_exists=True) -> Path:
    """An executable that answers the finder's probe like a real interpreter would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lib = path.parent / "libpython.so"
    if lib_exists:
        lib.write_text("")
    info = {"version": list(version), "shared": shared, "libpython": str(lib), "executable": str(path)}
    path.write_text(f"#!/bin/sh\necho '{json.dumps(info)}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def env_for(tmp_path: Path, **extra) -> dict:
    env = {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv"), "VSRTN_CACHE": str(tmp_path / "cache")}
    env.update(extra)
    return env


def test_prefers_path_python_that_fits(tmp_path):
    fake_python(tmp_path / "bin" / "python3", version=(3, 11, 7))  # too old
    good = fake_python(tmp_path / "bin" / "python3.12", version=(3, 12, 1))
    assert fp.find(env_for(tmp_path), tmp_path) == str(good)


def test_skips_static_and_old_then_takes_newest_pyenv(tmp_path):
    fake_python(tmp_path / "bin" / "python3.13", shared=False)
    fake_python(tmp_path / "pyenv" / "versions" / "3.11.7" / "bin" / "python3", version=(3, 11, 7))
    fake_python(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3", version=(3, 12, 1))
    newest = fake_python(tmp_path / "pyenv" / "versions" / "3.13.0" / "bin" / "python3", version=(3, 13, 0))
    logs = []
    assert fp.find(env_for(tmp_path), tmp_path, logs.append) == str(newest)
    assert any("--enable-shared" in line for line in logs)


def test_missing_shared_library_is_unfit(tmp_path):
    fake_python(tmp_path / "bin" / "python3.13", lib_exists=False)
    assert fp.find(env_for(tmp_path), tmp_path) is None


def test_falls_back_to_cached_build(tmp_path):
    built = fake_python(tmp_path / "cache" / "python" / "bin" / "python3")
    assert fp.find(env_for(tmp_path), tmp_path) == str(built)


def test_nothing_found(tmp_path):
    (tmp_path / "bin").mkdir()
    assert fp.find(env_for(tmp_path), tmp_path) is None


def test_user_choice_is_final_even_if_others_fit(tmp_path):
    fake_python(tmp_path / "bin" / "python3.13")
    bad = fake_python(tmp_path / "mine" / "python", version=(3, 11, 0))
    with pytest.raises(ValueError, match="older than 3.12"):
        fp.find(env_for(tmp_path, PYTHON=str(bad)), tmp_path)
    good = fake_python(tmp_path / "mine2" / "python", version=(3, 12, 4))
    assert fp.find(env_for(tmp_path, PYTHON=str(good)), tmp_path) == str(good)


def test_version_ordering_is_numeric():
    names = ["3.9.18", "3.13.0", "3.12.1", "3.10.13"]
    assert sorted(names, key=fp._version_key, reverse=True) == ["3.13.0", "3.12.1", "3.10.13", "3.9.18"]


def test_finds_this_interpreter_family_on_this_machine():
    """The real machine: the finder returns an interpreter that really has a shared libpython."""
    import os
    import subprocess

    path = fp.find(dict(os.environ), Path.home())
    assert path is not None
    info = fp.probe(path)
    assert info.problem() is None and info.version >= (3, 12)
    assert subprocess.run([path, "-c", "import sys"], check=True).returncode == 0
