"""Window layout and shifted-window masks of the Swin trunk, against their plain definitions."""
from __future__ import annotations

import pytest
import torch

from vsrtn.models.swin import SwinBlock, shift_mask, window_order


def partitioned(x: torch.Tensor, window: int, shift: int) -> torch.Tensor:
    """(B,H,W,C) rolled by -shift, cut into windows (B, nW, N, C): the definition."""
    b, h, w, c = x.shape
    x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, -1, window * window, c)


def full_mask(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(nW, N, N): -100 between tokens of a shifted window that come from different regions."""
    region = torch.zeros(1, h, w, 1)
    label = 0
    for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            region[0, hs, ws] = label
            label += 1
    win = partitioned(torch.roll(region, shifts=(shift, shift), dims=(1, 2)), window, shift)[0, ..., 0]
    return (win[:, None, :] != win[:, :, None]).float() * -100.0


@pytest.mark.parametrize("h,w,window,shift", [(16, 24, 8, 4), (32, 16, 4, 2), (8, 8, 8, 4), (16, 16, 8, 0)])
def test_window_order_gathers_the_rolled_windows_and_its_inverse_merges(h, w, window, shift):
    x = torch.randn(2, h, w, 3)
    order = window_order(h, w, window, shift)
    gathered = x.reshape(2, h * w, 3)[:, order].view(2, -1, window * window, 3)
    assert torch.equal(gathered, partitioned(x, window, shift))
    assert torch.equal(gathered.reshape(2, h * w, 3)[:, torch.argsort(order)].view(2, h, w, 3), x)


@pytest.mark.parametrize("h,w,window", [(16, 24, 8), (32, 32, 8), (8, 8, 8), (12, 20, 4)])
def test_shift_mask_lists_exactly_the_windows_that_need_one(h, w, window):
    shift = window // 2
    index, mask = shift_mask(h, w, window, shift)
    full = full_mask(h, w, window, shift)
    needs = full.flatten(1).ne(0).any(1).nonzero().flatten()
    assert torch.equal(index, needs) and torch.equal(mask, full[index])
    nw_h, nw_w = h // window, w // window
    assert len(index) == nw_h + nw_w - 1  # the last row and column of windows


def test_shifted_block_equals_masked_attention_over_every_window():
    """The block's attention (unmasked pass + masked pass over the border windows) equals
    attention over every window with the full mask."""
    torch.manual_seed(0)
    block = SwinBlock(8, 2, 4, 2, 2.0).eval()
    x = torch.randn(1, 12, 16, 8)
    with torch.no_grad():
        y = block.norm1(x)
        windows = partitioned(y, 4, 2)
        attn = block.attn
        b, nw, n, c = windows.shape
        qkv = attn.qkv(windows).view(b, nw, n, 3, 2, c // 2).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)
        rel = attn.relative_position_bias_table[attn.relative_position_index.view(-1)].view(n, n, 2).permute(2, 0, 1)
        logits = (q @ k.transpose(-1, -2)) * (c // 2) ** -0.5 + rel + full_mask(12, 16, 4, 2)[None, :, None]
        out = attn.proj((logits.softmax(-1) @ v).transpose(2, 3).reshape(b, nw, n, c))
        out = out.view(1, 3, 4, 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(1, 12, 16, c)
        expected = x + torch.roll(out, shifts=(2, 2), dims=(1, 2))
        expected = expected + block.mlp(block.norm2(expected))
        assert torch.allclose(block(x), expected, atol=1e-5)
