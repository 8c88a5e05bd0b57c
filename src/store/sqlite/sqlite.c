// SPDX-License-Identifier: Apache-2.0
// The SQLite backend: one database file in WAL mode with foreign keys, a busy timeout,
// secure_delete (freed pages are zeroed) and full synchronous commits. Statements are prepared
// once and kept in a small cache keyed by their SQL text; parameters are always bound.
#include "../store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <sqlite3.h>
#include <string.h>

enum { CACHE_SIZE = 48 };

typedef struct sq_conn {
    sqlite3 *db;
    struct {
        const char *sql; // the caller's string literal (compared by pointer, then by text)
        sqlite3_stmt *stmt;
    } cache[CACHE_SIZE];
    int next_victim;
} sq_conn_t;

static int map_error(sqlite3 *db, int rc, const char *what, char *diag, size_t diag_len)
{
    int ext = db != NULL ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int err;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err = CW_EBUSY;
        break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        err = CW_EPERM;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        err = CW_ECORRUPT;
        break;
    case SQLITE_NOMEM:
        err = CW_ENOMEM;
        break;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        err = CW_EIO;
        break;
    case SQLITE_TOOBIG:
        err = CW_ETOOBIG;
        break;
    case SQLITE_CONSTRAINT:
        err = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) ? CW_EEXIST
                                                                                       : CW_EINVAL;
        break;
    default:
        err = CW_EDB;
        break;
    }
    return cw_diag_set(diag, diag_len, err, "sqlite: %s: %s (%d)", what, msg, ext);
}

static int get_stmt(sq_conn_t *c, const char *sql, sqlite3_stmt **out, char *diag, size_t diag_len)
{
    for (int i = 0; i < CACHE_SIZE; i++) {
        // Same pointer and same text: a caller's buffer may be reused for other SQL.
        if (c->cache[i].sql == sql && c->cache[i].stmt != NULL &&
            strcmp(sqlite3_sql(c->cache[i].stmt), sql) == 0) {
            *out = c->cache[i].stmt;
            return 0;
        }
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return map_error(c->db, rc, "prepare", diag, diag_len);
    }
    int slot = -1;
    for (int i = 0; i < CACHE_SIZE && slot < 0; i++) {
        if (c->cache[i].stmt == NULL) {
            slot = i;
        }
    }
    if (slot < 0) {
        slot = c->next_victim;
        c->next_victim = (c->next_victim + 1) % CACHE_SIZE;
        sqlite3_finalize(c->cache[slot].stmt);
    }
    c->cache[slot].sql = sql;
    c->cache[slot].stmt = stmt;
    *out = stmt;
    return 0;
}

static int bind_all(sq_conn_t *c, sqlite3_stmt *stmt, const cw__val_t *p, int n, char *diag,
                    size_t diag_len)
{
    if (sqlite3_bind_parameter_count(stmt) != n) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "sqlite: %d parameters for %d markers", n,
                           sqlite3_bind_parameter_count(stmt));
    }
    for (int i = 0; i < n; i++) {
        int rc;
        switch (p[i].t) {
        case CW__V_INT:
            rc = sqlite3_bind_int64(stmt, i + 1, p[i].i);
            break;
        case CW__V_REAL:
            rc = sqlite3_bind_double(stmt, i + 1, p[i].r);
            break;
        case CW__V_TEXT:
            rc = sqlite3_bind_text(stmt, i + 1, p[i].p, (int)p[i].n, SQLITE_STATIC);
            break;
        case CW__V_BLOB:
            rc = sqlite3_bind_blob(stmt, i + 1, p[i].n > 0 ? p[i].p : "", (int)p[i].n,
                                   SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(stmt, i + 1);
            break;
        }
        if (rc != SQLITE_OK) {
            return map_error(c->db, rc, "bind", diag, diag_len);
        }
    }
    return 0;
}

// Append one row of the current step to a growing result.
static int take_row(sqlite3_stmt *stmt, cw__rows_t *r, size_t *cap_rows, size_t *cap_bytes)
{
    size_t nc = r->n_cols;
    if (r->n_rows == *cap_rows) {
        size_t nr = *cap_rows ? *cap_rows * 2 : 8;
        cw__val_t *v = cw_reallocarray(r->v, nr, nc * sizeof(cw__val_t));
        if (v == NULL) {
            return CW_ENOMEM;
        }
        r->v = v;
        *cap_rows = nr;
    }
    cw__val_t *row = &r->v[r->n_rows * nc];
    for (size_t j = 0; j < nc; j++) {
        int t = sqlite3_column_type(stmt, (int)j);
        cw__val_t *cell = &row[j];
        memset(cell, 0, sizeof(*cell));
        if (t == SQLITE_INTEGER) {
            cell->t = CW__V_INT;
            cell->i = sqlite3_column_int64(stmt, (int)j);
        } else if (t == SQLITE_FLOAT) {
            cell->t = CW__V_REAL;
            cell->r = sqlite3_column_double(stmt, (int)j);
        } else if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
            const void *src = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(stmt, (int)j)
                                               : sqlite3_column_blob(stmt, (int)j);
            size_t n = (size_t)sqlite3_column_bytes(stmt, (int)j);
            cell->t = t == SQLITE_TEXT ? CW__V_TEXT : CW__V_BLOB;
            cell->n = n;
            // Offsets for now; turned into pointers once the byte block stops moving.
            if (r->bytes_len + n + 1 > *cap_bytes) {
                size_t nb = (*cap_bytes ? *cap_bytes * 2 : 256);
                while (nb < r->bytes_len + n + 1) {
                    nb *= 2;
                }
                unsigned char *b = cw_malloc(nb);
                if (b == NULL) {
                    return CW_ENOMEM;
                }
                if (r->bytes_len > 0) {
                    memcpy(b, r->bytes, r->bytes_len);
                }
                cw_free_wipe(r->bytes, *cap_bytes);
                r->bytes = b;
                *cap_bytes = nb;
            }
            if (n > 0) {
                memcpy(r->bytes + r->bytes_len, src, n);
            }
            r->bytes[r->bytes_len + n] = 0;
            cell->i = (int64_t)r->bytes_len;
            r->bytes_len += n + 1;
        }
    }
    r->n_rows++;
    return 0;
}

static int sq_exec(void *conn, const char *sql, const cw__val_t *params, int n_params,
                   cw__rows_t *out, int64_t *changes, char *diag, size_t diag_len)
{
    sq_conn_t *c = conn;
    sqlite3_stmt *stmt = NULL;
    int err = get_stmt(c, sql, &stmt, diag, diag_len);
    if (err != 0) {
        return err;
    }
    err = bind_all(c, stmt, params, n_params, diag, diag_len);
    cw__rows_t r = {0};
    size_t cap_rows = 0, cap_bytes = 0;
    r.n_cols = (size_t)sqlite3_column_count(stmt);
    while (err == 0) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = map_error(c->db, rc, "step", diag, diag_len);
            break;
        }
        if (out != NULL && r.n_cols > 0) {
            err = take_row(stmt, &r, &cap_rows, &cap_bytes);
            if (err != 0) {
                cw_diag_set(diag, diag_len, err, "sqlite: out of memory reading rows");
            }
        }
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (err == 0 && changes != NULL) {
        *changes = sqlite3_changes64(c->db);
    }
    if (err != 0 || out == NULL) {
        cw_free_wipe(r.bytes, cap_bytes);
        cw_free(r.v);
        return err;
    }
    for (size_t k = 0; k < r.n_rows * r.n_cols; k++) {
        if (r.v[k].t == CW__V_TEXT || r.v[k].t == CW__V_BLOB) {
            r.v[k].p = r.bytes + r.v[k].i;
            r.v[k].i = 0;
        }
    }
    r.bytes_len = cap_bytes;
    *out = r;
    return 0;
}

static int sq_scrub(void *conn, char *diag, size_t diag_len)
{
    sq_conn_t *c = conn;
    // Pages freed by the purge were zeroed (secure_delete); the WAL still holds their older
    // images until it is checkpointed and truncated.
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK) {
        return map_error(c->db, rc, "checkpoint", diag, diag_len);
    }
    return 0;
}

static void sq_close(void *conn)
{
    sq_conn_t *c = conn;
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < CACHE_SIZE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
    }
    sqlite3_close_v2(c->db);
    cw_free(c);
}

static const cw__backend_ops_t sq_ops = {
    "sqlite", sq_exec, "BEGIN IMMEDIATE", sq_close, sq_scrub,
};

static int pragma(sq_conn_t *c, const char *sql, char *diag, size_t diag_len)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return map_error(c->db, rc, sql, diag, diag_len);
    }
    return 0;
}

int cw__sqlite_open(const char *path, const cw_store_config_t *cfg, void **conn,
                    const cw__backend_ops_t **ops, char *diag, size_t diag_len)
{
    sq_conn_t *c = cw_calloc(1, sizeof(*c));
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    int ro = cfg != NULL && cfg->read_only;
    int flags = ro ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int err = map_error(c->db, rc, path, diag, diag_len);
        sq_close(c);
        return err;
    }
    sqlite3_extended_result_codes(c->db, 1);
    int timeout = cfg != NULL && cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 5000;
    sqlite3_busy_timeout(c->db, timeout);
    int err = pragma(c, "PRAGMA foreign_keys = ON", diag, diag_len);
    if (err == 0) {
        err = pragma(c, "PRAGMA secure_delete = ON", diag, diag_len);
    }
    if (err == 0 && !ro) {
        // Reads the header: a file that is not a database fails here (CW_ECORRUPT).
        err = pragma(c, "PRAGMA journal_mode = WAL", diag, diag_len);
    }
    if (err == 0) {
        err = pragma(c, "PRAGMA synchronous = FULL", diag, diag_len);
    }
    if (err == 0 && ro) {
        err = pragma(c, "SELECT count(*) FROM sqlite_master", diag, diag_len);
    }
    if (err != 0) {
        sq_close(c);
        return err;
    }
    *conn = c;
    *ops = &sq_ops;
    return 0;
}
