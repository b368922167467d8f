#!/usr/bin/env bash
# The macOS backend: type-check and lint it for x86_64-apple-darwin and
# aarch64-apple-darwin (Apple silicon; the ring's prefetch hints differ). Checking
# needs that target's standard library only, no linker and no Mac, so the
# backend (sys/macos/, sys/unix/) is compiled on
# every CI run but never executed here. Prints `macos: skipped (reason)` and
# exits 0 when the target cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(x86_64-apple-darwin aarch64-apple-darwin)
skip() {
  echo "macos: skipped ($*)"
  exit 0
}

command -v rustup >/dev/null || skip "no rustup to install the ${TARGETS[*]} targets"
for TARGET in "${TARGETS[@]}"; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    timeout 300 rustup target add "$TARGET" >/dev/null 2>&1 ||
      skip "rustup could not install the $TARGET target"
  fi
done

for TARGET in "${TARGETS[@]}"; do
  cargo check -p memlink --target "$TARGET" --all-targets
  cargo clippy -p memlink --target "$TARGET" --all-targets -- -D warnings
done
echo "macos: ok (type-checked and linted for ${TARGETS[*]}; not run: no macOS machine)"
