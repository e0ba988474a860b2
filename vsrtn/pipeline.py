"""File in, file out: decode, transform the luma frame by frame or window by window, encode.

Shared by `vsrtn restore`, `vsrtn colorize`, `vsrtn degrade` and `vsrtn batch`. Never overwrites its input,
writes through a temporary name, and removes it on any failure or interrupt.
"""
from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np

from vsrtn.media import EncoderSettings, MediaError, VideoSink, VideoSource, choose_pix_fmt
from vsrtn.pixfmt import color_format, luma_of, with_color, with_luma
from vsrtn.weights import sha256_file

# A transform takes the clip's luma frames (an iterator) and its length, and yields the new
# luma frames in order.
Transform = Callable[[Iterator[np.ndarray], int], Iterable[np.ndarray]]

# Frames decoded ahead of the transform, and frames waiting to be encoded behind it: decoding,
# sample conversion and encoding then run beside the transform (PyAV, NumPy and the codecs
# release the GIL) instead of in its thread, which on a GPU machine is the thread that feeds it.
READ_AHEAD = 8
WRITE_BEHIND = 8


@dataclass
class FileResult:
    input: str
    output: str
    status: str  # "done" | "skipped" | "failed"
    frames: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    error: str | None = None


def check_writable(folder: Path) -> None:
    """Can a file be created in `folder`? Tried for real (permissions, read-only mounts, quotas)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".vsrtn-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise MediaError(f"{folder}: cannot write output here ({exc.strerror})") from exc


def check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse, before any work, an input that is missing or an output that cannot be written."""
    if not src.is_file():
        raise MediaError(f"{src}: no such file")
    if dst.resolve() == src.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise MediaError(f"{dst}: the output would overwrite the input")
    if dst.exists() and not overwrite:
        raise MediaError(f"{dst}: exists (use --overwrite to replace it)")
    if not dst.parent.is_dir():
        raise MediaError(f"{dst.parent}: output folder does not exist")
    check_writable(dst.parent)


def output_encoder(encoder: EncoderSettings, pix_fmt: str, color: bool) -> EncoderSettings:
    """The encoder settings for an output made from a source in working format `pix_fmt`: a
    colorized gray source gets the color format nearest its own unless one was asked for."""
    if color and encoder.pix_fmt is None:
        return replace(encoder, pix_fmt=choose_pix_fmt(encoder.encoder, color_format(pix_fmt)))
    return encoder


def transcode(src: str | os.PathLike, dst: str | os.PathLike, transform: Transform, encoder: EncoderSettings,
              overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
              color: bool = False, warn: Callable[[str], None] = lambda text: None) -> FileResult:
    """Run `transform` over the luma of `src` and write `dst`; other planes, timestamps, color
    metadata, audio and subtitle streams are carried over. `color`: the transform yields Lab ab
    planes instead; the luma is kept bit for bit and chroma is made from them (gray sources
    become 4:4:4)."""
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, overwrite)
    start = time.perf_counter()
    with VideoSource(src, warn) as source:
        total = source.info.frames
        if total < 1:
            raise MediaError(f"{src}: the video stream has no frames")
        compose = with_color if color else with_luma
        sink = VideoSink(dst, source, output_encoder(encoder, source.info.pix_fmt, color), warn)

        def write(item: tuple) -> None:  # (source frame, new luma or ab) or (None, another stream's packet)
            frame, payload = item
            if frame is None:
                sink.copy_packet(payload)
                return
            sink.write(compose(frame, payload))
            if progress is not None:
                progress(sink.frames, total)

        reads = ahead(_decoded(source), READ_AHEAD)
        try:
            with Behind(write, WRITE_BEHIND) as writer:
                pending: deque = deque()

                def lumas() -> Iterator[np.ndarray]:
                    for frame, luma, packets in reads:
                        # Packets of the other streams go out where the frames they came before
                        # are taken: the order the container sees is that of reading in one thread.
                        for packet in packets:
                            writer.put((None, packet))
                        if frame is None:  # the packets after the last frame
                            return
                        pending.append(frame)
                        yield luma

                feed = lumas()
                for y in transform(feed, total):
                    writer.put((pending.popleft(), y))
                if next(feed, None) is not None or pending:
                    raise MediaError(f"{src}: decoded more frames than the {total} its packets announced")
                reads.close()
            if sink.frames != total:
                raise MediaError(f"{src}: wrote {sink.frames} frames, expected {total}")
            sink.commit()
        except BaseException:
            reads.close()
            sink.abort()
            raise
    return FileResult(str(src), str(dst), "done", frames=total, seconds=round(time.perf_counter() - start, 3),
                      sha256=sha256_file(dst))


def _decoded(source: VideoSource) -> Iterator[tuple[Any, np.ndarray | None, list]]:
    """`source`'s frames as (frame, its luma in [0, 1], the other streams' packets read before
    it), then (None, None, the packets after the last frame)."""
    packets: list = []
    for frame in source.frames(on_packet=packets.append):
        yield frame, luma_of(frame), packets.copy()
        packets.clear()
    yield None, None, packets


T = TypeVar("T")


def ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """`items` produced on a thread of their own (vsrtn-read), up to `depth` ahead of the
    consumer. An error producing one is raised here, where that item would have been; closing
    this iterator stops the producer."""
    queued: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                queued.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((item,)):
                    return
            put(done)
        except BaseException as exc:  # handed to the consuming side
            put(exc)

    thread = threading.Thread(target=run, name="vsrtn-read", daemon=True)
    thread.start()
    try:
        while (got := queued.get()) is not done:
            if isinstance(got, BaseException):
                raise got
            yield got[0]
    finally:
        stop.set()
        thread.join()


class Behind:
    """Calls `handle(item)` for every item handed in (`put`), in order, on a thread of its own
    (vsrtn-write), at most `depth` items behind: what is written is touched only there. As a
    context manager: closed when the block ends, abandoned when it raises."""

    def __init__(self, handle: Callable[[Any], None], depth: int) -> None:
        self._handle = handle
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._skip = False  # abandoned: what is still queued is dropped
        self._thread = threading.Thread(target=self._run, name="vsrtn-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._items.get()) is not None:
            if self._error is not None or self._skip:
                continue  # drained, so that nobody handing in waits for ever
            try:
                self._handle(item[0])
            except BaseException as exc:
                self._error = exc

    def put(self, item: Any) -> None:
        """Queue an item; raises what handling an earlier one failed with."""
        if self._error is not None:
            raise self._error
        self._items.put((item,))

    def close(self) -> None:
        """Wait until everything handed in is handled; raise what handling failed with."""
        self._stop()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop without handling what is still queued (the output is being thrown away)."""
        self._skip = True
        self._stop()

    def __enter__(self) -> "Behind":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._items.put(None)
            self._thread.join()


def engine_transform(engine) -> Transform:
    """An engine's windowed run: restored luma (Engine) or Lab ab planes (ColorEngine)."""
    return lambda frames, total: engine.run_clip(frames, total)


def degrade_transform(degrader) -> Transform:
    """Synthetic ageing, frame by frame."""
    return lambda frames, total: (degrader.frame(y, n)[0] for n, y in enumerate(frames))
