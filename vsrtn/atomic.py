"""Files written whole or not at all: under a temporary name beside the destination, renamed onto
it only when complete, removed on any failure or interrupt. Every file vsrtn writes for keeps
(videos, weights, manifests, checkpoints, reports, cached assets) goes through here.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

PARTIAL = ".vsrtn-partial"  # in the name of every file still being written
JOB_SUFFIX = ".vsrtn-job"  # ends the name of the folder of a job in segments (`vsrtn.jobs`): never output


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name `path` is written under: same folder and extension (which picks a
    video's container), hidden, marked `.vsrtn-partial`."""
    path = Path(path)
    return path.with_name(f".{path.stem}{PARTIAL}{path.suffix}")


class AtomicFile:
    """`tmp` is written, then `commit()` renames it onto `path`; `abort()` removes it. As a context
    manager it yields `tmp` and commits when the block completes, aborts when it raises."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp = partial_path(self.path)

    def commit(self) -> None:
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` whole or not at all."""
    with AtomicFile(path) as tmp:
        tmp.write_bytes(data)
