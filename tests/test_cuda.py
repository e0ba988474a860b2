"""The CUDA path: the CPU's results within float tolerance, the same frames whatever the request
order or the number of CUDA streams, half precision, and training that resumes on either device.

These run only where CUDA is present: `make test-cuda` on a GPU machine (`scripts/device_check.sh`
runs them there); everywhere else they are skipped, and the CPU-only error paths are tested in
test_engine.py and plugin/test_restore_filter.py instead.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsrtn.engine import Engine, EngineSettings

from conftest import moving_clip, restore_every_way, restore_in_order, tiny_model, to_x

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run by make test-cuda)")

SETTINGS = EngineSettings(window=3, context=2)


@pytest.fixture
def exact_fp32():
    """Full fp32 arithmetic (no TF32) for comparisons against CPU results."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def test_engine_on_cuda_matches_cpu_and_ignores_request_order(exact_fp32):
    clip = moving_clip(8, 40, 56)
    cpu = restore_in_order(Engine(tiny_model(seed=1), "cpu", SETTINGS), clip, range(len(clip)))
    gpu = restore_every_way(Engine(tiny_model(seed=1), "cuda", SETTINGS), clip)  # orders agree bit for bit
    assert np.abs(gpu - cpu).max() < 1e-4


def test_default_precision_on_cuda_stays_close_to_cpu():
    """Whatever PyTorch's TF32 defaults do to fp32 on this GPU, the result stays near the CPU's."""
    clip = moving_clip(6, 40, 56)
    cpu = restore_in_order(Engine(tiny_model(seed=1), "cpu", SETTINGS), clip, range(len(clip)))
    gpu = restore_in_order(Engine(tiny_model(seed=1), "cuda", SETTINGS), clip, range(len(clip)))
    assert np.abs(gpu - cpu).mean() < 2e-3


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_is_close_to_fp32_and_reproducible(precision):
    clip = moving_clip(6, 40, 56)
    full = restore_in_order(Engine(tiny_model(seed=1), "cuda", SETTINGS), clip, range(len(clip)))
    half = Engine(tiny_model(seed=1), "cuda", EngineSettings(window=3, context=2, precision=precision))
    first = restore_every_way(half, clip)  # every request order gives the same frames
    assert first.dtype == np.float32 and np.abs(first - full).mean() < (5e-3 if precision == "fp16" else 2e-2)


def test_published_size_network_with_raft_on_cuda_matches_cpu(exact_fp32):
    """The full-size network and its RAFT flow on the GPU give the CPU's numbers (and the CPU's
    reproduce the published network: test_reference.py)."""
    from vsrtn.models.config import PUBLISHED
    from vsrtn.models.rtn import RTN

    torch.manual_seed(0)
    model = RTN(PUBLISHED).eval()
    x = to_x(moving_clip(3, 128, 192))
    with torch.inference_mode():
        cpu_flows = model.compute_flow(x)
        cpu = model(x, flows=cpu_flows)
        model.cuda()
        gpu_flows = model.compute_flow(x.cuda())
        gpu = model(x.cuda(), flows=gpu_flows).cpu()
    for c, g in zip(cpu_flows, gpu_flows):
        assert (g.cpu() - c).abs().max() < 1e-2
    assert (gpu - cpu).abs().max() < 1e-3


def test_tiled_inference_on_cuda_matches_whole_frames():
    clip = moving_clip(6, 64, 96)
    whole = restore_in_order(Engine(tiny_model(seed=1), "cuda", SETTINGS), clip, range(len(clip)))
    tiled = Engine(tiny_model(seed=1), "cuda", EngineSettings(window=3, context=2, tile=(48, 40), tile_overlap=16))
    assert np.abs(restore_in_order(tiled, clip, range(len(clip))) - whole).mean() < 2e-2


def test_plugin_streams_on_cuda_give_the_frames_of_one_stream(tmp_path):
    vs = pytest.importorskip("vapoursynth")
    import vsrtn
    from vsrtn.weights import save_weights

    from vsclips import textured

    weights = tmp_path / "tiny.safetensors"
    save_weights(tiny_model(seed=2), weights)
    src = textured(vs.YUV420P10, 64, 48, 13)
    core = vs.core
    old = core.num_threads

    def frames(clip, order):
        got = {n: np.asarray(clip.get_frame(int(n))[0]).copy() for n in order}
        return [got[n] for n in range(clip.num_frames)]

    try:
        core.num_threads = 1
        one = frames(vsrtn.Restore(src, weights=str(weights), device="cuda"), range(13))
        core.num_threads = 16
        many = frames(vsrtn.Restore(src, weights=str(weights), device="cuda", num_streams=3),
                      np.random.default_rng(0).permutation(13))
    finally:
        core.num_threads = old
    assert all(np.array_equal(a, b) for a, b in zip(one, many))


def test_training_on_cuda_resumes_on_cpu_and_exports(frames_folder, tmp_path):
    from vsrtn.train.config import TrainConfig
    from vsrtn.train.trainer import Trainer
    from vsrtn.weights import load_model

    def cfg(device: str) -> TrainConfig:
        return TrainConfig(model="compact", presets=["medium"], frames=(4, 5), crop=32, batch=2, iters=3,
                           perceptual=0.0, mask_supervision=0.05, data=str(frames_folder), log_every=1, device=device)

    run = tmp_path / "run"
    gpu = Trainer(cfg("cuda"), run, tmp_path, log=lambda m: None)
    assert next(gpu.model.parameters()).is_cuda
    for _ in range(2):  # a GPU lease ending after two iterations
        assert np.isfinite(gpu.train_step()["loss"])
        gpu.step += 1
    gpu.save_checkpoint()
    cpu = Trainer(cfg("cpu"), run, tmp_path, log=lambda m: None)  # the CUDA checkpoint resumes on the CPU
    assert cpu.step == 2
    for a, b in zip(gpu.model.state_dict().values(), cpu.model.state_dict().values()):
        assert torch.equal(a.cpu(), b)
    cpu.run()
    assert cpu.step == 3
    res = cpu.export(tmp_path / "w.safetensors", None, "w", "python scripts/train.py ...")
    assert load_model(res["path"]).config == gpu.model.config
