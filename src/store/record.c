// SPDX-License-Identifier: Apache-2.0
// Traveller records: enrolment (everything validated first, then written in one transaction
// with its audit entry), loading and decrypting a record, finding a document's holder by its
// blind index, reading a template, withdrawing consent (which deletes the templates of that
// modality in the same transaction), walking the templates of a programme's members (to fill
// its gallery), and deleting a traveller with everything he gave.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static int check_date(const cw_date_t *d, const char *what, char *diag, size_t diag_len)
{
    if (!cw_date_valid(d)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s is not a valid date (%d-%d-%d)", what,
                           d->year, d->month, d->day);
    }
    return 0;
}

static int date_cmp(const cw_date_t *a, const cw_date_t *b)
{
    long x = (long)a->year * 10000 + a->month * 100 + a->day;
    long y = (long)b->year * 10000 + b->month * 100 + b->day;
    return x < y ? -1 : x > y;
}

static int check_charset(const char *s, const char *allowed_extra, const char *what, char *diag,
                         size_t diag_len)
{
    for (const char *p = s; *p != '\0'; p++) {
        int ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr(allowed_extra, *p) != NULL;
        if (!ok) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "%s holds '%c'", what, *p);
        }
    }
    return 0;
}

static int consent_in_force(const cw_store_traveller_t *t, cw_modality_t m)
{
    for (int i = 0; i < t->n_consents; i++) {
        if (t->consents[i].modality == m && t->consents[i].withdrawn_at == 0) {
            return 1;
        }
    }
    return 0;
}

static int validate(const cw_store_traveller_t *t, char *diag, size_t diag_len)
{
    int err;
    if ((err = cw__check_text(t->name_local, sizeof(t->name_local), "local-script name", 1, diag,
                              diag_len)) != 0 ||
        (err = cw__check_text(t->name_latin, sizeof(t->name_latin), "Latin name", 1, diag,
                              diag_len)) != 0 ||
        (err = cw__check_text(t->nationality, sizeof(t->nationality), "nationality", 1, diag,
                              diag_len)) != 0) {
        return err;
    }
    if (strlen(t->nationality) != 3 ||
        check_charset(t->nationality, "<", "nationality", NULL, 0) != 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "nationality is not a 3-letter code");
    }
    if (t->sex < CW_SEX_UNSPECIFIED || t->sex > CW_SEX_MALE) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown sex %d", (int)t->sex);
    }
    if (t->residence < CW_RESIDENCE_HONG_KONG || t->residence > CW_RESIDENCE_OTHER) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown residence category %d",
                           (int)t->residence);
    }
    if (t->status != CW_STORE_ACTIVE && t->status != CW_STORE_REVIEW) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown status %d", (int)t->status);
    }
    if ((err = check_date(&t->birth, "date of birth", diag, diag_len)) != 0) {
        return err;
    }
    if (t->n_documents < 0 || t->n_documents > CW_STORE_MAX_DOCUMENTS || t->n_memberships < 0 ||
        t->n_memberships > CW_STORE_MAX_MEMBERSHIPS || t->n_consents < 0 ||
        t->n_consents > CW_STORE_MAX_CONSENTS || t->n_templates < 0 ||
        t->n_templates > CW_STORE_MAX_TEMPLATES) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "too many (or negative) items");
    }
    for (int i = 0; i < t->n_documents; i++) {
        const cw_store_document_t *d = &t->documents[i];
        if (d->type < CW_DOC_MAINLAND_TRAVEL_PERMIT || d->type > CW_DOC_CLOSED_AREA_PERMIT) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "document %d: unknown type %d", i,
                               (int)d->type);
        }
        if ((err = cw__check_text(d->number, sizeof(d->number), "document number", 1, diag,
                                  diag_len)) != 0 ||
            (err = cw__check_text(d->mrz, sizeof(d->mrz), "MRZ", 0, diag, diag_len)) != 0 ||
            (err = check_date(&d->issued, "issue date", diag, diag_len)) != 0 ||
            (err = check_date(&d->expires, "expiry date", diag, diag_len)) != 0) {
            return err;
        }
        if (date_cmp(&d->expires, &d->issued) < 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "document %d expires before issue", i);
        }
        if (d->type == CW_DOC_PASSPORT) {
            if (d->mrz[0] == '\0') {
                return cw_diag_set(diag, diag_len, CW_EINVAL, "passport %d has no MRZ", i);
            }
            if ((err = check_charset(d->mrz, "<", "MRZ", diag, diag_len)) != 0) {
                return err;
            }
        } else if (d->mrz[0] != '\0') {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "document %d: only passports have an MRZ",
                               i);
        }
        if (d->n_endorsements < 0 || d->n_endorsements > CW_STORE_MAX_ENDORSEMENTS) {
            return cw_diag_set(diag, diag_len, CW_ETOOBIG, "document %d: too many endorsements", i);
        }
        if (d->n_endorsements > 0 && d->type != CW_DOC_EXIT_ENTRY_PERMIT) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "document %d: only exit-entry permits carry endorsements", i);
        }
        for (int k = 0; k < d->n_endorsements; k++) {
            const cw_store_endorsement_t *e = &d->endorsements[k];
            if (e->kind < CW_ENDORSEMENT_STAY || e->kind > CW_ENDORSEMENT_OTHER ||
                (e->multiple_exit != 0 && e->multiple_exit != 1)) {
                return cw_diag_set(diag, diag_len, CW_EINVAL, "document %d: bad endorsement", i);
            }
            if ((err = check_date(&e->valid_from, "endorsement start", diag, diag_len)) != 0 ||
                (err = check_date(&e->valid_until, "endorsement end", diag, diag_len)) != 0) {
                return err;
            }
            if (date_cmp(&e->valid_until, &e->valid_from) < 0) {
                return cw_diag_set(diag, diag_len, CW_EINVAL, "endorsement ends before it starts");
            }
        }
    }
    for (int i = 0; i < t->n_memberships; i++) {
        const cw_store_membership_t *m = &t->memberships[i];
        if (m->programme < CW_PROGRAMME_DOCUMENT_FREE || m->programme > CW_PROGRAMME_CLOSED_AREA) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "membership %d: unknown programme %d", i,
                               (int)m->programme);
        }
        for (int k = 0; k < i; k++) {
            if (t->memberships[k].programme == m->programme) {
                return cw_diag_set(diag, diag_len, CW_EINVAL, "programme %d listed twice",
                                   (int)m->programme);
            }
        }
        if ((err = cw__check_text(m->booking, sizeof(m->booking), "booking", 0, diag, diag_len)) !=
                0 ||
            (err = cw__check_text(m->flight, sizeof(m->flight), "flight", 0, diag, diag_len)) !=
                0 ||
            (err = cw__check_text(m->area, sizeof(m->area), "area", 0, diag, diag_len)) != 0) {
            return err;
        }
        if (m->enrolled_at < 0 || m->expires_at < 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "membership %d: negative time", i);
        }
        if (m->programme == CW_PROGRAMME_FLIGHT_TOKEN &&
            (m->booking[0] == '\0' || m->flight[0] == '\0' || m->departure_at <= 0)) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "flight token needs booking, flight and departure time");
        }
        if (m->programme == CW_PROGRAMME_CLOSED_AREA && m->area[0] == '\0') {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "closed-area membership needs an area");
        }
    }
    for (int i = 0; i < t->n_consents; i++) {
        const cw_store_consent_t *c = &t->consents[i];
        if ((c->modality != CW_MODALITY_FACE && c->modality != CW_MODALITY_FINGERPRINT) ||
            c->given_at <= 0 || (c->withdrawn_at != 0 && c->withdrawn_at < c->given_at)) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "consent %d is invalid", i);
        }
    }
    for (int i = 0; i < t->n_templates; i++) {
        const cw_store_template_t *b = &t->templates[i];
        if (b->modality != CW_MODALITY_FACE && b->modality != CW_MODALITY_FINGERPRINT) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "template %d: unknown modality", i);
        }
        if (b->data == NULL || b->len == 0) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "template %d is empty", i);
        }
        if (b->len > CW_STORE_TEMPLATE_MAX_BYTES) {
            return cw_diag_set(diag, diag_len, CW_ETOOBIG, "template %d: %zu bytes", i, b->len);
        }
        if (!(b->quality >= 0.0f && b->quality <= 1.0f)) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "template %d: quality not in [0, 1]", i);
        }
        if ((err = cw__check_text(b->device, sizeof(b->device), "capture device", 0, diag,
                                  diag_len)) != 0) {
            return err;
        }
        if (!consent_in_force(t, b->modality)) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "template %d: no consent in force for its modality", i);
        }
    }
    return 0;
}

// Blind index of a document: keyed BLAKE2b over the type and the number's letters and digits
// (upper-cased), so "a123456(7)" and "A1234567" are the same document.
static void doc_index(const cw_store_t *st, cw_doc_type_t type, const char *number,
                      unsigned char out[32])
{
    char norm[CW_STORE_DOCNO_MAX + 8];
    size_t n = (size_t)snprintf(norm, sizeof(norm), "%d:", (int)type);
    for (const char *p = number; *p != '\0' && n + 1 < sizeof(norm); p++) {
        char c = *p;
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (unsigned char)c >= 0x80) {
            norm[n++] = c;
        }
    }
    crypto_generichash(out, 32, (const unsigned char *)norm, n, st->index_key, 32);
    sodium_memzero(norm, sizeof(norm));
}

// Seal a text field of row id into a growing set of ciphertexts freed by the caller.
typedef struct sealed {
    unsigned char *ct[8];
    size_t len[8];
    int n;
} sealed_t;

static int seal_text(cw_store_t *st, sealed_t *s, const char *field, uint64_t id, const void *pt,
                     size_t len, cw__val_t *out)
{
    if (s->n >= 8) {
        return CW_EINTERNAL;
    }
    int err = cw__seal(&st->ring, field, id, pt, len, &s->ct[s->n], &s->len[s->n]);
    if (err != 0) {
        return err;
    }
    *out = cw__blob(s->ct[s->n], s->len[s->n]);
    s->n++;
    return 0;
}

static void sealed_free(sealed_t *s)
{
    for (int i = 0; i < s->n; i++) {
        cw_free(s->ct[i]);
    }
    s->n = 0;
}

static int insert_traveller(cw_store_t *st, const cw_store_traveller_t *t, int64_t now, char *diag,
                            size_t diag_len)
{
    sealed_t s = {0};
    char birth[11];
    cw__date_format(&t->birth, birth);
    cw__val_t p[11];
    p[0] = cw__int((int64_t)t->id);
    p[1] = cw__int(st->ring.id[0]);
    int err = seal_text(st, &s, "traveller.name_local", t->id, t->name_local, strlen(t->name_local),
                        &p[2]);
    if (err == 0) {
        err = seal_text(st, &s, "traveller.name_latin", t->id, t->name_latin, strlen(t->name_latin),
                        &p[3]);
    }
    if (err == 0) {
        err = seal_text(st, &s, "traveller.birth", t->id, birth, 10, &p[4]);
    }
    if (err == 0) {
        err = seal_text(st, &s, "traveller.nationality", t->id, t->nationality,
                        strlen(t->nationality), &p[5]);
    }
    if (err != 0) {
        sealed_free(&s);
        return cw_diag_set(diag, diag_len, err, "sealing personal fields failed");
    }
    p[6] = cw__int(t->sex);
    p[7] = cw__int(t->residence);
    p[8] = cw__int(t->status);
    p[9] = t->review_of != 0 ? cw__int((int64_t)t->review_of) : cw__text(NULL);
    p[10] = cw__int(now);
    err = cw__exec(st,
                   "INSERT INTO traveller (id, key_id, name_local, name_latin, birth, "
                   "nationality, sex, residence, status, review_of, created_at) VALUES (?, ?, ?, "
                   "?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 11, NULL, NULL, diag, diag_len);
    sealed_free(&s);
    sodium_memzero(birth, sizeof(birth));
    return err;
}

static int insert_document(cw_store_t *st, uint64_t traveller, uint64_t id,
                           const cw_store_document_t *d, uint64_t *next_id, char *diag,
                           size_t diag_len)
{
    sealed_t s = {0};
    unsigned char idx[32];
    char issued[11], expires[11];
    doc_index(st, d->type, d->number, idx);
    cw__date_format(&d->issued, issued);
    cw__date_format(&d->expires, expires);
    cw__val_t p[9] = {cw__int((int64_t)id), cw__int((int64_t)traveller), cw__int(st->ring.id[0]),
                      cw__int(d->type), cw__blob(idx, 32)};
    int err = seal_text(st, &s, "travel_document.number", id, d->number, strlen(d->number), &p[5]);
    p[6] = cw__text(NULL);
    if (err == 0 && d->mrz[0] != '\0') {
        err = seal_text(st, &s, "travel_document.mrz", id, d->mrz, strlen(d->mrz), &p[6]);
    }
    if (err != 0) {
        sealed_free(&s);
        return cw_diag_set(diag, diag_len, err, "sealing document fields failed");
    }
    p[7] = cw__text(issued);
    p[8] = cw__text(expires);
    err = cw__exec(st,
                   "INSERT INTO travel_document (id, traveller, key_id, type, number_idx, "
                   "number, mrz, issued, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 9, NULL, NULL, diag, diag_len);
    sealed_free(&s);
    if (err == CW_EEXIST) {
        return cw_diag_set(diag, diag_len, CW_EEXIST,
                           "a document of this type and number is enrolled already");
    }
    for (int k = 0; err == 0 && k < d->n_endorsements; k++) {
        const cw_store_endorsement_t *e = &d->endorsements[k];
        char from[11], until[11];
        cw__date_format(&e->valid_from, from);
        cw__date_format(&e->valid_until, until);
        cw__val_t q[6] = {cw__int((int64_t)(*next_id)++), cw__int((int64_t)id), cw__int(e->kind),
                          cw__int(e->multiple_exit),      cw__text(from),       cw__text(until)};
        err = cw__exec(st,
                       "INSERT INTO endorsement (id, document, kind, multiple_exit, valid_from, "
                       "valid_until) VALUES (?, ?, ?, ?, ?, ?)",
                       q, 6, NULL, NULL, diag, diag_len);
    }
    return err;
}

static int insert_rest(cw_store_t *st, cw_store_traveller_t *t, uint64_t *next_id, char *diag,
                       size_t diag_len)
{
    int err = 0;
    for (int i = 0; err == 0 && i < t->n_memberships; i++) {
        const cw_store_membership_t *m = &t->memberships[i];
        int ft = m->programme == CW_PROGRAMME_FLIGHT_TOKEN;
        cw__val_t p[9] = {cw__int((int64_t)(*next_id)++),
                          cw__int((int64_t)t->id),
                          cw__int(m->programme),
                          cw__int(m->enrolled_at),
                          cw__int(m->expires_at),
                          cw__text(m->booking[0] ? m->booking : NULL),
                          cw__text(m->flight[0] ? m->flight : NULL),
                          ft ? cw__int(m->departure_at) : cw__text(NULL),
                          cw__text(m->area[0] ? m->area : NULL)};
        err = cw__exec(st,
                       "INSERT INTO membership (id, traveller, programme, enrolled_at, "
                       "expires_at, booking, flight, departure_at, area) VALUES (?, ?, ?, ?, ?, "
                       "?, ?, ?, ?)",
                       p, 9, NULL, NULL, diag, diag_len);
    }
    for (int i = 0; err == 0 && i < t->n_consents; i++) {
        const cw_store_consent_t *c = &t->consents[i];
        cw__val_t p[5] = {cw__int((int64_t)(*next_id)++), cw__int((int64_t)t->id),
                          cw__int(c->modality), cw__int(c->given_at),
                          c->withdrawn_at != 0 ? cw__int(c->withdrawn_at) : cw__text(NULL)};
        err = cw__exec(st,
                       "INSERT INTO consent (id, traveller, modality, given_at, withdrawn_at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       p, 5, NULL, NULL, diag, diag_len);
    }
    for (int i = 0; err == 0 && i < t->n_templates; i++) {
        cw_store_template_t *b = &t->templates[i];
        uint64_t id = (*next_id)++;
        unsigned char *ct = NULL;
        size_t ct_len = 0;
        err = cw__seal(&st->ring, "biometric.data", id, b->data, b->len, &ct, &ct_len);
        if (err != 0) {
            return cw_diag_set(diag, diag_len, err, "sealing template %d failed", i);
        }
        cw__val_t p[11] = {
            cw__int((int64_t)id),     cw__int((int64_t)t->id), cw__int(st->ring.id[0]),
            cw__int(b->modality),     cw__int(b->model_id),    cw__int(b->model_version),
            cw__real(b->quality),     cw__int(b->captured_at), cw__text(b->device),
            cw__int((int64_t)b->len), cw__blob(ct, ct_len)};
        err = cw__exec(st,
                       "INSERT INTO biometric (id, traveller, key_id, modality, model_id, "
                       "model_version, quality, captured_at, device, len, data) VALUES (?, ?, ?, "
                       "?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 11, NULL, NULL, diag, diag_len);
        cw_free(ct);
        if (err == 0) {
            b->id = id;
        }
    }
    return err;
}

int cw_store_enrol(cw_store_t *st, cw_store_traveller_t *t, int64_t now, const char *actor,
                   char *diag, size_t diag_len)
{
    if (st == NULL || t == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store or record");
    }
    int err = validate(t, diag, diag_len);
    if (err != 0) {
        return err;
    }
    uint64_t n_ids = 1 + (uint64_t)t->n_documents + (uint64_t)t->n_memberships +
                     (uint64_t)t->n_consents + (uint64_t)t->n_templates;
    for (int i = 0; i < t->n_documents; i++) {
        n_ids += (uint64_t)t->documents[i].n_endorsements;
    }
    uint64_t first = 0, next = 0, saved_ids[CW_STORE_MAX_TEMPLATES];
    for (int i = 0; i < t->n_templates; i++) {
        saved_ids[i] = t->templates[i].id;
    }
    err = cw__begin(st, diag, diag_len);
    if (err == 0) {
        err = cw__next_ids(st, n_ids, &first, diag, diag_len);
    }
    if (err == 0) {
        t->id = first;
        next = first + 1;
        err = insert_traveller(st, t, now, diag, diag_len);
    }
    for (int i = 0; err == 0 && i < t->n_documents; i++) {
        err = insert_document(st, t->id, next++, &t->documents[i], &next, diag, diag_len);
    }
    if (err == 0) {
        err = insert_rest(st, t, &next, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[128];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)t->id);
        snprintf(detail, sizeof(detail),
                 "documents=%d memberships=%d consents=%d templates=%d status=%d review_of=%llu",
                 t->n_documents, t->n_memberships, t->n_consents, t->n_templates, (int)t->status,
                 (unsigned long long)t->review_of);
        err = cw__audit_append(st, now, actor, "enrol", subject, detail, diag, diag_len);
    }
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
    }
    if (err != 0) {
        // Nothing was written: give the caller back the record as it was.
        t->id = 0;
        for (int i = 0; i < t->n_templates; i++) {
            t->templates[i].id = saved_ids[i];
        }
    }
    return err;
}

// ---- reading ----

static int open_text(cw_store_t *st, const char *field, uint64_t id, const cw__val_t *v, char *dst,
                     size_t cap, char *diag, size_t diag_len)
{
    dst[0] = '\0';
    if (v->t == CW__V_NULL) {
        return 0;
    }
    unsigned char *pt = NULL;
    size_t len = 0;
    int err = cw__open(&st->ring, field, id, v->p, v->n, &pt, &len, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (len >= cap) {
        cw_free_wipe(pt, len + 1);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "%s of row %llu is oversized", field,
                           (unsigned long long)id);
    }
    memcpy(dst, pt, len + 1);
    cw_free_wipe(pt, len + 1);
    return 0;
}

static int read_date(const cw__val_t *v, cw_date_t *d, char *diag, size_t diag_len)
{
    if (v->t != CW__V_TEXT || cw_date_parse(v->p, d) != 0) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "a stored date is malformed");
    }
    return 0;
}

static int load_documents(cw_store_t *st, cw_store_traveller_t *out, char *diag, size_t diag_len)
{
    cw__rows_t r;
    cw__val_t id = cw__int((int64_t)out->id);
    int err = cw__exec(st,
                       "SELECT id, type, number, mrz, issued, expires FROM travel_document WHERE "
                       "traveller = ? ORDER BY id",
                       &id, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows > CW_STORE_MAX_DOCUMENTS) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "too many documents");
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        cw_store_document_t *d = &out->documents[i];
        uint64_t did = (uint64_t)cw__cell(&r, i, 0)->i;
        d->type = (cw_doc_type_t)cw__cell(&r, i, 1)->i;
        err = open_text(st, "travel_document.number", did, cw__cell(&r, i, 2), d->number,
                        sizeof(d->number), diag, diag_len);
        if (err == 0) {
            err = open_text(st, "travel_document.mrz", did, cw__cell(&r, i, 3), d->mrz,
                            sizeof(d->mrz), diag, diag_len);
        }
        if (err == 0) {
            err = read_date(cw__cell(&r, i, 4), &d->issued, diag, diag_len);
        }
        if (err == 0) {
            err = read_date(cw__cell(&r, i, 5), &d->expires, diag, diag_len);
        }
        cw__rows_t e;
        cw__val_t p = cw__int((int64_t)did);
        if (err == 0) {
            err = cw__exec(st,
                           "SELECT kind, multiple_exit, valid_from, valid_until FROM endorsement "
                           "WHERE document = ? ORDER BY id",
                           &p, 1, &e, NULL, diag, diag_len);
            if (err == 0 && e.n_rows > CW_STORE_MAX_ENDORSEMENTS) {
                err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "too many endorsements");
            }
            for (size_t k = 0; err == 0 && k < e.n_rows; k++) {
                cw_store_endorsement_t *en = &d->endorsements[k];
                en->kind = (cw_endorsement_kind_t)cw__cell(&e, k, 0)->i;
                en->multiple_exit = (int)cw__cell(&e, k, 1)->i;
                err = read_date(cw__cell(&e, k, 2), &en->valid_from, diag, diag_len);
                if (err == 0) {
                    err = read_date(cw__cell(&e, k, 3), &en->valid_until, diag, diag_len);
                }
                d->n_endorsements = (int)k + 1;
            }
            cw__rows_free(&e);
        }
        out->n_documents = (int)i + 1;
    }
    cw__rows_free(&r);
    return err;
}

static void copy_text(char *dst, size_t cap, const cw__val_t *v)
{
    dst[0] = '\0';
    if (v->t == CW__V_TEXT && v->n < cap) {
        memcpy(dst, v->p, v->n + 1);
    }
}

static int load_rest(cw_store_t *st, cw_store_traveller_t *out, char *diag, size_t diag_len)
{
    cw__rows_t r;
    cw__val_t id = cw__int((int64_t)out->id);
    int err = cw__exec(st,
                       "SELECT programme, enrolled_at, expires_at, booking, flight, "
                       "departure_at, area FROM membership WHERE traveller = ? ORDER BY id",
                       &id, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < r.n_rows && i < CW_STORE_MAX_MEMBERSHIPS; i++) {
        cw_store_membership_t *m = &out->memberships[i];
        m->programme = (cw_programme_t)cw__cell(&r, i, 0)->i;
        m->enrolled_at = cw__cell(&r, i, 1)->i;
        m->expires_at = cw__cell(&r, i, 2)->i;
        copy_text(m->booking, sizeof(m->booking), cw__cell(&r, i, 3));
        copy_text(m->flight, sizeof(m->flight), cw__cell(&r, i, 4));
        m->departure_at = cw__cell(&r, i, 5)->i;
        copy_text(m->area, sizeof(m->area), cw__cell(&r, i, 6));
        out->n_memberships = (int)i + 1;
    }
    cw__rows_free(&r);
    err = cw__exec(st,
                   "SELECT modality, given_at, withdrawn_at FROM consent WHERE traveller = ? "
                   "ORDER BY id",
                   &id, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < r.n_rows && i < CW_STORE_MAX_CONSENTS; i++) {
        cw_store_consent_t *c = &out->consents[i];
        c->modality = (cw_modality_t)cw__cell(&r, i, 0)->i;
        c->given_at = cw__cell(&r, i, 1)->i;
        c->withdrawn_at = cw__cell(&r, i, 2)->i;
        out->n_consents = (int)i + 1;
    }
    cw__rows_free(&r);
    err = cw__exec(st,
                   "SELECT id, modality, model_id, model_version, quality, captured_at, device, "
                   "len FROM biometric WHERE traveller = ? ORDER BY id",
                   &id, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < r.n_rows && i < CW_STORE_MAX_TEMPLATES; i++) {
        cw_store_template_t *b = &out->templates[i];
        b->id = (uint64_t)cw__cell(&r, i, 0)->i;
        b->modality = (cw_modality_t)cw__cell(&r, i, 1)->i;
        b->model_id = (uint32_t)cw__cell(&r, i, 2)->i;
        b->model_version = (uint32_t)cw__cell(&r, i, 3)->i;
        b->quality = (float)cw__cell(&r, i, 4)->r;
        b->captured_at = cw__cell(&r, i, 5)->i;
        copy_text(b->device, sizeof(b->device), cw__cell(&r, i, 6));
        b->data = NULL;
        b->len = (size_t)cw__cell(&r, i, 7)->i;
        out->n_templates = (int)i + 1;
    }
    cw__rows_free(&r);
    return 0;
}

int cw_store_load(cw_store_t *st, uint64_t id, cw_store_traveller_t *out, char *diag,
                  size_t diag_len)
{
    if (st == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no store or record");
    }
    memset(out, 0, sizeof(*out));
    cw__rows_t r;
    cw__val_t p = cw__int((int64_t)id);
    int err = cw__exec(st,
                       "SELECT name_local, name_latin, birth, nationality, sex, residence, "
                       "status, review_of FROM traveller WHERE id = ?",
                       &p, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows == 0) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ENOENT, "no traveller %llu", (unsigned long long)id);
    }
    out->id = id;
    char birth[16];
    err = open_text(st, "traveller.name_local", id, cw__cell(&r, 0, 0), out->name_local,
                    sizeof(out->name_local), diag, diag_len);
    if (err == 0) {
        err = open_text(st, "traveller.name_latin", id, cw__cell(&r, 0, 1), out->name_latin,
                        sizeof(out->name_latin), diag, diag_len);
    }
    if (err == 0) {
        err = open_text(st, "traveller.birth", id, cw__cell(&r, 0, 2), birth, sizeof(birth), diag,
                        diag_len);
        if (err == 0 && cw_date_parse(birth, &out->birth) != 0) {
            err = cw_diag_set(diag, diag_len, CW_ECORRUPT, "stored date of birth is malformed");
        }
        sodium_memzero(birth, sizeof(birth));
    }
    if (err == 0) {
        err = open_text(st, "traveller.nationality", id, cw__cell(&r, 0, 3), out->nationality,
                        sizeof(out->nationality), diag, diag_len);
    }
    if (err == 0) {
        out->sex = (cw_sex_t)cw__cell(&r, 0, 4)->i;
        out->residence = (cw_residence_t)cw__cell(&r, 0, 5)->i;
        out->status = (cw_store_status_t)cw__cell(&r, 0, 6)->i;
        out->review_of = (uint64_t)cw__cell(&r, 0, 7)->i;
    }
    cw__rows_free(&r);
    if (err == 0) {
        err = load_documents(st, out, diag, diag_len);
    }
    if (err == 0) {
        err = load_rest(st, out, diag, diag_len);
    }
    if (err != 0) {
        sodium_memzero(out, sizeof(*out));
    }
    return err;
}

int cw_store_find_document(cw_store_t *st, cw_doc_type_t type, const char *number, uint64_t *id,
                           char *diag, size_t diag_len)
{
    if (st == NULL || number == NULL || id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    int err = cw__check_text(number, CW_STORE_DOCNO_MAX, "document number", 1, diag, diag_len);
    if (err != 0) {
        return err;
    }
    unsigned char idx[32];
    doc_index(st, type, number, idx);
    cw__val_t p = cw__blob(idx, 32);
    cw__rows_t r;
    err = cw__exec(st, "SELECT traveller FROM travel_document WHERE number_idx = ?", &p, 1, &r,
                   NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows == 0) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ENOENT, "no such document");
    }
    *id = (uint64_t)cw__cell(&r, 0, 0)->i;
    cw__rows_free(&r);
    return 0;
}

int cw_store_template_get(cw_store_t *st, uint64_t id, void *buf, size_t cap, size_t *len,
                          char *diag, size_t diag_len)
{
    if (st == NULL || len == NULL || (buf == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    cw__rows_t r;
    cw__val_t p = cw__int((int64_t)id);
    int err =
        cw__exec(st, "SELECT data FROM biometric WHERE id = ?", &p, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (r.n_rows == 0) {
        cw__rows_free(&r);
        return cw_diag_set(diag, diag_len, CW_ENOENT, "no template %llu", (unsigned long long)id);
    }
    unsigned char *pt = NULL;
    size_t n = 0;
    const cw__val_t *v = cw__cell(&r, 0, 0);
    err = cw__open(&st->ring, "biometric.data", id, v->p, v->n, &pt, &n, diag, diag_len);
    cw__rows_free(&r);
    if (err != 0) {
        return err;
    }
    *len = n;
    if (n > cap) {
        err = cw_diag_set(diag, diag_len, CW_EOVERFLOW, "template needs %zu bytes", n);
    } else {
        memcpy(buf, pt, n);
    }
    cw_free_wipe(pt, n + 1);
    return err;
}

/*
 * The end of a deletion that took its template ids in r (one column): commit if err is 0, else
 * roll back; on success hand the ids to the caller and scrub the freed pages. Frees r.
 */
static int end_deletion(cw_store_t *st, int err, cw__rows_t *r, uint64_t *removed,
                        size_t *n_removed, char *diag, size_t diag_len)
{
    if (err == 0) {
        err = cw__commit(st, diag, diag_len);
    } else {
        cw__rollback(st);
    }
    if (err == 0) {
        for (size_t i = 0; i < r->n_rows; i++) {
            removed[i] = (uint64_t)cw__cell(r, i, 0)->i;
        }
        *n_removed = r->n_rows;
        if (st->ops->scrub != NULL) {
            (void)st->ops->scrub(st->conn, NULL, 0); // best effort: readers may hold the WAL
        }
    }
    cw__rows_free(r);
    return err;
}

int cw_store_consent_withdraw(cw_store_t *st, uint64_t traveller, cw_modality_t modality,
                              int64_t now, const char *actor, uint64_t *removed, size_t cap,
                              size_t *n_removed, char *diag, size_t diag_len)
{
    if (st == NULL || n_removed == NULL || (removed == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (modality != CW_MODALITY_FACE && modality != CW_MODALITY_FINGERPRINT) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown modality %d", (int)modality);
    }
    *n_removed = 0;
    int err = cw__begin(st, diag, diag_len);
    cw__val_t p[3] = {cw__int(now), cw__int((int64_t)traveller), cw__int(modality)};
    int64_t changed = 0;
    if (err == 0) {
        err = cw__exec(st,
                       "UPDATE consent SET withdrawn_at = ? WHERE traveller = ? AND modality = ? "
                       "AND withdrawn_at IS NULL",
                       p, 3, NULL, &changed, diag, diag_len);
    }
    if (err == 0 && changed == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no consent in force for traveller %llu",
                          (unsigned long long)traveller);
    }
    cw__rows_t r = {0};
    if (err == 0) {
        err = cw__exec(st,
                       "SELECT id FROM biometric WHERE traveller = ? AND modality = ? ORDER BY "
                       "id",
                       p + 1, 2, &r, NULL, diag, diag_len);
    }
    if (err == 0 && r.n_rows > cap) {
        err = cw_diag_set(diag, diag_len, CW_EOVERFLOW, "%zu templates to remove, room for %zu",
                          r.n_rows, cap);
    }
    if (err == 0) {
        err = cw__exec(st, "DELETE FROM biometric WHERE traveller = ? AND modality = ?", p + 1, 2,
                       NULL, NULL, diag, diag_len);
    }
    if (err == 0) {
        char subject[32], detail[64];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)traveller);
        snprintf(detail, sizeof(detail), "modality=%d templates_deleted=%zu", (int)modality,
                 r.n_rows);
        err = cw__audit_append(st, now, actor, "consent_withdraw", subject, detail, diag, diag_len);
    }
    return end_deletion(st, err, &r, removed, n_removed, diag, diag_len);
}

int cw_store_template_each(cw_store_t *st, cw_modality_t modality, cw_store_template_fn fn,
                           void *ctx, char *diag, size_t diag_len)
{
    if (st == NULL || fn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    cw__rows_t r;
    cw__val_t p = cw__int(modality);
    int err = cw__exec(st,
                       "SELECT id, traveller, model_id, model_version, quality, captured_at, "
                       "device, data FROM biometric WHERE modality = ? ORDER BY id",
                       &p, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        cw_store_template_t t;
        memset(&t, 0, sizeof(t));
        t.id = (uint64_t)cw__cell(&r, i, 0)->i;
        t.modality = modality;
        t.model_id = (uint32_t)cw__cell(&r, i, 2)->i;
        t.model_version = (uint32_t)cw__cell(&r, i, 3)->i;
        t.quality = (float)cw__cell(&r, i, 4)->r;
        t.captured_at = cw__cell(&r, i, 5)->i;
        copy_text(t.device, sizeof(t.device), cw__cell(&r, i, 6));
        const cw__val_t *v = cw__cell(&r, i, 7);
        unsigned char *pt = NULL;
        size_t len = 0;
        err = cw__open(&st->ring, "biometric.data", t.id, v->p, v->n, &pt, &len, diag, diag_len);
        if (err == 0) {
            t.len = len;
            err = fn(ctx, (uint64_t)cw__cell(&r, i, 1)->i, &t, pt, len);
            cw_free_wipe(pt, len + 1);
        }
    }
    cw__rows_free(&r);
    return err;
}

// Columns of the template and of the membership it came with, in this order.
#define MEMBER_TEMPLATE_COLUMNS                                                                    \
    "SELECT b.id, b.traveller, b.model_id, b.model_version, b.quality, b.captured_at, b.device, "  \
    "b.data, m.programme, m.enrolled_at, m.expires_at, m.booking, m.flight, m.departure_at, "      \
    "m.area FROM biometric b JOIN membership m ON m.traveller = b.traveller WHERE b.modality = ? "

int cw_store_template_each_in(cw_store_t *st, cw_modality_t modality, cw_programme_t programme,
                              cw_store_member_template_fn fn, void *ctx, char *diag,
                              size_t diag_len)
{
    if (st == NULL || fn == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (programme != 0 &&
        (programme < CW_PROGRAMME_DOCUMENT_FREE || programme > CW_PROGRAMME_CLOSED_AREA)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown programme %d", (int)programme);
    }
    cw__rows_t r;
    cw__val_t p[2] = {cw__int(modality), cw__int(programme)};
    // Any programme: each template once, with the traveller's first membership.
    int err = programme != 0
                  ? cw__exec(st, MEMBER_TEMPLATE_COLUMNS "AND m.programme = ? ORDER BY b.id", p, 2,
                             &r, NULL, diag, diag_len)
                  : cw__exec(st,
                             MEMBER_TEMPLATE_COLUMNS "AND m.id = (SELECT min(id) FROM membership "
                                                     "WHERE traveller = b.traveller) ORDER BY b.id",
                             p, 1, &r, NULL, diag, diag_len);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; err == 0 && i < r.n_rows; i++) {
        cw_store_template_t t;
        cw_store_membership_t m;
        memset(&t, 0, sizeof(t));
        memset(&m, 0, sizeof(m));
        t.id = (uint64_t)cw__cell(&r, i, 0)->i;
        t.modality = modality;
        t.model_id = (uint32_t)cw__cell(&r, i, 2)->i;
        t.model_version = (uint32_t)cw__cell(&r, i, 3)->i;
        t.quality = (float)cw__cell(&r, i, 4)->r;
        t.captured_at = cw__cell(&r, i, 5)->i;
        copy_text(t.device, sizeof(t.device), cw__cell(&r, i, 6));
        m.programme = (cw_programme_t)cw__cell(&r, i, 8)->i;
        m.enrolled_at = cw__cell(&r, i, 9)->i;
        m.expires_at = cw__cell(&r, i, 10)->i;
        copy_text(m.booking, sizeof(m.booking), cw__cell(&r, i, 11));
        copy_text(m.flight, sizeof(m.flight), cw__cell(&r, i, 12));
        m.departure_at = cw__cell(&r, i, 13)->i;
        copy_text(m.area, sizeof(m.area), cw__cell(&r, i, 14));
        const cw__val_t *v = cw__cell(&r, i, 7);
        unsigned char *pt = NULL;
        size_t len = 0;
        err = cw__open(&st->ring, "biometric.data", t.id, v->p, v->n, &pt, &len, diag, diag_len);
        if (err == 0) {
            t.len = len;
            err = fn(ctx, (uint64_t)cw__cell(&r, i, 1)->i, &m, &t, pt, len);
            cw_free_wipe(pt, len + 1);
        }
    }
    cw__rows_free(&r);
    return err;
}

int cw_store_traveller_delete(cw_store_t *st, uint64_t id, int64_t now, const char *actor,
                              uint64_t *removed, size_t cap, size_t *n_removed, char *diag,
                              size_t diag_len)
{
    if (st == NULL || n_removed == NULL || (removed == NULL && cap > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *n_removed = 0;
    int err = cw__begin(st, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw__val_t p = cw__int((int64_t)id);
    cw__rows_t r = {0};
    err = cw__exec(st, "SELECT id FROM biometric WHERE traveller = ? ORDER BY id", &p, 1, &r, NULL,
                   diag, diag_len);
    if (err == 0 && r.n_rows > cap) {
        err = cw_diag_set(diag, diag_len, CW_EOVERFLOW, "%zu templates to remove, room for %zu",
                          r.n_rows, cap);
    }
    int64_t changed = 0;
    if (err == 0) {
        // Documents, endorsements, memberships, consents, templates, QR tokens and touchpoint
        // passes cascade; clearances keep the id as history.
        err = cw__exec(st, "DELETE FROM traveller WHERE id = ?", &p, 1, NULL, &changed, diag,
                       diag_len);
    }
    if (err == 0 && changed == 0) {
        err = cw_diag_set(diag, diag_len, CW_ENOENT, "no traveller %llu", (unsigned long long)id);
    }
    if (err == 0) {
        char subject[32], detail[48];
        snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)id);
        snprintf(detail, sizeof(detail), "templates_deleted=%zu", r.n_rows);
        err = cw__audit_append(st, now, actor, "traveller_delete", subject, detail, diag, diag_len);
    }
    return end_deletion(st, err, &r, removed, n_removed, diag, diag_len);
}
