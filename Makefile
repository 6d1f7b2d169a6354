# The few commands a newcomer needs. Each target creates .venv and installs what it needs.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do $$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-browser lint format format-check bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install  ## run the product (no BOT_TOKEN: local sandbox, see the printed URLs)
	$(BIN)/supportbot run

# End-to-end files run in the other pytest process of `make test`, so that both take about as
# long (by their `--durations` figures; see docs/issue-14-figures.md).
E2E_BESIDE := tests/e2e/test_scaleout.py
# Everything else: every folder under tests/ but these two (pytest drops a file argument that
# lies under a folder argument, so the folders are listed one by one).
REST := $(filter-out tests/e2e/ tests/browser/ tests/__pycache__/,$(sort $(wildcard tests/*/)))

test: install  ## the whole test suite (PostgreSQL/Redis tests skip if no server on 127.0.0.1)
	@# Two pytest processes side by side (two cores): the end-to-end and browser tests, which
	@# mostly wait on Telegram's limits, beside everything else (and $(E2E_BESIDE));
	@# each prints its own summary.
	@rm -rf .pytest-tmp && mkdir -p .pytest-tmp
	@$(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=.pytest-tmp/e2e tests/e2e tests/browser \
		$(E2E_BESIDE:%=--ignore=%) > .pytest-tmp/e2e.log 2>&1 & e2e=$$!; \
	$(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=.pytest-tmp/rest \
		$(REST) $(E2E_BESIDE); rest=$$?; \
	wait $$e2e; e2e_rc=$$?; \
	echo "== end-to-end and browser tests (tests/e2e, tests/browser)"; cat .pytest-tmp/e2e.log; \
	test $$rest -eq 0 && test $$e2e_rc -eq 0

test-browser: install  ## only the sandbox page in Chromium (apt-get install -y chromium); screenshots in test-artifacts/browser
	$(BIN)/python -m pytest -q -m browser tests/browser

lint: install  ## what CI checks besides the tests: ruff check, ruff format --check, mypy (config in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format-check: install
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## benchmarks print their figures; never part of `make test`
	$(BIN)/python bench/updates.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
