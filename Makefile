# make demo | make test | make check | make bench  -- each creates .venv on first use.
# make check runs the gates CI runs before the tests: ruff, mypy, alembic check (SQLite, and
# PostgreSQL when MICROSCOUT_CHECK_PG_URL is set, as .ci/run does).
# make bench runs every benchmark at the moderate size (1-2 hours on 2 cores) and writes
# benchmarks/RESULTS.md; BENCH_ARGS="--size tiny" checks they all run in a minute.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck migrations-check check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embeddings]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/microscout demo

# Two pytest-xdist workers, each running one test file at a time (a file's tests share its
# fixtures and fixed sandbox ports): 431 s against 867 s in one process on the 2-core machine.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/python -m ruff check .

typecheck: $(STAMP)
	$(BIN)/python -m mypy crawler pipelines models

# Models and migrations must not drift: upgrade a fresh database, then `alembic check`.
migrations-check: $(STAMP)
	rm -f data/alembic-check.sqlite
	MICROSCOUT_DATABASE_URL=sqlite:///data/alembic-check.sqlite $(BIN)/microscout db upgrade
	MICROSCOUT_DATABASE_URL=sqlite:///data/alembic-check.sqlite $(BIN)/alembic check
	if [ -n "$$MICROSCOUT_CHECK_PG_URL" ]; then \
	  MICROSCOUT_DATABASE_URL="$$MICROSCOUT_CHECK_PG_URL" $(BIN)/microscout db upgrade && \
	  MICROSCOUT_DATABASE_URL="$$MICROSCOUT_CHECK_PG_URL" $(BIN)/alembic check; fi

check: lint typecheck migrations-check

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --write benchmarks/RESULTS.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
