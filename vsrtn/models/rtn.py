"""The Recurrent Transformer Network of "Bringing Old Films Back to Life" (Wan et al., CVPR 2022).

Calling convention of the published network: `model(x)` with x of shape (N,T,3,H,W) in [-1, 1]
(gray replicated to 3 channels) returns the restored clip, same shape, in [-1, 1]. Unlike the
published code it takes any frame size (padding internally) and per-frame scene cuts.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vsrtn.models.config import PUBLISHED, RTNConfig
from vsrtn.models.flow import build_flow
from vsrtn.models.ops import flow_warp, pad_to, padded_size
from vsrtn.models.swin import SpatialTrunk


def cat_channels(parts: list[torch.Tensor]) -> torch.Tensor:
    """torch.cat along channels, keeping the first part's channels-last layout (torch.cat would
    return a channels-first tensor that the next convolution converts again)."""
    first = parts[0]
    if first.is_contiguous() or not first.is_contiguous(memory_format=torch.channels_last):
        return torch.cat(parts, 1)
    n, _, h, w = first.shape
    out = torch.empty((n, sum(p.shape[1] for p in parts), h, w), dtype=first.dtype, device=first.device,
                      memory_format=torch.channels_last)
    c = 0
    for p in parts:
        out[:, c:c + p.shape[1]] = p
        c += p.shape[1]
    return out


class GatedAggregation(nn.Module):
    """Blend the flow-warped previous state with features of the current frame through a learned
    soft mask M: M*warped + (1-M)*E. M is low where the warped state disagrees with the frame
    (damage, occlusion), so defects of a neighbour are not carried forward."""

    def __init__(self, num_feat: int, in_channels: int = 3) -> None:
        super().__init__()
        self.embed = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.mask1 = nn.Conv2d(2 * num_feat + 1, num_feat // 2, 3, padding=1)
        self.mask2 = nn.Conv2d(num_feat // 2, 1, 3, padding=1)

    def forward(self, frame: torch.Tensor, warped: torch.Tensor | None, residual: torch.Tensor | None,
                keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (aggregated state, mask). `warped` None: first frame of a direction.
        `keep` (N,1,1,1) of 0/1 zeroes the mask of samples whose shot starts here."""
        emb = self.embed(frame)
        if warped is None:
            return emb, None
        m = torch.sigmoid(self.mask2(F.leaky_relu(self.mask1(cat_channels([warped, emb, residual])), 0.2)))
        if keep is not None:
            m = m * keep
        return m * warped + (1 - m) * emb, m


class FusionHead(nn.Module):
    """Decode the two directions' states into a residual image."""

    def __init__(self, num_feat: int, out_channels: int = 3) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(2 * num_feat, num_feat, 3, padding=1)
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv3 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.out = nn.Conv2d(num_feat, out_channels, 3, padding=1)

    def forward(self, backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.fuse(cat_channels([backward, forward])), 0.1)
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.leaky_relu(conv(x), 0.1)
        return self.out(x)


class RTN(nn.Module):
    """Bidirectional recurrent restoration network (see module docstring)."""

    def __init__(self, config: RTNConfig = PUBLISHED) -> None:
        super().__init__()
        self.config = config
        c = config
        self.flow = build_flow(c)
        self.backward_gate = GatedAggregation(c.num_feat, c.in_channels)
        self.forward_gate = GatedAggregation(c.num_feat, c.in_channels)
        trunk = (c.num_feat, c.embed_dim, c.depths, c.num_heads, c.window_size, c.mlp_ratio)
        self.backward_trunk = SpatialTrunk(*trunk)
        self.forward_trunk = SpatialTrunk(*trunk)
        self.head = FusionHead(c.num_feat, c.out_channels)
        if c.output == "linear":  # start as the identity: output = input until trained
            nn.init.zeros_(self.head.out.weight)
            nn.init.zeros_(self.head.out.bias)

    @torch.no_grad()
    def compute_flow(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows of the published network for x (N,T,3,H,W) in [-1, 1]:
        forward_flow[:, i] aligns frame i with frame i+1, backward_flow[:, i] frame i+1 with frame i."""
        g = self.config.guide_channel
        frames = ((x[:, :, g:g + 1].float() + 1) / 2).expand(-1, -1, 3, -1, -1)
        forward_flow = self._flow_pairs(frames[:, 1:], frames[:, :-1])
        backward_flow = self._flow_pairs(frames[:, :-1], frames[:, 1:])
        return forward_flow, backward_flow

    def forward(self, x: torch.Tensor, cuts: torch.Tensor | None = None,
                flows: tuple[torch.Tensor, torch.Tensor] | None = None,
                out_range: tuple[int, int] | None = None, masks: list | None = None) -> torch.Tensor:
        """Restore x (N,T,in_channels,H,W) in [-1, 1] -> (N,T',out_channels,H,W).

        cuts: (T,) or (N,T) bool, frame t starts a new shot: nothing propagates across it.
        flows: a precomputed `compute_flow(x)` result.
        out_range: (a, b) returns only frames a..b-1, identical to slicing the full result, but
        the backward pass stops at frame a and the forward pass at frame b-1.
        masks: if a list is given, (direction, frame, soft mask) is appended for every propagated
        frame (used to supervise the masks in training).
        Flows and the gate's warping residual are computed from input channel
        `config.guide_channel` (the luma).
        """
        n, t, c, h, w = x.shape
        a, b = out_range if out_range is not None else (0, t)
        if not 0 <= a < b <= t:
            raise ValueError(f"RTN.forward: out_range must satisfy 0 <= a < b <= {t}, got {out_range}")
        ph, pw = padded_size(h, self.config.size_multiple), padded_size(w, self.config.size_multiple)
        x = pad_to(x, ph, pw)
        g = self.config.guide_channel
        guide = x[:, :, g:g + 1]
        if flows is None:
            frames = ((guide.float() + 1) / 2).expand(-1, -1, 3, -1, -1)
            # Only the pairs this range needs: forward pairs 0..b-2, backward pairs a..t-2.
            fwd = self._flow_pairs(frames[:, 1:b], frames[:, :b - 1])
            bwd = self._flow_pairs(frames[:, a:t - 1], frames[:, a + 1:t])
            bwd_base = a
        else:
            fwd, bwd = (pad_to(f, ph, pw) for f in flows)  # edge flow continues into the padding
            bwd_base = 0
        # Per-frame activations channels-last on the CPU: oneDNN's convolutions of these few
        # channels run 1.4-2.8x faster that way (measured; unmeasured on CUDA, left as is there).
        layout = torch.channels_last if x.device.type == "cpu" else torch.preserve_format
        keep = None
        if cuts is not None:
            cuts = torch.as_tensor(cuts, device=x.device).bool()
            cuts = cuts.expand(n, t) if cuts.dim() == 1 else cuts
            keep = (~cuts).to(x.dtype).view(n, t, 1, 1, 1)

        def step(gate: GatedAggregation, trunk: SpatialTrunk, i: int, j: int, state: torch.Tensor | None,
                 flow: torch.Tensor | None, direction: str) -> torch.Tensor:
            """One recurrence step at frame i from the state of its neighbour j (None: no state)."""
            cur = x[:, i].to(memory_format=layout)
            if state is None:
                agg, _ = gate(cur, None, None)
            else:
                residual = (flow_warp(guide[:, j], flow) - guide[:, i]).abs()
                # A cut is flagged on the later frame of the pair, whichever direction we run.
                warped = flow_warp(state, flow).to(memory_format=layout)
                agg, mask = gate(cur, warped, residual, None if keep is None else keep[:, max(i, j)])
                if masks is not None:
                    masks.append((direction, i, mask[..., :h, :w]))
            return trunk(agg)

        # Backward direction (last frame to first); the states of the output range are kept.
        states: dict[int, torch.Tensor] = {}
        state = None
        for i in range(t - 1, a - 1, -1):
            flow = None if state is None else bwd[:, i - bwd_base]
            state = step(self.backward_gate, self.backward_trunk, i, i + 1, state, flow, "backward")
            if i < b:
                states[i] = state

        # Forward direction, fused with the stored backward state frame by frame.
        out = []
        state = None
        for i in range(b):
            flow = None if state is None else fwd[:, i - 1]
            state = step(self.forward_gate, self.forward_trunk, i, i - 1, state, flow, "forward")
            if i >= a:
                y = self.head(states.pop(i), state) + x[:, i, :self.config.out_channels]
                if self.config.output == "tanh":
                    y = torch.tanh(y)
                elif not self.training:
                    y = y.clamp(-1, 1)
                out.append(y)
        return torch.stack(out, dim=1)[..., :h, :w]

    @torch.no_grad()
    def _flow_pairs(self, ref: torch.Tensor, src: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        """Flow for each pair (ref[:, k], src[:, k]) -> (N,K,2,H,W), a few pairs at a time
        (RAFT's correlation volume grows with the square of the frame area)."""
        n, k, c, h, w = ref.shape
        if k == 0:
            return ref.new_zeros(n, 0, 2, h, w, dtype=torch.float32)
        r, s = ref.reshape(n * k, c, h, w), src.reshape(n * k, c, h, w)
        parts = [self.flow(r[i:i + chunk], s[i:i + chunk]) for i in range(0, n * k, chunk)]
        return torch.cat(parts).view(n, k, 2, h, w)
