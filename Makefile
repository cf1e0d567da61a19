# The two commands: `make install` sets everything up, `make test` checks everything.
PYTHON ?= python3
# A second environment where the suite runs again on the lowest versions of the server's
# dependencies that pyproject.toml allows (constraints/lowest.txt); the dev tools in it are
# current. Built once, and again when the constraints or a pyproject.toml change.
LOWEST := build/lowest

.PHONY: install test lint test-lowest

install:
	.ci/system-packages
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ./client -e '.[dev]'
	$(PYTHON) .ci/dev-tree

test: lint
	$(PYTHON) -m pytest
	$(MAKE) --no-print-directory test-lowest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

test-lowest: $(LOWEST)/installed
	$(LOWEST)/bin/python -m pytest

$(LOWEST)/installed: constraints/lowest.txt pyproject.toml client/pyproject.toml
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -c constraints/lowest.txt -e ./client -e '.[dev]'
	$(LOWEST)/bin/python .ci/dev-tree
	touch $@
