"""RAFT-large optical flow (Teed & Deng, ECCV 2020) in plain PyTorch.

Parameter names follow the original release so that the flow part of a published RTN
checkpoint (its `spynet.*` keys) loads unchanged. Weights only ever come from such a checkpoint:
nothing is downloaded.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vsrtn.models.ops import pad_to, padded_size


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # no affine parameters, no running statistics
    raise ValueError(kind)


class ResidualBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, norm: str, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1)
        self.norm1 = _norm(norm, planes)
        self.norm2 = _norm(norm, planes)
        self.downsample = None
        if stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride), _norm(norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(x + y)


class Encoder(nn.Module):
    """Feature (instance norm) or context (batch norm) encoder at 1/8 resolution."""

    def __init__(self, output_dim: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.norm1 = _norm(norm, 64)
        self.layer1 = nn.Sequential(ResidualBlock(64, 64, norm), ResidualBlock(64, 64, norm))
        self.layer2 = nn.Sequential(ResidualBlock(64, 96, norm, 2), ResidualBlock(96, 96, norm))
        self.layer3 = nn.Sequential(ResidualBlock(96, 128, norm, 2), ResidualBlock(128, 128, norm))
        self.conv2 = nn.Conv2d(128, output_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


class MotionEncoder(nn.Module):
    def __init__(self, corr_planes: int) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(corr_planes, 256, 1)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 192, 128 - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class SepConvGRU(nn.Module):
    def __init__(self, hidden: int = 128, inp: int = 256) -> None:
        super().__init__()
        c = hidden + inp
        self.convz1 = nn.Conv2d(c, hidden, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(c, hidden, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(c, hidden, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(c, hidden, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(c, hidden, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(c, hidden, (5, 1), padding=(2, 0))

    @staticmethod
    def _step(h, x, convz, convr, convq):
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(convz(hx))
        r = torch.sigmoid(convr(hx))
        q = torch.tanh(convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self._step(h, x, self.convz1, self.convr1, self.convq1)  # horizontal
        return self._step(h, x, self.convz2, self.convr2, self.convq2)  # vertical


class FlowHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(128, 256, 3, padding=1)
        self.conv2 = nn.Conv2d(256, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    def __init__(self, corr_planes: int) -> None:
        super().__init__()
        self.encoder = MotionEncoder(corr_planes)
        self.gru = SepConvGRU(128, 128 + 128)
        self.flow_head = FlowHead()
        self.mask = nn.Sequential(nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(256, 64 * 9, 1))

    def forward(self, net, inp, corr, flow):
        motion = self.encoder(flow, corr)
        net = self.gru(net, torch.cat([inp, motion], dim=1))
        return net, 0.25 * self.mask(net), self.flow_head(net)


def _sample(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling of img (B,C,H,W) at pixel coordinates (B,h,w,2)."""
    h, w = img.shape[-2:]
    gx = 2 * coords[..., 0] / (w - 1) - 1
    gy = 2 * coords[..., 1] / (h - 1) - 1
    return F.grid_sample(img, torch.stack((gx, gy), dim=-1), align_corners=True)


class CorrPyramid:
    """All-pairs correlation volume, pooled into `levels` levels, looked up in a (2r+1)^2 window."""

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, levels: int = 4, radius: int = 4) -> None:
        b, d, h, w = fmap1.shape
        corr = torch.matmul(fmap1.view(b, d, h * w).transpose(1, 2), fmap2.view(b, d, h * w))
        corr = corr.view(b * h * w, 1, h, w) / torch.sqrt(torch.tensor(float(d)))
        self.pyramid = [corr]
        for _ in range(levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.pyramid.append(corr)
        self.radius = radius
        # The released RAFT adds offsets built as meshgrid(dy, dx) to (x, y): the first offset
        # component (varying slowest) moves x. Trained weights depend on that channel order.
        r = torch.arange(-radius, radius + 1, dtype=torch.float32, device=fmap1.device)
        slow, fast = torch.meshgrid(r, r, indexing="ij")
        self.delta = torch.stack((slow, fast), dim=-1).view(1, 2 * radius + 1, 2 * radius + 1, 2)

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        b, _, h, w = coords.shape
        centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        out = []
        for i, corr in enumerate(self.pyramid):
            sampled = _sample(corr, centre / 2**i + self.delta)
            out.append(sampled.view(b, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous().float()


def _coords_grid(b: int, h: int, w: int, device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack((xs, ys), dim=0).float()[None].repeat(b, 1, 1, 1)


class RAFT(nn.Module):
    """RAFT-large. `forward(image1, image2)` takes images in [0, 255] of sizes divisible by 8
    and returns the flow from image1 to image2 (image1(p) ~ image2(p + flow))."""

    corr_levels = 4
    corr_radius = 4

    def __init__(self, iters: int = 24) -> None:
        super().__init__()
        self.iters = iters
        self.fnet = Encoder(256, "instance")
        self.cnet = Encoder(128 + 128, "batch")
        self.update_block = UpdateBlock(self.corr_levels * (2 * self.corr_radius + 1) ** 2)

    @staticmethod
    def _upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Convex upsampling x8 of a 1/8-resolution flow with the learned 9-neighbour weights."""
        n, _, h, w = flow.shape
        mask = torch.softmax(mask.view(n, 1, 9, 8, 8, h, w), dim=2)
        up = F.unfold(8 * flow, [3, 3], padding=1).view(n, 2, 9, 1, 1, h, w)
        up = torch.sum(mask * up, dim=2).permute(0, 1, 4, 2, 5, 3)
        return up.reshape(n, 2, 8 * h, 8 * w)

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, iters: int | None = None) -> torch.Tensor:
        iters = self.iters if iters is None else iters
        image1 = 2 * (image1 / 255.0) - 1.0
        image2 = 2 * (image2 / 255.0) - 1.0
        n = image1.shape[0]
        fmaps = self.fnet(torch.cat([image1, image2], dim=0)).float()
        corr_fn = CorrPyramid(fmaps[:n], fmaps[n:], self.corr_levels, self.corr_radius)
        net, inp = torch.split(self.cnet(image1), [128, 128], dim=1)
        net, inp = torch.tanh(net), torch.relu(inp)
        h8, w8 = image1.shape[2] // 8, image1.shape[3] // 8
        coords0 = _coords_grid(n, h8, w8, image1.device)
        coords1 = coords0.clone()
        mask = None
        for _ in range(iters):
            corr = corr_fn(coords1)
            net, mask, delta = self.update_block(net, inp, corr, coords1 - coords0)
            coords1 = coords1 + delta.float()
        return self._upsample(coords1 - coords0, mask.float())


class RAFTFlow(nn.Module):
    """Flow interface around RAFT: frames in [0, 1] of any size (padded internally to a
    multiple of 8 and at least 128 px, below which RAFT's coarsest correlation level collapses)."""

    def __init__(self, iters: int = 24) -> None:
        super().__init__()
        self.raft = RAFT(iters)

    def forward(self, ref: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Flow (N,2,H,W) such that warping `src` by it aligns it with `ref`."""
        h, w = ref.shape[-2:]
        ph, pw = padded_size(h, 8, 128), padded_size(w, 8, 128)
        ref, src = pad_to(ref.float(), ph, pw), pad_to(src.float(), ph, pw)
        with torch.autocast(device_type=ref.device.type, enabled=False):
            flow = self.raft(ref * 255.0, src * 255.0)
        return flow[:, :, :h, :w]
