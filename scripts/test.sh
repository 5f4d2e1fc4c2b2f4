#!/usr/bin/env bash
# The full test suite, from a fresh Debian 12 machine: installs dependencies, builds the `dev`
# and `asan` (ASan + UBSan) presets and runs every unit, integration and fuzz-corpus replay test
# against both builds. Exits non-zero on any failure. docs/testing.md explains the layers.
#
#   scripts/test.sh            everything CI runs (via .ci/run)
#   ATLS_SKIP_ASAN=1 ...       skip the sanitizer pass (quicker local iteration)
#   ATLS_FUZZ=<seconds> ...    also build the libFuzzer targets (clang) and fuzz each one for
#                              that long (scripts/fuzz-smoke.sh; not in CI: it is a third full
#                              build and CI's budget is 30 minutes on 2 cores)
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
  echo "=== build: $preset ($(date +%T))"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== test: $preset ($(date +%T))"
  ctest --preset "$preset" --output-on-failure
}

start=$(date +%s)
run_preset dev
if [ -z "${ATLS_SKIP_ASAN:-}" ]; then
  run_preset asan
fi
if [ -n "${ATLS_FUZZ:-}" ]; then
  echo "=== fuzz smoke"
  bash scripts/fuzz-smoke.sh "$ATLS_FUZZ"
fi
echo "test: all passed in $(( $(date +%s) - start ))s"
