# The two commands: `make install` sets everything up, `make test` checks everything.
PYTHON ?= python3

.PHONY: install test lint

install:
	.ci/system-packages
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ./client -e '.[dev]'
	$(PYTHON) .ci/dev-tree

test: lint
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
