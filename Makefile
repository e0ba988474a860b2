# vsrtn: every target sets itself up first (idempotent; a second run takes seconds).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup doctor demo lint test test-cuda wheel-smoke device-bundle benchmark clean

# The main job: set up, check the installation, and run the demo (out/demo/).
all: setup doctor demo

setup:
	@VENV=$(VENV) scripts/setup.sh

doctor: setup
	@$(VENV)/bin/vsrtn doctor

demo: setup
	@$(PY) scripts/demo.py --out out/demo

# Style and correctness checks (ruff, configured in pyproject.toml).
lint: setup
	@$(VENV)/bin/ruff check vsrtn scripts tests

test: setup
	@$(PY) -m pytest -q $(PYTEST_ARGS)

# Build the wheel and sdist, install the wheel into a fresh venv outside the clone and use it there.
wheel-smoke: setup
	@$(PY) scripts/wheel_smoke.py

# The CUDA tests (skipped by `make test` on a machine without CUDA).
test-cuda: setup
	@$(PY) -m pytest -q -rs tests/test_cuda.py

# What scripts/device_check.sh needs on a GPU machine that cannot fetch anything: the VapourSynth
# wheel (.whl/) and the training photographs (.device/), to be carried with the tree.
device-bundle: setup
	@$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 -d .whl \
		"vapoursynth==$$($(PY) -c 'import importlib.metadata as m; print(m.version("vapoursynth"))')"
	@$(PY) -c "from vsrtn.assets import cache_dir; from vsrtn.train.content import build_photos, content_dir; \
		import shutil; build_photos(cache_dir()); \
		shutil.copytree(content_dir(cache_dir()), '.device/cache/content/photos', dirs_exist_ok=True)"
	@du -sh .whl .device

benchmark: setup
	@$(PY) scripts/benchmark.py --json out/benchmark.json
	@$(PY) scripts/benchmark_degrade.py
	@$(PY) scripts/benchmark_stages.py --json out/bench-stages.json
	@$(PY) scripts/benchmark_cluster.py --json out/bench-cluster.json

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info out
