# cachefarm: `make test` sets up everything it needs on a fresh Debian machine, then runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Servers the tests start privately (never the machine's own), and the ODBC drivers of each database.
DEBIAN_PACKAGES := redis-server unixodbc odbc-postgresql odbc-mariadb libsqliteodbc procps \
	postgresql mariadb-server mariadb-client

# The compose farm's tests: Debian's Docker Engine and Compose v1, and debootstrap to build the base image where no
# registry answers. Docker's packages are left out when an engine is there from elsewhere (docker-ce, Docker
# Desktop, DOCKER_HOST at a remote one): Debian's docker.io conflicts with docker-ce. So docker.io is installed only
# when there is no dockerd, no DOCKER_HOST and no engine answering `docker version`; docker-compose only when
# neither `docker compose` (v2) nor `docker-compose` (v1) runs; debootstrap whenever it is missing.

.PHONY: all test check lint typecheck unit compose-test fuzz deps venv bench demo clean

all: test

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done; \
		if ! command -v dockerd >/dev/null && [ ! -x /usr/sbin/dockerd ] && [ -z "$$DOCKER_HOST" ] && \
			! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then echo docker.io; fi; \
		if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then \
			echo docker-compose; fi; \
		command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || echo debootstrap); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy
	$(PY) -m mypy bench/proxy.py

unit: deps venv
	$(PY) -m pytest

test: lint typecheck unit

# The property tests (marked `fuzz`) with FUZZ_FACTOR times the generated inputs of `make test`, new ones every run
# (`make test` draws the same ones each time); a failure found is kept in .hypothesis/ and tried first next time.
# The files by path: collecting tests/compose would start preparing its engine and images.
FUZZ_FACTOR ?= 200
FUZZ_TESTS := tests/cache/test_secrets.py tests/cache/test_cache_fuzz.py tests/scenario/test_spec_fuzz.py \
	tests/nodes/test_node_api_fuzz.py tests/source/test_source_api_fuzz.py tests/proxy/test_admin_api_fuzz.py \
	tests/proxy/test_proxy_fuzz.py
fuzz: deps venv
	HYPOTHESIS_PROFILE=fuzz FUZZ_FACTOR=$(FUZZ_FACTOR) $(PY) -m pytest -m fuzz --timeout=0 --hypothesis-show-statistics \
		$(FUZZ_TESTS)

# Only the compose farm's tests (they start an engine when none answers, and stop it at the end).
compose-test: deps venv
	$(PY) -m pytest tests/compose

bench: deps venv
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		($$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -q nginx-light wrk)
	$(PY) bench/cache_ops.py
	$(PY) bench/node.py
	$(PY) bench/proxy.py
	$(PY) bench/load_generator_vs_wrk.py
	$(PY) bench/history_analysis.py
	$(PY) bench/compose_farm.py
	$(PY) bench/overload.py
	$(PY) bench/farm_cpu.py
	$(PY) bench/demo.py

# The comparison: none, memory and redis on the same load, with a rolling restart (under a minute).
demo: deps venv
	$(PY) examples/shared_cache.py
	$(PY) examples/farm_tour.py
	COLUMNS=$${COLUMNS:-100} $(VENV)/bin/farm run scenarios/demo.yaml --out results/demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
