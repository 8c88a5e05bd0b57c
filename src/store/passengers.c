// SPDX-License-Identifier: Apache-2.0
// Passenger totals: the port operator's count of departing and arriving passengers per port
// and local (UTC+8) day, entered by an administrator. They are the denominator of the share
// of passengers who used a mode, so they are keyed by the same local day number the clearance
// reports group by (days since 1970-01-01 of the UTC+8 date), and setting a day again replaces
// its figures (the operator corrects them) with an audit entry each time.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
static int64_t day_number(const cw_date_t *d)
{
    int y = d->year - (d->month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (d->month + (d->month > 2 ? -3 : 9)) + 2) / 5 + d->day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int check_count(int64_t v, const char *what, char *diag, size_t diag_len)
{
    if (v < 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s must not be negative", what);
    }
    if (v > CW_STORE_PASSENGERS_MAX) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "%s above %d is not a day's count", what,
                           CW_STORE_PASSENGERS_MAX);
    }
    return 0;
}

int cw_store_passengers_set(cw_store_t *st, const char *port_code, const cw_date_t *day,
                            int64_t departing, int64_t arriving, int64_t now, const char *actor,
                            char *diag, size_t diag_len)
{
    if (st == NULL || port_code == NULL || day == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (!cw_date_valid(day)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "invalid day");
    }
    int err = cw__check_text(port_code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    if (err == 0) {
        err = check_count(departing, "departing", diag, diag_len);
    }
    if (err == 0) {
        err = check_count(arriving, "arriving", diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t code = cw__text(port_code);
    cw__rows_t r = {0};
    err = cw__exec(st, "SELECT id FROM port WHERE code = ?", &code, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no port '%s'", port_code);
    }
    if (err == 0) {
        cw__val_t p[5] = {cw__int(cw__cell(&r, 0, 0)->i), cw__int(day_number(day)),
                          cw__int(departing), cw__int(arriving), cw__int(now)};
        // ON CONFLICT ... DO UPDATE is spelled the same on SQLite (3.24+) and PostgreSQL.
        err = cw__exec(st,
                       "INSERT INTO port_passengers (port, day, departing, arriving, updated_at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (port, day) DO UPDATE SET departing = "
                       "excluded.departing, arriving = excluded.arriving, updated_at = "
                       "excluded.updated_at",
                       p, 5, NULL, NULL, diag, diag_len);
    }
    cw__rows_free(&r);
    if (err == 0) {
        char subject[64], detail[64], d[11];
        cw__date_format(day, d);
        snprintf(subject, sizeof(subject), "passengers:%s/%s", port_code, d);
        snprintf(detail, sizeof(detail), "departing=%lld arriving=%lld", (long long)departing,
                 (long long)arriving);
        err = cw__audit_append(st, now, actor != NULL ? actor : "", "passengers_set", subject,
                               detail, diag, diag_len);
    }
    if (err == 0) {
        return cw__commit(st, diag, diag_len);
    }
    cw__rollback(st);
    return err;
}

static int passengers_cmp(const void *a, const void *b)
{
    const cw_store_passengers_t *x = a, *y = b;
    int64_t dx = day_number(&x->day), dy = day_number(&y->day);
    if (dx != dy) {
        return dx < dy ? -1 : 1;
    }
    return strcmp(x->port, y->port);
}

#define PASSENGERS_SQL                                                                             \
    "SELECT n.day, p.code, n.departing, n.arriving FROM port_passengers n JOIN port p ON p.id = "  \
    "n.port WHERE n.day >= ? AND n.day <= ? "

int cw_store_passengers_each(cw_store_t *st, const cw_date_t *from, const cw_date_t *to,
                             const char *port_code, cw_store_passengers_fn fn, void *ctx,
                             char *diag, size_t diag_len)
{
    if (st == NULL || from == NULL || to == NULL || fn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (!cw_date_valid(from) || !cw_date_valid(to)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "invalid day");
    }
    int err = 0;
    if (port_code != NULL) {
        err = cw__check_text(port_code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    cw__val_t p[3] = {cw__int(day_number(from)), cw__int(day_number(to)), cw__text(port_code)};
    cw__rows_t r = {0};
    err = port_code != NULL
              ? cw__exec(st, PASSENGERS_SQL "AND p.code = ?", p, 3, &r, NULL, diag, diag_len)
              : cw__exec(st, PASSENGERS_SQL, p, 2, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw_store_passengers_t *rows = r.n_rows > 0 ? cw_calloc(r.n_rows, sizeof(*rows)) : NULL;
    if (r.n_rows > 0 && rows == NULL) {
        err = cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        cw_store_passengers_t *o = &rows[i];
        // Local midnight of day n is n * 86400 - 8 h; its local date is day n.
        o->day = cw_date_local(cw__cell(&r, i, 0)->i * 86400 - 28800);
        o->departing = cw__cell(&r, i, 2)->i;
        o->arriving = cw__cell(&r, i, 3)->i;
        if (cw__read_text(cw__cell(&r, i, 1), o->port, sizeof(o->port)) != 0) {
            err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "a stored port code is oversized");
        }
    }
    // Sorted here rather than in SQL: text collation differs between the backends.
    if (err == 0 && r.n_rows > 1) {
        qsort(rows, r.n_rows, sizeof(*rows), passengers_cmp);
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        err = fn(ctx, &rows[i]);
    }
    cw_free(rows);
    cw__rows_free(&r);
    return err;
}
