# Everything a fresh clone needs: `make test` and `make demo` create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp
# `make install` links the holdspace command here (override: make install BINDIR=/usr/local/bin).
BINDIR ?= $(HOME)/.local/bin

RUNS ?= 5

.PHONY: test lint demo bench stress-test install uninstall clean guides messages

# A clear word instead of pip's when python3 is too old or cannot make a virtual environment.
define NEW_VENV
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "holdspace needs Python 3.11 or newer; run make with PYTHON=python3.11 (or newer)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { rm -rf $(VENV); echo "python3 cannot create .venv; on Debian or Ubuntu: apt-get install python3-venv"; exit 1; }
endef

$(RUNTIME_STAMP): pyproject.toml
	$(NEW_VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml
	$(NEW_VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP) $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
	@mkdir -p $(BINDIR)
	ln -sf $(CURDIR)/$(BIN)/holdspace $(BINDIR)/holdspace
	@$(BINDIR)/holdspace --version
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; \
	  *) echo "$(BINDIR) is not on PATH yet: run  export PATH=\"$(BINDIR):\$$PATH\"" ;; esac

uninstall:
	rm -f $(BINDIR)/holdspace

lint: $(STAMP)
	$(BIN)/ruff check bot cogs tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The guides for members, facilitators and moderators, rendered from holdspace's own reply texts
# (tests/unit/test_guides.py fails when docs/guide-*.md is stale).
guides: $(STAMP)
	$(BIN)/python -m bot.guides

# Every catalogue (bot/locale/*/LC_MESSAGES/holdspace.po) brought up to date with the texts the code
# marks (babel.cfg) and the command tree; then translate what is new (docs/languages.md).
messages: $(STAMP)
	$(BIN)/python -m bot.i18n

# The end-to-end suite RUNS times beside one busy-looping process per core: no test may depend on
# how fast the machine is. Exits non-zero if any run failed.
stress-test: $(STAMP)
	$(BIN)/python -m tests.stress --runs $(RUNS)

demo: $(STAMP)
	$(BIN)/holdspace demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
