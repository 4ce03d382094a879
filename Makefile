# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install from the pinned constraints file.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= .demo

.PHONY: venv test test-fast lint demo bench constraints clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests dags plugins benchmarks
	$(BIN)/ruff format --check src tests dags plugins benchmarks
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python demo/run_demo.py --home $(DEMO_HOME)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Regenerate the constraints file from the current virtualenv (after changing pyproject).
constraints:
	$(BIN)/python -m pip freeze --exclude-editable --all | grep -v '^retention-pipeline' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
