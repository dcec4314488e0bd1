# Tsunagu — two commands for a fresh machine: `make run` and `make test`.
# Both are idempotent: venvs are rebuilt only when their requirements change, and the NLU
# model is retrained only when its config, data or components change.

SHELL := /bin/bash
APP_VENV := .venv
NLU_VENV := nlu/.venv
APP_STAMP := $(APP_VENV)/.installed
APP_TEST_STAMP := $(APP_VENV)/.installed-test
NLU_STAMP := $(NLU_VENV)/.installed
NLU_TEST_STAMP := $(NLU_VENV)/.installed-test
PIP_FLAGS := --disable-pip-version-check --progress-bar off -q
# The web widget's browser tests drive Debian's Chromium (Playwright's own browser download
# cannot work offline); `make test` installs it once, only when it is missing.
CHROMIUM := /usr/bin/chromium
# The knowledge base's Japanese sentence-transformers model is distilled offline (~1-2 min on
# 2 cores) into var/kb/models/<hash of its inputs>/; the stamp skips even the hash check.
KB_STAMP := var/kb/.model-stamp
KB_INPUTS := $(shell find knowledge/content nlu/data/intents -name '*.yml' 2>/dev/null) \
	$(wildcard knowledge/embedding/*.py) knowledge/text.py knowledge/content_loader.py

.PHONY: run test model kb-model lint audit app-venv nlu-venv clean-venvs

run: app-venv nlu-venv model kb-model ## Install everything, train the NLU model if stale, start the system.
	$(APP_VENV)/bin/tsunagu serve

test: $(APP_TEST_STAMP) $(NLU_TEST_STAMP) $(CHROMIUM) $(KB_STAMP) lint audit ## Install test dependencies and run the whole suite.
	$(NLU_VENV)/bin/python -m pytest -c tests/nlu/components/pytest.ini tests/nlu/components
	TSUNAGU_REQUIRE_BROWSER=1 $(APP_VENV)/bin/python -m pytest

# pip-audit over the app venv; prints a SKIPPED banner (exit 0) when its vulnerability
# service is unreachable (see scripts/dependency_audit.py for why that happens here).
audit: $(APP_TEST_STAMP)
	$(APP_VENV)/bin/python scripts/dependency_audit.py

lint: $(APP_TEST_STAMP)
	$(APP_VENV)/bin/ruff check .
	$(APP_VENV)/bin/ruff format --check .
	$(APP_VENV)/bin/mypy .

model: app-venv nlu-venv
	$(APP_VENV)/bin/tsunagu nlu train

kb-model: $(KB_STAMP)

$(KB_STAMP): $(APP_STAMP) $(KB_INPUTS)
	$(APP_VENV)/bin/tsunagu kb build-model
	mkdir -p $(dir $@) && touch $@

app-venv: $(APP_STAMP)
nlu-venv: $(NLU_STAMP)

$(APP_STAMP): pyproject.toml scripts/find-python.sh
	test -x $(APP_VENV)/bin/python || "$$(scripts/find-python.sh 3.11)" -m venv $(APP_VENV)
	$(APP_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	# torch first and pinned (pyproject has torch==2.13.0): the local CPU wheel, never CUDA.
	$(APP_VENV)/bin/python -m pip install $(PIP_FLAGS) torch==2.13.0
	$(APP_VENV)/bin/python -m pip install $(PIP_FLAGS) -e .
	touch $@

$(APP_TEST_STAMP): $(APP_STAMP)
	$(APP_VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[test]"
	touch $@

# Rasa 3.6.21 needs Python 3.10; its pins (pydantic 1, SQLAlchemy 1.4) conflict with the app.
$(NLU_STAMP): nlu/requirements.lock scripts/find-python.sh
	test -x $(NLU_VENV)/bin/python || "$$(scripts/find-python.sh 3.10)" -m venv $(NLU_VENV)
	$(NLU_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(NLU_VENV)/bin/python -m pip install $(PIP_FLAGS) -r nlu/requirements.lock
	touch $@

$(NLU_TEST_STAMP): $(NLU_STAMP)
	$(NLU_VENV)/bin/python -m pip install $(PIP_FLAGS) "pytest>=8,<9"
	touch $@

$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
	  || (apt-get update -q && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)

clean-venvs:
	rm -rf $(APP_VENV) $(NLU_VENV)
