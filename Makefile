# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv run lint test test-unit test-integration test-faults browser-check bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Everything on 127.0.0.1 unless JOBGATE_HOST (and FLOWER_ADDRESS) say otherwise; the `ready`
# process prints one line with the URLs and the development key once the stack answers.
run: venv
	@if [ -z "$$JOBGATE_WEBHOOK_ALLOW_NETS" ]; then echo "jobgate: JOBGATE_WEBHOOK_ALLOW_NETS is unset; webhooks may also go to loopback (127.0.0.0/8,::1/128)"; fi
	@JOBGATE_API_KEYS="$${JOBGATE_API_KEYS:-dev}" FLOWER_BASIC_AUTH="$${FLOWER_BASIC_AUTH:-dev:dev}" \
		JOBGATE_WEBHOOK_ALLOW_NETS="$${JOBGATE_WEBHOOK_ALLOW_NETS:-127.0.0.0/8,::1/128}" \
		JOBGATE_LOG_FORMAT="$${JOBGATE_LOG_FORMAT:-human}" \
		$(BIN)/honcho start -f Procfile

# Everything CI runs: lint and types, then the three tiers (unit, integration, faults).
test: lint test-unit browser-check
	$(BIN)/jobgate redis --ensure
	$(BIN)/python -m pytest -rs $(PYTEST_ARGS) tests/integration tests/faults

# The console's browser tests need Debian's chromium and chromium-driver; say so loudly when missing.
browser-check:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "***********************************************************************************"; \
		echo "* NO BROWSER: tests/integration/test_console.py will be SKIPPED.                    *"; \
		echo "* Install it: apt-get install chromium chromium-driver (.ci/run does it).          *"; \
		echo "***********************************************************************************"; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# No Redis, no worker: seconds.
test-unit: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS) tests/unit

test-integration: venv
	$(BIN)/jobgate redis --ensure
	$(BIN)/python -m pytest -rs $(PYTEST_ARGS) tests/integration

# Only the fault tests (they are part of `make test` too): figures in var/fault-figures.txt.
test-faults: venv
	$(BIN)/jobgate redis --ensure
	$(BIN)/python -m pytest -m faults -s $(PYTEST_ARGS) tests/faults

bench: venv
	$(BIN)/jobgate redis --ensure
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
