#!/usr/bin/env bash
# The CLI's create --hold / write / read flow under Wine, with the answers
# Windows must give: `create` without --hold points to --hold, a taken name
# "already exists", --file works with --hold, and `info` on another
# program's file-backed mapping does not claim "memory" or "0000".
# Run by .ci/windows.sh inside its Wine prefix: usage cli_flow.sh MEMLINK_EXE FILE_SERVER_EXE WORKDIR
set -euo pipefail
cli=$1 server=$2 work=$3
fail() {
  echo "cli flow: FAILED: $*" >&2
  exit 1
}
memlink() { wine "$cli" "$@"; }
# The Windows path of a Linux path (Wine's drive Z: is /).
winpath() { local p=$1; echo "Z:${p//\//\\}"; }
# expect_fail WORDS -- ARGS: memlink ARGS must fail and say WORDS.
expect_fail() {
  local words=$1
  shift
  local out
  if out=$(memlink "$@" </dev/null 2>&1); then
    fail "memlink $* succeeded: $out"
  fi
  [[ $out == *"$words"* ]] || fail "memlink $* did not say '$words': $out"
  echo "ok: memlink $* -> $(head -n1 <<<"$out")"
}
# A holder: `memlink create --hold ARGS` as a coprocess; waits (60 s at
# most) for its "created" line. End it with release.
hold() {
  coproc HOLDER { wine "$cli" create --hold "$@" 2>&1; }
  local line
  read -r -t 60 line <&"${HOLDER[0]}" || fail "create --hold $* printed nothing in 60 s"
  [[ $line == created* ]] || fail "create --hold $*: $line"
  echo "ok: create --hold $* -> $line"
}
release() {
  local pid=$HOLDER_PID
  exec {HOLDER[1]}>&-
  wait "$pid" || fail "the holder exited with status $?"
}

name="Local\\ml-ci-cli-$$"
expect_fail "--hold" create "$name" --size 4096
hold "$name" --size 4096
expect_fail "already exists" create "$name" --size 4096
expect_fail "already exists" create "$name" --size 4096 --hold
memlink write "$name" "hello from wine" </dev/null
got=$(memlink read "$name" --len 15 </dev/null)
[[ $got == "hello from wine" ]] || fail "read gave '$got'"
echo "ok: write then read -> $got"
release
expect_fail "does not exist" read "$name"

# File-backed, held: the bytes stay in the file after the name is gone.
file="$work/cli-file-$$.bin"
rm -f "$file"
expect_fail "--hold" create "$name" --size 8192 --file "$(winpath "$file")"
[ ! -e "$file" ] || fail "create without --hold made $file"
hold "$name" --size 8192 --file "$(winpath "$file")"
memlink write "$name" "kept in the file" </dev/null
info=$(memlink info "$name" </dev/null)
grep -q "^backing: *file " <<<"$info" || fail "info of a file-backed mapping: $info"
release
[[ $(head -c 16 "$file") == "kept in the file" ]] || fail "$file does not hold what was written"
[ "$(stat -c %s "$file")" = 8192 ] || fail "$file is not 8192 bytes"
echo "ok: create --hold --file, write; the file keeps the bytes"

# Another program's file-backed mapping: memlink cannot know its backing
# or mode from Windows, and must say so rather than "memory" / "0000".
foreign="Local\\ml-ci-foreign-$$"
coproc SERVER { wine "$server" "$foreign" "$(winpath "$file")" "from the file server" 2>&1; }
read -r -t 60 line <&"${SERVER[0]}" || fail "file_server printed nothing in 60 s"
[[ $line == ready* ]] || fail "file_server: $line"
info=$(memlink info "$foreign" </dev/null)
echo "$info"
grep -q "^backing: *unknown" <<<"$info" || fail "info says a false backing"
grep -q "^mode: *unknown" <<<"$info" || fail "info says a false mode"
got=$(memlink read "$foreign" --len 20 </dev/null)
[[ $got == "from the file server" ]] || fail "read of the foreign mapping gave '$got'"
server_pid=$SERVER_PID
exec {SERVER[1]}>&-
wait "$server_pid" || fail "file_server exited with status $?"
rm -f "$file"
echo "cli flow: ok"
