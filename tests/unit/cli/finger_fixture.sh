#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# finger_fixture.sh EXPECT CLEARWAY DIR
# The fingerprint commands end to end on synthetic prints made in DIR (no outside data):
# synth, extract to an ISO record, compare images and templates (same finger matches, another
# finger does not), show, eval finger on a small FVC-style folder, and bad input.
set -e
expect=$1 cw=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir/set"
for f in 101 102 103; do
    for i in 1 2 3; do
        "$cw" finger synth "$f" "$i" -o "$dir/set/${f}_$i.png" >/dev/null
    done
done
"$expect" 0 "^minutiae [1-9][0-9]*$" "^quality [0-9]+$" "^verdict good$" -- \
    "$cw" finger extract "$dir/set/101_1.png" -o "$dir/a.iso"
head -c 8 "$dir/a.iso" | od -c | grep -q "F   M   R  \\\\0       2   0  \\\\0"
"$expect" 0 '"minutiae":[1-9][0-9]*,"quality":[0-9]+,"verdict":"good"' -- \
    "$cw" finger extract "$dir/set/102_1.png" --json
# Same finger: images, and the ISO record against an image.
"$expect" 0 "^score 0\.[0-9]+ threshold 0\.0[0-9]+ decision match$" -- \
    "$cw" finger compare "$dir/set/101_1.png" "$dir/set/101_2.png"
"$expect" 0 "decision match$" -- "$cw" finger compare "$dir/a.iso" "$dir/set/101_3.png" --fmr 1e-5
# Different fingers.
"$expect" 0 "decision no match$" -- \
    "$cw" finger compare "$dir/a.iso" "$dir/set/103_1.png" --fmr 1e-5
"$expect" 0 "^wrote .*show.png \([0-9]+ minutiae\)$" -- \
    "$cw" finger show "$dir/set/101_1.png" -o "$dir/show.png"
"$expect" 0 "^images +9 \(0 failed" "^pairs +9 genuine, 3 FVC impostor, 27 extended" \
    "^EER \(FVC\) +[0-9.]+%" "^FNMR@FMR=1e-3" "extracting" \
    "^FTA +0\.00% \(0 of 9 images" "^with 95% intervals \(bootstrap over 3 fingers" \
    "^EER +[0-9.]+% \[[0-9.]+, [0-9.]+\] at threshold" "^FNMR@FMR=1e-2 +not resolved: 27 impostor" -- \
    "$cw" eval finger "$dir/set" --det "$dir/det.svg" --hist "$dir/hist.svg" \
    --scores "$dir/set.scores" --threads 2 --replicates 50
# The DET has both impostor sets, the histogram both distributions.
[ "$(grep -c '<polyline class="det"' "$dir/det.svg")" -eq 2 ]
grep -q "FVC impostors (9 genuine, 3 impostor)" "$dir/det.svg"
[ "$(grep -c '<polyline class="hist"' "$dir/hist.svg")" -eq 2 ]
# The score file: fingers as subjects, every pair; `eval scores` reads it back.
head -n 1 "$dir/set.scores" | grep -q '^clearway-scores 1$'
grep -q '^modality	finger$' "$dir/set.scores"
grep -q '^subject	2	103$' "$dir/set.scores"
[ "$(grep -c '^g	' "$dir/set.scores")" -eq 9 ]
[ "$(grep -c '^i	' "$dir/set.scores")" -eq 27 ]
"$expect" 0 "^system +Clearway MCC matcher v1 \(finger\)" "^pairs +9 genuine, 27 impostor, 3 subjects" \
    -- "$cw" eval scores "$dir/set.scores" --replicates 0
"$expect" 0 '"fta":0,"fta_rate":0\.0+,"verification":\{"genuine":9,"impostor":27,' -- \
    "$cw" eval finger "$dir/set" --json --replicates 0 --threads 2
# Bad input: a corrupt ISO record, a truncated TIFF, a non-image.
{ printf 'FMR\000 20\000\000\000\000\377'; head -c 40 /dev/zero; } >"$dir/bad.iso"
"$expect" 1 "bad.iso.*iso: record length" -- "$cw" finger compare "$dir/bad.iso" "$dir/a.iso"
printf 'II*\0\10\0\0\0\1\0' >"$dir/bad.tif"
"$expect" 1 "cannot read image .*bad.tif': tiff: directory" -- "$cw" finger extract "$dir/bad.tif"
"$expect" 1 "cannot read image" -- "$cw" finger extract "$0"
