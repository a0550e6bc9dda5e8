# Paperboy: `make run` for a working site, `make test` for the whole suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Installing again only when a requirements file changes keeps `make test` fast.
STAMP := $(VENV)/.installed
# Development defaults, for `make run` and its helpers only; the environment (or .env) can override DEBUG.
DEV := export DEBUG=$${DEBUG:-true};
SITE := http://127.0.0.1:8000
# The processes `make run` starts (another file only for a test that needs another port).
PROCFILE ?= Procfile.dev
ARGS ?=

.PHONY: run demo test test-fast lint typecheck bench install migrate sample admin manage clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(STAMP)

# The Node package that checks the emails against the caniemail.com data (tests/test_email_clients.py),
# installed again only when its package.json or lock file changes; without npm that test skips (fails under CI=true).
EMAIL_CLIENTS := tests/email_clients
NODE_STAMP := $(EMAIL_CLIENTS)/node_modules/.installed

$(NODE_STAMP): $(EMAIL_CLIENTS)/package.json $(EMAIL_CLIENTS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(EMAIL_CLIENTS) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the emails' caniemail check will be skipped"; fi

migrate: install
	$(DEV) $(BIN)/python manage.py migrate --noinput

sample: migrate
	$(DEV) $(BIN)/python manage.py load_sample

# The site, a Celery worker and beat on the embedded filesystem broker (no Redis needed).
run: sample
	@# One live fetch, queued for the worker: with no network it only logs a failure and start-up goes on.
	-@$(DEV) timeout 60 $(BIN)/python manage.py shell -c \
		"from papers.tasks import fetch_hf_today; fetch_hf_today.delay()" \
		|| echo "Could not queue the live fetch; the bundled sample is loaded."
	@echo ""
	@echo "Paperboy is starting (Ctrl-C stops everything):"
	@echo "  site    $(SITE)/"
	@echo "  admin   $(SITE)/admin/   (create a user first: make admin)"
	@echo "  outbox  var/outbox/   (in development every email is written there as a file)"
	@echo "  demo    make demo     (in another terminal: a real digest in the outbox at once)"
	@echo "  logs    below, prefixed web / worker / beat"
	@echo ""
	@# Ctrl-C: honcho stops web, worker and beat (SIGTERM; the worker's pool is threads, so the
	@# signal reaches no forked child mid-task) and exits 130, which is how `run` is meant to end.
	@$(DEV) export PATH="$(CURDIR)/$(BIN):$$PATH"; trap : INT; honcho -f $(PROCFILE) start; \
		status=$$?; if [ $$status -eq 130 ]; then echo "Paperboy stopped."; exit 0; fi; exit $$status

# A real digest in the outbox within minutes: two demo readers (daily, weekly) get the latest sample
# day's issues, built and sent here (again: nothing is sent twice). Works beside a running `make run`.
demo: sample
	@$(DEV) $(BIN)/python manage.py demo

# With DJANGO_SUPERUSER_PASSWORD set it runs without questions (Django's createsuperuser --noinput);
# the user name and email default to admin and admin@localhost.
admin: migrate
	@$(DEV) if [ -n "$${DJANGO_SUPERUSER_PASSWORD:-}" ]; then \
		export DJANGO_SUPERUSER_USERNAME="$${DJANGO_SUPERUSER_USERNAME:-admin}"; \
		export DJANGO_SUPERUSER_EMAIL="$${DJANGO_SUPERUSER_EMAIL:-admin@localhost}"; \
		$(BIN)/python manage.py createsuperuser --noinput; \
	else $(BIN)/python manage.py createsuperuser; fi

# Any management command in development: make manage ARGS='build_issue --date 2025-11-19'.
# ARGS goes to the shell unquoted on purpose, so quotes inside it group words as on a command line.
manage: install
	@$(DEV) $(BIN)/python manage.py $(ARGS)

# Two processes (pytest-xdist), a test file each at a time: each has its own test database
# (test_paperboy_gw0, _gw1), and module-wide fixtures such as the browser start once per file.
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

test: install $(NODE_STAMP)
	$(BIN)/pytest $(PYTEST_PARALLEL) $(ARGS)

# A developer's quick run: everything but the tests marked slow (Chromium, fuzzing, the real model, killed workers, gunicorn).
test-fast: install $(NODE_STAMP)
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow" $(ARGS)

# mypy with django-stubs over the trees listed in pyproject's [tool.mypy] (also part of `make lint`).
typecheck: install
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	@# is_visible() reads the page once, maybe before the page a click asked for has loaded: a flaky
	@# test. expect(locator).to_be_visible() and .to_be_hidden() wait for it.
	@if grep -rn --include='*.py' 'is_visible()' tests; then \
		echo "tests: use expect(locator).to_be_visible() or .to_be_hidden(), which wait"; exit 1; fi

bench: install
	@set -e; found=0; for script in bench/*.py; do \
		case "$$script" in bench/_*) continue;; esac; \
		[ -f "$$script" ] || continue; found=1; \
		echo "== $$script"; $(BIN)/python "$$script"; \
	done; [ $$found = 1 ] || { echo "No scripts under bench/"; exit 1; }

clean:
	rm -rf $(VENV) var staticfiles $(EMAIL_CLIENTS)/node_modules
