// SPDX-License-Identifier: Apache-2.0
// Ports, gates and clearance transactions: each transaction records the gate, the programme,
// the traveller once identified, every step with its result, and the decision, which is also
// written to the audit log.
#include "store_internal.h"

#include "clearway/err.h"

#include <math.h>
#include <stdio.h>
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
        cw__rows_t r;
        err = cw__exec(st, "SELECT decision FROM clearance WHERE id = ?", p + 2, 1, &r, NULL, diag,
                       diag_len);
        if (err == 0) {
            err = r.n_rows == 0
                      ? cw_diag_set(diag, diag_len, CW_ENOENT, "no clearance %llu",
                                    (unsigned long long)txn)
                      : cw_diag_set(diag, diag_len, CW_ESTATE, "clearance %llu is decided already",
                                    (unsigned long long)txn);
        }
        cw__rows_free(&r);
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
