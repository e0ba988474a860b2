"""Architecture configuration of an RTN model; stored next to every weights file we write."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vsrtn.errors import ArgumentError

FLOWS = ("raft", "dis")
# Integer fields and their bounds (well above any network vsrtn trains or converts).
_INT_BOUNDS = {"num_feat": (2, 256), "embed_dim": (4, 512), "window_size": (2, 32), "raft_iters": (1, 64),
               "in_channels": (1, 16), "out_channels": (1, 16), "guide_channel": (0, 15)}


@dataclass(frozen=True)
class RTNConfig:
    """Widths, depths and flow method of an RTN. `RTNConfig()` is the published network."""

    num_feat: int = 16  # channels of the recurrent hidden state
    embed_dim: int = 64  # width of the Swin trunk (runs at half resolution)
    depths: tuple[int, ...] = (2, 2, 2)  # Swin blocks per residual group
    num_heads: tuple[int, ...] = (4, 4, 4)
    window_size: int = 8
    mlp_ratio: float = 2.0
    flow: str = "raft"  # "raft" (published; weights in the checkpoint) or "dis" (OpenCV, no weights)
    raft_iters: int = 24
    dis_preset: str = "medium"  # "ultrafast" | "fast" | "medium"
    # "tanh": tanh(head + input) as published; "linear": head + input, clamped to [-1, 1] outside
    # training. The linear residual starts as the identity (zero-initialised head), so a model
    # trained briefly never makes a frame worse through tanh's compression of bright/dark values.
    output: str = "tanh"
    in_channels: int = 3  # per-frame input channels (restoration: gray replicated to 3)
    out_channels: int = 3  # predicted channels; the residual adds the first out_channels inputs
    guide_channel: int = 0  # the input channel holding luma: flows and the gate's residual use it

    def __post_init__(self) -> None:
        where = "RTNConfig"
        # Bounds first: a weights file's metadata is untrusted, and these sizes decide allocations.
        for name, (lo, hi) in _INT_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ArgumentError(where, name, f"an integer in {lo}..{hi}", value)
        for name in ("depths", "num_heads"):
            value = getattr(self, name)
            if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 8
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 32 for v in value)):
                raise ArgumentError(where, name, "1..8 integers in 1..32", value)
        if isinstance(self.mlp_ratio, bool) or not isinstance(self.mlp_ratio, (int, float)) \
                or not 0.5 <= self.mlp_ratio <= 8:
            raise ArgumentError(where, "mlp_ratio", "a number in 0.5..8", self.mlp_ratio)
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        if self.flow not in FLOWS:
            raise ArgumentError(where, "flow", f"one of {FLOWS}", self.flow)
        if self.dis_preset not in ("ultrafast", "fast", "medium"):
            raise ArgumentError(where, "dis_preset", "'ultrafast', 'fast' or 'medium'", self.dis_preset)
        if len(self.depths) != len(self.num_heads) or not self.depths:
            raise ArgumentError(where, "num_heads", "one entry per entry of depths", self.num_heads)
        if self.num_feat < 2 or self.num_feat % 2:
            raise ArgumentError(where, "num_feat", "an even integer >= 2", self.num_feat)
        if self.embed_dim % 4:
            raise ArgumentError(where, "embed_dim", "a multiple of 4", self.embed_dim)
        if any(self.embed_dim % h for h in self.num_heads):
            raise ArgumentError(where, "num_heads", f"divisors of embed_dim={self.embed_dim}", self.num_heads)
        if self.window_size < 2 or self.window_size % 2:
            raise ArgumentError(where, "window_size", "an even integer >= 2", self.window_size)
        if self.output not in ("tanh", "linear"):
            raise ArgumentError(where, "output", "'tanh' or 'linear'", self.output)
        if not 1 <= self.out_channels <= self.in_channels:
            raise ArgumentError(where, "out_channels", f"1..in_channels={self.in_channels}", self.out_channels)
        if not 0 <= self.guide_channel < self.in_channels:
            raise ArgumentError(where, "guide_channel", f"0..{self.in_channels - 1}", self.guide_channel)

    @property
    def size_multiple(self) -> int:
        """Frame sizes the network runs on internally: half resolution tiled by whole windows."""
        return 2 * self.window_size

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["depths"], d["num_heads"] = list(self.depths), list(self.num_heads)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RTNConfig":
        if not isinstance(data, dict):
            raise ArgumentError("RTNConfig", "config", "a mapping of architecture keys", type(data).__name__)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ArgumentError("RTNConfig", ", ".join(unknown), f"known keys {sorted(known)}")
        return cls(**data)


PUBLISHED = RTNConfig()
# What vsrtn trains and ships by default: a quarter of the published trunk's compute, DIS flow
# (no flow weights exist offline, and DIS costs ~20 ms a pair on a CPU against RAFT's ~3 s).
COMPACT = RTNConfig(embed_dim=32, depths=(2, 2), num_heads=(2, 2), flow="dis", output="linear")
# Colorization (vsrtn.models.colorize): input (hint a, hint b, L, matching and warping
# confidence), output ab.
COLOR_COMPACT = RTNConfig(embed_dim=32, depths=(2, 2), num_heads=(2, 2), flow="dis", output="linear",
                          in_channels=5, out_channels=2, guide_channel=2)

NAMED_CONFIGS = {"published": PUBLISHED, "compact": COMPACT, "color-compact": COLOR_COMPACT}
