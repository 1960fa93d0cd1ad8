# NormCourse: two commands for learners (`make lab`, `make test`), a few more for authors.
# Every target installs what it needs into .venv first, from the pins in requirements*.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RISE_WIDGETS := tools/labextensions/normcourse-rise-widgets
PORT   ?= 8888
LAB_ARGS ?=
# Jupyter refuses to start as root unless told; containers and CI machines often are root.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
NB     ?= notebooks/*.ipynb
# The learner's workspace: filled from the student build, never overwritten (tools/learner.py).
# At the top level next to notebooks/, so the notebooks' ../imgs/ links work there too.
LEARNER_DIR ?= my-notebooks
START  := 00_start_here.ipynb
# Deterministic, quiet runs: no progress bars in outputs, same hash seed everywhere.
RUN_ENV := NORMCOURSE_NO_PROGRESS=1 PYTHONHASHSEED=0
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout=600
# Notebooks in parallel (pytest-xdist): one worker = one kernel = one notebook at a time (--dist loadfile),
# each kernel on one torch thread; as many workers as cores, but no more than notebooks.
NBVAL_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); k=$$(ls $(NB) 2>/dev/null | wc -l); \
	[ $$k -lt 1 ] && k=1; echo $$(( n < k ? n : k )))
NBVAL_PARALLEL := -n $(NBVAL_WORKERS) --dist loadfile

.PHONY: help setup lab lab-authors workspace student student-check slidemeta slides site test lint unit nbval e2e regen bench lock clean imgs mutation

help:
	@echo "make lab    - set up .venv and open your own copy of the course (my-notebooks/) in JupyterLab"
	@echo "make lab-authors - open the course itself (notebooks/, with solutions) in JupyterLab"
	@echo "make student - build/student/: the notebooks without solutions (nbgrader)"
	@echo "make slides - build/slides/: static slide decks that open offline"
	@echo "make site   - build/site/ (learners, no solutions) and build/site-instructor/: static HTML that opens offline"
	@echo "make slidemeta - slide metadata for every notebook (present with RISE from JupyterLab)"
	@echo "make test   - set up .venv, then lint, unit tests, nbval on every notebook, student notebooks, browser tests"
	@echo "make e2e    - browser tests: the course in JupyterLab + headless Chromium, make lab token check"
	@echo "make regen  - re-execute notebooks in place (NB=notebooks/01_*.ipynb for one)"
	@echo "make bench  - benchmark table (build/bench.json): notebook times, explorer latency, layers vs torch.nn"
	@echo "make mutation - mutation testing of the core modules with mutmut (not part of make test; ~10 min)"

NPM := $(shell command -v npm 2>/dev/null)
WEB_STAMP := tools/web/node_modules/.installed
setup: $(STAMP) $(if $(NPM),$(WEB_STAMP),no-npm-note)

# Browser assets of `make site`/`make slides` (KaTeX, require.js, the widget manager, reveal.js), pinned in
# tools/web/package-lock.json; installed once with npm (the npm registry is reached at setup time only).
$(WEB_STAMP): tools/web/package.json tools/web/package-lock.json
	@test -n "$(NPM)" || { echo "make site/slides need npm to install their pinned browser assets once: apt-get install npm (Debian) or install Node.js, then run make again" >&2; exit 1; }
	cd tools/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
.PHONY: no-npm-note
no-npm-note:
	@echo "note: npm not found: make lab and make test work, make site/make slides need npm (apt-get install npm)"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml tools/jupyterlab_overrides.json \
		tools/lab_extras.py \
		$(RISE_WIDGETS)/package.json $(RISE_WIDGETS)/static/remoteEntry.js
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (NormCourse)" > /dev/null
	@# JupyterLab additions (overrides, explorers in RISE slides, nbgrader's menus off): tools/lab_extras.py
	$(BIN)/python tools/lab_extras.py > /dev/null
	@touch $(STAMP)

# The printed link opens the first lesson itself (default_url), also where no browser opens by itself.
lab: workspace
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/$(LEARNER_DIR)/$(START) $(ROOT_ARGS) $(LAB_ARGS)

lab-authors: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/$(START) $(ROOT_ARGS) $(LAB_ARGS)

workspace: student
	$(BIN)/python tools/learner.py build/student $(LEARNER_DIR)

student: $(STAMP)
	$(BIN)/python tools/student.py --out build/student

# Runs every student notebook (two at a time): only exercise cells may fail, with "Not done yet".
student-check: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q -n 2 -m student_run tests/test_student.py

# Slide metadata by tools/slides.py's rule (metadata only: outputs and nbval untouched). NB=... for one.
slidemeta: $(STAMP)
	$(BIN)/python tools/slides.py $(NB)

# Static reveal.js decks that open offline from file:// (every asset copied beside them; tools/make_slides.py).
slides: $(STAMP) $(WEB_STAMP)
	$(BIN)/python tools/make_slides.py --out build/slides $(NB)

# The course as static HTML from the committed outputs (no re-execution), explorers from saved state:
# build/site/ for learners (no solutions), build/site-instructor/ with them.
site: $(STAMP) $(WEB_STAMP)
	$(BIN)/python tools/build_site.py --out build/site
	$(BIN)/python tools/build_site.py --solutions --out build/site-instructor

lint: $(STAMP)
	$(BIN)/ruff check course_utils tests tools notebooks

unit: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q tests --ignore=tests/e2e -m "not student_run"

e2e: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q -rs tests/e2e

nbval: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q $(NBVAL_PARALLEL) $(NBVAL_ARGS) $(NB)

test: lint unit nbval student-check e2e

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
