"""Typed errors. Every message names the function, the argument and what was expected."""
from __future__ import annotations


class VsrtnError(Exception):
    """Base class of every error vsrtn raises on purpose."""


class ArgumentError(VsrtnError, ValueError):
    """An argument has the wrong type or value."""

    def __init__(self, func: str, arg: str, expected: str, got: object = None) -> None:
        self.func, self.arg, self.expected, self.got = func, arg, expected, got
        msg = f"{func}: '{arg}' must be {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)


class WeightsError(VsrtnError):
    """Weights are missing, corrupt (checksum mismatch) or do not fit the model."""


class PresetError(VsrtnError, ValueError):
    """A preset file is unknown or invalid."""


class DeviceError(VsrtnError):
    """The requested compute device is not available."""
