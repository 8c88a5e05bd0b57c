#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Format the project's C sources with clang-format (.clang-format at the top of the tree).
#   tools/format.sh          rewrite files in place
#   tools/format.sh --check  report violations and exit non-zero (what CI runs)
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' '*.cc' '*.cpp')
[ -n "$files" ] || exit 0
if [ "${1:-}" = "--check" ]; then
    # shellcheck disable=SC2086
    exec clang-format --dry-run -Werror $files
fi
# shellcheck disable=SC2086
exec clang-format -i $files
