# evroam: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

# The tariff engine's hot modules are compiled at install (setup.py): reinstall when they change,
# so a compiled module never shadows newer source.
COMPILED_SOURCES := src/evroam/tariffs/engine.py src/evroam/tariffs/_kernel.py

$(STAMP): pyproject.toml setup.py $(COMPILED_SOURCES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: create .venv, install, migrate ./evroam.db, load demo data and serve
run: $(STAMP)
	$(BIN)/evroam serve --demo-data

## test: create .venv, install and run the whole suite
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/ocpi_locations.py
	$(BIN)/python bench/tariffs.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
