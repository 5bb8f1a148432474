# Two commands: `make run` and `make test`. Each creates .venv and installs everything it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sevbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)

# With SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (environment or .env) this serves Slack; without them, the sandbox.
run: $(STAMP)
	$(BIN)/sevbot migrate
	@if $(BIN)/python -c 'from bot.settings import load_settings; import sys; sys.exit(0 if load_settings().has_slack_credentials else 1)' 2>/dev/null; then \
		exec $(BIN)/sevbot serve; \
	else \
		exec $(BIN)/sevbot sandbox; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/declare_bench.py
	$(BIN)/python bench/scheduler_bench.py $(SCHED_BENCH_ARGS)
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
