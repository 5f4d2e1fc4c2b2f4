#!/usr/bin/env bash
# Builds every libFuzzer target (preset `fuzz`, clang) and runs each one for a short time on its
# seed corpus. A crash, leak, sanitizer report or round-trip violation fails the script.
#   scripts/fuzz-smoke.sh [seconds-per-target]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in build/fuzz/tests/fuzz/fuzz_*; do
  name=${target##*/fuzz_}
  corpus="$work/$name"
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
  echo "fuzz-smoke: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -print_final_stats=0 -artifact_prefix="$work/$name-" \
       "$corpus" >"$work/$name.log" 2>&1; then
    echo "fuzz-smoke: $name FAILED" >&2
    tail -40 "$work/$name.log" >&2
    status=1
  else
    grep -E "^#[0-9]+ +DONE" "$work/$name.log" || tail -1 "$work/$name.log"
  fi
done
exit $status
