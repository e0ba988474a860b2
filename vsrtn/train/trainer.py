"""The training loop of RTN models (restoration and colorization): checkpoints, resume, export.
Samples come from `samplers`, losses from `losses`, settings from `config`.

Restoration: clean clips come from photographs moved by a synthetic camera (or the user's own
videos); each sample is degraded on the fly by the degradation model with a preset drawn at
random (or one fixed preset) and a fresh seed. Loss: L1 + VGG16 perceptual (+ optional
spatio-temporal PatchGAN hinge loss and soft-mask supervision from the damage mask).
Colorization (a color config, 5 inputs and 2 outputs, e.g. `color-compact`): color photographs
under camera motion, the clip's luma as input and a color reference; loss L1 on ab + perceptual
on RGB (+ optional PatchGAN on RGB). Everything is seeded; a run resumes from its last checkpoint.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vsrtn.atomic import AtomicFile
from vsrtn.models.config import NAMED_CONFIGS, RTNConfig
from vsrtn.models.rtn import RTN
from vsrtn.train.config import BOOKKEEPING, TrainConfig
from vsrtn.train.losses import STDiscriminator, ab_pixel_loss, gate_loss, psnr, split_l1
from vsrtn.train.samplers import ClipSampler, ColorSampler, hint_holes, keyframe_chains, start_worker, worker_sample


def _check_init(init: str) -> None:
    """Refuse an `init` that is neither a run's checkpoint.pt nor vsrtn weights, before any work."""
    if init.endswith(".pt") or init.endswith(".safetensors") or os.sep in init:
        if not Path(init).is_file():
            raise ValueError(f"train: 'init' must be a run's checkpoint.pt or vsrtn weights, got {init} (not a file)")
        return
    from vsrtn.errors import WeightsError
    from vsrtn.weights import find_weights

    try:
        find_weights(init)
    except WeightsError as exc:
        raise ValueError(f"train: 'init' must be a run's checkpoint.pt or vsrtn weights: {exc}") from None


LOG_EVERY_IN_RECORD = 100  # iterations between the log lines a weights file's training record keeps


def run_record(run_dir: Path, iterations: int, settings: dict[str, Any]) -> dict[str, Any]:
    """One run of a weights file's lineage: its settings and its log, thinned, up to `iterations`."""
    log = []
    path = run_dir / "log.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    records = [r for r in (json.loads(line) for line in lines if line.strip()) if r.get("iter", 0) <= iterations]
    for i, r in enumerate(records):
        if "iter" in r and (r["iter"] % LOG_EVERY_IN_RECORD == 0 or i == len(records) - 1):
            log.append({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in r.items() if k != "eta_s"})
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    return {"run": run_dir.name, "iterations": iterations, "settings": settings, "log": log}


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, cache: Path, log=None) -> None:
        if cfg.init:
            _check_init(cfg.init)
        for name in ("objects", "holes"):
            if not 0.0 <= getattr(cfg, name) <= 1.0:
                raise ValueError(f"train: '{name}' must be a share in [0, 1], got {getattr(cfg, name)}")
        if cfg.workers < 0:
            raise ValueError(f"train: 'workers' must be >= 0, got {cfg.workers}")
        if cfg.head_init < 0:
            raise ValueError(f"train: 'head_init' must be >= 0, got {cfg.head_init}")
        if cfg.ab_loss not in ("l1", "l2"):
            raise ValueError(f"train: 'ab_loss' must be 'l1' or 'l2', got {cfg.ab_loss!r}")
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.run_dir / "log.jsonl", "a")
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        torch.manual_seed(cfg.seed)
        self.device = torch.device(cfg.device)
        self.model = RTN(self._model_config()).to(self.device).train()
        from vsrtn.models.colorize import is_color_model

        self.color = is_color_model(self.model.config)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.disc = self.opt_d = None
        if cfg.gan > 0:
            self.disc = STDiscriminator(3 if self.color else 1).to(self.device)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr, betas=(0.5, 0.99))
        self.vgg = None
        if cfg.perceptual > 0:
            from vsrtn.features import VGG16Features

            self.vgg = VGG16Features(depth=3).to(self.device)
        # Built here even when workers draw the samples: it gathers the training content once (the
        # workers then only read it) and reports missing data before any worker starts.
        self.sampler = (ColorSampler if self.color else ClipSampler)(cfg, cache, self.log)
        self._cache = cache
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[int, list[Future]] = {}  # step -> its batch's samples under way
        self.matcher = None
        if self.color:
            from vsrtn.models.colorize import ReferenceMatcher

            self.matcher = ReferenceMatcher(self.device)
        # The spread of the features the output layer reads: near zero, the decoder has gone quiet
        # (a network that settled on adding nothing), which the loss alone does not show.
        self._head_in: torch.Tensor | None = None
        self.model.head.out.register_forward_hook(self._watch_head)
        self.step = 0
        self.init_iterations = 0  # training the init weights had had
        self.lineage: list[dict[str, Any]] = []  # the runs that made the init weights, oldest first
        self._stop = False
        if not self._resume():
            if cfg.init:
                self._initialise(cfg.init)
            elif cfg.head_init > 0:
                nn.init.normal_(self.model.head.out.weight, std=cfg.head_init)

    def _model_config(self) -> RTNConfig:
        if self.cfg.model not in NAMED_CONFIGS:
            raise ValueError(f"train: 'model' must be one of {sorted(NAMED_CONFIGS)}, got {self.cfg.model!r}")
        cfg = NAMED_CONFIGS[self.cfg.model]
        if cfg.flow == "raft":  # no RAFT weights exist offline: train with DIS flow
            cfg = replace(cfg, flow="dis")
        if self.cfg.dis_preset is not None:
            cfg = replace(cfg, dis_preset=self.cfg.dis_preset)
        return cfg

    def _watch_head(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self._head_in = inputs[0].detach()  # the last frame's; its spread is taken once a step

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def _same_model(self, ckpt: dict[str, Any]) -> bool:
        """Was `ckpt` written by a model of this run's architecture?"""
        return RTNConfig.from_dict(ckpt.get("model_config", {})) == self.model.config

    def _initialise(self, source: str) -> None:
        """Start from the model weights of a run's checkpoint.pt or of vsrtn weights (a name or a
        .safetensors file) of this run's architecture; their training record becomes the lineage."""
        if source.endswith(".pt"):
            ckpt = torch.load(source, map_location=self.device, weights_only=True)
            config, state = RTNConfig.from_dict(ckpt.get("model_config", {})), ckpt["model"]
            self.init_iterations = int(ckpt["step"]) + int(ckpt.get("init_iterations", 0))
            self.lineage = [*ckpt.get("lineage", []), run_record(Path(source).parent, int(ckpt["step"]),
                                                                 ckpt["train_config"])]
        else:
            from vsrtn.weights import load_model, weights_info

            model = load_model(source)
            config, state = model.config, model.state_dict()
            training = weights_info(source).get("training", {})
            self.init_iterations = int(training.get("iterations", 0))
            self.lineage = list(training.get("lineage", []))
        # The DIS preset is no part of the architecture: weights move onto another preset by training.
        if replace(config, dis_preset=self.model.config.dis_preset) != self.model.config:
            raise ValueError(f"train: 'init' {source} holds another architecture ({config.to_dict()})")
        self.model.load_state_dict(state)
        self.log(f"train: starting from {source} ({self.init_iterations} iterations)")

    def _resume(self) -> bool:
        """Load this run's checkpoint if there is one; True if it did."""
        if not self.checkpoint_path.is_file():
            return False
        ckpt = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        same_model = self._same_model(ckpt)
        if not self.color and "lowpass" not in ckpt["train_config"]:
            raise ValueError(f"train: {self.checkpoint_path} was made by an earlier restoration recipe (plain L1 "
                             "towards the unfaded clip); use another --run directory")
        try:  # settings added since the checkpoint was written take their defaults
            stored = TrainConfig(**ckpt["train_config"])
            same_settings = replace(stored, **{k: getattr(self.cfg, k) for k in BOOKKEEPING}) == self.cfg
        except TypeError:
            same_settings = False
        if not (same_settings and same_model):
            raise ValueError(f"train: {self.checkpoint_path} was made with other settings "
                             f"({ckpt['train_config']}, model {ckpt.get('model_config')}); use another --run directory")
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["opt"])
        if self.disc is not None and "disc" in ckpt:
            self.disc.load_state_dict(ckpt["disc"])
            self.opt_d.load_state_dict(ckpt["opt_d"])
        self.step = ckpt["step"]
        self.init_iterations = int(ckpt.get("init_iterations", 0))
        self.lineage = list(ckpt.get("lineage", []))
        self.log(f"train: resumed {self.checkpoint_path} at iteration {self.step}")
        return True

    def save_checkpoint(self) -> None:
        ckpt = {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                "init_iterations": self.init_iterations, "lineage": self.lineage,
                "train_config": asdict(self.cfg), "model_config": self.model.config.to_dict()}
        if self.disc is not None:
            ckpt["disc"], ckpt["opt_d"] = self.disc.state_dict(), self.opt_d.state_dict()
        with AtomicFile(self.checkpoint_path) as tmp:
            torch.save(ckpt, tmp)

    # ------------------------------------------------------------------ loop
    def _lr(self) -> float:
        c = self.cfg
        return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * min(self.step, c.iters) / c.iters))

    def _frames(self, step: int | None = None) -> int:
        """Clip length of the batch of `step` (default: the current one)."""
        lo, hi = self.cfg.frames
        step = self.step if step is None else step
        return int(np.random.default_rng([self.cfg.seed, step, 7]).integers(lo, hi + 1))

    def _batch(self) -> list:
        """The current step's samples; with `workers`, drawn in worker processes while the step
        before trains, and the next step's are started before this one's are used."""
        c = self.cfg
        if c.workers == 0:
            frames = self._frames()
            return [self.sampler.sample(self.step * c.batch + b, frames) for b in range(c.batch)]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(c.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=start_worker, initargs=(c, self._cache, self.color))
        for step in (self.step, self.step + 1):
            if step not in self._pending and step < c.iters:
                frames = self._frames(step)
                self._pending[step] = [self._pool.submit(worker_sample, step * c.batch + b, frames)
                                       for b in range(c.batch)]
        return [f.result() for f in self._pending.pop(self.step)]

    def close(self) -> None:
        """Stop the sample workers, if any."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            self._pending.clear()

    def _perceptual(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """VGG16 perceptual L1 on a few frames of (B, T, C, H, W) clips in [-1, 1] (C = 1 or 3)."""
        t = out.shape[1]
        idx = torch.linspace(0, t - 1, self.cfg.perceptual_frames).round().long().tolist()
        a = out[:, idx].flatten(0, 1).expand(-1, 3, -1, -1)
        b = target[:, idx].flatten(0, 1).expand(-1, 3, -1, -1)
        return sum(F.l1_loss(fa, fb) for fa, fb in zip(self.vgg(a), self.vgg(b)))

    def _restore_loss(self, stats: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, output, target) of one restoration batch; clips (B, T, 1, H, W) in [-1, 1]."""
        c = self.cfg
        items = self._batch()
        deg, goal, damage = (torch.from_numpy(np.stack(x)).to(self.device) for x in zip(*items))
        x = deg.mul(2).sub(1).unsqueeze(2).expand(-1, -1, 3, -1, -1)
        masks: list | None = [] if c.mask_supervision > 0 else None
        out = self.model(x, masks=masks)[:, :, :1]
        target = goal.mul(2).sub(1).unsqueeze(2)
        loss = split_l1(out, target, c.lowpass)
        stats["l1"] = loss.item()
        if masks:
            terms = [t for _, i, m in masks if (t := gate_loss(m, damage[:, i].unsqueeze(1))) is not None]
            if terms:
                mloss = torch.stack(terms).mean()
                loss = loss + c.mask_supervision * mloss
                stats["mask"] = mloss.item()
        stats["psnr_in"] = psnr(deg, goal)
        return loss, out, target

    def _color_loss(self, stats: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, output RGB, target RGB) of one colorization batch; RGB clips (B, T, 3, H, W) in [-1, 1]."""
        from vsrtn.color import AB_SCALE, gray_to_lightness, lab_to_rgb, rgb_luma, rgb_to_lab
        from vsrtn.models.colorize import ReferenceSet, color_hints, network_input

        c = self.cfg
        frames = self._frames()
        items = self._batch()
        rgb = torch.from_numpy(np.stack([i[0] for i in items])).permute(0, 1, 4, 2, 3).to(self.device)
        refs = ReferenceSet.from_rgb(torch.from_numpy(np.stack([i[1] for i in items])).permute(0, 3, 1, 2),
                                     self.matcher)
        gray = rgb_luma(rgb)  # the film's luma (BT.709), as the plugin reads gray clips
        light = gray_to_lightness(gray)
        ab = rgb_to_lab(rgb)[:, :, 1:]
        hints = [color_hints(self.matcher, gray[b].cpu(), [[b]] * frames, refs,
                              keyframe_chains(items[b][1], items[b][2], gray[b, :, 0].cpu().numpy(), b))
                 for b in range(c.batch)]
        hint, match_conf, warp_conf = (torch.stack([h[i] for h in hints]).to(self.device) for i in range(3))
        if c.holes > 0:  # a stream of its own: runs without holes draw the samples they drew before
            holes = np.stack([hint_holes(np.random.default_rng([c.seed, self.step * c.batch + b, 2]), c.crop, c.holes)
                              for b in range(c.batch)])
            keep = 1 - torch.from_numpy(holes).to(self.device)[:, None, None]
            hint, match_conf, warp_conf = hint * keep, match_conf * keep, warp_conf * keep
        out_ab = self.model(network_input(light, hint, match_conf, warp_conf))
        goal_ab = ab / AB_SCALE
        loss = ab_pixel_loss(out_ab, goal_ab, c.ab_loss)
        stats["l1"] = loss.item()
        if c.holes > 0 and holes.any():  # how much of the holes' color the network has filled in
            inside = (1 - keep).expand_as(out_ab).bool()
            stats["hole_l1_hint"] = goal_ab[inside].abs().mean().item()
            stats["hole_l1"] = (out_ab.detach() - goal_ab)[inside].abs().mean().item()
        target = lab_to_rgb(torch.cat([light, ab], 2)).mul(2).sub(1)
        out = lab_to_rgb(torch.cat([light, out_ab * AB_SCALE], 2)).mul(2).sub(1)
        with torch.no_grad():
            stats["psnr_in"] = psnr(lab_to_rgb(torch.cat([light, hint], 2)), target.add(1).div(2))
        return loss, out, target

    def train_step(self) -> dict[str, float]:
        c = self.cfg
        stats: dict[str, float] = {}
        loss, out, target = (self._color_loss if self.color else self._restore_loss)(stats)
        if self.vgg is not None:
            perc = self._perceptual(out, target)
            loss = loss + c.perceptual * perc
            stats["perceptual"] = perc.item()
        if self.disc is not None:
            g_adv = -self.disc(out).mean()
            loss = loss + c.gan * g_adv
            stats["gan_g"] = g_adv.item()
        for g in self.opt.param_groups:
            g["lr"] = self._lr()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.disc is not None:
            d_loss = F.relu(1 - self.disc(target)).mean() + F.relu(1 + self.disc(out.detach())).mean()
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            stats["gan_d"] = d_loss.item()
        with torch.no_grad():
            stats["psnr_out"] = psnr(out.add(1).div(2).clamp(0, 1), target.add(1).div(2))
        stats["loss"] = loss.item()
        stats["head_std"] = float(self._head_in.float().std())
        return stats

    def run(self) -> None:
        """Train until `iters`; checkpoints regularly and on SIGINT/SIGTERM."""
        def stop(signum, frame):
            self._stop = True
            self.log(f"train: signal {signum}, saving a checkpoint at the end of this iteration")

        old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            t0, s0 = time.time(), self.step
            window: list[dict[str, float]] = []
            while self.step < self.cfg.iters and not self._stop:
                stats = self.train_step()
                self.step += 1
                window.append(stats)
                if self.step % self.cfg.log_every == 0 or self.step == self.cfg.iters:
                    keys = dict.fromkeys(k for w in window for k in w)
                    avg = {k: float(np.mean([w[k] for w in window if k in w])) for k in keys}
                    rate = (self.step - s0) / max(time.time() - t0, 1e-9)
                    eta = (self.cfg.iters - self.step) / max(rate, 1e-9)
                    record = {"iter": self.step, "lr": self._lr(), "it_per_s": rate, "eta_s": eta, **avg}
                    self._log_file.write(json.dumps(record) + "\n")
                    self._log_file.flush()
                    self.log(f"iter {self.step}/{self.cfg.iters} loss {avg['loss']:.4f} l1 {avg['l1']:.4f} "
                             f"psnr {avg['psnr_in']:.2f} -> {avg['psnr_out']:.2f} dB  head {avg['head_std']:.4f}  "
                             f"{rate:.2f} it/s  "
                             f"eta {eta / 3600:.1f} h")
                    window = []
                if self.step % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            self.save_checkpoint()
        finally:
            self.close()
            for s, h in old.items():
                signal.signal(s, h)

    def export(self, path: Path, manifest: Path | None, name: str, command: str) -> dict[str, Any]:
        """Write the current model as vsrtn weights (+ a manifest entry with its provenance)."""
        from vsrtn.weights import add_to_manifest, save_weights

        self.model.eval()
        info = {"config": self.model.config.to_dict(),
                "training": {"command": command, "iterations": self.init_iterations + self.step,
                             "init_iterations": self.init_iterations, "settings": asdict(self.cfg),
                             "lineage": [*self.lineage, run_record(self.run_dir, self.step, asdict(self.cfg))],
                             "data": self.cfg.data or "photographs from Debian wallpaper packages "
                                                      "and scikit-image (synthetic camera motion)"}}
        sha = save_weights(self.model, path, info)
        if manifest is not None:
            add_to_manifest(manifest, name, path, sha, info)
        return {"path": str(path), "sha256": sha, **info}
