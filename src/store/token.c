// SPDX-License-Identifier: Apache-2.0
// What the contactless e-channel's QR tokens need from the store: the service's signing seed
// (row 2 of store_secret, sealed under the data key like the store secret, so key rotation
// re-seals it) and each token's state (issued, expiry, revoked, last use). The signed text is
// made by the clearance module; here a use is one conditional UPDATE, so two gates presenting
// the same token at once cannot both pass (anti-passback), and the reason for a refusal is read
// afterwards.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

enum { SEED_ROW = 2, SEED_BYTES = 32 }; // row 1 is the store secret

static int read_seed(cw_store_t *st, uint8_t seed[SEED_BYTES], int *found, char *diag,
                     size_t diag_len)
{
    *found = 0;
    cw__val_t id = cw__int(SEED_ROW);
    cw__rows_t r;
    int err = cw__exec(st, "SELECT value FROM store_secret WHERE id = ?", &id, 1, &r, NULL, diag,
                       diag_len);
    if (err != 0 || r.n_rows == 0) {
        cw__rows_free(&r);
        return err;
    }
    const cw__val_t *v = cw__cell(&r, 0, 0);
    unsigned char *pt = NULL;
    size_t len = 0;
    err =
        cw__open(&st->ring, "store_secret.value", SEED_ROW, v->p, v->n, &pt, &len, diag, diag_len);
    cw__rows_free(&r);
    if (err != 0) {
        return err;
    }
    if (len != SEED_BYTES) {
        err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "signing seed has the wrong size");
    } else {
        memcpy(seed, pt, SEED_BYTES);
        *found = 1;
    }
    cw_free_wipe(pt, len + 1);
    return err;
}

int cw_store_signing_seed(cw_store_t *st, uint8_t seed[32], char *diag, size_t diag_len)
{
    if (st == NULL || seed == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int found = 0;
    int err = read_seed(st, seed, &found, diag, diag_len);
    if (err != 0) {
        sodium_memzero(seed, SEED_BYTES); // on any error the caller holds no seed
        return err;
    }
    if (found) {
        return 0;
    }
    // The first call makes it. Another program may be doing the same: ON CONFLICT keeps the
    // first seed written, and both read that one back.
    unsigned char fresh[SEED_BYTES];
    randombytes_buf(fresh, sizeof(fresh));
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    err = cw__seal(&st->ring, "store_secret.value", SEED_ROW, fresh, sizeof(fresh), &ct, &ct_len);
    sodium_memzero(fresh, sizeof(fresh));
    if (err != 0) {
        return cw_diag_set(diag, diag_len, err, "sealing the signing seed failed");
    }
    err = cw__begin(st, diag, diag_len);
    int64_t changed = 0;
    if (err == 0) {
        cw__val_t p[3] = {cw__int(SEED_ROW), cw__int(st->ring.id[0]), cw__blob(ct, ct_len)};
        err = cw__exec(st,
                       "INSERT INTO store_secret (id, key_id, value) VALUES (?, ?, ?) ON "
                       "CONFLICT (id) DO NOTHING",
                       p, 3, NULL, &changed, diag, diag_len);
    }
    if (err == 0 && changed > 0) {
        err = cw__audit_append(st, 0, "keys", "signing_seed_create", "store", "", diag, diag_len);
    }
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
    }
    cw_free(ct);
    if (err == 0) {
        err = read_seed(st, seed, &found, diag, diag_len);
    }
    if (err == 0 && !found) {
        err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "signing seed missing after it was made");
    }
    if (err != 0) {
        sodium_memzero(seed, SEED_BYTES);
    }
    return err;
}

// Whether row id of table exists (inside the caller's transaction).
static int row_exists(cw_store_t *st, const char *sql, uint64_t id, int *exists, char *diag,
                      size_t diag_len)
{
    cw__val_t p = cw__int((int64_t)id);
    cw__rows_t r;
    int err = cw__exec(st, sql, &p, 1, &r, NULL, diag, diag_len);
    *exists = err == 0 && r.n_rows == 1 && cw__cell(&r, 0, 0)->i > 0;
    cw__rows_free(&r);
    return err;
}

int cw_store_token_add(cw_store_t *st, uint64_t traveller, int64_t now, int64_t expires_at,
                       const char *actor, uint64_t *id, char *diag, size_t diag_len)
{
    if (st == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (expires_at <= now) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "a token must expire after it is issued");
    }
    int exists = 0;
    int err = cw__begin(st, diag, diag_len);
    if (err == 0) {
        err = row_exists(st, "SELECT count(*) FROM traveller WHERE id = ?", traveller, &exists,
                         diag, diag_len);
    }
    if (err == 0 && !exists) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no traveller %llu",
                          (unsigned long long)traveller);
    }
    if (err == 0) {
        err = cw__next_ids(st, 1, id, diag, diag_len);
    }
    if (err == 0) {
        cw__val_t p[4] = {cw__int((int64_t)*id), cw__int((int64_t)traveller), cw__int(now),
                          cw__int(expires_at)};
        err = cw__exec(st,
                       "INSERT INTO qr_token (id, traveller, issued_at, expires_at) VALUES (?, ?, "
                       "?, ?)",
                       p, 4, NULL, NULL, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[64];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)traveller);
        snprintf(detail, sizeof(detail), "token=%llu expires_at=%lld", (unsigned long long)*id,
                 (long long)expires_at);
        err = cw__audit_append(st, now, actor, "token_issue", subject, detail, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        *id = 0;
        return err;
    }
    err = cw__commit(st, diag, diag_len);
    if (err != 0) {
        *id = 0;
    }
    return err;
}

int cw_store_token_get(cw_store_t *st, uint64_t id, cw_store_token_t *out, char *diag,
                       size_t diag_len)
{
    if (st == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    memset(out, 0, sizeof(*out));
    cw__val_t p = cw__int((int64_t)id);
    cw__rows_t r;
    int err = cw__exec(st,
                       "SELECT id, traveller, issued_at, expires_at, revoked_at, last_used_at FROM "
                       "qr_token WHERE id = ?",
                       &p, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no token %llu", (unsigned long long)id);
    }
    if (err == 0) {
        out->id = (uint64_t)cw__cell(&r, 0, 0)->i;
        out->traveller = (uint64_t)cw__cell(&r, 0, 1)->i;
        out->issued_at = cw__cell(&r, 0, 2)->i;
        out->expires_at = cw__cell(&r, 0, 3)->i;
        out->revoked_at = cw__cell(&r, 0, 4)->i;
        out->last_used_at = cw__cell(&r, 0, 5)->i;
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_token_revoke(cw_store_t *st, uint64_t id, int64_t now, const char *actor, char *diag,
                          size_t diag_len)
{
    if (st == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store");
    }
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t p[2] = {cw__int(now), cw__int((int64_t)id)};
    cw__rows_t r;
    err = cw__exec(st,
                   "UPDATE qr_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                   "RETURNING traveller",
                   p, 2, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        int exists = 0;
        err = row_exists(st, "SELECT count(*) FROM qr_token WHERE id = ?", id, &exists, diag,
                         diag_len);
        if (err == 0 && !exists) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no token %llu", (unsigned long long)id);
        }
    } else if (err == 0) {
        char subject[32], detail[32];
        snprintf(subject, sizeof(subject), "traveller:%llu",
                 (unsigned long long)cw__cell(&r, 0, 0)->i);
        snprintf(detail, sizeof(detail), "token=%llu", (unsigned long long)id);
        err = cw__audit_append(st, now, actor, "token_revoke", subject, detail, diag, diag_len);
    }
    cw__rows_free(&r);
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_token_use(cw_store_t *st, uint64_t id, int64_t now, int64_t min_gap, int *ok,
                       const char **why, char *diag, size_t diag_len)
{
    if (st == NULL || ok == NULL || why == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *ok = 0;
    *why = "";
    if (min_gap < 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "negative anti-passback gap");
    }
    int64_t cutoff = now < INT64_MIN + min_gap ? INT64_MIN : now - min_gap;
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    // One statement decides: of two gates presenting the token at once, one UPDATE waits for the
    // other's row lock and then finds last_used_at too recent.
    cw__val_t p[4] = {cw__int(now), cw__int((int64_t)id), cw__int(now), cw__int(cutoff)};
    cw__rows_t r;
    err = cw__exec(st,
                   "UPDATE qr_token SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND "
                   "expires_at > ? AND (last_used_at IS NULL OR last_used_at <= ?) RETURNING "
                   "traveller",
                   p, 4, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 1) {
        char subject[32], detail[32];
        snprintf(subject, sizeof(subject), "traveller:%llu",
                 (unsigned long long)cw__cell(&r, 0, 0)->i);
        snprintf(detail, sizeof(detail), "token=%llu", (unsigned long long)id);
        err = cw__audit_append(st, now, "gate", "token_use", subject, detail, diag, diag_len);
        *ok = err == 0;
    } else if (err == 0) {
        cw__rows_t w;
        err = cw__exec(st, "SELECT revoked_at, expires_at FROM qr_token WHERE id = ?", p + 1, 1, &w,
                       NULL, diag, diag_len);
        if (err == 0 && w.n_rows == 0) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no token %llu", (unsigned long long)id);
        } else if (err == 0) {
            *why = cw__cell(&w, 0, 0)->t != CW__V_NULL ? "revoked"
                   : cw__cell(&w, 0, 1)->i <= now      ? "expired"
                                                       : "reused";
        }
        cw__rows_free(&w);
    }
    cw__rows_free(&r);
    if (err != 0) {
        *ok = 0;
        *why = "";
        cw__rollback(st);
        return err;
    }
    err = cw__commit(st, diag, diag_len);
    if (err != 0) {
        *ok = 0;
        *why = "";
    }
    return err;
}
