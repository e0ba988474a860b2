"""Colorization training: runs, resumes, exports; hint holes, the ab loss, keyframe chains as at run time."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import H, W, colored, moving_clip


def _color_frames(tmp_path):
    seq = tmp_path / "data" / "000"
    seq.mkdir(parents=True)
    big = cv2.GaussianBlur(np.random.default_rng(0).random((64, 120, 3), dtype=np.float32), (0, 0), 2)
    for i in range(12):
        cv2.imwrite(str(seq / f"{i:05d}.png"), np.rint(big[:, i:i + 64] * 255 / big.max()).astype(np.uint8))
    return tmp_path / "data"


def test_color_training_runs_resumes_and_exports(tmp_path):
    from vsrtn.models.colorize import is_color_model
    from vsrtn.train.config import TrainConfig
    from vsrtn.train.samplers import ColorSampler
    from vsrtn.train.trainer import Trainer
    from vsrtn.weights import load_model

    cfg = TrainConfig(model="color-compact", frames=(3, 4), crop=32, batch=2, iters=2, perceptual=0.0,
                      mask_supervision=0.0, data=str(_color_frames(tmp_path)), log_every=1, checkpoint_every=1)
    clip, ref, index = ColorSampler(cfg, tmp_path).sample(3, 4)
    again = ColorSampler(cfg, tmp_path).sample(3, 4)
    assert clip.shape == (4, 32, 32, 3) and ref.shape == (32, 32, 3) and np.array_equal(clip, again[0])
    assert index is None or np.array_equal(clip[index], ref)
    run = tmp_path / "run"
    t = Trainer(cfg, run, tmp_path, log=lambda m: None)
    t.run()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [1, 2] and all(np.isfinite(r["loss"]) for r in records)
    assert Trainer(cfg, run, tmp_path, log=lambda m: None).step == 2
    res = t.export(tmp_path / "c.safetensors", None, "c", "python scripts/train.py ...")
    assert is_color_model(load_model(res["path"]).config)


def test_hint_holes_are_seeded_ellipses_for_the_given_share():
    from vsrtn.train.samplers import hint_holes

    masks = [hint_holes(np.random.default_rng([0, k, 2]), 64, 1.0) for k in range(40)]
    assert all(m.shape == (64, 64) and m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0} for m in masks)
    cover = np.array([m.mean() for m in masks])
    # 1-3 ellipses with semi-axes of 10-30 % of the side: never nothing, never most of the frame
    assert cover.min() > 0.005 and cover.max() < 0.85 and 0.05 < cover.mean() < 0.4
    assert np.array_equal(masks[5], hint_holes(np.random.default_rng([0, 5, 2]), 64, 1.0))
    assert not np.array_equal(masks[5], masks[6])
    drawn = [hint_holes(np.random.default_rng([1, k]), 32, 0.5).any() for k in range(200)]
    assert 0.35 < np.mean(drawn) < 0.65
    assert not any(hint_holes(np.random.default_rng([1, k]), 32, 0.0).any() for k in range(20))


def test_l2_ab_loss_lets_the_wrong_pixels_lead():
    from vsrtn.train.losses import L2_UNIT, ab_pixel_loss

    target = torch.zeros(1, 2, 2, 8, 8)
    grads = {}
    for kind in ("l1", "l2"):
        out = torch.zeros(1, 2, 2, 8, 8)
        out[..., :4] = 0.01  # nearly right
        out[..., 4:] = 0.5  # wrong
        out.requires_grad_(True)
        ab_pixel_loss(out, target, kind).backward()
        grads[kind] = out.grad
    assert torch.allclose(grads["l1"][..., :4], grads["l1"][..., 4:])  # L1: every pixel pulls alike
    ratio = (grads["l2"][..., :4] / grads["l2"][..., 4:]).mean().item()
    assert ratio == pytest.approx(0.01 / 0.5, rel=1e-4)  # L2: in proportion to the error
    at_unit = torch.full((1, 2, 2, 8, 8), L2_UNIT, requires_grad=True)
    ab_pixel_loss(at_unit, target, "l2").backward()
    assert torch.allclose(at_unit.grad, grads["l1"][..., :1].mean().expand_as(at_unit.grad))  # as L1 at L2_UNIT


def test_color_training_with_holes_hides_the_hint_there_and_logs_the_decoder(tmp_path):
    from vsrtn.train.config import TrainConfig
    from vsrtn.train.trainer import Trainer

    data = _color_frames(tmp_path)
    base = dict(model="color-compact", frames=(3, 3), crop=32, batch=2, iters=2, perceptual=0.0, data=str(data),
                log_every=1, checkpoint_every=10)
    run = tmp_path / "run"
    Trainer(TrainConfig(**base, holes=1.0, ab_loss="l2"), run, tmp_path, log=lambda m: None).run()
    first, second = (json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())
    # The untrained network returns its hint: in a hole that is no color, so its error there is
    # the true color's whole size.
    assert first["hole_l1"] == pytest.approx(first["hole_l1_hint"], rel=1e-5) and first["hole_l1"] > 0.005
    assert first["head_std"] > 1e-4 and np.isfinite(second["head_std"])
    for bad, match in ((dict(holes=1.5), "'holes' must be a share in \\[0, 1\\], got 1.5"),
                       (dict(ab_loss="huber"), "'ab_loss' must be 'l1' or 'l2', got 'huber'")):
        with pytest.raises(ValueError, match=match):
            Trainer(TrainConfig(**{**base, **bad}), tmp_path / "bad", tmp_path, log=lambda m: None)


def test_training_hints_carry_a_tied_keyframe_along_the_clip_as_at_run_time():
    from vsrtn.models.colorize import ChainState
    from vsrtn.train.samplers import keyframe_chains

    clip = moving_clip(5, H, W)
    ref = colored(clip[4], 0.5)
    chained = keyframe_chains(ref, 4, clip, ref_index=3)  # a reversed sample: the keyframe is the last frame
    assert len(chained) == 5 and all(len(c) == 1 and c[0][0] == 3 for c in chained)
    assert [c[0][1].steps for c in chained] == [4, 3, 2, 1, 0]  # walked backward from frame 4
    assert all(isinstance(c[0][1], ChainState) for c in chained)
    assert keyframe_chains(ref, None, clip, ref_index=3) is None  # an untied reference has no chain
