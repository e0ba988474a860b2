"""A film in segments: planned on the window grid, rendered anywhere, joined into the file one
process writes. Independent of how segments are distributed (`vsrtn.cluster` runs them on Ray).

A segment is a run of consecutive windows of the engine's plan; frame n's result is a pure
function of the clip and the settings, so segments rendered apart and joined in order give
exactly `run_clip`'s frames. Each segment is rendered into a lossless, intra-only intermediate
(FFV1 in Matroska) holding the finished frames in the working format, checked by decoding it
again; the join encodes them once, with the source's timestamps, and copies the source's other
streams, one intermediate open at a time.
"""
from __future__ import annotations

import hashlib
import math
import shutil
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import av
import numpy as np

from vsrtn.atomic import JOB_SUFFIX, AtomicFile
from vsrtn.media import (
    EncoderSettings,
    MediaError,
    VideoIndex,
    VideoSink,
    VideoSource,
    choose_pix_fmt,
    count_frames,
)
from vsrtn.pipeline import READ_AHEAD, WRITE_BEHIND, Behind, FileResult, ahead, output_encoder
from vsrtn.pixfmt import color_format, luma_of, new_frame, plane_array, with_color, with_luma
from vsrtn.scenecut import cut_score, signature
from vsrtn.weights import sha256_file
from vsrtn.windows import Cuts, WindowPlan

if TYPE_CHECKING:
    from vsrtn.engine import Engine

MAX_WINDOWS_PER_SEGMENT = 20  # ~1000 frames at the default window: a lost segment costs minutes, not hours
SEGMENTS_PER_WORKER = 4  # enough segments that workers finishing at different speeds stay busy
INTERMEDIATE_TIME_BASE = Fraction(1, 1000)  # Matroska's; an intermediate's timestamps count frames
COLOR_ATTRS = ("color_range", "colorspace", "color_primaries", "color_trc")


class DamagedIntermediate(MediaError):
    """A rendered segment's intermediate no longer reads back as it was written."""

    def __init__(self, segment: int, text: str) -> None:
        super().__init__(text)
        self.segment = segment


@dataclass(frozen=True)
class Segment:
    """Windows `windows` of a plan, keeping output frames [start, stop)."""

    index: int
    windows: range
    start: int
    stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.start


def windows_per_segment(windows: int, workers: int) -> int:
    """Windows per segment for a clip of `windows` windows on `workers` workers: about
    SEGMENTS_PER_WORKER segments each, at most MAX_WINDOWS_PER_SEGMENT windows long."""
    return max(1, min(MAX_WINDOWS_PER_SEGMENT, math.ceil(windows / (SEGMENTS_PER_WORKER * max(1, workers)))))


def plan_segments(plan: WindowPlan, per_segment: int) -> list[Segment]:
    """The plan cut into segments of `per_segment` windows (the last may be shorter): every
    boundary lies on the window grid, so no window is split."""
    if per_segment < 1:
        raise ValueError(f"plan_segments: per_segment must be >= 1, got {per_segment}")
    out = []
    for i, k in enumerate(range(0, len(plan), per_segment)):
        ks = range(k, min(len(plan), k + per_segment))
        out.append(Segment(i, ks, plan[ks.start].start, plan[ks.stop - 1].stop))
    return out


def intermediate_format(pix_fmt: str, color: bool) -> str:
    """The working format of the finished frames, which the intermediate holds bit for bit."""
    fmt = color_format(pix_fmt) if color else pix_fmt
    if choose_pix_fmt("ffv1", fmt) != fmt:
        raise MediaError(f"frames in {fmt} cannot be held losslessly in an FFV1 intermediate")
    return fmt


def frame_digest(frame: av.VideoFrame) -> bytes:
    """The bytes that identify a finished frame: its planes (digested by the caller)."""
    return b"".join(plane_array(frame, i).tobytes() for i in range(len(frame.planes)))


@dataclass(frozen=True)
class Rendered:
    """A segment's intermediate as its worker wrote and checked it."""

    index: int
    file: str  # name inside the job folder
    frames: int
    bytes: int
    md5: str  # of the frames' planes, in order
    color: tuple[int, ...]  # the frames' COLOR_ATTRS


def scores(source_path: Path, index: VideoIndex, seg: Segment) -> list[float]:
    """Cut scores of the pairs (b-1, b) for b in [seg.start, seg.stop), b >= 1, in order."""
    first = max(0, seg.start - 1)
    out: list[float] = []
    with VideoSource(source_path, frames=index.frames) as source:
        previous = None
        for n, frame in enumerate(source.frames_from(first, index), first):
            sig = signature(luma_of(frame))
            if previous is not None:
                out.append(cut_score(previous, sig))
            previous = sig
            if n + 1 >= seg.stop:
                break
    return out


def render(engine: "Engine", source_path: Path, index: VideoIndex, seg: Segment, cuts: Cuts, folder: Path, name: str,
           color: bool) -> Rendered:
    """Run `engine` over `seg` of the source and write its finished frames (the source frame with
    the restored luma, or with color) to `folder/name`, checked by decoding it again."""
    with VideoSource(source_path, frames=index.frames) as source:
        info = source.info
        fmt = intermediate_format(info.pix_fmt, color)
        compose = with_color if color else with_luma
        first = engine.first_needed(index.frames, seg.windows.start)
        held: dict[int, av.VideoFrame] = {}
        # Decoding and encoding run on threads of their own, as in `transcode`.
        reads = ahead(((frame, luma_of(frame)) for frame in source.frames_from(first, index)), READ_AHEAD)

        def lumas() -> Iterator[np.ndarray]:
            for n, (frame, luma) in enumerate(reads, first):
                if seg.start <= n < seg.stop:
                    held[n] = frame
                yield luma

        try:
            outputs = engine.run_windows(lumas(), index.frames, seg.windows, cuts)
            with IntermediateWriter(folder / name, info.width, info.height, fmt) as writer:
                def write(item: tuple[int, av.VideoFrame, np.ndarray]) -> None:
                    n, frame, y = item
                    writer.write(compose(frame, y), n)

                with Behind(write, WRITE_BEHIND) as behind:
                    for n, y in zip(range(seg.start, seg.stop), outputs):
                        behind.put((n, held.pop(n), y))
                if writer.frames != seg.frames:
                    raise MediaError(f"segment {seg.index}: {writer.frames} frames rendered, {seg.frames} expected")
                writer.verify(seg.start)
        finally:
            reads.close()
    return Rendered(seg.index, name, seg.frames, (folder / name).stat().st_size, writer.md5, writer.color)


class IntermediateWriter:
    """Finished frames into an FFV1/Matroska file under a temporary name; renamed only when the
    block completes, after `verify`."""

    def __init__(self, path: Path, width: int, height: int, pix_fmt: str) -> None:
        self.file = AtomicFile(path)
        self.file.tmp.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.file.tmp), "w")
        self.stream = self.container.add_stream("ffv1", rate=24, options={"level": "3", "slicecrc": "1"})
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        self.stream.codec_context.gop_size = 1  # every frame intra: each stands alone
        self.stream.time_base = self.stream.codec_context.time_base = INTERMEDIATE_TIME_BASE
        self.frames = 0
        self._md5 = hashlib.md5()
        self.color: tuple[int, ...] = ()

    def write(self, frame: av.VideoFrame, n: int) -> None:
        color = tuple(int(getattr(frame, a) or 0) for a in COLOR_ATTRS)
        if self.frames and color != self.color:
            raise MediaError(f"frame {n}: color metadata changes within the clip ({self.color} -> {color})")
        self.color = color
        self._md5.update(frame_digest(frame))
        frame.pts, frame.time_base = n, INTERMEDIATE_TIME_BASE  # a composed frame: ours to renumber
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def verify(self, start: int) -> None:
        """Close the file and decode it again: the same frames, numbered start, start+1, ..."""
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        check_intermediate(self.file.tmp, start, self.frames, self.md5)

    def __enter__(self) -> "IntermediateWriter":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.file.commit()
        else:
            try:
                self.container.close()
            except Exception:
                pass
            self.file.abort()


def read_intermediate(path: Path, start: int, frames: int, md5: str) -> Iterator[av.VideoFrame]:
    """The frames of an intermediate, each checked to be the next one (start, start+1, ...);
    after the last, the count and the digest are checked. Raises MediaError on any difference."""
    digest = hashlib.md5()
    n = start
    try:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                if frame.pts != n:
                    raise MediaError(f"{path.name}: frame {n} has timestamp {frame.pts}")
                digest.update(frame_digest(frame))
                n += 1
                yield frame
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name}: cannot be read ({exc})") from exc
    if n - start != frames or digest.hexdigest() != md5:
        raise MediaError(f"{path.name}: {n - start} frames with digest {digest.hexdigest()}, "
                         f"written as {frames} with {md5}")


def check_intermediate(path: Path, start: int, frames: int, md5: str) -> None:
    for _ in read_intermediate(path, start, frames, md5):
        pass


def join(source_path: Path, index: VideoIndex, segments: Sequence[Segment], rendered: Sequence[Rendered],
         folder: Path, dst: Path, encoder: EncoderSettings, color: bool,
         warn: Callable[[str], None] = lambda text: None,
         progress: Callable[[int, int], None] | None = None) -> FileResult:
    """Encode the rendered segments, in order, into `dst` with the source's timestamps and its
    other streams, as `vsrtn.pipeline.transcode` would have written the same frames; `dst`
    appears only once its frame count is checked."""
    begin = time.perf_counter()
    by_index = {r.index: r for r in rendered}

    def frames() -> Iterator[av.VideoFrame]:
        n = 0
        for seg in segments:
            r = by_index[seg.index]
            path = folder / r.file
            if not path.is_file() or path.stat().st_size != r.bytes:
                raise DamagedIntermediate(seg.index, f"{path}: missing or changed since it was rendered")
            try:
                yield from (finished(frame, r, n + i) for i, frame in
                            enumerate(read_intermediate(path, seg.start, r.frames, r.md5)))
            except DamagedIntermediate:
                raise
            except MediaError as exc:
                raise DamagedIntermediate(seg.index, str(exc)) from exc
            n += r.frames

    def finished(frame: av.VideoFrame, r: Rendered, n: int) -> av.VideoFrame:
        # A fresh frame: the decoder marks every intermediate frame a keyframe, and an encoder
        # would take that as an order to start a GOP there.
        out = new_frame(frame, frame.format.name, [plane_array(frame, i) for i in range(len(frame.planes))])
        for attr, value in zip(COLOR_ATTRS, r.color):
            setattr(out, attr, value)
        out.pts, out.time_base = index.pts[n], index.time_base
        return out

    def check(tmp: Path) -> None:
        if count_frames(tmp) != index.frames:
            raise MediaError(f"{dst}: the joined file does not hold the {index.frames} frames rendered")

    with VideoSource(source_path, warn, frames=index.frames) as source:
        sink = VideoSink(dst, source, output_encoder(encoder, source.info.pix_fmt, color), warn)
        try:
            feed = frames()
            for packet in source.packets():
                if packet is not None:
                    sink.copy_packet(packet)
                    continue
                frame = next(feed, None)
                if frame is None:
                    raise MediaError(f"{dst}: the source has more frames than the {index.frames} rendered")
                sink.write(frame)
                if progress is not None:
                    progress(sink.frames, index.frames)
            if next(feed, None) is not None or sink.frames != index.frames:
                raise MediaError(f"{dst}: {sink.frames} frames joined, {index.frames} expected")
            sink.commit(check)
        except BaseException:
            sink.abort()
            raise
    return FileResult(str(source_path), str(dst), "done", frames=index.frames,
                      seconds=round(time.perf_counter() - begin, 3), sha256=sha256_file(dst))


def job_folder(dst: Path) -> Path:
    """Where a job's intermediates and manifest live: a hidden folder beside the output."""
    return dst.with_name(f".{dst.name}{JOB_SUFFIX}")


def intermediate_name(seg: Segment) -> str:
    return f"segment-{seg.index:05d}.mkv"


def remove_job(folder: Path) -> None:
    """Remove a job's folder (its intermediates and manifest)."""
    if folder.is_dir():
        shutil.rmtree(folder)
