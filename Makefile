# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INDEX ?= .citewell/index
QUESTION ?= When was election infrastructure designated critical infrastructure?
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint index clean

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

index: install
	$(BIN)/citewell ingest corpus --index $(INDEX)

run: index
	$(BIN)/citewell ask "$(QUESTION)" --index $(INDEX)

lint: install
	$(BIN)/ruff check ingest service tests
	$(BIN)/ruff format --check ingest service tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .citewell .pytest_cache .mypy_cache .ruff_cache
