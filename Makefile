# Every target sets up .venv on first use: torch (CPU build) first, then the project with its dev extras.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: quickstart test test-slow check fmt bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/embodied quickstart

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

check: $(STAMP)
	$(VENV)/bin/ruff check embodied envs agents tests
	$(VENV)/bin/ruff format --check embodied envs agents tests
	$(VENV)/bin/mypy embodied envs agents

fmt: $(STAMP)
	$(VENV)/bin/ruff format embodied envs agents tests
	$(VENV)/bin/ruff check --fix embodied envs agents tests

bench: $(STAMP)
	$(PY) -m embodied.bench

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache
