#!/usr/bin/env bash
# Builds the book (docs/, mdBook) into docs/book and fails on a broken link
# or anchor in it or in the repository's top-level Markdown. mdBook is
# installed once, pinned, into ~/.cache/orderflow/tools (about a minute of
# compiling), as scripts/venv.sh installs the Python and Node tools.
#   ./scripts/book.sh          build and check
#   ./scripts/book.sh serve    mdbook serve, for writing (http://127.0.0.1:3000)
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION=0.4.52
tools="${ORDERFLOW_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/tools}"
mdbook="$tools/bin/mdbook"
if ! "$mdbook" --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
  echo "installing mdbook $MDBOOK_VERSION into $tools" >&2
  # Its own target directory: the workspace's shared one holds our crates.
  CARGO_TARGET_DIR="$tools/target" cargo install mdbook --version "$MDBOOK_VERSION" \
    --locked --no-default-features --quiet --root "$tools"
  rm -rf "$tools/target"
fi

if [ "${1:-}" = serve ]; then
  exec "$mdbook" serve docs
fi
"$mdbook" build docs
python3 scripts/check-links.py docs/book README.md CONTRIBUTING.md CHANGELOG.md BENCHMARKS.md ARCHITECTURE.md
