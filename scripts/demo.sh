#!/usr/bin/env bash
# The main job end to end on one machine, on loopback: a target HTTP service, an atls-proxy
# proxy-server in front of it attesting as an Intel TDX guest, an atls-proxy proxy-client that
# verifies that attestation against a measurement policy, and curl talking through the pair.
# There is no TEE hardware here, so the server's evidence comes from the INSECURE mock TEE
# (`mock-tee init`): real TDX quote format and signatures under a test PKI made now, verified by
# the real TDX verifier trusting only that PKI. Installs dependencies and builds the release
# preset first. Everything stops at the end.
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

echo "== 2. mock TEE (INSECURE test PKI, generated now) and the workload's measurements"
"$BIN" mock-tee init "$work/tee" 2>/dev/null
mrtd=$(printf 'a5%.0s' $(seq 1 48))
echo "{\"mrtd\": \"$mrtd\"}" >"$work/tee/tdx-measurements.json"
cat >"$work/policy.json" <<POLICY
[{"measurement_id": "demo-workload", "attestation_type": "dcap-tdx",
  "measurements": {"mrtd": {"expected": "$mrtd"}}}]
POLICY
echo "   policy: accept dcap-tdx with MRTD ${mrtd:0:16}..."

echo "== 3. proxy-server: attested TLS (mock TDX) in front of the target"
"$BIN" server "127.0.0.1:$target_port" --listen-addr 127.0.0.1:0 \
  --server-attestation-type dcap-tdx --insecure-mock-tee "$work/tee" \
  --allowed-remote-attestation-type none \
  --admin-listen-addr 127.0.0.1:0 --audit-log "$work/audit.json" \
  >"$work/server.log" 2>&1 &
pids+=($!)
server_port=$(port_of "$work/server.log" proxy-server)
admin_port=$(grep -m1 "admin endpoints" "$work/server.log" | sed -E 's/.*:([0-9]+)$/\1/')
echo "   proxy-server on 127.0.0.1:$server_port, admin on 127.0.0.1:$admin_port"

echo "== 4. proxy-client: local plain HTTP, one attested channel, verified against the policy"
"$BIN" --insecure-trust-mock-tee "$work/tee" client "127.0.0.1:$server_port" \
  --listen-addr 127.0.0.1:0 --client-attestation-type none --allow-self-signed \
  --measurements-file "$work/policy.json" >"$work/client.log" 2>&1 &
pids+=($!)
client_port=$(port_of "$work/client.log" proxy-client)
echo "   proxy-client on 127.0.0.1:$client_port"

echo "== 5. curl through the pair: the response carries the server's verified attestation"
curl -sS -i "http://127.0.0.1:$client_port/measurement" | grep -i -E "^(HTTP|x-flashbots)"
echo
echo "== 6. a spoofed attestation header from the client never reaches the target"
curl -sS -H 'X-Flashbots-Measurement: {"0":"forged"}' "http://127.0.0.1:$client_port/headers" |
  /usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin)["headers"]; print("   target saw:", {k: v for k, v in h.items() if k.startswith("x-")})'
echo "== 7. a client whose policy expects another workload refuses the server (exit 4)"
echo '[{"attestation_type": "dcap-tdx", "measurements": {"mrtd": {"expected": "'"$(printf '00%.0s' $(seq 1 48))"'"}}}]' >"$work/other.json"
set +e
"$BIN" --insecure-trust-mock-tee "$work/tee" attested-get "127.0.0.1:$server_port" \
  --allow-self-signed --measurements-file "$work/other.json" >/dev/null 2>"$work/refused.log"
code=$?
set -e
[ "$code" -eq 4 ] || { echo "demo: expected exit 4, got $code" >&2; cat "$work/refused.log" >&2; exit 1; }
echo "   exit $code: $(grep -o 'ratls\.[a-z_]*' "$work/refused.log" | head -1)"
echo "== 8. metrics and the tamper-evident audit log"
curl -sS "http://127.0.0.1:$admin_port/metrics" | grep -E "^atls_(attestation_verifications|backend_requests|channels_active)"
kill -TERM "${pids[1]}" "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true; wait "${pids[1]}" 2>/dev/null || true
"$BIN" audit verify "$work/audit.json"
echo "== logs"
sed 's/^/   server: /' "$work/server.log"
sed 's/^/   client: /' "$work/client.log"
echo "demo: OK"
