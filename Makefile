# NormCourse: two commands for learners (`make lab`, `make test`), a few more for authors.
# Every target installs what it needs into .venv first, from the pins in requirements*.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LEARNER_STAMP := $(VENV)/.installed-learner
INSTRUCTOR_STAMP := $(VENV)/.installed-instructor
PIP_QUIET := --quiet --disable-pip-version-check
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
# The pinned numeric path (course_utils/numeric.py): the same CPU kernels on every x86-64 machine with AVX2,
# one thread. Only the standard library runs here, so it works before .venv exists.
NUMERIC_ENV := $(shell $(PYTHON) course_utils/numeric.py --shell)
# Deterministic, quiet runs: no progress bars in outputs, same hash seed everywhere, the pinned numeric path.
RUN_ENV := NORMCOURSE_NO_PROGRESS=1 PYTHONHASHSEED=0 $(NUMERIC_ENV)
# `make claims`: every notebook, asserts only (lax), at each of these seed offsets (0 = the committed run).
OFFSETS ?= 1 2 3
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout=600
# Notebooks in parallel (pytest-xdist): one worker = one kernel = one notebook at a time (--dist loadfile),
# each kernel on one torch thread; as many workers as cores, but no more than notebooks.
NBVAL_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); k=$$(ls $(NB) 2>/dev/null | wc -l); \
	[ $$k -lt 1 ] && k=1; echo $$(( n < k ? n : k )))
NBVAL_PARALLEL := -n $(NBVAL_WORKERS) --dist loadfile

.PHONY: claims help offline-check setup setup-instructor setup-dev reset lab lab-authors workspace student student-check slidemeta slides site test lint unit nbval e2e regen bench lock clean imgs mutation hub hub-setup hub-stop e2e-hub grade bench-grade

help:
	@echo "make lab    - set up .venv and open your own copy of the course (my-notebooks/) in JupyterLab"
	@echo "make reset NB=03 - start one lesson afresh (your copy is kept in my-notebooks/backups/)"
	@echo "make setup  - the learner's install into .venv (make lab does it); make setup-instructor adds live slides,"
	@echo "             make setup-dev the authors' tools"
	@echo "make lab-authors - open the course itself (notebooks/, with solutions, live slides) in JupyterLab"
	@echo "make student - build/student/: the notebooks without solutions (nbgrader)"
	@echo "make slides - build/slides/: static slide decks that open offline"
	@echo "make site   - build/site/ (learners, no solutions) and build/site-instructor/: static HTML that opens offline"
	@echo "make slidemeta - slide metadata for every notebook (present with RISE from JupyterLab)"
	@echo "make test   - set up .venv, then lint, unit tests, nbval on every notebook, student notebooks, browser tests"
	@echo "make e2e    - browser tests: the course in JupyterLab + headless Chromium, make lab token check"
	@echo "make claims - every notebook's asserts at seed offsets $(OFFSETS) (OFFSETS=\"4 5\" for others; lax mode)"
	@echo "make regen  - re-execute notebooks in place (NB=notebooks/01_*.ipynb for one)"
	@echo "make bench  - benchmark table (build/bench.json): notebook times, explorer latency, layers vs torch.nn"
	@echo "make hub    - serve the course to a class with JupyterHub on 127.0.0.1:8000 (optional extra; docs/instructor.md)"
	@echo "make grade  - grade the learners' notebooks (SUBMITTED=hub-data/users): grading/gradebook.csv, feedback HTML"
	@echo "make offline-check - fresh clone, make setup-dev, then with the network cut: make site, make slides, their browser tests (not part of make test)"
	@echo "make mutation - mutation testing of the core modules with mutmut (not part of make test; ~10 min)"

NPM := $(shell command -v npm 2>/dev/null)
WEB_STAMP := tools/web/node_modules/.installed
# The authors' and CI's tools also take the site/slide assets (where npm exists): `make e2e` tests them.
WEB_ASSETS := $(if $(NPM),$(WEB_STAMP),no-npm-note)
# Two installs: the learner's (requirements.txt: what `make lab` needs) and, on top of it, the authors' and
# CI's tools (requirements-dev.txt: tests, lint, browser, mutation). `make setup` is the learner's and says
# how long it took and which PyTorch build it got (tools/torch_build.py: the CPU build where PyTorch's CPU
# index answers, else the configured index).
setup: $(LEARNER_STAMP)
setup-instructor: $(INSTRUCTOR_STAMP)
setup-dev: $(STAMP) $(WEB_ASSETS)

# Browser assets of `make site`/`make slides` (KaTeX, require.js, the widget manager, reveal.js), pinned in
# tools/web/package-lock.json; installed once with npm (the npm registry is reached at setup time only).
$(WEB_STAMP): tools/web/package.json tools/web/package-lock.json
	@test -n "$(NPM)" || { echo "make site/slides need npm to install their pinned browser assets once: apt-get install npm (Debian) or install Node.js, then run make again" >&2; exit 1; }
	cd tools/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
.PHONY: no-npm-note
no-npm-note:
	@echo "note: npm not found: make lab and make test work, make site/make slides need npm (apt-get install npm)"

# tools/lab_extras.py installs the JupyterLab additions: the course kernel with the pinned numeric path in its
# kernel.json, overrides, explorers in RISE slides, nbgrader's menus off. tools/install.py installs the locked
# learner packages (requirements-lock.txt) in parallel pip processes without byte-compiling them;
# tools/warm_bytecode.py then compiles only what a lesson and JupyterLab load.
$(LEARNER_STAMP): requirements.txt requirements-lock.txt constraints.txt pyproject.toml tools/jupyterlab_overrides.json \
		tools/install.py \
		tools/lab_extras.py tools/check_python.py tools/torch_build.py tools/warm_bytecode.py course_utils/numeric.py \
		$(RISE_WIDGETS)/package.json $(RISE_WIDGETS)/static/remoteEntry.js
	@$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) tools/check_python.py
	@set -e; start=$$(date +%s); \
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	torch_args=$$($(BIN)/python tools/torch_build.py pip-args); \
	$(BIN)/python tools/install.py $$torch_args; \
	$(BIN)/python -m pip install $(PIP_QUIET) --no-compile --no-deps --no-build-isolation -e .; \
	$(BIN)/python tools/warm_bytecode.py; \
	$(BIN)/python tools/lab_extras.py > /dev/null; \
	touch $(LEARNER_STAMP); \
	echo "make setup: learner install done in $$(( $$(date +%s) - start )) s ($$(du -sh $(VENV) | cut -f1) in $(VENV)/)"; \
	$(BIN)/python tools/torch_build.py report

# The instructor's addition: live slides (RISE) for make lab-authors; the learner's install leaves it out.
$(INSTRUCTOR_STAMP): $(LEARNER_STAMP) requirements-instructor.txt
	@set -e; start=$$(date +%s); \
	$(BIN)/python -m pip install $(PIP_QUIET) -r requirements-instructor.txt -c constraints.txt; \
	touch $(INSTRUCTOR_STAMP); \
	echo "make setup-instructor: live slides (RISE) added in $$(( $$(date +%s) - start )) s"

$(STAMP): $(INSTRUCTOR_STAMP) requirements-dev.txt
	@set -e; start=$$(date +%s); \
	$(BIN)/python -m pip install $(PIP_QUIET) -r requirements-dev.txt -c constraints.txt; \
	touch $(STAMP); \
	echo "make setup-dev: authors' and CI tools installed in $$(( $$(date +%s) - start )) s"

# The printed link opens the first lesson itself (default_url), also where no browser opens by itself.
# tools/lab.py relays JupyterLab's output and repeats the workspace's messages (course updates) below the link.
lab: workspace
	$(BIN)/python tools/lab.py --messages build/learner-messages.txt -- $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/$(LEARNER_DIR)/$(START) $(ROOT_ARGS) $(LAB_ARGS)

lab-authors: $(INSTRUCTOR_STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/$(START) $(ROOT_ARGS) $(LAB_ARGS)

workspace: student
	$(BIN)/python tools/learner.py build/student $(LEARNER_DIR) --messages-file build/learner-messages.txt

student: $(LEARNER_STAMP)
	$(BIN)/python tools/student.py --out build/student

# Start one lesson afresh: your copy moves to my-notebooks/backups/ (kept), the course's version comes back.
reset: student
	@$(if $(filter command line environment,$(origin NB)),,echo "Say which lesson: make reset NB=03" >&2; exit 2)
	$(BIN)/python tools/learner.py build/student $(LEARNER_DIR) --reset "$(NB)"

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

e2e: $(STAMP) $(WEB_ASSETS)
	$(RUN_ENV) $(BIN)/python -m pytest -q -rs tests/e2e

# Outputs are compared only where this machine reproduces the committed ones bit for bit (the numeric
# fingerprint, course_utils/fingerprint.py); elsewhere lax mode: every cell and assert runs, numbers are not compared.
nbval: $(STAMP)
	@if $(RUN_ENV) $(BIN)/python -m course_utils.fingerprint --check; then mode=--nbval; else mode=--nbval-lax; fi; \
	$(RUN_ENV) $(BIN)/python -m pytest -q $(NBVAL_PARALLEL) $$(echo "$(NBVAL_ARGS)" | sed "s/--nbval /$$mode /") $(NB)

# Claims at seeds nobody chose: every notebook in lax mode (asserts only) at each offset in OFFSETS;
# every offset runs, then one line names the offsets that failed.
claims: $(STAMP)
	@failed=""; for k in $(OFFSETS); do echo "== seed offset $$k"; \
	  NORMCOURSE_SEED_OFFSET=$$k $(RUN_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_PARALLEL) \
	    $$(echo "$(NBVAL_ARGS)" | sed "s/--nbval /--nbval-lax /") $(NB) || failed="$$failed $$k"; done; \
	if [ -n "$$failed" ]; then echo "claims FAILED at seed offset(s):$$failed"; exit 1; fi; \
	echo "claims hold at every seed offset: $(OFFSETS)"

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

# The offline promise from a fresh clone of HEAD (tools/offline_check.sh): make setup-dev with the network, then in
# a network namespace with loopback only, make site, make slides and their browser tests (required, no skips).
# Not part of `make test`: a second .venv in /tmp/normcourse-offline-check (or OFFLINE_CLONE=dir), minutes.
offline-check:
	tools/offline_check.sh

# ---- A class on JupyterHub (optional: self-study never needs it). docs/instructor.md, "A class on JupyterHub".
HUB_STAMP := $(VENV)/.hub-installed
HUB_PROXY := deploy/proxy/node_modules/.bin/configurable-http-proxy
SUBMITTED ?= hub-data/users

$(HUB_STAMP): $(LEARNER_STAMP) requirements-hub.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-hub.txt -c constraints.txt
	@touch $(HUB_STAMP)

$(HUB_PROXY): deploy/proxy/package.json deploy/proxy/package-lock.json
	cd deploy/proxy && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(HUB_PROXY)

hub-setup: $(HUB_STAMP) $(HUB_PROXY)

# The student build the hub hands out, rebuilt only when a notebook changed (so `make hub` starts fast).
HUB_STUDENT := build/student/.built
$(HUB_STUDENT): $(LEARNER_STAMP) tools/student.py $(wildcard notebooks/*.ipynb)
	$(BIN)/python tools/student.py --out build/student
	@touch $@

# Loopback only unless NORMCOURSE_HUB_IP is set; passwords are printed (or set NORMCOURSE_HUB_PASSWORD).
# The hub extra (pip), its proxy (npm) and the student build are independent: made at once (-j3), a first
# `make hub` after `make setup` is about 5 s shorter.
hub: $(LEARNER_STAMP)
	@$(MAKE) --no-print-directory -j3 hub-setup $(HUB_STUDENT)
	$(BIN)/python deploy/hubctl.py start

# Browser test of the hub (two learners, a hub restart): not part of `make test`; about 1-3 minutes.
e2e-hub: $(STAMP) hub-setup $(HUB_STUDENT)
	NORMCOURSE_HUB_E2E=1 $(RUN_ENV) $(BIN)/python -m pytest -q -rs -m hub tests/e2e/test_e2e_hub.py

hub-stop: $(HUB_STAMP)
	$(BIN)/python deploy/hubctl.py stop-all

# Every learner's notebooks under SUBMITTED/<learner>/ run with the course's checks: grading/gradebook.csv and
# grading/feedback/<learner>/index.html. nbgrader's collect layout (submitted/<student>/<assignment>/) works too.
grade: $(LEARNER_STAMP)
	$(BIN)/python tools/grade.py $(SUBMITTED) --out grading $(ARGS)

# Benchmark: 30 submissions of one lesson (LESSON=03_batchnorm), two at a time; budget 10 minutes on 2 cores.
bench-grade: $(LEARNER_STAMP)
	$(BIN)/python tools/bench_grade.py $(ARGS)

lock: $(STAMP)
	$(BIN)/python tools/lock.py

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts mutants

imgs: $(STAMP)
	$(BIN)/python tools/make_imgs.py
