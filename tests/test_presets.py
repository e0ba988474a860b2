"""vsrtn.presets: validation of shipped and user presets."""
from __future__ import annotations

import pytest

from vsrtn.errors import ArgumentError, PresetError
from vsrtn.presets import load_preset, network, validate


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


@pytest.mark.parametrize("data,message", [
    ({"restore": {"degrain": 1}}, "'restore.degrain' must be true or false, got 1"),
    ({"restore": {"degrain_weights": ""}}, "'restore.degrain_weights' must be a weights name or file path"),
    ({"colorize": {"degrain": True}}, "unknown key 'colorize.degrain'"),
])
def test_degrain_keys_are_restore_only_and_checked(data, message):
    with pytest.raises(PresetError, match=message):
        validate(data, "test")


SECTION = {"weights": "keeps-grain", "degrain_weights": "removes-grain"}


@pytest.mark.parametrize("section,weights,degrain,expected", [
    (SECTION, None, None, "keeps-grain"),
    (SECTION, None, False, "keeps-grain"),
    (SECTION, None, True, "removes-grain"),
    ({**SECTION, "degrain": True}, None, None, "removes-grain"),
    ({**SECTION, "degrain": True}, None, False, "keeps-grain"),  # the call overrides the preset
    ({**SECTION, "degrain": True}, "mine.safetensors", None, "mine.safetensors"),  # explicit weights win
    (SECTION, "mine.safetensors", False, "mine.safetensors"),
])
def test_network_picks_the_weights(section, weights, degrain, expected):
    assert network(section, weights, degrain, "f") == expected


@pytest.mark.parametrize("section,weights,degrain,message", [
    (SECTION, "mine.safetensors", True,
     "f: 'degrain' must be None or False when 'weights' names the network, got True"),
    (SECTION, None, 1, "f: 'degrain' must be None, True or False, got 1"),
    ({"weights": "w"}, None, True, "f: 'degrain' must be False \\(the preset's 'restore:' names no degrain_weights\\)"),
    ({}, None, None, "f: 'weights' must be a weights name or file \\(the preset's 'restore:' names none\\)"),
])
def test_network_errors_name_the_option(section, weights, degrain, message):
    with pytest.raises(ArgumentError, match=message):
        network(section, weights, degrain, "f")


@pytest.mark.parametrize("name", ["light", "medium", "heavy"])
def test_shipped_presets_keep_grain_by_default_and_name_a_degrain_network(name):
    from vsrtn.weights import find_weights

    restore = load_preset(name)["restore"]
    keep, remove = network(restore, None, None, name), network(restore, None, True, name)
    assert keep != remove
    assert find_weights(keep).problem() is None and find_weights(remove).problem() is None
