// SPDX-License-Identifier: Apache-2.0
// Records: enrolment of a traveller from a JSON record with base64 biometrics
// (cw_clearance_enrol: quality-checked templates, the duplicate check, the galleries), reading
// a record (everything but template bytes), deletion, consent withdrawal, and the QR tokens of
// the contactless e-channel. Record buffers are wiped after use.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

// ---- enum names used in records ----

typedef struct name_map {
    const char *name;
    int value;
} name_map_t;

static const name_map_t sexes[] = {
    {"F", CW_SEX_FEMALE}, {"M", CW_SEX_MALE}, {"X", CW_SEX_UNSPECIFIED}, {NULL, 0}};
static const name_map_t residences[] = {
    {"hong_kong", CW_RESIDENCE_HONG_KONG}, {"macao", CW_RESIDENCE_MACAO},
    {"mainland", CW_RESIDENCE_MAINLAND},   {"visitor", CW_RESIDENCE_VISITOR},
    {"other", CW_RESIDENCE_OTHER},         {NULL, 0}};
static const name_map_t doc_types[] = {{"mainland_travel_permit", CW_DOC_MAINLAND_TRAVEL_PERMIT},
                                       {"exit_entry_permit", CW_DOC_EXIT_ENTRY_PERMIT},
                                       {"hk_identity_card", CW_DOC_HK_IDENTITY_CARD},
                                       {"passport", CW_DOC_PASSPORT},
                                       {"closed_area_permit", CW_DOC_CLOSED_AREA_PERMIT},
                                       {NULL, 0}};
static const name_map_t endorsements[] = {{"stay", CW_ENDORSEMENT_STAY},
                                          {"visiting_relatives", CW_ENDORSEMENT_VISITING_RELATIVES},
                                          {"business_visit", CW_ENDORSEMENT_BUSINESS_VISIT},
                                          {"talents", CW_ENDORSEMENT_TALENTS},
                                          {"other", CW_ENDORSEMENT_OTHER},
                                          {NULL, 0}};

static const char *map_name(const name_map_t *m, int v)
{
    for (; m->name != NULL; m++) {
        if (m->value == v) {
            return m->name;
        }
    }
    return "?";
}

static int get_enum(cw__req_t *r, json_t *obj, const char *key, int required, const name_map_t *m,
                    int *out)
{
    const char *s = NULL;
    if (cw__get_string(r, obj, key, required, &s) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    for (const name_map_t *p = m; p->name != NULL; p++) {
        if (strcmp(p->name, s) == 0) {
            *out = p->value;
            return 0;
        }
    }
    char allowed[256] = "";
    for (const name_map_t *p = m; p->name != NULL; p++) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", p->name);
    }
    cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD", "field '%s': '%.32s' is not one of %s", key, s,
                    allowed);
    return -1;
}

static json_t *date_json(const cw_date_t *d)
{
    if (!cw_date_valid(d)) {
        return json_null();
    }
    char b[16];
    snprintf(b, sizeof(b), "%04d-%02d-%02d", d->year, d->month, d->day);
    return json_string(b);
}

static json_t *time_or_null(int64_t t)
{
    return t != 0 ? json_integer(t) : json_null();
}

static uint64_t param_id(cw__req_t *r, int i, const char *reason, const char *what)
{
    uint64_t id = 0;
    if (cw__parse_u64(r->params[i], &id) != 0 || id == 0) {
        cw__reply_error(r, 404, CW_ENOENT, reason, "no %s '%.64s'", what, r->params[i]);
        return 0;
    }
    return id;
}

// ---- enrolment ----

static int read_document(cw__req_t *r, json_t *o, cw_store_document_t *d)
{
    static const char *const keys[] = {"type", "number",       "issued", "expires",
                                       "mrz",  "endorsements", NULL};
    int v = 0;
    if (!json_is_object(o)) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "each document must be an object");
        return -1;
    }
    if (cw__body_allow(r, o, "documents[]", keys) || get_enum(r, o, "type", 1, doc_types, &v) ||
        cw__get_text(r, o, "number", 1, d->number, sizeof(d->number)) ||
        cw__get_date(r, o, "issued", 1, &d->issued) ||
        cw__get_date(r, o, "expires", 1, &d->expires) ||
        cw__get_text(r, o, "mrz", 0, d->mrz, sizeof(d->mrz))) {
        return -1;
    }
    d->type = (cw_doc_type_t)v;
    // The MRZ is stored as one run of characters; the lines may come separated by newlines.
    size_t w = 0;
    for (size_t i = 0; d->mrz[i] != '\0'; i++) {
        if (d->mrz[i] != '\n' && d->mrz[i] != '\r') {
            d->mrz[w++] = d->mrz[i];
        }
    }
    d->mrz[w] = '\0';
    json_t *es = json_object_get(o, "endorsements");
    if (es == NULL) {
        return 0;
    }
    if (!json_is_array(es) || json_array_size(es) > CW_STORE_MAX_ENDORSEMENTS) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "'endorsements' must be an array of at most %d", CW_STORE_MAX_ENDORSEMENTS);
        return -1;
    }
    static const char *const ekeys[] = {"kind", "multiple_exit", "valid_from", "valid_until", NULL};
    for (size_t i = 0; i < json_array_size(es); i++) {
        json_t *e = json_array_get(es, i);
        cw_store_endorsement_t *en = &d->endorsements[i];
        if (!json_is_object(e)) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "each endorsement must be an object");
            return -1;
        }
        if (cw__body_allow(r, e, "endorsements[]", ekeys) ||
            get_enum(r, e, "kind", 1, endorsements, &v) ||
            cw__get_bool(r, e, "multiple_exit", 0, &en->multiple_exit) ||
            cw__get_date(r, e, "valid_from", 1, &en->valid_from) ||
            cw__get_date(r, e, "valid_until", 1, &en->valid_until)) {
            return -1;
        }
        en->kind = (cw_endorsement_kind_t)v;
        d->n_endorsements++;
    }
    return 0;
}

static int read_membership(cw__req_t *r, json_t *o, int64_t now, cw_store_membership_t *m)
{
    static const char *const keys[] = {"programme", "enrolled_at",  "expires_at", "booking",
                                       "flight",    "departure_at", "area",       NULL};
    const char *p = NULL;
    if (!json_is_object(o)) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "each membership must be an object");
        return -1;
    }
    m->enrolled_at = now;
    if (cw__body_allow(r, o, "memberships[]", keys) || cw__get_string(r, o, "programme", 1, &p) ||
        cw__get_int(r, o, "enrolled_at", 0, 0, INT64_MAX / 2, &m->enrolled_at) ||
        cw__get_int(r, o, "expires_at", 0, 0, INT64_MAX / 2, &m->expires_at) ||
        cw__get_text(r, o, "booking", 0, m->booking, sizeof(m->booking)) ||
        cw__get_text(r, o, "flight", 0, m->flight, sizeof(m->flight)) ||
        cw__get_int(r, o, "departure_at", 0, 0, INT64_MAX / 2, &m->departure_at) ||
        cw__get_text(r, o, "area", 0, m->area, sizeof(m->area))) {
        return -1;
    }
    m->programme = cw_programme_parse(p);
    if (m->programme == 0) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "field 'programme': '%.32s' is not one of document_free, contactless, "
                        "smart_departure, flight_token, closed_area",
                        p);
        return -1;
    }
    return 0;
}

typedef struct enrol_bufs {
    uint8_t *face;
    size_t face_len;
    uint8_t *fingers[CW_STORE_MAX_TEMPLATES];
    size_t finger_lens[CW_STORE_MAX_TEMPLATES];
} enrol_bufs_t;

static int read_fingers(cw__req_t *r, json_t *arr, cw_clearance_enrolment_t *bio, enrol_bufs_t *b)
{
    if (!json_is_array(arr) || json_array_size(arr) > CW_STORE_MAX_TEMPLATES - 1) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "'fingerprints' must be an array of at most %d",
                        CW_STORE_MAX_TEMPLATES - 1);
        return -1;
    }
    static const char *const keys[] = {"iso", "image", NULL};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        int iso = 0;
        const char *text = NULL;
        size_t tlen = 0;
        if (json_is_string(e)) {
            text = json_string_value(e);
            tlen = json_string_length(e);
        } else if (json_is_object(e)) {
            if (cw__body_allow(r, e, "fingerprints[]", keys) != 0) {
                return -1;
            }
            json_t *v = json_object_get(e, "iso");
            iso = v != NULL;
            v = v != NULL ? v : json_object_get(e, "image");
            if (json_is_string(v)) {
                text = json_string_value(v);
                tlen = json_string_length(v);
            }
        }
        if (text == NULL) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD",
                            "fingerprints[%zu] must be a base64 image or {\"iso\": base64}", i);
            return -1;
        }
        int err = cw__b64_decode(text, tlen, &b->fingers[i], &b->finger_lens[i]);
        if (err != 0) {
            cw__reply_error(r, err == CW_ENOMEM ? 500 : 400, err,
                            err == CW_ENOMEM ? "INTERNAL" : "BAD_BASE64",
                            "fingerprints[%zu] is not valid base64", i);
            return -1;
        }
        bio->fingers[i] = b->fingers[i];
        bio->finger_lens[i] = b->finger_lens[i];
        bio->finger_is_iso[i] = iso;
        bio->n_fingers++;
    }
    return 0;
}

static int read_record(cw__req_t *r, json_t *body, int64_t now, cw_store_traveller_t *t,
                       cw_clearance_enrolment_t *bio, enrol_bufs_t *b)
{
    static const char *const keys[] = {"name_local", "name_latin",  "sex",          "birth",
                                       "residence",  "nationality", "documents",    "memberships",
                                       "consents",   "face",        "fingerprints", NULL};
    static const char *const ckeys[] = {"face", "fingerprint", NULL};
    int sex = CW_SEX_UNSPECIFIED, res = 0;
    if (cw__body_allow(r, body, NULL, keys) ||
        cw__get_text(r, body, "name_local", 1, t->name_local, sizeof(t->name_local)) ||
        cw__get_text(r, body, "name_latin", 1, t->name_latin, sizeof(t->name_latin)) ||
        get_enum(r, body, "sex", 0, sexes, &sex) || cw__get_date(r, body, "birth", 1, &t->birth) ||
        get_enum(r, body, "residence", 1, residences, &res) ||
        cw__get_text(r, body, "nationality", 1, t->nationality, sizeof(t->nationality))) {
        return -1;
    }
    t->sex = (cw_sex_t)sex;
    t->residence = (cw_residence_t)res;
    json_t *a = json_object_get(body, "documents");
    if (a != NULL) {
        if (!json_is_array(a) || json_array_size(a) > CW_STORE_MAX_DOCUMENTS) {
            cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                            "'documents' must be an array of at most %d", CW_STORE_MAX_DOCUMENTS);
            return -1;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (read_document(r, json_array_get(a, i), &t->documents[i]) != 0) {
                return -1;
            }
            t->n_documents++;
        }
    }
    a = json_object_get(body, "memberships");
    if (a != NULL) {
        if (!json_is_array(a) || json_array_size(a) > CW_STORE_MAX_MEMBERSHIPS) {
            cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                            "'memberships' must be an array of at most %d",
                            CW_STORE_MAX_MEMBERSHIPS);
            return -1;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (read_membership(r, json_array_get(a, i), now, &t->memberships[i]) != 0) {
                return -1;
            }
            t->n_memberships++;
        }
    }
    json_t *c = json_object_get(body, "consents");
    if (c != NULL) {
        int face = 0, finger = 0;
        if (!json_is_object(c)) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD",
                            "'consents' must be {\"face\": bool, \"fingerprint\": bool}");
            return -1;
        }
        if (cw__body_allow(r, c, "consents", ckeys) || cw__get_bool(r, c, "face", 0, &face) ||
            cw__get_bool(r, c, "fingerprint", 0, &finger)) {
            return -1;
        }
        if (face) {
            t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FACE, now, 0};
        }
        if (finger) {
            t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, now, 0};
        }
    }
    if (cw__get_b64(r, body, "face", 0, &b->face, &b->face_len) != 0) {
        return -1;
    }
    bio->face = b->face;
    bio->face_len = b->face_len;
    a = json_object_get(body, "fingerprints");
    if (a != NULL && read_fingers(r, a, bio, b) != 0) {
        return -1;
    }
    return 0;
}

static json_t *eligibility_json(const cw_eligibility_t *e)
{
    json_t *o = json_object();
    json_t *reasons = json_array();
    for (int k = 0; k < e->n_failed && k < CW_ELIG_MAX_FAILED; k++) {
        json_array_append_new(reasons, json_string(cw_elig_reason_name(e->failed[k])));
    }
    json_object_set_new(o, "eligible", json_boolean(e->eligible));
    json_object_set_new(o, "reasons", reasons);
    return o;
}

void cw__h_traveller_enrol(cw__req_t *r, json_t *body)
{
    int64_t now = cw__now();
    cw_store_traveller_t *t = cw_calloc(1, sizeof(*t));
    enrol_bufs_t b;
    memset(&b, 0, sizeof(b));
    if (t == NULL) {
        cw__reply_error(r, 500, CW_ENOMEM, "INTERNAL", "out of memory");
        return;
    }
    cw_clearance_enrolment_t bio;
    memset(&bio, 0, sizeof(bio));
    if (read_record(r, body, now, t, &bio, &b) == 0) {
        cw_clearance_enrol_result_t res;
        memset(&res, 0, sizeof(res));
        char diag[256] = "";
        int err = cw_clearance_enrol(r->srv->clr, t, &bio, now, r->actor, &res, diag, sizeof(diag));
        if (err == CW_EINVAL && res.face_problem != CW_REASON_NONE) {
            cw__reply_error(r, 422, err, cw_reason_name(res.face_problem),
                            "the face photo cannot be used: %s",
                            cw_reason_instruction(res.face_problem));
        } else if (err == CW_EEXIST) {
            cw__reply_error(r, 409, err, "DUPLICATE_DOCUMENT", "%s", diag);
        } else if (err != 0) {
            cw__reply_err(r, err, diag, NULL, 1);
        } else {
            snprintf(r->subject, sizeof(r->subject), "traveller:%llu",
                     (unsigned long long)res.traveller);
            json_t *o = json_object();
            json_t *el = json_object();
            json_object_set_new(o, "id", json_integer((json_int_t)res.traveller));
            json_object_set_new(o, "status", json_string(res.duplicate_of ? "review" : "active"));
            json_object_set_new(o, "duplicate_of",
                                res.duplicate_of ? json_integer((json_int_t)res.resembles)
                                                 : json_null());
            for (int i = 0; i < t->n_memberships; i++) {
                cw_programme_t p = t->memberships[i].programme;
                if (p >= CW_PROGRAMME_DOCUMENT_FREE && p <= CW_PROGRAMME_CLOSED_AREA) {
                    json_object_set_new(el, cw_programme_name(p),
                                        eligibility_json(&res.eligibility[p]));
                }
            }
            json_object_set_new(o, "eligibility", el);
            json_object_set_new(o, "finger_problems", json_integer(res.finger_problems));
            cw__reply_json(r, 201, o);
        }
    }
    cw_free_wipe(b.face, b.face_len);
    for (int i = 0; i < CW_STORE_MAX_TEMPLATES; i++) {
        cw_free_wipe(b.fingers[i], b.finger_lens[i]);
    }
    cw_free_wipe(t, sizeof(*t));
}

// ---- reading a record ----

typedef struct load_ctx {
    uint64_t id;
    cw_store_traveller_t *t;
    char diag[256];
} load_ctx_t;

static int load_fn(void *ctx, cw_store_t *st)
{
    load_ctx_t *l = ctx;
    return cw_store_load(st, l->id, l->t, l->diag, sizeof(l->diag));
}

static json_t *record_json(const cw_store_traveller_t *t, int64_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)t->id));
    json_object_set_new(o, "name_local", json_string(t->name_local));
    json_object_set_new(o, "name_latin", json_string(t->name_latin));
    json_object_set_new(o, "sex", json_string(map_name(sexes, t->sex)));
    json_object_set_new(o, "birth", date_json(&t->birth));
    json_object_set_new(o, "residence", json_string(map_name(residences, t->residence)));
    json_object_set_new(o, "nationality", json_string(t->nationality));
    json_object_set_new(o, "status",
                        json_string(t->status == CW_STORE_REVIEW ? "review" : "active"));
    json_object_set_new(o, "review_of",
                        t->review_of != 0 ? json_integer((json_int_t)t->review_of) : json_null());
    json_t *docs = json_array();
    for (int i = 0; i < t->n_documents && i < CW_STORE_MAX_DOCUMENTS; i++) {
        const cw_store_document_t *d = &t->documents[i];
        json_t *jd = json_object();
        json_object_set_new(jd, "type", json_string(map_name(doc_types, d->type)));
        json_object_set_new(jd, "number", json_string(d->number));
        json_object_set_new(jd, "issued", date_json(&d->issued));
        json_object_set_new(jd, "expires", date_json(&d->expires));
        if (d->mrz[0] != '\0') {
            json_object_set_new(jd, "mrz", json_string(d->mrz));
        }
        json_t *es = json_array();
        for (int k = 0; k < d->n_endorsements && k < CW_STORE_MAX_ENDORSEMENTS; k++) {
            const cw_store_endorsement_t *e = &d->endorsements[k];
            json_t *je = json_object();
            json_object_set_new(je, "kind", json_string(map_name(endorsements, e->kind)));
            json_object_set_new(je, "multiple_exit", json_boolean(e->multiple_exit));
            json_object_set_new(je, "valid_from", date_json(&e->valid_from));
            json_object_set_new(je, "valid_until", date_json(&e->valid_until));
            json_array_append_new(es, je);
        }
        json_object_set_new(jd, "endorsements", es);
        json_array_append_new(docs, jd);
    }
    json_object_set_new(o, "documents", docs);
    json_t *ms = json_array();
    json_t *el = json_object();
    for (int i = 0; i < t->n_memberships && i < CW_STORE_MAX_MEMBERSHIPS; i++) {
        const cw_store_membership_t *m = &t->memberships[i];
        json_t *jm = json_object();
        json_object_set_new(jm, "programme", json_string(cw_programme_name(m->programme)));
        json_object_set_new(jm, "enrolled_at", json_integer(m->enrolled_at));
        json_object_set_new(jm, "expires_at", time_or_null(m->expires_at));
        if (m->programme == CW_PROGRAMME_FLIGHT_TOKEN) {
            json_object_set_new(jm, "booking", json_string(m->booking));
            json_object_set_new(jm, "flight", json_string(m->flight));
            json_object_set_new(jm, "departure_at", time_or_null(m->departure_at));
        }
        if (m->programme == CW_PROGRAMME_CLOSED_AREA) {
            json_object_set_new(jm, "area", json_string(m->area));
        }
        json_array_append_new(ms, jm);
        cw_eligibility_t e;
        if (cw_store_eligibility(t, m->programme, now, &e) == 0) {
            json_object_set_new(el, cw_programme_name(m->programme), eligibility_json(&e));
        }
    }
    json_object_set_new(o, "memberships", ms);
    json_object_set_new(o, "eligibility", el);
    json_t *cs = json_array();
    for (int i = 0; i < t->n_consents && i < CW_STORE_MAX_CONSENTS; i++) {
        const cw_store_consent_t *c = &t->consents[i];
        json_t *jc = json_object();
        json_object_set_new(jc, "modality",
                            json_string(c->modality == CW_MODALITY_FACE ? "face" : "fingerprint"));
        json_object_set_new(jc, "given_at", json_integer(c->given_at));
        json_object_set_new(jc, "withdrawn_at", time_or_null(c->withdrawn_at));
        json_array_append_new(cs, jc);
    }
    json_object_set_new(o, "consents", cs);
    json_t *ts = json_array();
    for (int i = 0; i < t->n_templates && i < CW_STORE_MAX_TEMPLATES; i++) {
        const cw_store_template_t *tp = &t->templates[i];
        json_t *jt = json_object();
        json_object_set_new(jt, "id", json_integer((json_int_t)tp->id));
        json_object_set_new(jt, "modality",
                            json_string(tp->modality == CW_MODALITY_FACE ? "face" : "fingerprint"));
        json_object_set_new(jt, "model_id", json_integer(tp->model_id));
        json_object_set_new(jt, "model_version", json_integer(tp->model_version));
        json_object_set_new(jt, "quality", json_real(tp->quality));
        json_object_set_new(jt, "captured_at", json_integer(tp->captured_at));
        json_object_set_new(jt, "device", json_string(tp->device));
        json_object_set_new(jt, "bytes", json_integer((json_int_t)tp->len));
        json_array_append_new(ts, jt);
    }
    json_object_set_new(o, "templates", ts);
    return o;
}

void cw__h_traveller_get(cw__req_t *r, json_t *body)
{
    (void)body;
    load_ctx_t l = {.id = param_id(r, 0, "UNKNOWN_TRAVELLER", "traveller")};
    if (l.id == 0) {
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "traveller:%llu", (unsigned long long)l.id);
    l.t = cw_calloc(1, sizeof(*l.t));
    if (l.t == NULL) {
        cw__reply_error(r, 500, CW_ENOMEM, "INTERNAL", "out of memory");
        return;
    }
    int err = cw__with_store(r, load_fn, &l);
    if (err != 0) {
        cw__reply_err(r, err, l.diag, "UNKNOWN_TRAVELLER", 1);
    } else {
        cw__reply_json(r, 200, record_json(l.t, cw__now()));
    }
    cw_free_wipe(l.t, sizeof(*l.t));
}

void cw__h_traveller_delete(cw__req_t *r, json_t *body)
{
    (void)body;
    uint64_t id = param_id(r, 0, "UNKNOWN_TRAVELLER", "traveller");
    if (id == 0) {
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "traveller:%llu", (unsigned long long)id);
    char diag[256] = "";
    int err =
        cw_clearance_traveller_delete(r->srv->clr, id, cw__now(), r->actor, diag, sizeof(diag));
    if (err != 0) {
        cw__reply_err(r, err, diag, "UNKNOWN_TRAVELLER", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "deleted", json_true());
    cw__reply_json(r, 200, o);
}

void cw__h_consent_withdraw(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {NULL};
    if (body != NULL && cw__body_allow(r, body, NULL, keys) != 0) {
        return;
    }
    uint64_t id = param_id(r, 0, "UNKNOWN_TRAVELLER", "traveller");
    if (id == 0) {
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "traveller:%llu", (unsigned long long)id);
    cw_modality_t m;
    if (strcmp(r->params[1], "face") == 0) {
        m = CW_MODALITY_FACE;
    } else if (strcmp(r->params[1], "fingerprint") == 0) {
        m = CW_MODALITY_FINGERPRINT;
    } else {
        cw__reply_error(r, 404, CW_ENOENT, "NOT_FOUND", "no modality '%.32s' (face, fingerprint)",
                        r->params[1]);
        return;
    }
    char diag[256] = "";
    int err =
        cw_clearance_consent_withdraw(r->srv->clr, id, m, cw__now(), r->actor, diag, sizeof(diag));
    if (err != 0) {
        cw__reply_err(r, err, diag, "NO_SUCH_CONSENT", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "modality", json_string(r->params[1]));
    json_object_set_new(o, "withdrawn", json_true());
    cw__reply_json(r, 200, o);
}

// ---- QR tokens ----

void cw__h_token_issue(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"expires_at", NULL};
    int64_t now = cw__now(), expires = 0;
    uint64_t id = param_id(r, 0, "UNKNOWN_TRAVELLER", "traveller");
    if (id == 0) {
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "traveller:%llu", (unsigned long long)id);
    if (cw__body_allow(r, body, NULL, keys) ||
        cw__get_int(r, body, "expires_at", 1, now + 1, now + 5LL * 366 * 86400, &expires)) {
        return;
    }
    char qr[CW_TOKEN_TEXT_MAX];
    uint64_t token = 0;
    char diag[256] = "";
    int err = cw_clearance_token_issue(r->srv->clr, id, now, expires, r->actor, qr, &token, diag,
                                       sizeof(diag));
    if (err != 0) {
        cw__reply_err(r, err, diag, "UNKNOWN_TRAVELLER", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "token_id", json_integer((json_int_t)token));
    json_object_set_new(o, "traveller", json_integer((json_int_t)id));
    json_object_set_new(o, "qr", json_string(qr));
    json_object_set_new(o, "expires_at", json_integer(expires));
    cw_memzero(qr, sizeof(qr));
    cw__reply_json(r, 201, o);
}

typedef struct revoke_ctx {
    uint64_t id;
    const char *actor;
    char diag[256];
} revoke_ctx_t;

static int token_revoke_fn(void *ctx, cw_store_t *st)
{
    revoke_ctx_t *c = ctx;
    return cw_store_token_revoke(st, c->id, cw__now(), c->actor, c->diag, sizeof(c->diag));
}

void cw__h_token_revoke(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {NULL};
    if (body != NULL && cw__body_allow(r, body, NULL, keys) != 0) {
        return;
    }
    revoke_ctx_t c = {.id = param_id(r, 0, "UNKNOWN_TOKEN", "token"), .actor = r->actor};
    if (c.id == 0) {
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "token:%llu", (unsigned long long)c.id);
    int err = cw__with_store(r, token_revoke_fn, &c);
    if (err != 0) {
        cw__reply_err(r, err, c.diag, "UNKNOWN_TOKEN", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "token_id", json_integer((json_int_t)c.id));
    json_object_set_new(o, "revoked", json_true());
    cw__reply_json(r, 200, o);
}
