"""Training on a CPU: data, determinism, checkpoints, resume and export (tiny settings)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from vsrtn.train import content
from vsrtn.train.config import TrainConfig
from vsrtn.train.losses import GATE_MARGIN, LOWPASS_SIGMA, gate_loss, gaussian_blur, split_l1
from vsrtn.train.samplers import ClipSampler, add_objects
from vsrtn.train.trainer import Trainer
from vsrtn.weights import load_model


def tiny(frames_folder, **kw) -> TrainConfig:
    base = dict(model="compact", presets=["medium"], frames=(4, 5), crop=32, batch=2, iters=3, perceptual=0.0,
                mask_supervision=0.05, data=str(frames_folder), log_every=1, checkpoint_every=2)
    base.update(kw)
    return TrainConfig(**base)


def test_camera_clip_is_deterministic_and_moves():
    photo = cv2.GaussianBlur(np.random.default_rng(1).random((300, 400), dtype=np.float32), (0, 0), 3)
    a = content.camera_clip(photo, np.random.default_rng(5), 6, 64)
    b = content.camera_clip(photo, np.random.default_rng(5), 6, 64)
    assert a.shape == (6, 64, 64) and np.array_equal(a, b)
    assert not np.array_equal(a[0], a[-1])


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("color", [False, True])
def test_objects_move_on_their_own_over_the_clip(color):
    background = np.full((8, 64, 64, 3) if color else (8, 64, 64), 0.2, np.float32)
    photo = np.full((80, 90, 3) if color else (80, 90), 0.9, np.float32)
    a = content.with_objects(background, photo, np.random.default_rng(4), 1)
    assert a.shape == background.shape and np.array_equal(a, content.with_objects(background, photo,
                                                                                 np.random.default_rng(4), 1))
    lum = a[..., 0] if color else a
    shown = [t for t in range(8) if (lum[t] > 0.55).sum() > 20]
    assert len(shown) >= 2  # the object is in view ...
    first, last = shown[0], shown[-1]
    assert np.linalg.norm(_centroid(lum[first] > 0.55) - _centroid(lum[last] > 0.55)) > 1.0  # ... and moves
    assert np.array_equal(background, np.full_like(background, 0.2))  # the input clip is not modified


def test_held_out_photographs_are_never_training_content(tmp_path):
    """The photographs the held-out colorization clip is made of stay out of training, even in a
    cache gathered before they were held out."""
    folder = content.content_dir(tmp_path)
    folder.mkdir(parents=True)
    for name in ("skimage--coffee", "skimage--chelsea", "skimage--moon", "mate-backgrounds--lake"):
        (folder / f"{name}.jpg").write_bytes(b"")
    (folder / ".complete").write_text("4\n")
    assert [p.stem for p in content.build_photos(tmp_path)] == ["mate-backgrounds--lake", "skimage--moon"]
    assert content.HELD_OUT_PHOTOS == {"coffee", "chelsea"}
    assert not content.HELD_OUT_PHOTOS & content.SKIMAGE_PHOTOS


def test_objects_share_draws_its_own_samples():
    clip = np.random.default_rng(0).random((5, 32, 32), dtype=np.float32)
    photos = [np.random.default_rng(1).random((60, 60), dtype=np.float32)]
    assert add_objects(clip, photos, TrainConfig(objects=0.0), 3) is clip
    with_obj = [add_objects(clip, photos, TrainConfig(objects=1.0), k) for k in (3, 3, 4)]
    assert not np.array_equal(with_obj[0], clip) and np.array_equal(with_obj[0], with_obj[1])
    assert not np.array_equal(with_obj[0], with_obj[2])


def test_objects_share_is_validated(frames_folder, tmp_path):
    with pytest.raises(ValueError, match="'objects' must be a share in \\[0, 1\\], got 1.5"):
        Trainer(tiny(frames_folder, objects=1.5), tmp_path / "run", tmp_path)


def test_head_init_gives_a_new_run_a_random_output_layer_only(frames_folder, tmp_path):
    zero = Trainer(tiny(frames_folder), tmp_path / "zero", tmp_path, log=lambda m: None)
    assert not zero.model.head.out.weight.any()  # the identity start
    run = tmp_path / "run"
    fresh = Trainer(tiny(frames_folder, head_init=0.01), run, tmp_path, log=lambda m: None)
    w = fresh.model.head.out.weight.detach()
    assert 0.008 < w.std().item() < 0.012 and abs(w.mean().item()) < 0.002
    with torch.no_grad():
        fresh.model.head.out.weight.mul_(3)
    fresh.save_checkpoint()
    resumed = Trainer(tiny(frames_folder, head_init=0.01), run, tmp_path, log=lambda m: None)
    assert torch.equal(resumed.model.head.out.weight, fresh.model.head.out.weight)  # resuming keeps the trained layer
    with pytest.raises(ValueError, match="'head_init' must be >= 0, got -1"):
        Trainer(tiny(frames_folder, head_init=-1.0), tmp_path / "bad", tmp_path)


def test_samples_are_a_pure_function_of_seed_and_index(frames_folder, tmp_path):
    s = ClipSampler(tiny(frames_folder), tmp_path)
    d1, c1, m1 = s.sample(7, 5)
    d2, c2, m2 = s.sample(7, 5)
    assert np.array_equal(d1, d2) and np.array_equal(c1, c2) and np.array_equal(m1, m2)
    assert d1.shape == c1.shape == (5, 32, 32) and not np.array_equal(d1, c1)
    assert not np.array_equal(s.sample(8, 5)[1], c1)


def test_split_l1_weights_global_errors_down_and_detail_fully():
    rng = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 1, 40, 40, generator=rng)
    assert split_l1(target, target, 0.25).item() == 0
    # A frame-wide offset is pure low frequency: it costs only `lowpass` times its size.
    assert split_l1(target + 0.1, target, 0.25).item() == pytest.approx(0.025, rel=1e-4)
    # Pixel noise is nearly all detail: it costs about its full L1.
    noise = torch.randn(target.shape, generator=rng) * 0.05
    full = noise.abs().mean().item()
    assert 0.8 * full < split_l1(target + noise, target, 0.0).item() < 1.2 * full
    # The blur keeps the mean and the shape, and smooths at the stated scale.
    img = torch.zeros(1, 31, 31)
    img[0, 15, 15] = 1
    b = gaussian_blur(img, LOWPASS_SIGMA)
    assert b.shape == img.shape and b.sum().item() == pytest.approx(1.0, rel=1e-5)
    expected = np.exp(-4 / (2 * LOWPASS_SIGMA ** 2))
    assert b[0, 15, 15 + 2].item() / b[0, 15, 15].item() == pytest.approx(expected, rel=1e-4)


def test_gate_supervision_is_relative_and_cannot_be_met_by_saturating():
    damage = torch.zeros(2, 1, 8, 8)
    damage[0, :, 2:4, 2:4] = 1.0
    assert gate_loss(torch.rand(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)) is None  # nothing damaged
    # Every gate at 1 (the collapse this guards against) misses the margin in full ...
    logits = torch.full((2, 1, 8, 8), 12.0, requires_grad=True)
    loss = gate_loss(torch.sigmoid(logits), damage)
    assert loss.item() == pytest.approx(GATE_MARGIN, abs=1e-4)
    # ... and is pushed down where the frame is undamaged, up where it is damaged.
    logits = torch.zeros(2, 1, 8, 8, requires_grad=True)
    gate_loss(torch.sigmoid(logits), damage).backward()
    g = logits.grad[0, 0]
    assert (g[2:4, 2:4] < 0).all() and (g[5:, 5:] > 0).all() and (logits.grad[1] == 0).all()
    # Damaged pixels trusting the state by the margin more than the rest: nothing to learn.
    m = torch.full((2, 1, 8, 8), 0.4)
    m[0, :, 2:4, 2:4] = 0.4 + GATE_MARGIN + 0.01
    assert gate_loss(m, damage).item() == 0


def test_samples_target_the_clean_clip_in_the_degraded_clips_tone(frames_folder, tmp_path):
    s = ClipSampler(tiny(frames_folder), tmp_path)
    faded = 0
    for k in range(12):
        deg, target, _ = s.sample(k, 4)
        rng = np.random.default_rng([s.cfg.seed, k])  # the sample's own draws, replayed
        rng.integers(len(s.sources))
        clean = content.folder_clip(s.sources[0], rng, 4, s.cfg.crop)
        if rng.random() < 0.5:
            clean = clean[::-1]
        # Undamaged content under the clip's fading: an affine map of the clean clip.
        a = np.polyfit(clean.ravel(), target.ravel(), 1)
        assert np.abs(np.polyval(a, clean) - target).max() < 1e-5
        faded += not np.allclose(a, [1, 0], atol=1e-6)
    assert 0 < faded < 12  # medium fades about half the clips


def test_older_restoration_checkpoints_are_refused(frames_folder, tmp_path):
    run = tmp_path / "run"
    t = Trainer(tiny(frames_folder, iters=1), run, tmp_path, log=lambda m: None)
    t.run()
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    del ckpt["train_config"]["lowpass"]  # written before the split loss and the toned target
    torch.save(ckpt, run / "checkpoint.pt")
    with pytest.raises(ValueError, match="earlier restoration recipe"):
        Trainer(tiny(frames_folder, iters=1), run, tmp_path)


def test_train_checkpoint_resume_and_export(frames_folder, tmp_path):
    run = tmp_path / "run"
    logs = []
    t = Trainer(tiny(frames_folder), run, tmp_path, log=logs.append)
    t.run()
    assert t.step == 3 and (run / "checkpoint.pt").is_file()
    records = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in records)

    # Same settings resume where they stopped; changed settings are refused, not mixed.
    again = Trainer(tiny(frames_folder), run, tmp_path, log=logs.append)
    assert again.step == 3 and any("resumed" in l for l in logs)
    for v, v2 in zip(t.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(v, v2)
    with pytest.raises(ValueError, match="other settings"):
        Trainer(tiny(frames_folder, crop=48), run, tmp_path)
    # How often it logs and checkpoints, and on which device, is not what the run learns.
    assert Trainer(tiny(frames_folder, log_every=7, checkpoint_every=9), run, tmp_path, log=logs.append).step == 3

    manifest = tmp_path / "weights" / "manifest.json"
    res = again.export(tmp_path / "weights" / "mine.safetensors", manifest, "mine", "python scripts/train.py ...")
    entry = json.loads(manifest.read_text())["weights"]["mine"]
    assert entry["sha256"] == res["sha256"] and entry["training"]["iterations"] == 3
    loaded = load_model(tmp_path / "weights" / "mine.safetensors")
    assert loaded.config == t.model.config


def test_a_new_run_can_start_from_another_runs_weights(frames_folder, tmp_path):
    first = Trainer(tiny(frames_folder, iters=2), tmp_path / "a", tmp_path, log=lambda m: None)
    first.run()
    tuned = tiny(frames_folder, iters=1, perceptual=0.01, init=str(tmp_path / "a" / "checkpoint.pt"))
    second = Trainer(tuned, tmp_path / "b", tmp_path, log=lambda m: None)
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    second.run()
    # The provenance counts both runs, and survives a resume.
    assert Trainer(tuned, tmp_path / "b", tmp_path, log=lambda m: None).init_iterations == 2
    info = second.export(tmp_path / "w.safetensors", None, "w", "cmd")["training"]
    assert info["iterations"] == 3 and info["init_iterations"] == 2
    with pytest.raises(ValueError, match="'init' must be"):
        Trainer(tiny(frames_folder, init=str(tmp_path / "missing.pt")), tmp_path / "c", tmp_path)
    assert not (tmp_path / "c").exists()  # refused before anything is written
    with pytest.raises(ValueError, match="another architecture"):
        Trainer(tiny(frames_folder, model="color-compact", init=str(tmp_path / "a" / "checkpoint.pt")),
                tmp_path / "d", tmp_path)


def test_a_run_moves_weights_onto_another_dis_preset(frames_folder, tmp_path):
    """--dis-preset: the weights start as they were and the exported network runs (and says it
    runs) with the preset it was trained on."""
    first = Trainer(tiny(frames_folder, iters=1), tmp_path / "a", tmp_path, log=lambda m: None)
    first.run()
    assert first.model.config.dis_preset == "medium"
    cfg = tiny(frames_folder, iters=1, dis_preset="fast", init=str(tmp_path / "a" / "checkpoint.pt"))
    tuned = Trainer(cfg, tmp_path / "b", tmp_path, log=lambda m: None)
    assert tuned.model.config.dis_preset == "fast" and tuned.model.flow.preset == "fast"
    for a, b in zip(first.model.state_dict().values(), tuned.model.state_dict().values()):
        assert torch.equal(a, b)
    tuned.run()
    tuned.export(tmp_path / "fast.safetensors", None, "fast", "cmd")
    assert load_model(str(tmp_path / "fast.safetensors")).config.dis_preset == "fast"
    with pytest.raises(Exception, match="dis_preset"):
        Trainer(tiny(frames_folder, dis_preset="slow"), tmp_path / "c", tmp_path, log=lambda m: None)


def test_sample_workers_give_the_same_run(frames_folder, tmp_path):
    """Samples drawn in worker processes (and the next batch's started early) are the samples the
    training process would draw: the same losses and the same weights."""
    runs = {}
    for workers in (0, 2):
        run = tmp_path / f"w{workers}"
        t = Trainer(tiny(frames_folder, iters=3, workers=workers), run, tmp_path, log=lambda m: None)
        t.run()
        assert t._pool is None  # the workers are stopped when the run ends
        runs[workers] = ([json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()],
                         t.model.state_dict())
    assert runs[0][0] == runs[2][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1].values(), runs[2][1].values()))
    with pytest.raises(ValueError, match="'workers' must be >= 0"):
        Trainer(tiny(frames_folder, workers=-1), tmp_path / "bad", tmp_path)


def test_a_run_starts_from_shipped_weights_and_records_their_lineage(frames_folder, tmp_path):
    """Shipped weights are the point further training starts from: no checkpoint is needed, and
    the exported record carries every run that made them, with its settings and log."""
    from vsrtn.weights import load_model, weights_info

    shipped = weights_info("rtn-compact")["training"]
    cfg = tiny(frames_folder, model="compact", iters=1, init="rtn-compact")
    t = Trainer(cfg, tmp_path / "next", tmp_path, log=lambda m: None)
    for a, b in zip(load_model("rtn-compact").state_dict().values(), t.model.state_dict().values()):
        assert torch.equal(a, b)
    assert t.init_iterations == shipped["iterations"]
    t.run()
    record = t.export(tmp_path / "w.safetensors", None, "w", "cmd")["training"]
    assert record["lineage"][:-1] == shipped["lineage"]
    assert record["lineage"][-1]["run"] == "next" and record["lineage"][-1]["iterations"] == 1
    assert [r["iter"] for r in record["lineage"][-1]["log"]] == [1]
    assert weights_info(tmp_path / "w.safetensors")["training"]["lineage"] == record["lineage"]
    with pytest.raises(ValueError, match="'init' must be a run's checkpoint.pt or vsrtn weights: no weights named"):
        Trainer(tiny(frames_folder, init="no-such-weights"), tmp_path / "c", tmp_path)
