# vsrtn: every target sets itself up first (idempotent; a second run takes seconds).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup doctor demo test benchmark clean

# The main job: set up, check the installation, and run the demo (out/demo/).
all: setup doctor demo

setup:
	@VENV=$(VENV) scripts/setup.sh

doctor: setup
	@$(VENV)/bin/vsrtn doctor

demo: setup
	@$(PY) scripts/demo.py --out out/demo

test: setup
	@$(PY) -m pytest -q $(PYTEST_ARGS)

benchmark: setup
	@$(PY) scripts/benchmark.py --json out/benchmark.json
	@$(PY) scripts/benchmark_degrade.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info out
