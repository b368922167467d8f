#!/usr/bin/env bash
# The Windows backend: lint it (and the CLI and the C ABI) for
# x86_64-pc-windows-gnu; build the C library as memlink.dll with its import
# library and run the C and C++ examples and the C++ wrapper's tests, built
# with mingw, under Wine; run the library's test suite (multi-process tests
# included, and the article's Win32 client built with mingw) under Wine, then
# the CLI's create --hold /
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
cargo clippy -p memlink-ffi --target "$TARGET" --all-targets -- -D warnings

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

step "the C library (memlink.dll) and the C / C++ examples under Wine"
# The C ABI as a Windows DLL with its import library, and the C and C++
# programs built with mingw as a Windows C or C++ programmer would build
# them, run under Wine with memlink.dll next to them (Windows finds a DLL in
# the program's folder). Wine's console turns "\n" into "\r\n": `crlf`
# strips it before output is compared.
crlf() { tr -d '\r'; }
cargo build -p memlink-ffi --target "$TARGET"
ffi="$target_dir/$TARGET/debug"
ls -l "$ffi/memlink.dll" "$ffi/libmemlink.dll.a"
x86_64-w64-mingw32-objdump -p "$ffi/memlink.dll" | grep "ml_version" >/dev/null ||
  { echo "memlink.dll exports no ml_version"; exit 1; }
bin="$work/bindings"
rm -rf "$bin" && mkdir -p "$bin"
cp "$ffi/memlink.dll" "$bin/"
cflags=(-Wall -Wextra -Werror -O2 -I crates/memlink-ffi/include -I bindings/cpp)
for c in bindings/c/examples/hello.c bindings/c/examples/tour.c; do
  x86_64-w64-mingw32-gcc -std=c99 "${cflags[@]}" "$c" "$ffi/libmemlink.dll.a" \
    -o "$bin/$(basename "$c" .c).exe"
done
# -static: the C++ runtime inside the program (Wine has no libstdc++-6.dll);
# memlink.dll stays a DLL through its import library.
for cpp in bindings/cpp/examples/server.cpp bindings/cpp/examples/client.cpp \
  bindings/cpp/tests/wrapper_test.cpp; do
  x86_64-w64-mingw32-g++ -std=c++20 -static "${cflags[@]}" "$cpp" "$ffi/libmemlink.dll.a" \
    -o "$bin/$(basename "$cpp" .cpp).exe"
done
x86_64-w64-mingw32-objdump -p "$bin/tour.exe" | grep "DLL Name: memlink.dll" >/dev/null ||
  { echo "tour.exe does not import memlink.dll"; exit 1; }
win_name="mltest-wine-$$"
expect_out() { # WHAT NEEDLE OUTPUT
  echo "$3"
  case "$3" in *"$2"*) ;; *) echo "$1: no '$2' in its output"; exit 1;; esac
}
out=$(cd "$bin" && timeout 120 wine hello.exe "$win_name-hello" </dev/null | crlf)
expect_out "hello.exe" "hello from C (libmemlink" "$out"
out=$(cd "$bin" && timeout 120 wine tour.exe "$win_name-tour" </dev/null | crlf)
expect_out "tour.exe" "tour: ok" "$out"
for line in "mapping: Message from first process." "channel: 3 copied messages, then 'hello' in place" \
  "event: set, released one wait, reset itself" \
  "waitset: the second of two channels ready, then a deadline"; do
  expect_out "tour.exe" "$line" "$out" >/dev/null
done
out=$(cd "$bin" && timeout 300 wine wrapper_test.exe "$win_name-cpp" </dev/null | crlf)
expect_out "wrapper_test.exe" "C++20 spans: tested" "$out" >/dev/null
last=$(printf '%s\n' "$out" | tail -n 1)
case "$last" in *" passed, 0 failed") ;; *) echo "$out"; echo "wrapper_test.exe failed"; exit 1;; esac
echo "C++ wrapper tests under Wine: $last"
# Two processes: the C++ server and client (.ci/wine/pair.sh);
# five times: they once lost a race (a receiver that read "a sender ever
# attached" after a slow liveness check took a sender that attached during
# the check for one that left); MEMLINK_WINE_PAIR_RUNS=N changes the count.
for run in $(seq "${MEMLINK_WINE_PAIR_RUNS:-5}"); do
  bash .ci/wine/pair.sh "$bin" "$win_name-pair$run"
done

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
