"""The `vsrtn` command on real files made here: restore, degrade, batch, vpy."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest


from vsrtn.io import partial_path
from vsrtn.weights import sha256_file

VSRTN = [sys.executable, "-m", "vsrtn.cli"]


@pytest.fixture
def weights(tiny_weights):
    return tiny_weights


def make_video(path: Path, size="96x64", pix_fmt="yuv420p", codec="libx264", seconds=0.6, audio=True, rate=25):
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:a", "flac" if path.suffix == ".mkv" else "aac"]
    cmd += ["-c:v", codec, "-pix_fmt", pix_fmt, "-shortest", str(path)]
    subprocess.run(cmd, check=True)
    return path


def video_summary(path: Path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [(f.pts * f.time_base, f.format.name) for f in c.decode(v)]
    with av.open(str(path)) as c:
        audio = [bytes(p) for s in c.streams.audio for p in c.demux(s) if p.size]
    return frames, audio


def run(*args, check=True):
    res = subprocess.run([*VSRTN, *map(str, args)], capture_output=True, text=True)
    if check:
        assert res.returncode == 0, res.stderr
    return res


@pytest.mark.parametrize("name,size,pix_fmt,codec,encoder", [
    ("8bit.mp4", "96x64", "yuv420p", "libx264", "x264"),
    ("10bit.mkv", "96x64", "yuv420p10le", "libx264", "x264"),
    ("odd.mkv", "65x47", "yuv444p", "ffv1", "ffv1"),
])
def test_restore_keeps_frames_timestamps_format_and_audio(tmp_path, weights, name, size, pix_fmt, codec, encoder):
    src = make_video(tmp_path / name, size, pix_fmt, codec)
    dst = tmp_path / ("out" + Path(name).suffix)
    run("restore", src, dst, "--weights", weights, "--window", "4", "--context", "2", "--encoder", encoder, "-q")
    (fin, ain), (fout, aout) = video_summary(src), video_summary(dst)
    assert len(fout) == len(fin) == 15
    assert [t for t, _ in fout] == [t for t, _ in fin]  # timestamps carried over
    assert {f for _, f in fout} == {pix_fmt}  # bit depth and subsampling kept
    assert aout == ain and len(ain) > 0  # audio packets bit-identical
    assert not list(tmp_path.glob(".*vsrtn-partial*"))


def test_degrade_command_and_its_errors(tmp_path):
    src = make_video(tmp_path / "in.mkv")
    out = tmp_path / "aged.mkv"
    run("degrade", src, out, "--preset", "heavy", "--seed", "3", "-q")
    with av.open(str(src)) as a, av.open(str(out)) as b:
        fa = [f.to_ndarray(format="gray") for f in a.decode(video=0)]
        fb = [f.to_ndarray(format="gray") for f in b.decode(video=0)]
    assert len(fa) == len(fb) and np.abs(fa[3].astype(int) - fb[3]).mean() > 3
    res = run("degrade", src, src, check=False)
    assert res.returncode == 2 and "would overwrite the input" in res.stderr
    res = run("degrade", src, out, check=False)
    assert res.returncode == 2 and "exists (use --overwrite" in res.stderr
    res = run("degrade", src, tmp_path / "x.mkv", "--preset", "nope", check=False)
    assert res.returncode == 2 and "unknown preset 'nope'" in res.stderr
    assert not (tmp_path / "x.mkv").exists()


def test_batch_reports_bad_files_and_goes_on(tmp_path, weights):
    inp = tmp_path / "in"
    inp.mkdir()
    make_video(inp / "a.mp4")
    (inp / "corrupt.mp4").write_bytes(make_video(tmp_path / "c.mp4").read_bytes()[:2000])
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.3", str(inp / "sound.mka")],
                   check=True)
    out = tmp_path / "out"
    res = run("batch", inp, inp / "sound.mka", "-o", out, "--weights", weights, "--window", "4", "--context", "2",
              "-q", check=False)
    assert res.returncode == 1
    report = json.loads((out / "vsrtn-report.json").read_text())
    status = {Path(f["input"]).name: f for f in report["files"]}
    assert status["a.mp4"]["status"] == "done" and status["a.mp4"]["frames"] == 15
    assert status["a.mp4"]["sha256"] == sha256_file(out / "a.mkv")
    assert status["corrupt.mp4"]["status"] == "failed" and "cannot open" in status["corrupt.mp4"]["error"]
    assert status["sound.mka"]["status"] == "failed" and "no video stream" in status["sound.mka"]["error"]
    assert sorted(p.name for p in out.iterdir()) == ["a.mkv", "vsrtn-report.json"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_batch_resumes_without_redoing_or_false_outputs(tmp_path, weights, stop):
    inp = tmp_path / "in"
    inp.mkdir()
    make_video(inp / "1-short.mp4", seconds=0.2)
    make_video(inp / "2-long.mp4", size="128x96", seconds=8)
    out = tmp_path / "out"
    args = [*VSRTN, "batch", str(inp), "-o", str(out), "--weights", weights, "--window", "4", "--context", "2", "-q"]
    # As from a terminal: a shell starts background jobs (CI, nohup) with Ctrl-C ignored.
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Interrupt once the long file is being written (not after a fixed time: an idle machine can
    # finish a short file within any fixed wait).
    long_partial = partial_path(out / "2-long.mkv")
    deadline = time.time() + 120
    while not long_partial.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert (out / "1-short.mkv").exists() and long_partial.exists()
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert (out / "1-short.mkv").exists()
    assert not (out / "2-long.mkv").exists()  # nothing that looks finished
    assert not [p for p in out.iterdir() if "partial" in p.name]  # and no leftovers
    first_mtime = (out / "1-short.mkv").stat().st_mtime_ns
    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "vsrtn-report.json").read_text())
    assert [f["status"] for f in report["files"]] == ["skipped", "done"]
    assert report["files"][0]["sha256"] == sha256_file(out / "1-short.mkv")
    assert (out / "1-short.mkv").stat().st_mtime_ns == first_mtime


def test_vpy_writes_a_script_vspipe_runs(tmp_path, weights, venv_bin):
    src = make_video(tmp_path / "film.mkv", audio=False)
    run("vpy", src, "--weights", weights, "--preset", "light")
    script = src.with_suffix(".vpy")
    info = subprocess.run([str(venv_bin / "vspipe"), "--info", str(script)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "Frames: 15" in info.stdout
    res = run("vpy", src, check=False)
    assert res.returncode == 2 and "exists" in res.stderr


@pytest.mark.parametrize("option,bad,message,values", [
    ("--deflicker", "3", "'deflicker' must be an integer in 0..context (2), got 3", ("0", "2")),
    ("--grain", "2", "'grain' must be a number in 0..1, got 2.0", ("0", "1")),
])
def test_restore_after_network_options(tmp_path, weights, option, bad, message, values):
    src = make_video(tmp_path / "in.mkv", audio=False, seconds=0.4)
    res = run("restore", src, tmp_path / "bad.mkv", "--weights", weights, "--context", "2", option, bad,
              check=False)
    assert res.returncode == 2 and message in res.stderr
    assert not (tmp_path / "bad.mkv").exists()
    outs = []
    for value in values:
        dst = tmp_path / f"out{value}.mkv"
        run("restore", src, dst, "--weights", weights, "--window", "4", "--context", "2", option, value,
            "--encoder", "ffv1", "-q")
        with av.open(str(dst)) as c:
            outs.append(np.stack([f.to_ndarray(format="gray") for f in c.decode(video=0)]))
    assert outs[0].shape == outs[1].shape and not np.array_equal(outs[0], outs[1])
