# NormCourse: two commands for learners (`make lab`, `make test`), a few more for authors.
# Every target installs what it needs into .venv first, from the pins in requirements*.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
LAB_ARGS ?=
# Jupyter refuses to start as root unless told; containers and CI machines often are root.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
NB     ?= notebooks/*.ipynb
# Deterministic, quiet runs: no progress bars in outputs, same hash seed everywhere.
RUN_ENV := NORMCOURSE_NO_PROGRESS=1 PYTHONHASHSEED=0
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout=600
# Notebooks in parallel (pytest-xdist): one worker = one kernel = one notebook at a time (--dist loadfile),
# each kernel on one torch thread; as many workers as cores, but no more than notebooks.
NBVAL_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); k=$$(ls $(NB) 2>/dev/null | wc -l); \
	[ $$k -lt 1 ] && k=1; echo $$(( n < k ? n : k )))
NBVAL_PARALLEL := -n $(NBVAL_WORKERS) --dist loadfile

.PHONY: help setup lab test lint unit nbval e2e regen bench lock clean imgs

help:
	@echo "make lab    - set up .venv and open the course in JupyterLab (localhost, token auth)"
	@echo "make test   - set up .venv, then lint, unit tests, nbval on every notebook, browser tests"
	@echo "make e2e    - browser tests: the course in JupyterLab + headless Chromium, make lab token check"
	@echo "make regen  - re-execute notebooks in place (NB=notebooks/01_*.ipynb for one)"
	@echo "make bench  - benchmark table (build/bench.json): notebook times, explorer latency, layers vs torch.nn"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml tools/jupyterlab_overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (NormCourse)" > /dev/null
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/jupyterlab_overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir="$(CURDIR)" $(ROOT_ARGS) $(LAB_ARGS) notebooks/00_start_here.ipynb

lint: $(STAMP)
	$(BIN)/ruff check course_utils tests tools notebooks

unit: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q tests --ignore=tests/e2e

e2e: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q -rs tests/e2e

nbval: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q $(NBVAL_PARALLEL) $(NBVAL_ARGS) $(NB)

test: lint unit nbval e2e

regen: $(STAMP)
	$(RUN_ENV) $(BIN)/python tools/regen.py $(NB)

bench: $(STAMP)
	$(RUN_ENV) $(BIN)/python tools/bench.py $(ARGS)

lock: $(STAMP)
	$(BIN)/python tools/lock.py

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts

imgs: $(STAMP)
	$(BIN)/python tools/make_imgs.py
