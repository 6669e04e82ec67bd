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

test: plugin
	$(PY) -m pytest -q -ra --durations=25

clean:
	rm -rf $(VENV) build demo_out bench_out .pytest_cache
