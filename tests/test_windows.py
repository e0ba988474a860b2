"""Window planning: a pure function of (clip length, window, context, cuts)."""
from __future__ import annotations

import pytest

from vsrtn.errors import ArgumentError
from vsrtn.windows import plan_windows, reflect, segments


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


def test_context_is_clipped_at_scene_cuts():
    plan = plan_windows(10, 4, 2, cuts=[5])
    assert [(w.start, w.stop) for w in plan] == [(0, 4), (4, 5), (5, 8), (8, 10)]
    for w in plan:
        shot = range(0, 5) if w.start < 5 else range(5, 10)
        assert all(i in shot for i in w.frames), w
    assert plan[1].frames == (2, 3, 4)  # no right context across the cut
    assert plan[2].frames == (5, 6, 7, 8, 9)  # no left context across it


def test_plan_does_not_depend_on_cut_order_or_duplicates():
    assert plan_windows(20, 4, 2, [12, 5, 5, 0, 20]) == plan_windows(20, 4, 2, [5, 12])


def test_reflect_and_segments():
    assert [reflect(i, 0, 4) for i in range(-4, 8)] == [2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]
    assert segments(10, [3, 7]) == [(0, 3), (3, 7), (7, 10)]
    assert segments(5, []) == [(0, 5)]


@pytest.mark.parametrize("args,arg", [((0, 4, 2), "num_frames"), ((5, 0, 2), "window"), ((5, 4, -1), "context")])
def test_invalid_arguments_name_the_argument(args, arg):
    with pytest.raises(ArgumentError, match=f"'{arg}'"):
        plan_windows(*args)


def test_index_of_outside_plan():
    with pytest.raises(IndexError):
        plan_windows(5, 2, 1).index_of(5)
