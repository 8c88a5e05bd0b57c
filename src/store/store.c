// SPDX-License-Identifier: Apache-2.0
// The store handle: choosing the backend from the target string, loading the keys, migrating
// the schema, unsealing the store's own secret (which proves the key is the right one), and
// the helpers every writer shares: values, transactions, ids, text checks and dates.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cw__val_t cw__int(int64_t i)
{
    cw__val_t v = {CW__V_INT, i, 0, NULL, 0};
    return v;
}

cw__val_t cw__real(double r)
{
    cw__val_t v = {CW__V_REAL, 0, r, NULL, 0};
    return v;
}

cw__val_t cw__text(const char *s)
{
    cw__val_t v = {s != NULL ? CW__V_TEXT : CW__V_NULL, 0, 0, s, s != NULL ? strlen(s) : 0};
    return v;
}

cw__val_t cw__blob(const void *p, size_t n)
{
    cw__val_t v = {p != NULL ? CW__V_BLOB : CW__V_NULL, 0, 0, p, n};
    return v;
}

void cw__rows_free(cw__rows_t *r)
{
    if (r == NULL) {
        return;
    }
    cw_free_wipe(r->bytes, r->bytes_len);
    cw_free(r->v);
    memset(r, 0, sizeof(*r));
}

int cw__exec(cw_store_t *st, const char *sql, const cw__val_t *params, int n_params,
             cw__rows_t *out, int64_t *changes, char *diag, size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    return st->ops->exec(st->conn, sql, params, n_params, out, changes, diag, diag_len);
}

int cw__begin(cw_store_t *st, char *diag, size_t diag_len)
{
    if (st->in_txn) {
        return cw_diag_set(diag, diag_len, CW_ESTATE, "transaction already open");
    }
    int err = cw__exec(st, st->ops->begin_sql, NULL, 0, NULL, NULL, diag, diag_len);
    if (err == 0) {
        st->in_txn = 1;
    }
    return err;
}

int cw__commit(cw_store_t *st, char *diag, size_t diag_len)
{
    int err = cw__exec(st, "COMMIT", NULL, 0, NULL, NULL, diag, diag_len);
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    st->in_txn = 0;
    return 0;
}

void cw__rollback(cw_store_t *st)
{
    if (st->in_txn) {
        (void)cw__exec(st, "ROLLBACK", NULL, 0, NULL, NULL, NULL, 0);
        st->in_txn = 0;
    }
}

int cw__next_ids(cw_store_t *st, uint64_t n, uint64_t *first, char *diag, size_t diag_len)
{
    cw__val_t p = cw__int((int64_t)n);
    cw__rows_t r;
    int err = cw__exec(st, "UPDATE counters SET next = next + ? WHERE name = 'row' RETURNING next",
                       &p, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows != 1 || cw__cell(&r, 0, 0)->t != CW__V_INT) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "id counter missing");
    }
    *first = (uint64_t)cw__cell(&r, 0, 0)->i - n + 1;
    cw__rows_free(&r);
    return 0;
}

int cw__check_text(const char *s, size_t cap, const char *what, int required, char *diag,
                   size_t diag_len)
{
    size_t n = strnlen(s, cap);
    if (n == cap) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "%s longer than %zu bytes", what, cap - 1);
    }
    if (required && n == 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s is empty", what);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "%s holds a control character", what);
        }
    }
    return 0;
}

int cw__read_text(const cw__val_t *v, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (v->t == CW__V_NULL) {
        return 0;
    }
    if (v->t != CW__V_TEXT || v->n >= cap) {
        return CW_ECORRUPT;
    }
    memcpy(dst, v->p, v->n + 1);
    return 0;
}

// ---- dates ----

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

int cw_date_valid(const cw_date_t *d)
{
    return d != NULL && d->year >= 1850 && d->year <= 2199 && d->month >= 1 && d->month <= 12 &&
           d->day >= 1 && d->day <= days_in_month(d->year, d->month);
}

int cw_date_parse(const char *s, cw_date_t *out)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return CW_EFORMAT;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return CW_EFORMAT;
        }
    }
    cw_date_t d = {atoi(s), atoi(s + 5), atoi(s + 8)};
    if (!cw_date_valid(&d)) {
        return CW_EFORMAT;
    }
    *out = d;
    return 0;
}

void cw__date_format(const cw_date_t *d, char out[11])
{
    // Callers pass valid dates; the unsigned modulo keeps the widths provable for the compiler.
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)d->year % 10000u, (unsigned)d->month % 100u,
             (unsigned)d->day % 100u);
}

cw_date_t cw_date_local(int64_t t)
{
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), at UTC+8.
    int64_t s = t + 8 * 3600;
    int64_t z = (s >= 0 ? s : s - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    cw_date_t out = {(int)(y + (m <= 2)), (int)m, (int)d};
    return out;
}

// ---- open and close ----

static int is_pg_url(const char *t)
{
    return strncmp(t, "postgresql://", 13) == 0 || strncmp(t, "postgres://", 11) == 0;
}

int cw_store_key_file_path(const char *target, const cw_store_config_t *cfg, char *buf, size_t cap)
{
    if (cfg != NULL && cfg->key_file != NULL) {
        return (size_t)snprintf(buf, cap, "%s", cfg->key_file) < cap ? 0 : CW_ETOOBIG;
    }
    if (target == NULL || is_pg_url(target)) {
        return CW_ENOENT;
    }
    return (size_t)snprintf(buf, cap, "%s.key", target) < cap ? 0 : CW_ETOOBIG;
}

static int load_keys(cw_store_t *st, const char *target, const cw_store_config_t *cfg, char *diag,
                     size_t diag_len)
{
    const char *text = cfg != NULL && cfg->key != NULL ? cfg->key : getenv("CLEARWAY_KEY");
    if (text != NULL && text[0] != '\0') {
        return cw__keyring_parse(text, &st->ring, diag, diag_len);
    }
    int err = cw_store_key_file_path(target, cfg, st->key_file, sizeof(st->key_file));
    if (err == CW_ENOENT) {
        return cw_diag_set(diag, diag_len, CW_EINVAL,
                           "PostgreSQL stores need a key: set CLEARWAY_KEY or give a key file");
    }
    if (err != 0) {
        return cw_diag_set(diag, diag_len, err, "key file path too long");
    }
    int create = cfg == NULL || (!cfg->no_key_file_create && !cfg->read_only);
    return cw__keyring_load_file(st->key_file, create, &st->ring, diag, diag_len);
}

// The store secret (id 1): made on first open, sealed under the data key. Opening it proves the
// key matches the database.
static int load_secret(cw_store_t *st, int read_only, char *diag, size_t diag_len)
{
    cw__rows_t r;
    cw__val_t id = cw__int(1);
    int err = cw__exec(st, "SELECT value FROM store_secret WHERE id = ?", &id, 1, &r, NULL, diag,
                       diag_len);
    if (err != 0) {
        return err;
    }
    unsigned char secret[32];
    if (r.n_rows == 0) {
        cw__rows_free(&r);
        if (read_only) {
            return cw_diag_set(diag, diag_len, CW_EPERM, "new database opened read-only");
        }
        randombytes_buf(secret, sizeof(secret));
        unsigned char *ct = NULL;
        size_t ct_len = 0;
        err = cw__seal(&st->ring, "store_secret.value", 1, secret, sizeof(secret), &ct, &ct_len);
        if (err == 0) {
            err = cw__begin(st, diag, diag_len);
        }
        if (err == 0) {
            cw__val_t p[3] = {cw__int(1), cw__int(st->ring.id[0]), cw__blob(ct, ct_len)};
            // ON CONFLICT: another program may have made it meanwhile; then read theirs.
            err = cw__exec(st,
                           "INSERT INTO store_secret (id, key_id, value) VALUES (?, ?, ?) ON "
                           "CONFLICT (id) DO NOTHING",
                           p, 3, NULL, NULL, diag, diag_len);
            // The audit chain's head: sequence 0, an all-zero hash before the first entry.
            unsigned char zero[32] = {0};
            cw__val_t h[2] = {cw__int(1), cw__blob(zero, sizeof(zero))};
            if (err == 0) {
                err = cw__exec(st,
                               "INSERT INTO audit_head (id, seq, hash) VALUES (?, 0, ?) ON "
                               "CONFLICT (id) DO NOTHING",
                               h, 2, NULL, NULL, diag, diag_len);
            }
            err = err == 0 ? cw__commit(st, diag, diag_len) : (cw__rollback(st), err);
        }
        cw_free(ct);
        sodium_memzero(secret, sizeof(secret));
        if (err != 0) {
            return err;
        }
        return load_secret(st, read_only, diag, diag_len);
    }
    const cw__val_t *v = cw__cell(&r, 0, 0);
    unsigned char *pt = NULL;
    size_t len = 0;
    err = cw__open(&st->ring, "store_secret.value", 1, v->p, v->n, &pt, &len, diag, diag_len);
    cw__rows_free(&r);
    if (err != 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO,
                           "the key does not open this database (wrong key or key file)");
    }
    if (len != 32) {
        cw_free_wipe(pt, len + 1);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "store secret has the wrong size");
    }
    // Two keys from one secret: the blind index of document numbers and the audit chain's MAC.
    static const char l1[] = "clearway document index";
    static const char l2[] = "clearway audit chain";
    crypto_generichash(st->index_key, 32, (const unsigned char *)l1, sizeof(l1) - 1, pt, 32);
    crypto_generichash(st->audit_key, 32, (const unsigned char *)l2, sizeof(l2) - 1, pt, 32);
    cw_free_wipe(pt, len + 1);
    return 0;
}

int cw_store_open(const char *target, const cw_store_config_t *cfg, cw_store_t **out, char *diag,
                  size_t diag_len)
{
    if (target == NULL || out == NULL || target[0] == '\0') {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no database given");
    }
    *out = NULL;
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "libsodium failed to initialise");
    }
    cw_store_t *st = cw_calloc(1, sizeof(*st));
    if (st == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    int err = load_keys(st, target, cfg, diag, diag_len);
    if (err == 0) {
        err = is_pg_url(target) ? cw__pg_open(target, cfg, &st->conn, &st->ops, diag, diag_len)
                                : cw__sqlite_open(target, cfg, &st->conn, &st->ops, diag, diag_len);
    }
    int ro = cfg != NULL && cfg->read_only;
    if (err == 0) {
        err = cw__schema_migrate(st, ro, diag, diag_len);
    }
    if (err == 0) {
        err = load_secret(st, ro, diag, diag_len);
    }
    if (err != 0) {
        cw_store_close(st);
        return err;
    }
    *out = st;
    return 0;
}

void cw_store_close(cw_store_t *st)
{
    if (st == NULL) {
        return;
    }
    cw__rollback(st);
    if (st->ops != NULL) {
        st->ops->close(st->conn);
    }
    cw__keyring_wipe(&st->ring);
    cw_free_wipe(st, sizeof(*st));
}

const char *cw_store_backend(const cw_store_t *st)
{
    return st != NULL && st->ops != NULL ? st->ops->name : "none";
}

int cw_store_schema_version(cw_store_t *st, int *version, char *diag, size_t diag_len)
{
    cw__rows_t r;
    int err = cw__exec(st, "SELECT version FROM schema_version", NULL, 0, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows != 1) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "no schema version");
    }
    *version = (int)cw__cell(&r, 0, 0)->i;
    cw__rows_free(&r);
    return 0;
}

int cw_store_count(cw_store_t *st, uint64_t *n, char *diag, size_t diag_len)
{
    cw__rows_t r;
    int err = cw__exec(st, "SELECT count(*) FROM traveller", NULL, 0, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    *n = r.n_rows == 1 ? (uint64_t)cw__cell(&r, 0, 0)->i : 0;
    cw__rows_free(&r);
    return 0;
}
