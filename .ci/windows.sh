#!/usr/bin/env bash
# The Windows backend: lint it (and the CLI) for x86_64-pc-windows-gnu, run
# the library's test suite (multi-process tests included, and the article's
# Win32 client built with mingw) under Wine, then the CLI's create --hold /
# write / read / info flow (.ci/wine/cli_flow.sh; skipped when a test filter
# is given).
#
# Idempotent: installs what is missing (the Rust target with rustup;
# mingw-w64 and wine64 with apt-get), builds a small shim DLL that Wine 8
# lacks, and starts Wine in a fresh prefix of its own, which it removes at the
# end. Prints `windows: skipped (reason)` and exits 0 only when the target,
# the linker or Wine cannot be had on this machine.
#
# How cargo reaches Wine: environment variables set here (no repository-wide
# .cargo/config.toml, so nobody else's builds change):
#   CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
#   CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
# Extra arguments are passed to `cargo test` (e.g. a test-name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
started=$(date +%s)
skip() {
  echo "windows: skipped ($*)"
  exit 0
}
step() { printf '\n== windows: %s ==\n' "$*"; }

step "toolchain"
command -v rustup >/dev/null || skip "no rustup to install the $TARGET target"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  timeout 300 rustup target add "$TARGET" >/dev/null 2>&1 ||
    skip "rustup could not install the $TARGET target"
fi

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(mingw-w64)
{ command -v wine >/dev/null && command -v wineserver >/dev/null; } || missing+=(wine64 wine)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
  [ "$(id -u)" = 0 ] || skip "installing ${missing[*]} needs root"
  echo "installing ${missing[*]} (about 35 s)"
  export DEBIAN_FRONTEND=noninteractive
  { timeout 300 apt-get update -qq && timeout 900 apt-get install -y -qq "${missing[@]}"; } \
    >/dev/null 2>&1 || skip "apt-get could not install ${missing[*]}"
  command -v x86_64-w64-mingw32-gcc >/dev/null || skip "mingw-w64 installed no x86_64-w64-mingw32-gcc"
  command -v wine >/dev/null || skip "wine64 installed no wine launcher"
fi
wine --version 2>/dev/null

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
work="$target_dir/wine"
mkdir -p "$work"

step "lint ($TARGET)"
cargo clippy -p memlink --target "$TARGET" --all-targets -- -D warnings
cargo clippy -p memlink-cli --target "$TARGET" -- -D warnings

step "Wine"
# Wine 8 has no bcryptprimitives.dll, whose ProcessPrng every Rust program
# imports (rust-lang/rust#121337): build a stand-in (see .ci/wine/processprng.c).
shim="$work/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ .ci/wine/processprng.c -nt "$shim" ] || [ .ci/wine/processprng.def -nt "$shim" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$shim" \
    .ci/wine/processprng.c .ci/wine/processprng.def -ladvapi32
fi

# A prefix of our own for this run: processes must share a prefix to see each
# other's named objects, and nobody else's Wine may see ours.
export WINEPREFIX="$work/prefix-$$"
export WINEDEBUG=-all
# No Mono or Gecko installers at first start; no display at all.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  wineserver -w >/dev/null 2>&1 || true
  rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
mkdir -p "$WINEPREFIX"
wineserver -k >/dev/null 2>&1 || true
wineserver -w >/dev/null 2>&1 || true
# A persistent server first, then the prefix, with Wine's helper processes
# detached from our pipes (otherwise they inherit them and cargo hangs).
wineserver -p
timeout 180 wineboot -i </dev/null >/dev/null 2>&1 || skip "wineboot could not create a prefix"
cp "$shim" "$WINEPREFIX/drive_c/windows/system32/"
echo "prefix ready: $WINEPREFIX"

# The article's Win32 client (tests/article_client.rs runs it on memlink's
# mappings), built with mingw as a C programmer would build it.
client="$work/article_client.exe"
x86_64-w64-mingw32-gcc -municode -O2 -Wall -Werror -o "$client" \
  crates/memlink/tests/windows/article_client.c
# Wine sees the Linux file system as drive Z:.
export MEMLINK_ARTICLE_CLIENT="Z:${client//\//\\}"

step "tests under Wine"
timeout 1200 cargo test -p memlink --target "$TARGET" "$@" </dev/null

step "CLI under Wine: create --hold, write, read, info"
if [ $# -eq 0 ]; then
  cargo build -p memlink-cli --target "$TARGET"
  x86_64-w64-mingw32-gcc -municode -O2 -Wall -Werror -o "$work/file_server.exe" \
    crates/memlink/tests/windows/file_server.c
  timeout 600 bash .ci/wine/cli_flow.sh "$target_dir/$TARGET/debug/memlink.exe" \
    "$work/file_server.exe" "$work"
else
  echo "skipped: a test filter was given ($*)"
fi

echo "windows: ok in $(($(date +%s) - started)) s"
