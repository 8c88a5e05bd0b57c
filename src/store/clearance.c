// SPDX-License-Identifier: Apache-2.0
// Ports, gates and clearance transactions: each transaction records the gate, the programme,
// the traveller once identified, every step with its result, and the decision with its reason,
// which is also written to the audit log. Referred transactions form the officers' queue; an
// officer's resolution (outcome, name, a note sealed like the personal fields) is added to the
// transaction. Reports count transactions by local day, port, programme, decision and reason.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cw_store_port_add(cw_store_t *st, const char *code, const char *name, uint64_t *id, char *diag,
                      size_t diag_len)
{
    if (st == NULL || code == NULL || name == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__check_text(code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    if (err == 0) {
        err = cw__check_text(name, CW_STORE_NAME_MAX, "port name", 1, diag, diag_len);
    }
    if (err == 0) {
        err = cw__begin(st, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    err = cw__next_ids(st, 1, id, diag, diag_len);
    cw__val_t p[3] = {cw__int((int64_t)*id), cw__text(code), cw__text(name)};
    if (err == 0) {
        err = cw__exec(st, "INSERT INTO port (id, code, name) VALUES (?, ?, ?)", p, 3, NULL, NULL,
                       diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_gate_add(cw_store_t *st, uint64_t port, const char *code, cw_programme_t programme,
                      uint64_t *id, char *diag, size_t diag_len)
{
    if (st == NULL || code == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (programme < CW_PROGRAMME_DOCUMENT_FREE || programme > CW_PROGRAMME_CLOSED_AREA) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown programme %d", (int)programme);
    }
    int err = cw__check_text(code, CW_STORE_CODE_MAX, "gate code", 1, diag, diag_len);
    if (err == 0) {
        err = cw__begin(st, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    err = cw__next_ids(st, 1, id, diag, diag_len);
    cw__val_t p[4] = {cw__int((int64_t)*id), cw__int((int64_t)port), cw__text(code),
                      cw__int(programme)};
    if (err == 0) {
        err = cw__exec(st, "INSERT INTO gate (id, port, code, programme) VALUES (?, ?, ?, ?)", p, 4,
                       NULL, NULL, diag, diag_len);
        if (err == CW_EINVAL) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no port %llu", (unsigned long long)port);
        }
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_port_find(cw_store_t *st, const char *code, uint64_t *id, char *diag, size_t diag_len)
{
    if (st == NULL || code == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__check_text(code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t p = cw__text(code);
    cw__rows_t r;
    err = cw__exec(st, "SELECT id FROM port WHERE code = ?", &p, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no port '%s'", code);
    }
    if (err == 0) {
        *id = (uint64_t)cw__cell(&r, 0, 0)->i;
    }
    cw__rows_free(&r);
    return err;
}

// Columns: g.id, g.port, p.code, g.code, g.programme, g.touchpoint.
#define GATE_COLUMNS                                                                               \
    "SELECT g.id, g.port, p.code, g.code, g.programme, g.touchpoint FROM gate g JOIN port p ON "   \
    "p.id = g.port "

static int read_gate(const cw__rows_t *r, cw_store_gate_t *out, char *diag, size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    const cw__val_t *pc = cw__cell(r, 0, 2), *gc = cw__cell(r, 0, 3);
    if (pc->t != CW__V_TEXT || pc->n >= sizeof(out->port_code) || gc->t != CW__V_TEXT ||
        gc->n >= sizeof(out->code)) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "a stored gate code is malformed");
    }
    out->id = (uint64_t)cw__cell(r, 0, 0)->i;
    out->port = (uint64_t)cw__cell(r, 0, 1)->i;
    memcpy(out->port_code, pc->p, pc->n + 1);
    memcpy(out->code, gc->p, gc->n + 1);
    out->programme = (cw_programme_t)cw__cell(r, 0, 4)->i;
    out->touchpoint = (int)cw__cell(r, 0, 5)->i;
    return 0;
}

int cw_store_gate_find(cw_store_t *st, const char *port_code, const char *gate_code,
                       cw_store_gate_t *out, char *diag, size_t diag_len)
{
    if (st == NULL || port_code == NULL || gate_code == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__check_text(port_code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    if (err == 0) {
        err = cw__check_text(gate_code, CW_STORE_CODE_MAX, "gate code", 1, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    cw__val_t p[2] = {cw__text(port_code), cw__text(gate_code)};
    cw__rows_t r;
    err = cw__exec(st, GATE_COLUMNS "WHERE p.code = ? AND g.code = ?", p, 2, &r, NULL, diag,
                   diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate '%s' at port '%s'", gate_code,
                          port_code);
    }
    if (err == 0) {
        err = read_gate(&r, out, diag, diag_len);
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_gate_get(cw_store_t *st, uint64_t id, cw_store_gate_t *out, char *diag,
                      size_t diag_len)
{
    if (st == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    cw__val_t p = cw__int((int64_t)id);
    cw__rows_t r;
    int err = cw__exec(st, GATE_COLUMNS "WHERE g.id = ?", &p, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate %llu", (unsigned long long)id);
    }
    if (err == 0) {
        err = read_gate(&r, out, diag, diag_len);
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_gate_set_touchpoint(cw_store_t *st, uint64_t gate, int touchpoint, char *diag,
                                 size_t diag_len)
{
    if (st == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store");
    }
    if (touchpoint < CW_TOUCHPOINT_NONE || touchpoint > CW_TOUCHPOINT_BOARDING) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown touchpoint %d", touchpoint);
    }
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t p[2] = {cw__int(touchpoint), cw__int((int64_t)gate)};
    cw__rows_t r;
    err =
        cw__exec(st, "SELECT programme FROM gate WHERE id = ?", p + 1, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate %llu", (unsigned long long)gate);
    } else if (err == 0 && touchpoint != CW_TOUCHPOINT_NONE &&
               cw__cell(&r, 0, 0)->i != CW_PROGRAMME_FLIGHT_TOKEN) {
        err = cw_diag_set(diag, diag_len, CW_EINVAL,
                          "gate %llu is not a flight-token gate: it has no touchpoint",
                          (unsigned long long)gate);
    }
    cw__rows_free(&r);
    if (err == 0) {
        err = cw__exec(st, "UPDATE gate SET touchpoint = ? WHERE id = ?", p, 2, NULL, NULL, diag,
                       diag_len);
    }
    if (err == 0) {
        char subject[32], detail[32];
        snprintf(subject, sizeof(subject), "gate:%llu", (unsigned long long)gate);
        snprintf(detail, sizeof(detail), "touchpoint=%s",
                 cw_touchpoint_name((cw_touchpoint_t)touchpoint));
        err = cw__audit_append(st, 0, "config", "gate_touchpoint", subject, detail, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_clearance_begin(cw_store_t *st, uint64_t gate, uint64_t traveller,
                             cw_programme_t programme, int64_t now, uint64_t *txn, char *diag,
                             size_t diag_len)
{
    if (st == NULL || txn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    err = cw__next_ids(st, 1, txn, diag, diag_len);
    cw__val_t p[5] = {cw__int((int64_t)*txn), cw__int((int64_t)gate),
                      traveller ? cw__int((int64_t)traveller) : cw__text(NULL), cw__int(programme),
                      cw__int(now)};
    if (err == 0) {
        err = cw__exec(st,
                       "INSERT INTO clearance (id, gate, traveller, programme, started_at) VALUES "
                       "(?, ?, ?, ?, ?)",
                       p, 5, NULL, NULL, diag, diag_len);
        if (err == CW_EINVAL) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no gate %llu", (unsigned long long)gate);
        }
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_clearance_step(cw_store_t *st, uint64_t txn, int64_t now, const char *step,
                            const char *result, double score, char *diag, size_t diag_len)
{
    if (st == NULL || step == NULL || result == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__check_text(step, 64, "step", 1, diag, diag_len);
    if (err == 0) {
        err = cw__check_text(result, 256, "result", 1, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    // Parameters in statement order: id, at, step, result, score, id.
    cw__val_t q[6] = {cw__int((int64_t)txn),
                      cw__int(now),
                      cw__text(step),
                      cw__text(result),
                      isfinite(score) ? cw__real(score) : cw__text(NULL),
                      cw__int((int64_t)txn)};
    err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__rows_t r;
    err =
        cw__exec(st, "SELECT decision FROM clearance WHERE id = ?", q, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no clearance %llu", (unsigned long long)txn);
    } else if (err == 0 && cw__cell(&r, 0, 0)->i != CW_CLEARANCE_OPEN) {
        err = cw_diag_set(diag, diag_len, CW_ESTATE, "clearance %llu is decided already",
                          (unsigned long long)txn);
    }
    cw__rows_free(&r);
    if (err == 0) {
        err = cw__exec(st,
                       "INSERT INTO clearance_step (clearance, seq, at, step, result, score) "
                       "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM clearance_step "
                       "WHERE clearance = ?",
                       q, 6, NULL, NULL, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

// Why an UPDATE ... WHERE decision = 0 changed nothing: no such transaction, or decided.
static int not_open(cw_store_t *st, uint64_t txn, char *diag, size_t diag_len)
{
    cw__val_t p = cw__int((int64_t)txn);
    cw__rows_t r;
    int err = cw__exec(st, "SELECT decision FROM clearance WHERE id = ?", &p, 1, &r, NULL, diag,
                       diag_len);
    if (err == 0) {
        err = r.n_rows == 0
                  ? cw_diag_set(diag, diag_len, CW_ENOENT, "no clearance %llu",
                                (unsigned long long)txn)
                  : cw_diag_set(diag, diag_len, CW_ESTATE, "clearance %llu is decided already",
                                (unsigned long long)txn);
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_clearance_end(cw_store_t *st, uint64_t txn, int64_t now,
                           cw_clearance_decision_t decision, char *diag, size_t diag_len)
{
    if (st == NULL || decision < CW_CLEARANCE_CLEARED || decision > CW_CLEARANCE_REJECTED) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "bad argument");
    }
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t p[3] = {cw__int(now), cw__int(decision), cw__int((int64_t)txn)};
    int64_t changed = 0;
    err = cw__exec(st,
                   "UPDATE clearance SET ended_at = ?, decision = ? WHERE id = ? AND decision = 0",
                   p, 3, NULL, &changed, diag, diag_len);
    if (err == 0 && changed == 0) {
        err = not_open(st, txn, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[32];
        snprintf(subject, sizeof(subject), "clearance:%llu", (unsigned long long)txn);
        snprintf(detail, sizeof(detail), "decision=%d", (int)decision);
        err = cw__audit_append(st, now, "gate", "clearance", subject, detail, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

int cw_store_clearance_finish(cw_store_t *st, uint64_t txn, int64_t now,
                              cw_clearance_decision_t decision, const char *reason,
                              uint64_t traveller, char *diag, size_t diag_len)
{
    if (st == NULL || decision < CW_CLEARANCE_CLEARED || decision > CW_CLEARANCE_REJECTED) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "bad argument");
    }
    reason = reason != NULL ? reason : "";
    int err = cw__check_text(reason, CW_STORE_REASON_MAX, "reason", 0, diag, diag_len);
    if (err == 0) {
        err = cw__begin(st, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    // A traveller identified at begin stays when the end names none.
    cw__val_t p[5] = {cw__int(now), cw__int(decision), cw__text(reason),
                      traveller != 0 ? cw__int((int64_t)traveller) : cw__text(NULL),
                      cw__int((int64_t)txn)};
    int64_t changed = 0;
    err = cw__exec(st,
                   "UPDATE clearance SET ended_at = ?, decision = ?, reason = ?, traveller = "
                   "COALESCE(?, traveller) WHERE id = ? AND decision = 0",
                   p, 5, NULL, &changed, diag, diag_len);
    if (err == 0 && changed == 0) {
        err = not_open(st, txn, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[96];
        snprintf(subject, sizeof(subject), "clearance:%llu", (unsigned long long)txn);
        snprintf(detail, sizeof(detail), "decision=%d reason=%s traveller=%llu", (int)decision,
                 reason, (unsigned long long)traveller);
        err = cw__audit_append(st, now, "gate", "clearance", subject, detail, diag, diag_len);
    }
    if (err != 0) {
        cw__rollback(st);
        return err;
    }
    return cw__commit(st, diag, diag_len);
}

// Columns read by read_clearance, in order.
#define CLEARANCE_COLUMNS                                                                          \
    "SELECT id, gate, traveller, programme, started_at, ended_at, decision, reason, resolved_at, " \
    "outcome, resolved_by, note FROM clearance "

static int read_clearance(cw_store_t *st, const cw__rows_t *r, size_t i, cw_store_clearance_t *out,
                          char *diag, size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    out->id = (uint64_t)cw__cell(r, i, 0)->i;
    out->gate = (uint64_t)cw__cell(r, i, 1)->i;
    out->traveller = (uint64_t)cw__cell(r, i, 2)->i;
    out->programme = (cw_programme_t)cw__cell(r, i, 3)->i;
    out->started_at = cw__cell(r, i, 4)->i;
    out->ended_at = cw__cell(r, i, 5)->i;
    out->decision = (cw_clearance_decision_t)cw__cell(r, i, 6)->i;
    out->resolved_at = cw__cell(r, i, 8)->i;
    out->outcome = (cw_clearance_decision_t)cw__cell(r, i, 9)->i;
    if (cw__read_text(cw__cell(r, i, 7), out->reason, sizeof(out->reason)) != 0 ||
        cw__read_text(cw__cell(r, i, 10), out->resolved_by, sizeof(out->resolved_by)) != 0) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "clearance %llu: a text is oversized",
                           (unsigned long long)out->id);
    }
    const cw__val_t *v = cw__cell(r, i, 11);
    if (v->t == CW__V_NULL) {
        return 0;
    }
    unsigned char *pt = NULL;
    size_t len = 0;
    int err = cw__open(&st->ring, "clearance.note", out->id, v->p, v->n, &pt, &len, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (len >= sizeof(out->note)) {
        err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "clearance %llu: note oversized",
                          (unsigned long long)out->id);
    } else {
        memcpy(out->note, pt, len + 1);
    }
    cw_free_wipe(pt, len + 1);
    return err;
}

// A text cell into dst, cut at a character boundary when longer than cap - 1 bytes.
static void copy_cut(char *dst, size_t cap, const cw__val_t *v)
{
    const char *s = v->t == CW__V_TEXT ? v->p : "";
    size_t n = v->t == CW__V_TEXT ? v->n : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
            n--; // s[n] continues a UTF-8 character: cut before that character
        }
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int cw_store_clearance_get(cw_store_t *st, uint64_t txn, cw_store_clearance_t *out,
                           cw_store_clearance_step_t *steps, size_t cap, size_t *n_steps,
                           char *diag, size_t diag_len)
{
    if (st == NULL || out == NULL || n_steps == NULL || (steps == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    memset(out, 0, sizeof(*out));
    *n_steps = 0;
    cw__val_t p = cw__int((int64_t)txn);
    cw__rows_t r, s = {0};
    int err = cw__exec(st, CLEARANCE_COLUMNS "WHERE id = ?", &p, 1, &r, NULL, diag, diag_len);
    if (err == 0 && r.n_rows == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no clearance %llu", (unsigned long long)txn);
    }
    if (err == 0) {
        err = read_clearance(st, &r, 0, out, diag, diag_len);
    }
    cw__rows_free(&r);
    if (err == 0) {
        err = cw__exec(st,
                       "SELECT at, step, result, score FROM clearance_step WHERE clearance = ? "
                       "ORDER BY seq",
                       &p, 1, &s, NULL, diag, diag_len);
    }
    for (size_t i = 0; err == 0 && i < s.n_rows && i < cap; i++) {
        cw_store_clearance_step_t *o = &steps[i];
        const cw__val_t *score = cw__cell(&s, i, 3);
        o->at = cw__cell(&s, i, 0)->i;
        copy_cut(o->step, sizeof(o->step), cw__cell(&s, i, 1));
        copy_cut(o->result, sizeof(o->result), cw__cell(&s, i, 2));
        o->score = score->t == CW__V_REAL  ? score->r
                   : score->t == CW__V_INT ? (double)score->i
                                           : NAN;
    }
    if (err == 0) {
        *n_steps = s.n_rows;
    } else {
        sodium_memzero(out, sizeof(*out));
    }
    cw__rows_free(&s);
    return err;
}

int cw_store_referrals(cw_store_t *st, int open_only, uint64_t before, cw_store_clearance_t *out,
                       size_t cap, size_t *n, char *diag, size_t diag_len)
{
    if (st == NULL || n == NULL || (out == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *n = 0;
    if (cap == 0) {
        return 0;
    }
    int64_t below = before == 0 || before > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)before;
    int64_t limit = cap > (size_t)INT64_MAX ? INT64_MAX : (int64_t)cap;
    cw__val_t p[3] = {cw__int(CW_CLEARANCE_REFERRED), cw__int(below), cw__int(limit)};
    cw__rows_t r;
    int err =
        open_only
            ? cw__exec(st,
                       CLEARANCE_COLUMNS "WHERE decision = ? AND id < ? AND resolved_at "
                                         "IS NULL ORDER BY id DESC LIMIT ?",
                       p, 3, &r, NULL, diag, diag_len)
            : cw__exec(st,
                       CLEARANCE_COLUMNS "WHERE decision = ? AND id < ? ORDER BY id DESC LIMIT ?",
                       p, 3, &r, NULL, diag, diag_len);
    size_t i = 0;
    for (; err == 0 && i < r.n_rows && i < cap; i++) {
        err = read_clearance(st, &r, i, &out[i], diag, diag_len);
    }
    cw__rows_free(&r);
    if (err != 0) {
        sodium_memzero(out, i * sizeof(*out)); // notes already opened
        return err;
    }
    *n = i;
    return 0;
}

int cw_store_referral_resolve(cw_store_t *st, uint64_t txn, int64_t now,
                              cw_clearance_decision_t outcome, const char *officer,
                              const char *note, char *diag, size_t diag_len)
{
    if (st == NULL || officer == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (outcome != CW_CLEARANCE_CLEARED && outcome != CW_CLEARANCE_REJECTED) {
        return cw_diag_set(diag, diag_len, CW_EINVAL,
                           "a referral resolves to cleared or rejected, not %d", (int)outcome);
    }
    note = note != NULL ? note : "";
    int err = cw__check_text(officer, CW_STORE_LABEL_MAX, "officer", 1, diag, diag_len);
    if (err == 0) {
        err = cw__check_text(note, CW_STORE_NOTE_MAX, "note", 0, diag, diag_len);
    }
    if (err != 0) {
        return err;
    }
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    err = cw__seal(&st->ring, "clearance.note", txn, note, strlen(note), &ct, &ct_len);
    if (err != 0) {
        return cw_diag_set(diag, diag_len, err, "sealing the note failed");
    }
    err = cw__begin(st, diag, diag_len);
    int64_t changed = 0;
    cw__val_t p[6] = {cw__int(now),         cw__int(outcome),        cw__text(officer),
                      cw__blob(ct, ct_len), cw__int(st->ring.id[0]), cw__int((int64_t)txn)};
    if (err == 0) {
        err = cw__exec(st,
                       "UPDATE clearance SET resolved_at = ?, outcome = ?, resolved_by = ?, note = "
                       "?, key_id = ? WHERE id = ? AND decision = 2 AND resolved_at IS NULL",
                       p, 6, NULL, &changed, diag, diag_len);
    }
    if (err == 0 && changed == 0) {
        cw__rows_t r;
        err = cw__exec(st, "SELECT decision FROM clearance WHERE id = ?", p + 5, 1, &r, NULL, diag,
                       diag_len);
        if (err == 0 && r.n_rows == 0) {
            err = cw_diag_set(diag, diag_len, CW_ENOENT, "no clearance %llu",
                              (unsigned long long)txn);
        } else if (err == 0 && cw__cell(&r, 0, 0)->i != CW_CLEARANCE_REFERRED) {
            err = cw_diag_set(diag, diag_len, CW_ESTATE, "clearance %llu was not referred",
                              (unsigned long long)txn);
        } else if (err == 0) {
            err = cw_diag_set(diag, diag_len, CW_ESTATE, "clearance %llu is resolved already",
                              (unsigned long long)txn);
        }
        cw__rows_free(&r);
    }
    if (err == 0) {
        // The note stays sealed: the log says who resolved it and how, not what he wrote.
        char subject[32], detail[32];
        snprintf(subject, sizeof(subject), "clearance:%llu", (unsigned long long)txn);
        snprintf(detail, sizeof(detail), "outcome=%d", (int)outcome);
        err =
            cw__audit_append(st, now, officer, "referral_resolve", subject, detail, diag, diag_len);
    }
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
    }
    cw_free(ct);
    return err;
}

// ---- reports ----

static int report_cmp(const void *a, const void *b)
{
    const cw_store_report_row_t *x = a, *y = b;
    long dx = (long)x->day.year * 10000 + x->day.month * 100 + x->day.day;
    long dy = (long)y->day.year * 10000 + y->day.month * 100 + y->day.day;
    if (dx != dy) {
        return dx < dy ? -1 : 1;
    }
    int c = strcmp(x->port, y->port);
    if (c != 0) {
        return c;
    }
    if (x->programme != y->programme) {
        return x->programme < y->programme ? -1 : 1;
    }
    if (x->decision != y->decision) {
        return x->decision < y->decision ? -1 : 1;
    }
    return strcmp(x->reason, y->reason);
}

// The local (UTC+8) day number is floor((started_at + 8 h) / 1 day), written with a remainder
// that is never negative so both backends agree for any sign (their / and % truncate).
#define REPORT_SQL                                                                                 \
    "SELECT (c.started_at + 28800 - ((c.started_at + 28800) % 86400 + 86400) % 86400) / 86400, "   \
    "p.code, c.programme, c.decision, COALESCE(c.reason, ''), count(*) FROM clearance c JOIN "     \
    "gate g ON g.id = c.gate JOIN port p ON p.id = g.port WHERE c.started_at >= ? AND "            \
    "c.started_at < ? "
#define REPORT_GROUP "GROUP BY 1, 2, 3, 4, 5"

int cw_store_report_each(cw_store_t *st, int64_t from, int64_t to, const char *port_code,
                         cw_store_report_fn fn, void *ctx, char *diag, size_t diag_len)
{
    if (st == NULL || fn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = 0;
    if (port_code != NULL) {
        err = cw__check_text(port_code, CW_STORE_CODE_MAX, "port code", 1, diag, diag_len);
    }
    if (err != 0 || to <= from) {
        return err;
    }
    cw__val_t p[3] = {cw__int(from), cw__int(to), cw__text(port_code)};
    cw__rows_t r;
    err = port_code != NULL ? cw__exec(st, REPORT_SQL "AND p.code = ? " REPORT_GROUP, p, 3, &r,
                                       NULL, diag, diag_len)
                            : cw__exec(st, REPORT_SQL REPORT_GROUP, p, 2, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    // Sorted here rather than in SQL: text collation differs between the backends.
    cw_store_report_row_t *rows = r.n_rows > 0 ? cw_calloc(r.n_rows, sizeof(*rows)) : NULL;
    if (r.n_rows > 0 && rows == NULL) {
        err = cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        cw_store_report_row_t *o = &rows[i];
        o->day = cw_date_local(cw__cell(&r, i, 0)->i * 86400 - 28800);
        o->programme = (cw_programme_t)cw__cell(&r, i, 2)->i;
        o->decision = (cw_clearance_decision_t)cw__cell(&r, i, 3)->i;
        o->count = (uint64_t)cw__cell(&r, i, 5)->i;
        if (cw__read_text(cw__cell(&r, i, 1), o->port, sizeof(o->port)) != 0 ||
            cw__read_text(cw__cell(&r, i, 4), o->reason, sizeof(o->reason)) != 0) {
            err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "a stored code is oversized");
        }
    }
    if (err == 0 && r.n_rows > 1) {
        qsort(rows, r.n_rows, sizeof(*rows), report_cmp);
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        err = fn(ctx, &rows[i]);
    }
    cw_free(rows);
    cw__rows_free(&r);
    return err;
}
