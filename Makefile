# hwbench: `make demo` runs the built-in sweep, `make test` runs the test suite (CI runs .ci/run → make test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch, installed first: an unpinned torch would pull several GB of CUDA wheels.
TORCH ?= torch==2.13.0
EXTRAS ?= host,tflite,openvino,cluster,accel,dev
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install demo test test-extended lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/hwbench sweep

test: install
	$(BIN)/python -m pytest -q

# The slower second checks (every README command, a few end-to-end variants): `-m extended`.
test-extended: install
	$(BIN)/python -m pytest -q -m extended

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) results/*.sqlite* results/artifacts
