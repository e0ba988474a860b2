"""Our weights format, the manifest's checksums and `vsrtn convert`."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
import torch

from conftest import REFERENCE, tiny_model

from vsrtn import weights
from vsrtn.errors import WeightsError


def test_save_and_load_roundtrip_keeps_config_and_outputs(tmp_path):
    model = tiny_model(seed=3, flow="dis", num_feat=6)
    path = tmp_path / "m.safetensors"
    sha = weights.save_weights(model, path, {"note": "test"})
    assert sha == weights.sha256_file(path)
    loaded = weights.load_model(path)
    assert loaded.config == model.config
    x = torch.rand(1, 3, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))


def test_load_by_name_verifies_checksum(tmp_path, monkeypatch):
    model = tiny_model()
    path = tmp_path / "w" / "tiny.safetensors"
    sha = weights.save_weights(model, path)
    weights.add_to_manifest(tmp_path / "w" / "manifest.json", "tiny", path, sha, {"config": model.config.to_dict()})
    monkeypatch.setenv("VSRTN_WEIGHTS", str(tmp_path / "w"))
    assert weights.load_model("tiny").config == model.config
    names = [e.name for e in weights.list_weights()]
    assert names[0] == "tiny" and names.count("tiny") == 1  # $VSRTN_WEIGHTS is searched first

    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        weights.load_model("tiny")
    path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        weights.load_model("tiny")


def test_unknown_name_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("VSRTN_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsError, match=r"no weights named 'nope'.*" + str(tmp_path).replace("/", ".")):
        weights.load_model("nope")


def test_wrong_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        weights.load_model(bad)
    other = tmp_path / "other.pth"
    torch.save({"params": {}}, other)
    with pytest.raises(WeightsError, match="'netG'"):
        weights.load_model(other)
    partial = tmp_path / "partial.pth"
    torch.save({"netG": {"conv_last.weight": torch.zeros(3, 16, 3, 3)}}, partial)
    with pytest.raises(WeightsError, match="missing"):
        weights.load_model(partial)


def test_plain_and_gzipped_published_checkpoints_load_alike(tmp_path):
    plain = tmp_path / "net_G.pth"
    plain.write_bytes(gzip.decompress((REFERENCE / "rtn_official_random_netG.pth.gz").read_bytes()))
    a = weights.load_model(plain)
    b = weights.load_model(REFERENCE / "rtn_official_random_netG.pth.gz")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_convert_command_writes_weights_and_manifest(tmp_path):
    out = tmp_path / "rtn_published.safetensors"
    manifest = tmp_path / "manifest.json"
    res = subprocess.run([sys.executable, "-m", "vsrtn.cli", "convert", str(REFERENCE / "rtn_official_random_netG.pth.gz"),
                          str(out), "--manifest", str(manifest)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    entry = json.loads(manifest.read_text())["weights"]["rtn_published"]
    assert entry["sha256"] == weights.sha256_file(out)
    assert entry["file"] == "rtn_published.safetensors"
    converted = weights.load_model(out)
    original = weights.load_model(REFERENCE / "rtn_official_random_netG.pth.gz")
    ref = torch.load(REFERENCE / "rtn_official_reference_io.pt", weights_only=True)["t3_192x128"]
    with torch.inference_mode():
        y = converted(ref["input"])
    assert (y - ref["output"]).abs().max() < 1e-4
    assert converted.config == original.config


def test_convert_command_reports_errors(tmp_path):
    res = subprocess.run([sys.executable, "-m", "vsrtn.cli", "convert", str(tmp_path / "none.pth"),
                          str(tmp_path / "o.safetensors")], capture_output=True, text=True)
    assert res.returncode == 2
    assert "vsrtn convert: error:" in res.stderr and "none.pth" in res.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_presets_name_shipped_weights_of_the_right_kind():
    """A fresh clone restores and colours with the presets' defaults: the weights they name are in
    the repository's manifest, at most 20 MB, load with a verified checksum, and are the right kind."""
    from vsrtn.models.colorize import is_colour_model
    from vsrtn.presets import available, load_preset

    for name in available():
        preset = load_preset(name)
        for section, colour in (("restore", False), ("colorize", True)):
            entry = weights.find_weights(preset[section]["weights"])
            assert entry.path.stat().st_size <= 20 * 2**20
            assert is_colour_model(weights.load_model(entry.name).config) == colour
