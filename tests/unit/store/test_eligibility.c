// SPDX-License-Identifier: Apache-2.0
// Eligibility rules over in-memory records: every failed rule reported, the boundary days
// (the 14th birthday at local midnight, 29 February births, a document's expiry day), the
// endorsement kinds of Exit-entry Permits, memberships and consents; and the date helpers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/store.h"

#include <string.h>

// Local (UTC+8) midnight of a date as a timestamp.
static int64_t local_midnight(int y, int m, int d)
{
    // Days from civil (Howard Hinnant), then back 8 hours.
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * 86400 - 8 * 3600;
}

static const uint8_t tpl[4] = {1, 2, 3, 4};

// An eligible Hong Kong resident for the document-free channel.
static void hk_resident(cw_store_traveller_t *t)
{
    memset(t, 0, sizeof(*t));
    strcpy(t->name_local, "x");
    strcpy(t->name_latin, "x");
    strcpy(t->nationality, "CHN");
    t->birth = (cw_date_t){1980, 6, 15};
    t->residence = CW_RESIDENCE_HONG_KONG;
    t->n_documents = 1;
    t->documents[0].type = CW_DOC_HK_IDENTITY_CARD;
    t->documents[0].issued = (cw_date_t){2020, 1, 1};
    t->documents[0].expires = (cw_date_t){2030, 12, 31};
    t->n_memberships = 1;
    t->memberships[0].programme = CW_PROGRAMME_DOCUMENT_FREE;
    t->n_consents = 2;
    t->consents[0] = (cw_store_consent_t){CW_MODALITY_FACE, 1, 0};
    t->consents[1] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, 1, 0};
    t->n_templates = 2;
    t->templates[0].modality = CW_MODALITY_FACE;
    t->templates[0].data = tpl;
    t->templates[1].modality = CW_MODALITY_FINGERPRINT;
    t->templates[1].data = tpl;
}

static int has(const cw_eligibility_t *e, cw_elig_reason_t r)
{
    for (int i = 0; i < e->n_failed; i++) {
        if (e->failed[i] == r) {
            return 1;
        }
    }
    return 0;
}

static void test_eligible_and_every_failure(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    int64_t at = local_midnight(2026, 3, 1);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at, &e), 0);
    assert_true(e.eligible);
    assert_int_equal(e.n_failed, 0);
    // Strip everything: every rule reports, in rule order.
    memset(&t, 0, sizeof(t));
    t.residence = CW_RESIDENCE_VISITOR;
    t.status = CW_STORE_REVIEW;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at, &e), 0);
    assert_false(e.eligible);
    const cw_elig_reason_t want[] = {CW_ELIG_BIRTH_DATE_INVALID,
                                     CW_ELIG_RESIDENCE_NOT_ADMITTED,
                                     CW_ELIG_NO_VALID_DOCUMENT,
                                     CW_ELIG_NO_FACE_CONSENT,
                                     CW_ELIG_NO_FINGERPRINT_CONSENT,
                                     CW_ELIG_NO_FACE_TEMPLATE,
                                     CW_ELIG_NO_FINGERPRINT_TEMPLATE,
                                     CW_ELIG_NOT_MEMBER,
                                     CW_ELIG_UNDER_REVIEW};
    assert_int_equal(e.n_failed, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(e.failed[i], want[i]);
    }
    assert_string_equal(cw_elig_reason_name(CW_ELIG_UNDER_AGE), "UNDER_AGE");
    assert_string_equal(cw_elig_reason_message(CW_ELIG_UNDER_AGE), "younger than 14 on the day");
    assert_string_equal(cw_elig_reason_name((cw_elig_reason_t)999), "?");
    assert_int_equal(cw_store_eligibility(NULL, CW_PROGRAMME_DOCUMENT_FREE, at, &e), CW_EINVAL);
    assert_int_equal(cw_store_eligibility(&t, (cw_programme_t)77, at, &e), CW_EINVAL);
}

static void test_fourteenth_birthday_at_local_midnight(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    t.birth = (cw_date_t){2012, 1, 1};
    int64_t birthday = local_midnight(2026, 1, 1); // 2025-12-31T16:00Z
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, birthday - 1, &e), 0);
    assert_false(e.eligible);
    assert_int_equal(e.n_failed, 1);
    assert_int_equal(e.failed[0], CW_ELIG_UNDER_AGE);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, birthday, &e), 0);
    assert_true(e.eligible);
    // Still 2025-12-31 in UTC, but already the birthday in Hong Kong.
    cw_date_t d = cw_date_local(birthday);
    assert_int_equal(d.year, 2026);
    assert_int_equal(d.month, 1);
    assert_int_equal(d.day, 1);
}

static void test_leap_day_birth(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    t.birth = (cw_date_t){2012, 2, 29}; // turns 14 in 2026, a common year
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE,
                                          local_midnight(2026, 2, 28) + 86399, &e),
                     0);
    assert_true(has(&e, CW_ELIG_UNDER_AGE));
    assert_int_equal(
        cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, local_midnight(2026, 3, 1), &e), 0);
    assert_true(e.eligible);
    cw_date_t bad = {2026, 2, 29}, good = {2024, 2, 29};
    assert_false(cw_date_valid(&bad));
    assert_true(cw_date_valid(&good));
    cw_date_t c1900 = {1900, 2, 29}, c2000 = {2000, 2, 29};
    assert_false(cw_date_valid(&c1900));
    assert_true(cw_date_valid(&c2000));
}

static void test_document_expiry_day(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    t.documents[0].expires = (cw_date_t){2026, 6, 30};
    int64_t last = local_midnight(2026, 6, 30) + 86399;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, last, &e), 0);
    assert_true(e.eligible);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, last + 1, &e), 0);
    assert_int_equal(e.n_failed, 1);
    assert_int_equal(e.failed[0], CW_ELIG_DOCUMENT_EXPIRED);
    // Not valid yet before its issue day.
    t.documents[0].issued = (cw_date_t){2026, 6, 1};
    assert_int_equal(
        cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, local_midnight(2026, 5, 31), &e), 0);
    assert_int_equal(e.failed[0], CW_ELIG_DOCUMENT_NOT_YET_VALID);
    // A second, valid document makes the expired one irrelevant.
    t.documents[0].issued = (cw_date_t){2020, 1, 1};
    t.n_documents = 2;
    t.documents[1].type = CW_DOC_MAINLAND_TRAVEL_PERMIT;
    t.documents[1].issued = (cw_date_t){2020, 1, 1};
    t.documents[1].expires = (cw_date_t){2030, 1, 1};
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, last + 1, &e), 0);
    assert_true(e.eligible);
}

static void test_mainland_endorsements(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    t.residence = CW_RESIDENCE_MAINLAND;
    t.memberships[0].programme = CW_PROGRAMME_CONTACTLESS;
    t.documents[0].type = CW_DOC_EXIT_ENTRY_PERMIT;
    t.documents[0].n_endorsements = 1;
    cw_store_endorsement_t *en = &t.documents[0].endorsements[0];
    *en =
        (cw_store_endorsement_t){CW_ENDORSEMENT_VISITING_RELATIVES, 0, {2026, 1, 1}, {2026, 3, 31}};
    int64_t at = local_midnight(2026, 2, 1);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_CONTACTLESS, at, &e), 0);
    assert_int_equal(e.n_failed, 1);
    assert_int_equal(e.failed[0], CW_ELIG_NO_VALID_ENDORSEMENT);
    en->multiple_exit = 1;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_CONTACTLESS, at, &e), 0);
    assert_true(e.eligible);
    // The endorsement's last day counts; the day after does not.
    assert_int_equal(
        cw_store_eligibility(&t, CW_PROGRAMME_CONTACTLESS, local_midnight(2026, 3, 31), &e), 0);
    assert_true(e.eligible);
    assert_int_equal(
        cw_store_eligibility(&t, CW_PROGRAMME_CONTACTLESS, local_midnight(2026, 4, 1), &e), 0);
    assert_true(has(&e, CW_ELIG_NO_VALID_ENDORSEMENT));
    en->multiple_exit = 0;
    en->kind = CW_ENDORSEMENT_TALENTS;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_CONTACTLESS, at, &e), 0);
    assert_true(e.eligible);
    // Document-free is for Hong Kong residents only.
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at, &e), 0);
    assert_true(has(&e, CW_ELIG_RESIDENCE_NOT_ADMITTED));
    assert_true(has(&e, CW_ELIG_NOT_MEMBER));
}

static void test_memberships_and_consents(void **state)
{
    (void)state;
    cw_store_traveller_t t;
    cw_eligibility_t e;
    hk_resident(&t);
    int64_t at = local_midnight(2026, 2, 1);
    t.memberships[0].expires_at = at;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at - 1, &e), 0);
    assert_true(e.eligible);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at, &e), 0);
    assert_int_equal(e.failed[0], CW_ELIG_MEMBERSHIP_EXPIRED);
    t.memberships[0].expires_at = 0;
    t.consents[0].withdrawn_at = at - 10;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_DOCUMENT_FREE, at, &e), 0);
    assert_int_equal(e.n_failed, 1);
    assert_int_equal(e.failed[0], CW_ELIG_NO_FACE_CONSENT);
    // Flight token: a visitor with a passport, until departure.
    hk_resident(&t);
    t.residence = CW_RESIDENCE_VISITOR;
    t.documents[0].type = CW_DOC_PASSPORT;
    t.memberships[0].programme = CW_PROGRAMME_FLIGHT_TOKEN;
    t.memberships[0].departure_at = at + 7200;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_FLIGHT_TOKEN, at, &e), 0);
    assert_true(e.eligible);
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_FLIGHT_TOKEN, at + 7200, &e), 0);
    assert_int_equal(e.failed[0], CW_ELIG_FLIGHT_DEPARTED);
    // Closed area: needs the permit and an area.
    t.memberships[0].programme = CW_PROGRAMME_CLOSED_AREA;
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_CLOSED_AREA, at, &e), 0);
    assert_true(has(&e, CW_ELIG_NO_VALID_DOCUMENT));
    assert_true(has(&e, CW_ELIG_NO_AREA));
    t.documents[0].type = CW_DOC_CLOSED_AREA_PERMIT;
    strcpy(t.memberships[0].area, "SHA TAU KOK");
    assert_int_equal(cw_store_eligibility(&t, CW_PROGRAMME_CLOSED_AREA, at, &e), 0);
    assert_true(e.eligible);
}

static void test_date_parse(void **state)
{
    (void)state;
    cw_date_t d;
    assert_int_equal(cw_date_parse("2024-02-29", &d), 0);
    assert_int_equal(d.day, 29);
    assert_int_equal(cw_date_parse("2023-02-29", &d), CW_EFORMAT);
    assert_int_equal(cw_date_parse("2023-2-28", &d), CW_EFORMAT);
    assert_int_equal(cw_date_parse("2023-02-28x", &d), CW_EFORMAT);
    assert_int_equal(cw_date_parse("1849-12-31", &d), CW_EFORMAT);
    assert_int_equal(cw_date_parse("'; DROP--", &d), CW_EFORMAT);
    assert_int_equal(cw_date_parse(NULL, &d), CW_EFORMAT);
    cw_date_t before = cw_date_local(-1);
    assert_int_equal(before.year, 1970);
    assert_int_equal(before.day, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eligible_and_every_failure),
        cmocka_unit_test(test_fourteenth_birthday_at_local_midnight),
        cmocka_unit_test(test_leap_day_birth),
        cmocka_unit_test(test_document_expiry_day),
        cmocka_unit_test(test_mainland_endorsements),
        cmocka_unit_test(test_memberships_and_consents),
        cmocka_unit_test(test_date_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
