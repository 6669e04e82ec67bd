# Two commands set up everything on a fresh machine:
#   make demo   -> .venv, pinned dependencies, the LAMMPS plugin, then the end-to-end demo (demo_out/)
#   make test   -> the same setup, then the test suite
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.glassfix-installed
PLUGIN  := $(VENV)/.glassfix-plugin

.PHONY: all venv plugin demo test clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# the plugin cache is keyed by LAMMPS version + sources, so this is cheap when nothing changed
plugin: $(STAMP)
	$(VENV)/bin/glassfix plugin build

demo: plugin
	$(VENV)/bin/glassfix demo --out demo_out

# Two pytest workers (pytest-xdist; tests of one module stay on one worker, so module fixtures run once): most
# tests are single-threaded Python/numba or wait on LAMMPS subprocesses, so one process left a core idle.
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: plugin
	$(PY) -m pytest -q -ra --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)

clean:
	rm -rf $(VENV) build demo_out bench_out .pytest_cache
