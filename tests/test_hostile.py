"""What vsrtn promises on hostile or broken input: no code runs, nothing is downloaded or
unpickled, nothing is lost or overwritten, every bad input is a clear error before any work."""
from __future__ import annotations

import ast
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs

from conftest import tiny_model
from test_cli import make_video, run
from vsclips import textured

import vsrtn
from vsrtn.errors import WeightsError
from vsrtn.weights import save_weights

core = vs.core


@pytest.fixture
def tiny(tiny_weights):
    return tiny_weights


# ---------------------------------------------------------------- generated code


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


# ---------------------------------------------------------------- downloads and pickles


def test_features_load_offline_from_the_package_without_unpickling(tmp_path):
    code = ("import socket, pickle, urllib.request\n"
            "def refuse(*a, **k): raise AssertionError('network or pickle used')\n"
            "socket.socket = refuse; socket.create_connection = refuse; urllib.request.urlopen = refuse\n"
            "pickle.load = refuse; pickle.loads = refuse; pickle.Unpickler = refuse\n"
            "from vsrtn.models.colorize import ReferenceMatcher\n"
            "from vsrtn.features import LPIPS\n"
            "import torch\n"
            "m = ReferenceMatcher('cpu'); print(tuple(m.features(torch.zeros(1, 1, 32, 32)).shape))\n"
            "LPIPS('alex')\n"
            "import sys; assert 'vsrtn.assets' not in sys.modules\n")
    env = {"VSRTN_CACHE": str(tmp_path / "empty-cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "empty-cache").exists()


# ---------------------------------------------------------------- weights files


def _safetensors_with(path: Path, config, state=None) -> Path:
    from safetensors.torch import save_file

    state = state if state is not None else {"x": torch.zeros(1)}
    save_file(state, str(path), metadata={"format": "vsrtn-rtn/1", "config": json.dumps(config)})
    return path


def test_architecture_metadata_is_bounded_before_anything_is_allocated(tmp_path):
    from vsrtn.weights import load_model

    bomb = _safetensors_with(tmp_path / "bomb.safetensors", {"depths": [2] * 20000, "num_heads": [4] * 20000})
    with pytest.raises(WeightsError, match=r"'depths' must be 1..8 integers in 1..32"):
        load_model(bomb)
    wide = _safetensors_with(tmp_path / "wide.safetensors", {"embed_dim": 10**9})
    with pytest.raises(WeightsError, match="'embed_dim' must be an integer in 4..512"):
        load_model(wide)
    # A valid config whose tensors the file does not hold: refused from the header alone.
    small = _safetensors_with(tmp_path / "small.safetensors", {"embed_dim": 512, "depths": [32] * 8,
                                                               "num_heads": [4] * 8})
    with pytest.raises(WeightsError, match="does not fit"):
        load_model(small)


@pytest.mark.parametrize("meta,message", [({"format": "vsrtn-rtn/1"}, "'config'"),
                                          ({"format": "vsrtn-rtn/1", "config": "{not json"}, "'config'"),
                                          ({"format": "vsrtn-rtn/1", "config": "[1, 2]"}, "'config'")])
def test_bad_config_metadata_is_an_error_at_evaluation(tmp_path, meta, message):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata=meta)
    with pytest.raises(vs.Error, match=message):
        vsrtn.Restore(textured(length=2), weights=str(path))


def test_nan_weights_are_refused(tmp_path):
    from vsrtn.weights import load_model

    model = tiny_model()
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    save_weights(model, tmp_path / "nan.safetensors")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_model(tmp_path / "nan.safetensors")


def test_decompression_is_bounded(tmp_path, monkeypatch):
    from vsrtn import weights

    monkeypatch.setattr(weights, "MAX_CHECKPOINT_BYTES", 1 << 20)
    bomb = tmp_path / "net_G.pth.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (4 << 20)))
    with pytest.raises(WeightsError, match="more than 1 MiB"):
        weights.load_model(bomb)


def test_a_broken_manifest_entry_is_reported_not_fatal(tmp_path, monkeypatch, tiny):
    from vsrtn import doctor
    from vsrtn.weights import find_weights, list_weights

    (tmp_path / "manifest.json").write_text(json.dumps({"weights": {"nofile": {"sha256": "0" * 64}}}))
    broken = tmp_path / "unreadable"
    (broken / "manifest.json").mkdir(parents=True)  # a manifest that cannot be read
    monkeypatch.setenv("VSRTN_WEIGHTS", f"{tmp_path}:{broken}")
    entries = {e.name: e for e in list_weights()}
    assert "needs 'file'" in entries["nofile"].problem()
    assert "rtn-compact" in entries and entries["rtn-compact"].problem() is None  # the shipped ones still work
    assert find_weights("rtn-compact").problem() is None
    lines: list[str] = []
    assert doctor.run(lines.append) == 1
    assert any("FAIL" in line and "nofile" in line for line in lines)
    assert any("FAIL" in line and "unreadable" in line for line in lines)
    assert not any("crashed" in line for line in lines)


# ---------------------------------------------------------------- broken frames and clips


def test_one_non_finite_pixel_does_not_spread(tiny):
    clip = textured(vs.GRAYS, length=8)

    def poison(n, f):
        out = f.copy()
        if n == 3:
            a = np.asarray(out[0])
            a[5, 5], a[6, 6], a[7, 7] = np.nan, np.inf, 1e30
        return out

    bad = clip.std.ModifyFrame(clip, poison)
    out = vsrtn.Restore(bad, weights=tiny, window=4, context=2, deflicker=0)
    ref = vsrtn.Restore(clip, weights=tiny, window=4, context=2, deflicker=0)
    for n in range(8):
        y, r = np.asarray(out.get_frame(n)[0]), np.asarray(ref.get_frame(n)[0])
        assert np.isfinite(y).all(), n
        assert np.abs(y - r).mean() < 0.02, n


def test_interlaced_input_is_refused_with_a_deinterlacer_named(tiny, tmp_path):
    with pytest.raises(vs.Error, match=r"vsrtn.Restore: frame 0 of 'clip' is interlaced .*bwdif"):
        vsrtn.Restore(textured(length=3).std.SetFieldBased(1), weights=tiny)
    src = tmp_path / "tff.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=0.4",
                    "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264opts", "tff=1", "-field_order", "tt",
                    str(src)], check=True)
    res = run("restore", src, tmp_path / "out.mkv", "--weights", tiny, check=False)
    assert res.returncode == 2 and "interlaced" in res.stderr and not (tmp_path / "out.mkv").exists()


def test_evaluation_errors_name_the_option_once(tiny):
    with pytest.raises(vs.Error, match=r"'seed' must be an integer in 0..2\*\*63-1"):
        vsrtn.Degrade(textured(length=2), seed=2**70)
    variable = core.std.Splice([textured(length=1), textured(vs.RGB24, length=1)], mismatch=True)
    with pytest.raises(vs.Error, match="got 'a clip of variable format or size'"):
        vsrtn.Colorize(textured(length=2), variable, weights=tiny)
    if not torch.cuda.is_available():
        with pytest.raises(vs.Error) as err:
            vsrtn.Restore(textured(length=2), weights=tiny, device="cuda")
        assert str(err.value).count("vsrtn.Restore:") == 1


# ---------------------------------------------------------------- the command


def test_cli_detects_cuts_so_shots_never_mix(tmp_path, tiny):
    """A dark shot cut to a bright one: the first shot comes out the same whatever follows it."""
    from vsrtn.io import read_gray, write_gray
    from conftest import moving_clip

    first = [f * 0.3 for f in moving_clip(8, 64, 96, seed=1)]
    outs = []
    for k, seed in enumerate((2, 3)):
        second = [0.5 + 0.5 * f for f in moving_clip(8, 64, 96, seed=seed)]
        src = tmp_path / f"in{k}.mkv"
        write_gray(first + second, src)
        run("restore", src, tmp_path / f"out{k}.mkv", "--weights", tiny, "--encoder", "ffv1", "--window", "12",
            "--context", "4", "--deflicker", "0")
        outs.append(read_gray(tmp_path / f"out{k}.mkv"))
    assert all(np.array_equal(a, b) for a, b in zip(outs[0][:8], outs[1][:8]))
    # Without detection the bright shot reaches into the dark one.
    for k in range(2):
        run("restore", tmp_path / f"in{k}.mkv", tmp_path / f"nd{k}.mkv", "--weights", tiny, "--encoder", "ffv1",
            "--window", "12", "--context", "4", "--deflicker", "0", "--no-scene-detect")
    a, b = read_gray(tmp_path / "nd0.mkv"), read_gray(tmp_path / "nd1.mkv")
    assert not all(np.array_equal(x, y) for x, y in zip(a[:8], b[:8]))


def test_batch_gives_every_input_its_own_output(tmp_path, tiny):
    for sub, ext in (("a", ".mp4"), ("b", ".mp4"), ("c", ".mkv")):
        (tmp_path / "in" / sub).mkdir(parents=True)
        make_video(tmp_path / "in" / sub / f"x{ext}", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny, "-q")
    report = json.loads((tmp_path / "out" / "vsrtn-report.json").read_text())
    assert report["done"] == 3 and res.returncode == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.mkv")) == \
        ["a/x.mkv", "b/x.mkv", "c/x.mkv"]
    # Two inputs that would write one output: refused before any work.
    make_video(tmp_path / "in" / "c" / "x.mp4", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out2", "--weights", tiny, "-q", check=False)
    assert res.returncode == 2 and "more than one input" in res.stderr and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("option,message", [(["--crf", "99"], "'crf' must be a number in 0..51"),
                                            (["--encoder-preset", "warp9"], "'encoder-preset' must be one of"),
                                            (["--device", "cuda:x"], "'device' must be cpu, cuda or cuda:N"),
                                            (["--report", "."], "--report"),
                                            (["--sc-threshold", "3"], "'sc_threshold' must be")])
def test_batch_options_are_checked_before_any_work(tmp_path, tiny, option, message):
    make_video(tmp_path / "a.mp4", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "a.mp4", "-o", tmp_path / "out", "--weights", tiny, "-q", *option, check=False)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not list((tmp_path / "out").glob("*.mkv")) if (tmp_path / "out").exists() else True


def test_batch_reports_a_file_whose_size_changes_and_goes_on(tmp_path, tiny):
    a, b = make_video(tmp_path / "a.mkv", size="96x64", seconds=0.2, audio=False), \
        make_video(tmp_path / "b.mkv", size="64x48", seconds=0.2, audio=False)
    mixed = tmp_path / "in" / "mixed.mkv"
    mixed.parent.mkdir()
    lst = tmp_path / "list.txt"
    lst.write_text(f"file '{a}'\nfile '{b}'\n")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", str(mixed)],
                   check=True)
    make_video(tmp_path / "in" / "good.mkv", seconds=0.2, audio=False)
    res = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny, "-q", check=False)
    report = json.loads((tmp_path / "out" / "vsrtn-report.json").read_text())
    status = {Path(f["input"]).name: f for f in report["files"]}
    assert res.returncode == 1 and status["good.mkv"]["status"] == "done"
    assert status["mixed.mkv"]["status"] == "failed" and "frame size changes" in status["mixed.mkv"]["error"]
    assert not (tmp_path / "out" / "mixed.mkv").exists()


def test_an_unwritable_output_is_refused_before_decoding(tmp_path, tiny):
    src = make_video(tmp_path / "a.mp4", seconds=0.2, audio=False)
    res = run("restore", src, "/proc/vsrtn-out.mkv", "--weights", tiny, check=False)
    assert res.returncode == 2 and "/proc: cannot write output here" in res.stderr
    assert "decoding" not in res.stderr


def test_stream_metadata_chapters_and_extra_streams_are_kept(tmp_path, tiny):
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
    res = run("restore", src, tmp_path / "out.mkv", "--weights", tiny, "-q")
    assert "video stream 3 is copied untouched" in res.stderr
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.metadata.get("title") == "Reel one"
        assert [ch["metadata"].get("title") for ch in c.chapters()] == ["Opening"]
        assert c.streams.audio[0].metadata.get("language") == "fra"
        assert c.streams.subtitles[0].metadata.get("language") == "eng"
        assert c.streams.subtitles[0].metadata.get("title") == "English"
        assert len(c.streams.video) == 2
    # MP4 cannot hold SubRip: left out with a warning, the rest written.
    res = run("restore", src, tmp_path / "out.mp4", "--weights", tiny, "-q")
    assert "subtitle stream 2 (srt) left out" in res.stderr
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert not c.streams.subtitles and len(c.streams.audio) == 1
