"""Window planning: a pure function of (clip length, window, context); cut flags of a window."""
from __future__ import annotations

import pytest

from vsrtn.errors import ArgumentError
from vsrtn.windows import cut_flags, plan_windows, reflect


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 23])
@pytest.mark.parametrize("window,context", [(1, 0), (3, 2), (4, 5), (10, 5)])
def test_every_frame_is_core_of_exactly_one_window(n, window, context):
    plan = plan_windows(n, window, context)
    cores = [i for w in plan for i in w.core]
    assert cores == list(range(n))
    for w in plan:
        assert w.frames[w.offset:w.offset + len(w.core)] == tuple(w.core)
        assert all(0 <= i < n for i in w.frames)
        assert plan.windows[plan.index_of(w.start)] is w


def test_grid_is_fixed_and_ends_are_mirrored():
    plan = plan_windows(7, 3, 2)
    assert [(w.start, w.stop) for w in plan] == [(0, 3), (3, 6), (6, 7)]
    assert plan[0].frames == (2, 1, 0, 1, 2, 3, 4)
    assert plan[2].frames == (4, 5, 6, 5, 4)


def test_short_clips_mirror_without_leaving_the_clip():
    assert plan_windows(1, 4, 3)[0].frames == (0, 0, 0, 0, 0, 0, 0)
    assert plan_windows(2, 4, 3)[0].frames == (1, 0, 1, 0, 1, 0, 1, 0)
    assert plan_windows(3, 4, 2)[0].frames == (2, 1, 0, 1, 2, 1, 0)


def test_cut_flags_mark_the_positions_after_a_cut_mirrored_stretches_included():
    starts = {5}
    between = lambda a, b: max(a, b) in starts
    assert cut_flags((2, 3, 4, 5, 6), between) == [False, False, False, True, False]
    # A mirrored stretch runs backwards over the cut: 6 -> 5 -> 4 crosses it once, at 5 -> 4.
    assert cut_flags((3, 4, 5, 6, 5, 4), between) == [False, False, True, False, False, True]
    # A repeated frame (a one-frame clip mirrored) is never a cut.
    assert cut_flags((0, 0, 0), lambda a, b: True) == [False, False, False]


def test_reflect():
    assert [reflect(i, 0, 4) for i in range(-4, 8)] == [2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]


@pytest.mark.parametrize("args,arg", [((0, 4, 2), "num_frames"), ((5, 0, 2), "window"), ((5, 4, -1), "context")])
def test_invalid_arguments_name_the_argument(args, arg):
    with pytest.raises(ArgumentError, match=f"'{arg}'"):
        plan_windows(*args)


def test_index_of_outside_plan():
    with pytest.raises(IndexError):
        plan_windows(5, 2, 1).index_of(5)
