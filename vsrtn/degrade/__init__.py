"""Synthetic old-film degradation: procedural, temporally rendered, seedable, no templates needed.

`Degrader(spec, seed).frame(clean, n)` returns frame n degraded and its damage mask; `spec` is a
preset's `degradation:` section. Frame n is a pure function of (seed, n, clean frame n).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from vsrtn.degrade.components import BY_NAME, COMPONENTS, Component, frame_rng
from vsrtn.errors import PresetError


def validate_spec(spec: Any, label: str = "degradation") -> None:
    """Raise PresetError naming the first unknown key, wrong type or out-of-range value."""
    if not isinstance(spec, dict):
        raise PresetError(f"{label}: must be a mapping of components ({', '.join(BY_NAME)})")
    for name, cfg in spec.items():
        where = f"{label}.{name}"
        if name not in BY_NAME:
            raise PresetError(f"{label}: unknown component '{name}' (known: {', '.join(BY_NAME)})")
        if not isinstance(cfg, dict):
            raise PresetError(f"{where}: must be a mapping with 'prob' and parameter ranges")
        cls = BY_NAME[name]
        known = {"prob", *cls.params, *cls.options}
        for key, value in cfg.items():
            if key not in known:
                raise PresetError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(known))})")
            if key in cls.options:
                if value is not None and not isinstance(value, cls.options[key]):
                    raise PresetError(f"'{where}.{key}' must be a {cls.options[key].__name__}, got {value!r}")
        prob = cfg.get("prob", 1.0)
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise PresetError(f"'{where}.prob' must be a number in 0..1, got {prob!r}")
        for key, param in cls.params.items():
            if key not in cfg:
                raise PresetError(f"{where}: missing key '{key}' ([min, max] within {param.lo:g}..{param.hi:g})")
            value = cfg[key]
            kind = "integers" if param.integer else "numbers"
            ok = (isinstance(value, (list, tuple)) and len(value) == 2
                  and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                  and (not param.integer or all(float(v).is_integer() for v in value))
                  and param.lo <= value[0] <= value[1] <= param.hi)
            if not ok:
                raise PresetError(f"'{where}.{key}' must be [min, max], {kind} with "
                                  f"{param.lo:g} <= min <= max <= {param.hi:g}, got {value!r}")


class Degrader:
    """Degrades the frames of one clip; which components it gets and their strengths are drawn
    from the spec's ranges with `seed`."""

    def __init__(self, spec: dict[str, Any], seed: int = 0) -> None:
        validate_spec(spec)
        self.seed = int(seed)
        self.active: list[tuple[Component, dict[str, float]]] = []
        for cls in COMPONENTS:
            cfg = spec.get(cls.name)
            if not cfg:
                continue
            if frame_rng(self.seed, cls.tag, 0xE4AB).random() >= cfg.get("prob", 1.0):
                continue
            comp = cls(cfg)
            self.active.append((comp, comp.clip_params(self.seed)))

    @property
    def components(self) -> list[str]:
        """Names of the components this clip gets."""
        return [c.name for c, _ in self.active]

    def frame(self, clean: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(degraded, damage mask) for clean luma frame n (float32 [0, 1], (H, W))."""
        return self._render(clean, n, self.active)

    def target(self, clean: np.ndarray, n: int, keep: tuple[str, ...] = ()) -> np.ndarray:
        """What restoring frame n should give: the clean frame in this clip's tone (its tone
        components, e.g. fading, applied) plus the components named in `keep` (e.g. "grain": the
        texture a restoration keeps, in the very realisation frame n's degradation got)."""
        return self._render(clean, n, [(c, p) for c, p in self.active if c.tone or c.name in keep])[0]

    def _render(self, clean: np.ndarray, n: int, components) -> tuple[np.ndarray, np.ndarray]:
        """Frame n with `components` (a subset of `active`, in order) applied, and their damage mask."""
        img = np.array(clean, dtype=np.float32, copy=True)
        mask = np.zeros(img.shape, np.float32)
        for comp, params in components:
            img = comp.apply(img, n, params, self.seed, mask)
        return np.clip(img, 0.0, 1.0).astype(np.float32, copy=False), mask

    def clip(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Degrade a sequence of clean frames (frame numbers from 0)."""
        for n, f in enumerate(frames):
            yield self.frame(f, n)


__all__ = ["Degrader", "validate_spec", "COMPONENTS"]
