#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# scores_fixture.sh EXPECT CLEARWAY DIR
# `clearway eval scores` on score files generated here: a hand-computed one (known EER and
# thresholds), two Gaussian ones with search records drawn on one DET, and malformed files,
# which must be refused with the file name and line number.
set -e
expect=$1 cw=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"

# Known answers: at threshold 0.5 FNMR 0 and FMR 1/4; at 0.6 FNMR 1/2: EER (0 + 1/4) / 2.
printf 'clearway-scores 1\nsystem\thand made\nmodality\tface\nsamples\t8\nfta\t2\n' >"$dir/hand.scores"
printf 'g\t0.9\t0\t0\ng\t0.5\t1\t1\ni\t0.3\t0\t1\ni\t0.1\t0\t2\ni\t0.6\t1\t2\ni\t0.2\t2\t3\n' \
    >>"$dir/hand.scores"
"$expect" 0 "^system +hand made \(face\)" "^pairs +2 genuine, 4 impostor" \
    "^FTA +25\.00% \(2 of 8 samples\)" "^EER +12\.50% at threshold 0\.5000$" \
    "^FNMR@FMR=1e-2 +not resolved: 4 impostor pairs" -- "$cw" eval scores "$dir/hand.scores" \
    --replicates 0

# Gaussian sets: 200 subjects; genuine N(3, 1) or N(2, 1) in tenths, impostor N(0, 1); searches.
gen() { # gen FILE NAME MEAN SEED
    awk -v name="$2" -v mu="$3" -v seed="$4" 'function n() {
            return sqrt(-2 * log(1 - rand())) * cos(6.283185307 * rand()) }
        BEGIN { srand(seed); print "clearway-scores 1"; print "system\t" name;
            print "modality\tface"; print "samples\t600"; print "fta\t3";
            for (a = 0; a < 200; a++) {
                print "subject\t" a "\tP" a
                for (k = 0; k < 3; k++) printf "g\t%.6f\t%d\t%d\n", (mu + n()) / 10, a, a
                for (k = 0; k < 100; k++) printf "i\t%.6f\t%d\t%d\n", n() / 10, a, (a + 1 + k) % 200
                m = mu + n(); o = n() + 1.5
                if (a < 100) printf "s\t%d\t1\t%d\t%.6f\t%.6f\n", a, (m > o ? 1 : 2), m / 10, o / 10
                else printf "s\t%d\t0\t0\tnan\t%.6f\n", a, o / 10
            } }' >"$1"
}
gen "$dir/a.scores" "system A" 3 1
gen "$dir/b.scores" "system B" 2 2
"$expect" 0 "^file +.*a\.scores" "^file +.*b\.scores" "^pairs +600 genuine, 20000 impostor, 200 subjects" \
    "^EER +[0-9.]+% \[[0-9.]+, [0-9.]+\] at threshold" \
    "^FNMR@FMR=1e-3 +[0-9.]+% \[[0-9.]+, [0-9.]+\] \(threshold" \
    "^FNMR@FMR=1e-4 +[0-9.]+% " "^rank-1 +[0-9.]+% \[[0-9.]+, [0-9.]+\] \(100 mated searches\)" \
    "^FNIR@FPIR=1e-2 +[0-9.]+% \[[0-9.]+, [0-9.]+\] \(threshold .*100 non-mated searches\)" \
    "^FNIR@FPIR=1e-3 +not resolved" "^intervals +95% intervals from 50 bootstrap" \
    -- "$cw" eval scores "$dir/a.scores" "$dir/b.scores" --det "$dir/det.svg" \
    --hist "$dir/hist.svg" --replicates 50 --threads 2
# One DET curve per file, both named in the legend; the histogram has both distributions.
[ "$(grep -c '<polyline class="det"' "$dir/det.svg")" -eq 2 ]
grep -q '>system A (600 genuine, 20000 impostor)<' "$dir/det.svg"
grep -q '>system B (600 genuine, 20000 impostor)<' "$dir/det.svg"
[ "$(grep -c '<polyline class="hist"' "$dir/hist.svg")" -eq 2 ]
# One system twice (one matcher on two sensors): the legend names each by its file.
cp "$dir/a.scores" "$dir/a2.scores"
"$cw" eval scores "$dir/a.scores" "$dir/a2.scores" --det "$dir/det2.svg" --replicates 0 >/dev/null
grep -q '>system A (a.scores) (600 genuine, 20000 impostor)<' "$dir/det2.svg"
grep -q '>system A (a2.scores) (600 genuine, 20000 impostor)<' "$dir/det2.svg"
head -c 4 "$dir/det.svg" | grep -q '^<svg'
tail -n 1 "$dir/det.svg" | grep -q '^</svg>$'
# JSON: the same figures, NaN as null.
"$expect" 0 '"files":\[\{"file":' '"eer":\{"value":0\.125,' '"fnmr_at_fmr_1e-2":\{"value":null' \
    -- "$cw" eval scores "$dir/hand.scores" --replicates 0 --json
# PNG: converted when rsvg-convert is installed, a note otherwise; never a failure.
"$expect" 0 "^EER" -- "$cw" eval scores "$dir/a.scores" --det "$dir/det1.svg" --png --replicates 0
if command -v rsvg-convert >/dev/null; then [ -s "$dir/det1.png" ]; fi

# Malformed files: exit 1, the file and the line named.
printf 'clearway-scores 1\ng\t0.5\t0\t0\ni\tzero\t0\t1\n' >"$dir/bad.scores"
"$expect" 1 "bad\.scores: line 3: expected 'i<TAB>SCORE<TAB>A<TAB>B'" -- \
    "$cw" eval scores "$dir/bad.scores"
printf 'score,label\n0.5,1\n' >"$dir/csv.scores"
"$expect" 1 "csv\.scores: line 1: not a score file" -- "$cw" eval scores "$dir/csv.scores"
"$expect" 1 "no-such\.scores: cannot open" -- "$cw" eval scores "$dir/no-such.scores"
printf 'clearway-scores 1\ng\t0.5\t0\t0\n' >"$dir/nogen.scores"
"$expect" 1 "needs genuine and impostor scores" -- "$cw" eval scores "$dir/nogen.scores"
