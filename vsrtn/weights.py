"""Weights: loading published RTN checkpoints, our own safetensors format, and the manifest.

Our format is one `.safetensors` file whose metadata holds the architecture (`RTNConfig`) and
free-form provenance, listed in a `manifest.json` beside it with its sha256. Weights are looked
up by name in the directories of $VSRTN_WEIGHTS (os.pathsep-separated), then in the weights shipped
with the package (`vsrtn/data/weights/`). A checksum mismatch is an error, never a warning.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vsrtn import data
from vsrtn.atomic import atomic_write
from vsrtn.errors import WeightsError, shown
from vsrtn.models.config import PUBLISHED, RTNConfig

if TYPE_CHECKING:  # torch modules are imported where they are built
    from vsrtn.models.rtn import RTN

SHIPPED_WEIGHTS = data.path("weights")
MANIFEST = "manifest.json"
MAX_CHECKPOINT_BYTES = 1 << 30  # a checkpoint (decompressed) or weights file larger than this is refused


def weights_dirs() -> list[Path]:
    """Directories searched for weights, in order."""
    dirs = [Path(p) for p in os.environ.get("VSRTN_WEIGHTS", "").split(os.pathsep) if p]
    return dirs + [SHIPPED_WEIGHTS]


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class WeightsEntry:
    """One manifest entry: a named weights file and its expected checksum (`error`: why the
    entry itself is unusable, e.g. a manifest that cannot be read or lacks the file's name)."""

    name: str
    path: Path
    sha256: str
    info: dict[str, Any]
    error: str | None = None

    def problem(self) -> str | None:
        """Why the file cannot be used (bad entry, missing, checksum mismatch), or None."""
        if self.error:
            return self.error
        if not self.path.is_file():
            return "file is missing"
        actual = sha256_file(self.path)
        if actual != self.sha256:
            return f"checksum mismatch: expected sha256 {self.sha256}, file has {actual} (corrupt or replaced)"
        return None


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
        return dict(data["weights"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"cannot read weights manifest {path}: {exc}") from exc


def _entry(name: str, info: Any, folder: Path, manifest: Path) -> WeightsEntry:
    """A manifest entry, or one that says what is wrong with it."""
    if not isinstance(info, dict):
        return WeightsEntry(name, manifest, "", {}, f"entry in {manifest} is not a mapping")
    file, sha = info.get("file"), info.get("sha256")
    if not isinstance(file, str) or not file or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        return WeightsEntry(name, manifest, "", info, f"entry in {manifest} needs 'file' and a sha256 'sha256'")
    return WeightsEntry(name, folder / file, sha, info)


def list_weights() -> list[WeightsEntry]:
    """Every entry of every manifest on the search path (earlier directories win on a name).
    A manifest that cannot be read is listed as one entry named after it, with its error."""
    seen: dict[str, WeightsEntry] = {}
    for d in weights_dirs():
        manifest = d / MANIFEST
        try:
            if not manifest.exists():
                continue
            entries = read_manifest(manifest)
        except (OSError, WeightsError) as exc:
            seen.setdefault(str(manifest), WeightsEntry(str(manifest), manifest, "", {}, str(exc)))
            continue
        for name, info in entries.items():
            if name not in seen:
                seen[name] = _entry(name, info, d, manifest)
    return list(seen.values())


def find_weights(name: str) -> WeightsEntry:
    """The manifest entry called `name`; raises WeightsError naming where we looked."""
    for entry in list_weights():
        if entry.name == name:
            return entry
    where = ", ".join(str(d) for d in weights_dirs())
    raise WeightsError(f"no weights named '{name}' in the manifests of: {where}. "
                       "Train them with scripts/train.py or convert a published checkpoint with 'vsrtn convert'.")


# ---------------------------------------------------------------- published checkpoints

_PUBLISHED_RENAMES = [
    (r"^spynet\.", "flow.raft."),
    (r"^forward_resblocks\.", "forward_trunk."),
    (r"^backward_resblocks\.", "backward_trunk."),
    (r"^(\w+_trunk)\.patch_embed\.norm\.", r"\1.embed_norm."),
    (r"\.residual_group\.blocks\.", ".blocks."),
    (r"\.conv_before_upsample\.0\.", ".conv_before_upsample."),
    (r"^Forward_Aggregation\.", "forward_gate."),
    (r"^Backward_Aggregation\.", "backward_gate."),
    (r"_gate\.conv2d_projection_head\.", "_gate.embed."),
    (r"_gate\.conv2d_1\.", "_gate.mask1."),
    (r"_gate\.conv2d_2\.", "_gate.mask2."),
    (r"^concate\.", "head.fuse."),
    (r"^up1\.up_conv\.", "head.conv1."),
    (r"^up2\.up_conv\.", "head.conv2."),
    (r"^conv_hr\.", "head.conv3."),
    (r"^conv_last\.", "head.out."),
]
# Buffers the published file stores that we derive: Swin masks for its 256 px training size and
# index tables (recomputed for any size), and RAFT's BatchNorm aliased under a second name.
_PUBLISHED_DERIVED = re.compile(r"(\.attn_mask$|\.relative_position_index$|^spynet\.cnet\.layer\d\.0\.norm3\.)")


def _read_bounded(path: Path) -> bytes:
    """The file's bytes (gunzipped if gzip), refusing more than MAX_CHECKPOINT_BYTES either way."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CHECKPOINT_BYTES + 1)
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
                raw = g.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:  # gzip's BadGzipFile and EOFError on truncation are OSError/EOFError
        raise WeightsError(f"cannot read checkpoint {path}: {exc}") from exc
    except EOFError as exc:
        raise WeightsError(f"{path}: truncated gzip data") from exc
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise WeightsError(f"{path}: more than {MAX_CHECKPOINT_BYTES >> 20} MiB (decompressed); not a checkpoint "
                           "vsrtn reads")
    return raw


def _check_archive(raw: bytes, path: Path) -> None:
    """A PyTorch zip checkpoint's members, decompressed, fit MAX_CHECKPOINT_BYTES."""
    import zipfile

    if raw[:4] != b"PK\x03\x04":
        return
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            total = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    if total > MAX_CHECKPOINT_BYTES:
        raise WeightsError(f"{path}: its archive unpacks to {total >> 20} MiB; not a checkpoint vsrtn reads")


def _read_checkpoint(path: Path) -> dict[str, Any]:
    raw = _read_bounded(path)
    _check_archive(raw, path)
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc


def published_to_state_dict(published: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a published `netG` state dict to our module names (dropping derived buffers)."""
    out = {}
    for key, value in published.items():
        if _PUBLISHED_DERIVED.search(key):
            continue
        new = key
        for pattern, repl in _PUBLISHED_RENAMES:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out


def _fit_problems(expected: dict[str, tuple[int, ...]], shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """How tensors of `shapes` fail to fit a network whose tensors have `expected` shapes."""
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in set(expected) & set(shapes) if tuple(expected[k]) != tuple(shapes[k]))

    def show(keys):
        return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

    parts = []
    if missing:
        parts.append(f"missing {len(missing)} keys: {show(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} keys: {show(unexpected)}")
    if wrong:
        parts.append(f"wrong shapes: {show(wrong)}")
    return parts


def _network_shapes(config: RTNConfig) -> dict[str, tuple[int, ...]]:
    """Tensor shapes of the network `config` describes, found without allocating it."""
    from vsrtn.models.rtn import RTN

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in RTN(config).state_dict().items()}


def _check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise WeightsError(f"{source}: {len(bad)} tensors hold NaN or infinite values (e.g. {bad[0]}); "
                           "the file is corrupt")


def _load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    _check_finite(state, source)
    problems = _fit_problems({k: tuple(v.shape) for k, v in model.state_dict().items()},
                             {k: tuple(v.shape) for k, v in state.items()})
    if problems:
        raise WeightsError(f"{source} does not fit the {model.config} network: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def load_published(path: str | os.PathLike) -> "RTN":
    """Load a published RTN checkpoint ({'netG': state_dict}, plain or .gz) in the published config."""
    from vsrtn.models.rtn import RTN

    path = Path(path)
    ckpt = _read_checkpoint(path)
    if not isinstance(ckpt, dict) or "netG" not in ckpt:
        raise WeightsError(f"{path}: expected a published RTN checkpoint with a 'netG' state dict")
    model = RTN(PUBLISHED)
    _load_strict(model, published_to_state_dict(ckpt["netG"]), str(path))
    return model.eval()


# ---------------------------------------------------------------- our format


def save_weights(model: "RTN", path: str | os.PathLike, info: dict[str, Any] | None = None) -> str:
    """Write `model` as vsrtn weights (safetensors + config metadata); returns the sha256."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "vsrtn-rtn/1", "config": json.dumps(model.config.to_dict()),
            "info": json.dumps(info or {})}
    data = save(state, metadata=meta)
    atomic_write(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load_weights_file(path: str | os.PathLike) -> "RTN":
    """Load one of our `.safetensors` weights files (config from its metadata)."""
    from safetensors import safe_open

    from vsrtn.errors import ArgumentError
    from vsrtn.models.rtn import RTN

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror}") from exc
    if size > MAX_CHECKPOINT_BYTES:
        raise WeightsError(f"{path}: larger than {MAX_CHECKPOINT_BYTES >> 20} MiB; not weights vsrtn reads")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            if meta.get("format") != "vsrtn-rtn/1":
                raise WeightsError(f"{path}: not vsrtn weights (metadata format={shown(meta.get('format'))})")
            try:
                config = RTNConfig.from_dict(json.loads(meta["config"]))
            except (KeyError, ValueError, TypeError) as exc:  # ArgumentError is a ValueError
                detail = str(exc) if isinstance(exc, ArgumentError) else f"{type(exc).__name__}: {exc}"
                raise WeightsError(f"{path}: its architecture metadata ('config') is missing or invalid ({detail})"
                                   ) from None
            # Shapes are checked against the network before anything is allocated.
            problems = _fit_problems(_network_shapes(config), shapes)
            if problems:
                raise WeightsError(f"{path} does not fit the {config} network: " + "; ".join(problems))
            state = {k: f.get_tensor(k) for k in f.keys()}
    except WeightsError:
        raise
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    model = RTN(config)
    _load_strict(model, state, str(path))
    return model.eval()


def weights_info(source: str | os.PathLike) -> dict[str, Any]:
    """The provenance stored with vsrtn weights (a manifest name or a .safetensors file): training
    record, evaluation; {} where there is none."""
    path = Path(source)
    if not path.exists() and path.suffix == "" and os.sep not in str(source):
        return find_weights(str(source)).info
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            info = json.loads((f.metadata() or {}).get("info", "{}"))
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    return info if isinstance(info, dict) else {}


def weights_sha256(source: str | os.PathLike) -> str:
    """The checksum of the weights a name (from its manifest entry) or a file stands for."""
    path = Path(source)
    return sha256_file(path) if path.is_file() else find_weights(str(source)).sha256


def load_model(source: str | os.PathLike, device: str | torch.device = "cpu") -> "RTN":
    """An RTN in eval mode from a weights name (manifest, checksum verified), one of our
    `.safetensors` files, or a published checkpoint (`.pth`, `.pth.gz`)."""
    if not isinstance(source, (str, os.PathLike)):
        raise WeightsError(f"weights must be a name or a file path, got {shown(source)}")
    path = Path(source)
    if not path.exists() and path.suffix == "" and os.sep not in str(source):
        entry = find_weights(str(source))
        problem = entry.problem()
        if problem:
            raise WeightsError(f"weights '{entry.name}' ({entry.path}): {problem}")
        path = entry.path
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    model = load_weights_file(path) if path.suffix == ".safetensors" else load_published(path)
    return model.to(device)


def add_to_manifest(manifest: str | os.PathLike, name: str, weights_path: str | os.PathLike, sha256: str,
                    info: dict[str, Any]) -> WeightsEntry:
    """Add or replace the entry `name` (file stored relative to the manifest's directory)."""
    manifest = Path(manifest)
    entries = read_manifest(manifest) if manifest.exists() else {}
    rel = os.path.relpath(Path(weights_path).resolve(), manifest.resolve().parent)
    entries[name] = {"file": rel, "sha256": sha256, **info}
    atomic_write(manifest, (json.dumps({"weights": entries}, indent=2, sort_keys=True) + "\n").encode())
    return WeightsEntry(name, manifest.parent / rel, sha256, entries[name])


def record_evaluation(manifest: str | os.PathLike, name: str, evaluation: dict[str, Any]) -> None:
    """Store the evaluation summary of the weights `name` in their manifest entry."""
    manifest = Path(manifest)
    entries = read_manifest(manifest)
    if name not in entries:
        raise WeightsError(f"{manifest} has no entry '{name}' to record an evaluation for")
    entries[name]["evaluation"] = evaluation
    atomic_write(manifest, (json.dumps({"weights": entries}, indent=2, sort_keys=True) + "\n").encode())


def convert_published(src: str | os.PathLike, dst: str | os.PathLike, name: str | None = None,
                      manifest: str | os.PathLike | None = None) -> WeightsEntry:
    """Convert a published checkpoint to our format; optionally record it in a manifest."""
    model = load_published(src)
    name = name or Path(dst).stem
    info = {"config": model.config.to_dict(), "source": f"converted from published checkpoint {Path(src).name}"}
    sha = save_weights(model, dst, info)
    if manifest:
        return add_to_manifest(manifest, name, dst, sha, info)
    return WeightsEntry(name, Path(dst), sha, info)
