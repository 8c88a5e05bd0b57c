// SPDX-License-Identifier: Apache-2.0
// Eligibility of a loaded record for a programme at a given time: a pure function that checks
// every rule and reports each one that fails, so an officer (or the enrolment kiosk) can say
// why, not just "no". Calendar rules use the local date (UTC+8).
#include "clearway/err.h"
#include "clearway/store.h"

#include <stddef.h>

static const char *const reason_names[] = {"OK",
#define CW__ELIG_NAME(name, msg) #name,
                                           CW_ELIG_REASON_MAP(CW__ELIG_NAME)
#undef CW__ELIG_NAME
};

static const char *const reason_messages[] = {"eligible",
#define CW__ELIG_MSG(name, msg) msg,
                                              CW_ELIG_REASON_MAP(CW__ELIG_MSG)
#undef CW__ELIG_MSG
};

const char *cw_elig_reason_name(cw_elig_reason_t r)
{
    return r >= 0 && r < CW_ELIG_N_REASONS ? reason_names[r] : "?";
}

const char *cw_elig_reason_message(cw_elig_reason_t r)
{
    return r >= 0 && r < CW_ELIG_N_REASONS ? reason_messages[r] : "?";
}

static long day_number(const cw_date_t *d)
{
    return (long)d->year * 10000 + d->month * 100 + d->day;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// The day someone born on b turns `years`: 29 February births turn on 1 March in common years.
static cw_date_t birthday(const cw_date_t *b, int years)
{
    cw_date_t d = {b->year + years, b->month, b->day};
    if (d.month == 2 && d.day == 29 && !is_leap(d.year)) {
        d.month = 3;
        d.day = 1;
    }
    return d;
}

static void fail(cw_eligibility_t *out, cw_elig_reason_t r)
{
    if (out->n_failed < CW_ELIG_MAX_FAILED) {
        out->failed[out->n_failed++] = r;
    }
}

// Outcome of looking for a document among the types accepted.
typedef enum { DOC_OK, DOC_NONE, DOC_EXPIRED, DOC_NOT_YET } doc_state_t;

static int endorsement_qualifies(const cw_store_endorsement_t *e, long today)
{
    int kind_ok = e->multiple_exit || e->kind == CW_ENDORSEMENT_STAY ||
                  e->kind == CW_ENDORSEMENT_TALENTS || e->kind == CW_ENDORSEMENT_BUSINESS_VISIT;
    return kind_ok && cw_date_valid(&e->valid_from) && cw_date_valid(&e->valid_until) &&
           day_number(&e->valid_from) <= today && today <= day_number(&e->valid_until);
}

static doc_state_t find_document(const cw_store_traveller_t *t, const cw_doc_type_t *types,
                                 int n_types, long today, int need_endorsement, int *endorsement_ok)
{
    doc_state_t best = DOC_NONE;
    *endorsement_ok = 0;
    for (int i = 0; i < t->n_documents && i < CW_STORE_MAX_DOCUMENTS; i++) {
        const cw_store_document_t *d = &t->documents[i];
        int accepted = 0;
        for (int k = 0; k < n_types; k++) {
            accepted |= d->type == types[k];
        }
        if (!accepted || !cw_date_valid(&d->issued) || !cw_date_valid(&d->expires)) {
            continue;
        }
        if (today < day_number(&d->issued)) {
            best = best == DOC_NONE ? DOC_NOT_YET : best;
            continue;
        }
        if (today > day_number(&d->expires)) {
            best = best == DOC_NONE || best == DOC_NOT_YET ? DOC_EXPIRED : best;
            continue;
        }
        best = DOC_OK;
        if (need_endorsement) {
            for (int k = 0; k < d->n_endorsements && k < CW_STORE_MAX_ENDORSEMENTS; k++) {
                *endorsement_ok |= endorsement_qualifies(&d->endorsements[k], today);
            }
        }
    }
    return best;
}

static int consent_in_force(const cw_store_traveller_t *t, cw_modality_t m, int64_t at)
{
    for (int i = 0; i < t->n_consents && i < CW_STORE_MAX_CONSENTS; i++) {
        const cw_store_consent_t *c = &t->consents[i];
        if (c->modality == m && c->given_at <= at &&
            (c->withdrawn_at == 0 || at < c->withdrawn_at)) {
            return 1;
        }
    }
    return 0;
}

static int has_template(const cw_store_traveller_t *t, cw_modality_t m)
{
    for (int i = 0; i < t->n_templates && i < CW_STORE_MAX_TEMPLATES; i++) {
        if (t->templates[i].modality == m) {
            return 1;
        }
    }
    return 0;
}

int cw_store_eligibility(const cw_store_traveller_t *t, cw_programme_t p, int64_t at,
                         cw_eligibility_t *out)
{
    if (t == NULL || out == NULL || p < CW_PROGRAMME_DOCUMENT_FREE ||
        p > CW_PROGRAMME_CLOSED_AREA) {
        return CW_EINVAL;
    }
    out->n_failed = 0;
    out->eligible = 0;
    cw_date_t day = cw_date_local(at);
    long today = day_number(&day);

    // 1. Age.
    if (!cw_date_valid(&t->birth)) {
        fail(out, CW_ELIG_BIRTH_DATE_INVALID);
    } else {
        cw_date_t b14 = birthday(&t->birth, 14);
        if (today < day_number(&b14)) {
            fail(out, CW_ELIG_UNDER_AGE);
        }
    }
    // 2. Residence admitted to the programme.
    if (p == CW_PROGRAMME_DOCUMENT_FREE && t->residence != CW_RESIDENCE_HONG_KONG) {
        fail(out, CW_ELIG_RESIDENCE_NOT_ADMITTED);
    }
    // 3. Document (and endorsement) valid on the day.
    static const cw_doc_type_t hk[] = {CW_DOC_HK_IDENTITY_CARD, CW_DOC_MAINLAND_TRAVEL_PERMIT};
    static const cw_doc_type_t mo[] = {CW_DOC_MAINLAND_TRAVEL_PERMIT};
    static const cw_doc_type_t ml[] = {CW_DOC_EXIT_ENTRY_PERMIT};
    static const cw_doc_type_t pp[] = {CW_DOC_PASSPORT};
    static const cw_doc_type_t cap[] = {CW_DOC_CLOSED_AREA_PERMIT};
    const cw_doc_type_t *types = pp;
    int n_types = 1, need_endorsement = 0;
    if (p == CW_PROGRAMME_CLOSED_AREA) {
        types = cap;
    } else if (p == CW_PROGRAMME_SMART_DEPARTURE) {
        types = pp;
    } else if (t->residence == CW_RESIDENCE_HONG_KONG) {
        types = hk;
        n_types = 2;
    } else if (t->residence == CW_RESIDENCE_MACAO) {
        types = mo;
    } else if (t->residence == CW_RESIDENCE_MAINLAND) {
        types = ml;
        need_endorsement = 1;
    }
    int endorsement_ok = 0;
    switch (find_document(t, types, n_types, today, need_endorsement, &endorsement_ok)) {
    case DOC_OK:
        if (need_endorsement && !endorsement_ok) {
            fail(out, CW_ELIG_NO_VALID_ENDORSEMENT);
        }
        break;
    case DOC_EXPIRED:
        fail(out, CW_ELIG_DOCUMENT_EXPIRED);
        break;
    case DOC_NOT_YET:
        fail(out, CW_ELIG_DOCUMENT_NOT_YET_VALID);
        break;
    default:
        fail(out, CW_ELIG_NO_VALID_DOCUMENT);
        break;
    }
    // 4. Consents in force and the templates they cover.
    if (!consent_in_force(t, CW_MODALITY_FACE, at)) {
        fail(out, CW_ELIG_NO_FACE_CONSENT);
    }
    if (p == CW_PROGRAMME_DOCUMENT_FREE && !consent_in_force(t, CW_MODALITY_FINGERPRINT, at)) {
        fail(out, CW_ELIG_NO_FINGERPRINT_CONSENT);
    }
    if (!has_template(t, CW_MODALITY_FACE)) {
        fail(out, CW_ELIG_NO_FACE_TEMPLATE);
    }
    if (p == CW_PROGRAMME_DOCUMENT_FREE && !has_template(t, CW_MODALITY_FINGERPRINT)) {
        fail(out, CW_ELIG_NO_FINGERPRINT_TEMPLATE);
    }
    // 5. Membership.
    const cw_store_membership_t *m = NULL;
    for (int i = 0; i < t->n_memberships && i < CW_STORE_MAX_MEMBERSHIPS; i++) {
        if (t->memberships[i].programme == p) {
            m = &t->memberships[i];
        }
    }
    if (m == NULL) {
        fail(out, CW_ELIG_NOT_MEMBER);
    } else {
        if (m->expires_at != 0 && at >= m->expires_at) {
            fail(out, CW_ELIG_MEMBERSHIP_EXPIRED);
        }
        if (p == CW_PROGRAMME_FLIGHT_TOKEN && at >= m->departure_at) {
            fail(out, CW_ELIG_FLIGHT_DEPARTED);
        }
        if (p == CW_PROGRAMME_CLOSED_AREA && m->area[0] == '\0') {
            fail(out, CW_ELIG_NO_AREA);
        }
    }
    // 6. Records awaiting review clear nowhere until an officer decides.
    if (t->status != CW_STORE_ACTIVE) {
        fail(out, CW_ELIG_UNDER_REVIEW);
    }
    out->eligible = out->n_failed == 0;
    return 0;
}
