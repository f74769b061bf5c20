# The README's two commands: `make lab` and `make test`. Both create .venv and install on first use.
PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
PORT    ?= 8888
STAMP   := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=60
TEST_PATHS  := $(wildcard tests lessons solutions)

.PHONY: lab test full build release lint clean-venv help

help:
	@echo "make lab    - set up .venv, copy missing lessons into work/, start JupyterLab (PORT=$(PORT))"
	@echo "make test   - set up .venv (and chromium), run the unit, grading and browser tests and every notebook"
	@echo "make full   - run the solution notebooks in full mode and print the numbers the prose quotes"
	@echo "make build  - regenerate lessons/, solutions/ and course/syllabus.md from course/"
	@echo "make lint   - ruff"

# Created and installed once; reinstalled when the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,browser]'
	touch $@

# The browser test drives Debian's chromium through Playwright (no browser download). Installed when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "error: the browser test needs Debian's chromium: sudo apt-get install -y chromium"; exit 1; fi

lab: $(STAMP)
	$(BIN)/metarl-edu lab --port $(PORT)

test: $(STAMP) $(CHROMIUM)
	METARL_EDU_QUICK=1 METARL_EDU_STRICT=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(TEST_PATHS) \
		$(NBVAL_FLAGS) -p no:cacheprovider --durations=15 -q

# LESSONS=07,09 runs only those lessons; docs/RESULTS.md keeps the other lessons' sections.
full: $(STAMP)
	$(BIN)/python -m metarl_edu.classroom.full solutions $(if $(LESSONS),--lessons $(LESSONS))

build: $(STAMP)
	$(BIN)/metarl-edu build

lint: $(STAMP)
	$(BIN)/ruff check metarl_edu tests course

clean-venv:
	rm -rf $(VENV)
