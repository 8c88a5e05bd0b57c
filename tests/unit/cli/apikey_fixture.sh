#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# apikey_fixture.sh EXPECT CLEARWAY DIR
# `clearway apikey` end to end on a SQLite file: keys for a gate (by port and gate code) and an
# administrator, printed once on stdout with the warning on stderr and never stored in the
# clear; the listing; revocation; the audit log naming the actor; wrong command lines.
set -e
expect=$1 cw=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"
unset CLEARWAY_KEY
db=$dir/k.db
"$expect" 0 "^no API keys$" -- "$cw" apikey list --db "$db"
# A port and a gate (no subcommand makes them yet): ids far above the store's counter.
sqlite3 "$db" "INSERT INTO port (id, code, name) VALUES (1000001, 'LMC', 'Lok Ma Chau');
INSERT INTO gate (id, port, code, programme) VALUES (1000002, 1000001, 'E1', 1)"
key=$("$cw" apikey add --db "$db" --role gate --gate LMC/E1 --label "kiosk 7" --actor ops 2>"$dir/err")
printf '%s\n' "$key" | grep -Eq '^cwk_[A-Za-z0-9_-]{43}$' || { echo "bad key '$key'" >&2; exit 1; }
grep -q "shown once and will not be shown again" "$dir/err" || { cat "$dir/err" >&2; exit 1; }
admin=$("$cw" apikey add --db "$db" --role admin 2>/dev/null)
[ "$key" != "$admin" ]
# Only the hash is stored: the key's text is in neither the database nor its WAL.
if grep -qas -- "${key#cwk_}" "$db" "$db-wal"; then
    echo "the key is stored in the clear" >&2
    exit 1
fi
"$expect" 0 "^ID +ROLE +GATE +CREATED +REVOKED +LABEL$" \
    "^[0-9]+ +gate +LMC/E1 +20[0-9-]+T[0-9:]+Z +- +kiosk 7$" \
    "^[0-9]+ +admin +- +20[0-9-]+T[0-9:]+Z +- +-$" -- "$cw" apikey list --db "$db"
id=$("$cw" apikey list --db "$db" | awk '$2 == "gate" { print $1 }')
"$expect" 0 "^API key $id revoked$" -- "$cw" apikey revoke --db "$db" "$id" --actor ops
"$expect" 0 "^$id +gate +LMC/E1 +20[0-9-]+T[0-9:]+Z +20[0-9-]+T[0-9:]+Z +kiosk 7$" -- \
    "$cw" apikey list --db "$db"
[ "$(sqlite3 "$db" "SELECT count(*) FROM audit_log WHERE actor = 'ops'")" = 2 ]
"$expect" 0 "^audit log intact: 3 entries" -- "$cw" audit verify --db "$db"
# Failures: unknown gate or key (1); wrong command lines (2). Nothing is added by them.
"$expect" 1 "no gate 'E9' at port 'LMC'" -- "$cw" apikey add --db "$db" --role gate --gate LMC/E9
"$expect" 1 "no API key 999999" -- "$cw" apikey revoke --db "$db" 999999
"$expect" 2 "unknown role 'root'" -- "$cw" apikey add --db "$db" --role root
"$expect" 2 "a gate key needs --gate PORT/GATE" -- "$cw" apikey add --db "$db" --role gate
"$expect" 2 "--gate is only for gate keys" -- "$cw" apikey add --db "$db" --role clerk --gate LMC/E1
"$expect" 2 "--gate takes PORT/GATE" -- "$cw" apikey add --db "$db" --role gate --gate E1
"$expect" 2 "is not a key ID" -- "$cw" apikey revoke --db "$db" abc
"$expect" 2 "expected .add., .list. or .revoke." -- "$cw" apikey rotate --db "$db"
[ "$(sqlite3 "$db" "SELECT count(*) FROM api_key")" = 2 ]
rm -rf "$dir"
