"""`vsrtn doctor` and vspipe through the venv."""
from __future__ import annotations

import subprocess
import sys

from vsrtn import doctor


def test_doctor_reports_every_item_and_passes_here():
    lines = []
    rc = doctor.run(lines.append)
    text = "\n".join(lines)
    for item in ("python", "vapoursynth", "vspipe", "torch", "ffmpeg", "x264", "weights"):
        assert item in text
    assert "CPU only" in text or "cuda:0" in text
    assert rc == 0, text


def test_doctor_fails_with_a_line_per_broken_item(monkeypatch):
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    monkeypatch.setattr(doctor, "find_vspipe", lambda: None)
    lines = []
    rc = doctor.run(lines.append)
    assert rc == 1
    failed = [l for l in lines if l.startswith("[FAIL]")]
    warned = [l for l in lines if l.startswith("[warn]")]
    assert {l.split()[1] for l in failed} == {"vspipe"}
    assert {l.split()[1] for l in warned} == {"ffmpeg", "x264"}  # only the pipes into them need these
    assert lines[-1] == "1 check(s) failed"


def test_doctor_cli_exit_code():
    out = subprocess.run([sys.executable, "-m", "vsrtn.cli", "doctor"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all checks passed" in out.stdout


def test_vspipe_info_on_a_tiny_script(tmp_path, venv_bin):
    script = tmp_path / "tiny.vpy"
    script.write_text("import vapoursynth as vs\n"
                      "vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=5).set_output()\n")
    out = subprocess.run([str(venv_bin / "vspipe"), "--info", str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Width: 64" in out.stdout and "Frames: 5" in out.stdout
