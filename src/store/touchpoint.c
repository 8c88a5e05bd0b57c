// SPDX-License-Identifier: Apache-2.0
// Flight-token touchpoints: a flight-token gate stands at one touchpoint (bag drop, security,
// immigration, boarding); each pass is recorded against the traveller's flight-token
// membership and its booking, so the clearance service can check the order of touchpoints for
// the flight in hand. Passes go with the membership (foreign key, ON DELETE CASCADE).
#include "store_internal.h"

#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {"none", "bag_drop", "security", "immigration", "boarding"};

const char *cw_touchpoint_name(cw_touchpoint_t t)
{
    return t >= CW_TOUCHPOINT_NONE && t <= CW_TOUCHPOINT_BOARDING ? names[t] : "none";
}

cw_touchpoint_t cw_touchpoint_parse(const char *s)
{
    for (int i = CW_TOUCHPOINT_BAG_DROP; s != NULL && i <= CW_TOUCHPOINT_BOARDING; i++) {
        if (strcmp(s, names[i]) == 0) {
            return (cw_touchpoint_t)i;
        }
    }
    return CW_TOUCHPOINT_NONE;
}

int cw_store_touchpoint_pass(cw_store_t *st, uint64_t traveller, cw_touchpoint_t t, uint64_t gate,
                             int64_t now, char *diag, size_t diag_len)
{
    if (st == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store");
    }
    if (t < CW_TOUCHPOINT_BAG_DROP || t > CW_TOUCHPOINT_BOARDING) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown touchpoint %d", (int)t);
    }
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t q[2] = {cw__int((int64_t)traveller), cw__int(CW_PROGRAMME_FLIGHT_TOKEN)};
    cw__rows_t m = {0}, g = {0};
    err = cw__exec(st, "SELECT id, booking FROM membership WHERE traveller = ? AND programme = ?",
                   q, 2, &m, NULL, diag, diag_len);
    if (err == 0 && (m.n_rows == 0 || cw__cell(&m, 0, 1)->t != CW__V_TEXT)) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "traveller %llu holds no flight token",
                          (unsigned long long)traveller);
    }
    cw__val_t gp = cw__int((int64_t)gate);
    if (err == 0) {
        err = cw__exec(st, "SELECT count(*) FROM gate WHERE id = ?", &gp, 1, &g, NULL, diag,
                       diag_len);
    }
    if (err == 0 && (g.n_rows != 1 || cw__cell(&g, 0, 0)->i == 0)) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate %llu", (unsigned long long)gate);
    }
    uint64_t id = 0;
    if (err == 0) {
        err = cw__next_ids(st, 1, &id, diag, diag_len);
    }
    if (err == 0) {
        cw__val_t p[7] = {cw__int((int64_t)id), cw__int((int64_t)traveller),
                          *cw__cell(&m, 0, 0),  *cw__cell(&m, 0, 1),
                          cw__int(t),           cw__int((int64_t)gate),
                          cw__int(now)};
        err = cw__exec(st,
                       "INSERT INTO touchpoint_pass (id, traveller, membership, booking, "
                       "touchpoint, gate, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       p, 7, NULL, NULL, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[64];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)traveller);
        snprintf(detail, sizeof(detail), "touchpoint=%s gate=%llu", cw_touchpoint_name(t),
                 (unsigned long long)gate);
        err = cw__audit_append(st, now, "gate", "touchpoint_pass", subject, detail, diag, diag_len);
    }
    cw__rows_free(&m);
    cw__rows_free(&g);
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_touchpoint_passed(cw_store_t *st, uint64_t traveller, uint32_t *mask, char *diag,
                               size_t diag_len)
{
    if (st == NULL || mask == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *mask = 0;
    // Only passes under the booking the membership holds now: a rebooked traveller starts over.
    cw__val_t p[2] = {cw__int((int64_t)traveller), cw__int(CW_PROGRAMME_FLIGHT_TOKEN)};
    cw__rows_t r;
    int err = cw__exec(st,
                       "SELECT DISTINCT t.touchpoint FROM touchpoint_pass t JOIN membership m ON "
                       "m.id = t.membership WHERE m.traveller = ? AND m.programme = ? AND "
                       "t.booking = m.booking",
                       p, 2, &r, NULL, diag, diag_len);
    uint32_t bits = 0;
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        int64_t t = cw__cell(&r, i, 0)->i;
        if (t < CW_TOUCHPOINT_BAG_DROP || t > CW_TOUCHPOINT_BOARDING) {
            err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "a stored touchpoint is unknown (%lld)",
                              (long long)t);
        } else {
            bits |= 1u << t;
        }
    }
    cw__rows_free(&r);
    if (err == 0) {
        *mask = bits;
    }
    return err;
}
