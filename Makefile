# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo lint test test-lowest screenshots bench bench-peers servers clean

venv: $(VENV)/.synced

# uv resolves Airflow plus the cloud providers in seconds where plain pip backtracks for long.
$(VENV)/.synced: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --all-extras --group dev --compile-bytecode --quiet
	@touch $@

demo: venv
	$(PY) scripts/demo.py

servers:
	bash tests/servers/install.sh

lint: venv
	$(VENV)/bin/ruff check provider tests bench scripts .ci hatch_build.py

# The test session starts the real servers it needs and stops them at its end, pass or fail. Then the
# store contract tests again with every declared floor installed (test-lowest; not when PYTEST_ARGS picks
# tests), and a check that the tests left the checkout as they found it.
test: venv lint servers
	@mkdir -p .cache && git status --porcelain --untracked-files=all > .cache/status-before 2>/dev/null || true
	UV="$(UV)" $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS),,UV="$(UV)" $(PY) .ci/lowest_direct.py)
	@git status --porcelain --untracked-files=all 2>/dev/null | diff .cache/status-before - >/dev/null \
	  || { echo "The tests changed the checkout:"; git status --short; exit 1; }

# The store contract tests against the lowest versions pyproject.toml allows, in .cache/lowest-direct/.
test-lowest: venv servers
	UV="$(UV)" $(PY) .ci/lowest_direct.py $(PYTEST_ARGS)

# The README's screenshots, taken on purpose (make test leaves docs/images alone).
screenshots: venv servers
	DATASTORES_SCREENSHOTS=$(CURDIR)/docs/images $(PY) -m pytest -p no:cacheprovider tests/dashboard/test_dashboard.py

# Speed as ratios, then ours beside boto3, rclone (Debian) and the AWS CLI (PyPI, in .cache/): BENCH_ARGS=--help.
bench: venv servers bench-peers
	$(PY) -m bench $(BENCH_ARGS)

bench-peers:
	$(PYTHON) -m bench.peers

clean:
	rm -rf .demo .pytest_cache
