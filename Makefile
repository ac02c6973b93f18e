# xaiexit: every target creates .venv first if it is missing.
#   make lab      JupyterLab on the course (AUTOGRADER=1: the solutions' hidden tests run too)
#   make test     the whole test suite, on every core (installs bubblewrap and chromium if missing)
#                 JOBS=N for N pytest-xdist workers (default: two per core)
#   make lint     ruff: lint and format check
#   make bench    the benchmark tables in benchmarks/
#   make check LESSON=1                      your saved Lesson 1, one line per exercise
#   make release                             regenerate lessons/ from solutions/
#   make grade LESSON=1 SUBMISSIONS=dir [WORKSPACE=dir] [GRADE_ARGS=--no-sandbox]   grade a class (sandboxed unless told)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, cloud IDEs) without --allow-root
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

LESSON ?= 1
SUBMISSIONS ?= submissions
WORKSPACE ?=
GRADE_ARGS ?=

# the instructor's package (autograder/xaiexit_grading) on the kernels' path, for the hidden tests
LAB_ENV := $(if $(AUTOGRADER),PYTHONPATH="$(CURDIR)/autograder$${PYTHONPATH:+:$$PYTHONPATH}")
# pytest-xdist workers: two per core, since many tests wait (kernels starting, a browser,
# an endless loop reaching its time limit) rather than compute; each computes on one thread
JOBS ?= $(shell $(PYTHON) -c 'import os; print(2 * (os.cpu_count() or 1))')

.PHONY: lab test lint system-packages bench check release grade venv clean-venv

venv: $(STAMP)

# Reinstalls only when pyproject.toml changes; a second `make lab` starts at once.
$(STAMP): pyproject.toml xaiexit/__init__.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[course,dev]'
	@touch $(STAMP)

# The venv's bin/ goes first on PATH so that JupyterLab's terminals find `xaiexit`.
lab: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(LAB_ENV) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --port=$(PORT) $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP) system-packages
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# bubblewrap (the grading sandbox) and chromium (the browser test): installed with apt-get
# when missing and possible, else one message naming the command to run
system-packages:
	@tools/system-packages.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/saliency_vs_captum.py
	$(BIN)/python benchmarks/early_exit.py
	$(BIN)/python benchmarks/exit_rules.py
	$(BIN)/python benchmarks/unet.py

check: $(STAMP)
	$(BIN)/xaiexit check $(LESSON)

release: $(STAMP)
	$(BIN)/xaiexit release

grade: $(STAMP)
	$(BIN)/xaiexit grade $(LESSON) $(SUBMISSIONS) $(if $(WORKSPACE),--workspace $(WORKSPACE)) $(GRADE_ARGS)

clean-venv:
	rm -rf $(VENV)
