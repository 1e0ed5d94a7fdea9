#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration and
# property tests (the MySQL-backed ones, and the SQS backend's against a
# local moto server, included), the book's build and links, a fuzz run of
# the API, the sim's main job on both stores, with and without injected
# faults, over SQS, and in the deployed (Lambda) shape with the shipped
# settings held to the sale's targets, its JSON result checked against its
# schema, a short Goose load test against `sim serve` with its
# verification; the collector of what a stack did (`sim collect`) against
# moto's CloudWatch and Logs, and the model's calibration and comparison
# against a simulated run with known constants (both in `cargo test`);
# `sim rehearse --dry-run`; and the Pulumi program's type check and tests, on the
# Node.js 24 the virtualenv holds. Needs (CONTRIBUTING.md has the list): a
# MySQL 8 or MariaDB 10.11 server at TEST_MYSQL_URL (default
# mysql://root@127.0.0.1:3306; the MySQL tests fail, never skip, without
# one), mariadbd, mariadb-install-db and openssl on the PATH, Python 3 with
# PyPI, and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_MYSQL_URL="${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
# moto (SQS tests) and schemathesis (API fuzz), pinned, in one virtualenv.
ORDERFLOW_VENV=$(./scripts/venv.sh)
export ORDERFLOW_VENV

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

# The sim's `aws` feature (SQS and the deployed shape) is on for the whole
# workspace, and off once more for the sim alone: the plain build is the
# one most people run, and must be as clean.
step "cargo clippy (warnings are errors), with the sim's aws feature and without"
cargo clippy --workspace --all-targets --locked --features sim/aws -- -D warnings
cargo clippy -p sim --all-targets --locked -- -D warnings

# Clippy also refuses a function of more than 80 lines of code
# (clippy.toml; the scenario tests excepted, each says why).

step "layering: no import cycle in any crate, the never-rules of ARCHITECTURE.md hold"
python3 scripts/layering.py

step "cargo test (MySQL at $TEST_MYSQL_URL)"
cargo test --workspace --locked --features sim/aws

step "criterion benchmarks compile (run them with: cargo bench -p benches)"
cargo test --locked -p benches --benches --no-run

# Its reference pages are checked against the code by the sim's tests
# (`sim docs --check`), above.
step "the book (docs/): mdBook builds it, and every link and anchor in it and in the top-level Markdown resolves"
./scripts/book.sh

# On the Node.js the virtualenv holds (24; the pinned @pulumi/pulumi wants
# 22 or later), whatever Node the machine has.
step "Pulumi program: strict type check and unit tests on mocks (Node $("$ORDERFLOW_VENV/bin/node" --version))"
(export PATH="$ORDERFLOW_VENV/bin:$PATH" && cd pulumi && npm ci --no-audit --no-fund --loglevel=error && npm test)

step "Pulumi tests catch each risky change (the program broken on purpose, one way at a time)"
PATH="$ORDERFLOW_VENV/bin:$PATH" python3 scripts/pulumi-mutations.py

step "API fuzz from the OpenAPI document (schemathesis)"
./scripts/fuzz-api.sh

# The main job, end to end: scenarios, load, invariants; then the same under
# every injected fault, on two seeds. The default run spreads its load over
# 10 s (a flash sale); the fault and SQS runs send theirs as fast as answered
# (--duration 0) to keep CI short. Empty DATABASE_URL and DB_HOST keep a
# developer's .env from switching the in-memory runs to MySQL.
# The in-memory and MySQL runs use the plain build, as a first `cargo run
# -p sim` does; SQS and the deployed shape need the sim's aws feature.
mysql_sim="${TEST_MYSQL_URL%/}/orderflow_sim"

step "sim, in-memory store"
DATABASE_URL= DB_HOST= cargo run --locked -q -p sim -- --seed 1

step "sim, in-memory store, every fault injected (seed 3)"
DATABASE_URL= DB_HOST= cargo run --locked -q -p sim -- --seed 3 --faults all --duration 0

step "sim, MySQL store, every fault injected, killed connections included (seed 4)"
DATABASE_URL="$mysql_sim" cargo run --locked -q -p sim -- --seed 4 --faults all --duration 0

step "sim over SQS (a local moto server), MySQL store"
DATABASE_URL="$mysql_sim" ./scripts/with-moto.sh cargo run --locked -q -p sim --features aws -- --queue sqs --seed 5 --requests 300 --duration 0

step "sim, MySQL store"
DATABASE_URL="$mysql_sim" cargo run --locked -q -p sim -- --seed 2

# The deployed shape under the flash sale (open loop, its opening burst and
# reads), held to the sale's targets that the shipped settings meet with a
# margin on any machine (the p99 and offered-rate verdicts are
# BENCHMARKS.md's); its result checked against the schema, and compared
# with itself.
step "sim --topology lambda --profile flash-sale: the deployed shape with the shipped settings (MySQL), held to the sale's targets"
DATABASE_URL="$mysql_sim" cargo run --locked -q -p sim --features aws -- --topology lambda --profile flash-sale --seed 6 --requests 2000 --duration 5 \
  --target refused==0 --target dlq==0 --target 'first_try_5xx<0.1%' --target 'first_try_429<1%' --target connections_refused==0 \
  --json reports/ci-lambda.json --summary reports/ci-lambda.md

# A Multi-AZ failover in the middle of the sale, at a short size: the
# functions' path to the database cut for 10 s from second 1 (every open
# connection dropped), and a code update at second 2 (every warm
# environment replaced, the mappings over their maximumConcurrency); the
# orders handed back come back after it, nothing reaches the DLQ, every
# invariant holds.
step "sim --topology lambda --multi-az --db-outage 10 --deploy-at 2: a failover and a deploy mid-sale leave the DLQ empty"
DATABASE_URL="$mysql_sim" cargo run --locked -q -p sim --features aws -- --topology lambda --profile flash-sale --seed 7 --requests 600 --duration 3 \
  --multi-az --db-outage 10 --db-outage-at 1 --deploy-at 2 --target dlq==0 --target refused==0 --no-html

step "the run's result follows results.schema.json; sim compare passes it against itself"
"$ORDERFLOW_VENV/bin/python" scripts/check-result.py results.schema.json reports/ci-lambda.json
cargo run --locked -q -p sim -- compare reports/ci-lambda.json reports/ci-lambda.json

step "Goose smoke run against sim serve (MySQL store), then its verification"
DATABASE_URL="${TEST_MYSQL_URL%/}/orderflow_test_loadtest" ./scripts/loadtest-smoke.sh
