#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# store_fixture.sh EXPECT CLEARWAY DEPS DIR
# The store's command line end to end on a SQLite file: a bulk import with bad rows (reported
# with reasons), SQL metacharacters and a repeated face (flagged for review); an idempotent
# re-run; the audit chain verified and then found broken after an edit behind the program's
# back; purge dry run and purge; a key rotation; refusal of a loose key file.
set -e
expect=$1 cw=$2 deps=$3 dir=$4
rm -rf "$dir"
mkdir -p "$dir"
unset CLEARWAY_KEY
db=$dir/s.db
cat >"$dir/in.csv" <<'CSV'
name_local,name_latin,sex,birth,residence,nationality,doc_type,doc_number,doc_issued,doc_expires,mrz,programme,consent,image
陳大文,"CHAN, Tai Man",M,1990-01-02,hk,CHN,hkid,A1234567,2018-01-01,2030-01-01,,document-free,face+fingerprint,sample3.jpg
"'; DROP TABLE traveller; --","O""Brien",F,1985-05-05,visitor,IRL,passport,P1234,2020-01-01,2030-01-01,P<IRLOBRIEN<<,smart-departure,face,
Bad,Date,F,2001-02-29,hk,CHN,hkid,B1,2018-01-01,2030-01-01,,document-free,face,
Bad,Doc,F,2001-02-28,hk,CHN,visa,B2,2018-01-01,2030-01-01,,document-free,face,
Same,Face,M,1991-01-02,hk,CHN,hkid,C7654321,2018-01-01,2030-01-01,,contactless,face,sample3.jpg
CSV
CLEARWAY_DEPS=$deps "$expect" 1 "^enrolled 3, already present 0, rejected 2, flagged for review 1" \
    "row 4: rejected: invalid birth date '2001-02-29'" \
    "row 5: rejected: unknown document type 'visa'" \
    "row 6: enrolled as traveller [0-9]+ UNDER REVIEW: face resembles traveller 1" \
    "5/5 rows" -- \
    "$cw" enrol --csv "$dir/in.csv" --db "$db" --images "$deps/npm/face-api/demo"
# The key file was created private.
[ "$(stat -c %a "$db.key")" = 600 ]
"$expect" 1 "^enrolled 0, already present 3, rejected 2" -- \
    "$cw" enrol --csv "$dir/in.csv" --db "$db"
"$expect" 0 "^audit log intact: 3 entries" -- "$cw" audit verify --db "$db"
"$expect" 0 "^dry run: 0 memberships" -- "$cw" purge --db "$db" --dry-run
"$expect" 0 "^key rotated: 9 rows re-encrypted" -- "$cw" keys rotate --db "$db" --batch 4
[ "$(wc -l <"$db.key")" = 1 ]
"$expect" 0 "^audit log intact: 6 entries" -- "$cw" audit verify --db "$db"
# An edit behind the program's back (the append-only trigger dropped first).
sqlite3 "$db" "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"
"$expect" 1 "^audit log BROKEN at entry 2: entry content does not match its hash" -- \
    "$cw" audit verify --db "$db"
chmod 644 "$db.key"
"$expect" 1 "mode 644 lets group or others in" -- "$cw" audit verify --db "$db"
"$expect" 2 "--db is required" -- "$cw" purge
"$expect" 2 "expected .rotate." -- "$cw" keys spin --db "$db"
"$expect" 1 "cannot read .*no-such.csv" -- "$cw" enrol --csv "$dir/no-such.csv" --db "$db"
rm -rf "$dir"
