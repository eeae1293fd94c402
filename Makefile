# Linli: two commands on a fresh machine. `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint check audit bench screenshots browser pdftools pgbouncer clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/linli serve --demo

# the suite on TEST_WORKERS pytest-xdist workers, each with its own database and Redis (tests/conftest.py)
TEST_WORKERS ?= 2
test: $(STAMP) browser pdftools pgbouncer
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# the quick loop while changing code: everything but the tests marked slow (under 2 minutes)
test-quick: $(STAMP) pdftools pgbouncer
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not slow"

# the page tests drive Debian's Chromium (Playwright downloads no browser); a CJK font so pages
# and screenshots show Chinese
browser:
	command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei)

# the PDF layout check rasterizes every PDF Linli draws (tests/records/test_pdf_layout.py)
pdftools:
	command -v pdftoppm >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils)

# the connection pooler's test starts its own PgBouncer on 6432-6433 (tests/test_pgbouncer.py). In a
# container nothing starts Debian's pgbouncer.service; on a host whose init does, it takes 6432:
# `systemctl disable --now pgbouncer` there
pgbouncer:
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer)

# the README's screenshots, from the page tests
screenshots: $(STAMP) browser
	LINLI_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/pages -q

lint: $(STAMP)
	$(BIN)/ruff check .

# known vulnerabilities of the installed dependencies (PyPI's JSON API; see .ci/audit.py)
audit: $(STAMP)
	$(BIN)/python .ci/audit.py

# models and migrations must agree (alembic check)
check: $(STAMP)
	$(BIN)/linli db check

# every benchmark on PostgreSQL and Redis at 127.0.0.1, one table in docs/performance.md (bench/run.py);
# the county is loaded afresh. To check it runs: make bench BENCH_ARGS=--quick
BENCH_ARGS ?= --fresh-county
bench: $(STAMP) pgbouncer
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.db var/*.sock
