#!/usr/bin/env bash
# Hardening checks that `cargo test --workspace` does not run by itself (the
# crash, soak, fuzz and sharing tests do run there, in their short CI form):
#
#   1. loom: the model check of the ring protocol (tests/loom_ring.rs),
#      built with RUSTFLAGS="--cfg loom", preemptions bounded.
#   2. miri: the unsafe-heavy pure parts (shared-memory copies in bytes.rs,
#      channel header validation on heap buffers), when a nightly toolchain
#      with miri is installed; said so and skipped otherwise.
#   3. cargo-fuzz: a short coverage-guided run of each target in fuzz/, only
#      when MEMLINK_CARGO_FUZZ_SECONDS is set and cargo-fuzz and a nightly
#      toolchain are installed (building them takes minutes).
#
# Longer runs by hand:
#   MEMLINK_CRASH_ROUNDS=5000 cargo test -p memlink --test crash
#   cargo test --release -p memlink --test soak -- --ignored soak
#   MEMLINK_FUZZ_CASES=100000 cargo test --release -p memlink --test fuzz
#   LOOM_MAX_PREEMPTIONS=4 .ci/hardening.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== hardening: %s ==\n' "$*"; }
target=${CARGO_TARGET_DIR:-target}

step "loom model check (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3})"
CARGO_TARGET_DIR="$target/loom" RUSTFLAGS="--cfg loom" \
  LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" \
  cargo test --release -p memlink --test loom_ring

step "miri"
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  # A fresh machine has no nightly: fetch one with miri, bounded in time.
  timeout 300 rustup toolchain install nightly --profile minimal \
    --component miri,rust-src >/dev/null 2>&1 || true
fi
if cargo +nightly miri --version >/dev/null 2>&1; then
  # Weak-memory emulation is off: this nightly's miri crashes (an internal
  # error, not a finding) on the mixed-size atomic copies of bytes.rs.
  MIRIFLAGS="-Zmiri-disable-weak-memory-emulation" CARGO_TARGET_DIR="$target/miri" \
    cargo +nightly miri test -p memlink --lib -- bytes:: channel::layout::
else
  echo "miri: skipped (no nightly toolchain with miri could be installed)"
fi

step "cargo-fuzz"
if [ -n "${MEMLINK_CARGO_FUZZ_SECONDS:-}" ] && command -v cargo-fuzz >/dev/null 2>&1 \
  && cargo +nightly --version >/dev/null 2>&1; then
  for fuzz_target in segment name; do
    (cd fuzz && CARGO_TARGET_DIR="$target/fuzz" cargo +nightly fuzz run -O "$fuzz_target" -- \
      -max_total_time="$MEMLINK_CARGO_FUZZ_SECONDS" -rss_limit_mb=4096)
  done
else
  echo "skipped: set MEMLINK_CARGO_FUZZ_SECONDS (needs cargo-fuzz and nightly); the"
  echo "proptest fuzzers (tests/fuzz.rs) ran with the workspace tests"
fi
