#!/usr/bin/env bash
# Runs a command against a fresh local SQS (moto's server on a free port):
#   scripts/with-moto.sh cargo run -p sim -- --queue sqs
# Sets AWS_ENDPOINT_URL, AWS_REGION and dummy credentials for the command,
# and stops the server afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(./scripts/venv.sh)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null; wait "$moto" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$moto" 2>/dev/null || { cat "$log"; echo "moto_server did not start" >&2; exit 1; }
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
echo "local SQS (moto) at $AWS_ENDPOINT_URL" >&2
"$@"
