#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# sim_population_fixture.sh EXPECT CLEARWAY DIR
# `clearway sim population` end to end on score files generated in DIR (Gaussian scores, no
# outside data): the tables, the largest-N table, JSON and policy output with the inputs'
# hashes, and clear failures on missing, malformed and too-small files.
set -e
expect=$1 cw=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"
# scores FILE MODALITY SEED N_GEN GEN_MEAN GEN_SD N_IMP IMP_SD: a "clearway-scores 1" file.
scores() {
    awk -v seed="$3" -v ng="$4" -v gm="$5" -v gs="$6" -v ni="$7" -v is="$8" -v mod="$2" '
    function gauss(m, s) { return m + s * sqrt(-2 * log(1 - rand())) * cos(6.283185307 * rand()) }
    BEGIN {
        srand(seed)
        print "clearway-scores 1"; print "system\tsynthetic " mod; print "modality\t" mod
        for (k = 0; k < ng; k++) printf "g\t%.6f\t%d\t%d\n", gauss(gm, gs), k % 50, k % 50
        for (k = 0; k < ni; k++) printf "i\t%.6f\t%d\t%d\n", gauss(0, is), k % 50, (k + 1) % 50
    }' > "$1"
}
scores "$dir/face.scores" face 1 2000 0.52 0.01 100000 0.1
scores "$dir/finger.scores" finger 2 500 0.2 0.05 20000 0.01
"$expect" 0 "^\| face \| synthetic face \| 2000 \| 100000 \| 0.01 \|" \
    "^\| finger \| synthetic finger \| 500 \| 20000 \| 0.01 \|" \
    "^## Document-free, front target chosen per N" \
    "^\| 1,000 \| 0\.[0-9]+ \| 0.000333 \|" \
    "^\| face_1n \| closed_area, flight_token \| [0-9]{1,3}(,[0-9]{3})+ \| [0-9]{1,3}(,[0-9]{3})+ \|" \
    "^\| face_1to1 \| contactless, smart_departure \| any N \| any N \|" \
    "^\| document_free \| document_free \| " \
    "^\| 10,000 \| 0\.[0-9]+ \| 0.000333 \| [0-9.e-]+ \([0-9.e-]+ \.\. [0-9.e-]+\) \|" \
    "^direct simulation at N = 10000" \
    "^\| closed_area, flight_token \| 0.0003334 \| 1 \(face-only 1:N off\) \|" \
    "^\| document_free \| [0-9.e-]+ \(front, chosen at N = 1,000,000\) \| none \|" -- \
    "$cw" sim population --face "$dir/face.scores" --finger "$dir/finger.scores" --trials 20000 \
    --tail-fraction 0.01 --json "$dir/out.json" --policy "$dir/policy.json"
hash=$(b2sum -l 256 "$dir/face.scores" | cut -d' ' -f1)
grep -q "\"blake2b_256\": \"$hash\"" "$dir/out.json"
grep -q '"largest_n"' "$dir/out.json"
grep -q "\"blake2b_256\": \"$hash\"" "$dir/policy.json"
grep -Eq '"population_cap": [1-9]0*,' "$dir/policy.json"
grep -q '"document_free"' "$dir/policy.json"
# Without fingerprints there is no document-free table; --check simulates up to 1e8.
"$expect" 0 "^\| 100,000,000 \| 0\.[0-9]+ \| 0.000333 \| 0 \(0 \.\. " -- \
    "$cw" sim population --face "$dir/face.scores" --check --trials 1000
if "$cw" sim population --face "$dir/face.scores" --trials 1000 | grep -q "Document-free"; then
    exit 1
fi
# --same-person: subjects 0 and 1 named as one person; their 2,000 impostor pairs are dropped,
# and pooling a second file adds its scores.
{ sed -n 1,3p "$dir/face.scores"; printf 'subject\t0\tAnn_A\nsubject\t1\tAnn_B\n'
  sed -n '4,$p' "$dir/face.scores"; } > "$dir/named.scores"
printf '# one person, two names\nAnn_A\tAnn_B\n' > "$dir/same.tsv"
"$expect" 0 "^\| face \| synthetic face \| 2000 \| 98000 \(2000 one-person pairs dropped\) \|" -- \
    "$cw" sim population --face "$dir/named.scores" --same-person "$dir/same.tsv" --trials 1000 \
    --tail-fraction 0.01
"$expect" 0 "^\| face \| synthetic face \| 4000 \| 200000 \| 0.01 \|" -- \
    "$cw" sim population --face "$dir/face.scores" --face "$dir/face.scores" --trials 1000 \
    --tail-fraction 0.01
printf 'Ann_A Ann_B\n' > "$dir/bad_same.tsv"
"$expect" 1 "bad_same.tsv: line 1: expected NAME_A<TAB>NAME_B" -- \
    "$cw" sim population --face "$dir/named.scores" --same-person "$dir/bad_same.tsv"
# Failures: missing, malformed, the wrong modality, too few impostor scores to fit a tail.
"$expect" 1 "cannot read '.*no-such.scores'" -- "$cw" sim population --face "$dir/no-such.scores"
printf 'clearway-scores 1\ng\t0.5\t0\t0\ni\tabc\t0\t1\n' > "$dir/bad.scores"
"$expect" 1 "bad.scores': line 3: expected 'i<TAB>SCORE<TAB>A<TAB>B'" -- \
    "$cw" sim population --face "$dir/bad.scores"
printf 'clearway-scores 9\n' > "$dir/v9.scores"
"$expect" 1 "line 1: not a score file" -- "$cw" sim population --face "$dir/v9.scores"
"$expect" 1 "holds finger scores, not face" -- "$cw" sim population --face "$dir/finger.scores"
scores "$dir/small.scores" face 3 100 0.75 0.05 5000 0.1
"$expect" 1 "5000 impostor scores are too few .* it needs at least 100000" -- \
    "$cw" sim population --face "$dir/small.scores"
"$expect" 0 "^\| face_1to1 " -- "$cw" sim population --face "$dir/small.scores" \
    --tail-fraction 0.05 --trials 1000
