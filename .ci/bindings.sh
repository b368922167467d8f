#!/usr/bin/env bash
# The bindings' part of CI (called at the end of .ci/run; also runs alone):
# installs what the C++, C# and Python bindings need (g++, Mono, python3),
# checks that the committed C header matches the sources, builds
# libmemlink, and runs the C ABI's tests and the cross-language tests with
# every tool required (MEMLINK_REQUIRE_BINDINGS=1: nothing may be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }
started=$(date +%s)

step "bindings: tools"
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v gcc >/dev/null || missing+=(gcc)
command -v mcs >/dev/null || missing+=(mono-mcs)
command -v mono >/dev/null || missing+=(mono-runtime)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
g++ --version | head -n 1
mono --version | head -n 1
python3 --version

step "bindings: the committed header is current"
# Fails when crates/memlink-ffi/include/memlink.h differs from what cbindgen
# makes of the sources; MEMLINK_BLESS=1 rewrites it.
cargo test -p memlink-ffi --test header

step "bindings: libmemlink.so and libmemlink.a"
cargo build -p memlink-ffi
ls -l "${CARGO_TARGET_DIR:-target}"/debug/libmemlink.so "${CARGO_TARGET_DIR:-target}"/debug/libmemlink.a

step "bindings: C ABI tests, C++ / C# / Python / Rust processes"
MEMLINK_REQUIRE_BINDINGS=1 cargo test -p memlink-ffi

step "bindings: leaks"
# Only this suite's names: the machine's /dev/shm is shared with other runs.
leftovers=$(find /dev/shm \( -name 'mltest-ffi-*' -o -name 'mltest-xl-*' \) 2>/dev/null || true)
if [ -n "$leftovers" ]; then
  echo "binding tests left shared memory behind:"; echo "$leftovers"; exit 1
fi
echo "no leftovers in /dev/shm"
echo "bindings: done in $(($(date +%s) - started)) s"
