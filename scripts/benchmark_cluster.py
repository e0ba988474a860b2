#!/usr/bin/env python3
"""Segments on a local Ray cluster against one process (not a test): `vsrtn restore` of the same
synthetic clip, once in one process and once with `--cluster local`, checked to give the same
frames; reports wall times, the index and join times, and each worker's peak memory.

  python scripts/benchmark_cluster.py --frames 600 --size 320x240 --workers 2 --json out/bench-cluster.json

Both runs encode FFV1, so that the check compares the frames themselves: x264 through PyAV is not
reproducible from one run to the next (two identical one-process runs differ), so an x264 output
cannot show whether the frames were identical.

Peak memory per worker is read from /proc (VmHWM of each `SegmentWorker` process) while the run
goes on; the one-process figure is the child's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def make_source(path: Path, size: str, frames: int) -> None:
    """A grainy moving test pattern with a tone (x264, a keyframe every 48 frames)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-vf", "noise=alls=12:allf=t,format=yuv420p",
                    "-frames:v", str(frames), "-t", str(frames / 24), "-c:v", "libx264", "-g", "48", "-crf", "16",
                    "-c:a", "flac", str(path)], check=True)


def worker_peaks(stop: threading.Event, peaks: dict[int, int]) -> None:
    """Poll the workers' peak resident memory (kB) until `stop` is set."""
    while not stop.is_set():
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and b"SegmentWorker" in (proc / "cmdline").read_bytes():
                    for line in (proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peaks[int(proc.name)] = max(peaks.get(int(proc.name), 0), int(line.split()[1]))
            except OSError:
                pass
        time.sleep(0.2)


def framemd5(path: Path) -> str:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0", "-f", "framemd5", "-"],
                          capture_output=True, text=True, check=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from vsrtn.media import index_video

    common = ["--preset", args.preset, "--device", "cpu", "--encoder", "ffv1", "-q"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "src.mkv"
        make_source(src, args.size, args.frames)
        t = time.perf_counter()
        index = index_video(src)
        index_s = time.perf_counter() - t
        one, many = tmp / "one.mkv", tmp / "many.mkv"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vsrtn.cli", "restore", str(src), str(one), *common], check=True)
        one_s = time.perf_counter() - t
        one_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        stop, peaks = threading.Event(), {}
        poller = threading.Thread(target=worker_peaks, args=(stop, peaks))
        poller.start()
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "vsrtn.cli", "restore", str(src), str(many), *common,
                              "--cluster", "local", "--workers", str(args.workers)], check=True,
                             capture_output=True, text=True)
        many_s = time.perf_counter() - t
        stop.set()
        poller.join()
        identical = framemd5(one) == framemd5(many)
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "command": " ".join(["python", "scripts/benchmark_cluster.py", *sys.argv[1:]]),
        "frames": index.frames, "size": args.size, "preset": args.preset, "workers": args.workers,
        "index_s": round(index_s, 3), "one_process_s": round(one_s, 1), "cluster_s": round(many_s, 1),
        "speedup": round(one_s / many_s, 2), "one_process_peak_mib": round(one_peak_kb / 1024),
        "worker_peak_mib": sorted(round(v / 1024) for v in peaks.values()),
        "identical_framemd5": identical, "cluster_log": res.stderr.strip().splitlines()[-4:],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
