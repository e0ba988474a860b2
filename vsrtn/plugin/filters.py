"""The VapourSynth filters: `Restore`, `Colorize` and `Degrade` (and lowercase aliases). Every
option is checked when the script is evaluated; vsrtn's errors reach the script as `vs.Error`
naming the filter and the option.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np
import vapoursynth as vs

from vsrtn import __version__
from vsrtn.builder import DeviceOptions, build_engine
from vsrtn.engine import finite
from vsrtn.errors import ArgumentError, VsrtnError, shown
from vsrtn.plugin.frames import check_clip, frame_luma, frame_rgb, write_color, write_luma
from vsrtn.plugin.schedule import windowed
from vsrtn.windows import Window


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
            tile: int | Sequence[int] | None = None, tile_overlap: int | None = None, flow_scale: float | None = None,
            num_streams: int = 1,
            scene_change: bool = True, scene_detect: bool = True, sc_threshold: float | None = None,
            deflicker: int | None = None, grain: float | None = None, degrain: bool | None = None) -> vs.VideoNode:
    """Restore old film: remove scratches, dust, dirt, noise, blur and flicker from `clip`.

    Returns a clip of the same format, size, length and frame props, with the luma restored at
    full resolution and bit depth and chroma untouched (RGB clips move only along the luma axis
    of their `_Matrix`, BT.709 when absent), plus `vsrtn_*` provenance props.

    clip: GRAY, YUV (any subsampling) or RGB; 8-16 bit integer or 16/32 bit float; constant format.
    preset: "light", "medium" (default), "heavy", or a path to a YAML preset file.
    weights: weights name (manifest) or file (.safetensors, or a published .pth/.pth.gz);
        default: the preset's, which removes damage and flicker and keeps the film's grain.
    degrain: True: the preset's network that removes the grain as well (a clean, grainless
        picture); None/False: the preset's choice (keep the grain). Not with `weights`.
    device: "cuda", "cpu" or None (CUDA when available, else CPU). device_index: which GPU.
    fp16: half precision on CUDA (flow warping stays in fp32). None/False: fp32.
    window: output frames per model call (1..256). context: extra frames each side (0..64).
        Default: the preset's. Memory grows with window + 2*context, never with clip length.
    tile: None (whole frames unless they would not fit), an int or [width, height] (>= 32 each).
    tile_overlap: pixels shared by neighbouring tiles (default 32).
    flow_scale: optical flow computed on frames scaled by this (0.25..1), then brought back to
        full size: faster on large frames, at some cost in quality. Default: the preset's (1).
    num_streams: model calls allowed at once (1..16); on CUDA each gets its own stream (on the
        CPU, model calls run one at a time on one thread, torch's threads using every core). Keep
        core.num_threads >= (window + 2*context) * num_streams to keep them all busy.
    scene_change: keep shots apart: nothing propagates across a cut. Cuts come from the
        `_SceneChangePrev`/`_SceneChangeNext` props where frames have them, else from the in-house
        detector. False: restore straight through every cut.
    scene_detect: run the in-house detector on frames without scene-change props (default True).
    sc_threshold: the detector's cut score threshold, 0 < sc_threshold <= 1 (None: 0.35); lower
        finds more cuts.
    deflicker: source frames each side (0..context) whose motion-compensated median steadies
        each restored frame's brightness; 0: off. Default: the preset's, at most `context`.
    grain: share (0..1) of the source's fine grain put back after restoration, damage left
        out (mostly of use with `degrain`). Default: the preset's (0).
    """
    func = "vsrtn.Restore"
    fmt = check_clip(clip, func)
    built = build_engine(func, "restore", preset=preset, weights=weights,
                         device=DeviceOptions(device, device_index, fp16, num_streams), window=window, context=context,
                         tile=tile, tile_overlap=tile_overlap, flow_scale=flow_scale, deflicker=deflicker, grain=grain,
                         degrain=degrain, scene_change=scene_change, scene_detect=scene_detect,
                         sc_threshold=sc_threshold)
    settings = built.engine.settings
    props = {"vsrtn_version": __version__, "vsrtn_weights": built.weights,
             "vsrtn_preset": built.preset, "vsrtn_window": settings.window, "vsrtn_context": settings.context,
             "vsrtn_deflicker": settings.deflicker, "vsrtn_grain": float(settings.grain),
             "vsrtn_flow_scale": float(settings.flow_scale)}

    def write(template: vs.VideoFrame, src: vs.VideoFrame, y: np.ndarray, win: Window) -> vs.VideoFrame:
        out = write_luma(src, fmt, y)
        out.props.update({**props, "vsrtn_window_start": win.start})
        return out

    return windowed(clip, clip, built.engine, write, num_streams, func)


restore = Restore


MAX_REFERENCES = 64


def _references(ref: Any, ref_frames: Any, clip: vs.VideoNode, func: str) -> list:
    """The color keyframes of Colorize, validated, at the clip's size."""
    from vsrtn.colorize import Reference, fit_reference
    from vsrtn.media import read_image

    if isinstance(ref, vs.VideoNode):
        rfmt = ref.format
        if rfmt is None or rfmt.color_family == vs.UNDEFINED or ref.width == 0 or ref.height == 0:
            raise ArgumentError(func, "ref", "a color (RGB or YUV) clip of constant format and size, or image file(s)",
                                "a clip of variable format or size")
        if rfmt.color_family not in (vs.RGB, vs.YUV):
            raise ArgumentError(func, "ref", "a color (RGB or YUV) clip or image file(s)", f"a {rfmt.name} clip")
        if not 1 <= ref.num_frames <= MAX_REFERENCES:
            raise ArgumentError(func, "ref", f"a clip of 1..{MAX_REFERENCES} keyframes", f"{ref.num_frames} frames")
        images = [frame_rgb(ref.get_frame(i), rfmt) for i in range(ref.num_frames)]
    else:
        paths = [ref] if isinstance(ref, (str, bytes)) or hasattr(ref, "__fspath__") else ref
        if not isinstance(paths, (list, tuple)) or not paths or not all(
                isinstance(p, (str, bytes)) or hasattr(p, "__fspath__") for p in paths):
            raise ArgumentError(func, "ref", "a color clip, an image file or a list of image files", ref)
        if len(paths) > MAX_REFERENCES:
            raise ArgumentError(func, "ref", f"at most {MAX_REFERENCES} image files", f"{len(paths)}")
        try:
            images = [read_image(p.decode() if isinstance(p, bytes) else p) for p in paths]
        except VsrtnError as exc:
            raise ArgumentError(func, "ref", "readable color image files", str(exc)) from None
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
             tile_overlap: int | None = None, flow_scale: float | None = None, num_streams: int = 1,
             scene_change: bool = True,
             scene_detect: bool = True, sc_threshold: float | None = None, output: str | None = None) -> vs.VideoNode:
    """Color a black-and-white clip from one or more color keyframes.

    Returns YUV (same depth and sample type; GRAY and RGB input become 4:4:4) with the source
    luma untouched, bit for bit, and predicted chroma; or RGB with output="rgb". Frame props are
    kept, plus `vsrtn_*` provenance props.

    clip: GRAY, YUV or RGB with gray content; 8-16 bit integer or 16/32 bit float.
    ref: color keyframes: an RGB/YUV clip (each frame a keyframe) or image file path(s), any size
        (resized to the clip's).
    ref_frames: the clip frame each keyframe shows (one per keyframe). None: keyframes are tied
        to no frame and matched by content wherever it appears.
    preset: a preset name or YAML file; its `colorize:` section gives the defaults (None: "medium").
    output: "yuv" (default for GRAY/YUV input) or "rgb" (default for RGB input).
    Other options as for Restore: color is propagated in both directions inside windows and
    reset at scene cuts (scene_change / scene_detect / sc_threshold), so one shot's colors never
    reach another.
    """
    func = "vsrtn.Colorize"
    fmt = check_clip(clip, func)
    if output is None:
        output = "rgb" if fmt.color_family == vs.RGB else "yuv"
    if output not in ("yuv", "rgb"):
        raise ArgumentError(func, "output", "'yuv', 'rgb' or None", output)
    preset = "medium" if preset is None else preset
    references = _references(ref, ref_frames, clip, func)
    built = build_engine(func, "colorize", preset=preset, weights=weights,
                         device=DeviceOptions(device, device_index, fp16, num_streams), window=window, context=context,
                         tile=tile, tile_overlap=tile_overlap, flow_scale=flow_scale, scene_change=scene_change,
                         scene_detect=scene_detect,
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
        write_color(out, out_fmt, src, fmt, ab)
        out.props.update({**props, "vsrtn_window_start": win.start})
        return out

    return windowed(clip, template, built.engine, write, num_streams, func)


colorize = Colorize


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
    fmt = check_clip(clip, func)
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
        out, damage = degrader.frame(finite(frame_luma(frame, fmt)), n)
        if mask:
            result = f[0].copy()
            np.copyto(np.asarray(result[0]), damage)
        else:
            result = write_luma(frame, fmt, out)
        for key, value in props.items():
            result.props[key] = value
        return result

    if mask:
        blank = clip.std.BlankClip(format=vs.GRAYS, keep=True)
        return blank.std.ModifyFrame(clips=[blank, clip], selector=degrade)
    return clip.std.ModifyFrame(clips=clip, selector=degrade)


degrade = Degrade
