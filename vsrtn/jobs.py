"""One file's job on disk, for runs in segments (`vsrtn.cluster`): a manifest beside the output
that records what the job is (source, settings, segment plan), where its shots start, and each
rendered segment, so a rerun of the same command resumes where the last one stopped.

The manifest is rewritten whole (`vsrtn.atomic`) after every segment; intermediates it lists
were checked when written and are checked again when joined.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vsrtn.atomic import atomic_write
from vsrtn.media import VideoIndex
from vsrtn.segments import Rendered, Segment, job_folder, remove_job

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 2**20  # a manifest lists segments and shot starts: far below this


def index_digest(index: VideoIndex) -> str:
    """A short identity of a video's frames (timestamps and keyframes)."""
    text = json.dumps([list(index.pts), list(index.keyframes), str(index.time_base)])
    return hashlib.sha256(text.encode()).hexdigest()


class Job:
    """A file's job: `identity` says what is computed (a manifest for another identity is
    stale and is replaced), `per_segment` the windows per segment (kept from the first run, so
    a resume on more or fewer workers cuts the film the same way), `shot_starts` once decided,
    and the segments rendered so far."""

    def __init__(self, dst: Path, identity: dict[str, Any], per_segment: int) -> None:
        self.folder = job_folder(dst)
        self.path = self.folder / MANIFEST
        self.identity = identity
        self.per_segment = per_segment
        self.shot_starts: frozenset[int] | None = None
        self.rendered: dict[int, Rendered] = {}
        self.resumed = False

    @classmethod
    def open(cls, dst: Path, identity: dict[str, Any], per_segment: int, warn=lambda text: None) -> "Job":
        """The job recorded beside `dst` if it is for `identity`, else a new one (a stale
        record is replaced, with a warning)."""
        job = cls(dst, identity, per_segment)
        if not job.path.is_file():
            return job
        try:
            if job.path.stat().st_size > MAX_MANIFEST_BYTES:
                raise ValueError("too large")
            data = json.loads(job.path.read_text())
            if data.get("identity") != identity:
                warn(f"{job.folder}: a job for other settings or another source; starting again")
                job.discard()
                return cls(dst, identity, per_segment)
            job.per_segment = int(data["per_segment"])
            starts = data.get("shot_starts")
            job.shot_starts = None if starts is None else frozenset(int(b) for b in starts)
            for r in data.get("rendered", []):
                rendered = Rendered(int(r["index"]), str(r["file"]), int(r["frames"]), int(r["bytes"]), str(r["md5"]),
                                    tuple(int(v) for v in r["color"]))
                if Path(rendered.file).name == rendered.file and (job.folder / rendered.file).is_file():
                    job.rendered[rendered.index] = rendered
        except (ValueError, KeyError, TypeError, OSError) as exc:
            warn(f"{job.path}: unreadable ({exc}); starting again")
            job.discard()
            return cls(dst, identity, per_segment)
        job.resumed = True
        return job

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"identity": self.identity, "per_segment": self.per_segment,
                "shot_starts": None if self.shot_starts is None else sorted(self.shot_starts),
                "rendered": [asdict(r) for _, r in sorted(self.rendered.items())]}
        atomic_write(self.path, (json.dumps(data, indent=1) + "\n").encode())

    def todo(self, segments: list[Segment]) -> list[Segment]:
        return [s for s in segments if s.index not in self.rendered]

    def discard(self) -> None:
        """Remove the job's folder: its manifest and intermediates."""
        remove_job(self.folder)
