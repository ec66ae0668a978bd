# Set-up and everyday commands. `make run` and `make test` are all a fresh clone needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint format bench clean browser translations

install: $(VENV)/.installed translations

# The virtualenv, with everything installed exactly from uv.lock (dev tools included).
$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(VENV)/bin/uv --version 2>/dev/null | grep -q "$(UV_VERSION)" || \
		$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --inexact --quiet
	@touch $@

# The translation catalogues (locale/*/LC_MESSAGES/*.po) compiled to the .mo files Django reads,
# with Babel from the virtualenv: no system gettext needed (foundation/translations.py).
translations: $(VENV)/.installed
	@$(PY) -m foundation.translations --stale

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	@echo
	@echo "  Admin:  http://127.0.0.1:8000/admin/   login: admin / admin"
	@echo "  Widget: $$($(PY) manage.py widget_token --program demo --participant alice --ttl 2592000 | tail -n 1)"
	@echo
	$(PY) manage.py runserver 127.0.0.1:8000

test: install browser
	scripts/test

# The widget's browser tests drive Debian's chromium (never a downloaded browser build), with a
# Chinese font so the zh-hans screenshots show characters, not boxes.
browser:
	@{ test -x /usr/bin/chromium && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; } || { \
		test "$$(id -u)" = 0 || { echo "make browser: not root, cannot apt-get install chromium;" \
			"the browser tests will skip (and fail in the strict PostgreSQL pass)" >&2; exit 0; }; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
			fonts-wqy-microhei; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	scripts/bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
