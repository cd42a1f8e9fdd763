# vitrine: two commands on a fresh machine.
#   make serve   set everything up, then run the server on 127.0.0.1:50051
#   make test    set everything up, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ADDRESS ?= 127.0.0.1:50051
DATA_DIR ?= .vitrine-data

.PHONY: setup serve test bench train-voxel-gan train-implicit-gan train-texture-gan protos lint clean

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
# requirement would let pip pull a multi-GB CUDA build.
$(VENV)/.installed: $(VENV)/.system pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $@

# The Khronos glTF-Validator and the Node gRPC client the tests run.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

serve: setup
	$(VENV)/bin/vitrine serve --address $(ADDRESS) --data-dir $(DATA_DIR)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/bench_serve.py
	$(PY) bench/bench_voxel_gan.py
	$(PY) bench/bench_implicit_gan.py

# Train, export and evaluate the voxel GAN (hours on 2 CPU cores; resumable: rerun to go on).
STEPS ?= 6000
train-voxel-gan: setup
	$(VENV)/bin/vitrine train voxel-gan --out runs/voxel-gan --steps $(STEPS)
	$(PY) -m generators.voxel_gan.export --run runs/voxel-gan
	$(VENV)/bin/vitrine eval voxel-gan

# Train, export and evaluate the implicit GAN (autoencoder, then latent GAN; resumable).
# The autoencoder wants a GPU (the shipped one: ~9 min on an H200); the trainer uses CUDA if present.
AE_STEPS ?= 14000
GAN_STEPS ?= 50000
train-implicit-gan: setup
	$(VENV)/bin/vitrine train implicit-gan --out runs/implicit-gan --ae-steps $(AE_STEPS) \
	  --gan-steps $(GAN_STEPS)
	$(PY) -m generators.implicit_gan.export --run runs/implicit-gan
	$(VENV)/bin/vitrine eval implicit-gan --side-by-side

# Train, export and evaluate the texture GAN: a run with the default (shipped) architecture,
# then a fine-tune from it with the stationarity penalty. Resumable; wants a GPU (the shipped
# runs: 8.5 + 3 minutes on an H200, each sharing it with other runs).
TGAN_STEPS ?= 5661
TGAN_FT_STEPS ?= 3020
train-texture-gan: setup
	$(VENV)/bin/vitrine train texture-gan --out runs/texture-gan --steps $(TGAN_STEPS)
	$(VENV)/bin/vitrine train texture-gan --out runs/texture-gan-ft --steps $(TGAN_FT_STEPS) \
	  --init-from runs/texture-gan --d-warmup 300 --stationarity 10
	$(PY) -m generators.texture_gan.export --run runs/texture-gan-ft
	$(VENV)/bin/vitrine eval texture-gan

protos: setup
	$(PY) protos/generate.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) node_modules $(DATA_DIR) *.egg-info .pytest_cache
