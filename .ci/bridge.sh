#!/usr/bin/env bash
# The Zenoh bridge (crates/memlink-bridge): the demo's CLI must not build
# Zenoh, and the two-namespace tests (tests/two_machines.rs: two "machines",
# each a mount namespace with its own /dev/shm, bridged over TCP on
# 127.0.0.1) and the CLI test run. Needs root (unshare -m, mount) and
# util-linux's unshare and nsenter, which Debian always has. Builds in the
# debug profile only, as `cargo test --workspace` does: run after it, this
# compiles nothing new. `--check-deps` does the first check only (.ci/run:
# its `cargo test --workspace` has run the bridge's tests already).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }
started=$(date +%s)

step "bridge: the demo does not build Zenoh"
if cargo tree -p memlink-cli -e normal,build --prefix none | grep -q '^zenoh'; then
  echo "memlink-cli depends on zenoh: the README's demo would build it" >&2
  exit 1
fi
echo "memlink-cli: no zenoh in its dependencies"
if [ "${1:-}" = --check-deps ]; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then
  echo "bridge: skipped (the two-machine tests need root, unshare and nsenter)"
  exit 0
fi

step "bridge: tests (two namespaced machines, kill -9, restart, bad input)"
# The tests run the memlink CLI (the article's serve and connect) too.
cargo build -p memlink-cli
cargo test -p memlink-bridge

echo "bridge: done in $(( $(date +%s) - started )) s"
