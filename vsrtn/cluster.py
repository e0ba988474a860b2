"""Films and folders of films in segments across the workers of a Ray cluster, joined into the
files one process writes (`vsrtn restore/colorize/batch --cluster ...`).

Ray is an optional dependency (`pip install "vsrtn[ray]"`), imported only here and only when a
cluster is asked for. The driver indexes each file, plans its segments on the window grid
(`vsrtn.segments`), decides its scene cuts once for the whole file from cut scores the workers
compute, has the workers render the segments (each worker an actor that loads the network
once; one GPU each where there are GPUs), retries a failed segment up to `TRIES` times, and
joins each file once all its segments are in. A job manifest beside each output (`vsrtn.jobs`)
lets a rerun of the same command resume. Every node must see the inputs and outputs at the same
paths (one machine, or a shared file system).
"""
from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vsrtn import __version__
from vsrtn.errors import ArgumentError, MissingDependency, VsrtnError
from vsrtn.jobs import Job, index_digest
from vsrtn.media import EncoderSettings, MediaError, VideoIndex, VideoSource, index_video
from vsrtn.pipeline import FileResult
from vsrtn.segments import (
    DamagedIntermediate,
    Rendered,
    Segment,
    intermediate_format,
    intermediate_name,
    join,
    plan_segments,
    render,
    scores,
    windows_per_segment,
)
from vsrtn.weights import weights_sha256

TRIES = 3  # attempts per segment before it is reported failed
IN_FLIGHT = 2  # segments queued on each worker, so it never waits for the driver
START_TIMEOUT_S = 300  # workers that cannot start by then lack resources the cluster does not have


class ClusterError(VsrtnError):
    """The cluster cannot run the job as asked."""


@dataclass(frozen=True)
class EngineSpec:
    """What every worker builds its engine from: `vsrtn.builder.build_engine`'s options for
    `section` ("restore" or "colorize"), the device, and the color references (R'G'B' at the
    clip's size, and the frame each shows)."""

    func: str
    section: str
    options: dict[str, Any]
    device: str | None = None
    fp16: bool = False
    references: tuple[tuple[np.ndarray, int | None], ...] = ()

    def build(self, device: str | None = None, fp16: bool | None = None):
        """The engine (`vsrtn.builder.Built`) on `device` (cpu, cuda, cuda:N; None: CUDA when available)."""
        from vsrtn.builder import DeviceOptions, build_engine
        from vsrtn.colorize import Reference

        options = DeviceOptions.parse(device, self.fp16 if fp16 is None else fp16, self.func)
        refs = [Reference(rgb, frame) for rgb, frame in self.references]
        return build_engine(self.func, self.section, device=options, references=refs or None, **self.options)

    def identity(self, engine, weights: str) -> dict[str, Any]:
        """What decides the frames: settings as the engine took them, weights, references, device kind."""
        refs = hashlib.sha256()
        for rgb, frame in self.references:
            refs.update(np.ascontiguousarray(rgb, np.float32).tobytes())
            refs.update(repr(frame).encode())
        return {"vsrtn": __version__, "section": self.section, "settings": repr(engine.settings),
                "weights_sha256": weights, "references": refs.hexdigest(),
                "device": self.device or "auto", "fp16": self.fp16}


class SegmentWorker:
    """A worker's side (a Ray actor): builds the engine once, then scores and renders segments."""

    def __init__(self, spec: EngineSpec, threads: int, device: str | None) -> None:
        import cv2
        import torch

        # Its share of the node's cores: several workers on one node must not each take them all.
        threads = max(1, threads)
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        self.spec = spec
        self.built = spec.build(device=device)
        self.built.engine.limit_cpu_threads(threads)

    def identity(self) -> dict[str, Any]:
        import os

        import ray

        return {"pid": os.getpid(), "gpus": [str(g) for g in ray.get_gpu_ids()], "vsrtn": __version__,
                "weights_sha256": weights_sha256(self.built.weights), "node": ray.get_runtime_context().get_node_id()}

    def scores(self, src: str, index: VideoIndex, seg: Segment) -> list[float]:
        return scores(Path(src), index, seg)

    def render(self, src: str, index: VideoIndex, seg: Segment, starts: frozenset[int], folder: str,
               color: bool) -> Rendered:
        from vsrtn.windows import ShotStarts

        return render(self.built.engine, Path(src), index, seg, ShotStarts(starts), Path(folder),
                      intermediate_name(seg), color)


@dataclass
class FileJob:
    """One file on the driver: its index, segments, job record, and what is still to do."""

    src: Path
    dst: Path
    index: VideoIndex
    segments: list[Segment]
    job: Job
    index_ref: Any = None
    scores: dict[int, list[float]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    result: FileResult | None = None


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependency('--cluster needs Ray, which is not installed: pip install "vsrtn[ray]"') from None
    return ray


def connect(cluster: str, func: str = "vsrtn", cpus: int | None = None, gpus: int | None = None):
    """Ray, connected: `local` starts an embedded cluster on this machine (`cpus`, `gpus`: what it
    offers; default all it has), `auto` joins the cluster this machine belongs to, `ray://HOST:PORT`
    a remote one."""
    if not isinstance(cluster, str) or not (cluster in ("local", "auto") or cluster.startswith("ray://")):
        raise ArgumentError(func, "cluster", "local, auto or ray://HOST:PORT", cluster)
    ray = _import_ray()
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if cluster == "local":
        kwargs.update(address="local", num_cpus=cpus, num_gpus=gpus)  # a new one, even where one runs
    else:
        kwargs["address"] = cluster
    previous = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"{func}: cannot join the Ray cluster '{cluster}' ({exc})") from exc
    if previous is not None and threading.current_thread() is threading.main_thread():
        # Ray's driver exits at once on SIGTERM; the caller's handler stops cleanly instead.
        signal.signal(signal.SIGTERM, previous)
    return ray


def worker_shape(resources: dict[str, float], device: str | None, workers: int | None,
                 func: str = "vsrtn") -> tuple[int, float, int]:
    """(workers, CPUs each, GPUs each) for a cluster offering `resources`: one worker per GPU
    where the device may be CUDA and the cluster has GPUs, else `workers` (default one per CPU);
    the CPUs are shared out among the workers (their flow, deflicker and decoding run there; Ray
    takes fractions below 1 and whole numbers above)."""
    total_gpus = int(resources.get("GPU", 0))
    total_cpus = float(resources.get("CPU", 1))
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ArgumentError(func, "workers", "an integer >= 1", workers)
    gpus = 1 if device != "cpu" and total_gpus > 0 else 0
    if gpus:
        n = total_gpus if workers is None else workers
        if n > total_gpus:
            raise ArgumentError(func, "workers", f"at most {total_gpus} (one per GPU of the cluster)", workers)
    elif device is not None and device.startswith("cuda"):
        raise ClusterError(f"{func}: device cuda was asked for, but the cluster offers no GPU")
    else:
        n = max(1, int(total_cpus)) if workers is None else workers
    share = total_cpus / n
    return n, (float(int(share)) if share >= 1 else round(share, 4)), gpus


class Driver:
    """Runs files' segments on the workers and joins each file once its segments are in."""

    def __init__(self, ray, spec: EngineSpec, encoder: EncoderSettings, workers: int | None, threshold: float,
                 warn: Callable[[str], None], progress: Callable[[int, int], None] | None) -> None:
        self.ray, self.spec, self.encoder, self.warn, self.progress = ray, spec, encoder, warn, progress
        self.threshold = threshold  # of the cut detector
        self.color = spec.section == "colorize"
        n, cpus, gpus = worker_shape(ray.cluster_resources(), spec.device, workers, spec.func)
        self.shape = (n, cpus, gpus)
        self.actor_class = ray.remote(num_cpus=cpus, num_gpus=gpus)(SegmentWorker)
        self.actors: list[Any] = []
        self.done_frames = 0
        self.total_frames = 0

    # ------------------------------------------------------------ workers
    def start_workers(self, expect_weights: str) -> list[dict[str, Any]]:
        """Start the workers and check each runs this vsrtn with the same weights."""
        self.actors = [self._new_actor() for _ in range(self.shape[0])]
        return [self._check(a, expect_weights) for a in self.actors]

    def _new_actor(self):
        _, cpus, gpus = self.shape
        # A GPU worker sees only its own GPU (Ray sets CUDA_VISIBLE_DEVICES): it is cuda:0 there.
        device = ("cuda" if (self.spec.device or "").startswith("cuda") else None) if gpus else "cpu"
        return self.actor_class.remote(self.spec, max(1, int(cpus)), device)

    def _check(self, actor, expect_weights: str) -> dict[str, Any]:
        ray = self.ray
        try:
            info = ray.get(actor.identity.remote(), timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise ClusterError(f"{self.spec.func}: a worker did not start within {START_TIMEOUT_S} s; the "
                               f"cluster lacks the resources asked for ({self.shape[1]} CPU, {self.shape[2]} GPU "
                               "each)") from None
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise ClusterError(f"{self.spec.func}: a worker could not start: {cause}") from None
        if info["vsrtn"] != __version__ or info["weights_sha256"] != expect_weights:
            raise ClusterError(f"{self.spec.func}: a worker on node {info['node']} runs vsrtn {info['vsrtn']} "
                               f"with weights {info['weights_sha256'][:12]}, not vsrtn {__version__} with "
                               f"{expect_weights[:12]}: install the same on every node")
        return info

    def _replace(self, actor, expect_weights: str) -> None:
        self.ray.kill(actor, no_restart=True)
        self.actors.remove(actor)
        new = self._new_actor()
        self._check(new, expect_weights)
        self.actors.append(new)

    def stop(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:
                pass
        self.actors = []

    # ------------------------------------------------------------ tasks
    def _submit(self, actor, task: tuple[str, FileJob, Segment]):
        kind, f, seg = task
        if kind == "score":
            return actor.scores.remote(str(f.src), f.index_ref, seg)
        return actor.render.remote(str(f.src), f.index_ref, seg, f.job.shot_starts, str(f.job.folder), self.color)

    def run(self, files: list[FileJob], expect_weights: str) -> None:
        """Score, render and join every file; a file whose segment failed `TRIES` times is
        reported failed (its rendered segments kept for a rerun) while the rest finish."""
        queue: deque[tuple[str, FileJob, Segment]] = deque()
        for f in files:
            f.index_ref = self.ray.put(f.index)
            self.total_frames += f.index.frames
            self.done_frames += sum(r.frames for r in f.job.rendered.values())
            queue.extend(self._next_tasks(f))
        tries: dict[tuple[str, int, int], int] = {}
        running: dict[Any, tuple[Any, tuple[str, FileJob, Segment]]] = {}
        for f in files:  # resumed with every segment rendered: only the join is left
            self._finish_if_done(f, running, queue)
        while queue or running:
            for actor in list(self.actors):
                while queue and sum(1 for a, _ in running.values() if a is actor) < IN_FLIGHT:
                    task = queue.popleft()
                    running[self._submit(actor, task)] = (actor, task)
            if not running:
                break
            ready, _ = self.ray.wait(list(running), num_returns=1)
            actor, task = running.pop(ready[0])
            kind, f, seg = task
            try:
                value = self.ray.get(ready[0])
            except self.ray.exceptions.RayError as exc:  # the segment raised, or its worker died
                key = (kind, files.index(f), seg.index)
                tries[key] = tries.get(key, 0) + 1
                why = _failure(exc)
                if isinstance(exc, self.ray.exceptions.RayActorError) and actor in self.actors:
                    self._replace(actor, expect_weights)
                if tries[key] < TRIES:
                    self.warn(f"{f.dst.name}: segment {seg.index} ({kind}) failed on try {tries[key]} ({why}); "
                              "trying again")
                    queue.append(task)
                else:
                    f.failed.append(f"segment {seg.index} (frames {seg.start}..{seg.stop - 1}, {kind}) failed "
                                    f"{TRIES} times; last: {why}")
                    self.warn(f"{f.dst.name}: {f.failed[-1]}")
                    self._finish_if_done(f, running, queue)
                continue
            if kind == "score":
                f.scores[seg.index] = value
                if len(f.scores) == len(f.segments):
                    self._decide_cuts(f)
                    queue.extend(self._next_tasks(f))
            else:
                f.job.rendered[seg.index] = value
                f.job.save()
                self.done_frames += value.frames
                if self.progress is not None:
                    self.progress(self.done_frames, self.total_frames)
            self._finish_if_done(f, running, queue)

    def _next_tasks(self, f: FileJob) -> list[tuple[str, FileJob, Segment]]:
        if f.job.shot_starts is None:
            return [("score", f, s) for s in f.segments]
        return [("render", f, s) for s in f.job.todo(f.segments)]

    def _decide_cuts(self, f: FileJob) -> None:
        from vsrtn.scenecut import shot_starts

        values = [0.0]
        for seg in f.segments:
            values += f.scores[seg.index]
        f.job.shot_starts = shot_starts(values, self.threshold).starts
        f.job.save()

    def _finish_if_done(self, f: FileJob, running: dict, queue: deque) -> None:
        busy = any(t[1] is f for _, t in running.values()) or any(t[1] is f for t in queue)
        if busy or f.result is not None:
            return
        if f.failed:
            f.result = FileResult(str(f.src), str(f.dst), "failed",
                                  error=f"{len(f.failed)} segment(s) failed: {'; '.join(f.failed)}; the "
                                  f"{len(f.job.rendered)} rendered are kept in {f.job.folder}: rerun to finish")
            return
        if len(f.job.rendered) != len(f.segments):
            return
        try:
            f.result = join(f.src, f.index, f.segments, list(f.job.rendered.values()), f.job.folder, f.dst,
                            self.encoder, self.color, self.warn)
        except DamagedIntermediate as exc:
            # An intermediate that no longer reads back as written is dropped, to be rendered again.
            f.job.rendered.pop(exc.segment, None)
            f.job.save()
            f.result = FileResult(str(f.src), str(f.dst), "failed", error=f"{exc}; rerun to render it again")
            return
        f.job.discard()


def _failure(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, Exception):
        return f"{type(cause).__name__}: {cause}"
    return f"the worker died ({type(exc).__name__})"


def run(files: Sequence[tuple[Path, Path]], spec: EngineSpec, encoder: EncoderSettings, *, cluster: str = "local",
        workers: int | None = None, per_segment: int | None = None, cpus: int | None = None,
        gpus: int | None = None, warn: Callable[[str], None] = lambda text: None,
        note: Callable[[str], None] = lambda text: None,
        progress: Callable[[int, int], None] | None = None) -> list[FileResult]:
    """Restore or colorize (`spec.section`) each (input, output) pair on a Ray cluster, into the
    files one process writes. `workers`: how many (default one per GPU, else one per CPU);
    `per_segment`: windows per segment (default: about four segments per worker, at most
    `MAX_WINDOWS_PER_SEGMENT`); `cpus`/`gpus`: what a `local` cluster offers. A file's result
    `seconds` is the time of its join (the final encode)."""
    func = spec.func
    # Files named by the options are found by every worker, whatever its working folder.
    spec = replace(spec, options={k: str(Path(v).resolve()) if k in ("weights", "preset") and isinstance(v, str)
                                  and Path(v).is_file() else v for k, v in spec.options.items()})
    if per_segment is not None and (isinstance(per_segment, bool) or not isinstance(per_segment, int)
                                    or per_segment < 1):
        raise ArgumentError(func, "segment-windows", "an integer >= 1", per_segment)
    encoder.validate(func)
    built = spec.build(device="cpu", fp16=False)  # every option checked here, before any worker starts
    engine = built.engine
    expect = weights_sha256(built.weights)
    identity = spec.identity(engine, expect)
    ray = connect(cluster, func, cpus, gpus)
    driver = None
    try:
        driver = Driver(ray, spec, encoder, workers, engine.settings.cuts.threshold, warn, progress)
        results: list[FileResult | FileJob] = []
        for src, dst in files:
            try:  # a file that cannot be read is reported, the others go on
                results.append(_file_job(src, dst, engine, identity, per_segment or 0, driver.shape[0],
                                         driver.color, warn))
            except VsrtnError as exc:
                results.append(FileResult(str(src), str(dst), "failed", error=str(exc)))
        jobs = [f for f in results if isinstance(f, FileJob)]
        if jobs:
            start = time.perf_counter()
            driver.start_workers(expect)
            n, cpus, gpus = driver.shape
            note(f"{n} worker(s) ({cpus:g} CPU, {gpus} GPU each) ready in {time.perf_counter() - start:.1f} s; "
                 f"{sum(len(f.segments) for f in jobs)} segment(s) of up to {jobs[0].job.per_segment} windows")
            driver.run(jobs, expect)
        return [f if isinstance(f, FileResult) else
                f.result or FileResult(str(f.src), str(f.dst), "failed", error="not finished") for f in results]
    finally:
        if driver is not None:
            driver.stop()
        ray.shutdown()


def _file_job(src: Path, dst: Path, engine, identity: dict[str, Any], per_segment: int, workers: int,
              color: bool, warn: Callable[[str], None]) -> FileJob:
    from vsrtn.pipeline import check_paths

    check_paths(src, dst, overwrite=True)  # the input exists and is not the output; the folder takes files
    src, dst = src.resolve(), dst.resolve()  # as every worker finds them, whatever its working folder
    index = index_video(src)
    if index.frames < 1:
        raise MediaError(f"{src}: the video stream has no frames")
    with VideoSource(src, warn, frames=index.frames) as source:
        intermediate_format(source.info.pix_fmt, color)
    stat = src.stat()
    file_identity = {**identity, "source": {"path": str(src.resolve()), "bytes": stat.st_size,
                                            "mtime_ns": stat.st_mtime_ns, "index": index_digest(index)}}
    plan = engine.plan(index.frames)
    job = Job.open(dst, file_identity, per_segment or windows_per_segment(len(plan), workers), warn)
    if not engine.settings.cuts.detect:
        job.shot_starts = frozenset()  # files carry no scene-change props: no cuts unless detected
    if job.resumed:
        warn(f"{dst.name}: resuming; {len(job.rendered)} segment(s) already rendered")
    return FileJob(src, dst, index, plan_segments(plan, job.per_segment), job)
