# The two commands: `make up` (install + start CoSim) and `make test` (install + all checks).
# Both are idempotent: each step is skipped when what it depends on has not changed.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# User servers run as unprivileged accounts when the hub runs as root, so the environment must be
# world-readable: Debian's system Python, not a per-user (pyenv) interpreter.
BASE_PYTHON ?= /usr/bin/python3.11
VENV ?= /opt/cosim/venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.cosim
UP_ARGS ?=
PYTEST_ARGS ?=

APT_RUN := redis-server libegl1 libegl-mesa0 libgl1
# The C++ kernel: both compilers, gold (fast links), both debuggers, clangd (completion).
APT_RUN += g++ clang binutils gdb lldb clangd
APT_TEST := chromium
# The tools benchmarks/snapshots.py measures CoSim against.
APT_TEST += restic borgbackup
LAB_SOURCES := $(shell find labextension/src labextension/style -type f 2>/dev/null) \
	labextension/package.json labextension/package-lock.json labextension/tsconfig.json \
	labextension/scripts/protocol_types.py $(wildcard kernels/cosim_protocol/schemas/*.json)
PY_SOURCES := $(shell find cli hub server_extension/cosim_server kernels jupyter-config templates \
	-name '*.py' -o -name '*.json' -o -name '*.toml' 2>/dev/null | grep -v /labextension/)

.PHONY: up test install install-test lint typecheck pytest bench clean

up: install
	$(VENV)/bin/cosim up $(UP_ARGS)

test: install-test lint typecheck pytest

install: $(STAMPS)/system $(STAMPS)/package
install-test: install $(STAMPS)/system-test

$(STAMPS)/system:
	@missing=""; for p in $(APT_RUN); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@command -v configurable-http-proxy >/dev/null || npm install -g --silent configurable-http-proxy@5
	@test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	# Debian's venv brings setuptools 66 without bdist_wheel: sdists such as onetimepass
	# (NativeAuthenticator) cannot build under --no-build-isolation without a newer one.
	$(PY) -m pip install -q -U pip "setuptools>=70.1" wheel hatchling hatch-jupyter-builder jupyter-builder
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/system-test:
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@mkdir -p $(STAMPS) && touch $@

server_extension/cosim_server/labextension/package.json: $(LAB_SOURCES)
	cd labextension && npm ci --no-audit --no-fund --loglevel=error && PATH=$(VENV)/bin:$$PATH npm run build:prod

$(STAMPS)/deps: pyproject.toml $(STAMPS)/system server_extension/cosim_server/labextension/package.json
	$(PY) -m pip install -q --no-build-isolation '.[hub,user,test]'
	@touch $@

# A real (non-editable) install: user servers run as other accounts and must not need the
# source tree, which may sit in a directory they cannot enter.
$(STAMPS)/package: $(STAMPS)/deps server_extension/cosim_server/labextension/package.json \
		$(PY_SOURCES) pyproject.toml
	$(PY) -m pip install -q --no-build-isolation --no-deps --force-reinstall .
	@touch $@

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	cd labextension && npm run lint

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Every benchmark, full size, then the README's table regenerated from their JSON.
bench: install-test
	PATH=$(VENV)/bin:$$PATH $(PY) benchmarks/run_all.py --readme README.md

clean:
	rm -rf $(STAMPS) server_extension/cosim_server/labextension labextension/lib
