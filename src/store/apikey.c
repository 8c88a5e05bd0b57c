// SPDX-License-Identifier: Apache-2.0
// API keys: who may call the clearance service, with which role (a gate device bound to one
// gate, an officer, a clerk, an administrator). A key is "cwk_" and 43 base64url characters of
// 32 random bytes; it is shown once, and the store keeps only its BLAKE2b-256 hash, so a copy
// of the database yields no key that works. A key is found by its hash through the unique
// index: one lookup however many keys exist. Adding and revoking are audited with the actor;
// the key itself never reaches the log.
#include "store_internal.h"

#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

enum { KEY_RANDOM_BYTES = 32, KEY_PREFIX_LEN = 4 };

static const char key_prefix[] = "cwk_";
static const char *const role_names[] = {"?", "gate", "officer", "clerk", "admin"};

const char *cw_role_name(cw_role_t r)
{
    return r >= CW_ROLE_GATE && r <= CW_ROLE_ADMIN ? role_names[r] : "?";
}

cw_role_t cw_role_parse(const char *s)
{
    for (int i = CW_ROLE_GATE; s != NULL && i <= CW_ROLE_ADMIN; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            return (cw_role_t)i;
        }
    }
    return (cw_role_t)0;
}

static void key_hash(const char *key, size_t len, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)key, len, NULL, 0);
}

// "cwk_" and exactly 43 characters of the base64url alphabet.
static int key_well_formed(const char *key, size_t len)
{
    if (len != CW_STORE_APIKEY_LEN - 1 || memcmp(key, key_prefix, KEY_PREFIX_LEN) != 0) {
        return 0;
    }
    for (size_t i = KEY_PREFIX_LEN; i < len; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

// Columns: id, role, gate, label, created_at, revoked_at.
static int read_key(const cw__rows_t *r, size_t i, cw_store_apikey_t *out, char *diag,
                    size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    out->id = (uint64_t)cw__cell(r, i, 0)->i;
    out->role = (cw_role_t)cw__cell(r, i, 1)->i;
    out->gate = (uint64_t)cw__cell(r, i, 2)->i;
    out->created_at = cw__cell(r, i, 4)->i;
    out->revoked_at = cw__cell(r, i, 5)->i;
    if (cw__read_text(cw__cell(r, i, 3), out->label, sizeof(out->label)) != 0) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "API key %llu: label oversized",
                           (unsigned long long)out->id);
    }
    return 0;
}

int cw_store_apikey_add(cw_store_t *st, cw_role_t role, uint64_t gate, const char *label,
                        int64_t now, const char *actor, char key[CW_STORE_APIKEY_LEN], uint64_t *id,
                        char *diag, size_t diag_len)
{
    if (st == NULL || key == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    key[0] = '\0';
    if (role < CW_ROLE_GATE || role > CW_ROLE_ADMIN) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown role %d", (int)role);
    }
    if (role == CW_ROLE_GATE && gate == 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "a gate key needs the gate it serves");
    }
    if (role != CW_ROLE_GATE && gate != 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "only gate keys are bound to a gate");
    }
    label = label != NULL ? label : "";
    int err = cw__check_text(label, CW_STORE_LABEL_MAX, "label", 0, diag, diag_len);
    if (err == CW_ETOOBIG) {
        err = cw_diag_set(diag, diag_len, CW_EINVAL, "label longer than %d bytes",
                          CW_STORE_LABEL_MAX - 1);
    }
    if (err != 0) {
        return err;
    }
    unsigned char raw[KEY_RANDOM_BYTES], hash[32];
    char text[CW_STORE_APIKEY_LEN];
    randombytes_buf(raw, sizeof(raw));
    memcpy(text, key_prefix, KEY_PREFIX_LEN);
    sodium_bin2base64(text + KEY_PREFIX_LEN, sizeof(text) - KEY_PREFIX_LEN, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    key_hash(text, strlen(text), hash);
    err = cw__begin(st, diag, diag_len);
    if (err == 0) {
        err = cw__next_ids(st, 1, id, diag, diag_len);
    }
    if (err == 0 && role == CW_ROLE_GATE) {
        cw__val_t g = cw__int((int64_t)gate);
        cw__rows_t r;
        err =
            cw__exec(st, "SELECT count(*) FROM gate WHERE id = ?", &g, 1, &r, NULL, diag, diag_len);
        if (err == 0 && (r.n_rows != 1 || cw__cell(&r, 0, 0)->i == 0)) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate %llu", (unsigned long long)gate);
        }
        cw__rows_free(&r);
    }
    if (err == 0) {
        cw__val_t p[6] = {
            cw__int((int64_t)*id), cw__blob(hash, sizeof(hash)),
            cw__int(role),         gate != 0 ? cw__int((int64_t)gate) : cw__text(NULL),
            cw__text(label),       cw__int(now)};
        err = cw__exec(st,
                       "INSERT INTO api_key (id, hash, role, gate, label, created_at) VALUES (?, "
                       "?, ?, ?, ?, ?)",
                       p, 6, NULL, NULL, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[128];
        snprintf(subject, sizeof(subject), "apikey:%llu", (unsigned long long)*id);
        snprintf(detail, sizeof(detail), "role=%s gate=%llu label=%s", cw_role_name(role),
                 (unsigned long long)gate, label);
        err = cw__audit_append(st, now, actor, "apikey_add", subject, detail, diag, diag_len);
    }
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
    }
    if (err == 0) {
        memcpy(key, text, sizeof(text));
    } else {
        *id = 0;
    }
    sodium_memzero(text, sizeof(text));
    return err;
}

int cw_store_apikey_check(cw_store_t *st, const char *key, cw_store_apikey_t *out, char *diag,
                          size_t diag_len)
{
    if (st == NULL || key == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    memset(out, 0, sizeof(*out));
    size_t len = strnlen(key, CW_STORE_APIKEY_LEN);
    unsigned char hash[32];
    key_hash(key, len, hash); // also for malformed text: the same work either way
    if (!key_well_formed(key, len)) {
        return cw_diag_set(diag, diag_len, CW_ENOENT, "not an API key");
    }
    cw__val_t p = cw__blob(hash, sizeof(hash));
    cw__rows_t r;
    int err = cw__exec(st,
                       "SELECT id, role, gate, label, created_at, revoked_at FROM api_key WHERE "
                       "hash = ?",
                       &p, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "unknown API key");
    }
    cw_store_apikey_t k;
    if (err == 0) {
        err = read_key(&r, 0, &k, diag, diag_len);
    }
    if (err == 0 && k.revoked_at != 0) {
        err = cw_diag_set(diag, diag_len, CW_EPERM, "API key %llu was revoked",
                          (unsigned long long)k.id);
    }
    if (err == 0 && (k.role < CW_ROLE_GATE || k.role > CW_ROLE_ADMIN ||
                     (k.role == CW_ROLE_GATE) != (k.gate != 0))) {
        err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "API key %llu: role or gate malformed",
                          (unsigned long long)k.id);
    }
    if (err == 0) {
        *out = k;
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_apikey_revoke(cw_store_t *st, uint64_t id, int64_t now, const char *actor, char *diag,
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
    int64_t changed = 0;
    err = cw__exec(st, "UPDATE api_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", p,
                   2, NULL, &changed, diag, diag_len);
    if (err == 0 && changed == 0) {
        cw__rows_t r;
        err = cw__exec(st, "SELECT count(*) FROM api_key WHERE id = ?", p + 1, 1, &r, NULL, diag,
                       diag_len);
        if (err == 0 && (r.n_rows != 1 || cw__cell(&r, 0, 0)->i == 0)) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no API key %llu", (unsigned long long)id);
        }
        cw__rows_free(&r);
    }
    if (err == 0 && changed > 0) {
        char subject[32];
        snprintf(subject, sizeof(subject), "apikey:%llu", (unsigned long long)id);
        err = cw__audit_append(st, now, actor, "apikey_revoke", subject, "", diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_apikey_list(cw_store_t *st, cw_store_apikey_t *out, size_t cap, size_t *n, char *diag,
                         size_t diag_len)
{
    if (st == NULL || n == NULL || (out == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *n = 0;
    cw__rows_t r;
    int err = cw__exec(st,
                       "SELECT id, role, gate, label, created_at, revoked_at FROM api_key ORDER "
                       "BY id",
                       NULL, 0, &r, NULL, diag, diag_len);
    for (size_t i = 0; err == 0 && i < r.n_rows && i < cap; i++) {
        err = read_key(&r, i, &out[i], diag, diag_len);
    }
    if (err == 0) {
        *n = r.n_rows;
    }
    cw__rows_free(&r);
    return err;
}
