#!/usr/bin/env bash
# Formats the C++ sources with .clang-format (clang-format 14, Debian 12).
#   scripts/format.sh           rewrite files in place
#   scripts/format.sh --check   list unformatted files and exit non-zero (ctest lint.format)
set -euo pipefail
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' \
                                        'bench/*.cpp' 'bench/*.h')
else
  mapfile -t files < <(find src tests bench -name '*.cpp' -o -name '*.h' | sort)
fi
if [ "${1:-}" = "--check" ]; then
  # One clang-format process for all files; its diagnostics name the files.
  if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
    echo "format: not clang-formatted (run scripts/format.sh):" >&2
    grep -o '^[^:]*:[0-9]*:[0-9]*: error' <<<"$out" | cut -d: -f1 | sort -u >&2
    exit 1
  fi
  echo "format: ${#files[@]} files clean"
else
  clang-format -i "${files[@]}"
fi
