#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and integration
# tests (the MySQL-backed ones included), and the sim's main job on both
# stores. Needs a MySQL 8 or MariaDB 10.11 server at TEST_MYSQL_URL
# (default mysql://root@127.0.0.1:3306); the MySQL tests fail, never skip,
# without one.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_MYSQL_URL="${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (MySQL at $TEST_MYSQL_URL)"
cargo test --workspace --locked

# The main job, end to end: scenarios, load, invariants. Empty DATABASE_URL
# and DB_HOST keep a developer's .env from switching the first run to MySQL.
step "sim, in-memory store"
DATABASE_URL= DB_HOST= cargo run --locked -q -p sim -- --seed 1

step "sim, MySQL store"
DATABASE_URL="${TEST_MYSQL_URL%/}/orderflow_sim" cargo run --locked -q -p sim -- --seed 2
