#!/usr/bin/env bash
# Builds the four Lambda deployment packages (ingest, processor, notifier,
# migrate) as zips for provided.al2023, where pulumi/ expects them:
# target/lambda/<name>/bootstrap.zip (under CARGO_TARGET_DIR if set: then
# `pulumi config set lambdaDir $CARGO_TARGET_DIR/lambda`). Installs cargo-lambda (which brings
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
# The settings file's `architecture` (ORDERFLOW_SETTINGS, default
# deploy/settings.json; x86_64 if it names none): x86_64 is the toolchain's
# own target, so no other standard library is needed (zig links against
# Amazon Linux's glibc). arm64 (Graviton, about 20% cheaper a GB-second)
# needs `rustup target add aarch64-unknown-linux-gnu` first; the Pulumi
# program deploys the same file's architecture. ORDERFLOW_LAMBDA_ARCH
# overrides the file.
settings="${ORDERFLOW_SETTINGS:-deploy/settings.json}"
from_file=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("architecture", "x86_64"))' "$settings")
built_for="${ORDERFLOW_LAMBDA_ARCH:-$from_file}"
case "$built_for" in
  x86_64) arch=--x86-64 ;;
  arm64) arch=--arm64 ;;
  *) echo "ORDERFLOW_LAMBDA_ARCH must be x86_64 or arm64" >&2; exit 2 ;;
esac
cargo lambda build --release "$arch" --output-format zip -p orderflow-lambda "$@"
# What the zips were built for: the Pulumi program refuses to deploy them
# as another architecture.
out="${CARGO_TARGET_DIR:-target}/lambda"
printf '{"architecture": "%s", "settings": "%s"}\n' "$built_for" "$settings" >"$out/manifest.json"
ls -l "$out"/*/bootstrap.zip "$out/manifest.json"
