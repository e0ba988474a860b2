"""Our RTN reproduces the published network on the published checkpoint layout."""
from __future__ import annotations

import pytest
import torch

import vsrtn

from conftest import REFERENCE

CKPT = REFERENCE / "rtn_official_random_netG.pth.gz"
IO = REFERENCE / "rtn_official_reference_io.pt"


@pytest.fixture(scope="module")
def published():
    return vsrtn.load_model(CKPT)


@pytest.fixture(scope="module")
def cases():
    return torch.load(IO, weights_only=True)


@pytest.mark.parametrize("case", ["t4_128x192", "t3_192x128"])
def test_flows_and_outputs_match_published(published, cases, case):
    data = cases[case]
    x = data["input"]
    with torch.inference_mode():
        fwd, bwd = published.compute_flow(x)
        y = published(x, flows=(fwd, bwd))
    assert fwd.shape == data["forward_flow"].shape
    assert (fwd - data["forward_flow"]).abs().max() < 1e-3
    assert (bwd - data["backward_flow"]).abs().max() < 1e-3
    assert y.shape == data["output"].shape
    assert (y - data["output"]).abs().max() < 1e-4


def test_plain_call_computes_flow_itself(published, cases):
    data = cases["t3_192x128"]
    with torch.inference_mode():
        y = published(data["input"])
    assert (y - data["output"]).abs().max() < 1e-4


def test_published_configuration_and_parameter_count(published):
    assert published.config == vsrtn.RTNConfig()
    n = sum(p.numel() for p in published.parameters())
    raft = sum(p.numel() for p in published.flow.parameters())
    assert (n, raft) == (6_178_741, 5_257_536)


def test_any_frame_size_including_below_raft_minimum(published):
    """The published code needs multiples of 16 and >= 128 px (NaN below); ours pads and crops."""
    x = torch.rand(1, 2, 3, 37, 61) * 2 - 1
    with torch.inference_mode():
        y = published(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
