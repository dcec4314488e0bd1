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

.PHONY: run test model lint app-venv nlu-venv clean-venvs

run: app-venv nlu-venv model ## Install everything, train the NLU model if stale, start the system.
	$(APP_VENV)/bin/tsunagu serve

test: $(APP_TEST_STAMP) $(NLU_TEST_STAMP) lint ## Install test dependencies and run the whole suite.
	$(NLU_VENV)/bin/python -m pytest -c tests/nlu/components/pytest.ini tests/nlu/components
	$(APP_VENV)/bin/python -m pytest

lint: $(APP_TEST_STAMP)
	$(APP_VENV)/bin/ruff check .
	$(APP_VENV)/bin/ruff format --check .
	$(APP_VENV)/bin/mypy .

model: app-venv nlu-venv
	$(APP_VENV)/bin/tsunagu nlu train

app-venv: $(APP_STAMP)
nlu-venv: $(NLU_STAMP)

$(APP_STAMP): pyproject.toml scripts/find-python.sh
	test -x $(APP_VENV)/bin/python || "$$(scripts/find-python.sh 3.11)" -m venv $(APP_VENV)
	$(APP_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
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

clean-venvs:
	rm -rf $(APP_VENV) $(NLU_VENV)
