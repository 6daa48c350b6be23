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
# Test files run on this many pytest-xdist workers (whole files per worker, so module stacks are
# shared); 0 runs them in one process.
PYTEST_WORKERS ?= 2

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
# Debian's venv brings setuptools 66 without bdist_wheel: sdists such as onetimepass
# (NativeAuthenticator) cannot build under --no-build-isolation without a newer one.
VENV_BOOTSTRAP := pip "setuptools>=70.1" wheel hatchling hatch-jupyter-builder jupyter-builder

# Stamps are named by a hash of what they stand for (not by mtimes), so a stamp left in VENV by
# another checkout, another pyproject.toml or an older bootstrap never stands in for this one.
key = $(shell printf '%s\n' $(1) | sha256sum | cut -c1-12)
SYSTEM_KEY := $(call key,$(BASE_PYTHON) $(APT_RUN) $(VENV_BOOTSTRAP))
DEPS_KEY := $(call key,$(SYSTEM_KEY) $(shell sha256sum pyproject.toml))
PACKAGE_KEY := $(call key,$(DEPS_KEY) $(shell cat $(PY_SOURCES) $(LAB_SOURCES) | sha256sum))
SYSTEM_STAMP := $(STAMPS)/system-$(SYSTEM_KEY)
DEPS_STAMP := $(STAMPS)/deps-$(DEPS_KEY)
PACKAGE_STAMP := $(STAMPS)/package-$(PACKAGE_KEY)

.PHONY: up test install install-test lint typecheck pytest fresh-install bench clean

up: install
	$(VENV)/bin/cosim up $(UP_ARGS)

test: install-test lint typecheck fresh-install pytest

install: $(SYSTEM_STAMP) $(PACKAGE_STAMP)
install-test: install $(STAMPS)/system-test

$(SYSTEM_STAMP):
	@missing=""; for p in $(APT_RUN); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@command -v configurable-http-proxy >/dev/null || npm install -g --silent configurable-http-proxy@5
	@test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U $(VENV_BOOTSTRAP)
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/system-* $(STAMPS)/deps-* && touch $@

$(STAMPS)/system-test:
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@mkdir -p $(STAMPS) && touch $@

server_extension/cosim_server/labextension/package.json: $(LAB_SOURCES)
	cd labextension && npm ci --no-audit --no-fund --loglevel=error && PATH=$(VENV)/bin:$$PATH npm run build:prod

$(DEPS_STAMP): $(SYSTEM_STAMP) server_extension/cosim_server/labextension/package.json
	$(PY) -m pip install -q --no-build-isolation '.[hub,user,test]'
	$(PY) -m pip check
	@rm -f $(STAMPS)/deps-* && touch $@

# A real (non-editable) install: user servers run as other accounts and must not need the
# source tree, which may sit in a directory they cannot enter.
$(PACKAGE_STAMP): $(DEPS_STAMP) server_extension/cosim_server/labextension/package.json
	$(PY) -m pip install -q --no-build-isolation --no-deps --force-reinstall .
	@rm -f $(STAMPS)/package-* && touch $@

# The README's first command's install step (`make install`, what `make up` runs before starting
# CoSim) in a new venv in a temp dir with pip's cache off, as on a bare machine: a warm cache or
# this checkout's venv cannot hide a package that fails to build. It does not start the stack.
fresh-install:
	@tmp=$$(mktemp -d /tmp/cosim-fresh-install.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	start=$$(date +%s); \
	PIP_NO_CACHE_DIR=1 $(MAKE) --no-print-directory install VENV="$$tmp/venv"; \
	"$$tmp/venv/bin/cosim" up --help >/dev/null; \
	echo "fresh install: OK in $$(( $$(date +%s) - start )) s (new venv, no pip cache)"

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	cd labextension && npm run lint

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Every benchmark, full size, then the README's table regenerated from their JSON.
bench: install-test
	PATH=$(VENV)/bin:$$PATH $(PY) benchmarks/run_all.py --readme README.md

clean:
	rm -rf $(STAMPS) server_extension/cosim_server/labextension labextension/lib
