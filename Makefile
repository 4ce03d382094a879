# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install from the pinned constraints file.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= .demo

.PHONY: venv bytecode test test-fast lint demo bench constraints clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# An editable install leaves src/ uncompiled, and where PYTHONDONTWRITEBYTECODE is set
# every command then compiles some 150 modules again (about 0.3 s of each start-up). A
# wheel install (the Dockerfile's) compiles at install time; this does the same for .venv.
bytecode:
	$(BIN)/python -m compileall -q src

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

bench: $(STAMP) bytecode
	$(BIN)/python benchmarks/run_all.py

# Regenerate the constraints file from the current virtualenv (after changing pyproject).
constraints:
	$(BIN)/python -m pip freeze --exclude-editable --all | grep -v '^retention-pipeline' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
