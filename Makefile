# Roofline Economics: build the book, run the tests, open the chapters.
# Needs GNU make and python3 (with the venv module); everything else is
# installed into .venv from requirements.txt on first use. `make help` lists targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab
# jupyterlab-myst renders the chapters' MyST (admonitions, {term}, {cite}, figures) in JupyterLab;
# 2.7.0, its newest release, supports JupyterLab up to 4.4 (4.5 and later disable it).
JUPYTERLAB_VERSION := 4.4.10
JUPYTERLAB_MYST_VERSION := 2.7.0
VOILA_STAMP := $(VENV)/.installed-voila
VOILA_VERSION := 0.5.13
# Extra options for `make lab`, e.g. make lab LAB_ARGS="--no-browser --port 8899"
LAB_ARGS ?=
# Extra options for `make explore`, e.g. make explore EXPLORE_ARGS="--no-browser --port 8867"
EXPLORE_ARGS ?=
BUILD := _build

# Same results on every run and every machine.
export PYTHONHASHSEED := 0
# Kernels (nbval, the book build) must draw with the inline backend, which is
# what puts figures into notebook outputs; MPLBACKEND=Agg there would silently
# drop every figure from the book and fail nbval. It is set explicitly so that
# a value in the caller's environment cannot leak in. Plain Python tests use Agg.
# The flashcard drill keeps its progress in the user's home; test runs use a throwaway file.
NB_ENV := MPLBACKEND=module://matplotlib_inline.backend_inline ROOFLINE_PROGRESS=$(CURDIR)/$(BUILD)/test-drill-progress.json
TEST_ENV := MPLBACKEND=Agg

NBVAL := $(PY) -m pytest --nbval --nbval-current-env \
	--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: help venv book book-student test test-explore bench lab explore exercises cards clean

help:
	@echo "Roofline Economics: make targets"
	echo "  make book       build the HTML book into $(BUILD)/html (creates .venv on first use)"
	echo "  make book-student  build the student edition, without solutions, into $(BUILD)/student/html"
	echo "  make test       student edition, library tests, strict nbval, the book, then the book in Chromium"
	echo "  make explore    serve the explorers as an app with Voila (installs voila $(VOILA_VERSION) on first use)"
	echo "  make test-explore  browser test of the explorers app (Voila and headless Chromium)"
	echo "  make lab        open the chapters in JupyterLab (installs jupyterlab $(JUPYTERLAB_VERSION) and jupyterlab-myst on first use)"
	echo "  make bench      time the library and the explorers (reported, never asserted)"
	echo "  make exercises  regenerate the student notebooks in exercises/ from solutions/ (says so when they are up to date)"
	echo "  make cards      export the flashcards for Anki: $(BUILD)/cards/roofline-economics.apkg and .tsv"
	echo "  make venv       create .venv and install requirements.txt (done by the targets above)"
	echo "  make clean      remove $(BUILD)/"

# ---------------------------------------------------------------- environment

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the pins or the package metadata change.
$(STAMP): requirements.txt requirements-test.txt constraints.txt pyproject.toml | $(PY)
	$(PY) -m pip install -r requirements.txt -r requirements-test.txt
	touch $@

# Voila is only needed for the explorers app (make explore, make test-explore): not in the base install.
# constraints-voila.txt pins what it adds (jupyter_server, nbconvert and the rest), like constraints.txt.
$(VOILA_STAMP): $(STAMP) constraints-voila.txt
	$(PY) -m pip install -c constraints.txt -c constraints-voila.txt voila==$(VOILA_VERSION)
	touch $@

# JupyterLab is only needed to work in the notebooks, so it stays out of the base install.
# The exercise notebooks are plain Markdown and need no extension (tools/make_exercises.py).
$(LAB_STAMP): $(STAMP) constraints-voila.txt
	$(PY) -m pip install -c constraints.txt -c constraints-voila.txt jupyterlab==$(JUPYTERLAB_VERSION) jupyterlab-myst==$(JUPYTERLAB_MYST_VERSION)
	touch $@

# ---------------------------------------------------------------- book

# --all re-reads every page: Sphinx only reports a page's warnings (and myst-nb
# only re-executes a notebook) when it is read, so an incremental build could
# pass with stale outputs after a change to rooflib. -W -n --keep-going turns
# every warning and broken reference into a failure and lists all of them;
# execute.raise_on_error in _config.yml makes a failing cell fail the build.
book: $(STAMP)
	@rm -rf $(BUILD)/html $(BUILD)/jupyter_execute $(BUILD)/.doctrees
	if ! $(NB_ENV) $(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going --all; then
		echo "Book build FAILED: see the first error above (a failing notebook cell stops the build at once)" >&2
		exit 1
	fi
	echo "Book built: $(BUILD)/html/index.html"

# The student edition: the same pages, the exercises without solutions (see
# tools/make_student_book.py). Nothing is executed: the chapters' committed
# outputs are what `make test` checks with nbval. Warnings are errors here too.
book-student: $(STAMP)
	$(PY) tools/make_student_book.py

# ---------------------------------------------------------------- tests

# Runs every stage even after a failure, then prints one summary and fails if
# any stage failed. pytest's exit code 5 ("no tests collected") counts as
# "none yet" only while there is nothing to collect; otherwise it is a failure.
test: $(STAMP)
	@summary=""; failed=0; t_all=$$SECONDS
	record() { summary+="$$(printf '  %-44s %-16s %5ss' "$$1" "$$2" "$$3")"$$'\n'; }
	verdict() {  # verdict RC NOTHING_TO_COLLECT
		if [ "$$1" -eq 0 ]; then echo ok
		elif [ "$$1" -eq 5 ] && [ "$$2" = yes ]; then echo "none yet"
		else echo "FAILED (rc=$$1)"; fi
	}

	echo "==> 1/5 student edition, no solutions: make book-student"
	t0=$$SECONDS; rc=0
	$(MAKE) --no-print-directory book-student || rc=$$?
	res=$$(verdict $$rc no); if [ "$${res:0:6}" = FAILED ]; then failed=1; fi
	record "make book-student" "$$res" $$((SECONDS - t0))

	echo "==> 2/5 library tests (with the student edition's): pytest tests"
	t0=$$SECONDS; rc=0
	$(TEST_ENV) $(PY) -m pytest tests || rc=$$?
	empty=$$([ -z "$$(find tests -name 'test_*.py' -o -name '*_test.py' 2>/dev/null)" ] && echo yes || echo no)
	res=$$(verdict $$rc $$empty); if [ "$${res:0:6}" = FAILED ]; then failed=1; fi
	record "pytest tests" "$$res" $$((SECONDS - t0))

	echo "==> 3/5 notebooks, outputs compared: pytest --nbval notebooks solutions book"
	t0=$$SECONDS; rc=0; dirs=""
	for d in notebooks solutions book; do
		if [ -n "$$(find $$d -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null)" ]; then dirs+=" $$d"; fi
	done
	if [ -n "$$dirs" ]; then $(NB_ENV) $(NBVAL) $$dirs || rc=$$?; empty=no; else rc=5; empty=yes; fi
	res=$$(verdict $$rc $$empty); if [ "$${res:0:6}" = FAILED ]; then failed=1; fi
	record "pytest --nbval notebooks solutions book" "$$res" $$((SECONDS - t0))

	echo "==> 4/5 book build, warnings are errors: make book"
	t0=$$SECONDS; rc=0
	$(MAKE) --no-print-directory book || rc=$$?
	res=$$(verdict $$rc no); if [ "$${res:0:6}" = FAILED ]; then failed=1; fi
	record "make book" "$$res" $$((SECONDS - t0))

	echo "==> 5/5 every page of the built book in headless Chromium: pytest tests/browser"
	t0=$$SECONDS; rc=0
	$(TEST_ENV) $(PY) -m pytest tests/browser -q || rc=$$?
	res=$$(verdict $$rc no); if [ "$${res:0:6}" = FAILED ]; then failed=1; fi
	record "pytest tests/browser (book in Chromium)" "$$res" $$((SECONDS - t0))

	echo
	echo "make test summary"
	printf '%s' "$$summary"
	printf '  %-44s %-16s %5ss\n' "total" "$$([ $$failed -eq 0 ] && echo passed || echo FAILED)" $$((SECONDS - t_all))
	exit $$failed

# ---------------------------------------------------------------- tools

bench: $(STAMP)
	$(TEST_ENV) $(PY) benchmarks/run.py

exercises: $(STAMP)
	$(PY) tools/make_exercises.py

cards: $(STAMP)
	$(PY) tools/make_cards.py

# The chapters open as reader copies in $(BUILD)/lab/ (tools/make_reader_notebooks.py), written afresh
# each time: the numbers glued into the prose filled in, citations and links resolved, code and
# outputs as in notebooks/ (edit the chapters there; a copy a reader changed is kept as
# NAME.edited.ipynb). A reference that does not resolve stops here, before JupyterLab starts.
# JupyterLab serves the repository, so the copies' links to solutions/ work, and opens on $(BUILD)/lab.
lab: $(LAB_STAMP)
	$(PY) tools/make_reader_notebooks.py
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(BUILD)/lab $(LAB_ARGS)

# Every explorer on one page, with a live kernel and no code shown; local only (127.0.0.1).
explore: $(VOILA_STAMP)
	$(VENV)/bin/voila explorers/explorers.ipynb --Voila.ip=127.0.0.1 --show_tracebacks=True $(EXPLORE_ARGS)

# Not part of `make test`: it needs Voila (kept out of the base install) and Chromium.
test-explore: $(VOILA_STAMP)
	$(TEST_ENV) $(PY) -m pytest tests/browser_voila

clean:
	rm -rf $(BUILD)
