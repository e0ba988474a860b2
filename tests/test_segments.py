"""Segments without a cluster: planning on the window grid, frame-exact seeking, windows run in
ranges, cuts decided for a whole file, intermediates and the join."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from vsrtn.engine import Engine, EngineSettings
from vsrtn.media import EncoderSettings, MediaError, VideoSource, index_video
from vsrtn.pipeline import engine_transform, transcode
from vsrtn.pixfmt import plane_array
from vsrtn.scenecut import CutSettings, shot_starts
from vsrtn.segments import (
    MAX_WINDOWS_PER_SEGMENT,
    DamagedIntermediate,
    check_intermediate,
    intermediate_name,
    join,
    plan_segments,
    render,
    scores,
    windows_per_segment,
)
from vsrtn.windows import NO_CUTS, ShotStarts, plan_windows

from conftest import framemd5, make_video, moving_clip, tiny_model, vfr_video


def test_segments_cover_the_plan_on_the_window_grid():
    plan = plan_windows(50, 4, 2)  # 13 windows, the last of 2 frames
    segs = plan_segments(plan, 3)
    assert [(s.start, s.stop) for s in segs] == [(0, 12), (12, 24), (24, 36), (36, 48), (48, 50)]
    assert [s.windows for s in segs][-1] == range(12, 13)
    assert all(s.start % 4 == 0 for s in segs)
    with pytest.raises(ValueError):
        plan_segments(plan, 0)


def test_windows_per_segment_balances_workers_and_is_bounded():
    assert windows_per_segment(13, 2) == 2  # 4 segments a worker
    assert windows_per_segment(1, 8) == 1
    assert windows_per_segment(10_000, 2) == MAX_WINDOWS_PER_SEGMENT


def two_shots(t=24, h=40, w=56, cut=12):
    a, b = moving_clip(t, h, w, seed=1), moving_clip(t, h, w, seed=2)
    return np.concatenate([a[:cut], b[cut:]])


def test_windows_in_ranges_join_to_the_whole_clip():
    """Segments run apart (each from its first needed frame) give run_clip's frames, with a cut
    on a segment boundary decided by the detector in both."""
    engine = Engine(tiny_model(), "cpu", EngineSettings(window=4, context=2, deflicker=1))
    clip = two_shots()
    whole = np.stack(list(engine.run_clip(iter(clip), len(clip))))
    parts = []
    for seg in plan_segments(engine.plan(len(clip)), 2):
        first = engine.first_needed(len(clip), seg.windows.start)
        parts += list(engine.run_windows(iter(clip[first:]), len(clip), seg.windows))
    np.testing.assert_array_equal(np.stack(parts), whole)
    cut_run = list(engine.run_clip(iter(clip), len(clip), cuts=NO_CUTS))
    assert not np.array_equal(np.stack(cut_run), whole)  # the cut at 12 mattered
    with pytest.raises(ValueError, match="consecutive"):
        list(engine.run_windows(iter(clip), len(clip), range(5, 7)))


def test_shot_starts_from_scores_decide_as_the_detector():
    from vsrtn.scenecut import cut_score, signature

    clip = two_shots(t=20, cut=9)
    clip[14] = 1 - clip[14]  # a one-frame flash: two high scores, no cut
    detector = CutSettings().cuts(lambda i: clip[i], len(clip))
    sigs = [signature(f) for f in clip]
    values = [0.0] + [cut_score(sigs[b - 1], sigs[b]) for b in range(1, len(clip))]
    assert shot_starts(values, CutSettings().threshold) == ShotStarts(frozenset({9}))
    assert [b for b in range(1, len(clip)) if detector.cut_before(b)] == [9]


@pytest.fixture(scope="module")
def gop_video(tmp_path_factory):
    """x264 with B-frames and a keyframe every 6 frames, 40 frames, audio."""
    path = tmp_path_factory.mktemp("seg") / "gop.mkv"
    make_video(path, size="64x48", seconds=1.6, codec="libx264")
    out = path.with_name("gop6.mkv")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-c:a", "copy", "-c:v", "libx264", "-g", "6",
                    "-keyint_min", "6", "-bf", "2", str(out)], check=True)
    return out


def planes(frame):
    return [plane_array(frame, i) for i in range(len(frame.planes))]


def test_index_and_seeking_are_frame_exact(gop_video):
    index = index_video(gop_video)
    assert index.frames == 40 and len(index.keyframes) > 4
    with VideoSource(gop_video) as src:
        sequential = [(f.pts, planes(f)) for f in src.frames()]
    assert [p for p, _ in sequential] == list(index.pts)
    for first in (0, 5, 6, 13, 39):
        with VideoSource(gop_video, frames=index.frames) as src:
            got = [(f.pts, planes(f)) for f, _ in zip(src.frames_from(first, index), range(8))]
        for (pts, a), (want_pts, b) in zip(got, sequential[first:]):
            assert pts == want_pts and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_seeking_refuses_a_frame_the_index_does_not_describe(gop_video):
    index = index_video(gop_video)
    wrong = type(index)(tuple(p + 1 for p in index.pts), index.keyframes, index.time_base)
    with VideoSource(gop_video, frames=index.frames) as src, pytest.raises(MediaError, match="timestamp"):
        next(src.frames_from(7, wrong))


def test_rendered_segments_join_into_the_file_one_process_writes(tmp_path, gop_video):
    """The whole path without Ray: score, decide cuts, render each segment, join; framemd5
    (timestamps and audio included) equals `transcode`'s; a damaged intermediate is refused."""
    engine = Engine(tiny_model(), "cpu", EngineSettings(window=4, context=2))
    enc = EncoderSettings(encoder="ffv1")
    for src in (gop_video, vfr_video(tmp_path / "vfr.mkv")):
        one = tmp_path / f"one-{src.name}"
        transcode(src, one, engine_transform(engine), enc)
        index = index_video(src)
        segs = plan_segments(engine.plan(index.frames), 3)
        values = [0.0] + [v for s in segs for v in scores(src, index, s)]
        assert len(values) == index.frames
        cuts = shot_starts(values, engine.settings.cuts.threshold)
        folder = tmp_path / f"job-{src.stem}"
        rendered = [render(engine, src, index, s, cuts, folder, intermediate_name(s), False) for s in segs]
        assert not list(folder.glob(".*"))  # no temporary left
        many = tmp_path / f"many-{src.name}"
        join(src, index, segs, rendered, folder, many, enc, False)
        assert framemd5(many) == framemd5(one)
    path = folder / rendered[1].file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a frame
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError):
        check_intermediate(path, segs[1].start, rendered[1].frames, rendered[1].md5)
    with pytest.raises(DamagedIntermediate) as err:
        join(src, index, segs, rendered, folder, tmp_path / "again.mkv", enc, False)
    assert err.value.segment == 1 and not (tmp_path / "again.mkv").exists()


@pytest.mark.parametrize("where", ["network", "encoding"])
def test_a_segment_failing_midway_leaves_no_intermediate_and_no_thread(tmp_path, gop_video, monkeypatch, where):
    """Decoding and encoding run on threads of their own: a failure on either side of the
    network stops both and leaves nothing in the job folder."""
    import threading

    from vsrtn import segments

    engine = Engine(tiny_model(), "cpu", EngineSettings(window=4, context=2))
    index = index_video(gop_video)
    seg = plan_segments(engine.plan(index.frames), 3)[1]
    if where == "network":
        real = engine.run_windows

        def failing(frames, *args):
            for n, y in enumerate(real(frames, *args)):
                if n == 5:
                    raise RuntimeError("network broke")
                yield y
        monkeypatch.setattr(engine, "run_windows", failing)
    else:
        def failing_compose(frame, y):
            raise RuntimeError("encoding broke")
        monkeypatch.setattr(segments, "with_luma", failing_compose)
    folder = tmp_path / "job"
    with pytest.raises(RuntimeError, match="broke"):
        render(engine, gop_video, index, seg, NO_CUTS, folder, intermediate_name(seg), False)
    assert not [t.name for t in threading.enumerate() if t.name in ("vsrtn-read", "vsrtn-write")]
    assert not folder.exists() or not list(folder.iterdir())
