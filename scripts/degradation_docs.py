#!/usr/bin/env python3
"""Regenerate docs/DEGRADATION.md's picture and parameter table from the shipped presets (vsrtn/data/presets/*.yaml).

  python scripts/degradation_docs.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from vsrtn.degrade import Degrader
from vsrtn.degrade.components import COMPONENTS
from vsrtn.presets import load_preset
from vsrtn.train.content import camera_clip

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["light", "medium", "heavy"]


def figure(path: Path) -> None:
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    clip = camera_clip(photo, np.random.default_rng(4), 3, 256)
    rows = [np.concatenate(list(clip), axis=1)]
    for name in PRESETS:
        d = Degrader(load_preset(name)["degradation"], seed=11)
        rows.append(np.concatenate([d.frame(f, n)[0] for n, f in enumerate(clip)], axis=1))
    img = cv2.cvtColor(np.rint(np.concatenate(rows, 0) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for i, label in enumerate(["clean", *PRESETS]):
        cv2.putText(img, label, (8, i * 256 + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 220, 255), 2, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def fmt(v) -> str:
    return f"{v[0]:g}-{v[1]:g}" if v[0] != v[1] else f"{v[0]:g}"


def table() -> str:
    specs = {n: load_preset(n)["degradation"] for n in PRESETS}
    lines = ["| component | parameter | meaning | " + " | ".join(PRESETS) + " |",
             "|---|---|---|" + "---|" * len(PRESETS)]
    for cls in COMPONENTS:
        if not any(cls.name in s for s in specs.values()):
            continue
        probs = [f"{specs[n][cls.name]['prob']:g}" if cls.name in specs[n] else "off" for n in PRESETS]
        lines.append(f"| **{cls.name}** | prob | share of clips that get it | " + " | ".join(probs) + " |")
        for key, p in cls.params.items():
            vals = [fmt(specs[n][cls.name][key]) if cls.name in specs[n] else "" for n in PRESETS]
            lines.append(f"| | {key} | {p.doc or ''} (allowed {p.lo:g}-{p.hi:g}) | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main() -> int:
    figure(ROOT / "docs" / "img" / "degradation_presets.png")
    doc = ROOT / "docs" / "DEGRADATION.md"
    text = doc.read_text()
    start, end = "<!-- table:start -->", "<!-- table:end -->"
    text = text[:text.index(start) + len(start)] + "\n" + table() + "\n" + text[text.index(end):]
    doc.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
