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

.PHONY: help setup lab test lint unit nbval e2e regen bench lock clean imgs mutation

help:
	@echo "make lab    - set up .venv and open the course in JupyterLab (localhost, token auth)"
	@echo "make test   - set up .venv, then lint, unit tests, nbval on every notebook, browser tests"
	@echo "make e2e    - browser tests: the course in JupyterLab + headless Chromium, make lab token check"
	@echo "make regen  - re-execute notebooks in place (NB=notebooks/01_*.ipynb for one)"
	@echo "make bench  - benchmark table: notebook run times and widget update latency vs budgets"
	@echo "make mutation - mutation testing of the core modules with mutmut (slow: ~1 h on 2 busy cores)"

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
	$(RUN_ENV) $(BIN)/python -m pytest -q $(NBVAL_ARGS) $(NB)

test: lint unit nbval e2e

regen: $(STAMP)
	$(RUN_ENV) $(BIN)/python tools/regen.py $(NB)

bench: $(STAMP)
	$(RUN_ENV) $(BIN)/python tools/bench.py $(ARGS)

# Mutation testing (not part of `make test`): mutmut 3 changes the core modules one small edit at a time
# ([tool.mutmut] in pyproject.toml) and runs their unit tests against each change; nice'd, the machine is shared.
# Results are cached in mutants/: a second run only re-checks what changed.
mutation: $(STAMP)
	nice -n 10 $(BIN)/mutmut run --max-children 2
	$(BIN)/python tools/mutation_score.py

lock: $(STAMP)
	$(BIN)/python tools/lock.py

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts mutants

imgs: $(STAMP)
	$(BIN)/python tools/make_imgs.py
