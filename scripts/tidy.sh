#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over every project source file, two at a time, with the dev
# build's compile database. Exits non-zero on any finding.
#   scripts/tidy.sh [path-regex]     e.g. scripts/tidy.sh 'src/ops/'
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-'/(src|tests/unit)/'}
[ -f build/dev/compile_commands.json ] || { cmake --preset dev >/dev/null; }
files=$(/usr/bin/python3 -c '
import json, re, sys
for entry in json.load(open("build/dev/compile_commands.json")):
    if re.search(sys.argv[1], entry["file"]):
        print(entry["file"])' "$filter" | sort -u)
echo "$files" | xargs -P 2 -n 1 clang-tidy -p build/dev --quiet --extra-arg=-Wno-unknown-warning-option 2>&1 |
  grep -v "warnings generated\|Suppressed\|Use -header-filter\|^$" | tee /tmp/atls-tidy.log
! grep -q "error:\|warning:" /tmp/atls-tidy.log
