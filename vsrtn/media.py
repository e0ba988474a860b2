"""Media files through PyAV: open and decode a video, encode and mux its result, copy its other
streams; read and write frame lists and images.

Outputs are written under a temporary name beside the destination and renamed only when
complete (`vsrtn.atomic`), so an interrupted run never leaves a file that looks finished.
"""
from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from vsrtn.atomic import AtomicFile
from vsrtn.errors import VsrtnError
from vsrtn.pixfmt import FULL_RANGE, luma_of, planar_equivalent

# File extensions taken for video when a folder is searched (the `vsrtn batch` inputs, training data).
VIDEO_EXTS = (".mkv", ".mp4", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mxf", ".nut", ".y4m")


class MediaError(VsrtnError):
    """A file cannot be read or written as asked."""


ENCODERS = {
    # name: (codec, default options, quality option)
    "x264": ("libx264", {"preset": "medium"}, "crf"),
    "x265": ("libx265", {"preset": "medium", "x265-params": "log-level=error"}, "crf"),
    "ffv1": ("ffv1", {"level": "3", "slicecrc": "1"}, None),
    "prores": ("prores_ks", {"profile": "3"}, "qscale"),
}
DEFAULT_QUALITY = {"x264": 16, "x265": 18, "prores": None}
QUALITY_RANGE = {"x264": (0, 51), "x265": (0, 51), "prores": (0, 32)}  # CRF, CRF, qscale
SPEED_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")
# Container metadata that describes the muxer that wrote a file, not the film: not copied.
MUXER_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands"}
FIELD_ORDERS = {2: "top first", 3: "bottom first", 4: "top coded first, bottom shown first",
                5: "bottom coded first, top shown first"}

def read_image(path: str | os.PathLike) -> np.ndarray:
    """A color image file (8/16-bit PNG, JPEG, TIFF, ...) as R'G'B' (H, W, 3) float32 in [0, 1]."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise MediaError(f"{path}: cannot read as an image")
    if img.ndim == 2 or img.shape[2] == 1:
        raise MediaError(f"{path}: is a gray image; a color reference is needed")
    scale = 65535.0 if img.dtype == np.uint16 else 255.0 if img.dtype == np.uint8 else 1.0
    rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32) / scale
    return np.clip(rgb, 0, 1)


@dataclass
class VideoInfo:
    width: int
    height: int
    frames: int
    rate: Fraction | None
    time_base: Fraction
    pix_fmt: str  # the working (planar) format
    sample_aspect_ratio: Fraction | None
    codec: str


def count_frames(path: str | os.PathLike) -> int:
    """Number of video frames, counted from the packets (no decoding)."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise MediaError(f"{path}: no video stream")
            return sum(1 for p in c.demux(c.streams.video[0]) if p.size > 0)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read ({exc})") from exc


MAX_INDEX_FRAMES = 50_000_000  # about 19 days at 30 fps: an index past it is a broken file, not a film


@dataclass(frozen=True)
class VideoIndex:
    """Where every frame of a video stream lies: `pts[n]`, frame n's timestamp (presentation
    order, in `time_base`), and `keyframes`, the frames decoding may start from."""

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: Fraction

    @property
    def frames(self) -> int:
        return len(self.pts)

    def seek_point(self, n: int) -> int:
        """The last keyframe at or before frame n (decoding from it reaches n)."""
        i = bisect.bisect_right(self.keyframes, n) - 1
        return self.keyframes[max(i, 0)]


def index_video(path: str | os.PathLike) -> VideoIndex:
    """The index of a file's first video stream, from its packets (no decoding): frame count,
    timestamps and keyframes. Refuses streams whose frames cannot be found again exactly
    (packets without timestamps, or two frames with one timestamp)."""
    stamps: list[tuple[int, bool]] = []
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise MediaError(f"{path}: no video stream")
            video = c.streams.video[0]
            for packet in c.demux(video):
                if packet.size <= 0:
                    continue
                if packet.pts is None:
                    raise MediaError(f"{path}: video packets without timestamps; frames cannot be found by "
                                     "seeking: remux it first (ffmpeg -i IN -c copy OUT.mkv)")
                stamps.append((packet.pts, packet.is_keyframe))
                if len(stamps) > MAX_INDEX_FRAMES:
                    raise MediaError(f"{path}: more than {MAX_INDEX_FRAMES} video packets")
            time_base = video.time_base
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read ({exc})") from exc
    stamps.sort()
    pts = tuple(t for t, _ in stamps)
    if len(set(pts)) != len(pts):
        raise MediaError(f"{path}: two video frames share a timestamp; frames cannot be found by seeking: "
                         "remux or re-encode it first")
    keyframes = tuple(n for n, (_, key) in enumerate(stamps) if key) or (0,)
    return VideoIndex(pts, keyframes if keyframes[0] == 0 else (0, *keyframes), time_base)


class VideoSource:
    """The first video stream of a file, plus the other streams for copying."""

    def __init__(self, path: str | os.PathLike, warn: Callable[[str], None] = lambda text: None,
                 frames: int | None = None) -> None:
        """`frames`: the frame count when already known (an index), else counted from the packets."""
        self.path = Path(path)
        try:
            self.container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"{self.path}: cannot open ({exc})") from exc
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(f"{self.path}: no video stream (audio-only or data file)")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        # Streams copied packet for packet: audio, subtitles, and further video streams (untouched).
        self.others = [s for s in self.container.streams
                       if s.index != self.video.index and s.type in ("audio", "subtitle", "video")]
        for s in self.others:
            if s.type == "video":
                warn(f"{self.path}: video stream {s.index} is copied untouched; only the first is processed")
        order = self.video.codec_context.field_order  # FFmpeg's AVFieldOrder: 0 unknown, 1 progressive
        if order not in (None, 0, 1, "unknown", "progressive"):
            self.container.close()
            raise MediaError(f"{self.path}: the video is interlaced (field order {FIELD_ORDERS.get(order, order)}); "
                             "vsrtn restores progressive frames: "
                             "deinterlace it first (e.g. ffmpeg -vf bwdif=mode=send_frame, or QTGMC in VapourSynth)")
        ctx = self.video.codec_context
        self.info = VideoInfo(width=ctx.width, height=ctx.height,
                              frames=count_frames(self.path) if frames is None else frames,
                              rate=self.video.average_rate or self.video.guessed_rate, time_base=self.video.time_base,
                              pix_fmt=planar_equivalent(av.VideoFormat(ctx.pix_fmt or "yuv420p")),
                              sample_aspect_ratio=ctx.sample_aspect_ratio, codec=ctx.name)

    def frames(self, on_packet: Callable[[av.Packet], None] | None = None) -> Iterator[av.VideoFrame]:
        """Decoded video frames in presentation order, in the working format. Packets of the
        other streams go to `on_packet` as they are demuxed (so they interleave with the video)."""
        streams = [self.video, *self.others] if on_packet else [self.video]
        info = self.info
        count = 0
        packets = self.container.demux(streams)
        while True:
            try:  # only reading and decoding is the input's fault; writing errors pass through as they are
                packet = next(packets, None)
                if packet is None:
                    break
                if packet.stream.index != self.video.index:
                    if packet.size > 0 and packet.dts is not None:
                        forward = packet
                    else:
                        continue
                else:
                    forward = None
                    decoded = packet.decode()
            except av.error.FFmpegError as exc:
                raise MediaError(f"{self.path}: decoding failed ({exc})") from exc
            if forward is not None:
                on_packet(forward)
                continue
            for frame in decoded:
                if (frame.width, frame.height) != (info.width, info.height):
                    raise MediaError(f"{self.path}: the frame size changes at frame {count} "
                                     f"({info.width}x{info.height} -> {frame.width}x{frame.height}); "
                                     "scale it to one size first")
                if frame.interlaced_frame:
                    raise MediaError(f"{self.path}: frame {count} is interlaced; vsrtn restores progressive frames: "
                                     "deinterlace it first (e.g. ffmpeg -vf bwdif=mode=send_frame)")
                if frame.format.name != info.pix_fmt:
                    frame = frame.reformat(format=info.pix_fmt)
                count += 1
                yield frame

    def frames_from(self, first: int, index: VideoIndex) -> Iterator[av.VideoFrame]:
        """Frames `first`, `first`+1, ... (to the end), found by seeking to the keyframe before
        `first` and decoding from there; every frame's timestamp is checked against `index`,
        and a mismatch raises MediaError (the frame would not be the one asked for)."""
        if not 0 <= first < index.frames:
            raise MediaError(f"{self.path}: frame {first} is outside its {index.frames} frames")
        start = index.seek_point(first)
        if start > 0:
            try:
                self.container.seek(index.pts[start], stream=self.video, backward=True, any_frame=False)
            except av.error.FFmpegError as exc:
                raise MediaError(f"{self.path}: cannot seek to frame {start} ({exc})") from exc
        n = first
        for frame in self.frames():
            if frame.pts is not None and frame.pts < index.pts[first]:
                continue  # decoded on the way to the first frame asked for
            if n >= index.frames or frame.pts != index.pts[n]:
                expected = index.pts[n] if n < index.frames else "no frame"
                raise MediaError(f"{self.path}: frame {n} decoded with timestamp {frame.pts}, the index says "
                                 f"{expected}; the file does not seek frame-exactly")
            n += 1
            yield frame
        if n != index.frames:
            raise MediaError(f"{self.path}: decoding ended at frame {n} of the {index.frames} the index lists")

    def packets(self) -> Iterator[av.Packet | None]:
        """The other streams' packets in file order, None in place of each video packet (not decoded)."""
        try:
            for packet in self.container.demux([self.video, *self.others]):
                if packet.stream.index == self.video.index:
                    if packet.size > 0:
                        yield None
                elif packet.size > 0 and packet.dts is not None:
                    yield packet
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path}: reading failed ({exc})") from exc

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class EncoderSettings:
    encoder: str = "x264"
    quality: float | None = None  # CRF for x264/x265, qscale for prores; None = the encoder's default here
    preset: str | None = None  # x264/x265 speed preset
    pix_fmt: str | None = None  # None: keep the source's where the encoder allows

    def validate(self, func: str) -> None:
        """Raise ArgumentError naming the option that cannot work, before anything is read."""
        from vsrtn.errors import ArgumentError

        if self.encoder not in ENCODERS:
            raise ArgumentError(func, "encoder", f"one of {', '.join(ENCODERS)}", self.encoder)
        if self.quality is not None:
            lo_hi = QUALITY_RANGE.get(self.encoder)
            if lo_hi is None:
                raise ArgumentError(func, "crf", f"not given for {self.encoder} (it is lossless)", self.quality)
            if not lo_hi[0] <= self.quality <= lo_hi[1]:
                raise ArgumentError(func, "crf", f"a number in {lo_hi[0]}..{lo_hi[1]} for {self.encoder}", self.quality)
        if self.preset is not None:
            if self.encoder not in ("x264", "x265"):
                raise ArgumentError(func, "encoder-preset", f"not given for {self.encoder} (x264/x265 only)",
                                    self.preset)
            if self.preset not in SPEED_PRESETS:
                raise ArgumentError(func, "encoder-preset", f"one of {', '.join(SPEED_PRESETS)}", self.preset)
        if self.pix_fmt is not None:
            supported = [f.name for f in av.codec.Codec(ENCODERS[self.encoder][0], "w").video_formats]
            if self.pix_fmt not in supported:
                raise ArgumentError(func, "pix-fmt", f"a format {self.encoder} takes ({', '.join(supported)})",
                                    self.pix_fmt)


def choose_pix_fmt(encoder: str, wanted: str) -> str:
    """`wanted` if the encoder takes it; else the same subsampling at the nearest depth the
    encoder takes (the next deeper, or the deepest below); else the encoder's first format."""
    supported = [f.name for f in av.codec.Codec(ENCODERS[encoder][0], "w").video_formats]
    if wanted in supported:
        return wanted
    layout = re.match(r"(yuv\d+p|gray)", wanted)
    bits = av.VideoFormat(wanted).components[0].bits
    same = [n for n in supported if layout and re.fullmatch(layout.group(1) + r"(\d+le)?", n)]
    if not same:
        return supported[0]
    depth = {n: av.VideoFormat(n).components[0].bits for n in same}
    deeper = [n for n in same if depth[n] >= bits]
    return min(deeper, key=depth.get) if deeper else max(same, key=depth.get)

class VideoSink:
    """Encodes frames into `path` (via a temporary name); copies the source's other streams."""

    def __init__(self, path: str | os.PathLike, source: VideoSource, settings: EncoderSettings,
                 warn: Callable[[str], None] = lambda text: None) -> None:
        if settings.encoder not in ENCODERS:
            raise MediaError(f"encoder must be one of {', '.join(ENCODERS)}, got {settings.encoder!r}")
        self.path = Path(path)
        self.file = AtomicFile(self.path)
        self.tmp = self.file.tmp
        codec, options, quality_key = ENCODERS[settings.encoder]
        options = dict(options)
        quality = settings.quality if settings.quality is not None else DEFAULT_QUALITY.get(settings.encoder)
        if quality_key and quality is not None:
            options[quality_key] = str(quality)
        if settings.preset and settings.encoder in ("x264", "x265"):
            options["preset"] = settings.preset
        info = source.info
        try:
            self.container = av.open(str(self.tmp), "w")
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaError(f"{self.path}: cannot create ({exc}); the extension picks the container") from exc
        try:
            self.stream = self.container.add_stream(codec, rate=info.rate, options=options)
            self.stream.width, self.stream.height = info.width, info.height
            self.stream.pix_fmt = settings.pix_fmt or choose_pix_fmt(settings.encoder, info.pix_fmt)
            self.stream.time_base = info.time_base
            self.stream.codec_context.time_base = info.time_base
            src_ctx = source.video.codec_context
            for attr in ("color_range", "colorspace", "color_primaries", "color_trc", "sample_aspect_ratio"):
                try:
                    value = getattr(src_ctx, attr)
                    if value:
                        setattr(self.stream.codec_context, attr, value)
                except (AttributeError, ValueError):
                    pass
            self._copy_metadata(source, warn)
        except (av.error.FFmpegError, ValueError) as exc:
            self.abort()
            raise MediaError(f"{self.path}: cannot set up the output ({exc})") from exc
        self.frames = 0

    def _copy_metadata(self, source: VideoSource, warn: Callable[[str], None]) -> None:
        """The source's tags, chapters, attachments and other streams, where this container
        can hold them; what it cannot is left out with a warning."""
        src = source.container
        self.container.metadata.update({k: v for k, v in src.metadata.items() if k.lower() not in MUXER_TAGS})
        self.stream.metadata.update({k: v for k, v in source.video.metadata.items()
                                     if k.lower() in ("language", "title")})
        self.copied: dict[int, av.stream.Stream] = {}
        takes = self.container.supported_codecs
        for s in source.others:
            codec = s.codec_context.name
            if codec not in takes:
                warn(f"{self.path.name}: {s.type} stream {s.index} ({codec}) left out: "
                     f"{self.path.suffix} cannot hold it (use .mkv to keep it)")
                continue
            out = self.container.add_stream_from_template(s)
            out.metadata.update({k: v for k, v in s.metadata.items() if k.lower() in ("language", "title")})
            self.copied[s.index] = out
        chapters = src.chapters()
        if chapters:
            try:
                self.container.set_chapters(chapters)
            except (av.error.FFmpegError, ValueError, TypeError) as exc:
                warn(f"{self.path.name}: chapters left out ({exc})")
        for a in src.streams.attachments:
            try:
                self.container.add_attachment(a.name, a.mimetype, a.data)
            except (av.error.FFmpegError, ValueError, TypeError, AttributeError) as exc:
                warn(f"{self.path.name}: attachment {getattr(a, 'name', a.index)} left out ({exc})")

    def copy_packet(self, packet: av.Packet) -> None:
        out = self.copied.get(packet.stream.index)
        if out is None:
            return
        packet.stream = out
        self.container.mux(packet)

    def write(self, frame: av.VideoFrame) -> None:
        if frame.format.name != self.stream.pix_fmt:
            pts, tb = frame.pts, frame.time_base
            frame = frame.reformat(format=self.stream.pix_fmt)
            frame.pts, frame.time_base = pts, tb
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def commit(self, check: Callable[[Path], None] | None = None) -> None:
        """Flush, close, run `check` on the finished temporary file (it raises if the file is not
        what it should be), and give the file its final name."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
            if check is not None:
                check(self.tmp)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, av.error.FFmpegError):
                raise MediaError(f"{self.path}: writing failed ({exc})") from exc
            raise
        self.file.commit()

    def abort(self) -> None:
        """Close and delete the temporary file."""
        try:
            self.container.close()
        except Exception:
            pass
        self.file.abort()


def _read_frames(path: str | os.PathLike, convert: Callable[[av.VideoFrame], np.ndarray],
                 max_frames: int | None) -> list[np.ndarray]:
    """`convert` applied to the frames of a video's first video stream (the first `max_frames`)."""
    frames = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(convert(f))
            if max_frames and len(frames) >= max_frames:
                break
    return frames


def read_gray(path: str | os.PathLike, max_frames: int | None = None) -> list[np.ndarray]:
    """Every frame of a video's first video stream as float32 luma in [0, 1], read as the CLI
    reads it: limited-range codes (16..235 at 8 bits) unless the stream is tagged full range."""
    def luma(f: av.VideoFrame) -> np.ndarray:
        planar = planar_equivalent(f.format)
        return luma_of(f if f.format.name == planar else f.reformat(format=planar))

    return _read_frames(path, luma, max_frames)


def read_rgb(path: str | os.PathLike, max_frames: int | None = None) -> list[np.ndarray]:
    """Every frame of a video's first video stream as float32 R'G'B' (H, W, 3) in [0, 1]."""
    return _read_frames(path, lambda f: f.to_ndarray(format="rgb24").astype(np.float32) / 255.0, max_frames)


def write_gray(frames: list[np.ndarray], path: str | os.PathLike, rate: int = 24) -> None:
    """Frames in [0, 1] as a lossless 8-bit gray video (FFV1), tagged full range (0..255)."""
    h, w = frames[0].shape
    with AtomicFile(path) as tmp, av.open(str(tmp), "w") as c:
        s = c.add_stream("ffv1", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "gray"
        # Untagged integer gray reads as limited range (16..235) in VapourSynth and in our CLI,
        # which would stretch these full-range values and clip their blacks and whites.
        s.codec_context.color_range = FULL_RANGE
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.clip(np.rint(f * 255), 0, 255).astype(np.uint8), format="gray")
            frame.color_range = FULL_RANGE
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
