"""vsrtn.atomic: a file is written whole or not at all."""
from __future__ import annotations

import pytest

from vsrtn.atomic import PARTIAL, AtomicFile, atomic_write, partial_path


def test_a_completed_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "sub" / "report.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    target = tmp_path / "clip.mkv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicFile(target) as tmp:
        tmp.write_bytes(b"half")
        assert tmp.suffix == ".mkv" and PARTIAL in tmp.name  # the extension still picks the container
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert not partial_path(target).exists()
