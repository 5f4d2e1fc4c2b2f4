#!/usr/bin/env bash
# The main job end to end on one machine, on loopback: a target HTTP service, an atls-proxy
# proxy-server in front of it, an atls-proxy proxy-client, and curl talking through the pair.
# Installs dependencies and builds the release preset first. Everything stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target atls-proxy
BIN=$PWD/build/release/src/atls-proxy

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for "<what> listening on ADDR:PORT" in a log file and prints PORT.
port_of() {
  local log=$1 what=$2
  for _ in $(seq 1 100); do
    if grep -q "$what listening on" "$log" 2>/dev/null; then
      grep -m1 "$what listening on" "$log" | sed -E 's/.*listening on [^ ]*:([0-9]+).*/\1/'
      return 0
    fi
    sleep 0.1
  done
  echo "demo: $what did not start; its log:" >&2
  cat "$log" >&2
  exit 1
}

echo "== 1. target service (python) on an ephemeral loopback port"
/usr/bin/python3 tests/integration/backends/target.py >"$work/target.port" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/target.port" ] && break; sleep 0.1; done
target_port=$(head -1 "$work/target.port")
echo "   target on 127.0.0.1:$target_port"

echo "== 2. proxy-server: attested TLS in front of the target"
"$BIN" server "127.0.0.1:$target_port" --listen-addr 127.0.0.1:0 \
  --server-attestation-type none --allowed-remote-attestation-type none \
  >"$work/server.log" 2>&1 &
pids+=($!)
server_port=$(port_of "$work/server.log" proxy-server)
echo "   proxy-server on 127.0.0.1:$server_port"

echo "== 3. proxy-client: local plain HTTP, one attested channel to the server"
"$BIN" client "127.0.0.1:$server_port" --listen-addr 127.0.0.1:0 \
  --client-attestation-type none --allowed-remote-attestation-type none --allow-self-signed \
  >"$work/client.log" 2>&1 &
pids+=($!)
client_port=$(port_of "$work/client.log" proxy-client)
echo "   proxy-client on 127.0.0.1:$client_port"

echo "== 4. curl through the pair (response headers show the server's attestation)"
curl -sS -i "http://127.0.0.1:$client_port/measurement"
echo
echo "== 5. a spoofed attestation header from the client never reaches the target"
curl -sS -H 'X-Flashbots-Measurement: {"0":"forged"}' "http://127.0.0.1:$client_port/headers" |
  /usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin)["headers"]; print("   target saw:", {k: v for k, v in h.items() if k.startswith("x-")})'
echo "== 6. get-tls-cert: the server certificate, after verifying the attestation"
"$BIN" get-tls-cert "127.0.0.1:$server_port" --allow-self-signed \
  --allowed-remote-attestation-type none 2>/dev/null | head -3
echo "   ..."
echo "== logs"
sed 's/^/   server: /' "$work/server.log"
sed 's/^/   client: /' "$work/client.log"
echo "demo: OK"
