#!/usr/bin/env bash
# Runs a command against a fresh local SQS (moto's server on a free port):
#   scripts/with-moto.sh cargo run -p sim --features aws -- --queue sqs
# Sets AWS_ENDPOINT_URL, AWS_REGION and dummy credentials for the command,
# and stops the server afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(./scripts/venv.sh)
. scripts/lib.sh
port=$(free_port)
log=$(mktemp)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null; wait "$moto" 2>/dev/null; rm -f "$log"' EXIT
wait_for_port "$port" "$moto" "$log" "moto_server" 100

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
echo "local SQS (moto) at $AWS_ENDPOINT_URL" >&2
"$@"
