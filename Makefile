# Every target creates .venv and installs what it needs, so a fresh machine with
# only Python 3.11 and make can run any of them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := integration mappings adapters webhooks sandboxes/leadtherm_sandboxes harness
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: demo test lint typecheck bench osls lambda-package clean proto sysdeps

# System packages the tests use, as command:debian-package: nginx is the real TLS-terminating
# proxy in front of `serve` (tests/webhooks/test_behind_proxy.py); chromium and chromedriver
# drive the console's browser tests. apt-get installs only the missing ones (as root or via sudo).
SYSDEPS := nginx:nginx chromium:chromium chromedriver:chromium-driver

$(STAMP): pyproject.toml sandboxes/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH"; exit 2; }
	@echo "creating $(VENV) and installing leadtherm with its dependencies (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -e '.[dev,aws,calibrate]' -e ./sandboxes
	@touch $(STAMP)
	@echo "installed: run the commands as .venv/bin/leadtherm, or type \`. .venv/bin/activate\` once to use leadtherm"

demo: $(STAMP)
	$(BIN)/leadtherm demo

# lint-imports: the layering contracts in pyproject.toml ([tool.importlinter]); `make test` runs lint first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy $(CODE)

# The deploy CLI, only where node is installed; `osls print` is then part of the tests.
osls:
	@if [ -n "$(NPM)" ]; then \
		[ node_modules/.bin/osls -nt package.json ] || npm install --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the osls checks will be skipped"; fi

sysdeps:
	@missing=""; for d in $(SYSDEPS); do command -v $${d%%:*} >/dev/null 2>&1 || missing="$$missing $${d#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "no apt-get: install$$missing yourself"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "not root and no sudo: install$$missing yourself"; exit 0; fi; \
	echo "installing$$missing (apt-get)"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing

# Two workers, one test file each at a time (a file's module fixtures stay in one process): 15 min -> 9 min
# on this 2-core machine, most of the tests wait on servers and subprocesses rather than the CPU.
test: lint typecheck osls sysdeps
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25

# The Pub/Sub API stubs are committed; regenerate them after updating the vendored .proto
# (grpcio-tools is pinned in the dev extra so the output is reproducible).
PROTO := adapters/salesforce/pubsub/pubsub_api.proto
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)

bench: $(STAMP)
	$(BIN)/python -m bench

# Lambda artifact for serverless.yml: Linux wheels for Python 3.11 from any OS, without
# boto3/botocore/s3transfer (the Lambda runtime has them).
lambda-package: $(STAMP)
	rm -rf build/lambda build/wheels && mkdir -p build/lambda build/wheels
	$(BIN)/python -m pip wheel -q --no-deps -w build/wheels .
	$(BIN)/python -m pip install -q --target build/lambda --platform manylinux2014_x86_64 \
		--implementation cp --python-version 3.11 --only-binary=:all: \
		"$$(ls build/wheels/leadtherm-*.whl)[aws]"
	rm -rf build/lambda/boto3 build/lambda/boto3-* build/lambda/botocore build/lambda/botocore-* \
		build/lambda/s3transfer build/lambda/s3transfer-*
	cd build/lambda && $(CURDIR)/$(BIN)/python -m zipfile -c ../leadtherm-lambda.zip .
	@echo "built build/leadtherm-lambda.zip"

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache build node_modules
