"""VapourSynth glue: `vsrtn.Restore(clip, ...)` for .vpy scripts.

Scheduling: output frame n belongs to one window of a fixed plan. Its callback receives, through
VapourSynth's own request machinery, source frame n and every source frame of that window (no
`get_frame` inside callbacks). The first callback of a window runs the engine; the others wait
for it and read the result from a small lock-protected cache. A fresh ModifyFrame per output
frame (inside FrameEval) lets several windows be in flight; `num_streams` bounds how many
inferences run at once (one CUDA stream each on a GPU). Scene cuts inside a window come from the
frame props of the window's frames where they have them, else from the in-house detector
(`vsrtn.scenecut`, which also reads one frame either side of the window), so every output frame
is a pure function of the clip: request order, seeking and thread count cannot change it.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from contextlib import nullcontext
from typing import Any, Callable, Sequence

import numpy as np
import vapoursynth as vs

from vsrtn import __version__
from vsrtn.builder import DeviceOptions, build_engine
from vsrtn.color import (DEFAULT_MATRIX, ab_to_chroma, chroma_to_unit, colour_matrix, luma_ab_to_rgb, luma_coefficients,
                         luma_to_unit, unit_to_chroma, unit_to_luma, ycbcr_to_rgb)
from vsrtn.engine import Support, finite
from vsrtn.errors import ArgumentError, VsrtnError, shown
from vsrtn.scenecut import neighbours
from vsrtn.windows import Window, cut_flags


class WindowCache:
    """Results of recent windows; each window is computed once even when many threads ask."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._done: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self._busy: dict[int, threading.Lock] = {}
        self.computed = 0  # number of windows actually run (tests read it)

    def get(self, key: int, compute: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
        while True:
            with self._lock:
                if key in self._done:
                    self._done.move_to_end(key)
                    return self._done[key]
                busy = self._busy.get(key)
                if busy is None:
                    busy = self._busy[key] = threading.Lock()
                    busy.acquire()
                    break
            with busy:  # another thread is computing this window: wait, then look again
                pass
        try:
            result = compute()
            with self._lock:
                self._done[key] = result
                self.computed += 1
                while len(self._done) > self.capacity:
                    self._done.popitem(last=False)
            return result
        finally:
            with self._lock:
                del self._busy[key]
            busy.release()


# The range frame prop: `_Range` (RANGE_LIMITED = 0, RANGE_FULL = 1) since VapourSynth replaced
# `_ColorRange` (0 = full, 1 = limited). Reading the old name on a new core returns the new
# value unconverted, so the key and its values come from the running core's own enum.
RANGE_PROP = "_Range" if int(vs.RANGE_LIMITED) == 0 else "_ColorRange"


def _frame_range_limited(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> bool:
    """Limited (TV) range? From the range prop; absent: limited for integer YUV/GRAY, full for
    RGB and float."""
    value = frame.props.get(RANGE_PROP)
    if value is not None:
        return int(value) == int(vs.RANGE_LIMITED)
    return fmt.sample_type == vs.INTEGER and fmt.color_family != vs.RGB


def _set_range(frame: vs.VideoFrame, limited: bool) -> None:
    frame.props[RANGE_PROP] = vs.RANGE_LIMITED if limited else vs.RANGE_FULL


def _luma(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> np.ndarray:
    """The frame's luma as float32 [0, 1] (for RGB: Y of the frame's matrix)."""
    is_float = fmt.sample_type == vs.FLOAT
    if fmt.color_family != vs.RGB:
        return luma_to_unit(np.asarray(frame[0]), fmt.bits_per_sample, is_float, _frame_range_limited(frame, fmt))
    r, g, b = (luma_to_unit(np.asarray(frame[p]), fmt.bits_per_sample, is_float, False) for p in range(3))
    kr, kb = luma_coefficients(int(frame.props.get("_Matrix", DEFAULT_MATRIX)))
    return kr * r + (1 - kr - kb) * g + kb * b


def _write_luma(src: vs.VideoFrame, fmt: vs.VideoFormat, y: np.ndarray) -> vs.VideoFrame:
    """Copy of `src` with its luma replaced (chroma untouched; RGB moved along the luma axis only)."""
    out = src.copy()
    is_float = fmt.sample_type == vs.FLOAT
    bits = fmt.bits_per_sample
    if fmt.color_family != vs.RGB:
        plane = np.asarray(out[0])
        np.copyto(plane, unit_to_luma(y, bits, is_float, _frame_range_limited(src, fmt), plane.dtype))
        return out
    delta = y - _luma(src, fmt)  # U and V unchanged <=> R, G, B all move by the luma change
    for p in range(3):
        plane = np.asarray(out[p])
        unit = luma_to_unit(np.asarray(src[p]), bits, is_float, False) + delta
        np.copyto(plane, unit_to_luma(unit, bits, is_float, False, plane.dtype))
    return out


def _props_say_cut(earlier: vs.VideoFrame, later: vs.VideoFrame) -> bool | None:
    """What two neighbouring frames' scene-change props say of the pair: None where neither has one."""
    prev, nxt = later.props.get("_SceneChangePrev"), earlier.props.get("_SceneChangeNext")
    if prev is None and nxt is None:
        return None
    return bool(prev) or bool(nxt)


INTERLACED_HELP = ("deinterlace it first (e.g. QTGMC from havsfunc, or core.bwdif.Bwdif), or, if the "
                   "film is progressive and only flagged otherwise, clip = core.std.SetFieldBased(clip, 0)")


def _check_progressive(frame: vs.VideoFrame, n: int, func: str) -> None:
    if int(frame.props.get("_FieldBased", 0)) != 0:
        raise vs.Error(f"{func}: frame {n} of 'clip' is interlaced (_FieldBased="
                       f"{int(frame.props['_FieldBased'])}); vsrtn restores progressive frames: {INTERLACED_HELP}")


def _check_clip(clip: Any, func: str) -> vs.VideoFormat:
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error(f"{func}: 'clip' must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    fmt = clip.format
    if fmt is None or fmt.color_family == vs.UNDEFINED or clip.width == 0 or clip.height == 0:
        raise vs.Error(f"{func}: 'clip' must have a constant format and size (use resize to make it constant)")
    if fmt.color_family not in (vs.GRAY, vs.YUV, vs.RGB):
        raise vs.Error(f"{func}: 'clip' must be GRAY, YUV or RGB, got {fmt.name}")
    ok = (fmt.sample_type == vs.INTEGER and 8 <= fmt.bits_per_sample <= 16) or \
         (fmt.sample_type == vs.FLOAT and fmt.bits_per_sample in (16, 32))
    if not ok:
        raise vs.Error(f"{func}: 'clip' must be 8-16 bit integer or 16/32 bit float, got {fmt.name}")
    if clip.num_frames < 1:
        raise vs.Error(f"{func}: 'clip' must have at least 1 frame")
    _check_progressive(clip.get_frame(0), 0, func)  # decoded once, now, so a wrong source fails early
    return fmt


def _vs_errors(func: str):
    """Turn vsrtn's errors into `vs.Error("<func>: ...")`, raised while the script is evaluated."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except ArgumentError as exc:
                got = f", got {shown(exc.got)}" if exc.got is not None else ""
                raise vs.Error(f"{func}: '{exc.arg}' must be {exc.expected}{got}") from None
            except VsrtnError as exc:
                text = str(exc)
                raise vs.Error(text if text.startswith(f"{func}: ") else f"{func}: {text}") from None
        return inner
    return wrap


@_vs_errors("vsrtn.Restore")
def Restore(clip: vs.VideoNode, preset: str = "medium", *, weights: str | None = None, device: str | None = None,
            device_index: int = 0, fp16: bool | None = None, window: int | None = None, context: int | None = None,
            tile: int | Sequence[int] | None = None, tile_overlap: int | None = None, num_streams: int = 1,
            scene_change: bool = True, scene_detect: bool = True, sc_threshold: float | None = None,
            deflicker: int | None = None, grain: float | None = None) -> vs.VideoNode:
    """Restore old film: remove scratches, dust, dirt, noise, blur and flicker from `clip`.

    Returns a clip of the same format, size, length and frame props, with the luma restored at
    full resolution and bit depth and chroma untouched (RGB clips move only along the luma axis
    of their `_Matrix`, BT.709 when absent), plus `vsrtn_*` provenance props.

    clip: GRAY, YUV (any subsampling) or RGB; 8-16 bit integer or 16/32 bit float; constant format.
    preset: "light", "medium" (default), "heavy", or a path to a YAML preset file.
    weights: weights name (manifest) or file (.safetensors, or a published .pth/.pth.gz);
        default: the preset's.
    device: "cuda", "cpu" or None (CUDA when available, else CPU). device_index: which GPU.
    fp16: half precision on CUDA (flow warping stays in fp32). None/False: fp32.
    window: output frames per model call (1..256). context: extra frames each side (0..64).
        Default: the preset's. Memory grows with window + 2*context, never with clip length.
    tile: None (whole frames unless they would not fit), an int or [width, height] (>= 32 each).
    tile_overlap: pixels shared by neighbouring tiles (default 32).
    num_streams: model calls allowed at once (1..16); on CUDA each gets its own stream. Keep
        core.num_threads >= (window + 2*context) * num_streams to keep them all busy.
    scene_change: keep shots apart: nothing propagates across a cut. Cuts come from the
        `_SceneChangePrev`/`_SceneChangeNext` props where frames have them, else from the in-house
        detector. False: restore straight through every cut.
    scene_detect: run the in-house detector on frames without scene-change props (default True).
    sc_threshold: the detector's cut score threshold, 0 < sc_threshold <= 1 (None: 0.35); lower
        finds more cuts.
    deflicker: source frames each side (0..context) whose motion-compensated median steadies
        each restored frame's brightness; 0: off. Default: the preset's, at most `context`.
    grain: share (0..1) of the source's fine grain put back, damage left out; 0 (default):
        remove grain with the damage. Default: the preset's.
    """
    func = "vsrtn.Restore"
    fmt = _check_clip(clip, func)
    built = build_engine(func, "restore", preset=preset, weights=weights,
                         device=DeviceOptions(device, device_index, fp16, num_streams), window=window, context=context,
                         tile=tile, tile_overlap=tile_overlap, deflicker=deflicker, grain=grain,
                         scene_change=scene_change, scene_detect=scene_detect, sc_threshold=sc_threshold)
    settings = built.engine.settings
    props = {"vsrtn_version": __version__, "vsrtn_weights": built.weights,
             "vsrtn_preset": built.preset, "vsrtn_window": settings.window, "vsrtn_context": settings.context,
             "vsrtn_deflicker": settings.deflicker, "vsrtn_grain": float(settings.grain)}

    def write(template: vs.VideoFrame, src: vs.VideoFrame, y: np.ndarray, win: Window) -> vs.VideoFrame:
        out = _write_luma(src, fmt, y)
        out.props.update({**props, "vsrtn_window_start": win.start})
        return out

    return _windowed(clip, clip, built.engine, write, num_streams, func)


def _windowed(clip: vs.VideoNode, template: vs.VideoNode, engine: Any,
              write: Callable[[vs.VideoFrame, vs.VideoFrame, np.ndarray, Window], vs.VideoFrame],
              num_streams: int, func: str) -> vs.VideoNode:
    """A clip like `template` whose frame n is `write(template[n], clip[n], result, window)`, where
    `result` is the engine's `run_window` output for n, from the luma and cut flags of the
    window's source frames. Each window runs once; at most `num_streams` at a time (a CUDA
    stream each)."""
    fmt = clip.format
    num_frames = clip.num_frames
    plan = engine.plan(num_frames)
    cache = WindowCache(capacity=2 * num_streams + 2)
    slots = threading.BoundedSemaphore(num_streams)
    streams = _stream_pool(engine.device, num_streams)

    def run(win: Window, delivered: dict[int, vs.VideoFrame], prepared: Any) -> list[np.ndarray]:
        for i, frame in delivered.items():
            _check_progressive(frame, i, func)
        lumas: dict[int, np.ndarray] = {}

        def luma(i: int) -> np.ndarray:
            if i not in lumas:
                lumas[i] = _luma(delivered[i], fmt)
            return lumas[i]

        cuts = engine.settings.cuts.cuts(luma, num_frames,
                                         lambda b: _props_say_cut(delivered[b - 1], delivered[b]))
        support = None
        if prepared is not None:
            support = Support(prepared, {i: luma(i) for i in prepared.frames}, cuts.between)
        frames = [luma(i) for i in win.frames]
        flags = cut_flags(win.frames, cuts.between)
        with slots:
            stream = streams.pop()
            try:
                with _stream_context(stream):
                    return engine.run_window(frames, win, flags, support)
            finally:
                streams.append(stream)

    def deliver(n: int, f: list[vs.VideoFrame], k: int, prepared: Any, needed: Sequence[int]) -> vs.VideoFrame:
        win = plan[k]
        result = cache.get(k, lambda: run(win, dict(zip(needed, f[2:])), prepared))
        return write(f[0], f[1], result[n - win.start], win)

    def select(n: int) -> vs.VideoNode:
        k = plan.index_of(n)
        # What the window needs beyond its frames (keyframe chains), decided now and handed on,
        # and one frame either side of everything, which cut decisions read.
        prepared = engine.prepare(plan[k])
        extra = () if prepared is None else prepared.frames
        needed = neighbours((*plan[k].frames, *extra), num_frames)
        # Frame n of `clip[i] * (n + 1)` is source frame i: VapourSynth fetches every frame the
        # window needs and hands it to the callback.
        sources = [clip[i] * (n + 1) for i in needed]
        return template.std.ModifyFrame(clips=[template, clip, *sources],
                                        selector=functools.partial(deliver, k=k, prepared=prepared, needed=needed))

    return template.std.FrameEval(select)


restore = Restore


MAX_REFERENCES = 64


def _frame_rgb(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> np.ndarray:
    """A colour frame (RGB or YUV, any depth and subsampling) as R'G'B' (H, W, 3) float32 in [0, 1]."""
    is_float, bits = fmt.sample_type == vs.FLOAT, fmt.bits_per_sample
    if fmt.color_family == vs.RGB:
        return np.stack([luma_to_unit(np.asarray(frame[p]), bits, is_float, False) for p in range(3)], -1)
    import cv2

    limited = _frame_range_limited(frame, fmt)
    y = luma_to_unit(np.asarray(frame[0]), bits, is_float, limited)
    h, w = y.shape
    cb, cr = (cv2.resize(chroma_to_unit(np.asarray(frame[p]), bits, is_float, limited), (w, h),
                         interpolation=cv2.INTER_LINEAR) for p in (1, 2))
    return ycbcr_to_rgb(y, cb, cr, int(frame.props.get("_Matrix", DEFAULT_MATRIX)))


def _references(ref: Any, ref_frames: Any, clip: vs.VideoNode, func: str) -> list:
    """The colour keyframes of Colorize, validated, at the clip's size."""
    from vsrtn.colorize import Reference, fit_reference
    from vsrtn.io import read_image

    if isinstance(ref, vs.VideoNode):
        rfmt = ref.format
        if rfmt is None or rfmt.color_family == vs.UNDEFINED or ref.width == 0 or ref.height == 0:
            raise ArgumentError(func, "ref", "a colour (RGB or YUV) clip of constant format and size, or image file(s)",
                                "a clip of variable format or size")
        if rfmt.color_family not in (vs.RGB, vs.YUV):
            raise ArgumentError(func, "ref", "a colour (RGB or YUV) clip or image file(s)", f"a {rfmt.name} clip")
        if not 1 <= ref.num_frames <= MAX_REFERENCES:
            raise ArgumentError(func, "ref", f"a clip of 1..{MAX_REFERENCES} keyframes", f"{ref.num_frames} frames")
        images = [_frame_rgb(ref.get_frame(i), rfmt) for i in range(ref.num_frames)]
    else:
        paths = [ref] if isinstance(ref, (str, bytes)) or hasattr(ref, "__fspath__") else ref
        if not isinstance(paths, (list, tuple)) or not paths or not all(
                isinstance(p, (str, bytes)) or hasattr(p, "__fspath__") for p in paths):
            raise ArgumentError(func, "ref", "a colour clip, an image file or a list of image files", ref)
        if len(paths) > MAX_REFERENCES:
            raise ArgumentError(func, "ref", f"at most {MAX_REFERENCES} image files", f"{len(paths)}")
        try:
            images = [read_image(p.decode() if isinstance(p, bytes) else p) for p in paths]
        except VsrtnError as exc:
            raise ArgumentError(func, "ref", "readable colour image files", str(exc)) from None
    if ref_frames is None:
        frames = [None] * len(images)
    else:
        frames = list(ref_frames) if isinstance(ref_frames, (list, tuple)) else [ref_frames]
        if len(frames) != len(images):
            raise ArgumentError(func, "ref_frames", f"one frame number per reference ({len(images)})", ref_frames)
        for f in frames:
            if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < clip.num_frames:
                raise ArgumentError(func, "ref_frames", f"frame numbers in 0..{clip.num_frames - 1}", ref_frames)
    return [Reference(fit_reference(img, clip.width, clip.height), f) for img, f in zip(images, frames)]


@_vs_errors("vsrtn.Colorize")
def Colorize(clip: vs.VideoNode, ref: Any, *, ref_frames: int | Sequence[int] | None = None, preset: str | None = None,
             weights: str | None = None, device: str | None = None, device_index: int = 0, fp16: bool | None = None,
             window: int | None = None, context: int | None = None, tile: int | Sequence[int] | None = None,
             tile_overlap: int | None = None, num_streams: int = 1, scene_change: bool = True,
             scene_detect: bool = True, sc_threshold: float | None = None, output: str | None = None) -> vs.VideoNode:
    """Colour a black-and-white clip from one or more colour keyframes.

    Returns YUV (same depth and sample type; GRAY and RGB input become 4:4:4) with the source
    luma untouched, bit for bit, and predicted chroma; or RGB with output="rgb". Frame props are
    kept, plus `vsrtn_*` provenance props.

    clip: GRAY, YUV or RGB with gray content; 8-16 bit integer or 16/32 bit float.
    ref: colour keyframes: an RGB/YUV clip (each frame a keyframe) or image file path(s), any size
        (resized to the clip's).
    ref_frames: the clip frame each keyframe shows (one per keyframe). None: keyframes are tied
        to no frame and matched by content wherever it appears.
    preset: a preset name or YAML file; its `colorize:` section gives the defaults (None: "medium").
    output: "yuv" (default for GRAY/YUV input) or "rgb" (default for RGB input).
    Other options as for Restore: colour is propagated in both directions inside windows and
    reset at scene cuts (scene_change / scene_detect / sc_threshold), so one shot's colours never
    reach another.
    """
    func = "vsrtn.Colorize"
    fmt = _check_clip(clip, func)
    if output is None:
        output = "rgb" if fmt.color_family == vs.RGB else "yuv"
    if output not in ("yuv", "rgb"):
        raise ArgumentError(func, "output", "'yuv', 'rgb' or None", output)
    preset = "medium" if preset is None else preset
    references = _references(ref, ref_frames, clip, func)
    built = build_engine(func, "colorize", preset=preset, weights=weights,
                         device=DeviceOptions(device, device_index, fp16, num_streams), window=window, context=context,
                         tile=tile, tile_overlap=tile_overlap, scene_change=scene_change, scene_detect=scene_detect,
                         sc_threshold=sc_threshold, references=references)
    settings = built.engine.settings
    if output == "rgb":
        out_fmt = vs.core.query_video_format(vs.RGB, fmt.sample_type, fmt.bits_per_sample, 0, 0)
    elif fmt.color_family == vs.YUV:
        out_fmt = fmt
    else:
        out_fmt = vs.core.query_video_format(vs.YUV, fmt.sample_type, fmt.bits_per_sample, 0, 0)
    template = clip.std.BlankClip(format=out_fmt.id, keep=True)
    props = {"vsrtn_version": __version__, "vsrtn_weights": built.weights, "vsrtn_preset": built.preset,
             "vsrtn_window": settings.window, "vsrtn_context": settings.context, "vsrtn_references": len(references)}

    def write(template_frame: vs.VideoFrame, src: vs.VideoFrame, ab: np.ndarray, win: Window) -> vs.VideoFrame:
        out = template_frame.copy()
        out.props.clear()
        out.props.update(src.props)
        _write_colour(out, out_fmt, src, fmt, ab)
        out.props.update({**props, "vsrtn_window_start": win.start})
        return out

    return _windowed(clip, template, built.engine, write, num_streams, func)


colorize = Colorize


def _write_colour(out: vs.VideoFrame, out_fmt: vs.VideoFormat, src: vs.VideoFrame, fmt: vs.VideoFormat,
                  ab: np.ndarray) -> None:
    """Fill `out` (YUV or RGB) from the source's luma and the predicted ab."""
    is_float, bits = out_fmt.sample_type == vs.FLOAT, out_fmt.bits_per_sample
    y = _luma(src, fmt)
    if out_fmt.color_family == vs.RGB:
        rgb = luma_ab_to_rgb(y, ab)
        for p in range(3):
            plane = np.asarray(out[p])
            np.copyto(plane, unit_to_luma(rgb[..., p], bits, is_float, False, plane.dtype))
        out.props["_Matrix"] = 0
        _set_range(out, False)
        return
    from_rgb = fmt.color_family == vs.RGB
    matrix = DEFAULT_MATRIX if from_rgb else colour_matrix(int(src.props.get("_Matrix", DEFAULT_MATRIX)))
    limited = not is_float if from_rgb else _frame_range_limited(src, fmt)
    luma = np.asarray(out[0])
    if from_rgb:
        np.copyto(luma, unit_to_luma(y, bits, is_float, limited, luma.dtype))
    else:  # the source's luma plane, bit for bit
        np.copyto(luma, np.asarray(src[0]))
    height, width = np.asarray(out[1]).shape
    for p, c in zip((1, 2), ab_to_chroma(y, ab, matrix, (width, height))):
        plane = np.asarray(out[p])
        np.copyto(plane, unit_to_chroma(c, bits, is_float, limited, plane.dtype))
    out.props["_Matrix"] = matrix
    _set_range(out, limited)


@_vs_errors("vsrtn.Degrade")
def Degrade(clip: vs.VideoNode, preset: str = "medium", seed: int = 0, *, mask: bool = False) -> vs.VideoNode:
    """Age `clip` like old film with the synthetic degradation model (for tests of a chain,
    training data and evaluation). Frame n is a pure function of (seed, n, frame n).

    clip: as for Restore; the luma is degraded, chroma untouched (RGB: along the luma axis).
    preset: "light", "medium", "heavy" or a YAML file; its `degradation:` section is used.
    seed: integer >= 0; which components a clip gets and their strengths are drawn with it.
    mask: return the damage mask instead (GRAYS, 0..1: where scratches, dust, hairs, blotches
        and templates were drawn, with their opacity).
    """
    from vsrtn.degrade import Degrader
    from vsrtn.presets import load_preset

    func = "vsrtn.Degrade"
    fmt = _check_clip(clip, func)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ArgumentError(func, "seed", "an integer in 0..2**63-1", seed)
    if not isinstance(mask, bool):
        raise ArgumentError(func, "mask", "True or False", mask)
    if not isinstance(preset, str) and not hasattr(preset, "__fspath__"):
        raise ArgumentError(func, "preset", "a preset name or a path to a YAML file", preset)
    spec = load_preset(preset).get("degradation")
    if not spec:
        raise ArgumentError(func, "preset", "a preset with a 'degradation:' section", str(preset))
    degrader = Degrader(spec, seed)
    props = {"vsrtn_version": __version__, "vsrtn_degrade_preset": str(preset), "vsrtn_degrade_seed": seed}

    def degrade(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        frame = f[1] if mask else f
        out, damage = degrader.frame(finite(_luma(frame, fmt)), n)
        if mask:
            result = f[0].copy()
            np.copyto(np.asarray(result[0]), damage)
        else:
            result = _write_luma(frame, fmt, out)
        for key, value in props.items():
            result.props[key] = value
        return result

    if mask:
        blank = clip.std.BlankClip(format=vs.GRAYS, keep=True)
        return blank.std.ModifyFrame(clips=[blank, clip], selector=degrade)
    return clip.std.ModifyFrame(clips=clip, selector=degrade)


degrade = Degrade


def _stream_pool(device, count: int) -> list:
    if device.type == "cuda":
        import torch

        return [torch.cuda.Stream(device=device) for _ in range(count)]
    return [None] * count


def _stream_context(stream):
    if stream is None:
        return nullcontext()
    import torch

    return torch.cuda.stream(stream)
