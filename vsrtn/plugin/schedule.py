"""How the filters run engines inside VapourSynth.

output frame n belongs to one window of a fixed plan. Its callback receives, through
VapourSynth's own request machinery, source frame n and every source frame of that window (no
`get_frame` inside callbacks). The first callback of a window runs the engine; the others wait
for it and read the result from a small lock-protected cache (`vsrtn.cache`). A fresh ModifyFrame per output
frame (inside FrameEval) lets several windows be in flight; `num_streams` bounds how many
inferences run at once (one CUDA stream each on a GPU). Scene cuts inside a window come from the
frame props of the window's frames where they have them, else from the in-house detector
(`vsrtn.scenecut`, which also reads one frame either side of the window), so every output frame
is a pure function of the clip: request order, seeking and thread count cannot change it.
"""
from __future__ import annotations

import functools
import threading
from contextlib import nullcontext
from typing import Any, Callable, Sequence

import numpy as np
import vapoursynth as vs

from vsrtn.cache import LRUCache
from vsrtn.engine import Support
from vsrtn.plugin.frames import check_progressive, frame_luma, props_say_cut
from vsrtn.scenecut import neighbours
from vsrtn.windows import Window, cut_flags


def windowed(clip: vs.VideoNode, template: vs.VideoNode, engine: Any,
              write: Callable[[vs.VideoFrame, vs.VideoFrame, np.ndarray, Window], vs.VideoFrame],
              num_streams: int, func: str) -> vs.VideoNode:
    """A clip like `template` whose frame n is `write(template[n], clip[n], result, window)`, where
    `result` is the engine's `run_window` output for n, from the luma and cut flags of the
    window's source frames. Each window runs once; at most `num_streams` at a time (a CUDA
    stream each)."""
    fmt = clip.format
    num_frames = clip.num_frames
    plan = engine.plan(num_frames)
    cache: LRUCache[list[np.ndarray]] = LRUCache(2 * num_streams + 2)
    slots = threading.BoundedSemaphore(num_streams)
    streams = stream_pool(engine.device, num_streams)

    def run(win: Window, delivered: dict[int, vs.VideoFrame], prepared: Any) -> list[np.ndarray]:
        for i, frame in delivered.items():
            check_progressive(frame, i, func)
        lumas: dict[int, np.ndarray] = {}

        def luma(i: int) -> np.ndarray:
            if i not in lumas:
                lumas[i] = frame_luma(delivered[i], fmt)
            return lumas[i]

        cuts = engine.settings.cuts.cuts(luma, num_frames,
                                         lambda b: props_say_cut(delivered[b - 1], delivered[b]))
        support = None
        if prepared is not None:
            support = Support(prepared, {i: luma(i) for i in prepared.frames}, cuts.between)
        frames = [luma(i) for i in win.frames]
        flags = cut_flags(win.frames, cuts.between)
        with slots:
            stream = streams.pop()
            try:
                with stream_context(stream):
                    return engine.run_window(frames, win, flags, support)
            finally:
                streams.append(stream)

    def deliver(n: int, f: list[vs.VideoFrame], k: int, prepared: Any, needed: Sequence[int]) -> vs.VideoFrame:
        win = plan[k]
        result = cache.get_or_compute(k, lambda: run(win, dict(zip(needed, f[2:])), prepared))
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


def stream_pool(device, count: int) -> list:
    if device.type == "cuda":
        import torch

        return [torch.cuda.Stream(device=device) for _ in range(count)]
    return [None] * count


def stream_context(stream):
    if stream is None:
        return nullcontext()
    import torch

    return torch.cuda.stream(stream)
