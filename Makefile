# One environment (.venv), one test command, one target per paper figure/table.
# `make help` (or plain `make`) lists the targets.

PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
# The versions this repo was developed and tested with; override for your CUDA, e.g.
#   make setup TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP      := $(VENV)/.installed

.PHONY: help setup test run data smoke notebook
help: ## list the targets (this text)
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort
	@echo "(reproduce-all runs: $(REPRODUCE_ALL))"

setup: $(STAMP) ## create .venv and install the project with its test tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[experiments,slurm,tensorboard,test,lightning]"
	$(BIN)/python -c "import site, sys; open(site.getsitepackages()[0] + '/dlrs-repro-checkout.pth', 'w').write(sys.argv[1] + '\n')" "$(CURDIR)"
	touch $@

# Fashion-MNIST is the one real image set available offline: Debian's dataset-fashion-mnist.
FASHION_DEB := /usr/share/datasets/fashion-mnist
FASHION_RAW := data/FashionMNIST/raw
data: ## put the offline Fashion-MNIST (apt install dataset-fashion-mnist) where torchvision looks
	@if [ ! -f $(FASHION_DEB)/train-images-idx3-ubyte.gz ]; then \
	  echo "error: Fashion-MNIST is not installed here; install it with: sudo apt install dataset-fashion-mnist"; exit 2; fi
	mkdir -p $(FASHION_RAW)
	for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do \
	  gunzip -c $(FASHION_DEB)/$$f.gz > $(FASHION_RAW)/$$f.tmp && mv $(FASHION_RAW)/$$f.tmp $(FASHION_RAW)/$$f; done
	@echo "Fashion-MNIST ready in $(FASHION_RAW): python -m experiments.run task=fashion_mnist model=mnist_cnn"

# The suite's output is also kept in $(TEST_LOG); the last line there and on screen is pytest's own
# exit code (make itself reports any failure as exit 2). Slow machine: TEST_TIMEOUT_SCALE=3 make test.
TEST_LOG    ?= outputs/pytest.log
# -n auto --maxprocesses=4: one test process per core (pytest-xdist), at most 4; --durations=15: the 15
# slowest tests at the end of the log, where the suite's time goes
PYTEST_ARGS ?= -q -n auto --maxprocesses=4 --durations=15
test: SHELL := /bin/bash
test: $(STAMP) ## run the test suite (log in outputs/pytest.log, pytest's exit code on the last line)
	@mkdir -p "$(dir $(TEST_LOG))"
	@set -o pipefail; $(BIN)/python -m pytest $(PYTEST_ARGS) 2>&1 | tee "$(TEST_LOG)"; code=$$?; \
	echo "pytest exit code: $$code" | tee -a "$(TEST_LOG)"; exit $$code

# The first-hour demo: the constant rate and DLRS on the same seed and collocation points, side by
# side (two processes, one thread each), then one comparison figure beside the runs.
DEMO_EPOCHS ?= 1500
run: $(STAMP) ## demo: Helmholtz PINN, constant rate vs DLRS side by side, one comparison figure (CPU, ~3 min, no download)
	$(BIN)/python -m experiments.demo --epochs $(DEMO_EPOCHS)

# One minute, no download: MNIST (CNN, constant rate and DLRS) and CIFAR-10 (ResNet-18, DLRS) on
# fixture files written in the real formats, two epochs each, then their reports (one per task).
SMOKE := results/smoke
smoke: $(STAMP) $(SMOKE)/data/.fixtures ## one-minute end-to-end check of the image pipeline on fixture data (no download)
	$(BIN)/python -m experiments.run -m experiment_name=smoke task=mnist model=mnist_cnn schedule=static,dlrs \
		+scale=smoke paths.results=$(SMOKE) paths.data=$(SMOKE)/data trainer.progress=log
	$(BIN)/python -m experiments.run experiment_name=smoke task=cifar10 model=resnet18 schedule=dlrs \
		+scale=smoke task.subset=64 task.test_subset=64 paths.results=$(SMOKE) paths.data=$(SMOKE)/data trainer.progress=log
	$(BIN)/python scripts/make_report.py smoke --runs $(SMOKE)/runs

# Jupyter is not part of `make setup`: the `notebook` extra is installed on first use.
# NOTEBOOK_ARGS go to `jupyter notebook`, e.g. NOTEBOOK_ARGS="--no-browser --port 8889"; as root
# (containers) Jupyter needs --allow-root, which is added then.
NOTEBOOK_STAMP := $(VENV)/.notebook
$(NOTEBOOK_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[notebook]"
	touch $@
notebook: $(NOTEBOOK_STAMP) ## open notebooks/inspect_results.ipynb in Jupyter (installs the `notebook` extra first)
	$(BIN)/jupyter notebook $(if $(filter 0,$(shell id -u)),--allow-root) $(NOTEBOOK_ARGS) notebooks/inspect_results.ipynb

# ---- the paper's figures and tables ---------------------------------------------------------
# REPRO_SCALE=full (default): the paper's protocol. REPRO_SCALE=smoke: the same presets on tiny
# fixture data (written in the real MNIST/CIFAR formats) and two epochs, into results/smoke/.
# Each preset declares the seeds of its committed study (hydra.sweeper.params.trainer.seed);
# SEEDS=50,51 overrides them. JOBS runs at once, one torch thread each (trainer.threads=1): one per core.
REPRO_SCALE ?= full
SEEDS       ?=
JOBS        ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)
ifeq ($(REPRO_SCALE),smoke)
RESULTS     := results/smoke
SCALE_ARGS  := +scale=smoke paths.data=$(RESULTS)/data
DATA_PREP   := $(RESULTS)/data/.fixtures
FASHION_PREP := $(DATA_PREP)
else ifeq ($(REPRO_SCALE),full)
RESULTS     := results
SCALE_ARGS  :=
DATA_PREP   :=
FASHION_PREP := $(FASHION_RAW)/train-images-idx3-ubyte
else
$(error REPRO_SCALE must be full or smoke, not '$(REPRO_SCALE)')
endif
# scale overrides come after the preset so that they win
sweep  = $(BIN)/python -m experiments.run -m +experiment=$(1) hydra/launcher=local_parallel hydra.launcher.n_jobs=$(JOBS) \
	paths.results=$(RESULTS) $(if $(SEEDS),trainer.seed=$(SEEDS)) $(SCALE_ARGS)
REPORT = $(BIN)/python scripts/make_report.py --runs $(RESULTS)/runs --out $(RESULTS)

.PHONY: fig2 fig2-cosine fig2-reshuffled fig2-quick fig5 fig8 table1 fig9 reproduce-all reproduce-all-list report docs
fig2: $(STAMP) ## Fig. 2: Helmholtz PINN, 5 frequencies x {static, DLRS}, 10 000 epochs
	$(call sweep,fig2)
	$(REPORT) fig2

fig2-cosine: $(STAMP) ## Fig. 2's runs with cosine annealing beside static and DLRS (same folder, same report)
	$(call sweep,fig2_cosine)
	$(REPORT) fig2

fig2-reshuffled: $(STAMP) ## Fig. 2 at 1000 and 2000 Hz with the batches reshuffled every epoch, one seed
	$(call sweep,fig2_reshuffled)
	$(REPORT) fig2_reshuffled

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

# ---- studies beyond the paper: baselines, ablations, sensitivity -------------------------------
.PHONY: baselines-pinn lr-sensitivity images-long table1-cpu table1-baselines dlrs-ablation dlrs-robust images-cpu
baselines-pinn: $(STAMP) ## PINN at 1000/2000 Hz x {static, DLRS, cosine, exponential, step, plateau, Schedule-Free AdamW, Prodigy}, 3 000 epochs
	$(call sweep,baselines_pinn)
	$(call sweep,baselines_pinn_rivals)
	$(REPORT) baselines_pinn

lr-sensitivity: $(STAMP) $(FASHION_PREP) ## initial rate x {static, DLRS, cosine, Schedule-Free AdamW}, Prodigy: PINN 1000 Hz and Fashion-MNIST; DLRS without its rate cap, and static and cosine started at the cap
	$(call sweep,lr_sensitivity)
	$(call sweep,lr_sensitivity_rivals)
	$(call sweep,lr_sensitivity_rivals) optimizer=prodigy optimizer.lr=1.0
	$(call sweep,lr_sensitivity_cap)
	$(call sweep,lr_sensitivity_cap) optimizer.lr=9e-3 schedule=static,cosine
	$(call sweep,lr_sensitivity_images)
	$(call sweep,lr_sensitivity_images_rivals)
	$(call sweep,lr_sensitivity_images_rivals) optimizer=prodigy optimizer.lr=1.0
	$(REPORT) lr_sensitivity

table1-cpu: $(STAMP) $(FASHION_PREP) ## Table 1's five networks on real Fashion-MNIST, 3 000 images, 2 epochs, {static, DLRS}, one seed (CPU, ~1 h on 2 cores)
	$(call sweep,table1_cpu)
	$(REPORT) table1_cpu

table1-baselines: $(STAMP) $(DATA_PREP) ## Table 1 with cosine and plateau beside static and DLRS (GPU work)
	$(call sweep,table1_baselines)
	$(REPORT) table1_baselines

dlrs-ablation: $(STAMP) ## PINN: batch order x {static, DLRS, authors' PINN rule, symmetric DLRS}, 3 000 epochs
	$(call sweep,dlrs_ablation)
	$(REPORT) dlrs_ablation

dlrs-robust: $(STAMP) $(FASHION_PREP) ## DLRS in an ordinary loop: paper vs robust slopes vs cosine, fixed/reshuffled PINN and Fashion-MNIST, 5 seeds
	$(call sweep,dlrs_robust)
	$(call sweep,dlrs_robust_images)
	$(REPORT) dlrs_robust

images-cpu: $(STAMP) $(FASHION_PREP) ## Fashion-MNIST, MNIST CNN: batch 64/512 x 5 schedules, and a too-high rate (~1 h on 2 CPU cores)
	$(call sweep,images_cpu)
	$(call sweep,images_cpu_plateau)
	$(call sweep,images_cpu_rivals)
	$(call sweep,images_high_lr)
	$(REPORT) images_cpu
	$(REPORT) images_high_lr

images-long: $(STAMP) $(FASHION_PREP) ## Fashion-MNIST, MNIST CNN, 100 epochs with crop and flip, {static, DLRS, epoch-mean symmetric DLRS, cosine, Schedule-Free AdamW}, 5 seeds (~4 h on 2 CPU cores)
	$(call sweep,images_long)
	$(call sweep,images_long_rivals)
	$(REPORT) images_long

$(FASHION_RAW)/train-images-idx3-ubyte:
	@$(MAKE) --no-print-directory data

REPRODUCE_ALL := fig2 fig2-cosine fig2-reshuffled fig2-quick fig5 fig8 table1 fig9 baselines-pinn lr-sensitivity \
	dlrs-ablation dlrs-robust images-cpu images-long table1-cpu table1-baselines
reproduce-all: $(REPRODUCE_ALL) ## every figure, table and study, in the order listed below (restartable: finished runs are skipped)

reproduce-all-list: ## the targets reproduce-all runs, one per line
	@printf '%s\n' $(REPRODUCE_ALL)

report: $(STAMP) ## redraw every figure and table from whatever runs exist (then the docs' generated blocks)
	$(REPORT) all

docs: $(STAMP) ## rewrite the generated blocks of README.md and docs/ from results/tables/
	$(BIN)/python scripts/sync_docs.py

# fixture data for REPRO_SCALE=smoke and `make smoke`
%/data/.fixtures: $(STAMP)
	$(BIN)/python -m experiments.fixtures --root $*/data
	touch $@
