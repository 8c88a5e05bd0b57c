// SPDX-License-Identifier: Apache-2.0
// The steps the transition table names. Each turns one event into an outcome: OK (the table's
// next state), RETRY (a capture problem, with the instruction), or REFER (final, with the
// reason). The rules that keep a stranger out live here: a 1:N match must survive the decision
// that knows the gallery size and the ambiguity guard, eligibility is checked before any gate
// opens, and every inside check compares against the record chosen at the front
// (t->traveller) and never searches again.
#include "clearance_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- inputs ---- */

int cw__step_check(cw__step_t s, const cw_clearance_event_t *ev, char *diag, size_t diag_len)
{
    switch (s) {
    case CW__STEP_FRONT_1N:
    case CW__STEP_INSIDE_FACE:
    case CW__STEP_INSIDE_CHIP:
    case CW__STEP_TOKEN_1N:
    case CW__STEP_CLOSED_1N:
        if (ev->face == NULL || ev->face_len == 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "the face image is missing");
        }
        return 0;
    case CW__STEP_INSIDE_FACE_FINGER:
        if (ev->face == NULL || ev->face_len == 0 || ev->finger == NULL || ev->finger_len == 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "the inside check needs the face image and the fingerprint");
        }
        return 0;
    case CW__STEP_ID_NUMBER:
    case CW__STEP_QR:
        if (ev->text == NULL || ev->text[0] == '\0') {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "the %s is missing",
                               s == CW__STEP_QR ? "QR token" : "identity-card number");
        }
        return 0;
    case CW__STEP_PASSPORT:
        if (ev->text == NULL || ev->text[0] == '\0' || ev->chip == NULL || ev->chip_len == 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "the passport step needs the MRZ and the chip's face image");
        }
        return 0;
    default:
        return 0;
    }
}

static cw_reason_t quality_reason(cw_face_quality_verdict_t v)
{
    switch (v) {
    case CW_FACE_QUALITY_OK:
        return CW_REASON_NONE;
    case CW_FACE_QUALITY_NO_FACE:
        return CW_REASON_NO_FACE;
    case CW_FACE_QUALITY_TOO_SMALL:
        return CW_REASON_MOVE_CLOSER;
    case CW_FACE_QUALITY_TOO_CLOSE:
        return CW_REASON_STEP_BACK;
    case CW_FACE_QUALITY_OFF_CENTRE:
        return CW_REASON_OFF_CENTRE;
    case CW_FACE_QUALITY_POSE:
        return CW_REASON_LOOK_STRAIGHT;
    case CW_FACE_QUALITY_BLUR:
        return CW_REASON_HOLD_STILL;
    case CW_FACE_QUALITY_DARK:
        return CW_REASON_TOO_DARK;
    case CW_FACE_QUALITY_BRIGHT:
        return CW_REASON_TOO_BRIGHT;
    case CW_FACE_QUALITY_OCCLUDED:
        return CW_REASON_OCCLUDED;
    case CW_FACE_QUALITY_MANY_FACES:
        return CW_REASON_MANY_FACES;
    }
    return CW_REASON_NO_FACE;
}

int cw__face_from_image(cw_clearance_t *c, cw__worker_t *w, const uint8_t *buf, size_t len,
                        int strict, float pad_max, cw_face_template_t *out, cw_reason_t *problem,
                        cw_clearance_reply_t *reply)
{
    *problem = CW_REASON_NONE;
    double t0 = cw__now_ms();
    cw_image_t img;
    char diag[128];
    int err = cw_image_decode(buf, len, CW_IMAGE_RGB, &c->limits, &img, diag, sizeof(diag));
    double t1 = cw__now_ms();
    if (reply != NULL) {
        reply->ms_decode += t1 - t0;
    }
    if (err == CW_ENOMEM) {
        return err;
    }
    if (err != 0) {
        *problem = CW_REASON_BAD_IMAGE;
        return 0;
    }
    cw_face_capture_opts_t opts = {strict, pad_max, CW_FACE_SUBJECT_AUTO};
    cw_face_capture_t cap;
    err = cw_face_capture(w->face, &img, &opts, &cap);
    if (err == 0) {
        switch (cap.problem) {
        case CW_FACE_CAPTURE_OK:
            *out = cap.tpl;
            break;
        case CW_FACE_CAPTURE_NO_FACE:
            *problem = CW_REASON_NO_FACE;
            break;
        case CW_FACE_CAPTURE_QUALITY:
            *problem = quality_reason(cap.quality.verdict);
            break;
        case CW_FACE_CAPTURE_ATTACK:
            *problem = CW_REASON_LIVENESS;
            break;
        }
    }
    cw_memzero(&cap, sizeof(cap)); // the template copy on the stack
    cw_image_free(&img);
    if (reply != NULL) {
        reply->ms_face += cw__now_ms() - t1;
    }
    return err;
}

int cw__record_face(cw_clearance_t *c, cw__worker_t *w, const cw_store_traveller_t *t,
                    cw_face_template_t *out, char *diag, size_t diag_len)
{
    // The newest face template of the engine's model.
    int best = -1;
    for (int i = 0; i < t->n_templates; i++) {
        const cw_store_template_t *b = &t->templates[i];
        if (b->modality == CW_MODALITY_FACE && b->model_id == c->model_id &&
            b->model_version == c->model_version && b->len == c->dim * sizeof(float) &&
            (best < 0 || b->captured_at >= t->templates[best].captured_at)) {
            best = i;
        }
    }
    if (best < 0) {
        return cw_diag_set(diag, diag_len, CW_ENOENT,
                           "traveller %llu has no face template of "
                           "the current model",
                           (unsigned long long)t->id);
    }
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    int err = cw_store_template_get(w->st, t->templates[best].id, out->v, sizeof(out->v), &len,
                                    diag, diag_len);
    if (err == 0 && len != c->dim * sizeof(float)) {
        err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "face template %llu has %zu bytes",
                          (unsigned long long)t->templates[best].id, len);
    }
    out->model_id = c->model_id;
    out->model_version = c->model_version;
    out->dim = c->dim;
    out->flags = c->flags;
    return err;
}

/* ---- shared pieces of the steps ---- */

typedef struct step_ctx {
    cw_clearance_t *c;
    cw__worker_t *w;
    cw__txn_t *t;
    const cw_clearance_event_t *ev;
    int64_t now;
    cw_clearance_reply_t *reply;
    int *err;
    char *diag;
    size_t diag_len;
    const cw_clearance_policy_t *policy;
} step_ctx_t;

static cw__outcome_t refer(step_ctx_t *s, cw_reason_t why)
{
    s->reply->reason = why;
    return CW__REFER;
}

static cw__outcome_t fail(step_ctx_t *s, int err)
{
    *s->err = err;
    return refer(s, CW_REASON_INTERNAL_ERROR);
}

/* A capture: the face template, or a retry / referral outcome in *o (returns 0 only if good). */
static int capture_face(step_ctx_t *s, cw_face_template_t *f, cw__outcome_t *o)
{
    s->t->captures++;
    cw_reason_t problem;
    int err = cw__face_from_image(s->c, s->w, s->ev->face, s->ev->face_len, 1, s->policy->pad_max,
                                  f, &problem, s->reply);
    if (err != 0) {
        *o = fail(s, err);
        return -1;
    }
    if (problem == CW_REASON_LIVENESS) {
        *o = refer(s, problem);
        return -1;
    }
    if (problem != CW_REASON_NONE) {
        s->reply->reason = problem;
        *o = CW__RETRY;
        return -1;
    }
    return 0;
}

/* Load the record and check eligibility for the transaction's programme. */
static int load_eligible(step_ctx_t *s, uint64_t id, cw_store_traveller_t *rec, cw__outcome_t *o)
{
    int err = cw_store_load(s->w->st, id, rec, s->diag, s->diag_len);
    if (err == CW_ENOENT) {
        // A row whose record has gone (deleted meanwhile, or a synthetic distractor).
        *o = refer(s, CW_REASON_NO_MATCH);
        return -1;
    }
    if (err != 0) {
        *o = fail(s, err);
        return -1;
    }
    cw_eligibility_t el;
    err = cw_store_eligibility(rec, s->t->programme, s->now, &el);
    if (err != 0) {
        *o = fail(s, err);
        return -1;
    }
    if (!el.eligible) {
        *o = refer(s, CW_REASON_NOT_ELIGIBLE);
        return -1;
    }
    return 0;
}

/* 1:N over the programme's gallery (and the distractors beside the document-free one). */
static int search_decide(step_ctx_t *s, const cw_face_template_t *f, cw_gallery_decision_t *d)
{
    cw_clearance_t *c = s->c;
    double t0 = cw__now_ms();
    const cw_gallery_t *g = c->gallery[s->t->programme];
    cw_gallery_hit_t hits[4];
    int n_hits = 0, n_more = 0;
    int err = cw_gallery_search(g, f->v, 2, c->search_pool, hits, &n_hits);
    uint64_t n = cw_gallery_count(g);
    if (err == 0 && c->distractors != NULL && s->t->programme == CW_PROGRAMME_DOCUMENT_FREE) {
        err = cw_gallery_search(c->distractors, f->v, 2, c->search_pool, hits + n_hits, &n_more);
        // A distractor row is nobody: its id is moved out of the travellers' range.
        for (int i = n_hits; i < n_hits + n_more; i++) {
            hits[i].id |= (uint64_t)1 << 63;
        }
        n += cw_gallery_count(c->distractors);
        n_hits += n_more;
        // Best first.
        for (int i = 1; i < n_hits; i++) {
            for (int j = i; j > 0 && hits[j].score > hits[j - 1].score; j--) {
                cw_gallery_hit_t x = hits[j];
                hits[j] = hits[j - 1];
                hits[j - 1] = x;
            }
        }
    }
    double t1 = cw__now_ms();
    s->reply->ms_search += t1 - t0;
    s->reply->gallery_n = n;
    if (err != 0) {
        return err;
    }
    if (!c->have_calibration) {
        memset(d, 0, sizeof(*d));
        d->verdict = CW_GALLERY_NO_MATCH;
        return 0;
    }
    err = cw_gallery_decide(hits, n_hits, n, &c->calibration, &s->policy->gallery, d);
    s->reply->ms_match += cw__now_ms() - t1;
    return err;
}

static cw__outcome_t verdict_outcome(step_ctx_t *s, const cw_gallery_decision_t *d)
{
    switch (d->verdict) {
    case CW_GALLERY_MATCH:
        return CW__OK;
    case CW_GALLERY_AMBIGUOUS:
        return refer(s, CW_REASON_AMBIGUOUS);
    case CW_GALLERY_REQUIRES_SECOND_FACTOR:
        return refer(s, CW_REASON_POPULATION_CAP);
    case CW_GALLERY_NO_MATCH:
    default:
        return refer(s, CW_REASON_NO_MATCH);
    }
}

/* Identify by face 1:N: the matched and eligible record in rec, or an outcome in *o. */
static int identify(step_ctx_t *s, cw_store_traveller_t *rec, cw__outcome_t *o)
{
    cw_face_template_t f;
    if (capture_face(s, &f, o) != 0) {
        return -1;
    }
    cw_gallery_decision_t d;
    int err = search_decide(s, &f, &d);
    cw_memzero(&f, sizeof(f));
    if (err != 0) {
        *o = fail(s, err);
        return -1;
    }
    *o = verdict_outcome(s, &d);
    if (*o != CW__OK) {
        return -1;
    }
    if ((d.id >> 63) != 0) {
        *o = refer(s, CW_REASON_NO_MATCH); // a synthetic distractor won
        return -1;
    }
    s->t->traveller = d.id;
    return load_eligible(s, d.id, rec, o);
}

/* Face 1:1 of a capture against template ref at the policy's FMR. */
static cw__outcome_t verify_face(step_ctx_t *s, const cw_face_template_t *ref)
{
    cw__outcome_t o;
    cw_face_template_t f;
    if (capture_face(s, &f, &o) != 0) {
        return o;
    }
    double t0 = cw__now_ms();
    float score = -1;
    int err = cw_face_compare(&f, ref, &score);
    cw_memzero(&f, sizeof(f));
    s->reply->ms_match += cw__now_ms() - t0;
    if (err != 0) {
        return fail(s, err);
    }
    double thr =
        cw_face_threshold(ref->model_id, ref->model_version, ref->flags, s->policy->face_fmr);
    return score >= thr ? CW__OK : refer(s, CW_REASON_FACE_MISMATCH);
}

/* Face 1:1 of a capture against the record's enrolled face (none: not eligible). */
static cw__outcome_t verify_record_face(step_ctx_t *s, const cw_store_traveller_t *rec)
{
    cw_face_template_t ref;
    int err = cw__record_face(s->c, s->w, rec, &ref, s->diag, s->diag_len);
    cw__outcome_t o = err == CW_ENOENT ? refer(s, CW_REASON_NOT_ELIGIBLE)
                      : err != 0       ? fail(s, err)
                                       : verify_face(s, &ref);
    cw_memzero(&ref, sizeof(ref));
    return o;
}

/* ---- the steps ---- */

static void masked_hint(const cw_store_traveller_t *rec, cw_clearance_reply_t *r)
{
    (void)cw_mask_name_latin(rec->name_latin, r->masked_name, sizeof(r->masked_name));
    (void)cw_mask_name_local(rec->name_local, r->masked_local, sizeof(r->masked_local));
    // The travel document the traveller uses here: the first that is not a passport, else the
    // passport.
    const char *number = rec->n_documents > 0 ? rec->documents[0].number : "";
    for (int i = 0; i < rec->n_documents; i++) {
        if (rec->documents[i].type != CW_DOC_PASSPORT) {
            number = rec->documents[i].number;
            break;
        }
    }
    (void)cw_mask_number(number, r->masked_document, sizeof(r->masked_document));
}

static cw__outcome_t step_front_1n(step_ctx_t *s)
{
    cw_store_traveller_t rec;
    cw__outcome_t o;
    if (identify(s, &rec, &o) == 0) {
        masked_hint(&rec, s->reply);
        s->reply->action = CW_ACTION_SHOW_CONFIRMATION;
    }
    cw_memzero(&rec, sizeof(rec));
    return o;
}

static cw__outcome_t step_inside_face_finger(step_ctx_t *s)
{
    // Against the record chosen at the front, and only that one.
    cw_store_traveller_t rec;
    cw__outcome_t o;
    if (load_eligible(s, s->t->traveller, &rec, &o) != 0) {
        cw_memzero(&rec, sizeof(rec));
        return o;
    }
    o = verify_record_face(s, &rec);
    if (o != CW__OK) {
        cw_memzero(&rec, sizeof(rec));
        return o;
    }
    // The fingerprint, against the same record's fingerprints.
    cw_finger_template_t *probe = cw_malloc(sizeof(*probe));
    cw_finger_template_t *enrolled = cw_malloc(sizeof(*enrolled));
    uint8_t *buf = cw_malloc(CW_STORE_TEMPLATE_MAX_BYTES);
    int err = 0;
    if (probe == NULL || enrolled == NULL || buf == NULL) {
        o = fail(s, CW_ENOMEM);
    } else {
        double t0 = cw__now_ms();
        cw_reason_t problem = CW_REASON_NONE;
        err = cw__finger_from_bytes(s->ev->finger, s->ev->finger_len, s->ev->finger_is_iso, probe,
                                    &problem);
        s->reply->ms_face += cw__now_ms() - t0;
        if (err != 0) {
            o = fail(s, err);
        } else if (problem != CW_REASON_NONE) {
            s->t->captures++;
            s->reply->reason = problem;
            o = CW__RETRY;
        } else {
            t0 = cw__now_ms();
            float best = 0;
            int n_fingers = 0;
            for (int i = 0; err == 0 && i < rec.n_templates; i++) {
                if (rec.templates[i].modality != CW_MODALITY_FINGERPRINT) {
                    continue;
                }
                size_t len = 0;
                err =
                    cw_store_template_get(s->w->st, rec.templates[i].id, buf,
                                          CW_STORE_TEMPLATE_MAX_BYTES, &len, s->diag, s->diag_len);
                if (err == 0) {
                    err = cw_finger_iso_read(buf, len, enrolled, s->diag, s->diag_len);
                }
                float score = 0;
                if (err == 0) {
                    err = cw_finger_compare_templates(probe, enrolled, &score);
                }
                best = score > best ? score : best;
                n_fingers++;
            }
            s->reply->ms_match += cw__now_ms() - t0;
            // Comparing against several fingers multiplies the chance of a false match: the
            // threshold is taken at the policy's FMR divided by their number.
            double fmr = s->policy->finger_fmr / (n_fingers > 0 ? n_fingers : 1);
            if (err != 0) {
                o = fail(s, err);
            } else if (n_fingers == 0) {
                o = refer(s, CW_REASON_NOT_ELIGIBLE);
            } else if (best >= cw_finger_threshold(fmr)) {
                o = CW__OK;
                s->reply->action = CW_ACTION_OPEN_REAR;
            } else {
                o = refer(s, CW_REASON_FINGER_MISMATCH);
            }
        }
    }
    cw_free_wipe(probe, sizeof(*probe));
    cw_free_wipe(enrolled, sizeof(*enrolled));
    cw_free_wipe(buf, CW_STORE_TEMPLATE_MAX_BYTES);
    cw_memzero(&rec, sizeof(rec));
    return o;
}

static cw__outcome_t open_front_for(step_ctx_t *s, uint64_t id)
{
    cw_store_traveller_t rec;
    cw__outcome_t o = CW__OK;
    s->t->traveller = id;
    if (load_eligible(s, id, &rec, &o) == 0) {
        s->reply->action = CW_ACTION_OPEN_FRONT;
    }
    cw_memzero(&rec, sizeof(rec));
    return o;
}

static cw__outcome_t step_id_number(step_ctx_t *s)
{
    static const cw_doc_type_t types[] = {CW_DOC_HK_IDENTITY_CARD, CW_DOC_MAINLAND_TRAVEL_PERMIT};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint64_t id = 0;
        int err =
            cw_store_find_document(s->w->st, types[i], s->ev->text, &id, s->diag, s->diag_len);
        if (err == 0) {
            return open_front_for(s, id);
        }
        if (err != CW_ENOENT && err != CW_EINVAL && err != CW_ETOOBIG) {
            return fail(s, err);
        }
    }
    return refer(s, CW_REASON_UNKNOWN_DOCUMENT);
}

static cw__outcome_t step_qr(step_ctx_t *s)
{
    cw_token_t tok;
    char d[128];
    size_t len = strnlen(s->ev->text, CW_TOKEN_TEXT_MAX + 1);
    if (cw_token_decode(s->ev->text, len, s->c->token_pk, &tok, d, sizeof(d)) != 0) {
        return refer(s, CW_REASON_TOKEN_INVALID);
    }
    if (tok.expires_at <= s->now) {
        return refer(s, CW_REASON_TOKEN_EXPIRED);
    }
    cw_store_token_t st;
    int err = cw_store_token_get(s->w->st, tok.id, &st, s->diag, s->diag_len);
    if (err == CW_ENOENT || (err == 0 && st.traveller != tok.traveller)) {
        return refer(s, CW_REASON_TOKEN_INVALID);
    }
    if (err != 0) {
        return fail(s, err);
    }
    int ok = 0;
    const char *why = NULL;
    err = cw_store_token_use(s->w->st, tok.id, s->now, s->policy->token_min_gap, &ok, &why, s->diag,
                             s->diag_len);
    if (err != 0) {
        return fail(s, err);
    }
    if (!ok) {
        return refer(s, why != NULL && strcmp(why, "revoked") == 0   ? CW_REASON_TOKEN_REVOKED
                        : why != NULL && strcmp(why, "expired") == 0 ? CW_REASON_TOKEN_EXPIRED
                                                                     : CW_REASON_TOKEN_REUSED);
    }
    return open_front_for(s, tok.traveller);
}

static cw__outcome_t step_inside_face(step_ctx_t *s)
{
    cw_store_traveller_t rec;
    cw__outcome_t o;
    if (load_eligible(s, s->t->traveller, &rec, &o) == 0) {
        o = verify_record_face(s, &rec);
    }
    cw_memzero(&rec, sizeof(rec));
    if (o == CW__OK) {
        s->reply->action = CW_ACTION_OPEN_REAR;
    }
    return o;
}

static cw__outcome_t step_passport(step_ctx_t *s)
{
    cw_date_t today = cw_date_local(s->now);
    cw_mrz_t mrz;
    char d[160];
    size_t len = strnlen(s->ev->text, 256);
    if (cw_mrz_parse(s->ev->text, len, &today, &mrz, d, sizeof(d)) != 0 ||
        mrz.format != CW_MRZ_TD3 || mrz.doc_code[0] != 'P') {
        return refer(s, CW_REASON_MRZ_INVALID);
    }
    uint64_t id = 0;
    int err =
        cw_store_find_document(s->w->st, CW_DOC_PASSPORT, mrz.number, &id, s->diag, s->diag_len);
    if (err == CW_ENOENT) {
        return refer(s, CW_REASON_UNKNOWN_DOCUMENT);
    }
    if (err != 0) {
        return fail(s, err);
    }
    cw_store_traveller_t rec;
    cw__outcome_t o = CW__OK;
    s->t->traveller = id;
    if (load_eligible(s, id, &rec, &o) == 0) {
        // The chip's data must be the record's: same birth date and nationality.
        if (rec.birth.year != mrz.birth.year || rec.birth.month != mrz.birth.month ||
            rec.birth.day != mrz.birth.day || strcmp(rec.nationality, mrz.nationality) != 0) {
            o = refer(s, CW_REASON_MRZ_INVALID);
        }
    }
    cw_memzero(&rec, sizeof(rec));
    cw_memzero(&mrz, sizeof(mrz));
    if (o != CW__OK) {
        return o;
    }
    cw_face_template_t *chip = cw_malloc(sizeof(*chip));
    if (chip == NULL) {
        return fail(s, CW_ENOMEM);
    }
    cw_reason_t problem;
    err = cw__face_from_image(s->c, s->w, s->ev->chip, s->ev->chip_len, 0, 0, chip, &problem,
                              s->reply);
    if (err != 0 || problem != CW_REASON_NONE) {
        cw_free_wipe(chip, sizeof(*chip));
        return err != 0 ? fail(s, err) : refer(s, CW_REASON_CHIP_FACE_UNUSABLE);
    }
    cw_free_wipe(s->t->chip_face, sizeof(*chip));
    s->t->chip_face = chip;
    s->reply->action = CW_ACTION_OPEN_FRONT;
    return CW__OK;
}

static cw__outcome_t step_inside_chip(step_ctx_t *s)
{
    if (s->t->chip_face == NULL) {
        return fail(s, CW_EINTERNAL);
    }
    cw__outcome_t o = verify_face(s, s->t->chip_face);
    if (o == CW__OK) {
        s->reply->action = CW_ACTION_OPEN_REAR;
    }
    return o;
}

/* Flight token: a touchpoint needs those before it (bag drop is optional) and none after. */
static int touchpoint_allowed(int tp, uint32_t passed)
{
    uint32_t later = ~0u << (tp + 1);
    if ((passed & later) != 0 || (passed & (1u << tp)) != 0) {
        return 0; // going back, or through the same point twice
    }
    for (int need = CW_TOUCHPOINT_SECURITY; need < tp; need++) {
        if ((passed & (1u << need)) == 0) {
            return 0;
        }
    }
    return 1;
}

static cw__outcome_t step_gallery_1n(step_ctx_t *s)
{
    cw_store_traveller_t rec;
    cw__outcome_t o;
    if (identify(s, &rec, &o) == 0 && s->t->programme == CW_PROGRAMME_FLIGHT_TOKEN) {
        uint32_t passed = 0;
        int err = cw_store_touchpoint_passed(s->w->st, rec.id, &passed, s->diag, s->diag_len);
        if (err != 0) {
            o = fail(s, err);
        } else if (!touchpoint_allowed(s->t->touchpoint, passed)) {
            o = refer(s, CW_REASON_TOUCHPOINT_ORDER);
        } else {
            err = cw_store_touchpoint_pass(s->w->st, rec.id, (cw_touchpoint_t)s->t->touchpoint,
                                           s->t->gate, s->now, s->diag, s->diag_len);
            o = err != 0 ? fail(s, err) : CW__OK;
        }
    }
    cw_memzero(&rec, sizeof(rec));
    if (o == CW__OK) {
        s->reply->action = CW_ACTION_OPEN_REAR;
    }
    return o;
}

cw__outcome_t cw__step_run(cw_clearance_t *c, cw__worker_t *w, cw__step_t step, cw__txn_t *t,
                           const cw_clearance_event_t *ev, int64_t now, cw_clearance_reply_t *reply,
                           int *err, char *diag, size_t diag_len)
{
    step_ctx_t s = {c, w, t, ev, now, reply, err, diag, diag_len, &c->policy[t->programme]};
    switch (step) {
    case CW__STEP_FRONT_1N:
        return step_front_1n(&s);
    case CW__STEP_CONFIRM:
        reply->action = CW_ACTION_OPEN_FRONT;
        return CW__OK;
    case CW__STEP_DECLINE:
        return refer(&s, CW_REASON_DECLINED);
    case CW__STEP_INSIDE_FACE_FINGER:
        return step_inside_face_finger(&s);
    case CW__STEP_ID_NUMBER:
        return step_id_number(&s);
    case CW__STEP_QR:
        return step_qr(&s);
    case CW__STEP_INSIDE_FACE:
        return step_inside_face(&s);
    case CW__STEP_PASSPORT:
        return step_passport(&s);
    case CW__STEP_INSIDE_CHIP:
        return step_inside_chip(&s);
    case CW__STEP_TOKEN_1N:
    case CW__STEP_CLOSED_1N:
        return step_gallery_1n(&s);
    case CW__STEP_ABANDON:
        return refer(&s, CW_REASON_ABANDONED);
    case CW__N_STEPS:
        break;
    }
    return fail(&s, CW_EINTERNAL);
}
