// SPDX-License-Identifier: Apache-2.0
// Key rotation: rows sealed under an older key are opened and sealed again under the current
// key, a batch per transaction. Each row's key_id column (and each ciphertext's header) names
// its key, so a rotation stopped at any point leaves a valid mixed state that the next step
// carries on from.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static int count_stale(cw_store_t *st, uint64_t *n, char *diag, size_t diag_len)
{
    *n = 0;
    for (int t = 0; t < cw__n_sealed_tables; t++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE key_id <> ?",
                 cw__sealed_tables[t].table);
        cw__val_t p = cw__int(st->ring.id[0]);
        cw__rows_t r;
        int err = cw__exec(st, sql, &p, 1, &r, NULL, diag, diag_len);
        if (err != 0) {
            return err;
        }
        *n += r.n_rows == 1 ? (uint64_t)cw__cell(&r, 0, 0)->i : 0;
        cw__rows_free(&r);
    }
    return 0;
}

static int reseal_row(cw_store_t *st, const cw__sealed_table_t *t, const cw__rows_t *r, size_t i,
                      char *diag, size_t diag_len)
{
    uint64_t id = (uint64_t)cw__cell(r, i, 0)->i;
    cw__val_t p[6];
    unsigned char *ct[4] = {NULL};
    int err = 0;
    char sql[256];
    size_t o = (size_t)snprintf(sql, sizeof(sql), "UPDATE %s SET ", t->table);
    for (int f = 0; f < t->n_fields && err == 0; f++) {
        char field[64];
        snprintf(field, sizeof(field), "%s.%s", t->table, t->fields[f]);
        const cw__val_t *v = cw__cell(r, i, 1 + (size_t)f);
        p[f] = cw__text(NULL);
        if (v->t != CW__V_NULL) {
            unsigned char *pt = NULL;
            size_t len = 0, ct_len = 0;
            err = cw__open(&st->ring, field, id, v->p, v->n, &pt, &len, diag, diag_len);
            if (err == 0) {
                err = cw__seal(&st->ring, field, id, pt, len, &ct[f], &ct_len);
                cw_free_wipe(pt, len + 1);
                p[f] = cw__blob(ct[f], ct_len);
            }
        }
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s = ?, ", t->fields[f]);
    }
    snprintf(sql + o, sizeof(sql) - o, "key_id = ? WHERE id = ?");
    p[t->n_fields] = cw__int(st->ring.id[0]);
    p[t->n_fields + 1] = cw__int((int64_t)id);
    if (err == 0) {
        err = cw__exec(st, sql, p, t->n_fields + 2, NULL, NULL, diag, diag_len);
    }
    for (int f = 0; f < 4; f++) {
        cw_free(ct[f]);
    }
    return err;
}

int cw_store_rekey_step(cw_store_t *st, size_t batch, uint64_t *done, uint64_t *remaining,
                        char *diag, size_t diag_len)
{
    if (st == NULL || batch == 0 || done == NULL || remaining == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "bad argument");
    }
    *done = 0;
    int err = cw__begin(st, diag, diag_len);
    for (int t = 0; err == 0 && t < cw__n_sealed_tables && *done < batch; t++) {
        const cw__sealed_table_t *tab = &cw__sealed_tables[t];
        char sql[256];
        size_t o = (size_t)snprintf(sql, sizeof(sql), "SELECT id");
        for (int f = 0; f < tab->n_fields; f++) {
            o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", %s", tab->fields[f]);
        }
        snprintf(sql + o, sizeof(sql) - o, " FROM %s WHERE key_id <> ? ORDER BY id LIMIT ?",
                 tab->table);
        cw__val_t p[2] = {cw__int(st->ring.id[0]), cw__int((int64_t)(batch - *done))};
        cw__rows_t r;
        err = cw__exec(st, sql, p, 2, &r, NULL, diag, diag_len);
        for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
            err = reseal_row(st, tab, &r, i, diag, diag_len);
            *done += err == 0;
        }
        cw__rows_free(&r);
    }
    if (err == 0 && *done > 0) {
        char detail[64];
        snprintf(detail, sizeof(detail), "rows=%llu key=%08x", (unsigned long long)*done,
                 (unsigned)st->ring.id[0]);
        err = cw__audit_append(st, 0, "keys", "rekey", "store", detail, diag, diag_len);
    }
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
        *done = 0;
    }
    if (err == 0) {
        err = count_stale(st, remaining, diag, diag_len);
    }
    return err;
}
