#!/usr/bin/env bash
# Builds build/pgo/src/atls-proxy with profile-guided optimisation (GCC -fprofile-generate, a
# training run, -fprofile-use). The training runs bench/http/run.py against the instrumented
# binary (both proxies, HTTP/2 and HTTP/1.1 inside the channel, all three workloads; nginx as
# the target), then bench/pg/run.py (pg-client and pg-server, pgbench select-only and
# TPC-B-like against a throwaway PostgreSQL), all on loopback; install-deps.sh installs the
# tools.
#
# Why: the request path is spread over many small functions (Asio, coroutines, nghttp2
# callbacks, header handling). With the profile GCC lays the hot ones out together and inlines
# along the hot paths; in same-run rounds this build did 0.93x nghttpx's rate on h1 keep-alive
# where the plain release build did 0.85x, and 0.83x where it did 0.78x on h2 multiplexed
# (docs/benchmarks.md, the 2026-12-01 14:23 table, epoll I/O backend). With io_uring it used
# 3-11% less proxy CPU per request than the plain release build (docs/benchmarks.md
# "Profile-guided build with io_uring"). Code the training does not reach (verification, the
# token service) is optimised as without a profile (-fprofile-partial-training).
#
# Two full release builds and the training: about 16 minutes on 2 vCPUs. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/pgo
profile="$PWD/$dir/profile"
release_flags="-O2 -DNDEBUG -g -fno-omit-frame-pointer"
# GCC 12 reports a false -Warray-bounds in libstdc++'s vector relocation once the profile
# changes inlining (seen in proxy/pg/wire.cpp); it stays a warning here, not an error.
use_flags="-fprofile-use -fprofile-partial-training -fprofile-dir=$profile -Wno-missing-profile"
use_flags+=" -Wno-error=array-bounds"

rm -rf "$profile"
cmake --preset release -B "$dir" -DATLS_BUILD_TESTS=OFF -DATLS_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_RELEASE="$release_flags -fprofile-generate -fprofile-update=prefer-atomic -fprofile-dir=$profile" \
  -DCMAKE_EXE_LINKER_FLAGS=-fprofile-generate
cmake --build "$dir" --target atls-proxy

echo "== training run (instrumented binary; its numbers mean nothing)"
/usr/bin/python3 bench/http/run.py --binary "$PWD/$dir/src/atls-proxy" --seconds 3 --rounds 1 \
  --only atls-h2,atls-h1 > "$dir/training.log"
# Database mode: pg-client and pg-server with pgbench against a throwaway PostgreSQL.
/usr/bin/python3 bench/pg/run.py --binary "$PWD/$dir/src/atls-proxy" --seconds 3 --rounds 1 \
  --only atls --workloads select-only,tpcb-like > "$dir/training-pg.log"
if ! find "$profile" -name '*.gcda' | grep -q .; then
  echo "build-pgo: the training run wrote no profile (see $dir/training.log)" >&2
  exit 1
fi

cmake "$dir" -DCMAKE_CXX_FLAGS_RELEASE="$release_flags $use_flags" -DCMAKE_EXE_LINKER_FLAGS=
cmake --build "$dir" --target atls-proxy
echo "build-pgo: $dir/src/atls-proxy"
