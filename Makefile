# Two commands for a new user: `make demo` and `make test`. Both create .venv inside the repo.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make demo` needs only hake's run-time dependencies; `make test` adds the dev tools on top.
DEMO_STAMP := $(VENV)/.installed-runtime
TORCH := $(BIN)/pip install "torch==2.14.1" "torchvision==0.29.1" || $(BIN)/pip install "torch>=2.4" "torchvision>=0.19"

.PHONY: demo test lint install clean mypy-baseline fuzz browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(TORCH)
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(TORCH)
	$(BIN)/pip install -e .
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	OMP_NUM_THREADS=1 $(BIN)/hake infer examples --out demo_output --save-vis --overwrite

# Headless Chromium for the page test, from Debian, when missing and apt is usable (else that test skips).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	{ command -v apt-get >/dev/null && $$( [ "$$(id -u)" = 0 ] || echo sudo -n ) sh -c \
	  'apt-get update -qq && apt-get install -y -qq chromium chromium-driver'; } || \
	echo "chromium / chromium-driver not installed: the browser test will skip"

test: $(STAMP) browser
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy | $(BIN)/mypy-baseline filter --allow-unsynced --hide-stats
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q

# The reader fuzz test with many more examples than `make test` runs (minutes).
fuzz: $(STAMP)
	HAKE_FUZZ_EXAMPLES=1000 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q tests/test_fuzz_readers.py

lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy | $(BIN)/mypy-baseline filter --allow-unsynced --hide-stats

# Re-record the mypy baseline (only after fixing errors: the baseline may shrink, never grow).
mypy-baseline: $(STAMP)
	$(BIN)/mypy | $(BIN)/mypy-baseline sync

clean:
	rm -rf $(VENV) demo_output
