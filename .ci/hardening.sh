#!/usr/bin/env bash
# Hardening checks that `cargo test --workspace` does not run by itself (the
# crash, soak, fuzz and sharing tests do run there, in their short CI form):
#
#   1. loom: tests/loom_ring.rs runs the real ring, park, senders' lock and
#      broadcast code (src/channel/ring.rs, park.rs, send_lock.rs,
#      broadcast.rs, instantiated with loom's atomics); its
#      loom_finds_the_modelled_bugs re-introduces each past bug in that code
#      (MEMLINK_MUTATION=park_without_fence, lock_without_generations,
#      join_without_token, relaxed_header_load, marker_after_publish,
#      relaxed_oldest) and requires loom to fail it.
#      tests/loom_waitset.rs runs the real WaitSet park protocol
#      (src/channel/bell.rs: doorbell announcements, parked counts, the
#      wakers' ring and the clearing of a dead set's announcement, with
#      park.rs's wake); its loom_finds_the_modelled_bugs requires loom to
#      fail MEMLINK_MUTATION=bell_look_before_announce (the last look taken
#      before the announcements) and park_without_fence there. Built with
#      RUSTFLAGS="--cfg loom", preemptions bounded.
#   2. miri: the unsafe-heavy pure parts (shared-memory copies in bytes.rs,
#      channel header validation on heap buffers), when a nightly toolchain
#      with miri is installed; said so and skipped otherwise.
#   3. cargo-fuzz: a short coverage-guided run of each target in fuzz/
#      (MEMLINK_CARGO_FUZZ_SECONDS each, 30 by default; 0 skips), installing
#      cargo-fuzz when it is missing; said so and skipped when it or a
#      nightly toolchain cannot be had.
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
  cargo test --release -p memlink --test loom_ring --test loom_waitset

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
fuzz_seconds=${MEMLINK_CARGO_FUZZ_SECONDS:-30}
fuzz_skip() {
  echo "cargo-fuzz: skipped ($*); the proptest fuzzers (tests/fuzz.rs) ran with"
  echo "the workspace tests"
}
if [ "$fuzz_seconds" = 0 ]; then
  fuzz_skip "MEMLINK_CARGO_FUZZ_SECONDS=0"
elif ! cargo +nightly --version >/dev/null 2>&1; then
  fuzz_skip "no nightly toolchain"
elif ! command -v cargo-fuzz >/dev/null 2>&1 \
  && ! timeout 600 cargo install --quiet --locked cargo-fuzz; then
  fuzz_skip "cargo-fuzz could not be installed"
else
  # A crash fails CI; libFuzzer saves the input under fuzz/artifacts/.
  log_dir=$PWD/target/fuzz-logs
  mkdir -p "$log_dir"
  for fuzz_target in segment name; do
    log=$log_dir/$fuzz_target.log
    if (cd fuzz && CARGO_TARGET_DIR="$target/fuzz" cargo +nightly fuzz run -O "$fuzz_target" -- \
      -max_total_time="$fuzz_seconds" -rss_limit_mb=4096) >"$log" 2>&1; then
      grep -E "^Done [0-9]+ runs" "$log" || true
      echo "cargo-fuzz: $fuzz_target ran ${fuzz_seconds}s without a crash"
    else
      tail -n 60 "$log"
      echo "cargo-fuzz: $fuzz_target failed (the input is under fuzz/artifacts/$fuzz_target/)"
      exit 1
    fi
  done
fi
