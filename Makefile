# Two commands for a newcomer: `make run` serves the demo data, `make test` runs the suite.
# Both install what is missing (virtualenv, Python packages, PostgreSQL + PostGIS) and can
# be run again harmlessly. DATABASE_URL overrides the database, PORT the port.

VENV ?= .venv
PY := $(VENV)/bin/python
YIZHAN := $(VENV)/bin/yizhan
PORT ?= 8000
export DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/yizhan
export PORT

.PHONY: run test install db lint format clean bench replica-proof drill bench-quick bench-sizes bench-ab bench-servers bench-special-days bench-console \
	fuzz fuzz-contract fuzz-properties fuzz-atheris

SIZE ?= 1e6
DURATION ?= 10
REPS ?= 3

run: db
	$(YIZHAN) seed
	$(YIZHAN) hours refresh
	$(YIZHAN) users demo-admin --url http://127.0.0.1:$(PORT)/admin/
	@echo "Yizhan serves the demo data on http://127.0.0.1:$(PORT) (API docs: /docs, staff console: /admin/)"
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

# The benchmark (docs/benchmarks.md, bench/run.py): loads SIZE synthetic sites once into their
# own database (yizhan_bench for 1e6, yizhan_bench_1e5 ...); runs `yizhan serve`, the pgbench and
# /healthz floors and the pygeoapi and tipg peers (installed into bench-out/) with wrk at 2, 4 and
# 8 connections, REPS times, DURATION s each. Writes bench-out/report-SIZE.md and
# docs/benchmarks/latency-SIZE.png. make bench SIZE=1e5 is the same on 1e5 sites; 1e7 works too.
bench: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/run.py --size $(SIZE) --duration $(DURATION) --reps $(REPS) $(BENCH_ARGS)

# Nearby at 1e5 and 1e7 sites (loaded once, as by make bench), measured in alternation, for the
# scaling target of issue #5 (bench/sizes.py). Writes bench-out/sizes-1e5-1e7-nearby-2.json.
bench-sizes: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/sizes.py $(BENCH_ARGS)

# An earlier commit (BASE) against the working tree, in alternation (bench/ab.py): BASE serves
# BASE_URL, a database at the schema its code expects (BENCH_ARGS=--base-size=1e6 loads it
# with BASE's code); the tree serves the 1e6 database.
bench-ab: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/ab.py --base $(BASE) --base-url $(BASE_URL) $(BENCH_ARGS)

# The same app under gunicorn (`yizhan serve`) and under granian, in alternation
# (bench/http_servers.py): how much of a request's CPU is the HTTP server. Installs the
# pinned granian into bench-out/granian-lib. BENCH_ARGS="--keep-alive off" for one
# connection per request on both.
bench-servers: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/http_servers.py $(BENCH_ARGS)

# Nearby at 1e6 sites where 5% have special days and 1% are closed until a date, against the
# same sites without, in alternation (bench/special_days.py); also what materialising costs.
bench-special-days: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/special_days.py $(BENCH_ARGS)

# The staff console's pages for an org subtree of 10,000 sites: p50/p95 per page
# (bench/console.py).
bench-console: install
	scripts/ensure-postgres.sh
	$(PY) bench/console.py $(BENCH_ARGS)

# CI's form of `make bench` (.ci/run): 1e5 sites, 2 s per measurement, 1 repetition, 4
# connections, floors and peers included. Writes bench-out/report-1e5-quick.md.
bench-quick: install
	scripts/ensure-postgres.sh
	command -v wrk >/dev/null || scripts/ensure-debian-packages.sh wrk
	$(PY) bench/run.py --size 1e5 --duration 2 --warmup 1 --reps 1 --connections 4 \
		--sql-requests 50 --profile-seconds 2 --name 1e5-quick \
		--plot bench-out/latency-1e5-quick.png

# A real PostgreSQL 15 streaming replica and two app instances in a temporary directory:
# proves reads go to the replica and writes, the change feed and admin views to the primary
# (docs/scaling.md). Needs root (initdb runs as the postgres user); removes everything after.
replica-proof: install
	scripts/ensure-postgres.sh
	$(PY) scripts/replica_proof.py

# Fault drill (docs/reliability.md): its own PostgreSQL cluster on a free local port, restarted
# (-m fast, then -m immediate) under 8 clients of reads and idempotent creates; proves no
# acknowledged write is lost or duplicated and only 503 problem+json answers the outage.
# Quick form (2 x 15 s of load, as tests/ops/test_drill.py runs it): make drill QUICK=1
drill: install
	scripts/ensure-postgres.sh
	$(PY) scripts/drill.py $(if $(QUICK),--quick) $(DRILL_ARGS)

# Every generated attack at length (docs/reliability.md): the contract with 1,000 examples per
# operation and stateful links, over 10,000 property-test requests, atheris FUZZ_SECONDS per
# harness. Hours on 2 cores; CI runs the short forms inside `make test`.
fuzz: fuzz-contract fuzz-properties fuzz-atheris

# Generated tests from the contract (docs/reliability.md): tests/hostile/test_contract.py with 1,000
# examples per operation (CI runs 100) plus stateful sequences along the OpenAPI links.
# Prints requests per operation. Long: tens of minutes on 2 cores.
fuzz-contract: install
	scripts/ensure-postgres.sh
	CONTRACT_EXAMPLES=1000 CONTRACT_STATEFUL=1 CONTRACT_REPORT=1 \
		$(PY) -m pytest tests/hostile/test_contract.py -q -s -p no:cacheprovider

# Long property run (docs/reliability.md): PROPERTY_EXAMPLES examples per property test
# (about 165 tests, one request each: 70 gives over 10,000 requests), randomised, shrunk.
PROPERTY_EXAMPLES ?= 70
fuzz-properties: install
	scripts/ensure-postgres.sh
	PROPERTY_EXAMPLES=$(PROPERTY_EXAMPLES) $(PY) -m pytest tests/hostile/test_properties.py -q \
		-p no:cacheprovider --hypothesis-show-statistics

# Long atheris run: FUZZ_SECONDS per harness; new inputs and crashes go to var/fuzz/.
FUZZ_SECONDS ?= 600
fuzz-atheris: install
	for h in hours imports crs; do \
		mkdir -p var/fuzz/$$h && \
		$(PY) fuzz/$${h}_fuzz.py var/fuzz/$$h fuzz/corpus/$$h -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=var/fuzz/$$h- -print_final_stats=1 || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
