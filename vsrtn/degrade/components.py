"""Old-film degradation components.

Each component declares its parameters as allowed bounds; a preset gives, per component, a
probability `prob` that a clip gets it and a [min, max] range per parameter from which each clip
draws its values. Randomness comes only from generators seeded by (seed, component, clip or
frame number), so frame n of a degraded clip is a pure function of (seed, n, the clean frame):
random access and any request order give the same frames.

Frames are float32 luma in [0, 1], shape (H, W). Damage components (drawn on the film: scratches,
dust, hairs, blotches, templates) also add their opacity to a damage mask.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np


@dataclass(frozen=True)
class Param:
    """Allowed bounds of one parameter; presets give a [min, max] range inside them."""

    lo: float
    hi: float
    integer: bool = False
    doc: str = ""


def frame_rng(seed: int, tag: int, *more: int) -> np.random.Generator:
    """Independent generator for (seed, component tag, ...)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, tag, *more])


class Component:
    """A degradation with clip-level parameters (drawn once) and per-frame rendering."""

    name: ClassVar[str]
    tag: ClassVar[int]  # fixed id: keeps random streams stable when components are added
    params: ClassVar[dict[str, Param]]
    options: ClassVar[dict[str, type]] = {}  # non-range settings (e.g. a folder)
    damage: ClassVar[bool] = False
    # The print's tone (fading) is not damage to remove: restoring it is a grading decision, and a
    # per-clip tone curve cannot be told from a crop's content, so restoration targets keep it.
    tone: ClassVar[bool] = False

    def __init__(self, ranges: dict[str, Any]) -> None:
        self.ranges = ranges

    def draw(self, rng: np.random.Generator, key: str) -> float:
        lo, hi = self.ranges[key]
        if self.params[key].integer:
            return int(rng.integers(int(lo), int(hi) + 1))
        return float(rng.uniform(lo, hi))

    def clip_params(self, seed: int) -> dict[str, float]:
        rng = frame_rng(seed, self.tag, 0xC11B)
        return {key: self.draw(rng, key) for key in self.params}

    def apply(self, img: np.ndarray, n: int, p: dict[str, float], seed: int, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# ------------------------------------------------------------------ optics and emulsion


class Blur(Component):
    """Lens/printing blur: one Gaussian kernel per clip, isotropic or anisotropic."""

    name, tag = "blur", 1
    params = {"sigma": Param(0.1, 6.0, doc="std of the Gaussian along its long axis (px)"),
              "anisotropy": Param(1.0, 4.0, doc="long/short axis ratio (1 = isotropic)"),
              "angle": Param(0.0, 180.0, doc="orientation of the long axis (degrees)")}

    def apply(self, img, n, p, seed, mask):
        s1, s2 = p["sigma"], p["sigma"] / p["anisotropy"]
        if abs(s1 - s2) < 1e-3:
            return cv2.GaussianBlur(img, (0, 0), s1)
        r = int(math.ceil(3 * s1))
        ys, xs = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
        t = math.radians(p["angle"])
        u, v = xs * math.cos(t) + ys * math.sin(t), -xs * math.sin(t) + ys * math.cos(t)
        k = np.exp(-0.5 * ((u / s1) ** 2 + (v / s2) ** 2))
        return cv2.filter2D(img, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT)


class Resolution(Component):
    """Resolution loss: down-scale by `scale` and back (per clip)."""

    name, tag = "resolution", 2
    params = {"scale": Param(0.1, 1.0, doc="down-scale factor")}

    def apply(self, img, n, p, seed, mask):
        h, w = img.shape
        sw, sh = max(1, round(w * p["scale"])), max(1, round(h * p["scale"]))
        if (sw, sh) == (w, h):
            return img
        small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


class Grain(Component):
    """Film grain: spatially correlated, strongest in the mid-tones (signal-dependent)."""

    name, tag = "grain", 3
    params = {"amount": Param(0.0, 0.2, doc="noise std at mid-grey"),
              "size": Param(0.3, 3.0, doc="correlation length (Gaussian sigma, px)")}

    def apply(self, img, n, p, seed, mask):
        rng = frame_rng(seed, self.tag, n)
        noise = rng.standard_normal(img.shape, dtype=np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), p["size"])
        noise /= max(float(noise.std()), 1e-6)
        strength = p["amount"] * (0.25 + 1.5 * np.sqrt(np.clip(img * (1 - img), 0, None)))
        return img + strength * noise


class Fading(Component):
    """Faded print: reduced contrast and lifted blacks (per clip)."""

    name, tag = "fading", 4
    tone = True
    params = {"contrast": Param(0.3, 1.0, doc="white level after fading"),
              "lift": Param(0.0, 0.4, doc="black level after fading")}

    def apply(self, img, n, p, seed, mask):
        return p["lift"] + img * (p["contrast"] - p["lift"])


class Flicker(Component):
    """Exposure flicker: per-frame global gain/offset and a low-frequency regional field."""

    name, tag = "flicker", 5
    params = {"gain": Param(0.0, 0.3, doc="std of the per-frame gain"),
              "regional": Param(0.0, 0.2, doc="std of the regional gain field"),
              "cells": Param(2, 8, integer=True, doc="regional field resolution (cells per side)")}

    def apply(self, img, n, p, seed, mask):
        rng = frame_rng(seed, self.tag, n)
        gain = 1.0 + rng.normal(0, p["gain"])
        offset = rng.normal(0, p["gain"] / 3)
        out = img * gain + offset
        if p["regional"] > 0:
            c = int(p["cells"])
            field = rng.normal(0, p["regional"], (c, c)).astype(np.float32)
            field = cv2.resize(field, img.shape[::-1], interpolation=cv2.INTER_CUBIC)
            out = out * (1 + field)
        return out


class Compression(Component):
    """Digitisation artefacts: JPEG at a per-clip quality, varied per frame."""

    name, tag = "compression", 6
    params = {"quality": Param(5, 100, integer=True, doc="JPEG quality"),
              "jitter": Param(0, 30, integer=True, doc="per-frame quality variation (+/-)")}

    def apply(self, img, n, p, seed, mask):
        rng = frame_rng(seed, self.tag, n)
        q = int(np.clip(p["quality"] + rng.integers(-p["jitter"], p["jitter"] + 1), 5, 100))
        u8 = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, q])
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


# ------------------------------------------------------------------ damage on the film


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float, vertices: tuple[int, int],
          spread: tuple[float, float]) -> np.ndarray:
    """An irregular polygon around (cx, cy) of mean radius ~r, in OpenCV fixed point
    (4 fractional bits, for sub-pixel shapes with shift=4)."""
    k = int(rng.integers(*vertices))
    ang = np.sort(rng.uniform(0, 2 * math.pi, k))
    rad = r * rng.uniform(*spread, k)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    return np.round(pts * 16).astype(np.int32)[None]


def _blend(img: np.ndarray, alpha: np.ndarray, value: np.ndarray | float, mask: np.ndarray) -> np.ndarray:
    np.maximum(mask, alpha, out=mask)
    return img * (1 - alpha) + value * alpha


class Scratches(Component):
    """Vertical line scratches: persistent tracks that drift slowly, appear and vanish,
    bright (emulsion scratched off) or dark (base scratched), broken along their length."""

    name, tag = "scratches", 7
    params = {"rate": Param(0.0, 1.0, doc="new scratch tracks per frame"),
              "lifetime": Param(1, 300, integer=True, doc="frames a track lasts"),
              "width": Param(0.5, 6.0, doc="line width (px)"),
              "opacity": Param(0.0, 1.0),
              "drift": Param(0.0, 15.0, doc="horizontal drift (px per frame)"),
              "length": Param(0.1, 1.0, doc="fraction of the frame height covered")}
    damage = True
    block = 64  # tracks are born in blocks of frames: frame n sees only the blocks that can reach it

    def _tracks(self, seed: int, block: int, p: dict[str, float]) -> list[dict[str, float]]:
        rng = frame_rng(seed, self.tag, 0xB10C, block + (1 << 30))  # blocks before frame 0 exist too
        count = rng.poisson(p["rate"] * self.block)
        out = []
        for _ in range(count):
            lo = int(self.ranges["lifetime"][0])
            out.append({
                "birth": block * self.block + rng.integers(0, self.block),
                "life": rng.integers(lo, max(lo, int(p["lifetime"])) + 1),
                "x": rng.uniform(0, 1), "v": rng.uniform(-1, 1) * p["drift"],
                "wobble": rng.uniform(0, 2), "phase": rng.uniform(0, 2 * math.pi),
                "width": rng.uniform(0.5, 1.0) * p["width"], "opacity": rng.uniform(0.5, 1.0) * p["opacity"],
                "bright": rng.random() < 0.6, "y0": rng.uniform(0, 1 - p["length"]), "len": p["length"],
                "breaks": int(rng.integers(0, 2 ** 31)),
            })
        return out

    def apply(self, img, n, p, seed, mask):
        h, w = img.shape
        max_life = int(self.ranges["lifetime"][1])
        # The film was scratched before the clip starts: tracks born earlier are still running.
        first = (n - max_life) // self.block
        for block in range(first, n // self.block + 1):
            for t in self._tracks(seed, block, p):
                age = n - t["birth"]
                if not 0 <= age < t["life"]:
                    continue
                x = (t["x"] * w + t["v"] * age + t["wobble"] * math.sin(0.3 * age + t["phase"])) % w
                half = int(math.ceil(3 * t["width"])) + 1
                x0, x1 = max(0, int(x) - half), min(w, int(x) + half + 1)
                if x0 >= x1:
                    continue
                y0 = int(t["y0"] * h)
                y1 = min(h, y0 + max(1, int(t["len"] * h)))
                xs = np.arange(x0, x1, dtype=np.float32)
                profile = np.exp(-(((xs - x) / t["width"]) ** 2))
                brk = np.random.default_rng([t["breaks"], n])
                along = np.clip(cv2.resize(brk.uniform(-0.5, 1.5, (8, 1)).astype(np.float32), (1, y1 - y0),
                                           interpolation=cv2.INTER_LINEAR)[:, 0], 0, 1)
                alpha = (t["opacity"] * along[:, None] * profile[None, :]).astype(np.float32)
                value = 1.0 if t["bright"] else 0.0
                img[y0:y1, x0:x1] = _blend(img[y0:y1, x0:x1], alpha, value, mask[y0:y1, x0:x1])
        return img


class _Drawn(Component):
    """Damage drawn fresh every frame as shapes on full-frame opacity and value canvases."""

    damage = True

    def count(self, rng: np.random.Generator, p: dict[str, float], h: int, w: int) -> int:
        raise NotImplementedError

    def paint(self, rng: np.random.Generator, p: dict[str, float], alpha: np.ndarray, value: np.ndarray) -> None:
        """Add one shape's opacity to `alpha` and its grey value to `value`."""
        raise NotImplementedError

    def apply(self, img, n, p, seed, mask):
        h, w = img.shape
        rng = frame_rng(seed, self.tag, n)
        count = self.count(rng, p, h, w)
        if count == 0:
            return img
        alpha = np.zeros((h, w), np.float32)
        value = np.zeros((h, w), np.float32)
        for _ in range(count):
            self.paint(rng, p, alpha, value)
        np.clip(alpha, 0, 1, out=alpha)
        return _blend(img, alpha, value, mask)


class Dust(_Drawn):
    """Dust and dirt: one-frame specks and blobs of irregular shape, dark or bright."""

    name, tag = "dust", 8
    params = {"density": Param(0.0, 100.0, doc="specks per 100k pixels per frame"),
              "size": Param(0.5, 20.0, doc="speck radius (px)"),
              "opacity": Param(0.0, 1.0),
              "bright": Param(0.0, 1.0, doc="fraction of bright specks")}

    def count(self, rng, p, h, w):
        return rng.poisson(p["density"] * h * w / 1e5)

    def paint(self, rng, p, alpha, value):
        h, w = alpha.shape
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        pts = _blob(rng, cx, cy, p["size"] * rng.uniform(0.3, 1.0), (5, 10), (0.4, 1.2))
        op = float(p["opacity"] * rng.uniform(0.6, 1.0))
        v = float(rng.uniform(0.85, 1.0) if rng.random() < p["bright"] else rng.uniform(0.0, 0.15))
        cv2.fillPoly(alpha, pts, op, lineType=cv2.LINE_AA, shift=4)
        cv2.fillPoly(value, pts, v, lineType=cv2.LINE_AA, shift=4)


class Hairs(_Drawn):
    """Hairs and fibres: thin curved lines caught in the gate for a frame."""

    name, tag = "hairs", 9
    params = {"rate": Param(0.0, 3.0, doc="hairs per frame"),
              "length": Param(5.0, 400.0, doc="length (px)"),
              "opacity": Param(0.0, 1.0)}

    def count(self, rng, p, h, w):
        return rng.poisson(p["rate"])

    def paint(self, rng, p, alpha, value):
        h, w = alpha.shape
        steps = 12
        seg = p["length"] / steps
        heading = rng.uniform(0, 2 * math.pi)
        turn = rng.normal(0, 0.35, steps).cumsum()
        x = np.concatenate([[rng.uniform(0, w)], seg * np.cos(heading + turn)]).cumsum()
        y = np.concatenate([[rng.uniform(0, h)], seg * np.sin(heading + turn)]).cumsum()
        pts = np.round(np.stack([x, y], 1) * 16).astype(np.int32)[None]
        op = float(p["opacity"] * rng.uniform(0.6, 1.0))
        v = float(rng.uniform(0.0, 0.12) if rng.random() < 0.7 else rng.uniform(0.88, 1.0))
        thick = int(rng.integers(1, 3))
        cv2.polylines(alpha, pts, False, op, thick, lineType=cv2.LINE_AA, shift=4)
        cv2.polylines(value, pts, False, v, thick, lineType=cv2.LINE_AA, shift=4)


class Blotches(Component):
    """Blotches and stains: large soft patches of changed density (mould, water, chemicals)."""

    name, tag = "blotches", 10
    params = {"rate": Param(0.0, 3.0, doc="blotches per frame"),
              "size": Param(3.0, 150.0, doc="radius (px)"),
              "opacity": Param(0.0, 1.0)}
    damage = True

    def apply(self, img, n, p, seed, mask):
        h, w = img.shape
        rng = frame_rng(seed, self.tag, n)
        count = rng.poisson(p["rate"])
        for _ in range(count):
            r = p["size"] * rng.uniform(0.4, 1.0)
            pad = int(2 * r) + 2
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
            x0, x1, y0, y1 = max(0, cx - pad), min(w, cx + pad), max(0, cy - pad), min(h, cy + pad)
            if x0 >= x1 or y0 >= y1:
                continue
            patch = np.zeros((y1 - y0, x1 - x0), np.float32)
            pts = _blob(rng, cx - x0, cy - y0, r, (6, 12), (0.5, 1.1))
            cv2.fillPoly(patch, pts, 1.0, lineType=cv2.LINE_AA, shift=4)
            alpha = cv2.GaussianBlur(patch, (0, 0), max(r / 4, 0.8)) * float(p["opacity"] * rng.uniform(0.5, 1.0))
            v = float(rng.uniform(0.0, 0.3) if rng.random() < 0.6 else rng.uniform(0.7, 1.0))
            img[y0:y1, x0:x1] = _blend(img[y0:y1, x0:x1], alpha, v, mask[y0:y1, x0:x1])
        return img


class Templates(Component):
    """User-supplied scratch/dust texture images (white damage on black) from `folder`, blended
    per frame by addition, subtraction or multiplication, as in the published training code."""

    name, tag = "templates", 11
    params = {"opacity": Param(0.0, 1.0)}
    options = {"folder": str}
    damage = True

    def __init__(self, ranges: dict[str, Any]) -> None:
        super().__init__(ranges)
        self.images = []
        folder = ranges.get("folder")
        if folder:
            images = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
            files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in images)
            for f in files:
                im = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
                if im is not None:
                    self.images.append(im.astype(np.float32) / 255.0)
            if not self.images:
                raise ValueError(f"templates: no readable images in {folder}")

    def apply(self, img, n, p, seed, mask):
        if not self.images:
            return img
        h, w = img.shape
        rng = frame_rng(seed, self.tag, n)
        t = self.images[int(rng.integers(len(self.images)))]
        if rng.random() < 0.5:
            t = t[:, ::-1]
        t = cv2.resize(np.ascontiguousarray(t), (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(t * float(p["opacity"] * rng.uniform(0.6, 1.0)), 0, 1)
        mode = int(rng.integers(3))
        np.maximum(mask, alpha, out=mask)
        if mode == 0:
            return img + alpha
        if mode == 1:
            return img - alpha
        return img * (1 - alpha)


# Order of application: optics, emulsion, fading, damage on the print, exposure, digitisation.
COMPONENTS: list[type[Component]] = [Blur, Resolution, Grain, Fading, Scratches, Dust, Hairs, Blotches, Templates,
                                     Flicker, Compression]
BY_NAME = {c.name: c for c in COMPONENTS}
