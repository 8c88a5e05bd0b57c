#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The population-scale study of docs/scale.md, end to end, from the development data:
#   1. eval face on lfw-dev (all pairs as a score file, the template dump), eval finger on
#      FVC2002 DB1_B and DB4_B (score files);
#   2. eval scores: the DET of every system on one chart, the histograms;
#   3. sim population: each mode's FPIR and FNIR for N = 1e3 .. 1e8, the largest-N table, the
#      recommended policies (policy.json, the source of cw_clearance_policy_default);
#   4. sim direct: the faces among synthetic distractors at 10k, 100k, 1M and 10M (about 10 GiB
#      of RAM and a few minutes; SIZES=10k,100k to skip the large ones).
# Usage: tools/scale/run.sh [OUT]  (OUT default build/scale; the data from $CLEARWAY_DATA,
# default ../shared/data). Needs the release build (make build). About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/scale}
data=${CLEARWAY_DATA:-../shared/data}
sizes=${SIZES:-10k,100k,1M,10M}
cw=build/release/src/cli/clearway
step() { printf '\n==== %s ====\n' "$*" >&2; }

[ -x "$cw" ] || { echo "run.sh: $cw is missing: run make build first" >&2; exit 1; }
for d in "$data/faces/lfw-dev" "$data/fingerprints/fvc2002/DB1_B" \
    "$data/fingerprints/fvc2002/DB4_B"; do
    [ -d "$d" ] || { echo "run.sh: $d is missing (set CLEARWAY_DATA)" >&2; exit 1; }
done
mkdir -p "$out"

step "1. eval face (lfw-dev) and eval finger (FVC2002 DB1_B, DB4_B)"
"$cw" eval face --root "$data/faces/lfw-dev" --pairs "$data/faces/lfw-dev-pairs.tsv" \
    --scores "$out/face.scores" --dump "$out/face-dump.tsv" --hist "$out/face-hist.svg" --log \
    --json > "$out/face.json"
for db in DB1_B DB4_B; do
    "$cw" eval finger "$data/fingerprints/fvc2002/$db" --scores "$out/finger-$db.scores" \
        --hist "$out/finger-$db-hist.svg" --json > "$out/finger-$db.json"
done

step "2. eval scores: every system on one DET chart"
"$cw" eval scores "$out/face.scores" "$out/finger-DB1_B.scores" "$out/finger-DB4_B.scores" \
    --det "$out/det.svg" --png > "$out/scores.md"

step "3. sim population"
"$cw" sim population --face "$out/face.scores" --same-person docs/scale/lfw-dev-same-person.tsv \
    --finger "$out/finger-DB1_B.scores" --finger "$out/finger-DB4_B.scores" --check \
    --json "$out/population.json" --policy "$out/policy.json" > "$out/population.md"

step "4. sim direct ($sizes)"
"$cw" sim direct --dump "$out/face-dump.tsv" --sizes "$sizes" --json "$out/direct.json" \
    > "$out/direct.md"

step "done: $out/population.md, $out/direct.md, $out/det.svg, $out/policy.json"
