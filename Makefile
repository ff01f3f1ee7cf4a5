# Two commands: `make run` (set up, seed the local lake, serve the dashboard) and
# `make test` (set up, run every test). Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= data/lake
DAYS ?= 365
EVENTS_PER_DAY ?= 12000
PORT ?= 8501

.PHONY: run test seed bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

seed: $(BIN)/.installed
	$(BIN)/python -m app demo seed --lake $(LAKE) --days $(DAYS) --events-per-day $(EVENTS_PER_DAY) --if-empty

run: seed
	./scripts/run-demo.sh $(LAKE) $(PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(BIN)/.installed
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache artifacts
