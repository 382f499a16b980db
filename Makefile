# Every target creates .venv and installs what it needs, so a fresh machine with
# only Python 3.11 and make can run any of them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,aws,calibrate]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leadtherm demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check integration mappings

typecheck: $(STAMP)
	$(BIN)/mypy integration mappings

test: lint typecheck
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache
