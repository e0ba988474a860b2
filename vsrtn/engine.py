"""The inference engine: runs an RTN over windows of a clip, independent of VapourSynth.

The VapourSynth plugin and the `vsrtn` command both drive it. Input and output frames are
luma planes as float32 numpy arrays in [0, 1], shape (H, W).
"""
from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import torch

from vsrtn.deflicker import neighbourhood, shrink, stabilise, steady, work_factor
from vsrtn.errors import ArgumentError, DeviceError
from vsrtn.grain import retain
from vsrtn.models.ops import pad_plane, padded_size
from vsrtn.models.rtn import RTN
from vsrtn.options import check, is_int
from vsrtn.scenecut import CutSettings, neighbours
from vsrtn.windows import CutBetween, CutFlags, Cuts, Window, WindowPlan, cut_flags, plan_windows

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
T = TypeVar("T")
_torch_thread: ThreadPoolExecutor | None = None
_torch_thread_lock = threading.Lock()
TORCH_THREAD = "vsrtn-torch"


def on_torch_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, run on the one thread of this process that runs vsrtn's CPU torch
    work. Every thread that runs torch's parallel CPU kernels gets its own team of OpenMP worker
    threads, and with a second team on the machine's cores the teams' threads stop spinning
    between kernels: the network ran 35% slower on a VapourSynth thread after another thread had
    run torch (measured, 2 cores). So CPU inference runs on one thread, whichever thread asks."""
    global _torch_thread
    if threading.current_thread().name.startswith(TORCH_THREAD):
        return fn(*args, **kwargs)
    with _torch_thread_lock:
        if _torch_thread is None:
            _torch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=TORCH_THREAD)
    return _torch_thread.submit(fn, *args, **kwargs).result()


def _forget_torch_thread() -> None:
    global _torch_thread
    _torch_thread = None  # a forked child has no threads: it starts its own when it needs one


os.register_at_fork(after_in_child=_forget_torch_thread)


def torch_work(method: Callable[..., T]) -> Callable[..., T]:
    """An engine method whose torch work runs `on_torch_thread` when the engine runs on the CPU."""
    @functools.wraps(method)
    def wrapper(self: "Engine", *args: Any, **kwargs: Any) -> T:
        if self.device.type != "cpu":
            return method(self, *args, **kwargs)
        return on_torch_thread(method, self, *args, **kwargs)
    return wrapper


def resolve_device(device: str | None, device_index: int = 0, func: str = "vsrtn") -> torch.device:
    """'cuda' / 'cpu' / None (CUDA when available, else CPU) -> torch.device; clear error if absent."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ArgumentError(func, "device", "'cpu', 'cuda' or None (automatic)", device)
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"{func}: device='cuda' was asked for but CUDA is not available "
                          f"(torch {torch.__version__}); use device='cpu' or device=None")
    count = torch.cuda.device_count()
    if not 0 <= device_index < count:
        raise ArgumentError(func, "device_index", f"0..{count - 1} ({count} CUDA device(s))", device_index)
    return torch.device("cuda", device_index)


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length `tile` covering [0, size) with at least `overlap` shared."""
    if tile >= size:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def blend_ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    """1-D blending weights of a tile: linear ramps over the overlap on interior sides."""
    w = np.ones(length, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap if overlap > 0 else None
    if ramp is not None and not at_start:
        w[:overlap] = np.minimum(w[:overlap], ramp)
    if ramp is not None and not at_end:
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return w




@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs a model; all validated on construction."""

    window: int = 48  # core frames per model call (context recomputed per window: fewer, longer windows cost less)
    context: int = 5  # extra frames each side (recurrence warm-up)
    deflicker: int = 0  # frames each side whose median steadies a restored frame's brightness; 0 = off
    grain: float = 0.0  # share of the source's fine grain put back after restoration (vsrtn.grain)
    tile: tuple[int, int] | None = None  # (width, height); None = whole frames unless they would not fit
    tile_overlap: int = 32
    precision: str = "fp32"  # fp32 | fp16 | bf16 (the last two on CUDA only)
    cuts: CutSettings = CutSettings()  # where a window's recurrence restarts
    # DIS flow computed on frames scaled by this (then brought back to full size): faster, at some
    # cost in quality (docs/BENCHMARKS.md), so full size unless asked for.
    flow_scale: float = 1.0

    def __post_init__(self) -> None:
        f = "Engine"
        for name in ("window", "context", "grain", "tile_overlap", "flow_scale"):
            check(name, getattr(self, name), f)
        if not is_int(self.deflicker) or not 0 <= self.deflicker <= self.context:
            # The neighbours must be in the window for every core frame, or frames at window
            # edges would be steadied against fewer neighbours than the rest.
            raise ArgumentError(f, "deflicker", f"an integer in 0..context ({self.context})", self.deflicker)
        if self.precision not in DTYPES:
            raise ArgumentError(f, "precision", f"one of {sorted(DTYPES)}", self.precision)
        if self.tile is not None:
            if not (isinstance(self.tile, tuple) and len(self.tile) == 2 and all(is_int(v) for v in self.tile)
                    and min(self.tile) >= 32):
                raise ArgumentError(f, "tile", "[width, height], each an integer >= 32", self.tile)
            if self.tile_overlap >= min(self.tile) // 2:
                raise ArgumentError(f, "tile_overlap", f"0..{min(self.tile) // 2 - 1} for tile {list(self.tile)}",
                                    self.tile_overlap)
        if not isinstance(self.cuts, CutSettings):
            raise ArgumentError(f, "cuts", "a CutSettings", self.cuts)


@dataclass(frozen=True)
class Support:
    """What a window needs beyond its own frames, as its caller delivered it: the engine's
    `prepare(window)` result, the luma of the source frames that lists (`plan.frames`), and
    whether two adjacent source frames lie in different shots."""

    plan: Any
    lumas: Mapping[int, np.ndarray]
    cut_between: CutBetween = lambda a, b: False


class Engine:
    """Runs `model` window by window. `run_window` is the unit the plugin schedules;
    `run_clip` streams a whole clip with memory bounded by one window (plus the frames
    `prepare` asks for)."""

    # (input, output) channels of the networks this engine runs: restoration, gray in and out.
    CHANNELS = (3, 3)
    KIND = "restoration"
    KEEP = 1  # output channels the engine uses (the restored gray is replicated in all three)

    def __init__(self, model: RTN, device: torch.device | str = "cpu", settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        c = model.config
        if (c.in_channels, c.out_channels) != self.CHANNELS:
            raise ArgumentError(type(self).__name__, "weights", f"{self.KIND} weights (a network with "
                                f"{self.CHANNELS[0]} inputs and {self.CHANNELS[1]} outputs)",
                                f"a network with {c.in_channels} inputs and {c.out_channels} outputs")
        self.device = torch.device(device)
        if self.settings.precision != "fp32" and self.device.type != "cuda":
            raise ArgumentError("Engine", "precision", "'fp32' on the CPU (fp16/bf16 need CUDA)",
                                self.settings.precision)
        self.model = model.to(self.device).eval()
        self.dtype = DTYPES[self.settings.precision]
        self._tile_cache: dict[tuple[int, int], tuple[int, int] | None] = {}
        # The CPU stages run here, one thread per core this process may use: DIS flow pairs in
        # parallel (OpenCV releases the GIL), the next window's while the network runs this one,
        # and deflicker and grain frame by frame. The thread count never changes a result.
        self._pool = ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="vsrtn-cpu")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False  # same algorithms every call: reproducible output

    def limit_cpu_threads(self, threads: int) -> None:
        """Run the CPU stages on `threads` threads: for a process that shares its cores with
        others (a cluster worker). Results do not depend on it."""
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="vsrtn-cpu")

    # -------------------------------------------------------------- planning
    def plan(self, num_frames: int) -> WindowPlan:
        return plan_windows(num_frames, self.settings.window, self.settings.context)

    def tiles_for(self, height: int, width: int) -> tuple[int, int] | None:
        """The (width, height) tile size to use, or None for whole frames.

        Decided from the device's total memory and the largest window, never from what happens
        to be free, so the same frames are tiled the same way on every call."""
        if self.settings.tile is not None:
            return self.settings.tile
        key = (height, width)
        if key not in self._tile_cache:
            frames = self.settings.window + 2 * self.settings.context
            budget = _memory_budget(self.device)
            need = _estimate_bytes(self.model, frames, height, width, self.dtype)
            tile = None
            if need > budget:
                # Square-ish tiles whose estimate fits, >= 128 px and more than twice the overlap.
                scale = math.sqrt(budget / need)
                least = max(128, 2 * self.settings.tile_overlap + 16)
                tile = (min(width, max(least, int(width * scale) // 16 * 16)),
                        min(height, max(least, int(height * scale) // 16 * 16)))
            self._tile_cache[key] = tile
        return self._tile_cache[key]

    # -------------------------------------------------------------- running
    def prepare(self, window: Window) -> Any:
        """What `window` needs beyond its own frames (an object whose `frames` lists the extra
        source frames), to be handed back to `run_window` in a `Support`; None: nothing.
        Restoration needs nothing; colorization walks keyframe chains (`ColorEngine`)."""
        return None

    @staticmethod
    def _input(frames: Sequence[np.ndarray]) -> torch.Tensor:
        """The network's input (T, 3, H, W) in [-1, 1] from luma frames."""
        planes = np.empty((len(frames), 1, *frames[0].shape), np.float32)
        for i, f in enumerate(frames):  # in place: a window of large frames is gigabytes
            np.multiply(f, 2, out=planes[i, 0])
            planes[i, 0] -= 1
        return torch.from_numpy(planes).expand(-1, 3, -1, -1)

    def prefetch_flows(self, frames: Sequence[np.ndarray], window: Window,
                       reuse: "PendingFlows | None" = None) -> "PendingFlows | None":
        """Start computing `window`'s flows from its source frames; hand the result to
        `run_window(..., flows=)`. None where the network computes its own (RAFT). Pairs of
        source frames `reuse` (a neighbouring window's flows) already has are taken from it."""
        if self.model.config.flow != "dis":
            return None
        return self.window_flows(self._input([finite(f) for f in frames]), window, reuse)

    @torch_work
    @torch.inference_mode()
    def run_window(self, frames: Sequence[np.ndarray], window: Window, cuts: CutFlags | None = None,
                   support: Support | None = None, flows: "PendingFlows | None" = None) -> list[np.ndarray]:
        """Restore the core frames of `window` from its source frames (in `window.frames` order).
        `cuts[p]`: a new shot starts at position p (nothing propagates from p-1 to p).
        `support` is unused: restoration needs nothing beyond the window. `flows`: from
        `prefetch_flows` of the same frames (computed here when None)."""
        if len(frames) != len(window.frames):
            raise ValueError(f"run_window: {len(window.frames)} frames expected, got {len(frames)}")
        frames = [finite(f) for f in frames]
        x = self._input(frames) if flows is None else flows.input  # built once, when the flows were started
        y = self.infer(x, window, cuts, flows)[:, 0]  # (KEEP = 1)
        y += 1  # in place: a window of large frames is gigabytes
        y *= 0.5
        out = list(np.clip(y, 0, 1, out=y))
        # Frame by frame on the pool (OpenCV releases the GIL); each frame's result is its own.
        if self.settings.deflicker:
            factor = work_factor(*frames[0].shape)
            small = list(self._pool.map(lambda f: shrink(f, factor), frames))
            # The neighbours' own flicker out first, judged over twice the radius.
            small = steady(small, window.frames, 2 * self.settings.deflicker, cuts, self._pool.map)
            out = list(self._pool.map(lambda i: self._deflicker(out[i], window.offset + i, small, window, cuts),
                                      range(len(out))))
        if self.settings.grain:
            out = list(self._pool.map(lambda i: retain(out[i], frames[window.offset + i], self.settings.grain),
                                      range(len(out))))
        return out

    def _deflicker(self, restored: np.ndarray, position: int, small: Sequence[np.ndarray], window: Window,
                   cuts: CutFlags | None) -> np.ndarray:
        """Steady the brightness of the restored frame at `position` of `window` against its
        shot's source frames within `deflicker` positions (a frame mirrored in at a clip end
        counts once); `small`: the window's source frames, shrunk for the comparison."""
        near = {window.frames[p]: small[p]
                for p in neighbourhood(position, len(small), self.settings.deflicker, cuts)}
        return stabilise(restored, list(near.values()), shrunk=True)

    def infer(self, x: torch.Tensor, window: Window, cuts: CutFlags | None = None,
              flows: "PendingFlows | None" = None) -> np.ndarray:
        """Run the model on the model-ready input x (T, in_channels, H, W) of `window`'s source
        frames -> its core frames' output (T', KEEP, H, W) in [-1, 1], tiled if needed."""
        cut_t = None if cuts is None or not any(cuts) else torch.tensor(list(cuts), dtype=torch.bool)
        h, w = x.shape[-2:]
        out_range = (window.offset, window.offset + (window.stop - window.start))
        if flows is None and self.model.config.flow == "dis":
            flows = self.window_flows(x, window)
        pairs = None if flows is None else flows.result()
        tile = self.tiles_for(h, w)
        if tile is None or (tile[0] >= w and tile[1] >= h):
            return self._run(x, out_range, cut_t, pairs)
        return self._run_tiled(x, out_range, tile, cut_t, pairs)

    def window_flows(self, x: torch.Tensor, window: Window, reuse: "PendingFlows | None" = None) -> "PendingFlows":
        """Start the DIS flows the network needs for `window` from its input x (T, C, H, W),
        every pair on the pool; `.result()` gives its `compute_flow` result (unused pairs zero).
        A flow is a function of its two source frames alone, so a pair `reuse` holds (the
        windows overlap by their context) is shared, not computed again."""
        c = self.model.config
        t, _, h, w = x.shape
        ph, pw = padded_size(h, c.size_multiple), padded_size(w, c.size_multiple)
        scale, g, flow = float(self.settings.flow_scale), c.guide_channel, self.model.flow

        planes = x.numpy()

        def for_dis(i: int) -> list[np.ndarray]:
            # As the network would compute them: on its padded guide channel, in [0, 1]; frame
            # by frame on the pool, which keeps a large window's conversion off the calling
            # thread. In NumPy: torch called from a pool thread starts a second team of torch
            # worker threads, and the network then runs about a third slower on a small CPU.
            return flow.prepare(pad_plane((planes[i, g] + 1) / 2, ph, pw)[None, None], scale)

        def calc(r: int, q: int, slot: np.ndarray) -> None:
            flow.pair(prepared[r].result()[0], prepared[q].result()[0], slot)

        def copy(source: tuple[Future, np.ndarray], slot: np.ndarray) -> None:
            # The source was submitted earlier and the pool runs tasks in order: it is running or done.
            source[0].result()
            np.copyto(slot, source[1])

        a, b = window.offset, window.offset + (window.stop - window.start)
        # Forward pair i-1 lines frame i-1 up with frame i (i < b); backward pair i lines i+1 up with i (i >= a).
        jobs = [(0, i - 1, i, i - 1) for i in range(1, b)] + [(1, i, i, i + 1) for i in range(a, t - 1)]
        # Every pair is written into its place in the network's flow input; the pairs the range
        # (a, b) leaves unused are zero.
        slots = np.empty((2, 1, max(t - 1, 0), 2, ph, pw), np.float32)
        slots[0, :, b - 1:] = 0  # NumPy: this may run on any thread (see `on_torch_thread`)
        slots[1, :, :a] = 0
        out = torch.from_numpy(slots)
        known = {} if reuse is None or reuse.scale != scale else reuse.by_frames
        futures: list[Future] = []
        by_frames: dict[tuple[int, int], tuple[Future, np.ndarray]] = {}
        prepared: dict[int, Future] = {}

        for d, k, r, q in jobs:
            pair, slot = (window.frames[r], window.frames[q]), slots[d, 0, k]  # source frame numbers: ref, src
            source = by_frames.get(pair) or known.get(pair)
            if source is None:
                # Each frame is prepared for DIS once, however many pairs it is in. The pool runs
                # tasks in the order they came, so a pair's frames are started before the pair.
                for i in (r, q):
                    if i not in prepared:
                        prepared[i] = self._pool.submit(for_dis, i)
                future = self._pool.submit(calc, r, q, slot)
            else:
                future = self._pool.submit(copy, source, slot)
            by_frames.setdefault(pair, (future, slot))
            futures.append(future)
        return PendingFlows(x, out, futures, by_frames, scale)

    def _run(self, x: torch.Tensor, out_range: tuple[int, int], cuts: torch.Tensor | None,
             flows: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
        use_amp = self.dtype != torch.float32
        with torch.autocast(device_type=self.device.type, dtype=self.dtype, enabled=use_amp):
            y = self.model(x.to(self.device).unsqueeze(0), cuts=None if cuts is None else cuts.to(self.device),
                           flows=None if flows is None else tuple(f.to(self.device) for f in flows),
                           out_range=out_range)
        return y[0, :, :self.KEEP].float().cpu().numpy()

    def _run_tiled(self, x: torch.Tensor, out_range: tuple[int, int], tile: tuple[int, int],
                   cuts: torch.Tensor | None, flows: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
        h, w = x.shape[-2:]
        tw, th = min(tile[0], w), min(tile[1], h)
        ov = self.settings.tile_overlap
        acc = np.zeros((out_range[1] - out_range[0], self.KEEP, h, w), np.float32)
        weight = np.zeros((h, w), np.float32)
        ys, xs = tile_starts(h, th, ov), tile_starts(w, tw, ov)
        for y0 in ys:
            wy = blend_ramp(th, ov, y0 == 0, y0 + th == h)
            for x0 in xs:
                wx = blend_ramp(tw, ov, x0 == 0, x0 + tw == w)
                crop = None if flows is None else tuple(f[..., y0:y0 + th, x0:x0 + tw] for f in flows)
                out = self._run(x[..., y0:y0 + th, x0:x0 + tw], out_range, cuts, crop)
                wt = wy[:, None] * wx[None, :]
                acc[..., y0:y0 + th, x0:x0 + tw] += out * wt
                weight[y0:y0 + th, x0:x0 + tw] += wt
        return acc / weight

    def run_clip(self, frames: Iterable[np.ndarray], num_frames: int, cuts: Cuts | None = None,
                 progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
        """Run a clip given as an iterator of frames in order; yields `run_window`'s results in order.
        `cuts`: where shots start; None: decided from the frames by the settings' detector, as
        the plugin decides them for a clip without scene-change props. Holds only the frames
        the current and next windows need (and their neighbours, which cut decisions read)."""
        return self.run_windows(frames, num_frames, range(len(self.plan(num_frames))), cuts, progress)

    def first_needed(self, num_frames: int, k: int) -> int:
        """The first source frame `run_windows` reads when it starts at window k."""
        win = self.plan(num_frames)[k]
        return min(self._needs(win, self.prepare(win), num_frames))

    def _needs(self, win: Window, prepared: Any, num_frames: int) -> list[int]:
        """The source frames a window reads: its own, those `prepare` asked for, and their
        neighbours (which cut decisions read)."""
        extra = () if prepared is None else tuple(prepared.frames)
        return neighbours((*win.frames, *extra), num_frames)

    def run_windows(self, frames: Iterable[np.ndarray], num_frames: int, ks: range, cuts: Cuts | None = None,
                    progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
        """`run_clip` for windows `ks` of the clip's plan (consecutive): `frames` are the source
        frames from `first_needed(num_frames, ks.start)` on, in order; yields the outputs of the
        frames those windows keep, in order. A pure function of the clip and the settings, so a
        clip split into ranges of windows gives, joined, what `run_clip` gives."""
        plan = self.plan(num_frames)
        if not ks or ks.step != 1 or ks.start < 0 or ks.stop > len(plan):
            raise ValueError(f"run_windows: windows {ks} are not consecutive windows of a plan of {len(plan)}")
        source = iter(frames)
        buffer: dict[int, np.ndarray] = {}
        if cuts is None:
            cuts = self.settings.cuts.cuts(buffer.__getitem__, num_frames)
        prepared, flows = self.prepare(plan[ks.start]), None
        read = min(self._needs(plan[ks.start], prepared, num_frames))

        def read_to(last: int) -> None:
            nonlocal read
            while read <= last:
                try:
                    buffer[read] = next(source)
                except StopIteration:
                    raise ValueError(f"run_windows: the clip ended after {read} frames, "
                                     f"{num_frames} were announced") from None
                read += 1

        for k in ks:
            win = plan[k]
            nxt = plan[k + 1] if k + 1 < ks.stop else None
            read_to(max(self._needs(win, prepared, num_frames)))
            if flows is None:  # the first window: started here so that the next can share its pairs
                flows = self.prefetch_flows([buffer[i] for i in win.frames], win)
            # The next window's flows are computed on the pool while the network runs this one.
            next_flows = None
            if nxt is not None:
                read_to(max(neighbours(nxt.frames, num_frames)))
                next_flows = self.prefetch_flows([buffer[i] for i in nxt.frames], nxt, reuse=flows)
            extra = () if prepared is None else tuple(prepared.frames)
            support = (None if prepared is None else
                       Support(prepared, {i: buffer[i] for i in extra}, cuts.between))
            outputs = self.run_window([buffer[i] for i in win.frames], win, cut_flags(win.frames, cuts.between),
                                      support, flows)
            # The next window is prepared before frames are dropped, so it keeps what it asks for.
            prepared, flows = (self.prepare(nxt) if nxt is not None else None), next_flows
            keep_from = min(self._needs(nxt, prepared, num_frames)) if nxt is not None else read
            for i in [i for i in buffer if i < keep_from]:
                del buffer[i]
            if hasattr(cuts, "forget_before"):
                cuts.forget_before(keep_from)
            for out in outputs:
                yield out
            if progress is not None:
                progress(win.stop)


class PendingFlows:
    """A window's DIS flow pairs being computed on the engine's pool into `flows`, and the
    network input (`input`) they were computed from; `by_frames`: for each pair, by its source
    frame numbers (ref, src), the task that writes it and where, at flow scale `scale`."""

    def __init__(self, x: torch.Tensor, flows: torch.Tensor, futures: list[Future],
                 by_frames: dict[tuple[int, int], tuple[Future, np.ndarray]], scale: float) -> None:
        self.input, self._flows, self._futures = x, flows, futures
        self.by_frames, self.scale = by_frames, scale

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(forward, backward) flows, each (1, T-1, 2, H, W), as `RTN.compute_flow` gives them."""
        for future in self._futures:
            future.result()
        return self._flows[0], self._flows[1]


def usable_cpus() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def finite(frame: np.ndarray) -> np.ndarray:
    """A luma frame as float32 the network can take: NaN as black, infinities and runaway
    values held within [-0.5, 1.5], so one broken pixel cannot spread through a window."""
    f = np.asarray(frame, np.float32)
    if f.min(initial=0.0) >= -0.5 and f.max(initial=0.0) <= 1.5:  # False for NaN; infinities are out of range
        return f
    return np.nan_to_num(np.clip(f, -0.5, 1.5), nan=0.0)


def _memory_budget(device: torch.device) -> float:
    """Half the device's total memory (RAM for the CPU): stable for a machine, unlike free memory."""
    if device.type == "cuda":
        return 0.5 * float(torch.cuda.get_device_properties(device).total_memory)
    try:
        return 0.5 * float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        return 2.0 * 2**30


def _estimate_bytes(model: RTN, frames: int, height: int, width: int, dtype: torch.dtype) -> float:
    """Rough peak memory of one window: stored states and frames per frame, plus one trunk call.
    Deliberately pessimistic; used only to decide whether to tile."""
    c = model.config
    px = height * width
    elt = 2 if dtype != torch.float32 else 4
    per_frame = px * (3 + c.num_feat + 4) * 4  # input, backward state, flows (fp32)
    trunk = px * c.embed_dim * 3 * elt + (px / 4) * c.embed_dim * 12 * elt  # full-res convs + half-res tokens
    raft = (px / 64) ** 2 * 4 * 1.4 * 8 if c.flow == "raft" else 0  # correlation pyramid, 8 pairs a batch
    return frames * per_frame + trunk + raft
