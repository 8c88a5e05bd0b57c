// SPDX-License-Identifier: Apache-2.0
// Retention: flight tokens end a configured time after departure, and a traveller left with no
// membership is deleted with everything he gave (documents, consents, templates cascade). One
// transaction per purge, each deletion audited; afterwards the backend scrubs (SQLite:
// secure_delete has zeroed the freed pages, and the WAL is checkpointed and truncated).
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

void cw_store_purge_report_free(cw_store_purge_report_t *report)
{
    if (report == NULL) {
        return;
    }
    cw_free(report->items);
    cw_free(report->template_ids);
    memset(report, 0, sizeof(*report));
}

static int add_item(cw_store_purge_report_t *rep, size_t *cap, const cw_store_purge_item_t *it)
{
    if (rep->n_items == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        cw_store_purge_item_t *p = cw_reallocarray(rep->items, n, sizeof(*p));
        if (p == NULL) {
            return CW_ENOMEM;
        }
        rep->items = p;
        *cap = n;
    }
    rep->items[rep->n_items++] = *it;
    return 0;
}

static int add_templates(cw_store_purge_report_t *rep, size_t *cap, const cw__rows_t *r)
{
    size_t need;
    if (cw_size_add(rep->n_templates, r->n_rows, &need) != 0) {
        return CW_EOVERFLOW;
    }
    if (need > *cap) {
        size_t n = *cap ? *cap : 16;
        while (n < need) {
            n *= 2;
        }
        uint64_t *p = cw_reallocarray(rep->template_ids, n, sizeof(*p));
        if (p == NULL) {
            return CW_ENOMEM;
        }
        rep->template_ids = p;
        *cap = n;
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        rep->template_ids[rep->n_templates++] = (uint64_t)cw__cell(r, i, 0)->i;
    }
    return 0;
}

static int purge_one(cw_store_t *st, uint64_t traveller, int64_t membership, int whole, int64_t now,
                     const char *actor, char *diag, size_t diag_len)
{
    cw__val_t p = cw__int(whole ? (int64_t)traveller : membership);
    int err = whole ? cw__exec(st, "DELETE FROM traveller WHERE id = ?", &p, 1, NULL, NULL, diag,
                               diag_len)
                    : cw__exec(st, "DELETE FROM membership WHERE id = ?", &p, 1, NULL, NULL, diag,
                               diag_len);
    if (err == 0) {
        char subject[32];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)traveller);
        err = cw__audit_append(st, now, actor, whole ? "purge_record" : "purge_flight_token",
                               subject, "retention: flight token departed", diag, diag_len);
    }
    return err;
}

int cw_store_purge(cw_store_t *st, int64_t now, const cw_store_retention_t *policy, int dry_run,
                   const char *actor, cw_store_purge_report_t *report, char *diag, size_t diag_len)
{
    if (report != NULL) {
        memset(report, 0, sizeof(*report));
    }
    if (st == NULL || report == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int64_t after =
        policy != NULL && policy->flight_token_after > 0 ? policy->flight_token_after : 24 * 3600;
    size_t cap_items = 0, cap_tpl = 0;
    int err = cw__begin(st, diag, diag_len);
    cw__rows_t due = {0};
    cw__val_t p[2] = {cw__int(CW_PROGRAMME_FLIGHT_TOKEN), cw__int(now - after)};
    if (err == 0) {
        err = cw__exec(st,
                       "SELECT traveller, id FROM membership WHERE programme = ? AND "
                       "departure_at <= ? ORDER BY traveller",
                       p, 2, &due, NULL, diag, diag_len);
    }
    for (size_t i = 0; err == 0 && i < due.n_rows; i++) {
        uint64_t traveller = (uint64_t)cw__cell(&due, i, 0)->i;
        int64_t membership = cw__cell(&due, i, 1)->i;
        cw__val_t q[2] = {cw__int((int64_t)traveller), cw__int(CW_PROGRAMME_FLIGHT_TOKEN)};
        cw__rows_t r;
        err = cw__exec(st, "SELECT count(*) FROM membership WHERE traveller = ? AND programme <> ?",
                       q, 2, &r, NULL, diag, diag_len);
        if (err != 0) {
            break;
        }
        int whole = r.n_rows == 1 && cw__cell(&r, 0, 0)->i == 0;
        cw__rows_free(&r);
        cw_store_purge_item_t it = {traveller, CW_PROGRAMME_FLIGHT_TOKEN, whole};
        err = add_item(report, &cap_items, &it);
        if (err == 0 && whole) {
            err = cw__exec(st, "SELECT id FROM biometric WHERE traveller = ? ORDER BY id", q, 1, &r,
                           NULL, diag, diag_len);
            if (err == 0) {
                err = add_templates(report, &cap_tpl, &r);
                cw__rows_free(&r);
            }
        }
        if (err == 0 && !dry_run) {
            err = purge_one(st, traveller, membership, whole, now, actor, diag, diag_len);
        }
        if (err == CW_ENOMEM || err == CW_EOVERFLOW) {
            cw_diag_set(diag, diag_len, err, "purge report too large");
        }
    }
    cw__rows_free(&due);
    if (err == 0) {
        // A dry run writes nothing: roll back rather than commit.
        if (dry_run) {
            cw__rollback(st);
        } else {
            err = cw__commit(st, diag, diag_len);
        }
    } else {
        cw__rollback(st);
    }
    if (err == 0 && !dry_run && report->n_items > 0 && st->ops->scrub != NULL) {
        err = st->ops->scrub(st->conn, diag, diag_len);
    }
    return err;
}
