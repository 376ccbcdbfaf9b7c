# shimmy-lab: the two commands of the README, plus helpers.
#   make run    install into .venv if needed, then serve the bundled model (OpenAI API on 127.0.0.1:11435)
#   make test   install if needed, then run the whole test suite (unit, real model, server, notebooks)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.shimmy-installed
# torch is pinned through constraints.txt: an unpinned torch pulls a multi-GB CUDA build.
PIP_INSTALL := $(PIP) install --constraint constraints.txt

.PHONY: install run test bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e ".[all,test]"
	@touch $@

install: $(STAMP)

run: install
	$(VENV)/bin/shimmy-lab serve

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/engines.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
