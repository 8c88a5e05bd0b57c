/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the store shared by its files: the backend interface (a vtable over one SQL
 * connection with bound parameters and fully read results), the store handle, the keyring and
 * the field encryption, and the helpers every writer uses (transactions, ids, audit).
 * SQL is written once with `?` placeholders; the PostgreSQL backend renumbers them to `$n` and
 * spells BLOB as BYTEA.
 */
#ifndef CW_STORE_INTERNAL_H
#define CW_STORE_INTERNAL_H

#include "clearway/store.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cw__vtype {
    CW__V_NULL = 0,
    CW__V_INT,
    CW__V_REAL,
    CW__V_TEXT,
    CW__V_BLOB
} cw__vtype_t;

/* A value: a bound parameter (p borrowed for the call) or a result cell (p owned by rows). */
typedef struct cw__val {
    cw__vtype_t t;
    int64_t i;
    double r;
    const void *p; /* TEXT: bytes (NUL-terminated in results), BLOB: bytes */
    size_t n;
} cw__val_t;

/* A fully read result: n_rows x n_cols cells, row-major; text and blob bytes in one block. */
typedef struct cw__rows {
    size_t n_rows, n_cols;
    cw__val_t *v;
    unsigned char *bytes;
    size_t bytes_len;
} cw__rows_t;

void cw__rows_free(cw__rows_t *r); /* wipes the bytes; safe on a zeroed struct */
static inline const cw__val_t *cw__cell(const cw__rows_t *r, size_t row, size_t col)
{
    return &r->v[row * r->n_cols + col];
}

/* Parameter constructors. */
cw__val_t cw__int(int64_t i);
cw__val_t cw__real(double r);
cw__val_t cw__text(const char *s); /* NULL gives SQL NULL */
cw__val_t cw__blob(const void *p, size_t n);

typedef struct cw__backend_ops {
    const char *name;
    /* Run one statement. out (may be NULL) receives the rows; *changes (may be NULL) the rows
     * changed by an INSERT/UPDATE/DELETE. Errors mapped to CW_E* with detail in diag. */
    int (*exec)(void *conn, const char *sql, const cw__val_t *params, int n_params, cw__rows_t *out,
                int64_t *changes, char *diag, size_t diag_len);
    const char *begin_sql; /* SQLite: BEGIN IMMEDIATE (take the write lock up front) */
    void (*close)(void *conn);
    /* Before a purge is reported done: make deleted pages unrecoverable (may be NULL). */
    int (*scrub)(void *conn, char *diag, size_t diag_len);
} cw__backend_ops_t;

int cw__sqlite_open(const char *path, const cw_store_config_t *cfg, void **conn,
                    const cw__backend_ops_t **ops, char *diag, size_t diag_len);
int cw__pg_open(const char *url, const cw_store_config_t *cfg, void **conn,
                const cw__backend_ops_t **ops, char *diag, size_t diag_len);

/* ---- keys and field encryption (crypto.c) ---- */

enum { CW__KEY_BYTES = 32, CW__MAX_KEYS = 8 };

typedef struct cw__keyring {
    int n;
    uint32_t id[CW__MAX_KEYS]; /* derived from the key: BLAKE2b("clearway key id", key) */
    unsigned char key[CW__MAX_KEYS][CW__KEY_BYTES];
} cw__keyring_t;

/* Parse "KEY[,KEY...]" (hex or base64 each) into the ring. */
int cw__keyring_parse(const char *text, cw__keyring_t *ring, char *diag, size_t diag_len);
/* Load (or create) a key file. */
int cw__keyring_load_file(const char *path, int create, cw__keyring_t *ring, char *diag,
                          size_t diag_len);
void cw__keyring_wipe(cw__keyring_t *ring);

/* Ciphertext layout: version byte 1, key id (4 bytes big-endian), 24-byte nonce, sealed box. */
enum {
    CW__SEAL_HEADER = 1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
    CW__SEAL_OVERHEAD = CW__SEAL_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES,
};

/*
 * Seal len bytes with the current key; associated data "table.field#id" plus the header. The
 * result is cw_malloc'ed into *out (free with cw_free). Open checks the key id is in the ring
 * and the tag; the plaintext is cw_malloc'ed with one extra NUL byte (wipe when done).
 */
int cw__seal(const cw__keyring_t *ring, const char *field, uint64_t id, const void *pt, size_t len,
             unsigned char **out, size_t *out_len);
int cw__open(const cw__keyring_t *ring, const char *field, uint64_t id, const void *ct,
             size_t ct_len, unsigned char **out, size_t *out_len, char *diag, size_t diag_len);

/* ---- the store handle ---- */

struct cw_store {
    const cw__backend_ops_t *ops;
    void *conn;
    int in_txn;
    cw__keyring_t ring;
    unsigned char index_key[32]; /* blind index of document numbers; MAC key of the audit chain */
    unsigned char audit_key[32];
    char key_file[1024];
};

int cw__exec(cw_store_t *st, const char *sql, const cw__val_t *params, int n_params,
             cw__rows_t *out, int64_t *changes, char *diag, size_t diag_len);
int cw__begin(cw_store_t *st, char *diag, size_t diag_len);
int cw__commit(cw_store_t *st, char *diag, size_t diag_len);
void cw__rollback(cw_store_t *st); /* after an error; never fails the caller further */

/* n new row ids (*first .. *first + n - 1, unique across tables), inside a transaction. */
int cw__next_ids(cw_store_t *st, uint64_t n, uint64_t *first, char *diag, size_t diag_len);

/* Append an audit entry inside the caller's transaction. */
int cw__audit_append(cw_store_t *st, int64_t now, const char *actor, const char *action,
                     const char *subject, const char *detail, char *diag, size_t diag_len);

/* Migrations (schema.c): bring the schema to cw__schema_target, all in one transaction. */
int cw__schema_migrate(cw_store_t *st, int read_only, char *diag, size_t diag_len);
/* The version opening migrates to: CW_STORE_SCHEMA_VERSION. Tests lower it to make a database
 * of an older version with the old migration list, then raise it again to migrate that. */
extern int cw__schema_target;

/* Text field checks: NUL within cap and no control characters. */
int cw__check_text(const char *s, size_t cap, const char *what, int required, char *diag,
                   size_t diag_len);

/* A TEXT (or NULL: "") result cell into dst; CW_ECORRUPT (dst "") if it does not fit in cap. */
int cw__read_text(const cw__val_t *v, char *dst, size_t cap);

/* Date to/from "YYYY-MM-DD". */
void cw__date_format(const cw_date_t *d, char out[11]);

/* Tables whose rows carry ciphertexts (for rotation). */
typedef struct cw__sealed_table {
    const char *table;
    const char *fields[4];
    int n_fields;
} cw__sealed_table_t;
extern const cw__sealed_table_t cw__sealed_tables[];
extern const int cw__n_sealed_tables;

#endif
