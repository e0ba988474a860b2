"""vsrtn: old-film restoration with the Recurrent Transformer Network (CVPR 2022).

The heavy parts (torch, VapourSynth) are imported lazily so that `import vsrtn` stays cheap.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("vsrtn.weights", "load_model"),
    "RTN": ("vsrtn.models.rtn", "RTN"),
    "RTNConfig": ("vsrtn.models.config", "RTNConfig"),
    "Engine": ("vsrtn.engine", "Engine"),
    "Restore": ("vsrtn.plugin", "Restore"),
    "restore": ("vsrtn.plugin", "restore"),
    "Colorize": ("vsrtn.plugin", "Colorize"),
    "colorize": ("vsrtn.plugin", "colorize"),
    "Degrade": ("vsrtn.plugin", "Degrade"),
    "degrade": ("vsrtn.plugin", "degrade"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == "torch":
                from vsrtn.errors import torch_missing

                raise torch_missing() from None
            raise
    raise AttributeError(f"module 'vsrtn' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
