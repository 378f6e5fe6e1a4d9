# Needs only python3. Creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install test demo lint bench clean package-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then mypy (configured in pyproject.toml: django-stubs, oauth_tokens.oauth2 strict).
lint: $(STAMP)
	$(BIN)/ruff check oauth_tokens tests example_project
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setupdemo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The side-by-side benchmark (bench/): peers from requirements-bench.txt, then every run.
# BENCH_ARGS="--quick" for a short run, "--postgres" (or DATABASE_URL) to add PostgreSQL.
BENCH_STAMP = $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The consumer benchmark: get_access_token cost, and single-flight refresh under
# 4 processes x 4 threads against a rotating provider, next to Authlib.
# BENCH_CONSUMER_ARGS="--quick" for a short run, "--postgres" to add PostgreSQL.
.PHONY: bench-consumer
bench-consumer: $(BENCH_STAMP)
	$(BIN)/python -m bench.consumer_bench $(BENCH_CONSUMER_ARGS)

# Build the sdist and the wheel, check them, and run the wheel in a clean
# Python 3.13 venv with the newest Django (needs python3.13).
package-check:
	.ci/package-check

clean:
	rm -rf $(VENV) db.sqlite3
