"""One builder of engines for the VapourSynth plugin and the `vsrtn` command.

Every user option of `Restore`/`Colorize` and of `vsrtn restore/batch/colorize` is validated here,
once, before any frame is read, and every error names the calling function and the option.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from vsrtn.errors import ArgumentError, VsrtnError
from vsrtn.options import check, is_int

SECTIONS = ("restore", "colorize")


@dataclass(frozen=True)
class DeviceOptions:
    """Where and how a network runs: `device` "cuda", "cpu" or None (CUDA when available),
    `index` which GPU, `fp16` half precision (CUDA only), `streams` model calls in flight."""

    device: str | None = None
    index: int = 0
    fp16: bool = False
    streams: int = 1

    @classmethod
    def parse(cls, text: str | None, fp16: bool = False, func: str = "vsrtn") -> "DeviceOptions":
        """From the command line's `--device` (cpu, cuda or cuda:N)."""
        if text is None:
            return cls(fp16=fp16)
        name, sep, index = text.partition(":")
        if name not in ("cpu", "cuda") or (sep and not (name == "cuda" and index.isdigit())):
            raise ArgumentError(func, "device", "cpu, cuda or cuda:N", text)
        return cls(name, int(index) if index else 0, fp16)

    def validate(self, func: str) -> None:
        check("device_index", self.index, func)
        check("num_streams", self.streams, func)
        if self.fp16 is not None and not isinstance(self.fp16, bool):
            raise ArgumentError(func, "fp16", "None, True or False", self.fp16)

    def resolve(self, func: str):
        """The torch device, or an error naming what is missing."""
        from vsrtn.engine import resolve_device

        self.validate(func)
        device = resolve_device(self.device, self.index, func)
        if self.fp16 and device.type != "cuda":
            raise ArgumentError(func, "fp16", "False or None on the CPU (half precision needs CUDA)", self.fp16)
        return device


@dataclass(frozen=True)
class Built:
    """An engine ready to run, with what it was built from (for provenance props and reports)."""

    engine: Any
    weights: str
    preset: str


def _is_path(value: object) -> bool:
    return isinstance(value, str) or isinstance(value, os.PathLike)


def parse_tile(tile: Any, func: str) -> tuple[int, int] | None:
    """None, an int or [width, height] -> (width, height) or None."""
    if tile is None:
        return None
    if is_int(tile):
        tile = [tile, tile]
    if not (isinstance(tile, (list, tuple)) and len(tile) == 2 and all(is_int(v) for v in tile)):
        raise ArgumentError(func, "tile", "None, an int or [width, height]", tile)
    return int(tile[0]), int(tile[1])


def build_engine(func: str, section: str, *, preset: Any = "medium", weights: Any = None,
                 device: DeviceOptions = DeviceOptions(), window: Any = None, context: Any = None,
                 tile: Any = None, tile_overlap: Any = None, deflicker: Any = None, grain: Any = None,
                 degrain: Any = None, flow_scale: Any = None,
                 scene_change: Any = True, scene_detect: Any = True, sc_threshold: Any = None,
                 references: Sequence[Any] | None = None) -> Built:
    """The engine of `section` ("restore" or "colorize") from the user's options over the
    preset's section; raises VsrtnError naming `func` and the option."""
    from vsrtn.presets import engine_settings, load_preset, network
    from vsrtn.scenecut import DEFAULT_THRESHOLD, CutSettings, check_threshold
    from vsrtn.weights import load_model

    if section not in SECTIONS:
        raise ValueError(f"build_engine: section must be one of {SECTIONS}, got {section!r}")
    try:
        if not _is_path(preset):
            raise ArgumentError(func, "preset", "a preset name or a path to a YAML file", preset)
        if weights is not None and not _is_path(weights):
            raise ArgumentError(func, "weights", "None, a weights name or a file path", weights)
        for name, value in (("scene_change", scene_change), ("scene_detect", scene_detect)):
            if not isinstance(value, bool):
                raise ArgumentError(func, name, "True or False", value)
        threshold = DEFAULT_THRESHOLD if sc_threshold is None else check_threshold(sc_threshold, func)
        from_preset = load_preset(preset).get(section, {})
        torch_device = device.resolve(func)
        settings = engine_settings(
            from_preset, window=window, context=context, deflicker=deflicker, grain=grain,
            tile=parse_tile(tile, func), tile_overlap=tile_overlap, flow_scale=flow_scale,
            precision="fp16" if device.fp16 else "fp32",
            cuts=CutSettings(props=scene_change, detect=scene_change and scene_detect, threshold=threshold))
        weights_name = network(from_preset, weights, degrain, func, section)
        model = load_model(weights_name, device=torch_device)
        if section == "restore":
            from vsrtn.engine import Engine

            engine = Engine(model, torch_device, settings)
        else:
            from vsrtn.colorize import ColorEngine

            engine = ColorEngine(model, torch_device, settings, list(references or ()))
    except ArgumentError as exc:
        if exc.func == func:
            raise
        raise ArgumentError(func, exc.arg, exc.expected, exc.got) from None
    except VsrtnError as exc:
        text = str(exc)
        raise type(exc)(text if text.startswith(f"{func}: ") else f"{func}: {text}") from None
    return Built(engine, str(weights_name), str(preset))
