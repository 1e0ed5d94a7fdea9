#!/usr/bin/env bash
# A short Goose run against a real `sim serve` (MySQL store when
# DATABASE_URL is set, in-memory otherwise), then the load test's
# verification: nothing oversold, lost or applied twice, every resubmission
# answered with its original's id, every invalid request refused.
#   DATABASE_URL=mysql://root@127.0.0.1:3306/orderflow_loadtest scripts/loadtest-smoke.sh
# Extra arguments go to the load test (e.g. --run-time 30s --users 32).
# Goose's HTML report lands in reports/loadtest-smoke.html.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -q -p sim -p loadtest
bin="${CARGO_TARGET_DIR:-target}/debug"
. scripts/lib.sh
port=$(free_port)
log=$(mktemp)
"$bin/sim" serve --addr "127.0.0.1:$port" --load-products >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
wait_for_port "$port" "$server" "$log" "sim serve" 300

mkdir -p reports
"$bin/loadtest" --host "http://127.0.0.1:$port" --hot-product sim-hot-1 \
  --users 8 --increase-rate 8 --run-time 5s --quiet \
  --report-file reports/loadtest-smoke.html "$@"
