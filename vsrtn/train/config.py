"""What a training run depends on (`TrainConfig`), stored in its checkpoints and in the weights
manifest's training records."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    """Everything a run depends on; stored in its checkpoints and in the exported manifest."""

    model: str = "compact"  # a named RTNConfig
    # DIS preset the network is trained with and will run with (stored in its config); None: the
    # named model's. Fine-tuning onto a cheaper preset is what makes that preset's speed free.
    dis_preset: str | None = None
    presets: list[str] = field(default_factory=lambda: ["light", "medium", "heavy"])
    frames: tuple[int, int] = (7, 11)  # clip length range (inclusive)
    crop: int = 96
    batch: int = 4
    iters: int = 20000
    lr: float = 2e-4
    lr_min: float = 1e-6
    perceptual: float = 0.05  # weight of the VGG16 perceptual loss
    perceptual_frames: int = 2  # frames per clip that get it (VGG is the costliest part on a CPU)
    gan: float = 0.0  # weight of the spatio-temporal PatchGAN hinge loss (0 = off)
    # Weight of the soft-mask loss from the damage mask (gate_loss). Off by default: even in its
    # relative form it slowed early learning ~10x in a 120-step comparison (+0.04 vs +0.70 dB).
    mask_supervision: float = 0.0
    lowpass: float = 0.25  # restoration: weight of the pixel loss's low-frequency part (split_l1)
    # Restoration: the target keeps the grain the degradation added (the same realisation), so the
    # network learns to remove damage, flicker and blur and to keep the film's texture.
    keep_grain: bool = False
    tied_reference: float = 0.7  # colorization: share of samples whose reference shows a clip frame
    reference_gap: tuple[int, int] = (3, 12)  # colorization: frames between an untied reference and the clip
    objects: float = 0.0  # share of photograph clips that get 1-2 objects moving on their own paths
    # Colorization: share of samples whose hint has 1-3 elliptical holes (no color, zero
    # confidence) to fill from the surroundings and the neighbouring frames: training hints are
    # otherwise nearly right everywhere, which teaches the network to add nothing.
    holes: float = 0.0
    ab_loss: str = "l1"  # colorization pixel loss on ab: "l1" or "l2" (see ab_pixel_loss)
    # Std of a new run's output-layer weights (0: zero, the identity start). A zero output layer
    # passes no gradient to the layers before it, and the first steps then teach them to fall
    # silent rather than to carry what the output needs (measured on the color network).
    head_init: float = 0.0
    seed: int = 0
    data: str | None = None  # a folder of videos / frame sequences instead of the photographs
    init: str | None = None  # weights a new run starts from (fine-tuning): a run's checkpoint.pt, or vsrtn weights
    log_every: int = 20
    checkpoint_every: int = 200
    device: str = "cpu"
    # Processes drawing the samples (0: the training process itself). Samples are pure functions
    # of (seed, index), so the batches are the same either way; on a GPU the CPU-side degradation
    # otherwise bounds the rate.
    workers: int = 0


# Settings that do not change what a run learns: a run may resume on another device (started on a
# GPU lease, finished on a CPU), with other sample workers, or log and checkpoint at another rate.
BOOKKEEPING = ("device", "log_every", "checkpoint_every", "workers")
