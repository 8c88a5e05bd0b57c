#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# gallery_fixture.sh EXPECT CLEARWAY DEPS DIR
# The gallery command line end to end: build a snapshot from a vector file, inspect it, search
# it with a vector (an exact row must come back first), enrol a face from a photo and find the
# same person again from that photo, and refuse bad files.
set -e
expect=$1 cw=$2 deps=$3 dir=$4
rm -rf "$dir"
mkdir -p "$dir"
# 300 pseudo-random 192-d vectors with ids 1000..1299 (awk's srand is deterministic here).
awk 'BEGIN { srand(7); for (i = 0; i < 300; i++) { printf "%d", 1000 + i;
     for (j = 0; j < 192; j++) printf " %.6f", rand() - 0.5; printf "\n" } }' >"$dir/vectors.txt"
"$expect" 0 "^built .*g.snap: 300 templates" "building" -- \
    "$cw" gallery build --vectors "$dir/vectors.txt" --out "$dir/g.snap"
"$expect" 0 "300 templates of dimension 192" -- "$cw" gallery info "$dir/g.snap"
row=$(sed -n 42p "$dir/vectors.txt" | cut -d' ' -f2- | tr ' ' ',')
"$expect" 0 "^ 1  id 1041 +score 1\.0000" "^decision MATCH id 1041" -- \
    "$cw" gallery search "$dir/g.snap" --vector "$row" --k 1
# A face photo enrolled, then searched: the same person is the match.
CLEARWAY_DEPS=$deps "$expect" 0 "^added 77: 301 templates" -- \
    "$cw" gallery add "$dir/g.snap" --id 77 --image "$deps/npm/face-api/demo/sample3.jpg"
CLEARWAY_DEPS=$deps "$expect" 0 "\"decision\":\"MATCH\"" "\"id\":77" -- \
    "$cw" gallery search "$dir/g.snap" --image "$deps/npm/face-api/demo/sample3.jpg" --json
# Face-only 1:N refused beyond a policy's largest N.
CLEARWAY_DEPS=$deps "$expect" 0 "^decision REQUIRES_SECOND_FACTOR" -- \
    "$cw" gallery search "$dir/g.snap" --image "$deps/npm/face-api/demo/sample3.jpg" --max-n 100
# Bad input: a wrong dimension, a malformed line, a damaged snapshot.
"$expect" 1 "the probe has 3 values, the gallery 192" -- \
    "$cw" gallery search "$dir/g.snap" --vector 1,2,3
printf '5 0.1 0.2 oops\n' >"$dir/bad.txt"
"$expect" 1 "bad.txt:1: expected" -- "$cw" gallery build --vectors "$dir/bad.txt" --out "$dir/b.snap"
printf 'CWGALLRYgarbage' >"$dir/broken.snap"
"$expect" 1 "too short|malformed" -- "$cw" gallery info "$dir/broken.snap"
"$expect" 2 "needs exactly one of --image and --vector" -- "$cw" gallery search "$dir/g.snap"
