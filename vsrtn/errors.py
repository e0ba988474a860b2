"""Typed errors. Every message names the function, the argument and what was expected."""
from __future__ import annotations


class VsrtnError(Exception):
    """Base class of every error vsrtn raises on purpose."""


def shown(value: object, limit: int = 80) -> str:
    """repr(value), cut short when long (a hostile file's values may be huge)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} items)" if hasattr(value, "__len__") else ""
    return text[:limit] + "..." + size


class ArgumentError(VsrtnError, ValueError):
    """An argument has the wrong type or value."""

    def __init__(self, func: str, arg: str, expected: str, got: object = None) -> None:
        self.func, self.arg, self.expected, self.got = func, arg, expected, got
        msg = f"{func}: '{arg}' must be {expected}"
        if got is not None:
            msg += f", got {shown(got)}"
        super().__init__(msg)


class WeightsError(VsrtnError):
    """Weights are missing, corrupt (checksum mismatch) or do not fit the model."""


class PresetError(VsrtnError, ValueError):
    """A preset file is unknown or invalid."""


class DeviceError(VsrtnError):
    """The requested compute device is not available."""


class MissingDependency(VsrtnError, ImportError):
    """A package vsrtn needs is not installed; the message says how to install it."""


def torch_missing() -> MissingDependency:
    """The error for a Python without PyTorch (vsrtn leaves the choice of build to the user)."""
    import sys

    return MissingDependency(
        f"vsrtn needs PyTorch, which is not installed in this Python ({sys.executable}): install the build "
        "for your hardware (https://pytorch.org/get-started/locally/), e.g. 'pip install torch', "
        "or PyPI's default build with 'pip install vsrtn[torch]'")
