// SPDX-License-Identifier: Apache-2.0
// The officers' endpoints: the referral queue (newest first, paged by id), a transaction's
// timeline (its steps and the audit entries about it), the resolution of a referral, and the
// daily report of clearances by port, programme, decision and reason with the ports' passenger
// totals of the same days.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *decision_name(cw_clearance_decision_t d)
{
    switch (d) {
    case CW_CLEARANCE_OPEN:
        return "open";
    case CW_CLEARANCE_CLEARED:
        return "cleared";
    case CW_CLEARANCE_REFERRED:
        return "referred";
    case CW_CLEARANCE_REJECTED:
        return "rejected";
    }
    return "?";
}

static json_t *clearance_json(cw_store_t *st, const cw_store_clearance_t *c)
{
    char gate[2 * CW_STORE_CODE_MAX + 8];
    cw__gate_name(st, c->gate, gate, sizeof(gate));
    json_t *o = json_object();
    json_object_set_new(o, "txn", json_integer((json_int_t)c->id));
    json_object_set_new(o, "gate", json_string(gate));
    json_object_set_new(o, "programme", json_string(cw_programme_name(c->programme)));
    json_object_set_new(o, "traveller",
                        c->traveller != 0 ? json_integer((json_int_t)c->traveller) : json_null());
    json_object_set_new(o, "started_at", json_integer(c->started_at));
    json_object_set_new(o, "ended_at", c->ended_at != 0 ? json_integer(c->ended_at) : json_null());
    json_object_set_new(o, "decision", json_string(decision_name(c->decision)));
    json_object_set_new(o, "reason", json_string(c->reason));
    if (c->resolved_at != 0) {
        json_t *res = json_object();
        json_object_set_new(res, "at", json_integer(c->resolved_at));
        json_object_set_new(res, "outcome", json_string(decision_name(c->outcome)));
        json_object_set_new(res, "by", json_string(c->resolved_by));
        json_object_set_new(res, "note", json_string(c->note));
        json_object_set_new(o, "resolution", res);
    } else {
        json_object_set_new(o, "resolution", json_null());
    }
    return o;
}

// ---- the referral queue ----

enum { LIMIT_DEFAULT = 50, LIMIT_MAX = 500 };

typedef struct referrals_ctx {
    int open_only;
    uint64_t before;
    size_t limit;
    cw_store_clearance_t *rows;
    json_t *list;
    size_t n;
    char diag[256];
} referrals_ctx_t;

static int referrals_fn(void *ctx, cw_store_t *st)
{
    referrals_ctx_t *q = ctx;
    int err = cw_store_referrals(st, q->open_only, q->before, q->rows, q->limit, &q->n, q->diag,
                                 sizeof(q->diag));
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < q->n && i < q->limit; i++) {
        json_array_append_new(q->list, clearance_json(st, &q->rows[i]));
    }
    return 0;
}

static int query_flag(const char *v, int *out)
{
    if (v == NULL) {
        return 0;
    }
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
        *out = 1;
    } else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
        *out = 0;
    } else {
        return -1;
    }
    return 0;
}

void cw__h_referrals(cw__req_t *r, json_t *body)
{
    (void)body;
    static const char *const keys[] = {"open", "before", "limit", NULL};
    if (cw__query_allow(r, keys) != 0) {
        return;
    }
    referrals_ctx_t q = {.limit = LIMIT_DEFAULT};
    const char *v;
    uint64_t u;
    if (query_flag(cw__query(r, "open"), &q.open_only) != 0) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_PARAMETER", "open must be 1 or 0");
        return;
    }
    if ((v = cw__query(r, "before")) != NULL) {
        if (cw__parse_u64(v, &q.before) != 0) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_PARAMETER", "before must be a transaction id");
            return;
        }
    }
    if ((v = cw__query(r, "limit")) != NULL) {
        if (cw__parse_u64(v, &u) != 0 || u < 1 || u > LIMIT_MAX) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_PARAMETER", "limit must be in 1..%d",
                            LIMIT_MAX);
            return;
        }
        q.limit = (size_t)u;
    }
    snprintf(r->subject, sizeof(r->subject), "referrals");
    q.rows = cw_calloc(q.limit, sizeof(*q.rows));
    q.list = json_array();
    if (q.rows == NULL || q.list == NULL) {
        cw_free(q.rows);
        json_decref(q.list);
        cw__reply_error(r, 500, CW_ENOMEM, "INTERNAL", "out of memory");
        return;
    }
    int err = cw__with_store(r, referrals_fn, &q);
    size_t got = q.n < q.limit ? q.n : q.limit;
    uint64_t last = got > 0 ? q.rows[got - 1].id : 0;
    cw_free_wipe(q.rows, q.limit * sizeof(*q.rows));
    if (err != 0) {
        json_decref(q.list);
        cw__reply_err(r, err, q.diag, NULL, 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "referrals", q.list);
    json_object_set_new(o, "next_before",
                        got == q.limit && last != 0 ? json_integer((json_int_t)last) : json_null());
    cw__reply_json(r, 200, o);
}

// ---- a transaction's timeline ----

enum { MAX_STEPS = 256, MAX_AUDIT = 1000 };

typedef struct timeline_ctx {
    uint64_t txn;
    json_t *out;
    json_t *audit;
    char diag[256];
} timeline_ctx_t;

static int audit_row(void *ctx, const cw_store_audit_entry_t *e)
{
    timeline_ctx_t *t = ctx;
    if (json_array_size(t->audit) >= MAX_AUDIT) {
        return 1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "at", json_integer(e->at));
    json_object_set_new(o, "actor", json_string(e->actor != NULL ? e->actor : ""));
    json_object_set_new(o, "action", json_string(e->action != NULL ? e->action : ""));
    json_object_set_new(o, "detail", json_string(e->detail != NULL ? e->detail : ""));
    json_array_append_new(t->audit, o);
    return 0;
}

static int timeline_fn(void *ctx, cw_store_t *st)
{
    timeline_ctx_t *t = ctx;
    cw_store_clearance_t c;
    size_t n = 0;
    cw_store_clearance_step_t *steps = cw_calloc(MAX_STEPS, sizeof(*steps));
    if (steps == NULL) {
        return CW_ENOMEM;
    }
    int err =
        cw_store_clearance_get(st, t->txn, &c, steps, MAX_STEPS, &n, t->diag, sizeof(t->diag));
    if (err == 0) {
        t->out = clearance_json(st, &c);
        json_t *js = json_array();
        for (size_t i = 0; i < n && i < MAX_STEPS; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "at", json_integer(steps[i].at));
            json_object_set_new(o, "step", json_string(steps[i].step));
            json_object_set_new(o, "result", json_string(steps[i].result));
            json_object_set_new(o, "score",
                                isfinite(steps[i].score) ? json_real(steps[i].score) : json_null());
            json_array_append_new(js, o);
        }
        json_object_set_new(t->out, "steps", js);
        char subject[64];
        snprintf(subject, sizeof(subject), "clearance:%llu", (unsigned long long)t->txn);
        t->audit = json_array();
        err = cw_store_audit_each(st, subject, 0, audit_row, t, t->diag, sizeof(t->diag));
        err = err == 1 ? 0 : err;
        json_object_set_new(t->out, "audit", t->audit);
    }
    cw_free(steps);
    return err;
}

void cw__h_clearance_get(cw__req_t *r, json_t *body)
{
    (void)body;
    timeline_ctx_t t = {0};
    snprintf(r->subject, sizeof(r->subject), "clearance:%.60s", r->params[0]);
    if (cw__parse_u64(r->params[0], &t.txn) != 0) {
        cw__reply_error(r, 404, CW_ENOENT, "UNKNOWN_TXN", "no transaction '%.64s'", r->params[0]);
        return;
    }
    int err = cw__with_store(r, timeline_fn, &t);
    if (err != 0) {
        json_decref(t.out);
        cw__reply_err(r, err, t.diag, "UNKNOWN_TXN", 1);
        return;
    }
    cw__reply_json(r, 200, t.out);
}

// ---- resolving a referral ----

typedef struct resolve_ctx {
    uint64_t txn;
    cw_clearance_decision_t outcome;
    const char *officer, *note;
    json_t *out;
    char diag[256];
} resolve_ctx_t;

static int resolve_fn(void *ctx, cw_store_t *st)
{
    resolve_ctx_t *c = ctx;
    int err = cw_store_referral_resolve(st, c->txn, cw__now(), c->outcome, c->officer, c->note,
                                        c->diag, sizeof(c->diag));
    cw_store_clearance_t row;
    size_t n = 0;
    if (err == 0) {
        err = cw_store_clearance_get(st, c->txn, &row, NULL, 0, &n, c->diag, sizeof(c->diag));
    }
    if (err == 0) {
        c->out = clearance_json(st, &row);
    }
    return err;
}

void cw__h_referral_resolve(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"outcome", "note", NULL};
    resolve_ctx_t c = {.officer = r->actor, .note = ""};
    const char *outcome = NULL;
    snprintf(r->subject, sizeof(r->subject), "clearance:%.60s", r->params[0]);
    if (cw__parse_u64(r->params[0], &c.txn) != 0) {
        cw__reply_error(r, 404, CW_ENOENT, "UNKNOWN_TXN", "no transaction '%.64s'", r->params[0]);
        return;
    }
    if (cw__body_allow(r, body, NULL, keys) || cw__get_string(r, body, "outcome", 1, &outcome) ||
        cw__get_string(r, body, "note", 0, &c.note)) {
        return;
    }
    if (strcmp(outcome, "cleared") == 0) {
        c.outcome = CW_CLEARANCE_CLEARED;
    } else if (strcmp(outcome, "rejected") == 0) {
        c.outcome = CW_CLEARANCE_REJECTED;
    } else {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "outcome must be \"cleared\" or \"rejected\"");
        return;
    }
    if (strlen(c.note) >= CW_STORE_NOTE_MAX) {
        cw__reply_error(r, 400, CW_ETOOBIG, "BAD_FIELD", "note is longer than %d bytes",
                        CW_STORE_NOTE_MAX - 1);
        return;
    }
    int err = cw__with_store(r, resolve_fn, &c);
    if (err == CW_ESTATE) {
        json_decref(c.out);
        cw__reply_error(r, 409, err, "STATE_CONFLICT",
                        "transaction %llu is not an open referral (not referred, or resolved)",
                        (unsigned long long)c.txn);
        return;
    }
    if (err != 0) {
        json_decref(c.out);
        cw__reply_err(r, err, c.diag, "UNKNOWN_TXN", 1);
        return;
    }
    cw__reply_json(r, 200, c.out);
}

// ---- reports ----

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// The instant local (UTC+8) midnight begins date d.
static int64_t local_midnight(const cw_date_t *d)
{
    return days_from_civil(d->year, d->month, d->day) * 86400 - 8 * 3600;
}

typedef struct report_ctx {
    int64_t from, to;
    cw_date_t df, dt;
    const char *port;
    json_t *rows, *passengers;
    char diag[256];
} report_ctx_t;

static int report_row(void *ctx, const cw_store_report_row_t *row)
{
    report_ctx_t *c = ctx;
    char day[16];
    snprintf(day, sizeof(day), "%04d-%02d-%02d", row->day.year, row->day.month, row->day.day);
    json_t *o = json_object();
    json_object_set_new(o, "day", json_string(day));
    json_object_set_new(o, "port", json_string(row->port));
    json_object_set_new(o, "programme", json_string(cw_programme_name(row->programme)));
    json_object_set_new(o, "decision", json_string(decision_name(row->decision)));
    json_object_set_new(o, "reason", json_string(row->reason));
    json_object_set_new(o, "count", json_integer((json_int_t)row->count));
    json_array_append_new(c->rows, o);
    return 0;
}

static int passengers_row(void *ctx, const cw_store_passengers_t *row)
{
    report_ctx_t *c = ctx;
    char day[16];
    snprintf(day, sizeof(day), "%04d-%02d-%02d", row->day.year, row->day.month, row->day.day);
    json_t *o = json_object();
    json_object_set_new(o, "day", json_string(day));
    json_object_set_new(o, "port", json_string(row->port));
    json_object_set_new(o, "departing", json_integer((json_int_t)row->departing));
    json_object_set_new(o, "arriving", json_integer((json_int_t)row->arriving));
    json_array_append_new(c->passengers, o);
    return 0;
}

static int report_fn(void *ctx, cw_store_t *st)
{
    report_ctx_t *c = ctx;
    int err =
        cw_store_report_each(st, c->from, c->to, c->port, report_row, c, c->diag, sizeof(c->diag));
    if (err == 0) {
        err = cw_store_passengers_each(st, &c->df, &c->dt, c->port, passengers_row, c, c->diag,
                                       sizeof(c->diag));
    }
    return err;
}

void cw__h_reports(cw__req_t *r, json_t *body)
{
    (void)body;
    static const char *const keys[] = {"from", "to", "port", NULL};
    if (cw__query_allow(r, keys) != 0) {
        return;
    }
    const char *from = cw__query(r, "from"), *to = cw__query(r, "to");
    cw_date_t df, dt;
    if (from == NULL || to == NULL || cw_date_parse(from, &df) != 0 ||
        cw_date_parse(to, &dt) != 0) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_PARAMETER",
                        "from and to are required, as dates YYYY-MM-DD (to is inclusive)");
        return;
    }
    report_ctx_t c = {
        .from = local_midnight(&df), .to = local_midnight(&dt) + 86400, .df = df, .dt = dt};
    c.port = cw__query(r, "port");
    if (c.to <= c.from || c.to - c.from > 3700LL * 86400) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_PARAMETER",
                        "to must not be before from, and the range at most ten years");
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "report:%s..%s%s%.24s", from, to,
             c.port != NULL ? "@" : "", c.port != NULL ? c.port : "");
    c.rows = json_array();
    c.passengers = json_array();
    int err = cw__with_store(r, report_fn, &c);
    if (err != 0) {
        json_decref(c.rows);
        json_decref(c.passengers);
        cw__reply_err(r, err, c.diag, NULL, 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "from", json_string(from));
    json_object_set_new(o, "to", json_string(to));
    json_object_set_new(o, "port", c.port != NULL ? json_string(c.port) : json_null());
    json_object_set_new(o, "rows", c.rows);
    json_object_set_new(o, "passengers", c.passengers);
    cw__reply_json(r, 200, o);
}
