# Two commands for a newcomer: `make run` serves the demo data, `make test` runs the suite.
# Both install what is missing (virtualenv, Python packages, PostgreSQL + PostGIS) and can
# be run again harmlessly. DATABASE_URL overrides the database, PORT the port.

VENV ?= .venv
PY := $(VENV)/bin/python
YIZHAN := $(VENV)/bin/yizhan
PORT ?= 8000
export DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/yizhan
export PORT

.PHONY: run test install db lint format clean bench

SIZE ?= 1e6
DURATION ?= 10

run: db
	$(YIZHAN) seed
	$(YIZHAN) hours refresh
	@echo "Yizhan serves the demo data on http://127.0.0.1:$(PORT) (API docs: /docs)"
	$(YIZHAN) serve --bind 127.0.0.1 --port $(PORT)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	scripts/ensure-postgres.sh
	scripts/ensure-redis.sh
	command -v ogrinfo >/dev/null || scripts/ensure-debian-packages.sh gdal-bin
	scripts/ensure-browser.sh
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

install: $(VENV)/.installed
	scripts/ensure-browser.sh --web-only

$(VENV)/.installed: requirements.txt requirements-dev.txt setup.cfg
	scripts/ensure-venv.sh $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

db: install
	scripts/ensure-postgres.sh
	$(PY) scripts/ensure_db.py
	$(YIZHAN) db upgrade

# First throughput measurement (docs/benchmarks.md); loads SIZE synthetic sites once into the
# database yizhan_bench. Needs wrk (apt-get install wrk). Quick form: make bench SIZE=1e5 DURATION=3
bench: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/run.py --size $(SIZE) --duration $(DURATION)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
