#!/usr/bin/env bash
# Builds the three Lambda deployment packages (ingest, processor, notifier)
# as zips for provided.al2023 on x86_64, where pulumi/ expects them:
# target/lambda/<name>/bootstrap.zip. Installs cargo-lambda (which brings
# zig for the cross-linking) from PyPI into a virtualenv the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION=1.9.2
venv="${ORDERFLOW_LAMBDA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/lambda-venv}"
if [ ! -x "$venv/bin/cargo-lambda" ] || ! "$venv/bin/cargo-lambda" lambda --version | grep -qF "$CARGO_LAMBDA_VERSION"; then
  echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export PATH="$venv/bin:$PATH"
# x86_64: the toolchain's own target, so no other standard library is needed
# (zig links against Amazon Linux's glibc).
cargo lambda build --release --x86-64 --output-format zip -p orderflow-lambda "$@"
ls -l target/lambda/*/bootstrap.zip
