"""vsrtn.options: one range per option, and the places that check it agree."""
from __future__ import annotations

import pytest

from vsrtn.engine import EngineSettings
from vsrtn.errors import ArgumentError, PresetError
from vsrtn.options import OPTIONS, check
from vsrtn.presets import validate
from vsrtn.windows import plan_windows


@pytest.mark.parametrize("value, ok", [(1, True), (256, True), (0, False), (257, False), (True, False), (2.0, False)])
def test_integer_ranges_take_integers_only(value, ok):
    assert OPTIONS["window"].ok(value) is ok


def test_number_ranges_take_ints_and_floats_but_not_bools():
    grain = OPTIONS["grain"]
    assert grain.ok(0) and grain.ok(0.5) and grain.ok(1) and not grain.ok(True) and not grain.ok(1.01)
    assert grain.expected == "a number in 0..1"


def test_an_error_names_the_function_the_argument_and_the_range():
    with pytest.raises(ArgumentError, match=r"^f: 'num_streams' must be an integer in 1\.\.16, got 17$"):
        check("num_streams", 17, "f")


@pytest.mark.parametrize("name, bad", [("window", 257), ("context", 65), ("tile_overlap", 65), ("grain", 2)])
def test_presets_engine_settings_and_planner_share_the_range(name, bad):
    expected = OPTIONS[name].expected
    with pytest.raises(PresetError, match=expected.replace(".", r"\.")):
        validate({"restore": {name: bad}}, "test")
    with pytest.raises(ArgumentError, match=expected.replace(".", r"\.")):
        EngineSettings(**{name: bad})
    if name in ("window", "context"):
        with pytest.raises(ArgumentError, match=expected.replace(".", r"\.")):
            plan_windows(10, **{"window": 4, "context": 2, name: bad})
