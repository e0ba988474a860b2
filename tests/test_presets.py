"""vsrtn.presets: validation of shipped and user presets."""
from __future__ import annotations

import pytest

from vsrtn.errors import PresetError
from vsrtn.presets import load_preset, validate


@pytest.mark.parametrize("data,message", [
    ({"restore": {"window": 0}}, "'restore.window' must be an integer in 1..256, got 0"),
    ({"restore": {"context": True}}, "'restore.context' must be an integer in 0..64"),
    ({"restore": {"speed": 2}}, "unknown key 'restore.speed'"),
    ({"color": 1}, "unknown key 'color'"),
    ({"restore": []}, "'restore' must be a dict"),
])
def test_restore_preset_validation(data, message):
    with pytest.raises(PresetError) as err:
        validate(data, "test")
    assert message in str(err.value)


def test_invalid_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restore: [unclosed\n")
    with pytest.raises(PresetError, match="not valid YAML"):
        load_preset(bad)
    bad.write_text("- a list\n")
    with pytest.raises(PresetError, match="must hold a mapping"):
        load_preset(bad)
