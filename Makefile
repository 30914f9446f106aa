# The two quick-start commands (`make sandbox`, `make test`) install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: sandbox test lint services clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

sandbox: $(BIN)/.installed
	$(BIN)/chatops serve

services:
	bash scripts/services.sh

test: $(BIN)/.installed services
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) chatops.db chatops.db-wal chatops.db-shm
