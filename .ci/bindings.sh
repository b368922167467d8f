#!/usr/bin/env bash
# The bindings' part of CI (called at the end of .ci/run; also runs alone):
# installs what the C++, C# and Python bindings need (g++, Mono, python3 and
# its venv), checks that the committed C header matches the sources, builds
# libmemlink, builds and installs the Python module's wheel into a venv under
# the target directory (`pip install ./bindings/python`, as a user would),
# lints it, runs its pytest suite, then the C ABI's tests and the
# cross-language tests with every tool required (MEMLINK_REQUIRE_BINDINGS=1:
# nothing may be skipped).
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
# Debian's python3 makes venvs only with python3-venv (ensurepip).
if command -v python3 >/dev/null && ! python3 -c "import ensurepip" 2>/dev/null; then
  missing+=(python3-venv)
fi
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

step "bindings: the Python module (pip install ./bindings/python)"
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
venv="$target/python-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$py" -c "import pytest, numpy, mypy" 2>/dev/null; then
  "$py" -m pip install -q pytest numpy mypy
fi
# The user's command: pip fetches maturin as the build backend and makes
# one release build of the extension (its cargo output under the target
# directory, not in the source tree).
CARGO_TARGET_DIR="$target/python" "$py" -m pip install -q --force-reinstall --no-deps ./bindings/python
(cd /tmp && "$py" -c "import memlink, sys; print('memlink', memlink.__version__, 'for', sys.version.split()[0])")

step "bindings: the Python module's fmt and clippy"
# Not a workspace member (see bindings/python/Cargo.toml), so the workspace
# commands skip it; a check build, not a second compile of the extension.
cargo fmt --manifest-path bindings/python/Cargo.toml --check
PYO3_PYTHON="$py" CARGO_TARGET_DIR="$target/python" \
  cargo clippy --manifest-path bindings/python/Cargo.toml --all-targets -- -D warnings

step "bindings: the Python module's type stubs match it (stubtest)"
# From /tmp: the installed package, not a file of the source tree.
allowlist="$PWD/bindings/python/stubtest-allowlist.txt"
(cd /tmp && "$py" -m mypy.stubtest memlink --allowlist "$allowlist")

step "bindings: Python tests (pytest)"
log="$target/python-pytest.log"
(cd bindings/python && "$py" -m pytest -p no:cacheprovider -rs tests) | tee "$log"
if grep -Eq "[0-9]+ skipped" "$log"; then
  echo "pytest skipped tests: nothing may be skipped here"; exit 1
fi

step "bindings: C ABI tests, C++ / C# / Python / Rust processes"
MEMLINK_REQUIRE_BINDINGS=1 MEMLINK_PYTHON="$py" cargo test -p memlink-ffi

# ---- The C library installed like any other (issue 11) ---------------------
# `cargo cinstall` (cargo-c) into a temporary prefix, then the C and C++
# examples built out of tree against the installed copy, with pkg-config and
# with CMake (find_package(memlink) -> memlink::memlink), and run.
# cargo-c is installed once (pinned: 0.10.25+ needs rustc 1.97); nothing
# else is kept between runs.
step "bindings: install libmemlink with cargo-c, build the examples against it"
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# .ci/run starts building it in the background: wait for that build first.
if [ -f target/cargo-c-install.pid ] && ! command -v cargo-cinstall >/dev/null; then
  echo "waiting for the background build of cargo-c"
  while kill -0 "$(cat target/cargo-c-install.pid)" 2>/dev/null; do sleep 5; done
  cat target/cargo-c-install.status 2>/dev/null || true
  tail -n 3 target/cargo-c-install.log || true
fi
command -v cargo-cinstall >/dev/null || cargo install cargo-c --locked --version 0.10.24
install_tmp=$(mktemp -d)
prefix="$install_tmp/prefix"
cargo cinstall -p memlink-ffi --release --prefix "$prefix" --libdir "$prefix/lib"
ls -l "$prefix/lib" "$prefix/include" "$prefix/share/cmake/memlink" "$prefix/lib/pkgconfig"
soname=$(readelf -d "$prefix/lib/libmemlink.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
echo "SONAME: $soname"
case "$soname" in libmemlink.so.*) ;; *) echo "libmemlink.so has no versioned SONAME"; exit 1;; esac
test -e "$prefix/lib/$soname"
test -f "$prefix/lib/libmemlink.a"
run_name="mltest-xl-install-$$"
# pkg-config
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --modversion memlink
cc -std=c99 -Wall -Werror bindings/c/examples/hello.c $(pkg-config --cflags --libs memlink) \
  -Wl,-rpath,"$prefix/lib" -o "$install_tmp/hello-pc"
"$install_tmp/hello-pc" "$run_name-pc"
cc -std=c99 -Wall -Werror bindings/c/examples/tour.c $(pkg-config --cflags --libs memlink) \
  -Wl,-rpath,"$prefix/lib" -o "$install_tmp/tour-pc"
tour_out=$("$install_tmp/tour-pc" "$run_name-tour")
echo "$tour_out"
case "$tour_out" in *"tour: ok"*) ;; *) echo "the C tour did not finish"; exit 1;; esac
c++ -std=c++17 -Wall -Werror bindings/cpp/examples/server.cpp $(pkg-config --cflags --libs memlink) \
  -Wl,-rpath,"$prefix/lib" -o "$install_tmp/server-pc"
# CMake, for C (shared and static) and C++
cmake -S bindings/c/examples -B "$install_tmp/c" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$install_tmp/c" >/dev/null
"$install_tmp/c/hello" "$run_name-cmake"
"$install_tmp/c/hello_static" "$run_name-static"
"$install_tmp/c/tour" "$run_name-tour-cmake" | tail -n 1
if readelf -d "$install_tmp/c/hello_static" | grep -q libmemlink; then
  echo "hello_static links libmemlink dynamically"; exit 1
fi
cmake -S bindings/cpp/examples -B "$install_tmp/cpp" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$install_tmp/cpp" >/dev/null
# The C++ server and client, built by CMake, talk (1 client, 20 messages).
# The server's output comes through a pipe: the client starts once it said
# "server ready"; its last line must be "server done".
exec 3< <(timeout 60 "$install_tmp/cpp/server" "$run_name-cpp" 1 20)
while read -r line <&3; do echo "$line"; [ "$line" = "server ready" ] && break; done
timeout 60 "$install_tmp/cpp/client" "$run_name-cpp" cmake
server_out=$(cat <&3)
exec 3<&-
echo "$server_out"
case "$server_out" in *"server done: 1 clients, 20 messages each"*) ;; *) echo "the C++ server did not finish"; exit 1;; esac
rm -rf "$install_tmp"
echo "installed library: pkg-config and CMake builds work"
# ---- end of the install block ----------------------------------------------

step "bindings: leaks"
# Only this suite's names: the machine's /dev/shm is shared with other runs.
leftovers=$(find /dev/shm \( -name 'mltest-ffi-*' -o -name 'mltest-xl-*' -o -name 'mltest-py-*' \) 2>/dev/null || true)
if [ -n "$leftovers" ]; then
  echo "binding tests left shared memory behind:"; echo "$leftovers"; exit 1
fi
echo "no leftovers in /dev/shm"
echo "bindings: done in $(($(date +%s) - started)) s"
