# One environment (.venv), one test command, one target per paper figure/table.
# `make help` lists the targets.

PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
# The versions this repo was developed and tested with; override for your CUDA, e.g.
#   make setup TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP      := $(VENV)/.installed

.PHONY: help setup test run
help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

setup: $(STAMP) ## create .venv and install the project with its test tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[experiments,test]"
	touch $@

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest -q

run: $(STAMP) ## the default job: one Helmholtz PINN run with DLRS (CPU, ~2 min)
	$(BIN)/python -m experiments.run
