# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INDEX ?= .citewell/index
HOST ?= 127.0.0.1
PORT ?= 8000
QUESTION ?= When was election infrastructure designated critical infrastructure?
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run ask test lint audit index clean

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# The widget's browser tests drive Debian's Chromium (never a downloaded browser); the tests of shared state start
# Debian's redis-server and PostgreSQL on free loopback ports; the proxy test runs Debian's nginx in front of
# `citewell serve` with the shipped configuration (service/deploy/nginx.conf) and a certificate made by openssl.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
CHROMIUM := /usr/bin/chromium
REDIS := /usr/bin/redis-server
NGINX := /usr/sbin/nginx
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/pg_ctl) /usr/lib/postgresql/15/bin/pg_ctl)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver
$(REDIS):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server
$(POSTGRES):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql
$(NGINX):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nginx openssl

# A real Sphinx site for the extraction and answer tests: Python's tutorial as Debian's python3.11-doc holds it,
# unpacked here (not installed: a slim image may exclude /usr/share/doc). Where apt has no such package the tests
# that read it are skipped, and say so.
PYTHON_DOCS := .citewell/python3.11-doc
PYTHON_TUTORIAL := $(PYTHON_DOCS)/usr/share/doc/python3.11/html/tutorial/index.html
$(PYTHON_TUTORIAL):
	$(SUDO) apt-get update -qq
	mkdir -p $(PYTHON_DOCS)
	cd $(PYTHON_DOCS) && (apt-get download python3.11-doc && dpkg-deb -x python3.11-doc_*.deb .) \
		|| echo "python3.11-doc is not available here: the tests of a real Sphinx site will be skipped"

index: install
	$(BIN)/citewell ingest corpus --index $(INDEX)

# Builds (or updates) the index of corpus/, then serves the API and the chat page until Ctrl+C.
run: index
	$(BIN)/citewell serve --index $(INDEX) --host $(HOST) --port $(PORT)

ask: index
	$(BIN)/citewell ask "$(QUESTION)" --index $(INDEX)

lint: install
	$(BIN)/ruff check ingest service tests
	$(BIN)/ruff format --check ingest service tests
	$(BIN)/mypy

test: lint $(CHROMIUM) $(REDIS) $(POSTGRES) $(NGINX) $(PYTHON_TUTORIAL)
	$(BIN)/pytest

# Known vulnerabilities in the installed dependencies. Needs PyPI's JSON API or OSV (api.osv.dev); --strict
# fails when a package cannot be checked, instead of passing silently.
audit: install
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit --strict --skip-editable

clean:
	rm -rf $(VENV) .citewell .pytest_cache .mypy_cache .ruff_cache
