"""The per-frame spatial restoration trunk: a SwinIR-style windowed transformer at half resolution.

Tokens are kept as (B, H, W, C) tensors (LayerNorm over the last axis); convolutions see NCHW.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_position_index(window: int) -> torch.Tensor:
    """(N, N) index into the (2w-1)^2 bias table for every pair of tokens in a window."""
    # On the CPU even inside a `torch.device("meta")` block: torch's Python meta kernels for these
    # ops would import torch._dynamo (0.7 s) where weights are checked before being loaded.
    ys, xs = torch.meshgrid(torch.arange(window, device="cpu"), torch.arange(window, device="cpu"), indexing="ij")
    coords = torch.stack((ys.flatten(), xs.flatten()))  # 2, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def shift_mask(h: int, w: int, window: int, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The shifted windows that straddle the wrap-around, and their additive masks: (index (nB,),
    mask (nB, N, N)). Only the last row and column of windows straddle it; every other window
    attends without a mask, so only these few masks are ever built."""
    region = torch.zeros(h, w)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[hs, ws] = label
            label += 1
    win = region.view(h // window, window, w // window, window).permute(0, 2, 1, 3).reshape(-1, window * window)
    index = (win != win[:, :1]).any(dim=1).nonzero().flatten()
    diff = win[index, None, :] - win[index, :, None]
    return index, torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


def window_order(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(h*w,) the flat index of the token at each place of the window layout (B, nW, N) after the
    frame is rolled by -shift: one gather partitions (and shifts) a frame, its inverse merges it."""
    ys = (torch.arange(h).view(h // window, 1, window, 1) + shift) % h
    xs = (torch.arange(w).view(1, w // window, 1, window) + shift) % w
    return (ys * w + xs).flatten()


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.window, self.heads = window, heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, border: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """x: (B, nW, N, C); border: `shift_mask`'s windows and masks, or None (no shift)."""
        b, nw, n, c = x.shape
        h = self.heads
        qkv = self.qkv(x).view(b, nw, n, 3, h, c // h).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)  # each (B, nW, heads, N, d)
        rel = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        rel = rel.view(n, n, h).permute(2, 0, 1).to(q.dtype)  # heads, N, N
        # The bias is broadcast, never copied per window: 4-D inputs with a broadcast 4-D mask
        # take PyTorch's fused kernel (5-D ones fall back to a slow path).
        out = F.scaled_dot_product_attention(*(t.reshape(b * nw, h, n, -1) for t in (q, k, v)),
                                             attn_mask=rel[None]).view(b, nw, h, n, -1)
        if border is not None:  # the few windows across the wrap-around again, with their masks
            index, mask = border
            nb = index.numel()
            bias = (rel + mask[:, None].to(q.dtype)).expand(b, nb, h, n, n).reshape(b * nb, h, n, n)
            part = F.scaled_dot_product_attention(
                *(t[:, index].reshape(b * nb, h, n, -1) for t in (q, k, v)), attn_mask=bias)
            out = out.index_copy(1, index, part.view(b, nb, h, n, -1))
        return self.proj(out.transpose(2, 3).reshape(b, nw, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self._layouts: dict[tuple, tuple] = {}

    def _layout(self, h: int, w: int, device: torch.device) -> tuple:
        """(window order, its inverse, `shift_mask` or None) for frames of h x w tokens."""
        key = (h, w, str(device))
        if key not in self._layouts:
            with torch.inference_mode(False):  # usable by training after a run in inference mode
                order = window_order(h, w, self.window, self.shift)
                border = shift_mask(h, w, self.window, self.shift) if self.shift else None
                self._layouts[key] = (order.to(device), torch.argsort(order).to(device),
                                      None if border is None else tuple(t.to(device) for t in border))
        return self._layouts[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        order, inverse, border = self._layout(h, w, x.device)
        # Tokens are gathered into (shifted) windows and back with one copy each way.
        y = self.norm1(x).reshape(b, h * w, c).index_select(1, order)
        y = self.attn(y.view(b, -1, self.window * self.window, c), border)
        x = x + y.view(b, h * w, c).index_select(1, inverse).view(b, h, w, c)
        return x + self.mlp(self.norm2(x))


class ResidualGroup(nn.Module):
    """Swin blocks (alternating plain / shifted windows) closed by a 3x3 conv, with a skip."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio) for i in range(depth))
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for blk in self.blocks:
            y = blk(y)
        return self.conv(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1) + x


class SpatialTrunk(nn.Module):
    """Restores one aggregated state (B, F, H, W) -> (B, F, H, W); H, W multiples of 2*window."""

    def __init__(self, num_feat: int, embed_dim: int, depths, heads, window: int, mlp_ratio: float) -> None:
        super().__init__()
        half = embed_dim // 2
        self.conv_first = nn.Conv2d(num_feat, half, 3, padding=1)
        self.conv_second = nn.Conv2d(half, embed_dim, 4, stride=2, padding=1)
        self.embed_norm = nn.LayerNorm(embed_dim)
        self.layers = nn.ModuleList(ResidualGroup(embed_dim, d, h, window, mlp_ratio) for d, h in zip(depths, heads))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.conv_before_upsample = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.conv_up1 = nn.Conv2d(embed_dim, half, 3, padding=1)
        self.conv_last = nn.Conv2d(half, num_feat, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.leaky_relu(self.conv_first(x), 0.2)
        x = self.conv_second(x1)
        t = self.embed_norm(x.permute(0, 2, 3, 1))
        for layer in self.layers:
            t = layer(t)
        t = self.norm(t).permute(0, 3, 1, 2)
        x = self.conv_after_body(t) + x
        x = F.leaky_relu(self.conv_before_upsample(x), 0.01)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.leaky_relu(self.conv_up1(x) + x1, 0.2)
        return self.conv_last(x)
