"""Our weights format, the manifest's checksums and `vsrtn convert`."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import vapoursynth as vs

import vsrtn
from vsrtn import weights
from vsrtn.errors import WeightsError
from vsrtn.weights import save_weights

from conftest import REFERENCE, tiny_model
from vsclips import textured


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
    published = REFERENCE / "rtn_official_random_netG.pth.gz"
    res = subprocess.run([sys.executable, "-m", "vsrtn.cli", "convert", str(published), str(out), "--manifest",
                          str(manifest)], capture_output=True, text=True)
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
    """A fresh clone restores and colors with the presets' defaults: the weights they name are in
    the repository's manifest, at most 20 MB, load with a verified checksum, and are the right kind."""
    from vsrtn.models.colorize import is_color_model
    from vsrtn.presets import available, load_preset

    for name in available():
        preset = load_preset(name)
        for section, color in (("restore", False), ("colorize", True)):
            entry = weights.find_weights(preset[section]["weights"])
            assert entry.path.stat().st_size <= 20 * 2**20
            assert is_color_model(weights.load_model(entry.name).config) == color


@pytest.fixture
def tiny(tiny_weights):
    return tiny_weights


def _safetensors_with(path: Path, config, state=None) -> Path:
    from safetensors.torch import save_file

    state = state if state is not None else {"x": torch.zeros(1)}
    save_file(state, str(path), metadata={"format": "vsrtn-rtn/1", "config": json.dumps(config)})
    return path


def test_architecture_metadata_is_bounded_before_anything_is_allocated(tmp_path):
    from vsrtn.weights import load_model

    bomb = _safetensors_with(tmp_path / "bomb.safetensors", {"depths": [2] * 20000, "num_heads": [4] * 20000})
    with pytest.raises(WeightsError, match=r"'depths' must be 1..8 integers in 1..32"):
        load_model(bomb)
    wide = _safetensors_with(tmp_path / "wide.safetensors", {"embed_dim": 10**9})
    with pytest.raises(WeightsError, match="'embed_dim' must be an integer in 4..512"):
        load_model(wide)
    # A valid config whose tensors the file does not hold: refused from the header alone.
    small = _safetensors_with(tmp_path / "small.safetensors", {"embed_dim": 512, "depths": [32] * 8,
                                                               "num_heads": [4] * 8})
    with pytest.raises(WeightsError, match="does not fit"):
        load_model(small)


@pytest.mark.parametrize("meta,message", [({"format": "vsrtn-rtn/1"}, "'config'"),
                                          ({"format": "vsrtn-rtn/1", "config": "{not json"}, "'config'"),
                                          ({"format": "vsrtn-rtn/1", "config": "[1, 2]"}, "'config'")])
def test_bad_config_metadata_is_an_error_at_evaluation(tmp_path, meta, message):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata=meta)
    with pytest.raises(vs.Error, match=message):
        vsrtn.Restore(textured(length=2), weights=str(path))


def test_nan_weights_are_refused(tmp_path):
    from vsrtn.weights import load_model

    model = tiny_model()
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    save_weights(model, tmp_path / "nan.safetensors")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_model(tmp_path / "nan.safetensors")


def test_decompression_is_bounded(tmp_path, monkeypatch):
    from vsrtn import weights

    monkeypatch.setattr(weights, "MAX_CHECKPOINT_BYTES", 1 << 20)
    bomb = tmp_path / "net_G.pth.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (4 << 20)))
    with pytest.raises(WeightsError, match="more than 1 MiB"):
        weights.load_model(bomb)


def test_a_broken_manifest_entry_is_reported_not_fatal(tmp_path, monkeypatch, tiny_weights):
    from vsrtn import doctor
    from vsrtn.weights import find_weights, list_weights

    (tmp_path / "manifest.json").write_text(json.dumps({"weights": {"nofile": {"sha256": "0" * 64}}}))
    broken = tmp_path / "unreadable"
    (broken / "manifest.json").mkdir(parents=True)  # a manifest that cannot be read
    monkeypatch.setenv("VSRTN_WEIGHTS", f"{tmp_path}:{broken}")
    entries = {e.name: e for e in list_weights()}
    assert "needs 'file'" in entries["nofile"].problem()
    assert "rtn-compact" in entries and entries["rtn-compact"].problem() is None  # the shipped ones still work
    assert find_weights("rtn-compact").problem() is None
    lines: list[str] = []
    assert doctor.run(lines.append) == 1
    assert any("FAIL" in line and "nofile" in line for line in lines)
    assert any("FAIL" in line and "unreadable" in line for line in lines)
    assert not any("crashed" in line for line in lines)
