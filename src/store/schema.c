// SPDX-License-Identifier: Apache-2.0
// The store's schema and its migrations. Each migration moves the schema up one version; all
// that an open needs run inside one transaction, so a v1 database becomes v3 whole or not at
// all. The version lives in schema_version. A database whose version is above
// CW_STORE_SCHEMA_VERSION was written by a newer program and is refused rather than guessed at.
// DDL is shared by both backends (BIGINT ids the store assigns, BLOB becomes BYTEA on
// PostgreSQL) except the triggers that make the audit log append-only.
#include "store_internal.h"

#include "clearway/err.h"

#include <string.h>

static const char *const v1_common[] = {
    "CREATE TABLE schema_version (version BIGINT NOT NULL)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, next BIGINT NOT NULL)",
    // The blind-index / audit secret, sealed under the data key.
    "CREATE TABLE store_secret (id BIGINT PRIMARY KEY, key_id BIGINT NOT NULL, value BLOB NOT "
    "NULL)",
    "CREATE TABLE traveller (id BIGINT PRIMARY KEY, key_id BIGINT NOT NULL, name_local BLOB NOT "
    "NULL, name_latin BLOB NOT NULL, birth BLOB NOT NULL, nationality BLOB NOT NULL, sex BIGINT "
    "NOT NULL, residence BIGINT NOT NULL, status BIGINT NOT NULL DEFAULT 0, review_of BIGINT, "
    "created_at BIGINT NOT NULL)",
    "CREATE TABLE travel_document (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, key_id BIGINT NOT NULL, type BIGINT NOT NULL, number_idx "
    "BLOB NOT NULL UNIQUE, number BLOB NOT NULL, mrz BLOB, issued TEXT NOT NULL, expires TEXT NOT "
    "NULL)",
    "CREATE INDEX travel_document_traveller ON travel_document (traveller)",
    "CREATE TABLE endorsement (id BIGINT PRIMARY KEY, document BIGINT NOT NULL REFERENCES "
    "travel_document(id) ON DELETE CASCADE, kind BIGINT NOT NULL, multiple_exit BIGINT NOT NULL, "
    "valid_from TEXT NOT NULL, valid_until TEXT NOT NULL)",
    "CREATE INDEX endorsement_document ON endorsement (document)",
    "CREATE TABLE membership (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, programme BIGINT NOT NULL, enrolled_at BIGINT NOT NULL, "
    "expires_at BIGINT NOT NULL, booking TEXT, flight TEXT, departure_at BIGINT, area TEXT, "
    "UNIQUE (traveller, programme))",
    "CREATE INDEX membership_departure ON membership (programme, departure_at)",
    "CREATE TABLE consent (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, modality BIGINT NOT NULL, given_at BIGINT NOT NULL, "
    "withdrawn_at BIGINT)",
    "CREATE INDEX consent_traveller ON consent (traveller)",
    "CREATE TABLE biometric (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, key_id BIGINT NOT NULL, modality BIGINT NOT NULL, model_id "
    "BIGINT NOT NULL, model_version BIGINT NOT NULL, quality DOUBLE PRECISION NOT NULL, "
    "captured_at BIGINT NOT NULL, device TEXT NOT NULL, len BIGINT NOT NULL, data BLOB NOT NULL)",
    "CREATE INDEX biometric_traveller ON biometric (traveller)",
    "CREATE TABLE port (id BIGINT PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL)",
    "CREATE TABLE gate (id BIGINT PRIMARY KEY, port BIGINT NOT NULL REFERENCES port(id), code "
    "TEXT NOT NULL, programme BIGINT NOT NULL, UNIQUE (port, code))",
    // traveller has no foreign key: clearances outlive purged records (the id stays as history).
    "CREATE TABLE clearance (id BIGINT PRIMARY KEY, gate BIGINT NOT NULL REFERENCES gate(id), "
    "traveller BIGINT, programme BIGINT NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT, "
    "decision BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE clearance_step (clearance BIGINT NOT NULL REFERENCES clearance(id), seq BIGINT "
    "NOT NULL, at BIGINT NOT NULL, step TEXT NOT NULL, result TEXT NOT NULL, score DOUBLE "
    "PRECISION, PRIMARY KEY (clearance, seq))",
    "CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, prev BLOB NOT NULL, hash "
    "BLOB NOT NULL)",
    "CREATE TABLE audit_head (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, hash BLOB NOT NULL)",
    "CREATE TABLE audit_checkpoint (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, hash BLOB NOT "
    "NULL)",
    // One id sequence for every table: an enrolment takes a block of ids in one statement.
    "INSERT INTO counters (name, next) VALUES ('row', 0)",
    NULL,
};

// Version 2: gates by code with their flight-token touchpoint, API keys (hashes only), QR tokens
// issued to travellers, touchpoint passes, and clearance outcomes with the officers'
// resolutions (the note sealed like the personal fields, hence clearance.key_id). The gate is
// altered first so a failure further down shows the whole migration rolls back.
static const char *const v2_common[] = {
    "ALTER TABLE gate ADD COLUMN touchpoint BIGINT NOT NULL DEFAULT 0",
    // hash = BLAKE2b-256 of the key text: the key itself is shown once and never stored.
    "CREATE TABLE api_key (id BIGINT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, role BIGINT NOT "
    "NULL, gate BIGINT REFERENCES gate(id), label TEXT NOT NULL, created_at BIGINT NOT NULL, "
    "revoked_at BIGINT)",
    "CREATE TABLE qr_token (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, "
    "revoked_at BIGINT, last_used_at BIGINT)",
    "CREATE INDEX qr_token_traveller ON qr_token (traveller)",
    // A pass belongs to the flight-token membership (and booking) it was made under: it goes
    // when the membership ends, and a later booking does not inherit it.
    "CREATE TABLE touchpoint_pass (id BIGINT PRIMARY KEY, traveller BIGINT NOT NULL REFERENCES "
    "traveller(id) ON DELETE CASCADE, membership BIGINT NOT NULL REFERENCES membership(id) ON "
    "DELETE CASCADE, booking TEXT NOT NULL, touchpoint BIGINT NOT NULL, gate BIGINT NOT NULL "
    "REFERENCES gate(id), at BIGINT NOT NULL)",
    "CREATE INDEX touchpoint_pass_membership ON touchpoint_pass (membership)",
    "ALTER TABLE clearance ADD COLUMN reason TEXT",
    "ALTER TABLE clearance ADD COLUMN resolved_at BIGINT",
    "ALTER TABLE clearance ADD COLUMN outcome BIGINT",
    "ALTER TABLE clearance ADD COLUMN resolved_by TEXT",
    "ALTER TABLE clearance ADD COLUMN key_id BIGINT",
    "ALTER TABLE clearance ADD COLUMN note BLOB",
    "CREATE INDEX clearance_decision ON clearance (decision, id)",
    "CREATE INDEX clearance_started ON clearance (started_at)",
    "CREATE INDEX audit_log_subject ON audit_log (subject, seq)",
    NULL,
};

// Version 3: the port operator's passenger totals per port and local day (the denominator of
// the share-of-passengers statistic). day is the local (UTC+8) day number since 1970-01-01,
// the same number the reports group clearances by.
static const char *const v3_common[] = {
    "CREATE TABLE port_passengers (port BIGINT NOT NULL REFERENCES port(id), day BIGINT NOT "
    "NULL, departing BIGINT NOT NULL, arriving BIGINT NOT NULL, updated_at BIGINT NOT NULL, "
    "PRIMARY KEY (port, day))",
    NULL,
};

static const char *const v1_sqlite[] = {
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, "
    "'audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, "
    "'audit log is append-only'); END",
    NULL,
};

static const char *const v1_pg[] = {
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
    "EXCEPTION 'audit log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION audit_log_append_only()",
    NULL,
};

typedef struct migration {
    int version;
    const char *const *common, *const *sqlite, *const *pg;
} migration_t;

static const migration_t migrations[] = {
    {1, v1_common, v1_sqlite, v1_pg},
    {2, v2_common, NULL, NULL},
    {3, v3_common, NULL, NULL},
};

int cw__schema_target = CW_STORE_SCHEMA_VERSION;

const cw__sealed_table_t cw__sealed_tables[] = {
    {"store_secret", {"value"}, 1},
    {"traveller", {"name_local", "name_latin", "birth", "nationality"}, 4},
    {"travel_document", {"number", "mrz"}, 2},
    {"biometric", {"data"}, 1},
    // Rows without a note keep key_id NULL, which no rotation selects.
    {"clearance", {"note"}, 1},
};
const int cw__n_sealed_tables = (int)(sizeof(cw__sealed_tables) / sizeof(cw__sealed_tables[0]));

static int run_list(cw_store_t *st, const char *const *list, char *diag, size_t diag_len)
{
    for (; list != NULL && *list != NULL; list++) {
        int err = cw__exec(st, *list, NULL, 0, NULL, NULL, diag, diag_len);
        if (err != 0) {
            return err;
        }
    }
    return 0;
}

static int current_version(cw_store_t *st, int *version, char *diag, size_t diag_len)
{
    int pg = strcmp(st->ops->name, "postgresql") == 0;
    const char *has =
        pg ? "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
             "AND table_schema = current_schema()"
           : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
             "'schema_version'";
    cw__rows_t r = {0};
    int err = cw__exec(st, has, NULL, 0, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    int64_t n = r.n_rows == 1 ? cw__cell(&r, 0, 0)->i : 0;
    cw__rows_free(&r);
    if (n == 0) {
        *version = 0;
        return 0;
    }
    err = cw__exec(st, "SELECT version FROM schema_version", NULL, 0, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows != 1 || cw__cell(&r, 0, 0)->t != CW__V_INT) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "schema_version holds no single version");
    }
    *version = (int)cw__cell(&r, 0, 0)->i;
    cw__rows_free(&r);
    return 0;
}

int cw__schema_migrate(cw_store_t *st, int read_only, char *diag, size_t diag_len)
{
    int pg = strcmp(st->ops->name, "postgresql") == 0;
    int version = 0;
    int err = 0;
    if (!read_only) {
        err = cw__begin(st, diag, diag_len);
        if (err == 0 && pg) {
            // Two programs opening a new database at once: one migrates, the other waits.
            err = cw__exec(st, "SELECT pg_advisory_xact_lock(7400516)", NULL, 0, NULL, NULL, diag,
                           diag_len);
        }
    }
    if (err == 0) {
        err = current_version(st, &version, diag, diag_len);
    }
    if (err == 0 && version > CW_STORE_SCHEMA_VERSION) {
        err = cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                          "the database has schema version %d, newer than this program's %d: "
                          "use a newer clearway",
                          version, CW_STORE_SCHEMA_VERSION);
    }
    if (err == 0 && version < cw__schema_target && read_only) {
        err = cw_diag_set(diag, diag_len, CW_EPERM,
                          "the database has schema version %d and needs migrating to %d, but it "
                          "is open read-only",
                          version, cw__schema_target);
    }
    for (size_t i = 0; err == 0 && i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        const migration_t *m = &migrations[i];
        if (m->version <= version || m->version > cw__schema_target) {
            continue;
        }
        err = run_list(st, m->common, diag, diag_len);
        if (err == 0) {
            err = run_list(st, pg ? m->pg : m->sqlite, diag, diag_len);
        }
        if (err == 0) {
            cw__val_t v = cw__int(m->version);
            err = m->version == 1 ? cw__exec(st, "INSERT INTO schema_version (version) VALUES (?)",
                                             &v, 1, NULL, NULL, diag, diag_len)
                                  : cw__exec(st, "UPDATE schema_version SET version = ?", &v, 1,
                                             NULL, NULL, diag, diag_len);
        }
        if (err == 0) {
            version = m->version;
        }
    }
    if (read_only) {
        return err;
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}
