# modsnn — thin wrapper around the `modsnn` CLI and pytest. `make` lists the targets.
# Every target installs what it needs into a local venv (.venv) from PyPI on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN    ?= runs/digits
CONFIG ?= configs/digits.toml
PYTEST_ARGS ?=
SIM    ?= verilator
SAMPLES ?= 300
LONG   ?= 10000
LINK   ?=
FRAMES ?= 10000
STUDY  ?= studies/density.toml
JOBS   ?= 2
BASELINE ?=
BOARD  ?= ulx3s-85f
BUILD_ARGS ?=
PORT   ?=
FORMAL ?=
FAMILY ?= ice40

.DEFAULT_GOAL := help
.PHONY: help install sim test test-slow parity-long mutants formal test-synthesis test-gatelevel lint typecheck train bench bench-peers study studies link-rate link-fuzz build flash synth-report board-train board-eval clean

help: ## list the targets
	@echo "modsnn — make targets (each creates $(VENV) and installs on first use):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-14s %s\n", $$1, $$2}'
	@echo "Variables: CONFIG=$(CONFIG) RUN=$(RUN) SIM=$(SIM) SAMPLES=$(SAMPLES) LINK=$(LINK) FRAMES=$(FRAMES) BOARD=$(BOARD) PORT=$(PORT) FAMILY=$(FAMILY) PYTEST_ARGS='$(PYTEST_ARGS)'"
	@echo "           STUDY=$(STUDY) JOBS=$(JOBS) BASELINE=$(BASELINE)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,fpga]'
	@touch $@

install: $(STAMP) ## create the venv and install modsnn with its tools

# The simulators' own builds run make too (Verilator's generated makefile): this make's command-line
# variables must not reach them (`make sim LINK=1` set Verilator's linker command to "1").
NO_MAKE_VARS := env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL -u LINK -u SIM

sim: $(STAMP) ## train `tiny` on chip in RTL simulation, bit-exact against the golden model (SIM=icarus, SAMPLES=N, LINK=1: through the host link's UART)
	$(NO_MAKE_VARS) $(VENV)/bin/modsnn sim --config tiny --samples $(SAMPLES) --test-samples 100 --simulator $(SIM) $(if $(LINK),--link)

lint: $(STAMP) ## ruff over the Python sources
	$(PY) -m ruff check .

typecheck: $(STAMP) ## mypy over the modsnn package as imported (packages listed in pyproject [tool.mypy])
	$(PY) -m modsnn._layout build/typecheck >/dev/null
	$(PY) -m mypy

test: $(STAMP) lint typecheck ## lint, type-check and run the default test suite (what CI runs)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP) ## the long runs: accuracy targets, full training parity (tens of minutes)
	$(PY) -m pytest -n 2 -m slow $(PYTEST_ARGS)

PARITY_LONG := lanes4-dense:lanes=4 \
	l2c2-sparse-margin:lanes=2,cores=2,readout_density=0.3,teaching='margin',teach_margin=2 \
	lanes8-half-single-port:lanes=8,readout_density=0.5,weight_ports=1

parity-long: $(STAMP) ## 10,000 on-chip training samples bit-exact for 3 configurations (lanes, cores, density, teaching, ports differ; JOBS=2 runs two at once); reports in build/parity-long/ (~1 h each)
	printf '%s\n' $(PARITY_LONG) | xargs -P $(JOBS) -I{} sh -c 'name=$${1%%:*}; sets=$$(echo "$${1#*:}" | tr "," "\n" | sed "s/^/--set /" | tr "\n" " "); \
	  $(VENV)/bin/modsnn sim --config tiny $$sets --samples $(LONG) --test-samples 100 --report build/parity-long/$$name.json > build/parity-long/$$name.log 2>&1 \
	  && echo "$$name: bit-exact" || { echo "$$name: FAILED (build/parity-long/$$name.log)"; exit 1; }' _ {}

mutants: $(STAMP) ## mutation testing: ≥ 40 mutants of hw/ against the RTL tests, table in build/mutants/mutants.md (~1-2 h)
	$(PY) -m modsnn.sim.mutants $(if $(ONLY),--only $(ONLY))

test-synthesis: $(STAMP) ## real bitstream builds: iCEBreaker and ULX3S-85F smoke tests (~10 min on 2 cores)
	$(PY) -m pytest -n 2 -m synthesis $(PYTEST_ARGS)

test-gatelevel: $(STAMP) ## on-chip training of `tiny` on its Yosys netlist, bit-exact, 20 samples (FAMILY=ice40 or ecp5; ice40 ~30 min first time)
	$(PY) -m pytest -m gatelevel -k "$(FAMILY)" $(PYTEST_ARGS)

build: $(STAMP) ## bitstream and JSON report for BOARD (icebreaker, ulx3s-85f, ecpix5-85f, orangecrab); CONFIG=… overrides its preset
	$(VENV)/bin/modsnn build --board $(BOARD) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG)) $(BUILD_ARGS)

flash: $(STAMP) ## program BOARD with its last build through openFPGALoader (CONFIG=… if built with one)
	$(VENV)/bin/modsnn flash --board $(BOARD) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG))

synth-report: $(STAMP) ## per-block LUT/FF/BRAM/DSP/Fmax for ECP5 and iCE40 into docs/synth-report.{json,md} (tens of minutes)
	$(VENV)/bin/modsnn synth-report

board-train: $(STAMP) ## train BOARD on its serial PORT, checked against the golden model in lockstep (SAMPLES=N)
	@test -n "$(PORT)" || { echo "make board-train: give the board's serial port, e.g. PORT=/dev/ttyUSB0 (python -m serial.tools.list_ports lists them)" >&2; exit 2; }
	$(VENV)/bin/modsnn board train --board $(BOARD) --port $(PORT) --samples $(SAMPLES) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG))

board-eval: $(STAMP) ## inference on BOARD at PORT with the weights of RUN= (or those on the board), checked in lockstep
	@test -n "$(PORT)" || { echo "make board-eval: give the board's serial port, e.g. PORT=/dev/ttyUSB0" >&2; exit 2; }
	$(VENV)/bin/modsnn board eval --board $(BOARD) --port $(PORT) $(if $(filter command line,$(origin RUN)),--run $(RUN)) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG))

train: $(STAMP) ## train CONFIG into RUN with the golden model (e.g. make train CONFIG=configs/mnist.toml RUN=runs/m1)
	$(VENV)/bin/modsnn train --config $(CONFIG) --out $(RUN)

bench: $(STAMP) ## golden-model speed (BASELINE=DIR: training speed and weights against another checkout)
	$(VENV)/bin/modsnn bench $(if $(BASELINE),--baseline $(BASELINE))

bench-peers: $(STAMP) ## bench with snnTorch and Brian2 timed in the same run (installs the peers extra)
	$(PY) -m pip install --quiet -e '.[dev,fpga,peers]'
	$(VENV)/bin/modsnn bench --peers $(if $(BASELINE),--baseline $(BASELINE))

study: $(STAMP) ## run the study file STUDY on JOBS local processes (resumable; tables and plot in runs/studies/)
	$(VENV)/bin/modsnn sweep $(STUDY) --jobs $(JOBS)

studies: $(STAMP) ## run every study in studies/ (hours on 2 cores; each resumable)
	@for f in studies/*.toml; do $(VENV)/bin/modsnn sweep $$f --jobs $(JOBS) || exit 1; done

link-rate: $(STAMP) ## samples/s over the host link per board and preset, beside the accelerator's own rate
	$(VENV)/bin/modsnn link-rate

link-fuzz: $(STAMP) ## fuzz the host link on the RTL (FRAMES=10000 refused frames; MODSNN_SEED=N reproduces a run)
	MODSNN_FUZZ_FRAMES=$(FRAMES) $(PY) -m pytest -m slow -s tests/test_link_system.py -k fuzz_acceptance $(PYTEST_ARGS)

formal: $(STAMP) ## SymbiYosys proofs of gateware blocks, a table of block/property/result/seconds (FORMAL=check… runs some)
	$(PY) -m modsnn.sim.formal $(FORMAL)

clean: ## remove build products and caches (keeps runs/ and the venv)
	rm -rf build sim_build .pytest_cache .mypy_cache .ruff_cache compare.png
	find . -name __pycache__ -prune -exec rm -rf {} +
