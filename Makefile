# minidiff: set-up, tests and course runs. GNU make (3.81 on macOS works too).
# Quick start: `make lab` (set up .venv and open the course) and `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is pinned explicitly (a bare `torch` would pull the CUDA build); the pin comes from constraints.txt.
TORCH_PIN := $(shell sed -n 's/^\(torch==[^ ;\#]*\).*/\1/p' constraints.txt)
LINT_DIRS := $(wildcard minidiff tests benchmarks scripts datasets)
LESSONS := $(sort $(wildcard lessons/*.ipynb))
BENCHMARKS := $(sort $(wildcard benchmarks/*.py))
TEST_ENV := OMP_NUM_THREADS=2 PYTHONHASHSEED=0
NBCONVERT := $(VENV)/bin/jupyter nbconvert --to notebook --execute \
	--ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 \
	--ExecutePreprocessor.record_timing=False

.NOTPARALLEL:
.PHONY: setup lab test lint test-lib test-lessons course course-fast benchmarks zoo clean claims
.PHONY: zoo-pack zoo-unpack zoo-fetch

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: minidiff needs Python >= 3.11, but '$(PYTHON)' is: $$($(PYTHON) -V 2>&1)." >&2; \
	  echo "       Install Python 3.11+ and run e.g. 'make PYTHON=python3.11 setup'." >&2; exit 1; }
	@test -n "$(TORCH_PIN)" || { echo "error: constraints.txt pins no torch==VERSION" >&2; exit 1; }
	@TIMEFORMAT='[time] setup: %1R s'; time { \
	  set -e; \
	  $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install -c constraints.txt $(TORCH_PIN) -e '.[test,lessons]'; \
	  $(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minidiff)"; \
	  MPLBACKEND=Agg $(PY) -c "import matplotlib.pyplot"; \
	}
	@touch $@

# The file browser opens on lessons/, with the whole repo (minidiff/ too) reachable.
# Extra options go in LAB_ARGS, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`.
# As root (a container, a cloud VM, a workshop image) Jupyter refuses to start without --allow-root.
lab: setup
	@as_root=; if [ "$$(id -u)" = 0 ]; then as_root=--allow-root; \
	  echo "lab: running as root (a container or VM?), so Jupyter starts with --allow-root"; fi; \
	$(VENV)/bin/jupyter lab $$as_root --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/lessons $(LAB_ARGS)

test: setup lint test-lib test-lessons

lint: setup
	@if [ -z "$(LINT_DIRS)" ]; then echo "lint: nothing to check"; else \
	  TIMEFORMAT='[time] ruff: %1R s'; time $(VENV)/bin/ruff check $(LINT_DIRS); fi

test-lib: setup
	@TIMEFORMAT='[time] library tests: %1R s'; \
	time env $(TEST_ENV) MPLBACKEND=Agg $(PY) -m pytest tests -q

# pytest exits 5 when it collects nothing (e.g. notebooks without code cells): not a failure here.
test-lessons: setup
	@if [ -z "$(LESSONS)" ]; then echo "lessons: no lessons/*.ipynb yet, nothing to run"; exit 0; fi; \
	TIMEFORMAT='[time] lessons (fast mode): %1R s'; rc=0; \
	time env -u MPLBACKEND $(TEST_ENV) MINIDIFF_FAST=1 $(PY) -m pytest --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=300 -p no:cacheprovider lessons/ -q || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "lessons: pytest collected no cells (exit 5), not a failure"; rc=0; fi; \
	exit $$rc

# Execute every lesson on a fresh kernel, in order, one at a time, printing each wall time.
# $(1) mode (full|fast), $(2) env assignments, $(3) nbconvert arguments, $(4) command run on each result.
define run_lessons
if [ -z "$(LESSONS)" ]; then echo "no lessons/*.ipynb yet"; exit 0; fi; \
summary="lesson,seconds,mode"; \
for nb in $(LESSONS); do \
  echo "== $$nb ($(1))"; start=$$(date +%s); \
  env -u MPLBACKEND $(2) $(NBCONVERT) $(3) "$$nb" || { echo "error: $$nb failed" >&2; exit 1; }; \
  $(4) \
  secs=$$(( $$(date +%s) - start )); echo "[time] $$nb: $$secs s"; \
  summary="$$summary"$$'\n'"$$(basename $$nb .ipynb),$$secs,$(1)"; \
done; \
echo; echo "$$summary"
endef

course: setup
	@$(call run_lessons,full,,--inplace,$(PY) scripts/clean_notebook.py "$$nb";)

# Fast mode (MINIDIFF_FAST=1) into a temporary copy; the kernel still runs in lessons/ and the tree's
# notebooks are not touched. This measures the README's "fast (s)" column.
course-fast: setup
	@tmp=$$(mktemp -d); echo "fast-mode copies go to $$tmp"; \
	$(call run_lessons,fast,MINIDIFF_FAST=1,--output-dir="$$tmp",)

# The claims ledger from the committed lessons; the README's results section is rewritten from it.
claims: setup
	@$(PY) -m minidiff.claims && $(PY) -m minidiff.claims --readme README.md

benchmarks: setup
	@if [ -z "$(BENCHMARKS)" ]; then echo "no benchmarks/*.py yet"; exit 0; fi; \
	for f in $(BENCHMARKS); do \
	  echo "== $$f"; TIMEFORMAT="[time] $$f: %1R s"; time $(PY) "$$f" || exit $$?; \
	done

# Train every zoo model missing from the cache ($$MINIDIFF_CACHE, default ~/.cache/minidiff).
zoo: setup
	@TIMEFORMAT='[time] zoo: %1R s'; time $(PY) -m minidiff.recipes

# The trained zoo as one file (minidiff/archive.py): pack the cache into ARCHIVE (MINIDIFF_FAST=1:
# the fast-mode models), or verify an archive (a file, or the URL it is served at) and unpack it.
ARCHIVE ?= minidiff-zoo.zip
zoo-pack: setup
	@$(PY) -m minidiff.recipes pack "$(ARCHIVE)"

zoo-unpack: setup
	@$(PY) -m minidiff.recipes unpack "$(ARCHIVE)"

zoo-fetch: setup
	@test -n "$(URL)" || { echo "error: give the address: make zoo-fetch URL=https://..." >&2; exit 2; }
	@$(PY) -m minidiff.recipes fetch "$(URL)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .minidiff-cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
