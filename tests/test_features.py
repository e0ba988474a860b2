"""Pretrained VGG16/AlexNet/LPIPS from the safetensors files shipped in the package."""
from __future__ import annotations

import subprocess
import sys

import torch

from vsrtn.features import LPIPS, VGG16Features


def test_vgg16_has_imagenet_layout_and_frozen_weights():
    vgg = VGG16Features()
    # torchvision's vgg16().features up to relu3_3: convs 1_1..3_3.
    assert sum(p.numel() for p in vgg.parameters()) == 1_735_488
    assert not any(p.requires_grad for p in vgg.parameters())
    feats = vgg(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 64, 64), (128, 32, 32), (256, 16, 16)]


def test_lpips_is_a_distance_that_grows_with_distortion():
    torch.manual_seed(0)
    lp = LPIPS("alex")
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    small = (x + 0.05 * torch.randn_like(x)).clamp(-1, 1)
    large = (x + 0.4 * torch.randn_like(x)).clamp(-1, 1)
    d0, d1, d2 = lp(x, x).item(), lp(x, small).item(), lp(x, large).item()
    assert d0 == 0.0 and 0 < d1 < d2
    assert abs(lp(x, large).item() - lp(large, x).item()) < 1e-6


def test_features_load_offline_from_the_package_without_unpickling(tmp_path):
    code = ("import socket, pickle, urllib.request\n"
            "def refuse(*a, **k): raise AssertionError('network or pickle used')\n"
            "socket.socket = refuse; socket.create_connection = refuse; urllib.request.urlopen = refuse\n"
            "pickle.load = refuse; pickle.loads = refuse; pickle.Unpickler = refuse\n"
            "from vsrtn.models.colorize import ReferenceMatcher\n"
            "from vsrtn.features import LPIPS\n"
            "import torch\n"
            "m = ReferenceMatcher('cpu'); print(tuple(m.features(torch.zeros(1, 1, 32, 32)).shape))\n"
            "LPIPS('alex')\n"
            "import sys; assert 'vsrtn.assets' not in sys.modules\n")
    env = {"VSRTN_CACHE": str(tmp_path / "empty-cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "empty-cache").exists()
