# The two commands: `make run` and `make test` (`make soak` for the portfolio proofs). All set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DAY_SECONDS ?=
FRESH ?=

.PHONY: run test soak simulate check replay-check bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,test,check]'
	touch $@

# The report page's browser test drives Debian's Chromium, headless; installed here where it is missing (as root).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

run: $(VENV)/.installed
	$(PY) -m cli.devstack $(if $(DAY_SECONDS),--day-seconds $(DAY_SECONDS)) $(if $(FRESH),--fresh)

test: $(VENV)/.installed $(CHROMIUM)
	$(PY) -m pytest -m "not portfolio"

# The three 1,000-account, 60-day portfolio proofs; each prints its accounts, contacts and seconds at the end.
soak: $(VENV)/.installed
	$(PY) -m pytest -m portfolio

# Try before you promote: a synthetic portfolio through the real workflows under the running experiment's arms.
ACCOUNTS ?= 2000
DAYS ?= 90
SEED ?= 7
simulate: $(VENV)/.installed
	$(VENV)/bin/collections simulate --accounts $(ACCOUNTS) --days $(DAYS) --seed $(SEED)

check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Before deploying workers: the running workflows' histories, from the Temporal the environment names, replayed on
# this tree's code (README, "Deploying a new version"). Exit status 1 names each workflow that would break.
replay-check: $(VENV)/.installed
	$(VENV)/bin/collections deploys replay-check

bench: $(VENV)/.installed
	$(PY) -m bench.onboarding
	$(PY) -m bench.history_events
	$(PY) -m bench.measures
	$(PY) -m bench.workflow_tasks

clean:
	rm -rf $(VENV) .run
