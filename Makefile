# triage — the two quick-start commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_PORT ?= 8765
DEMO_DB ?= demo.db
PYTEST_ARGS ?=

.PHONY: demo test test-quick lint typecheck bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy crawler storage

## make test: lint, type-check, then the whole test suite (slow end-to-end tests included)
test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

## make test-quick: the suite without tests marked slow, for the edit loop
test-quick: $(STAMP)
	$(BIN)/pytest -m "not slow" -x -q $(PYTEST_ARGS)

## make demo: start the bundled demo site on 127.0.0.1, crawl seeds/demo.txt, print the queue
demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	TRIAGE_ALLOW_CIDRS=127.0.0.1/32 $(BIN)/triage demo --port $(DEMO_PORT) --db $(DEMO_DB)

## make bench: install the bench extra (Scrapy, the baseline crawl_compare runs beside triage), then every benchmark
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(DEMO_DB)*
