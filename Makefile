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
	$(BIN)/pip install -q -e ".[experiments,slurm,test,lightning]"
	$(BIN)/python -c "import site, sys; open(site.getsitepackages()[0] + '/dlrs-repro-checkout.pth', 'w').write(sys.argv[1] + '\n')" "$(CURDIR)"
	touch $@

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest -q

run: $(STAMP) ## the default job: one Helmholtz PINN run with DLRS (CPU, ~2 min)
	$(BIN)/python -m experiments.run

# ---- the paper's figures and tables ---------------------------------------------------------
# REPRO_SCALE=full (default): the paper's protocol. REPRO_SCALE=smoke: the same presets on tiny
# fixture data (written in the real MNIST/CIFAR formats) and two epochs, into results/smoke/.
REPRO_SCALE ?= full
SEEDS       ?= 50,51,52
ifeq ($(REPRO_SCALE),smoke)
RESULTS     := results/smoke
SEEDS       := 50
SCALE_ARGS  := +scale=smoke paths.data=$(RESULTS)/data
DATA_PREP   := $(RESULTS)/data/.fixtures
else ifeq ($(REPRO_SCALE),full)
RESULTS     := results
SCALE_ARGS  :=
DATA_PREP   :=
else
$(error REPRO_SCALE must be full or smoke, not '$(REPRO_SCALE)')
endif
# scale overrides come after the preset so that they win
sweep  = $(BIN)/python -m experiments.run -m +experiment=$(1) paths.results=$(RESULTS) trainer.seed=$(SEEDS) $(SCALE_ARGS)
REPORT = $(BIN)/python scripts/make_report.py --runs $(RESULTS)/runs --out $(RESULTS)

.PHONY: fig2 fig2-quick fig5 fig8 table1 fig9 reproduce-all report
fig2: $(STAMP) ## Fig. 2: Helmholtz PINN, 5 frequencies x {static, DLRS}, 10 000 epochs
	$(call sweep,fig2)
	$(REPORT) fig2

fig2-quick: SEEDS = 50
fig2-quick: $(STAMP) ## Fig. 2 pipeline, 1 000 epochs, one seed (under 15 min on a CPU)
	$(call sweep,fig2_quick)
	$(REPORT) fig2_quick

fig5: $(STAMP) $(DATA_PREP) ## Fig. 5: MNIST, SimpleDLA, 4 batch sizes x {static, DLRS}
	$(call sweep,fig5)
	$(REPORT) fig5

fig8: $(STAMP) $(DATA_PREP) ## Fig. 8: CIFAR-10, SimpleDLA, 4 batch sizes x {static, DLRS}, 100 epochs
	$(call sweep,fig8)
	$(REPORT) fig8

table1: $(STAMP) $(DATA_PREP) ## Table 1: CIFAR-10, 5 architectures x {static, DLRS}, 100 epochs
	$(call sweep,table1)
	$(REPORT) table1

fig9: $(STAMP) $(DATA_PREP) ## Fig. 9: MNIST, SimpleDLA, 4 batch sizes x {Adacomp, DLRS}
	$(call sweep,fig9)
	$(REPORT) fig9

reproduce-all: fig2 fig5 fig8 table1 fig9 ## every figure and table (restartable: finished runs are skipped)

report: $(STAMP) ## redraw every figure and table from whatever runs exist
	$(REPORT) all

$(RESULTS)/data/.fixtures: $(STAMP)
	$(BIN)/python -m experiments.fixtures --root $(RESULTS)/data
	touch $@
