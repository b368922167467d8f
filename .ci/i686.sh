#!/usr/bin/env bash
# 32-bit Linux (i686): memlink's tests built and run for i686, and a 32-bit
# and a 64-bit process sharing channels, mutex, seqlock and event
# (tests/cross_width.rs, each width as the parent in turn). Installs what it
# needs (the target, gcc-multilib for linking).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }
started=$(date +%s)
target=i686-unknown-linux-gnu

step "i686: tools"
rustup target add "$target" >/dev/null
if ! echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /dev/null 2>/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc-multilib >/dev/null
fi

step "i686: clippy"
cargo clippy -p memlink --all-targets --target "$target" -- -D warnings

step "i686: the library's tests, 32-bit"
cargo test -p memlink --target "$target" --lib --test channel --test sync --test mapping

# The path of the cross_width test binary built for `$1` (empty: the host).
test_binary() {
  local args=(test -p memlink --test cross_width --no-run --message-format=json)
  if [ -n "$1" ]; then args+=(--target "$1"); fi
  cargo "${args[@]}" 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cross_width":
        print(m["executable"])'
}

step "i686: 32-bit and 64-bit processes together"
bin64=$(test_binary "")
bin32=$(test_binary "$target")
file "$bin32" | grep -q "32-bit" || { echo "not a 32-bit binary: $bin32"; exit 1; }
MEMLINK_PEER_TEST_BIN="$bin32" "$bin64" --test-threads=1
MEMLINK_PEER_TEST_BIN="$bin64" "$bin32" --test-threads=1
echo "i686: done in $(($(date +%s) - started)) s"
