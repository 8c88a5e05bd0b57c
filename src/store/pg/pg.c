// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL backend over libpq: one connection from a URL, parameters sent typed and in
// binary (int8, float8, text, bytea), results read in binary. The store's SQL uses `?` markers
// and BLOB; here they become `$n` and BYTEA. Server notices are swallowed (the library never
// prints); a lost connection is CW_EIO and the next transaction reconnects once.
#include "../store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum { MAX_PARAMS = 32 };

enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_VARCHAR = 1043,
    OID_NAME = 19,
};

typedef struct pg_conn {
    PGconn *conn;
    int in_txn;     // between BEGIN and COMMIT / ROLLBACK
    char sql[8192]; // the translated statement
} pg_conn_t;

static void no_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int translate(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    int n = 0;
    for (const char *p = in; *p != '\0'; p++) {
        char tmp[16];
        const char *add = NULL;
        size_t skip = 0;
        if (*p == '?') {
            snprintf(tmp, sizeof(tmp), "$%d", ++n);
            add = tmp;
        } else if (strncmp(p, "BLOB", 4) == 0) {
            add = "BYTEA";
            skip = 3;
        }
        if (add != NULL) {
            size_t l = strlen(add);
            if (o + l >= cap) {
                return -1;
            }
            memcpy(out + o, add, l);
            o += l;
            p += skip;
        } else {
            if (o + 1 >= cap) {
                return -1;
            }
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return 0;
}

static int map_error(pg_conn_t *c, PGresult *res, const char *what, char *diag, size_t diag_len)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
    if (msg == NULL || msg[0] == '\0') {
        msg = PQerrorMessage(c->conn);
    }
    int err = CW_EDB;
    if (PQstatus(c->conn) != CONNECTION_OK) {
        err = CW_EIO;
    } else if (state != NULL) {
        if (strcmp(state, "23505") == 0) {
            err = CW_EEXIST;
        } else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
            err = CW_EINVAL;
        } else if (strcmp(state, "25006") == 0 || strcmp(state, "42501") == 0) {
            err = CW_EPERM;
        } else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                   strcmp(state, "55P03") == 0) {
            err = CW_EBUSY;
        } else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
                   strncmp(state, "53", 2) == 0) {
            err = CW_EIO;
        } else if (strcmp(state, "54000") == 0) {
            err = CW_ETOOBIG;
        }
    }
    // libpq messages end in a newline; keep the diagnostic to one line.
    char line[256];
    snprintf(line, sizeof(line), "%s", msg != NULL ? msg : "unknown error");
    line[strcspn(line, "\n")] = '\0';
    return cw_diag_set(diag, diag_len, err, "postgresql: %s: %s (%s)", what, line,
                       state != NULL ? state : "no sqlstate");
}

static uint64_t be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

static int read_rows(PGresult *res, cw__rows_t *out, char *diag, size_t diag_len)
{
    cw__rows_t r = {0};
    r.n_rows = (size_t)PQntuples(res);
    r.n_cols = (size_t)PQnfields(res);
    size_t total = 0;
    for (size_t i = 0; i < r.n_rows; i++) {
        for (size_t j = 0; j < r.n_cols; j++) {
            total += (size_t)PQgetlength(res, (int)i, (int)j) + 1;
        }
    }
    r.v = cw_calloc(r.n_rows * r.n_cols + 1, sizeof(cw__val_t));
    r.bytes = cw_malloc(total + 1);
    if (r.v == NULL || r.bytes == NULL) {
        cw_free(r.v);
        cw_free(r.bytes);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "postgresql: out of memory reading rows");
    }
    r.bytes_len = total + 1;
    size_t off = 0;
    for (size_t i = 0; i < r.n_rows; i++) {
        for (size_t j = 0; j < r.n_cols; j++) {
            cw__val_t *cell = &r.v[i * r.n_cols + j];
            if (PQgetisnull(res, (int)i, (int)j)) {
                continue;
            }
            const unsigned char *b = (const unsigned char *)PQgetvalue(res, (int)i, (int)j);
            size_t n = (size_t)PQgetlength(res, (int)i, (int)j);
            Oid t = PQftype(res, (int)j);
            int bad = 0;
            if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_BOOL) {
                size_t want = t == OID_INT8 ? 8 : t == OID_INT4 ? 4 : t == OID_INT2 ? 2 : 1;
                bad = n != want;
                uint64_t u = 0;
                for (size_t k = 0; k < n && !bad; k++) {
                    u = u << 8 | b[k];
                }
                cell->t = CW__V_INT;
                // Sign-extend the narrower integer types.
                cell->i = n == 8   ? (int64_t)u
                          : n == 4 ? (int64_t)(int32_t)(uint32_t)u
                          : n == 2 ? (int64_t)(int16_t)(uint16_t)u
                                   : (int64_t)u;
            } else if (t == OID_FLOAT8 || t == OID_FLOAT4) {
                cell->t = CW__V_REAL;
                if (t == OID_FLOAT8 && n == 8) {
                    uint64_t u = be64(b);
                    memcpy(&cell->r, &u, 8);
                } else if (t == OID_FLOAT4 && n == 4) {
                    uint32_t u =
                        (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
                    float f;
                    memcpy(&f, &u, 4);
                    cell->r = f;
                } else {
                    bad = 1;
                }
            } else if (t == OID_TEXT || t == OID_VARCHAR || t == OID_BYTEA || t == OID_NAME) {
                cell->t = t == OID_BYTEA ? CW__V_BLOB : CW__V_TEXT;
                memcpy(r.bytes + off, b, n);
                r.bytes[off + n] = 0;
                cell->p = r.bytes + off;
                cell->n = n;
                off += n + 1;
            } else {
                bad = 1;
            }
            if (bad) {
                cw__rows_free(&r);
                return cw_diag_set(diag, diag_len, CW_EINTERNAL,
                                   "postgresql: unexpected column type %u", (unsigned)t);
            }
        }
    }
    *out = r;
    return 0;
}

static int pg_exec(void *conn, const char *sql, const cw__val_t *params, int n_params,
                   cw__rows_t *out, int64_t *changes, char *diag, size_t diag_len)
{
    pg_conn_t *c = conn;
    if (n_params > MAX_PARAMS) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "postgresql: too many parameters");
    }
    if (translate(sql, c->sql, sizeof(c->sql)) != 0) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "postgresql: statement too long");
    }
    int begin = strcmp(sql, "BEGIN") == 0;
    int end = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
    if (PQstatus(c->conn) != CONNECTION_OK) {
        // A transaction lost with the connection stays lost (until the caller's ROLLBACK);
        // any statement outside one may reconnect, reads included, so that a handle which only
        // reads (API key checks, health) recovers by itself when the server is back.
        if (c->in_txn) {
            c->in_txn = !end;
            return cw_diag_set(diag, diag_len, CW_EIO, "postgresql: connection lost");
        }
        PQreset(c->conn);
        if (PQstatus(c->conn) != CONNECTION_OK) {
            return map_error(c, NULL, "reconnect", diag, diag_len);
        }
        PQsetNoticeProcessor(c->conn, no_notices, NULL);
    }
    Oid types[MAX_PARAMS];
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS], formats[MAX_PARAMS];
    unsigned char nums[MAX_PARAMS][8];
    for (int i = 0; i < n_params; i++) {
        const cw__val_t *p = &params[i];
        formats[i] = 1;
        uint64_t u = 0;
        switch (p->t) {
        case CW__V_INT:
        case CW__V_REAL:
            if (p->t == CW__V_INT) {
                u = (uint64_t)p->i;
                types[i] = OID_INT8;
            } else {
                memcpy(&u, &p->r, 8);
                types[i] = OID_FLOAT8;
            }
            for (int k = 7; k >= 0; k--) {
                nums[i][k] = (unsigned char)(u & 0xff);
                u >>= 8;
            }
            values[i] = (const char *)nums[i];
            lengths[i] = 8;
            break;
        case CW__V_TEXT:
        case CW__V_BLOB:
            types[i] = p->t == CW__V_TEXT ? OID_TEXT : OID_BYTEA;
            values[i] = p->n > 0 ? p->p : "";
            lengths[i] = (int)p->n;
            break;
        default:
            types[i] = 0;
            values[i] = NULL;
            lengths[i] = 0;
            break;
        }
    }
    PGresult *res =
        PQexecParams(c->conn, c->sql, n_params, types, values, lengths, formats, 1 /* binary */);
    ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int err = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        err = map_error(c, res, "exec", diag, diag_len);
        c->in_txn = c->in_txn && !end;
    } else {
        c->in_txn = begin || (c->in_txn && !end);
        if (changes != NULL) {
            const char *t = PQcmdTuples(res);
            *changes = t != NULL && t[0] != '\0' ? strtoll(t, NULL, 10) : 0;
        }
        if (out != NULL) {
            err = read_rows(res, out, diag, diag_len);
        }
    }
    PQclear(res);
    return err;
}

static void pg_close(void *conn)
{
    pg_conn_t *c = conn;
    if (c == NULL) {
        return;
    }
    PQfinish(c->conn);
    cw_free_wipe(c, sizeof(*c));
}

static const cw__backend_ops_t pg_ops = {"postgresql", pg_exec, "BEGIN", pg_close, NULL};

int cw__pg_open(const char *url, const cw_store_config_t *cfg, void **conn,
                const cw__backend_ops_t **ops, char *diag, size_t diag_len)
{
    pg_conn_t *c = cw_calloc(1, sizeof(*c));
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    c->conn = PQconnectdb(url);
    if (c->conn == NULL) {
        cw_free(c);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "postgresql: out of memory");
    }
    if (PQstatus(c->conn) != CONNECTION_OK) {
        char line[256];
        snprintf(line, sizeof(line), "%s", PQerrorMessage(c->conn));
        line[strcspn(line, "\n")] = '\0';
        pg_close(c);
        return cw_diag_set(diag, diag_len, CW_EIO, "postgresql: cannot connect: %s", line);
    }
    PQsetNoticeProcessor(c->conn, no_notices, NULL);
    int timeout = cfg != NULL && cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 5000;
    char set[128];
    snprintf(set, sizeof(set), "SET lock_timeout = %d", timeout);
    const char *setup[] = {"SET client_min_messages = warning", set,
                           cfg != NULL && cfg->read_only
                               ? "SET default_transaction_read_only = on"
                               : "SET default_transaction_read_only = off"};
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        PGresult *res = PQexec(c->conn, setup[i]);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            int err = map_error(c, res, "session setup", diag, diag_len);
            PQclear(res);
            pg_close(c);
            return err;
        }
        PQclear(res);
    }
    *conn = c;
    *ops = &pg_ops;
    return 0;
}
