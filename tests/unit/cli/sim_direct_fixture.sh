#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# sim_direct_fixture.sh EXPECT CLEARWAY DIR [DEPS]
# Writes a synthetic template dump in DIR (400 "people" as clustered random vectors, d = 64, 1-4
# photos each, some photos without a face), then checks `clearway sim direct` on it at two
# small gallery sizes: the report's tables, that the mated counts add up to the mated probes,
# that the FPIR at the smallest size's threshold does not fall as the gallery grows, the JSON
# and the score file; that a malformed dump is refused with its line number; and, given the
# set-up's DEPS, that a missing dump is made from photos.
set -e
expect=$1 cw=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"
awk 'BEGIN {
    srand(7); d = 64; pi = 3.14159265358979
    print "# name\tnumber\tfound\tx0 y0 x1 y1 score\tlandmarks (x y) x5\tdim v..."
    for (p = 0; p < 400; p++) {
        for (k = 0; k < d; k++) {
            c[k] = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
        }
        n = 1 + int(rand() * 4)
        for (i = 1; i <= n; i++) {
            found = (p * 7 + i) % 23 != 0
            line = sprintf("Person_%03d\t%d\t%d\t1 2 3 4 0.99\t1 1 2 2 3 3 4 4 5 5\t%d", p, i,
                           found, found ? d : 0)
            for (k = 0; found && k < d; k++) {
                z = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
                line = line sprintf(" %.5f", c[k] + 0.8 * z)
            }
            print line
        }
    }
}' >"$dir/dump.tsv"

out="$dir/out.md"
"$expect" 0 "^### Distractor model check" "^\| real \| " "^\| gaussian" "^\| N \| threshold" \
    "^\| 1000 \| " "^\| 5000 \| " "building: 5000/5000 rows" -- \
    "$cw" sim direct --dump "$dir/dump.tsv" --sizes 1k,5k --calibration enrolled \
    --target-fpir 0.3 --json "$dir/out.json" --scores "$dir/scores.tsv"
"$cw" sim direct --dump "$dir/dump.tsv" --sizes 1k,5k --calibration enrolled \
    --target-fpir 0.3 --model gaussian >"$out" 2>/dev/null
# The mated outcomes add up to the mated probes, at each size.
mated=$(sed -n 's/.*; mated probes \([0-9]*\) .*/\1/p' "$out")
[ -n "$mated" ] && [ "$mated" -gt 100 ]
awk -F'|' -v mated="$mated" 'NF > 15 && $2 ~ /^ (1000|5000) $/ {
    split($5, c, " / "); if (c[1] + c[2] + c[3] + c[4] != mated) { print "bad counts: " $0; exit 1 }
    rows++
} END { if (rows != 2) { print "expected 2 size rows"; exit 1 } }' "$out"
# FPIR at the fixed threshold does not fall as N grows, and rises from 1k to 5k here.
awk -F'|' 'NF > 15 && $2 ~ /^ (1000|5000) $/ { f[++n] = $12 + 0 }
    END { if (n != 2 || f[2] < f[1] || f[2] == 0) { print "fixed-threshold FPIR " f[1] " -> " f[2]; exit 1 } }' "$out"
# JSON and scores: one best score per non-mated probe per size.
grep -q '"model_used": "' "$dir/out.json"
nonmated=$(sed -n 's/.*non-mated probes \([0-9]*\) .*/\1/p' "$out")
[ "$(grep -c '^5000	nonmated_best	' "$dir/scores.tsv")" -eq "$nonmated" ]
[ "$(grep -c '	mated_mate	' "$dir/scores.tsv")" -eq "$mated" ]

# Wrong input: a short template on line 5, a size below the enrolled count, more memory than
# the machine has, a missing dump, a dimension the built-in calibration does not fit.
head -4 "$dir/dump.tsv" >"$dir/bad.tsv"
printf 'Bad_Person\t1\t1\t1 2 3 4 0.9\t1 1 2 2 3 3 4 4 5 5\t64 0.1 0.2\n' >>"$dir/bad.tsv"
"$expect" 1 "bad.tsv:5: template value 3 of 64 is missing" -- \
    "$cw" sim direct --dump "$dir/bad.tsv" --sizes 1k
"$expect" 1 "at least the [0-9]+ enrolled people" -- \
    "$cw" sim direct --dump "$dir/dump.tsv" --sizes 10 --calibration enrolled
"$expect" 1 "not enough memory: a gallery of 1000000000 rows at d = 64 needs about [0-9]+ bytes" -- \
    "$cw" sim direct --dump "$dir/dump.tsv" --sizes 1k,1000M --calibration enrolled
"$expect" 1 "no dump at .*none.tsv and no photos at .*no-such-dir" -- \
    "$cw" sim direct --dump "$dir/none.tsv" --root "$dir/no-such-dir"
"$expect" 1 "has 64 dimensions|templates have 64 dimensions" -- \
    "$cw" sim direct --dump "$dir/dump.tsv" --sizes 1k

# Without a dump, the photos under --root are embedded (by `clearway eval face`) and the dump
# written for next time: two people of the sample photos (one with two, the least `eval face`
# accepts), too few for the experiment itself.
if [ -n "$4" ]; then
    deps=$4
    mkdir -p "$dir/root/Ann_A" "$dir/root/Bob_B"
    cp "$deps/npm/face-api/demo/sample1.jpg" "$dir/root/Ann_A/Ann_A_0001.jpg"
    cp "$deps/npm/face-api/demo/sample1.jpg" "$dir/root/Ann_A/Ann_A_0002.jpg"
    cp "$deps/npm/face-api/demo/sample3.jpg" "$dir/root/Bob_B/Bob_B_0001.jpg"
    CLEARWAY_DEPS=$deps "$expect" 1 "no dump at .*made.tsv: embedding the photos" \
        "too few people" -- "$cw" sim direct --dump "$dir/made.tsv" --root "$dir/root"
    [ "$(grep -c '^[AB][a-z]*_[AB]	1	' "$dir/made.tsv")" -eq 2 ]
    # The second time the dump is read, not made.
    "$expect" 1 "too few people" -- "$cw" sim direct --dump "$dir/made.tsv" --root "$dir/none"
fi
