"""`--cluster` on a real local Ray cluster (3 logical CPUs, 2 logical GPUs on this CPU machine):
the joined file equals one process's, faults are retried, a killed driver resumes, GPUs are
assigned one per worker, and without `--cluster` Ray is not imported."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import VSRTN, H, W, framemd5, make_video, moving_clip, run, vfr_video

RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray head on this machine for the module's tests (`--cluster auto` joins it)."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env)
    subprocess.run([str(RAY), "start", "--head", "--num-cpus", "3", "--num-gpus", "2", "--include-dashboard=false",
                    "--disable-usage-stats"], check=True, capture_output=True, env=env)
    yield
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env)


def two_shot_video(path: Path, frames=40, cut=16, size=(96, 64)) -> Path:
    """Two shots (the second starts at `cut`), a keyframe every 8 frames, with audio."""
    a, b = path.with_name("a.mkv"), path.with_name("b.mkv")
    make_video(a, size=f"{size[0]}x{size[1]}", seconds=cut / 25, codec="ffv1")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"mandelbrot=size={size[0]}x{size[1]}:rate=25", "-f", "lavfi", "-i", "sine=frequency=500",
                    "-frames:v", str(frames - cut), "-t", str((frames - cut) / 25), "-c:v", "ffv1", "-c:a", "flac",
                    "-pix_fmt", "yuv420p", str(b)], check=True)
    lst = path.with_name("list.txt")
    lst.write_text(f"file '{a}'\nfile '{b}'\n")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(lst), "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "8", "-c:a", "flac", str(path)], check=True)
    return path


OPTS = ["--window", "4", "--context", "2", "--device", "cpu", "--encoder", "ffv1",
        "-q"]


@pytest.fixture(scope="module")
def film(tmp_path_factory, tiny_weights):
    """A two-shot clip with its cut on a segment boundary (16 = 2 windows of 4 x 2), and what one
    process makes of it."""
    folder = tmp_path_factory.mktemp("film")
    src = two_shot_video(folder / "film.mkv")
    one = folder / "one.mkv"
    run("restore", src, one, "--weights", tiny_weights, *OPTS)
    return src, one


def test_cut_lies_on_a_segment_boundary(film):
    from vsrtn.media import read_gray
    from vsrtn.scenecut import CutSettings

    clip = read_gray(film[0])
    cuts = CutSettings().cuts(lambda i: clip[i], len(clip))
    assert [b for b in range(1, len(clip)) if cuts.cut_before(b)] == [16]


def test_a_local_cluster_on_two_cpus_writes_what_one_process_writes(film, tiny_weights, tmp_path):
    """Files named relative to the command's folder are found by the workers too."""
    src, one = film
    (tmp_path / "film.mkv").symlink_to(src)
    (tmp_path / "w.safetensors").symlink_to(tiny_weights)
    subprocess.run([*VSRTN, "restore", "film.mkv", "local.mkv", "--weights", "w.safetensors", *OPTS,
                    "--cluster", "local", "--workers", "2"], cwd=tmp_path, check=True, capture_output=True)
    assert framemd5(tmp_path / "local.mkv") == framemd5(one)


def test_three_workers_write_what_one_process_writes(ray_cluster, film, tiny_weights, tmp_path):
    src, one = film
    out = tmp_path / "many.mkv"
    res = run("restore", src, out, "--weights", tiny_weights, *OPTS, "--cluster", "auto", "--workers", "3",
              "--segment-windows", "2")
    assert framemd5(out) == framemd5(one)  # video and audio, timestamps included
    assert any(line.startswith("1,") for line in framemd5(out).splitlines())  # the audio is there
    assert not list(tmp_path.glob(".*"))  # job folder and intermediates removed once the file verified
    assert "resuming" not in res.stderr


def test_batch_on_the_cluster_matches_one_process_per_file_vfr_included(ray_cluster, film, tiny_weights, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    vfr = vfr_video(inputs / "vfr.mkv")
    (inputs / "film.mkv").symlink_to(film[0])
    (inputs / "bad.mkv").write_bytes(b"not a video" * 100)
    res = run("batch", inputs, "-o", tmp_path / "out", "--weights", tiny_weights, *OPTS, "--cluster", "auto",
              "--workers", "2", check=False)
    report = json.loads((tmp_path / "out" / "vsrtn-report.json").read_text())
    assert res.returncode == 1 and report["done"] == 2 and report["failed"] == 1  # the bad file, reported
    assert "bad.mkv" in res.stderr and not (tmp_path / "out" / "bad.mkv").exists()
    assert framemd5(tmp_path / "out" / "film.mkv") == framemd5(film[1])
    single = tmp_path / "vfr-one.mkv"
    run("restore", vfr, single, "--weights", tiny_weights, *OPTS)
    assert framemd5(tmp_path / "out" / "vfr.mkv") == framemd5(single)
    from vsrtn.media import index_video

    assert index_video(tmp_path / "out" / "vfr.mkv").pts == index_video(vfr).pts  # source timestamps kept


def _workers_rendering() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"SegmentWorker.render" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def _wait_for(predicate, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen([*VSRTN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_a_worker_killed_mid_segment_is_replaced_and_its_segment_retried(ray_cluster, film, tiny_weights, tmp_path):
    src, one = film
    out = tmp_path / "many.mkv"
    proc = _start("restore", src, out, "--weights", tiny_weights, *OPTS, "--cluster", "auto", "--workers", "2",
                  "--segment-windows", "1")
    job = tmp_path / ".many.mkv.vsrtn-job"
    # The pid seen rendering is the one killed (a second look may find the segment just finished).
    rendering = _wait_for(lambda: list(job.glob(".segment-*")) and _workers_rendering())
    os.kill(rendering[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "failed on try 1" in err and "died" in err
    assert framemd5(out) == framemd5(one)


@pytest.mark.parametrize("stop", ["killed", "terminated"])
def test_a_stopped_driver_leaves_nothing_complete_and_the_rerun_resumes(ray_cluster, film, tiny_weights, tmp_path,
                                                                         stop):
    """SIGKILL of the driver and its session (nothing runs on), or SIGTERM (a clean stop: exit
    130, workers stopped); either way no output, and the rerun redoes no rendered segment."""
    src, one = film
    out = tmp_path / "many.mkv"
    args = ["restore", src, out, "--weights", tiny_weights, *OPTS, "--cluster", "auto", "--workers", "1",
            "--segment-windows", "1"]
    proc = _start(*args)
    manifest = tmp_path / ".many.mkv.vsrtn-job" / "manifest.json"
    _wait_for(lambda: manifest.is_file() and json.loads(manifest.read_text())["rendered"])
    if stop == "killed":
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    else:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "rerun the same command to resume" in err
        assert not _workers_rendering()
    assert not out.exists()
    done = len(json.loads(manifest.read_text())["rendered"])
    res = run(*args)
    assert f"resuming; {done} segment(s) already rendered" in res.stderr
    assert framemd5(out) == framemd5(one)
    assert not manifest.parent.exists()


def test_a_job_stopped_before_its_join_is_joined_by_the_rerun(ray_cluster, film, tiny_weights, tmp_path,
                                                               monkeypatch):
    """Every segment rendered, the driver stopped at the join: the rerun renders nothing and joins."""
    from vsrtn import cluster
    from vsrtn.media import EncoderSettings

    src, one = film
    out = tmp_path / "many.mkv"
    spec = cluster.EngineSpec("test", "restore", {"weights": tiny_weights, "window": 4, "context": 2}, "cpu")
    kwargs = dict(cluster="auto", workers=2, per_segment=2)

    def stop(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "join", stop)
    with pytest.raises(KeyboardInterrupt):
        cluster.run([(src, out)], spec, EncoderSettings(encoder="ffv1"), **kwargs)
    monkeypatch.undo()
    notes = []
    [result] = cluster.run([(src, out)], spec, EncoderSettings(encoder="ffv1"), warn=notes.append, **kwargs)
    assert result.status == "done" and notes == ["many.mkv: resuming; 5 segment(s) already rendered"]
    assert framemd5(out) == framemd5(one)


def test_a_segment_failing_every_try_is_reported_while_the_rest_finish(ray_cluster, film, tiny_weights, tmp_path):
    """Segment 2 cannot be written (a folder holds its temporary name): it fails three times, the
    others are rendered and kept, the command fails without an output; once the obstacle is
    gone, the rerun renders only what is missing."""
    src, one = film
    out = tmp_path / "many.mkv"
    blocker = tmp_path / ".many.mkv.vsrtn-job" / ".segment-00002.vsrtn-partial.mkv"
    blocker.mkdir(parents=True)
    args = ["restore", src, out, "--weights", tiny_weights, *OPTS, "--cluster", "auto", "--workers", "2",
            "--segment-windows", "2"]
    res = run(*args, check=False)
    assert res.returncode == 1 and not out.exists()
    assert res.stderr.count("segment 2 (render) failed on try") == 2 and "failed 3 times" in res.stderr
    manifest = json.loads((blocker.parent / "manifest.json").read_text())
    assert sorted(r["index"] for r in manifest["rendered"]) == [0, 1, 3, 4]
    blocker.rmdir()
    res = run(*args)
    assert "resuming; 4 segment(s) already rendered" in res.stderr
    assert framemd5(out) == framemd5(one)


def test_colorize_on_the_cluster_matches_one_process(ray_cluster, tmp_path, color_weights, key_png):
    """Keyframe chains cross segment boundaries: each segment walks them from where it needs."""
    from vsrtn.media import write_gray

    src = tmp_path / "bw.mkv"
    write_gray(list(moving_clip(16, H, W)), src)
    common = ["--weights", color_weights, "--ref", f"{key_png}@0", "--window", "4", "--context", "1",
              "--device", "cpu", "--encoder", "ffv1", "-q"]
    run("colorize", src, tmp_path / "one.mkv", *common)
    run("colorize", src, tmp_path / "many.mkv", *common, "--cluster", "auto", "--workers", "2",
        "--segment-windows", "1")
    assert framemd5(tmp_path / "many.mkv") == framemd5(tmp_path / "one.mkv")


def test_gpu_workers_get_one_gpu_each(ray_cluster, tiny_weights):
    """The cluster declares two (logical) GPUs: two workers, each assigned its own."""
    from vsrtn.cluster import Driver, EngineSpec, connect
    from vsrtn.media import EncoderSettings

    ray = connect("auto")
    try:
        spec = EngineSpec("test", "restore", {"weights": tiny_weights, "window": 4, "context": 2})
        driver = Driver(ray, spec, EncoderSettings(), None, 0.35, lambda text: None, None)
        assert driver.shape[0] == 2 and driver.shape[2] == 1
        from vsrtn.weights import weights_sha256

        infos = driver.start_workers(weights_sha256(tiny_weights))
        assert sorted(tuple(i["gpus"]) for i in infos) == [("0",), ("1",)]
        driver.stop()
    finally:
        ray.shutdown()


def test_without_cluster_ray_is_not_imported(tmp_path, tiny_weights):
    src = make_video(tmp_path / "in.mkv", seconds=0.2)
    code = ("import sys; from vsrtn.cli import main; "
            f"rc = main(['restore', {str(src)!r}, {str(tmp_path / 'out.mkv')!r}, '--weights', {tiny_weights!r}, "
            "'--window', '4', '--context', '2', '-q']); assert rc == 0; assert 'ray' not in sys.modules, 'ray'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_bad_cluster_options_are_refused_before_any_work(tmp_path, tiny_weights):
    src = make_video(tmp_path / "in.mkv", seconds=0.2)
    res = run("restore", src, tmp_path / "out.mkv", "--weights", tiny_weights, "--cluster", "nowhere", check=False)
    assert res.returncode == 2 and "'cluster'" in res.stderr and "ray://HOST:PORT" in res.stderr
    from vsrtn.cluster import worker_shape
    from vsrtn.errors import ArgumentError

    with pytest.raises(ArgumentError, match="one per GPU"):
        worker_shape({"CPU": 8, "GPU": 2}, None, 3)
    assert worker_shape({"CPU": 8, "GPU": 2}, "cpu", None) == (8, 1.0, 0)
    assert worker_shape({"CPU": 16, "GPU": 3}, None, None) == (3, 5.0, 1)  # a GPU worker's CPU stages
    assert worker_shape({"CPU": 2}, None, 3) == (3, 0.6667, 0)
    assert not (tmp_path / "out.mkv").exists()
