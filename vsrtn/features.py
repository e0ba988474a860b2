"""Pretrained ImageNet features (VGG16 up to relu3_3, AlexNet) and LPIPS, from the safetensors
files shipped in `vsrtn/data/features/` (made once by scripts/convert_features.py; licences in
vsrtn/data/features/LICENSE.md). Nothing is downloaded or unpickled here.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vsrtn import data
from vsrtn.errors import WeightsError

# sha256 of each shipped file: a damaged installation is an error, never silently other features.
FEATURE_FILES = {
    "vgg16-relu3_3": "37d63c3c25f30745e419d4c5039d3851d2164a792f091dfdcb8174ac78eaa396",
    "lpips-alex": "07a1732c5f8a4165b2a7cf6afb65a42a557e6c3f8836f7f8608afdfcde49ad4e",
}


@lru_cache(maxsize=None)
def feature_weights(name: str) -> dict[str, np.ndarray]:
    """The shipped weights `name` ('vgg16-relu3_3' or 'lpips-alex') as {'Module/Conv_i/kernel': array}."""
    from safetensors.numpy import load

    try:
        raw = data.path("features", f"{name}.safetensors").read_bytes()
    except OSError as exc:
        raise WeightsError(f"vsrtn's feature weights {name}.safetensors are missing from the installation "
                           f"({exc}); reinstall vsrtn") from exc
    if hashlib.sha256(raw).hexdigest() != FEATURE_FILES[name]:
        raise WeightsError(f"vsrtn's feature weights {name}.safetensors do not match their checksum; reinstall vsrtn")
    return load(raw)


def _conv(w: dict[str, np.ndarray], prefix: str, **kw) -> nn.Conv2d:
    kernel = torch.from_numpy(w[f"{prefix}/kernel"].transpose(3, 2, 0, 1).copy())  # HWIO -> OIHW
    conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], kernel.shape[2:], bias=f"{prefix}/bias" in w, **kw)
    conv.weight.data.copy_(kernel)
    if conv.bias is not None:
        conv.bias.data.copy_(torch.from_numpy(w[f"{prefix}/bias"]))
    return conv


# LPIPS' input scaling (inputs in [-1, 1]).
_SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
_SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


class VGG16Features(nn.Module):
    """VGG16 `features` with ImageNet weights up to relu3_3; returns relu1_2, relu2_2, relu3_3
    (the first `depth` of them). Input (N,3,H,W) in [-1, 1]. Frozen."""

    _PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256]
    _TAPS = {1, 4, 8}

    def __init__(self, depth: int = 3) -> None:
        super().__init__()
        if not 1 <= depth <= 3:
            raise ValueError(f"VGG16Features: depth must be 1..3 (relu1_2..relu3_3 ship), got {depth}")
        w = feature_weights("vgg16-relu3_3")
        self.depth = depth
        self.layers = nn.ModuleList()
        conv_i = 0
        for v in self._PLAN:
            if v == "M":
                self.layers.append(nn.MaxPool2d(2, 2))
            else:
                self.layers.append(_conv(w, f"VGG16_0/Conv_{conv_i}", padding=1))
                conv_i += 1
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - _SHIFT.to(x)) / _SCALE.to(x)
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if isinstance(layer, nn.Conv2d):
                x = F.relu(x)
            if i in self._TAPS:
                out.append(x)
                if len(out) == self.depth:
                    break
        return out


class AlexNetFeatures(nn.Module):
    """AlexNet conv features (5 taps) with ImageNet weights; input in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        w = feature_weights("lpips-alex")
        self.convs = nn.ModuleList([
            _conv(w, "AlexNet_0/Conv_0", stride=4, padding=2), _conv(w, "AlexNet_0/Conv_1", padding=2),
            _conv(w, "AlexNet_0/Conv_2", padding=1), _conv(w, "AlexNet_0/Conv_3", padding=1),
            _conv(w, "AlexNet_0/Conv_4", padding=1)])
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - _SHIFT.to(x)) / _SCALE.to(x)
        out = []
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            out.append(x)
            if i in (0, 1):
                x = F.max_pool2d(x, 3, 2)
        return out


class LPIPS(nn.Module):
    """LPIPS v0.1 distance with AlexNet features (lower is more similar). Input (N,3,H,W) in [-1, 1]."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net != "alex":
            raise ValueError(f"LPIPS: only 'alex' ships with vsrtn, got {net!r}")
        self.features = AlexNetFeatures()
        w = feature_weights("lpips-alex")
        self.lins = nn.ModuleList(_conv(w, f"NetLinLayer_{i}/Conv_0") for i in range(5))
        self.requires_grad_(False).eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = 0
        for fa, fb, lin in zip(self.features(a), self.features(b), self.lins):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((na - nb) ** 2).mean(dim=(2, 3))
        return total.view(-1)
