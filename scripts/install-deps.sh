#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of atls-proxy from Debian 12 packages.
# Idempotent: packages already present are skipped by apt. Works as root or through sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git
  clang clang-format clang-tidy libclang-rt-14-dev lld
  # libraries (Boost 1.81: plain libboost-dev is 1.74, too old for the Asio/Beast we use)
  libboost1.81-dev libssl-dev libnghttp2-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev libtss2-dev
  libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev liburing-dev
  # real peers and tools used by the tests, the demo and the benchmarks
  openssl curl python3 python3-pytest ca-certificates procps
  nghttp2-client nghttp2-proxy haproxy wrk nginx-light
  # promtool validates the /metrics exposition in the tests
  prometheus
  # database mode: a real PostgreSQL 15 (tests, benchmarks) and stunnel4 (benchmark baseline)
  postgresql postgresql-client stunnel4
  # token service: an independent JOSE implementation checks our JWTs, JWKs and DPoP proofs
  python3-jwcrypto
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Packages that ship a daemon start it on install where systemd runs. The tests start their
# own instances on loopback ephemeral ports; a system-wide daemon listening on the network is
# not wanted, so the ones installed just now are stopped and disabled (never pre-existing ones).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  for p in "${missing[@]}"; do
    case "$p" in
      prometheus) service=prometheus ;;
      nginx-light) service=nginx ;;
      haproxy) service=haproxy ;;
      postgresql) service=postgresql ;;
      *) continue ;;
    esac
    "${sudo_cmd[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  done
fi
