#!/usr/bin/env bash
# The article's two programs as two processes under Wine: the C++ server
# (1 client, 20 messages) and the C++ client, which starts once the server
# said "server ready". On failure both programs' whole output is printed.
# Run by .ci/windows.sh inside its Wine prefix: usage pair.sh BIN_DIR NAME
set -euo pipefail
bin=$1 name=$2
crlf() { tr -d '\r'; }
fail() {
  echo "pair: FAILED: $*" >&2
  echo "--- server output ---" >&2
  printf '%s\n' "$server_out" >&2
  echo "--- client output ---" >&2
  printf '%s\n' "$client_out" >&2
  exit 1
}
server_out="" client_out=""
# (No pipe after the server inside <(...): with one, under Wine 8 the
# client then found none of the server's objects; \r is stripped here.)
exec 3< <(cd "$bin" && timeout 120 wine server.exe "$name" 1 20 </dev/null 2>&1; echo "server exit: $?")
while read -r line <&3; do
  line=${line%$'\r'}
  server_out+="$line"$'\n'
  [ "$line" = "server ready" ] && break
done
[ "$line" = "server ready" ] || fail "the server never said 'server ready'"
client_out=$(cd "$bin" && timeout 120 wine client.exe "$name" wine </dev/null 2>&1 | crlf) || true
server_out+=$(crlf <&3)
exec 3<&-
[[ $client_out == *"client wine: 20 messages; mapping says 'hello from the C++ server'"* ]] ||
  fail "the client did not get the 20 messages and the greeting"
[[ $server_out == *"server done: 1 clients, 20 messages each"* ]] ||
  fail "the server did not finish"
printf '%s\n' "$client_out" "$server_out"
