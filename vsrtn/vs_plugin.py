"""VapourSynth glue: `vsrtn.Restore(clip, ...)` for .vpy scripts.

Scheduling: output frame n belongs to one window of a fixed plan. Its callback receives, through
VapourSynth's own request machinery, source frame n and every source frame of that window (no
`get_frame` inside callbacks). The first callback of a window runs the engine; the others wait
for it and read the result from a small lock-protected cache. A fresh ModifyFrame per output
frame (inside FrameEval) lets several windows be in flight; `num_streams` bounds how many
inferences run at once (one CUDA stream each on a GPU). Scene cuts inside a window come from the
window's own frame props (or an in-house luma-difference detector), so every output frame is a
pure function of the clip: request order, seeking and thread count cannot change it.
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
from vsrtn.color import luma_to_unit, unit_to_luma
from vsrtn.errors import ArgumentError, VsrtnError
from vsrtn.windows import Window

# Luma weights (Kr, Kb) by the `_Matrix` frame-prop value; RGB clips without it use BT.709.
_MATRIX_KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593),
                 10: (0.2627, 0.0593)}
_DEFAULT_MATRIX = 1


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


def _frame_range_limited(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> bool:
    """Limited (TV) range? `_ColorRange` 1 = limited, 0 = full; absent: limited for integer YUV/GRAY,
    full for RGB and float."""
    value = frame.props.get("_ColorRange")
    if value is not None:
        return int(value) == 1
    return fmt.sample_type == vs.INTEGER and fmt.color_family != vs.RGB


def _luma(frame: vs.VideoFrame, fmt: vs.VideoFormat) -> np.ndarray:
    """The frame's luma as float32 [0, 1] (for RGB: Y of the frame's matrix)."""
    is_float = fmt.sample_type == vs.FLOAT
    if fmt.color_family != vs.RGB:
        return luma_to_unit(np.asarray(frame[0]), fmt.bits_per_sample, is_float, _frame_range_limited(frame, fmt))
    r, g, b = (luma_to_unit(np.asarray(frame[p]), fmt.bits_per_sample, is_float, False) for p in range(3))
    kr, kb = _MATRIX_KR_KB.get(int(frame.props.get("_Matrix", _DEFAULT_MATRIX)), _MATRIX_KR_KB[_DEFAULT_MATRIX])
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


def _cut_flags(frames: Sequence[vs.VideoFrame], indices: Sequence[int], lumas: Sequence[np.ndarray],
               use_props: bool, threshold: float | None) -> list[bool]:
    """cuts[p]: positions p-1 and p of a window lie in different shots."""
    flags = [False]
    for p in range(1, len(indices)):
        a, b = indices[p - 1], indices[p]
        if a == b:
            flags.append(False)
            continue
        lo, hi = (p - 1, p) if a < b else (p, p - 1)  # mirrored stretches run backwards
        cut = use_props and (bool(frames[hi].props.get("_SceneChangePrev", 0)) or
                             bool(frames[lo].props.get("_SceneChangeNext", 0)))
        if threshold is not None and not cut:
            cut = float(np.mean(np.abs(lumas[hi] - lumas[lo]))) > threshold
        flags.append(cut)
    return flags


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
    return fmt


def _vs_errors(func: str):
    """Turn vsrtn's errors into `vs.Error("<func>: ...")`, raised while the script is evaluated."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except ArgumentError as exc:
                got = f", got {exc.got!r}" if exc.got is not None else ""
                raise vs.Error(f"{func}: '{exc.arg}' must be {exc.expected}{got}") from None
            except VsrtnError as exc:
                raise vs.Error(f"{func}: {exc}") from None
        return inner
    return wrap


def _parse_tile(tile: Any, func: str) -> tuple[int, int] | None:
    if tile is None:
        return None
    if isinstance(tile, int) and not isinstance(tile, bool):
        tile = [tile, tile]
    if not (isinstance(tile, (list, tuple)) and len(tile) == 2 and all(isinstance(v, int) for v in tile)):
        raise ArgumentError(func, "tile", "None, an int or [width, height]", tile)
    return int(tile[0]), int(tile[1])


@_vs_errors("vsrtn.Restore")
def Restore(clip: vs.VideoNode, preset: str = "medium", *, weights: str | None = None, device: str | None = None,
            device_index: int = 0, fp16: bool | None = None, window: int | None = None, context: int | None = None,
            tile: int | Sequence[int] | None = None, tile_overlap: int | None = None, num_streams: int = 1,
            scene_change: bool = True, sc_threshold: float | None = None) -> vs.VideoNode:
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
    scene_change: honour `_SceneChangePrev`/`_SceneChangeNext` props: nothing propagates across a cut.
    sc_threshold: also detect cuts in-house where the mean absolute luma difference of two
        neighbouring frames exceeds this value (0 < sc_threshold <= 1, e.g. 0.12). None: off.
    """
    func = "vsrtn.Restore"
    from vsrtn.engine import Engine, resolve_device
    from vsrtn.presets import engine_settings, load_preset
    from vsrtn.weights import load_model

    fmt = _check_clip(clip, func)
    for name, value, lo, hi in (("device_index", device_index, 0, 64), ("num_streams", num_streams, 1, 16)):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ArgumentError(func, name, f"an integer in {lo}..{hi}", value)
    if not isinstance(scene_change, bool):
        raise ArgumentError(func, "scene_change", "True or False", scene_change)
    if fp16 is not None and not isinstance(fp16, bool):
        raise ArgumentError(func, "fp16", "None, True or False", fp16)
    if sc_threshold is not None and (isinstance(sc_threshold, bool) or not isinstance(sc_threshold, (int, float))
                                     or not 0 < sc_threshold <= 1):
        raise ArgumentError(func, "sc_threshold", "None or a number in (0, 1]", sc_threshold)
    if not isinstance(preset, str) and not hasattr(preset, "__fspath__"):
        raise ArgumentError(func, "preset", "a preset name or a path to a YAML file", preset)

    settings_from_preset = load_preset(preset)["restore"]
    torch_device = resolve_device(device, device_index, func)
    if fp16 and torch_device.type != "cuda":
        raise ArgumentError(func, "fp16", "False or None on the CPU (half precision needs CUDA)", fp16)
    settings = engine_settings(settings_from_preset, window=window, context=context, tile=_parse_tile(tile, func),
                               tile_overlap=tile_overlap, precision="fp16" if fp16 else "fp32")
    weights_name = weights if weights is not None else settings_from_preset.get("weights")
    if not weights_name:
        raise ArgumentError(func, "weights", "a weights name or file (the preset names none)", weights)
    model = load_model(weights_name, device=torch_device)
    engine = Engine(model, torch_device, settings)
    plan = engine.plan(clip.num_frames)
    cache = WindowCache(capacity=2 * num_streams + 2)
    slots = threading.BoundedSemaphore(num_streams)
    streams = _stream_pool(torch_device, num_streams)
    threshold = None if sc_threshold is None else float(sc_threshold)
    props = {"vsrtn_version": __version__, "vsrtn_weights": str(weights_name),
             "vsrtn_preset": str(preset), "vsrtn_window": settings.window, "vsrtn_context": settings.context}

    def infer(win: Window, frames: Sequence[vs.VideoFrame]) -> list[np.ndarray]:
        lumas = [_luma(f, fmt) for f in frames]
        cuts = _cut_flags(frames, win.frames, lumas, scene_change, threshold)
        with slots:
            stream = streams.pop()
            try:
                with _stream_context(stream):
                    return engine.restore_window(lumas, win, cuts)
            finally:
                streams.append(stream)

    def deliver(n: int, f: list[vs.VideoFrame], k: int) -> vs.VideoFrame:
        win = plan[k]
        restored = cache.get(k, lambda: infer(win, f[1:]))
        out = _write_luma(f[0], fmt, restored[n - win.start])
        for key, value in props.items():
            out.props[key] = value
        out.props["vsrtn_window_start"] = win.start
        return out

    def select(n: int) -> vs.VideoNode:
        k = plan.index_of(n)
        # Frame n of `clip[i] * (n + 1)` is source frame i: VapourSynth fetches every frame the
        # window needs and hands it to the callback.
        sources = [clip[i] * (n + 1) for i in plan[k].frames]
        return clip.std.ModifyFrame(clips=[clip, *sources], selector=functools.partial(deliver, k=k))

    return clip.std.FrameEval(select)


restore = Restore


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
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ArgumentError(func, "seed", "an integer >= 0", seed)
    if not isinstance(mask, bool):
        raise ArgumentError(func, "mask", "True or False", mask)
    spec = load_preset(preset).get("degradation")
    if not spec:
        raise ArgumentError(func, "preset", "a preset with a 'degradation:' section", str(preset))
    degrader = Degrader(spec, seed)
    props = {"vsrtn_version": __version__, "vsrtn_degrade_preset": str(preset), "vsrtn_degrade_seed": seed}

    def degrade(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        frame = f[1] if mask else f
        out, damage = degrader.frame(_luma(frame, fmt), n)
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
