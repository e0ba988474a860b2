"""The range of every numeric option, in one place: the preset schema, `EngineSettings`,
`DeviceOptions` and the window planner take theirs from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from vsrtn.errors import ArgumentError


def is_int(value: object) -> bool:
    """An integer, and not a bool (True is an int to Python, never to a user)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Range:
    """An integer (`integer`) or a number in lo..hi, both ends included."""

    lo: float
    hi: float
    integer: bool = True

    @property
    def expected(self) -> str:
        """What a message says the value must be."""
        if self.integer:
            return f"an integer in {self.lo}..{self.hi}"
        return f"a number in {self.lo:g}..{self.hi:g}"

    def ok(self, value: object) -> bool:
        number = is_int(value) or (not self.integer and isinstance(value, float))
        return number and self.lo <= value <= self.hi  # type: ignore[operator]

    def check(self, value: object, func: str, arg: str) -> None:
        """Raise ArgumentError naming `func` and `arg` unless `value` is in range."""
        if not self.ok(value):
            raise ArgumentError(func, arg, self.expected, value)


OPTIONS: dict[str, Range] = {
    "window": Range(1, 256),  # core frames per model call
    "context": Range(0, 64),  # extra frames each side
    "deflicker": Range(0, 64),  # frames each side; at most `context` as well
    "grain": Range(0, 1, integer=False),  # share of the source's grain put back
    "tile_overlap": Range(0, 64),  # pixels shared by neighbouring tiles
    "flow_scale": Range(0.25, 1, integer=False),  # size at which DIS flow is computed, relative to the frame
    "device_index": Range(0, 64),  # which GPU
    "num_streams": Range(1, 16),  # model calls in flight
}


def check(name: str, value: object, func: str, arg: str | None = None) -> None:
    """Raise ArgumentError naming `func` and the option unless `value` is in `name`'s range."""
    OPTIONS[name].check(value, func, arg or name)
