# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test bench bench-peers servers clean

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

# The test session starts the real servers it needs and stops them at its end, pass or fail.
test: venv servers
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# Speed as ratios, then ours beside boto3, rclone (Debian) and the AWS CLI (PyPI, in .cache/): BENCH_ARGS=--help.
bench: venv servers bench-peers
	$(PY) -m bench $(BENCH_ARGS)

bench-peers:
	$(PYTHON) -m bench.peers

clean:
	rm -rf .demo .pytest_cache
