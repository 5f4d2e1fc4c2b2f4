#!/usr/bin/env bash
# The full test suite, from a fresh Debian 12 machine: installs dependencies, builds the `dev`
# and `asan` (ASan + UBSan) presets, runs every unit and integration test against both builds,
# then builds the libFuzzer targets and runs each briefly. Exits non-zero on any failure.
#
#   scripts/test.sh            everything (what CI runs, via .ci/run)
#   ATLS_SKIP_ASAN=1 ...       skip the sanitizer pass (quicker local iteration)
#   ATLS_SKIP_FUZZ=1 ...       skip the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if [ -d ../shared/testdata ] || [ -n "${ATLS_TESTDATA_DIR:-}" ]; then
  echo "test: shared test data: ${ATLS_TESTDATA_DIR:-$(cd ../shared/testdata && pwd)}"
else
  echo "test: WARNING: ../shared/testdata not found; tests on real evidence will be skipped"
fi

run_preset() {
  local preset=$1
  echo "=== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== test: $preset"
  ctest --preset "$preset" --output-on-failure
}

start=$(date +%s)
run_preset dev
if [ -z "${ATLS_SKIP_ASAN:-}" ]; then
  run_preset asan
fi
if [ -z "${ATLS_SKIP_FUZZ:-}" ]; then
  echo "=== fuzz smoke"
  bash scripts/fuzz-smoke.sh 15
fi
echo "test: all passed in $(( $(date +%s) - start ))s"
