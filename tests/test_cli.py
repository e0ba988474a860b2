"""The `vsrtn` command on real files made here: restore, colorize, degrade, batch, vpy; bad input is
refused before any work."""
from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from vsrtn.atomic import partial_path
from vsrtn.weights import sha256_file

from conftest import VSRTN, H, W, make_video, moving_clip, run


@pytest.fixture
def weights(tiny_weights):
    return tiny_weights


def video_summary(path: Path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [(f.pts * f.time_base, f.format.name) for f in c.decode(v)]
    with av.open(str(path)) as c:
        audio = [bytes(p) for s in c.streams.audio for p in c.demux(s) if p.size]
    return frames, audio


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


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    from vsrtn.pixfmt import plane_array

    return plane_array(frame, index)


@pytest.mark.parametrize("pix_fmt,out_fmt,size",
                         [("gray", "yuv444p", (41, 57)), ("yuv420p10le", "yuv420p10le", (H, W))])
def test_colorize_command_keeps_luma_timestamps_and_audio(tmp_path, color_weights, key_png, pix_fmt, out_fmt, size):
    from vsrtn.cli import parse_reference

    assert parse_reference("a@b.png@12") == ("a@b.png", 12) and parse_reference("k.png") == ("k.png", None)
    src, dst = tmp_path / "bw.mkv", tmp_path / "color.mkv"
    frames = moving_clip(8, *size)
    with av.open(str(src), "w") as c:
        v = c.add_stream("ffv1", rate=24)
        v.width, v.height, v.pix_fmt = size[1], size[0], pix_fmt
        a = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        for f in frames:
            gray = av.VideoFrame.from_ndarray(np.rint(f * 255).astype(np.uint8), format="gray")
            for p in v.encode(gray.reformat(format=pix_fmt)):
                c.mux(p)
        samples = (np.sin(np.arange(2667) / 5) * 8000).astype(np.int16)[None]
        af = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        af.sample_rate = 8000
        for p in a.encode(af):
            c.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                c.mux(p)
    cmd = [sys.executable, "-m", "vsrtn.cli", "colorize", str(src), str(dst), "--ref", f"{key_png}@0",
           "--weights", str(color_weights), "--device", "cpu", "--encoder", "ffv1", "--window", "4", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    with av.open(str(src)) as c:
        before = [f for f in c.decode(video=0)]
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == out_fmt and len(c.streams.audio) == 1
        out = [f for f in c.decode(video=0)]
    assert len(out) == 8 and [f.pts for f in out] == [f.pts for f in before]
    for f, g in zip(out, before):
        assert np.array_equal(_plane(f, 0), _plane(g, 0))  # luma untouched, bit for bit
    audio = []
    for path in (src, dst):
        with av.open(str(path)) as c:
            audio.append(b"".join(bytes(p) for p in c.demux(c.streams.audio[0]) if p.size))
    assert audio[0] and audio[0] == audio[1]  # audio copied bit for bit
    mid = 128 if out_fmt == "yuv444p" else 512
    assert np.abs(_plane(out[0], 1).astype(int) - mid).mean() > 2  # chroma added
    bad = subprocess.run(cmd[:7] + [f"{key_png}@50"] + cmd[8:] + ["--overwrite"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frame 50 is past the end" in bad.stderr


def test_vpy_with_refs_writes_a_colorize_script_vspipe_runs(tmp_path, color_weights, key_png):
    from pathlib import Path

    src = tmp_path / "bw.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("ffv1", rate=24)
        v.width, v.height, v.pix_fmt = W, H, "gray"
        for f in moving_clip(6, H, W):
            for p in v.encode(av.VideoFrame.from_ndarray(np.rint(f * 255).astype(np.uint8), format="gray")):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    cli = [sys.executable, "-m", "vsrtn.cli", "vpy", str(src), "--weights", str(color_weights)]
    mixed = subprocess.run(cli + ["--ref", f"{key_png}@0", "--ref", str(key_png)], capture_output=True, text=True)
    assert mixed.returncode == 2 and "every keyframe or for none" in mixed.stderr
    res = subprocess.run(cli + ["--ref", f"{key_png}@0"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    script = src.with_suffix(".vpy")
    assert "vsrtn.Colorize(clip, [" in script.read_text() and "ref_frames=[0]" in script.read_text()
    vspipe = Path(sys.executable).parent / "vspipe"
    info = subprocess.run([str(vspipe), "--info", str(script)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "Frames: 6" in info.stdout and "YUV444P8" in info.stdout


@pytest.mark.parametrize("name", ['a\nimport os; os.system("touch PWNED")\n#.mp4', "it's \"q\".mkv",
                                  "back\\slash\\n.mp4", "#comment\r\nx.mkv"])
def test_vpy_writes_every_name_as_a_literal(tmp_path, name):
    src = tmp_path / name
    src.write_bytes(b"")
    out = tmp_path / "film.vpy"
    res = run("vpy", src, "-o", out, "--weights", "w'\n", "--ref", f"{tmp_path / name}@0")
    text = out.read_text()
    tree = ast.parse(text)  # valid Python whatever the name holds
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    literals = [a.value for c in calls for a in c.args if isinstance(a, ast.Constant)]
    assert str(src.resolve()) in literals
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.Assign, ast.Expr)) for n in tree.body)
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in tree.body)
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert not any("PWNED" in c or "q" in c.split("vspipe")[0][2:] for c in comments), comments
    assert res.returncode == 0


def test_cli_detects_cuts_so_shots_never_mix(tmp_path, tiny_weights):
    """A dark shot cut to a bright one: the first shot comes out the same whatever follows it."""
    from vsrtn.media import read_gray, write_gray

    from conftest import moving_clip

    first = [f * 0.3 for f in moving_clip(8, 64, 96, seed=1)]
    outs = []
    for k, seed in enumerate((2, 3)):
        second = [0.5 + 0.5 * f for f in moving_clip(8, 64, 96, seed=seed)]
        src = tmp_path / f"in{k}.mkv"
        write_gray(first + second, src)
        run("restore", src, tmp_path / f"out{k}.mkv", "--weights", tiny_weights, "--encoder", "ffv1", "--window", "12",
            "--context", "4", "--deflicker", "0")
        outs.append(read_gray(tmp_path / f"out{k}.mkv"))
    assert all(np.array_equal(a, b) for a, b in zip(outs[0][:8], outs[1][:8]))
    # Without detection the bright shot reaches into the dark one.
    for k in range(2):
        run("restore", tmp_path / f"in{k}.mkv", tmp_path / f"nd{k}.mkv", "--weights", tiny_weights, "--encoder", "ffv1",
            "--window", "12", "--context", "4", "--deflicker", "0", "--no-scene-detect")
    a, b = read_gray(tmp_path / "nd0.mkv"), read_gray(tmp_path / "nd1.mkv")
    assert not all(np.array_equal(x, y) for x, y in zip(a[:8], b[:8]))


def test_batch_gives_every_input_its_own_output(tmp_path, tiny_weights):
    for sub, ext in (("a", ".mp4"), ("b", ".mp4"), ("c", ".mkv")):
        (tmp_path / "in" / sub).mkdir(parents=True)
        make_video(tmp_path / "in" / sub / f"x{ext}", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights, "-q")
    report = json.loads((tmp_path / "out" / "vsrtn-report.json").read_text())
    assert report["done"] == 3 and res.returncode == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.mkv")) == \
        ["a/x.mkv", "b/x.mkv", "c/x.mkv"]
    # Two inputs that would write one output: refused before any work.
    make_video(tmp_path / "in" / "c" / "x.mp4", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out2", "--weights", tiny_weights, "-q", check=False)
    assert res.returncode == 2 and "more than one input" in res.stderr and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("option,message", [(["--crf", "99"], "'crf' must be a number in 0..51"),
                                            (["--encoder-preset", "warp9"], "'encoder-preset' must be one of"),
                                            (["--device", "cuda:x"], "'device' must be cpu, cuda or cuda:N"),
                                            (["--report", "."], "--report"),
                                            (["--sc-threshold", "3"], "'sc_threshold' must be")])
def test_batch_options_are_checked_before_any_work(tmp_path, tiny_weights, option, message):
    make_video(tmp_path / "a.mp4", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "a.mp4", "-o", tmp_path / "out", "--weights", tiny_weights, "-q", *option,
              check=False)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not list((tmp_path / "out").glob("*.mkv")) if (tmp_path / "out").exists() else True


def test_batch_reports_a_file_whose_size_changes_and_goes_on(tmp_path, tiny_weights):
    a, b = make_video(tmp_path / "a.mkv", size="96x64", seconds=0.2, audio=False), \
        make_video(tmp_path / "b.mkv", size="64x48", seconds=0.2, audio=False)
    mixed = tmp_path / "in" / "mixed.mkv"
    mixed.parent.mkdir()
    lst = tmp_path / "list.txt"
    lst.write_text(f"file '{a}'\nfile '{b}'\n")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", str(mixed)],
                   check=True)
    make_video(tmp_path / "in" / "good.mkv", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights, "-q", check=False)
    report = json.loads((tmp_path / "out" / "vsrtn-report.json").read_text())
    status = {Path(f["input"]).name: f for f in report["files"]}
    assert res.returncode == 1 and status["good.mkv"]["status"] == "done"
    assert status["mixed.mkv"]["status"] == "failed" and "frame size changes" in status["mixed.mkv"]["error"]
    assert not (tmp_path / "out" / "mixed.mkv").exists()


def test_an_unwritable_output_is_refused_before_decoding(tmp_path, tiny_weights):
    src = make_video(tmp_path / "a.mp4", seconds=0.2, audio=False)
    res = run("restore", src, "/proc/vsrtn-out.mkv", "--weights", tiny_weights, check=False)
    assert res.returncode == 2 and "/proc: cannot write output here" in res.stderr
    assert "decoding" not in res.stderr


def test_stream_metadata_chapters_and_extra_streams_are_kept(tmp_path, tiny_weights):
    import av

    src = tmp_path / "tagged.mkv"
    meta = tmp_path / "meta.txt"
    meta.write_text(";FFMETADATA1\ntitle=Reel one\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=200\ntitle=Opening\n")
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,300\nHello\n")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=0.4",
                    "-f", "lavfi", "-i", "sine=duration=0.4", "-i", str(srt), "-f", "lavfi",
                    "-i", "testsrc=size=32x32:rate=25:duration=0.4", "-i", str(meta),
                    "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map_metadata", "4", "-map_chapters", "4",
                    "-c:v", "ffv1", "-c:a", "flac", "-c:s", "srt", "-metadata:s:a:0", "language=fra",
                    "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=English", str(src)], check=True)
    res = run("restore", src, tmp_path / "out.mkv", "--weights", tiny_weights, "-q")
    assert "video stream 3 is copied untouched" in res.stderr
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.metadata.get("title") == "Reel one"
        assert [ch["metadata"].get("title") for ch in c.chapters()] == ["Opening"]
        assert c.streams.audio[0].metadata.get("language") == "fra"
        assert c.streams.subtitles[0].metadata.get("language") == "eng"
        assert c.streams.subtitles[0].metadata.get("title") == "English"
        assert len(c.streams.video) == 2
    # MP4 cannot hold SubRip: left out with a warning, the rest written.
    res = run("restore", src, tmp_path / "out.mp4", "--weights", tiny_weights, "-q")
    assert "subtitle stream 2 (srt) left out" in res.stderr
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert not c.streams.subtitles and len(c.streams.audio) == 1


def test_vpy_degrain(tmp_path):
    src = tmp_path / "film.mkv"
    src.write_bytes(b"")
    out = tmp_path / "film.vpy"
    run("vpy", src, "-o", out, "--degrain")
    calls = [n for n in ast.walk(ast.parse(out.read_text())) if isinstance(n, ast.Call)]
    restore = next(c for c in calls if getattr(c.func, "attr", "") == "Restore")
    assert {k.arg: k.value.value for k in restore.keywords} == {"preset": "medium", "degrain": True}
    res = run("vpy", src, "-o", tmp_path / "other.vpy", "--degrain", "--weights", "mine.safetensors", check=False)
    assert res.returncode == 2 and "'degrain' must be None or False when 'weights' names the network" in res.stderr
    assert not (tmp_path / "other.vpy").exists()
