// SPDX-License-Identifier: Apache-2.0
// The gate endpoints: open a transaction at a gate, then feed it events (a face, a document, the
// traveller's confirmation, the inside capture, abandon), each one cw_clearance_begin or
// cw_clearance_step. The answer is the gate's next action and nothing else: no personal data
// beyond the masked hint of SHOW_CONFIRMATION ever goes to a gate device, and error messages to
// gate keys carry no detail from below.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static json_t *reply_json(const cw_clearance_reply_t *rep)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "txn", json_integer((json_int_t)rep->txn));
    json_object_set_new(o, "programme", json_string(cw_programme_name(rep->programme)));
    json_object_set_new(o, "state", json_string(cw_txn_state_name(rep->state)));
    json_object_set_new(o, "action", json_string(cw_gate_action_name(rep->action)));
    json_object_set_new(o, "reason", json_string(cw_reason_name(rep->reason)));
    json_object_set_new(o, "instruction", json_string(cw_reason_instruction(rep->reason)));
    json_object_set_new(o, "captures_left", json_integer(rep->captures_left));
    if (rep->action == CW_ACTION_SHOW_CONFIRMATION) {
        json_t *h = json_object();
        if (h != NULL) {
            json_object_set_new(h, "name", json_string(rep->masked_name));
            json_object_set_new(h, "name_local", json_string(rep->masked_local));
            json_object_set_new(h, "document", json_string(rep->masked_document));
        }
        json_object_set_new(o, "hint", h);
    }
    return o;
}

void cw__h_txn_begin(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {NULL};
    if (body != NULL && cw__body_allow(r, body, NULL, keys) != 0) {
        return;
    }
    cw_clearance_reply_t rep;
    memset(&rep, 0, sizeof(rep));
    char diag[256] = "";
    int err =
        cw_clearance_begin(r->srv->clr, r->gate.id, cw__now(), r->actor, &rep, diag, sizeof(diag));
    if (err != 0) {
        cw__reply_err(r, err, diag, "UNKNOWN_GATE", 1);
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "clearance:%llu", (unsigned long long)rep.txn);
    cw__reply_json(r, 201, reply_json(&rep));
}

static void step(cw__req_t *r, const cw_clearance_event_t *ev)
{
    uint64_t txn;
    snprintf(r->subject, sizeof(r->subject), "clearance:%.60s", r->params[1]);
    if (cw__parse_u64(r->params[1], &txn) != 0) {
        cw__reply_error(r, 404, CW_ENOENT, "UNKNOWN_TXN",
                        "no open transaction '%.64s' at this gate", r->params[1]);
        return;
    }
    cw_clearance_reply_t rep;
    memset(&rep, 0, sizeof(rep));
    char diag[256] = "";
    int err = cw_clearance_step(r->srv->clr, r->gate.id, txn, ev, cw__now(), r->actor, &rep, diag,
                                sizeof(diag));
    switch (err) {
    case 0:
        // Where the time went (no personal data): for capacity tests and monitoring.
        snprintf(r->timing, sizeof(r->timing),
                 "decode;dur=%.2f, face;dur=%.2f, search;dur=%.2f, decision;dur=%.2f, "
                 "total;dur=%.2f",
                 rep.ms_decode, rep.ms_face, rep.ms_search, rep.ms_match, rep.ms_total);
        cw__reply_json(r, 200, reply_json(&rep));
        return;
    case CW_ENOENT:
        cw__reply_error(r, 404, err, "UNKNOWN_TXN", "no open transaction %llu at this gate",
                        (unsigned long long)txn);
        return;
    case CW_ESTATE:
        cw__reply_error(r, 409, err, "STATE_CONFLICT",
                        "%s is not accepted in this transaction's current state",
                        cw_txn_event_name(ev->type));
        return;
    case CW_EBUSY:
        cw__reply_error(r, 409, err, "TXN_BUSY",
                        "another step of this transaction is being processed");
        return;
    case CW_EINVAL:
        cw__reply_error(r, 400, err, "MISSING_FIELD", "the event lacks an input it needs");
        return;
    default:
        cw__reply_err(r, err, diag, "UNKNOWN_TXN", 1);
        return;
    }
}

void cw__h_txn_face(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"image", NULL};
    uint8_t *img = NULL;
    size_t n = 0;
    if (cw__body_allow(r, body, NULL, keys) != 0 || cw__get_b64(r, body, "image", 1, &img, &n)) {
        return;
    }
    cw_clearance_event_t ev = {.type = CW_EV_FACE, .face = img, .face_len = n};
    step(r, &ev);
    cw_free_wipe(img, n);
}

void cw__h_txn_document(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"id_number", "qr", "mrz", "chip_image", NULL};
    const char *id = NULL, *qr = NULL, *mrz = NULL;
    if (cw__body_allow(r, body, NULL, keys) != 0 || cw__get_string(r, body, "id_number", 0, &id) ||
        cw__get_string(r, body, "qr", 0, &qr) || cw__get_string(r, body, "mrz", 0, &mrz)) {
        return;
    }
    if ((id != NULL) + (qr != NULL) + (mrz != NULL) != 1) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_DOCUMENT",
                        "give exactly one of id_number, qr, or mrz with chip_image");
        return;
    }
    if (mrz == NULL && json_object_get(body, "chip_image") != NULL) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_DOCUMENT", "chip_image goes with mrz only");
        return;
    }
    cw_clearance_event_t ev = {.type = id != NULL   ? CW_EV_ID_NUMBER
                                       : qr != NULL ? CW_EV_QR
                                                    : CW_EV_PASSPORT};
    ev.text = id != NULL ? id : qr != NULL ? qr : mrz;
    uint8_t *chip = NULL;
    size_t n = 0;
    if (mrz != NULL && cw__get_b64(r, body, "chip_image", 1, &chip, &n) != 0) {
        return;
    }
    ev.chip = chip;
    ev.chip_len = n;
    step(r, &ev);
    cw_free_wipe(chip, n);
}

void cw__h_txn_confirm(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"confirm", NULL};
    int yes = 0;
    if (cw__body_allow(r, body, NULL, keys) != 0 || cw__get_bool(r, body, "confirm", 1, &yes)) {
        return;
    }
    cw_clearance_event_t ev = {.type = yes ? CW_EV_CONFIRM : CW_EV_DECLINE};
    step(r, &ev);
}

void cw__h_txn_inside(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"face", "fingerprint", "fingerprint_iso", NULL};
    if (cw__body_allow(r, body, NULL, keys) != 0) {
        return;
    }
    int has_img = json_object_get(body, "fingerprint") != NULL;
    int has_iso = json_object_get(body, "fingerprint_iso") != NULL;
    if (has_img == has_iso) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FINGERPRINT",
                        "give exactly one of fingerprint (an image) and fingerprint_iso");
        return;
    }
    uint8_t *face = NULL, *finger = NULL;
    size_t nf = 0, nfi = 0;
    if (cw__get_b64(r, body, "face", 1, &face, &nf) == 0 &&
        cw__get_b64(r, body, has_iso ? "fingerprint_iso" : "fingerprint", 1, &finger, &nfi) == 0) {
        cw_clearance_event_t ev = {.type = CW_EV_INSIDE,
                                   .face = face,
                                   .face_len = nf,
                                   .finger = finger,
                                   .finger_len = nfi,
                                   .finger_is_iso = has_iso};
        step(r, &ev);
    }
    cw_free_wipe(face, nf);
    cw_free_wipe(finger, nfi);
}

void cw__h_txn_abandon(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {NULL};
    if (body != NULL && cw__body_allow(r, body, NULL, keys) != 0) {
        return;
    }
    cw_clearance_event_t ev = {.type = CW_EV_ABANDON};
    step(r, &ev);
}
