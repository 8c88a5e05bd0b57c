// SPDX-License-Identifier: Apache-2.0
// The audit log: append-only (triggers refuse UPDATE and DELETE), each entry chained to the one
// before by hash = BLAKE2b-256 keyed with the store's audit key over (previous hash ||
// canonical entry), where the canonical entry is the sequence number, the time and each text
// field length-prefixed. Every CHECKPOINT_EVERY entries the chain head is copied to
// audit_checkpoint, and audit_head always holds the last one, so that cutting the tail off
// the log is found as well as editing it. Without the key a forger cannot recompute the chain.
// Entries are read back in order, all or one subject's (a traveller's or a transaction's
// timeline), for the service's audit view.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdint.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { CHECKPOINT_EVERY = 64, AUDIT_TEXT_MAX = 1024, VERIFY_BATCH = 512 };

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    crypto_generichash_update(h, b, 8);
}

static void put_text(crypto_generichash_state *h, const char *s, size_t n)
{
    put_u64(h, n);
    crypto_generichash_update(h, (const unsigned char *)s, n);
}

static void entry_hash(const cw_store_t *st, const unsigned char prev[32], uint64_t seq, int64_t at,
                       const char *const text[4], const size_t len[4], unsigned char out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, st->audit_key, 32, 32);
    crypto_generichash_update(&h, prev, 32);
    put_u64(&h, seq);
    put_u64(&h, (uint64_t)at);
    for (int i = 0; i < 4; i++) {
        put_text(&h, text[i], len[i]);
    }
    crypto_generichash_final(&h, out, 32);
}

int cw__audit_append(cw_store_t *st, int64_t now, const char *actor, const char *action,
                     const char *subject, const char *detail, char *diag, size_t diag_len)
{
    const char *text[4] = {actor != NULL ? actor : "", action != NULL ? action : "",
                           subject != NULL ? subject : "", detail != NULL ? detail : ""};
    static const char *const what[4] = {"actor", "action", "subject", "detail"};
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        int err = cw__check_text(text[i], AUDIT_TEXT_MAX, what[i], i == 1, diag, diag_len);
        if (err != 0) {
            return err;
        }
        len[i] = strlen(text[i]);
    }
    cw__rows_t r;
    cw__val_t one = cw__int(1);
    // Taking the head row's lock serialises appenders on PostgreSQL as well.
    int err = cw__exec(st, "UPDATE audit_head SET seq = seq + 1 WHERE id = ? RETURNING seq, hash",
                       &one, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows != 1 || cw__cell(&r, 0, 1)->n != 32) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "audit head missing or malformed");
    }
    uint64_t seq = (uint64_t)cw__cell(&r, 0, 0)->i;
    unsigned char prev[32], hash[32];
    memcpy(prev, cw__cell(&r, 0, 1)->p, 32);
    cw__rows_free(&r);
    entry_hash(st, prev, seq, now, text, len, hash);
    cw__val_t p[8] = {cw__int((int64_t)seq), cw__int(now),      cw__text(text[0]),
                      cw__text(text[1]),     cw__text(text[2]), cw__text(text[3]),
                      cw__blob(prev, 32),    cw__blob(hash, 32)};
    err = cw__exec(st,
                   "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 8, NULL, NULL, diag, diag_len);
    if (err == 0) {
        cw__val_t q[2] = {cw__blob(hash, 32), cw__int(1)};
        err = cw__exec(st, "UPDATE audit_head SET hash = ? WHERE id = ?", q, 2, NULL, NULL, diag,
                       diag_len);
    }
    if (err == 0 && seq % CHECKPOINT_EVERY == 0) {
        cw__val_t c[3] = {cw__int((int64_t)seq), cw__int(now), cw__blob(hash, 32)};
        err = cw__exec(st, "INSERT INTO audit_checkpoint (seq, at, hash) VALUES (?, ?, ?)", c, 3,
                       NULL, NULL, diag, diag_len);
    }
    return err;
}

int cw_store_audit_append(cw_store_t *st, int64_t now, const char *actor, const char *action,
                          const char *subject, const char *detail, char *diag, size_t diag_len)
{
    if (st == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store");
    }
    int err = cw__begin(st, diag, diag_len);
    if (err == 0) {
        err = cw__audit_append(st, now, actor, action, subject, detail, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

static void broken(cw_audit_report_t *out, uint64_t seq, const char *why)
{
    out->intact = 0;
    out->first_bad = seq;
    snprintf(out->reason, sizeof(out->reason), "%s", why);
}

int cw_store_audit_verify(cw_store_t *st, cw_audit_report_t *out, char *diag, size_t diag_len)
{
    if (st == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store or report");
    }
    memset(out, 0, sizeof(*out));
    out->intact = 1;
    cw__rows_t cp = {0}, head = {0};
    int err = cw__exec(st, "SELECT seq, hash FROM audit_checkpoint ORDER BY seq", NULL, 0, &cp,
                       NULL, diag, diag_len);
    cw__val_t one = cw__int(1);
    if (err == 0) {
        err = cw__exec(st, "SELECT seq, hash FROM audit_head WHERE id = ?", &one, 1, &head, NULL,
                       diag, diag_len);
    }
    unsigned char prev[32] = {0};
    uint64_t expect = 1;
    size_t next_cp = 0;
    while (err == 0 && out->intact) {
        cw__rows_t r;
        cw__val_t p[2] = {cw__int((int64_t)expect - 1), cw__int(VERIFY_BATCH)};
        err = cw__exec(st,
                       "SELECT seq, at, actor, action, subject, detail, prev, hash FROM "
                       "audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                       p, 2, &r, NULL, diag, diag_len);
        if (err != 0 || r.n_rows == 0) {
            cw__rows_free(&r);
            break;
        }
        for (size_t i = 0; i < r.n_rows && out->intact; i++) {
            uint64_t seq = (uint64_t)cw__cell(&r, i, 0)->i;
            const cw__val_t *pv = cw__cell(&r, i, 6), *hv = cw__cell(&r, i, 7);
            const char *text[4];
            size_t len[4];
            for (int k = 0; k < 4; k++) {
                const cw__val_t *v = cw__cell(&r, i, 2 + (size_t)k);
                text[k] = v->t == CW__V_TEXT ? v->p : "";
                len[k] = v->t == CW__V_TEXT ? v->n : 0;
            }
            if (seq != expect) {
                broken(out, expect, "entry missing (sequence gap)");
                break;
            }
            if (pv->n != 32 || sodium_memcmp(pv->p, prev, 32) != 0) {
                broken(out, seq, "link to the previous entry does not match");
                break;
            }
            unsigned char h[32];
            entry_hash(st, prev, seq, cw__cell(&r, i, 1)->i, text, len, h);
            if (hv->n != 32 || sodium_memcmp(hv->p, h, 32) != 0) {
                broken(out, seq, "entry content does not match its hash");
                break;
            }
            while (next_cp < cp.n_rows && (uint64_t)cw__cell(&cp, next_cp, 0)->i < seq) {
                next_cp++; // a checkpoint for an entry that was skipped: caught as a gap
            }
            if (next_cp < cp.n_rows && (uint64_t)cw__cell(&cp, next_cp, 0)->i == seq) {
                const cw__val_t *c = cw__cell(&cp, next_cp, 1);
                if (c->n != 32 || sodium_memcmp(c->p, h, 32) != 0) {
                    broken(out, seq, "checkpoint does not match the chain");
                    break;
                }
                out->checkpoints++;
                next_cp++;
            }
            memcpy(prev, h, 32);
            out->entries++;
            expect = seq + 1;
        }
        cw__rows_free(&r);
    }
    if (err == 0 && out->intact) {
        // Entries cut off the end: the head or a checkpoint remembers more than is there.
        uint64_t last = expect - 1;
        if (next_cp < cp.n_rows) {
            broken(out, last + 1, "entries missing at the end (checkpoint beyond the log)");
        } else if (head.n_rows == 1 &&
                   ((uint64_t)cw__cell(&head, 0, 0)->i != last || cw__cell(&head, 0, 1)->n != 32 ||
                    sodium_memcmp(cw__cell(&head, 0, 1)->p, prev, 32) != 0)) {
            broken(out, last + 1, "entries missing at the end (head beyond the log)");
        }
    }
    cw__rows_free(&cp);
    cw__rows_free(&head);
    return err;
}

int cw_store_audit_each(cw_store_t *st, const char *subject, uint64_t after, cw_store_audit_fn fn,
                        void *ctx, char *diag, size_t diag_len)
{
    if (st == NULL || fn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = 0;
    if (subject != NULL) {
        err = cw__check_text(subject, AUDIT_TEXT_MAX, "subject", 0, diag, diag_len);
    }
    if (err != 0 || after >= (uint64_t)INT64_MAX) {
        return err;
    }
    // In batches, so a long log is never read into memory whole.
    int64_t next = (int64_t)after;
    for (;;) {
        cw__val_t p[3] = {cw__int(next), cw__text(subject), cw__int(VERIFY_BATCH)};
        if (subject == NULL) {
            p[1] = p[2];
        }
        cw__rows_t r;
        err = subject != NULL ? cw__exec(st,
                                         "SELECT seq, at, actor, action, subject, detail FROM "
                                         "audit_log WHERE seq > ? AND subject = ? ORDER BY seq "
                                         "LIMIT ?",
                                         p, 3, &r, NULL, diag, diag_len)
                              : cw__exec(st,
                                         "SELECT seq, at, actor, action, subject, detail FROM "
                                         "audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                                         p, 2, &r, NULL, diag, diag_len);
        if (err != 0) {
            return err;
        }
        for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
            const char *text[4];
            for (int k = 0; k < 4; k++) {
                const cw__val_t *v = cw__cell(&r, i, 2 + (size_t)k);
                text[k] = v->t == CW__V_TEXT ? v->p : "";
            }
            cw_store_audit_entry_t e = {(uint64_t)cw__cell(&r, i, 0)->i,
                                        cw__cell(&r, i, 1)->i,
                                        text[0],
                                        text[1],
                                        text[2],
                                        text[3]};
            err = fn(ctx, &e);
            next = cw__cell(&r, i, 0)->i;
        }
        size_t got = r.n_rows;
        cw__rows_free(&r);
        if (err != 0 || got < VERIFY_BATCH) {
            return err;
        }
    }
}
