#!/usr/bin/env bash
# The GPU checks as one command, for a lent GPU machine (python3 with a CUDA torch, numpy,
# opencv, pyyaml, safetensors and pytest; no network):
#   1. tests/test_cuda.py: CUDA against the CPU, request order and CUDA streams, half precision,
#      training that resumes on the CPU;
#   2. the engine benchmark on CUDA, fp32 and fp16, and `vsrtn.Restore` itself in fp16
#      (scripts/benchmark.py);
#   3. a restoration training run on CUDA from the shipped network's run, stopped cleanly after
#      TRAIN_SECONDS (the trainer checkpoints on SIGTERM), to continue here or on the next GPU.
# Results go to $OUT (default out/device). Run `make device-bundle` first: it puts what that
# machine cannot fetch beside the tree (the VapourSynth wheel in .whl/, the training photographs
# in .device/), to be carried along: run with carry [".whl", ".device"]. The tool takes at most
# 64 MiB in all (tracked tree ~42 MB, .whl 6 MB, .device 17 MB when last measured); if it grows past
# that, leave .whl behind (the plugin test is then skipped).
#
# Usage: [OUT=dir] [TRAIN_SECONDS=240] [TRAIN_ITERS=4000] scripts/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/device}
TRAIN_SECONDS=${TRAIN_SECONDS:-240}
TRAIN_ITERS=${TRAIN_ITERS:-4000}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vsrtn-site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/vsrtn-site"
fi
[ -d .device/cache ] && export VSRTN_CACHE="$PWD/.device/cache"
failed=0
stage() { echo "== $1 ($(date +%T))"; }

stage machine
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  nproc; } 2>&1 | tee "$OUT/machine.txt"

stage "CUDA tests"
$PY -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py 2>&1 | tee "$OUT/test_cuda.log" || failed=1

stage benchmark
for precision in fp32 fp16; do
    $PY scripts/benchmark.py --device cuda --precision "$precision" \
        --modes engine-compact-dis,engine-published-dis,engine-published-raft \
        --sizes 720x480,1920x1080 --lengths 60 --slow-sizes 720x480,1920x1080 --slow-frames 60 \
        --json "$OUT/benchmark_cuda_$precision.json" || failed=1
done
# The real plugin path (needs the carried VapourSynth wheel), apart so the numbers above come anyway.
$PY scripts/benchmark.py --device cuda --precision fp16 --modes plugin-restore --sizes 720x480,1920x1080 \
    --lengths 240 --json "$OUT/benchmark_cuda_plugin.json" || failed=1

stage "training (${TRAIN_SECONDS} s)"
# No perceptual term: its VGG16 weights (59 MB) do not fit the carried tree.
timeout -s TERM -k 60 "$TRAIN_SECONDS" $PY scripts/train.py --run "$OUT/train" --model compact \
    --presets light,medium --frames 6,9 --crop 128 --batch 16 --iters "$TRAIN_ITERS" --lr 0.0001 \
    --perceptual 0 --gan 0 --mask-supervision 0 --lowpass 0.25 --seed 14 --device cuda --workers 12 \
    --init rtn-compact 2>&1 | tee "$OUT/train.log"
[ -f "$OUT/train/checkpoint.pt" ] || failed=1

stage "done (failed=$failed)"
exit $failed
