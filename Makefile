# Two commands: `make run` (set up, seed the local lake, serve the dashboard) and
# `make test` (set up, run every test). Both work on a fresh clone, on any day.
#
# Installs come from requirements.lock: every package, transitive ones included, pinned
# with hashes. uv installs it (a cold install in seconds, see docs/benchmarks.md); uv itself
# comes from the same lock through pip with --require-hashes. `make lock` regenerates the
# lock from requirements.txt and requirements-dev.txt, the files you edit.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= data/lake
DAYS ?= 365
EVENTS_PER_DAY ?= 12000
PORT ?= 8501
# Date-sensitive tests run again with the clock at these instants (see docs/testing.md).
OTHER_DATES ?= 2027-11-29T10:00:00Z 2028-02-29T23:30:00Z

.PHONY: run test test-dates check seed bench lock clean

$(BIN)/.installed: requirements.lock
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	awk '/^uv==/{p=1} p{print} p && !/\\$$/{exit}' requirements.lock > $(VENV)/uv-lock.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes -r $(VENV)/uv-lock.txt
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	touch $@

lock: $(BIN)/.installed
	$(BIN)/uv pip compile --quiet requirements-dev.txt --generate-hashes --universal \
		--python-version 3.11 -o requirements.lock

seed: $(BIN)/.installed
	$(BIN)/python -m app demo seed --lake $(LAKE) --days $(DAYS) --events-per-day $(EVENTS_PER_DAY) --if-empty

run: seed
	./scripts/run-demo.sh $(LAKE) $(PORT)

check: $(BIN)/.installed
	$(BIN)/ruff check app dashboard pages tests bench scripts
	$(BIN)/ruff format --check app dashboard pages tests bench scripts
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest -n 2 --dist loadgroup
	$(MAKE) test-dates

test-dates: $(BIN)/.installed
	for d in $(OTHER_DATES); do echo "== date-sensitive tests at $$d"; \
		VERTICALS_NOW=$$d $(BIN)/python -m pytest -n 2 --dist loadgroup -m dated -q -p no:cacheprovider || exit 1; done

bench: $(BIN)/.installed
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache artifacts
