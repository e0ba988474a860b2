# vsrtn: every target sets itself up first (idempotent; a second run takes seconds).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup doctor test clean

# The main job: set up, then check the installation.
all: setup doctor

setup:
	@VENV=$(VENV) scripts/setup.sh

doctor: setup
	@$(VENV)/bin/vsrtn doctor

test: setup
	@$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
