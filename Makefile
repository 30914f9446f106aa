# The two quick-start commands (`make sandbox`, `make test`) install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: sandbox test lint audit gates services clean docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

sandbox: $(BIN)/.installed
	$(BIN)/chatops serve --sandbox $(SANDBOX_ARGS)

services:
	bash scripts/services.sh

test: $(BIN)/.installed services
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -c pyproject.toml -q -r bot alerts commands actions incidents oncall migrations --severity-level medium --confidence-level medium
	$(BIN)/python scripts/check_structure.py
	$(BIN)/lint-imports

# pip-audit; fails on a known vulnerability. Packages it cannot look up (vulnerability data
# unreachable) are reported, and fatal only with CHATOPS_AUDIT_STRICT=1.
audit: $(BIN)/.installed
	$(BIN)/python scripts/audit_deps.py

# Every CI gate of the seed: lint (ruff, format, mypy, bandit, structure, import contracts),
# audit, the tests.
gates: lint audit test

clean:
	rm -rf $(VENV) chatops.db chatops.db-wal chatops.db-shm

docs: $(BIN)/.installed
	$(BIN)/chatops config-reference --update-readme README.md
