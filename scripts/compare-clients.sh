#!/usr/bin/env bash
# The sim's open-loop client beside an independent one, oha (a Rust load
# generator no one here wrote; open-loop with -q, latency corrected), at the
# same rate for the same time, each against a fresh `sim serve --topology
# lambda` (the shipped settings, ingest starting cold, as a sale that opens
# at a set time): first-try statuses and submit latency side by side.
#   DATABASE_URL=mysql://root@127.0.0.1:3306/orderflow_clients scripts/compare-clients.sh
# RATE (default 2857, the peak of the 20,000 / 20 s sale without its opening
# burst) and SECS
# (default 10) set the load; OHA names an oha binary (else it is installed
# with `cargo install oha --locked` into target/oha). Results land in
# reports/clients/. BENCHMARKS.md, "The sim's client beside oha".
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a MySQL database the servers may restock}"
RATE=${RATE:-2857}
SECS=${SECS:-10}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${OHA:-}" ]; then
  OHA=$(command -v oha || true)
  if [ -z "$OHA" ]; then
    cargo install oha --locked --root "$target/oha" >&2
    OHA="$target/oha/bin/oha"
  fi
fi
cargo build --locked --release -q -p sim
sim="$target/release/sim"
. scripts/lib.sh
out=reports/clients
mkdir -p "$out"

# serve LOG: a fresh `sim serve --topology lambda` on a free port; sets
# $port and $server.
serve() {
  port=$(free_port)
  "$sim" serve --topology lambda --load-products --addr "127.0.0.1:$port" >"$1" 2>&1 &
  server=$!
  wait_for_port "$port" "$server" "$1" "sim serve" 600
}
stop() { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
trap stop EXIT

body='{"customer_id":"oha","items":[{"product_id":"sim-hot-1","quantity":1}]}'
serve "$out/serve-oha.log"
"$OHA" -z "${SECS}s" -q "$RATE" -c 4000 --latency-correction --no-tui --output-format json \
  -m POST -H 'content-type: application/json' -d "$body" \
  "http://127.0.0.1:$port/api/orders" >"$out/oha.json"
stop

serve "$out/serve-sim.log"
"$sim" load --url "http://127.0.0.1:$port" --profile even --requests $((RATE * SECS)) \
  --duration "$SECS" --retries 0 --json "$out/sim-load.json" >"$out/sim-load.txt" || true
stop

python3 - "$out/oha.json" "$out/sim-load.json" "$RATE" "$SECS" <<'PY'
import json, sys
oha = json.load(open(sys.argv[1]))
sim = json.load(open(sys.argv[2]))
codes = {str(k): v for k, v in oha.get("statusCodeDistribution", {}).items()}
errors = sum(oha.get("errorDistribution", {}).values())
total = sum(codes.values()) + errors
ms = lambda s: s * 1000
pct = oha["latencyPercentiles"]
def share(n, of): return f"{100 * n / max(of, 1):.2f} %"
first = sim["load"]["first_try"]
n = sim["load"]["requests"]
ok = lambda m: sum(v for k, v in m.items() if k in ("202", "400"))
five = lambda m: sum(v for k, v in m.items() if k.startswith("5"))
rows = [
    ("requests", str(total), str(n)),
    ("answered 202 or 400", share(ok(codes), total), share(ok(first), n)),
    ("answered 429", share(codes.get("429", 0), total), share(first.get("429", 0), n)),
    ("answered 5xx", share(five(codes), total), share(five(first), n)),
    ("no answer (timeout, error)", share(errors, total), share(first.get("timeout", 0) + first.get("error", 0), n)),
    ("latency p50 (from due)", f"{ms(pct['p50']):.1f} ms", f"{sim['load']['first_answer_ms']['p50']:.1f} ms"),
    ("latency p99 (from due)", f"{ms(pct['p99']):.1f} ms", f"{sim['load']['first_answer_ms']['p99']:.1f} ms"),
]
print(f"| {sys.argv[3]}/s for {sys.argv[4]} s, first try | oha | sim load |\n|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} |")
PY
