#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# expect.sh EXIT PATTERN... -- COMMAND ARGS...
# Runs COMMAND, then checks its exit status is EXIT and that each extended regular expression
# PATTERN matches some line of its combined stdout and stderr. Prints the output on failure.
want=$1
shift
n=0
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    n=$((n + 1))
    eval "pat_$n=\$1"
    shift
done
[ "$1" = "--" ] || { echo "expect.sh: missing -- before the command" >&2; exit 2; }
shift
out=$("$@" 2>&1)
got=$?
fail=0
if [ "$got" -ne "$want" ]; then
    echo "expected exit status $want, got $got" >&2
    fail=1
fi
i=1
while [ "$i" -le "$n" ]; do
    eval "pat=\$pat_$i"
    if ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
        echo "no line matches: $pat" >&2
        fail=1
    fi
    i=$((i + 1))
done
if [ "$fail" -ne 0 ]; then
    printf -- '--- output of %s ---\n%s\n' "$*" "$out" >&2
fi
exit "$fail"
