#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# eval_fixture.sh EXPECT CLEARWAY DEPS DIR
# Lays out a tiny labelled set in DIR from the sample photos (two "people", each photo twice:
# the original and a copy, so genuine pairs exist) with a pairs file, then checks that
# `clearway eval face` enrols it and reports every figure.
set -e
expect=$1 cw=$2 deps=$3 dir=$4
rm -rf "$dir"
mkdir -p "$dir/root/Ann_A" "$dir/root/Bob_B"
cp "$deps/npm/face-api/demo/sample1.jpg" "$dir/root/Ann_A/Ann_A_0001.jpg"
cp "$deps/npm/face-api/demo/sample1.jpg" "$dir/root/Ann_A/Ann_A_0002.jpg"
cp "$deps/npm/face-api/demo/sample3.jpg" "$dir/root/Bob_B/Bob_B_0001.jpg"
cp "$deps/npm/face-api/demo/sample3.jpg" "$dir/root/Bob_B/Bob_B_0002.jpg"
printf '# label\tname_a\timage_a\tname_b\timage_b\n' >"$dir/pairs.tsv"
for i in 1 2 3 4 5 6 7 8 9 10; do
    printf 'same\tAnn_A\t1\tAnn_A\t2\nsame\tBob_B\t1\tBob_B\t2\ndiff\tAnn_A\t1\tBob_B\t2\n' \
        >>"$dir/pairs.tsv"
done
CLEARWAY_DEPS=$deps "$expect" 0 "^photos 4 \(2 people\), no face found in 0" \
    "^LFW 10-fold accuracy 100\.00%" "^all pairs: 2 genuine, 4 impostor" \
    "^1:N rank-1 100\.00% \(2 of 2 probes, gallery of 2\)" "enrolling" \
    "^with 95% intervals \(bootstrap over 2 people\)" "^EER +0\.00% \[0\.00, 0\.00\]" \
    "^FNMR@FMR=1e-3 +not resolved: 4 impostor pairs" \
    "^open-set 1:N: gallery of 1 \(one half of the people\), 1 mated and 2 non-mated probes" \
    "^rank-1 +100\.00% \[100\.00, 100\.00\] \(1 mated searches\)" \
    "^FNIR@FPIR=1e-2 +not resolved: 2 non-mated" \
    -- "$cw" eval face --root "$dir/root" --pairs "$dir/pairs.tsv" --min-face 60 \
    --subject largest --scores "$dir/scores.tsv" --dump "$dir/dump.tsv" --threads 2 \
    --det "$dir/det.svg" --hist "$dir/hist.svg" --replicates 20
# The score file: every pair with its people, the searches and the FTA count; the plots.
head -n 1 "$dir/scores.tsv" | grep -q '^clearway-scores 1$'
grep -q "^system	mobilefacenet v1, flip-averaged$" "$dir/scores.tsv"
grep -q "^subject	1	Bob_B$" "$dir/scores.tsv"
grep -q "^g	1.000000	0	0$" "$dir/scores.tsv"
[ "$(grep -c '^i	' "$dir/scores.tsv")" -eq 4 ]
[ "$(grep -c '^s	' "$dir/scores.tsv")" -eq 3 ]
grep -q "^fta	0$" "$dir/scores.tsv"
[ "$(grep -c '<polyline class="det"' "$dir/det.svg")" -eq 1 ]
[ "$(grep -c '<polyline class="hist"' "$dir/hist.svg")" -eq 2 ]
"$expect" 0 "^pairs +2 genuine, 4 impostor, 2 subjects" "^rank-1 +100\.00%" -- \
    "$cw" eval scores "$dir/scores.tsv" --replicates 0
# JSON: the old fields, the intervals, and the identification figures.
CLEARWAY_DEPS=$deps "$expect" 0 '"all_pairs":\{"genuine":2,"impostor":4,' \
    '"fnmr_at_fmr_1e-3":null' '"eer_ci":\[0\.0,0\.0\]' '"verification":\{"genuine":2,' \
    '"identification":\{"mated":1,"nonmated":2,' -- \
    "$cw" eval face --root "$dir/root" --pairs "$dir/pairs.tsv" --min-face 60 \
    --subject largest --threads 2 --json --replicates 10
# Without a pairs file there is no LFW protocol, and everything else is reported.
CLEARWAY_DEPS=$deps "$expect" 0 '"lfw":null' '"all_pairs":\{"genuine":2,"impostor":4,' -- \
    "$cw" eval face --root "$dir/root" --min-face 60 --subject largest --threads 2 --json \
    --replicates 0
# The dump: one line per photo with its subject and a 192-value template.
[ "$(grep -c '^Bob_B	[12]	1	.*	192 ' "$dir/dump.tsv")" -eq 2 ]
# A malformed pairs file is refused with the line number.
printf 'same\tAnn_A\tone\n' >"$dir/bad.tsv"
CLEARWAY_DEPS=$deps "$expect" 1 "bad.tsv:1: expected" -- \
    "$cw" eval face --root "$dir/root" --pairs "$dir/bad.tsv" --min-face 60
