"""YAML presets: named descriptions of degradation strength and the restore settings that fit.

A preset is the name of a shipped file (light, medium, heavy, in the package's `data/presets/`) or a
path to a user's YAML file. A user's file may set `base: <name>` and override only some keys.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from vsrtn import data
from vsrtn.errors import ArgumentError, PresetError
from vsrtn.options import OPTIONS, is_int

if TYPE_CHECKING:
    from vsrtn.engine import EngineSettings
    from vsrtn.scenecut import CutSettings

PRESETS_DIR = data.path("presets")

# `restore:` / `colorize:` key -> (check, allowed-range text); ranges from vsrtn.options.
_WEIGHTS = (lambda v: isinstance(v, str) and bool(v), "a weights name or file path")
_ENGINE_SCHEMA: dict[str, tuple[Any, str]] = {
    "weights": _WEIGHTS,
    **{k: (OPTIONS[k].ok, OPTIONS[k].expected) for k in ("window", "context", "tile_overlap", "flow_scale")}}
# Keys only the `restore:` section takes: `degrain_weights` is the network that removes the grain
# too (what `degrain=True` picks), `degrain` makes it the preset's choice.
_RESTORE_SCHEMA: dict[str, tuple[Any, str]] = {
    **{k: (OPTIONS[k].ok, OPTIONS[k].expected) for k in ("deflicker", "grain")},
    "degrain_weights": _WEIGHTS, "degrain": (lambda v: isinstance(v, bool), "true or false")}
_TOP_KEYS = {"description": str, "base": str, "restore": dict, "colorize": dict, "degradation": dict}
_ENGINE_SECTIONS = ("restore", "colorize")  # sections with the engine schema above


def available() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def _read(path: Path, label: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PresetError(f"preset {label}: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PresetError(f"preset {label}: {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PresetError(f"preset {label}: {path} must hold a mapping of keys, got {type(data).__name__}")
    return data


def validate(data: dict[str, Any], label: str, partial: bool = False) -> None:
    """Raise PresetError naming the first unknown key, wrong type or out-of-range value.
    `partial`: a user's overrides, whose degradation section is checked once merged."""
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise PresetError(f"preset {label}: unknown key '{key}' (known: {sorted(_TOP_KEYS)})")
        if not isinstance(value, _TOP_KEYS[key]):
            raise PresetError(f"preset {label}: '{key}' must be a {_TOP_KEYS[key].__name__}, got {value!r}")
    if "degradation" in data and not partial:
        from vsrtn.degrade import validate_spec

        validate_spec(data["degradation"], f"preset {label}: degradation")
    for section in _ENGINE_SECTIONS:
        schema = {**_ENGINE_SCHEMA, **(_RESTORE_SCHEMA if section == "restore" else {})}
        for key, value in data.get(section, {}).items():
            if key not in schema:
                raise PresetError(f"preset {label}: unknown key '{section}.{key}' (known: {sorted(schema)})")
            ok, allowed = schema[key]
            if not ok(value):
                raise PresetError(f"preset {label}: '{section}.{key}' must be {allowed}, got {value!r}")


def load_preset(preset: str | os.PathLike) -> dict[str, Any]:
    """The validated preset (a user's file merged over its `base`, default 'medium')."""
    text = str(preset)
    named = PRESETS_DIR / f"{text}.yaml"
    if os.sep not in text and not text.endswith((".yaml", ".yml")):
        if not named.is_file():
            raise PresetError(f"unknown preset '{text}' (available: {', '.join(available())}; "
                              "or a path to a .yaml file)")
        data = _read(named, text)
        validate(data, text)
        return data
    path = Path(preset)
    if not path.is_file():
        raise PresetError(f"preset file {path} does not exist")
    user = _read(path, str(path))
    validate(user, str(path), partial=True)
    base_name = user.get("base", "medium")
    if os.sep in base_name or base_name not in available():
        raise PresetError(f"preset {path}: 'base' must be one of {available()}, got {base_name!r}")
    base = load_preset(base_name)
    merged = {**base, **{k: v for k, v in user.items() if k not in (*_ENGINE_SECTIONS, "degradation")}}
    for section in _ENGINE_SECTIONS:
        merged[section] = {**base.get(section, {}), **user.get(section, {})}
    # Degradation merges per component: a user may change one range of one component.
    degradation = {name: dict(cfg) for name, cfg in base.get("degradation", {}).items()}
    for name, cfg in (user.get("degradation") or {}).items():
        degradation[name] = {**degradation.get(name, {}), **cfg} if isinstance(cfg, dict) else cfg
    merged["degradation"] = degradation
    validate(merged, str(path))
    return merged


def network(section: dict[str, Any], weights: Any, degrain: Any, func: str, name: str = "restore") -> str:
    """The weights to load: `weights` when given, else the preset section's grain-removing
    network when `degrain` (or the preset's own `degrain`) is set, else its `weights`."""
    if degrain is not None and not isinstance(degrain, bool):
        raise ArgumentError(func, "degrain", "None, True or False", degrain)
    if weights is not None:
        if degrain:
            raise ArgumentError(func, "degrain", "None or False when 'weights' names the network", degrain)
        return str(weights)
    if section.get("degrain", False) if degrain is None else degrain:
        if not section.get("degrain_weights"):
            raise ArgumentError(func, "degrain", f"False (the preset's '{name}:' names no degrain_weights)", True)
        return str(section["degrain_weights"])
    if not section.get("weights"):
        raise ArgumentError(func, "weights", f"a weights name or file (the preset's '{name}:' names none)")
    return str(section["weights"])


def engine_settings(restore: dict[str, Any], *, window: int | None = None, context: int | None = None,
                    deflicker: int | None = None, grain: float | None = None,
                    tile: tuple[int, int] | None = None, tile_overlap: int | None = None,
                    flow_scale: float | None = None,
                    precision: str = "fp32", cuts: "CutSettings | None" = None) -> "EngineSettings":
    """Engine settings from a preset's `restore:` (or `colorize:`) section; explicit values take
    precedence. The preset's deflicker radius is capped at the context actually used (an explicit
    smaller `context` narrows it); an explicit `deflicker` above the context is an error."""
    from vsrtn.engine import EngineSettings

    defaults = EngineSettings()
    context = restore.get("context", defaults.context) if context is None else context
    if deflicker is None and is_int(context):
        deflicker = min(restore.get("deflicker", defaults.deflicker), max(context, 0))
    return EngineSettings(
        window=restore.get("window", defaults.window) if window is None else window,
        context=context,
        deflicker=defaults.deflicker if deflicker is None else deflicker,
        grain=restore.get("grain", defaults.grain) if grain is None else grain,
        tile=tile,
        tile_overlap=restore.get("tile_overlap", defaults.tile_overlap) if tile_overlap is None else tile_overlap,
        flow_scale=restore.get("flow_scale", defaults.flow_scale) if flow_scale is None else flow_scale,
        precision=precision, cuts=defaults.cuts if cuts is None else cuts)
