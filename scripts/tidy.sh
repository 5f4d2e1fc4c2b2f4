#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over every project source file, two at a time. The presets
# build in unity mode, whose compile database names the generated unity files instead of the
# sources, so this configures (without building) a per-file compile database in build/tidy.
# Exits non-zero on any finding.
#   scripts/tidy.sh [path-regex]     e.g. scripts/tidy.sh 'src/ops/'
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-'/(src|tests/unit)/'}
cmake --preset dev -B build/tidy -DCMAKE_UNITY_BUILD=OFF >/dev/null
files=$(/usr/bin/python3 -c '
import json, re, sys
for entry in json.load(open("build/tidy/compile_commands.json")):
    if re.search(sys.argv[1], entry["file"]):
        print(entry["file"])' "$filter" | sort -u)
echo "$files" | xargs -P 2 -n 1 clang-tidy -p build/tidy --quiet --extra-arg=-Wno-unknown-warning-option 2>&1 |
  { grep -v "warnings generated\|Suppressed\|Use -header-filter\|^$" || true; } | tee /tmp/atls-tidy.log
! grep -q "error:\|warning:" /tmp/atls-tidy.log
