"""vsrtn.pipeline.transcode: decoding ahead and encoding behind the transform, on threads of
their own, without changing the file and without leaving anything behind on failure."""
from __future__ import annotations

import hashlib
import threading

import av
import numpy as np
import pytest

from vsrtn import pipeline
from vsrtn.media import EncoderSettings

from conftest import make_video


def io_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("vsrtn-read", "vsrtn-write")]


def contents(path) -> str:
    """A digest of every packet of every stream in the order the file holds them (a Matroska
    file's header has a random id, so the files themselves always differ)."""
    digest = hashlib.sha256()
    with av.open(str(path)) as c:
        for packet in c.demux():
            if packet.size:
                digest.update(f"{packet.stream.index} {packet.pts} {packet.dts}".encode() + bytes(packet))
    return digest.hexdigest()


def brighten(frames, total):
    for y in frames:
        yield np.clip(y + 0.1, 0, 1)


def test_the_file_does_not_depend_on_how_far_reading_and_writing_run_ahead(tmp_path, monkeypatch):
    src = make_video(tmp_path / "a.mkv", codec="ffv1", seconds=0.8)  # with audio, lossless, reproducible
    hashes = []
    for depth in (1, 8, 64):
        monkeypatch.setattr(pipeline, "READ_AHEAD", depth)
        monkeypatch.setattr(pipeline, "WRITE_BEHIND", depth)
        seen = []
        res = pipeline.transcode(src, tmp_path / f"out{depth}.mkv", brighten, EncoderSettings(encoder="ffv1"),
                                 progress=lambda done, total, seen=seen: seen.append((done, total)))
        hashes.append(contents(res.output))
        assert seen == [(i, 20) for i in range(1, 21)]  # every frame reported once it was written
    assert len(set(hashes)) == 1
    assert not io_threads()


@pytest.mark.parametrize("where", ["transform", "encoding"])
def test_a_failure_on_either_side_stops_both_threads_and_leaves_no_output(tmp_path, monkeypatch, where):
    src = make_video(tmp_path / "a.mkv", codec="ffv1", seconds=0.8)
    dst = tmp_path / "out.mkv"

    def failing_transform(frames, total):
        for n, y in enumerate(frames):
            if n == 5:
                raise RuntimeError("transform broke at frame 5")
            yield y

    def failing_compose(frame, y):
        raise RuntimeError("encoding broke")

    if where == "encoding":
        monkeypatch.setattr(pipeline, "with_luma", failing_compose)
    transform = failing_transform if where == "transform" else brighten
    with pytest.raises(RuntimeError, match="broke"):
        pipeline.transcode(src, dst, transform, EncoderSettings(encoder="ffv1"))
    assert not io_threads()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mkv"]  # no output, no temporary file
