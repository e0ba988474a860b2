"""Shared fixtures: tiny random-weight models (fast on 2 CPU cores) and paths."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VSRTN_SHARED", ROOT.parent / "shared"))  # project material beside the clone
REFERENCE = SHARED / "reference"
VSRTN = [sys.executable, "-m", "vsrtn.cli"]  # the command, run from the venv under test
H, W = 40, 56  # the size of the color tests' clips


def tiny_config(**overrides):
    from vsrtn.models.config import RTNConfig

    base = dict(num_feat=8, embed_dim=16, depths=(2,), num_heads=(2,), window_size=4, flow="dis",
                dis_preset="ultrafast")
    base.update(overrides)
    return RTNConfig(**base)


def tiny_model(seed: int = 0, **overrides):
    """A random-weight RTN, scaled so that its output visibly depends on its input."""
    import torch

    from vsrtn.models.rtn import RTN

    torch.manual_seed(seed)
    model = RTN(tiny_config(**overrides)).eval()
    return model


def moving_clip(t: int = 6, h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    """A textured image panning right by 1 px a frame, float32 in [0, 1], shape (T,H,W)."""
    rng = np.random.default_rng(seed)
    base = rng.random((h, w + t + 8), dtype=np.float32)
    import cv2

    base = cv2.GaussianBlur(base, (5, 5), 1.0)
    return np.stack([base[:, i:i + w] for i in range(t)]).astype(np.float32)


def to_x(clip: np.ndarray):
    """A (T,H,W) clip in [0, 1] as the model's input: (1, T, 3, H, W) in [-1, 1]."""
    import torch

    return torch.from_numpy(clip).mul(2).sub(1)[None, :, None].expand(-1, -1, 3, -1, -1).contiguous()


class TorchKernels:
    """Records the torch operations that run on the thread that enters it (dispatch modes are
    per thread); `.kernels` are those beyond wrapping NumPy arrays as tensors and viewing them.
    vsrtn runs torch's CPU kernels on one thread (`vsrtn.engine.on_torch_thread`)."""

    WRAPPING = {"aten.lift_fresh.default", "aten.detach.default", "aten.alias.default", "aten.expand.default",
                "aten.view.default", "aten.slice.Tensor", "aten.select.int", "aten.unsqueeze.default"}

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        ran = self.ran = set()

        class Record(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                ran.add(str(func))
                return func(*args, **(kwargs or {}))

        self._mode = Record()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)

    @property
    def kernels(self) -> set:
        return self.ran - self.WRAPPING


def restore_in_order(engine, clip: np.ndarray, order, cuts=()) -> np.ndarray:
    """Every frame of `clip` restored by `engine`, window by window, requested in `order`;
    `cuts`: the frames that start a new shot."""
    from vsrtn.windows import ShotStarts, cut_flags

    plan = engine.plan(len(clip))
    shots = ShotStarts(frozenset(cuts))
    out = {}
    for n in order:
        win = plan[plan.index_of(n)]
        res = engine.run_window([clip[i] for i in win.frames], win, cut_flags(win.frames, shots.between))
        out[n] = res[n - win.start]
    return np.stack([out[n] for n in range(len(clip))])


def restore_every_way(engine, clip: np.ndarray) -> np.ndarray:
    """`clip` restored by `engine` in order, backwards and streamed by `run_clip` (no cuts);
    asserts the three agree exactly and returns the result."""
    from vsrtn.windows import NO_CUTS

    linear = restore_in_order(engine, clip, range(len(clip)))
    backwards = restore_in_order(engine, clip, range(len(clip) - 1, -1, -1))
    streamed = np.stack(list(engine.run_clip(iter(clip), len(clip), cuts=NO_CUTS)))
    assert np.array_equal(linear, backwards) and np.array_equal(linear, streamed)
    return linear


@pytest.fixture
def frames_folder(tmp_path):
    """A user's REDS-style training folder: one sequence of 12 moving frames."""
    import cv2

    seq = tmp_path / "data" / "000"
    seq.mkdir(parents=True)
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((96, 160), dtype=np.float32), (0, 0), 2)
    for i in range(12):
        cv2.imwrite(str(seq / f"{i:05d}.png"), np.rint(big[:, i:i + 96] * 255 / big.max()).astype(np.uint8))
    return tmp_path / "data"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> str:
    """A tiny random-weight restoration network saved as vsrtn weights."""
    from vsrtn.weights import save_weights

    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    save_weights(tiny_model(seed=2), path)
    return str(path)


@pytest.fixture
def venv_bin() -> Path:
    return Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _no_user_weights(monkeypatch):
    monkeypatch.delenv("VSRTN_WEIGHTS", raising=False)
    yield


# ---------------------------------------------------------------- color


def tiny_color_model(seed: int = 0):
    """A random color RTN whose head is not zero, so the network visibly changes the hint."""
    import torch

    model = tiny_model(seed, in_channels=5, out_channels=2, guide_channel=2, output="linear")
    torch.manual_seed(seed + 1)
    torch.nn.init.normal_(model.head.out.weight, std=0.05)
    return model


@pytest.fixture(scope="session")
def color_weights(tmp_path_factory):
    """A tiny random-weight colorization network saved as vsrtn weights."""
    from vsrtn.weights import save_weights

    path = tmp_path_factory.mktemp("w") / "tiny-color.safetensors"
    model = tiny_color_model()
    save_weights(model, path, {"config": model.config.to_dict()})
    return path


def colored(gray: np.ndarray, hue: float) -> np.ndarray:
    """An RGB keyframe with the gray frame's lightness and a strong color that varies across it."""
    from vsrtn.color import luma_ab_to_rgb

    ramp = np.linspace(0.5, 1.5, gray.shape[1], dtype=np.float32)[None, :].repeat(gray.shape[0], 0)
    ab = np.stack([30 * np.cos(hue) * ramp, 30 * np.sin(hue) * ramp])
    return luma_ab_to_rgb(gray, ab)


@pytest.fixture(scope="session")
def key_png(tmp_path_factory):
    """A colored keyframe (PNG) of the first frame of `moving_clip(8, H, W)`."""
    import cv2

    path = tmp_path_factory.mktemp("k") / "key.png"
    rgb = colored(moving_clip(8, H, W)[0], 0.5)
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return path


# ---------------------------------------------------------------- files, the command, scripts


def make_video(path: Path, size="96x64", pix_fmt="yuv420p", codec="libx264", seconds=0.6, audio=True, rate=25):
    """A test-pattern video made by ffmpeg, with a sine tone unless `audio` is False."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        codec_a = "flac" if path.suffix == ".mkv" else "aac"
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:a", codec_a]
    cmd += ["-c:v", codec, "-pix_fmt", pix_fmt, "-shortest", str(path)]
    subprocess.run(cmd, check=True)
    return path


def run(*args, check=True):
    """`vsrtn ARGS...` in a subprocess; asserts success unless `check` is False."""
    res = subprocess.run([*VSRTN, *map(str, args)], capture_output=True, text=True)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def write_script(tmp_path, weights, body="clip = vsrtn.Restore(src, weights=W, window=4, context=2)",
                 src="textured(vs.YUV420P8, 64, 48, 7)") -> str:
    """A .vpy restoring (or running `body` on) a `vsclips.textured` clip, with weights `W`."""
    script = tmp_path / "restore.vpy"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        import vapoursynth as vs
        import vsrtn
        from vsclips import textured
        W = {weights!r}
        src = {src}
        {body}
        clip.set_output()
        """))
    return str(script)


def parse_y4m(data: bytes, w: int, h: int, chroma_div: int = 4) -> list[bytes]:
    """The frames of an 8-bit y4m stream of size w x h (chroma planes 1/chroma_div of luma each)."""
    header, _, rest = data.partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 ") and f" W{w} H{h} ".encode() in header + b" "
    size = w * h + 2 * (w * h // chroma_div)
    frames = []
    while rest:
        tag, _, rest = rest.partition(b"\n")
        assert tag == b"FRAME", tag[:20]
        frames.append(rest[:size])
        rest = rest[size:]
    return frames


def pytest_report_header(config):
    return f"vsrtn tests, shared material at {SHARED} ({'present' if SHARED.exists() else 'MISSING'})"


def vfr_video(path, frames=30, size=(64, 48)):
    """A variable-frame-rate video (x264 in Matroska): irregular timestamps, keyframes every 5."""
    from fractions import Fraction

    import av

    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25, options={"g": "5", "bf": "0"})
        s.width, s.height, s.pix_fmt = *size, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for n in range(frames):
            img = (np.roll(rng.random((size[1], size[0])), n, axis=1) * 255).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(np.stack([img] * 3, -1), format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = t, Fraction(1, 1000)
            t += 40 if n % 3 else 95  # 25 fps with longer gaps
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def framemd5(path) -> str:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("#"))
