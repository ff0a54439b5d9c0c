# evroam: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled
# The tariff engine's hot modules can be compiled with mypyc (setup.py). `make run` installs the
# pure-Python build, which is quick; `make test` and `make bench` add the compiled build, and
# rebuild it when those sources change so a compiled module never shadows newer source.
COMPILED_SOURCES := src/evroam/tariffs/engine.py src/evroam/tariffs/_kernel.py

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	EVROAM_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(COMPILED)
	@touch $(STAMP)

$(COMPILED): $(STAMP) $(COMPILED_SOURCES)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(COMPILED)

## run: create .venv, install, migrate ./evroam.db, load demo data and serve
run: $(STAMP)
	$(BIN)/evroam serve --demo-data

## test: create .venv, install (with the compiled tariff engine) and run the whole suite, one
## worker per core (each test file runs whole in one worker; TEST_WORKERS=0 runs in-process)
TEST_WORKERS ?= 2
test: $(COMPILED)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(COMPILED)
	$(BIN)/python bench/ocpi_locations.py
	$(BIN)/python bench/tariffs.py
	$(BIN)/python bench/load_management.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
