#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# report_fixture.sh EXPECT CLEARWAY SEED DIR
# `clearway passengers set` and `clearway report` end to end on a SQLite file: SEED writes real
# clearance rows through the store API (two local days, a transaction a second before local
# midnight, a port code that needs CSV quoting); the operator's totals are entered for some
# days only; the report is checked in text, CSV and JSON, for every port and for one, with the
# shares over departing passengers (Smart Departure, Flight Token) or all (the others).
set -e
expect=$1 cw=$2 seed=$3 dir=$4
rm -rf "$dir"
mkdir -p "$dir"
unset CLEARWAY_KEY
db=$dir/r.db
"$seed" "$db"
"$expect" 0 "^LMC 2026-01-01: 7 departing, 7 arriving$" -- \
    "$cw" passengers set --db "$db" --port LMC --day 2026-01-01 --departing 7 --arriving 7
# A second set of the day replaces the figures (the operator's correction).
"$expect" 0 "^LMC 2026-01-01: 1000 departing, 500 arriving$" -- \
    "$cw" passengers set --db "$db" --port LMC --day 2026-01-01 --departing 1000 --arriving 500
"$expect" 0 "^HKG 2026-01-01: 400 departing, 600 arriving$" -- \
    "$cw" passengers set --db "$db" --port HKG --day 2026-01-01 --departing 400 --arriving 600
"$expect" 1 "no port 'ZZZ'" -- \
    "$cw" passengers set --db "$db" --port ZZZ --day 2026-01-01 --departing 1 --arriving 1
"$expect" 0 "^audit log intact" -- "$cw" audit verify --db "$db"
range="--from 2026-01-01 --to 2026-01-02"

# Text: LMC's referral at 23:59:59 local counts on the 1st; no totals for the 2nd, no share.
"$expect" 0 "^Clearances 2026-01-01 to 2026-01-02, every port" \
    "^2026-01-01  HKG +smart_departure +3 +2 +1 +0 +0 +33.33% +departing +400 +0.50%$" \
    "^2026-01-01  HKG +flight_token +1 +1 +0 +0 +0 +0.00% +departing +400 +0.25%$" \
    "^2026-01-01  LMC +document_free +4 +3 +1 +0 +0 +25.00% +all +1500 +0.20%$" \
    "^2026-01-01  X,\"Y +contactless +1 +1 +0 +0 +0 +0.00% +all +- +-$" \
    "^2026-01-02  LMC +document_free +4 +1 +2 +0 +1 +66.67% +all +- +-$" \
    "^2026-01-01  HKG +400 +600$" "^2026-01-01  LMC +1000 +500$" \
    "^document_free +NO_MATCH +2$" "^document_free +AMBIGUOUS +1$" \
    "^smart_departure +CHIP_FACE_UNUSABLE +1$" -- \
    "$cw" report --db "$db" $range
# The check can fail: the 2nd's LMC row must not borrow the 1st's totals.
if "$cw" report --db "$db" $range | grep -Eq "^2026-01-02  LMC .* 1500 "; then
    echo "a day without totals got a share" >&2
    exit 1
fi

# CSV: one header, 16 columns on every line, the odd port code quoted.
"$cw" report --db "$db" $range --format csv >"$dir/r.csv"
"$expect" 0 \
    "^kind,day,port,programme,reason,transactions,cleared,referred,rejected,open,fallback_rate,share_of,passengers,share,departing,arriving$" \
    "^clearances,2026-01-01,LMC,document_free,,4,3,1,0,0,0.250000,all,1500,0.002000,,$" \
    "^clearances,2026-01-01,HKG,smart_departure,,3,2,1,0,0,0.333333,departing,400,0.005000,,$" \
    "^clearances,2026-01-01,\"X,\"\"Y\",contactless,,1,1,0,0,0,0.000000,all,,,,$" \
    "^clearances,2026-01-02,LMC,document_free,,4,1,2,0,1,0.666667,all,,,,$" \
    "^passengers,2026-01-01,LMC,,,,,,,,,,,,1000,500$" \
    "^referrals,,,document_free,NO_MATCH,,,2,,,,,,,,$" -- cat "$dir/r.csv"
[ "$(grep -c '' "$dir/r.csv")" = 11 ] # header, 5 clearances, 2 passengers, 3 referrals
awk -F, '!/"/ && NF != 16 { print "line " NR " has " NF " fields: " $0; bad = 1 } END { exit bad }' \
    "$dir/r.csv"

# JSON: one object; nulls where there is no figure.
"$expect" 0 \
    '^\{"from":"2026-01-01","to":"2026-01-02","port":null,"days":\[' \
    '"day":"2026-01-01","port":"LMC","programme":"document_free","transactions":4,"cleared":3,"referred":1,"rejected":0,"open":0,"fallback_rate":0.25,"share_of":"all","passengers":1500,"share":0.002\}' \
    '"day":"2026-01-02","port":"LMC","programme":"document_free","transactions":4,"cleared":1,"referred":2,"rejected":0,"open":1,"fallback_rate":0.666667,"share_of":"all","passengers":null,"share":null\}' \
    '"passengers":\[\{"day":"2026-01-01","port":"HKG","departing":400,"arriving":600\},' \
    '"referrals":\[\{"programme":"document_free","reason":"NO_MATCH","count":2\},' -- \
    "$cw" report --db "$db" $range --format json

# One port, one day.
"$expect" 0 '"port":"HKG","days":\[\{"day":"2026-01-01","port":"HKG","programme":"smart_departure"' \
    '"referrals":\[\{"programme":"smart_departure","reason":"CHIP_FACE_UNUSABLE","count":1\}\]\}$' -- \
    "$cw" report --db "$db" --from 2026-01-01 --to 2026-01-01 --port HKG --format json
"$expect" 0 "^no transactions$" "^none entered" -- \
    "$cw" report --db "$db" --from 2025-01-01 --to 2025-12-31
rm -rf "$dir"
