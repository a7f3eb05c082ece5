# cachefarm: `make test` sets up everything it needs on a fresh Debian machine, then runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Servers the tests start privately (never the machine's own), and the ODBC drivers of each database.
DEBIAN_PACKAGES := redis-server unixodbc odbc-postgresql odbc-mariadb libsqliteodbc procps \
	postgresql mariadb-server mariadb-client

.PHONY: all test check lint typecheck unit deps venv bench demo clean

all: test

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy

unit: deps venv
	$(PY) -m pytest

test: lint typecheck unit

bench: deps venv
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		($$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -q nginx-light wrk)
	$(PY) bench/cache_vs_driver.py
	$(PY) bench/proxy_vs_nginx.py
	$(PY) bench/load_generator_vs_wrk.py
	$(PY) bench/history_analysis.py
	$(PY) bench/compose_farm.py

# The comparison: none, memory and redis on the same load, with a rolling restart (under a minute).
demo: deps venv
	$(PY) examples/shared_cache.py
	$(PY) examples/farm_tour.py
	COLUMNS=$${COLUMNS:-100} $(VENV)/bin/farm run scenarios/demo.yaml --out results/demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
