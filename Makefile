# The README's two commands: `make lab` and `make test`. Both create .venv and install on first use.
# The newest of Python 3.13, 3.12 and 3.11 that actually runs here (a pyenv shim for a version that is not
# installed does not count), unless PYTHON=/path/to/python is given.
CANDIDATES := python3.13 python3.12 python3.11
SUPPORTED  := (3, 11) <= sys.version_info[:2] <= (3, 13)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,$(CANDIDATES),$(shell $(p) -c \
	'import sys; sys.exit(not $(SUPPORTED))' >/dev/null 2>&1 && echo $(p))))
endif
# pip finds a CPU build of torch on PyPI only on some machines; elsewhere TORCH_INDEX=https://download.pytorch.org/whl/cpu
# takes PyTorch's CPU wheels (without it pip installs the CUDA build: several GB, and the same results on a CPU).
TORCH_INDEX ?=
VENV    := .venv
BIN     := $(VENV)/bin
PORT    ?= 8888
STAMP   := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=60
TEST_PATHS  := $(wildcard tests lessons solutions)

.PHONY: lab test test-all test-py site full build release lint clean-venv help

help:
	@echo "make lab    - set up .venv, copy missing lessons into work/, start JupyterLab (PORT=$(PORT))"
	@echo "make test   - set up .venv (and chromium, bubblewrap), run the unit, grading, hub and browser tests and every notebook"
	@echo "make test-py PY=python3.12 - install into .venv-3.12 with that interpreter and run a subset of the tests there"
	@echo "make test-all - also install the exports and site extras and run the slow tests (nbgrader, otter, the website)"
	@echo "make site   - build the course website into site/ (executed solutions in quick mode, and the syllabus)"
	@echo "make full   - run the solution notebooks in full mode and print the numbers the prose quotes"
	@echo "make build  - regenerate lessons/, solutions/ and course/syllabus.md from course/"
	@echo "make lint   - ruff"
	@echo "make clean-venv - remove .venv (to reinstall, e.g. with TORCH_INDEX=... for the CPU build of torch)"

# Created and installed once; reinstalled when the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || test -n "$(PYTHON)" || { echo "error: none of $(CANDIDATES) runs here; install Python \
	3.11, 3.12 or 3.13, or name one with PYTHON=/path/to/python"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; assert $(SUPPORTED)' \
	2>/dev/null || { echo "error: PYTHON=$(PYTHON) does not run, or is not Python 3.11-3.13"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		-e '.[dev,browser,hub]'
	touch $@

# The browser test drives Debian's chromium through Playwright (no browser download). Installed when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "error: the browser test needs Debian's chromium: sudo apt-get install -y chromium"; exit 1; fi

# The grader jails each kernel with bubblewrap (tests/test_grade_jail.py, the attack suite). Installed when missing
# and the machine is Debian-like and we are root; elsewhere those tests say why they are skipped.
BWRAP := /usr/bin/bwrap
$(BWRAP):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; \
	else echo "note: bubblewrap is missing, so the grader cannot jail kernels here (sudo apt-get install -y \
	bubblewrap); the jail tests are skipped"; fi

lab: $(STAMP)
	$(BIN)/metarl-edu lab --port $(PORT)

# Two pytest-xdist workers; each test file and each notebook stays whole on one worker (--dist loadscope: nbval
# runs a notebook's cells in order in one kernel). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
PYTEST := METARL_EDU_QUICK=1 METARL_EDU_STRICT=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(TEST_PATHS) \
	$(NBVAL_FLAGS) -p no:cacheprovider --durations=15 -q -n $(TEST_WORKERS) --dist loadscope

test: $(STAMP) $(CHROMIUM) $(BWRAP)
	$(PYTEST) -m "not slow"

# Another interpreter: `make test-py PY=python3.12` (a name or a path) installs the package with the pins into
# .venv-<version>, through the install rule above, and runs a subset there: the library and check tests, the
# grader, and a few notebooks (torch, numpy, gymnasium). A few minutes on two cores after the install; CI stays on
# the interpreter of `make test`. A version newer than 3.13 is tried too (SUPPORTED only bounds it below).
PY ?=
PY_VERSION = $(if $(PY),$(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null))
TEST_PY := tests/test_package.py tests/test_checks.py tests/test_mdp.py tests/test_qlearning.py tests/test_envs.py \
	tests/test_maml.py tests/test_rl2.py tests/test_grade.py \
	solutions/00_welcome.ipynb solutions/03_cartpole.ipynb solutions/07_maml_sinusoid.ipynb

test-py:
	@test -n "$(PY)" || { echo "error: name the interpreter: make test-py PY=python3.12 (or PY=/path/to/python)"; exit 1; }
	@$(PY) -c 'pass' >/dev/null 2>&1 || { echo "error: PY=$(PY) does not run here (not found, or broken)"; exit 1; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: PY=$(PY) is Python \
	$(PY_VERSION); the course needs Python 3.11 or newer"; exit 1; }
	$(MAKE) --no-print-directory VENV=.venv-$(PY_VERSION) PYTHON=$(PY) SUPPORTED='(3, 11) <= sys.version_info[:2]' \
		.venv-$(PY_VERSION)/.installed
	METARL_EDU_QUICK=1 METARL_EDU_STRICT=1 MPLBACKEND=Agg .venv-$(PY_VERSION)/bin/python -m pytest $(TEST_PY) \
		$(NBVAL_FLAGS) -p no:cacheprovider --durations=10 -q -m "not slow"
	@.venv-$(PY_VERSION)/bin/python -c 'import sys, torch; print("ran on Python", sys.version.split()[0], \
	"with torch", torch.__version__, "(CUDA build)" if torch.version.cuda else "(CPU build)")'

# An optional extra (exports: nbgrader and otter; site: Sphinx), installed once on top of the test install.
.PRECIOUS: $(VENV)/.installed-%
$(VENV)/.installed-%: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		-e '.[dev,browser,hub,$*]'
	touch $@

test-all: $(VENV)/.installed-exports $(VENV)/.installed-site $(CHROMIUM) $(BWRAP)
	$(PYTEST)

# The course website: the solution notebooks executed in quick mode, and the syllabus, as static HTML in site/.
site: $(VENV)/.installed-site
	$(BIN)/metarl-edu site --out site

# LESSONS=07,09 runs only those lessons; docs/RESULTS.md keeps the other lessons' sections.
full: $(STAMP)
	$(BIN)/python -m metarl_edu.classroom.full solutions $(if $(LESSONS),--lessons $(LESSONS))

build: $(STAMP)
	$(BIN)/metarl-edu build

lint: $(STAMP)
	$(BIN)/ruff check metarl_edu tests course

clean-venv:
	rm -rf $(VENV)
