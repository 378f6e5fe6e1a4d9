# Needs only python3. Creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install test test-matrix demo lint bench clean package-check reliability docs docs-serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Every combination CI proves (noxfile.py): Python 3.11 + Django 5.2, 3.12 + 6.0, 3.13 + 6.1,
# each on SQLite, PostgreSQL (+ Redis) and, for 5.2 and 6.1, MariaDB (+ Redis); one venv per
# session under .nox/. nox (installed into .venv) runs each session with python3.11,
# python3.12 or python3.13 from PATH, so install those three first (python.org, your
# distribution, deadsnakes, `uv python install 3.11 3.12 3.13`...). With pyenv they are found
# without that: the 3.11/3.12/3.13 that `pyenv versions` lists go into PYENV_VERSION for nox.
# The server sessions expect PostgreSQL, MariaDB (time-zone tables loaded, libmariadb-dev and
# pkg-config to build mysqlclient) and Redis on 127.0.0.1; noxfile.py says how to point
# elsewhere. A part of it: NOX_ARGS="-s py3.13-dj6.1-postgres" or NOX_ARGS="-t sqlite".
NOX_STAMP = $(VENV)/.nox-installed
PYENV_PYTHONS = $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.1[123]\.[0-9]+$$' | paste -sd: -)
$(NOX_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "nox>=2025.5.1"
	touch $(NOX_STAMP)

test-matrix: $(NOX_STAMP)
	$(if $(PYENV_PYTHONS),PYENV_VERSION=$(PYENV_PYTHONS)) $(BIN)/nox $(NOX_ARGS)

# ruff, then mypy (configured in pyproject.toml: django-stubs, oauth_tokens.oauth2 strict).
lint: $(STAMP)
	$(BIN)/ruff check oauth_tokens tests example_project reliability bench noxfile.py
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml): MkDocs with the Material theme, from
# requirements-docs.txt (needs only python3, not the dev requirements). `make docs` builds it
# into site/ with --strict (a broken link or anchor, or a page outside the nav, fails);
# `make docs-serve` previews it at http://127.0.0.1:8001/ and rebuilds on every change.
DOCS_STAMP = $(VENV)/.docs-installed
$(DOCS_STAMP): $(BIN)/python requirements-docs.txt
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# The demo serves on DEMO_ADDR (make demo DEMO_ADDR=127.0.0.1:8020), which is also its issuer
# (the printed commands and the demo clients' redirect URIs use it) unless
# OAUTH_TOKENS_ISSUER says otherwise.
DEMO_ADDR ?= 127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	OAUTH_TOKENS_ISSUER=$${OAUTH_TOKENS_ISSUER:-http://$(DEMO_ADDR)} $(BIN)/python manage.py setupdemo
	OAUTH_TOKENS_ISSUER=$${OAUTH_TOKENS_ISSUER:-http://$(DEMO_ADDR)} $(BIN)/python manage.py runserver $(DEMO_ADDR)

# The side-by-side benchmark (bench/): peers from requirements-bench.txt, then every run.
# BENCH_ARGS="--quick" for a short run, "--postgres" (or DATABASE_URL) to add PostgreSQL.
BENCH_STAMP = $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The HTTP-level benchmark (bench/http.py): gunicorn, one worker per core, serving ours
# and django-oauth-toolkit (hash_client_secret=False) side by side; wrk (from your system's
# packages: apt install wrk) drives it on loopback. PostgreSQL on 127.0.0.1 (or DATABASE_URL's
# server), database oauth_tokens_bench_http. BENCH_HTTP_ARGS="--quick", "--sqlite" (adds
# SQLite), "--algorithm ES256", "--worker-class gthread --threads 4"...
# The floor (bench/floor.py): one JWT signature + one durable INSERT, nothing else.
.PHONY: bench-http bench-floor
bench-http: $(BENCH_STAMP)
	$(BIN)/python -m bench.http $(BENCH_HTTP_ARGS)

bench-floor: $(BENCH_STAMP)
	$(BIN)/python -m bench.floor --postgres $(BENCH_FLOOR_ARGS)

# The consumer benchmark: get_access_token cost, and single-flight refresh under
# 4 processes x 4 threads against a rotating provider, next to Authlib.
# BENCH_CONSUMER_ARGS="--quick" for a short run, "--postgres" to add PostgreSQL.
.PHONY: bench-consumer
bench-consumer: $(BENCH_STAMP)
	$(BIN)/python -m bench.consumer_bench $(BENCH_CONSUMER_ARGS)

# The admin page "Token activity" on 1,000,000 access tokens, as many refresh tokens and
# 60,000 events (bench/dashboard.py): page and query times. PostgreSQL: DATABASE_URL's server
# or 127.0.0.1, its own database oauth_tokens_bench_dashboard. BENCH_DASHBOARD_ARGS="--days 7"
# puts every row inside the 7-day window; "--rows 100000" for a shorter run.
.PHONY: bench-dashboard screenshots
bench-dashboard: $(STAMP)
	$(BIN)/python -m bench.dashboard --postgres $(BENCH_DASHBOARD_ARGS)

# docs/images/*.png, taken by the browser tests: the dashboard, the consent page, the admin's
# client and token lists (needs the system's chromium and chromium-driver:
# apt-get install chromium chromium-driver).
screenshots: $(STAMP)
	OAUTH_TOKENS_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/provider/test_activity_browser.py \
	  tests/provider/test_pages_browser.py

# The reliability suite (reliability/): fuzzing, load with invariants and faults
# against the example project on gunicorn. Needs PostgreSQL and Redis
# (DATABASE_URL, REDIS_URL; defaults: 127.0.0.1). RELIABILITY_ARGS="--short" is
# the bounded run CI does; RELIABILITY_SCALE=N runs N times more cases / longer.
RELIABILITY_STAMP = $(VENV)/.reliability-installed
$(RELIABILITY_STAMP): $(STAMP) requirements-reliability.txt
	$(BIN)/python -m pip install --quiet -r requirements-reliability.txt
	touch $(RELIABILITY_STAMP)

reliability: $(RELIABILITY_STAMP)
	$(BIN)/python -m reliability $(RELIABILITY_ARGS)

# The provider scaled out (docs/scaling.md, reliability/cluster/): two hosts (a gunicorn
# master with 2 workers each, different settings modules) on one PostgreSQL through the
# system's PgBouncer (transaction mode) and one Redis, plus an API in remote mode; a token
# issued on host A, used on host B and at the API, revoked through host B, refused by every
# worker within the documented bounds. Needs PostgreSQL, Redis and pgbouncer (DATABASE_URL,
# REDIS_URL; defaults 127.0.0.1; the database <name>_cluster is made afresh).
# CLUSTER_DEMO_ARGS="--introspection-cache-ttl 2", "--revocation-poll-interval 0.5"...
.PHONY: cluster-demo
cluster-demo: $(RELIABILITY_STAMP)
	$(BIN)/python -m reliability.cluster $(CLUSTER_DEMO_ARGS)

# Clients we did not write, pinned in requirements-mcp.txt: the official MCP
# Python SDK reads our metadata and registers itself (its tests skip where it is not installed).
MCP_STAMP = $(VENV)/.mcp-installed
$(MCP_STAMP): $(STAMP) requirements-mcp.txt
	$(BIN)/python -m pip install --quiet -r requirements-mcp.txt
	touch $(MCP_STAMP)

.PHONY: interop
interop: $(MCP_STAMP)
	$(BIN)/python -m pytest -q tests/resource/test_mcp_sdk_discovery.py tests/resource/test_mcp_sdk_flow.py \
		tests/provider/test_registration_interop.py tests/provider/test_client_jwt_mcp.py

# Build the sdist and the wheel, check them, and run the wheel in a clean
# Python 3.13 venv with the newest Django (needs python3.13).
package-check:
	.ci/package-check

clean:
	rm -rf $(VENV) .nox db.sqlite3 site
