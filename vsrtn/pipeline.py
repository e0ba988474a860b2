"""File in, file out: decode, transform the luma frame by frame or window by window, encode.

Shared by `vsrtn restore`, `vsrtn colorize`, `vsrtn degrade` and `vsrtn batch`. Never overwrites its input,
writes through a temporary name, and removes it on any failure or interrupt.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from vsrtn.media import EncoderSettings, MediaError, VideoSink, VideoSource, choose_pix_fmt
from vsrtn.pixfmt import color_format, luma_of, with_color, with_luma
from vsrtn.weights import sha256_file

# A transform takes the clip's luma frames (an iterator) and its length, and yields the new
# luma frames in order.
Transform = Callable[[Iterator[np.ndarray], int], Iterable[np.ndarray]]


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
        try:
            pending: deque = deque()

            def lumas() -> Iterator[np.ndarray]:
                for frame in source.frames(on_packet=sink.copy_packet):
                    pending.append(frame)
                    yield luma_of(frame)

            feed = lumas()
            for y in transform(feed, total):
                sink.write(compose(pending.popleft(), y))
                if progress is not None:
                    progress(sink.frames, total)
            if next(feed, None) is not None or pending:
                raise MediaError(f"{src}: decoded more frames than the {total} its packets announced")
            if sink.frames != total:
                raise MediaError(f"{src}: wrote {sink.frames} frames, expected {total}")
            sink.commit()
        except BaseException:
            sink.abort()
            raise
    return FileResult(str(src), str(dst), "done", frames=total, seconds=round(time.perf_counter() - start, 3),
                      sha256=sha256_file(dst))


def engine_transform(engine) -> Transform:
    """An engine's windowed run: restored luma (Engine) or Lab ab planes (ColorEngine)."""
    return lambda frames, total: engine.run_clip(frames, total)


def degrade_transform(degrader) -> Transform:
    """Synthetic ageing, frame by frame."""
    return lambda frames, total: (degrader.frame(y, n)[0] for n, y in enumerate(frames))
