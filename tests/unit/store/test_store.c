// SPDX-License-Identifier: Apache-2.0
// The store's conformance suite: the same tests against SQLite (`test_store_store sqlite`) and a
// real PostgreSQL server (`test_store_store pg`, started by harness.c). Covers migrations and the
// newer-schema refusal, enrolment round trips with SQL metacharacters in every text field, bad
// input, duplicates, rollback under allocation failure, encryption (wrong key, ciphertext moved
// to another row), the audit chain with a row edited behind the store's back, consent
// withdrawal, retention, key rotation, clearances, read-only and lost connections.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/store.h"

#include "harness.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The version cw_store_open migrates to (store_internal.h): lowered to make a v1 database with
// the old migration list.
extern int cw__schema_target;

static cw_test_db_t H;
static int pg_unavailable;

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
#define EVIL "'; DROP TABLE traveller; --"
#define EVIL_SHORT "'; DROP TABLE x; --"

static const int64_t NOW = 1767225600; // 2026-01-01T00:00:00Z

typedef struct fx {
    char target[512];
    cw_store_t *st;
    char diag[256];
} fx_t;

static int fx_setup(void **state)
{
    cw__schema_target = CW_STORE_SCHEMA_VERSION; // a failed test may have left it lowered
    fx_t *f = calloc(1, sizeof(*f));
    if (f == NULL || cw_test_db_fresh(&H, f->target, sizeof(f->target)) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    cw_store_close(f->st);
    free(f);
    return 0;
}

static void open_key(fx_t *f, const char *key)
{
    if (pg_unavailable) {
        skip();
    }
    cw_store_config_t cfg = {0};
    cfg.key = key;
    cw_store_close(f->st);
    f->st = NULL;
    int err = cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag));
    if (err != 0) {
        fail_msg("open %s: %s: %s", f->target, cw_err_name(err), f->diag);
    }
}

static void open_store(fx_t *f)
{
    open_key(f, KEY_A);
}

static unsigned char face_bytes[512];
static unsigned char finger_bytes[300];

// A complete record: a Hong Kong resident with an identity card and a passport, two
// memberships, both consents, a face and a fingerprint template.
static void make_traveller(cw_store_traveller_t *t, int n)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name_local, sizeof(t->name_local), "陳大文 %d", n);
    snprintf(t->name_latin, sizeof(t->name_latin), "CHAN, Tai Man %d", n);
    t->sex = CW_SEX_MALE;
    t->birth = (cw_date_t){1990, 2, 28};
    t->residence = CW_RESIDENCE_HONG_KONG;
    snprintf(t->nationality, sizeof(t->nationality), "CHN");
    t->n_documents = 2;
    t->documents[0].type = CW_DOC_HK_IDENTITY_CARD;
    snprintf(t->documents[0].number, sizeof(t->documents[0].number), "A%06d(3)", n);
    t->documents[0].issued = (cw_date_t){2018, 1, 1};
    t->documents[0].expires = (cw_date_t){2199, 12, 31};
    t->documents[1].type = CW_DOC_PASSPORT;
    snprintf(t->documents[1].number, sizeof(t->documents[1].number), "K%08d", n);
    t->documents[1].issued = (cw_date_t){2020, 5, 1};
    t->documents[1].expires = (cw_date_t){2030, 4, 30};
    snprintf(t->documents[1].mrz, sizeof(t->documents[1].mrz),
             "P<CHNCHAN<<TAI<MAN<<<<<<<<<<<<<<<<<<<<<<<<<<K%08d<0CHN9002288M3004305<<<<<<<<<<<<<<<"
             "02",
             n);
    t->n_memberships = 2;
    t->memberships[0].programme = CW_PROGRAMME_DOCUMENT_FREE;
    t->memberships[0].enrolled_at = NOW - 86400;
    t->memberships[1].programme = CW_PROGRAMME_CONTACTLESS;
    t->memberships[1].enrolled_at = NOW - 86400;
    t->memberships[1].expires_at = NOW + 365 * 86400;
    t->n_consents = 2;
    t->consents[0] = (cw_store_consent_t){CW_MODALITY_FACE, NOW - 86400, 0};
    t->consents[1] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, NOW - 86400, 0};
    for (size_t i = 0; i < sizeof(face_bytes); i++) {
        face_bytes[i] = (unsigned char)(i * 7 + (size_t)n);
    }
    for (size_t i = 0; i < sizeof(finger_bytes); i++) {
        finger_bytes[i] = (unsigned char)(i * 13 + 1);
    }
    t->n_templates = 2;
    t->templates[0] = (cw_store_template_t){
        0, CW_MODALITY_FACE, 1, 1, 0.87f, NOW - 3600, "", face_bytes, sizeof(face_bytes)};
    snprintf(t->templates[0].device, sizeof(t->templates[0].device), "kiosk-7");
    t->templates[1] = (cw_store_template_t){
        0, CW_MODALITY_FINGERPRINT, 9, 2, 0.6f, NOW - 3600, "", finger_bytes, sizeof(finger_bytes)};
}

static uint64_t enrol_ok(fx_t *f, cw_store_traveller_t *t)
{
    int err = cw_store_enrol(f->st, t, NOW, "officer-1", f->diag, sizeof(f->diag));
    if (err != 0) {
        fail_msg("enrol: %s: %s", cw_err_name(err), f->diag);
    }
    return t->id;
}

static uint64_t count(fx_t *f)
{
    uint64_t n = 0;
    assert_int_equal(cw_store_count(f->st, &n, f->diag, sizeof(f->diag)), 0);
    return n;
}

static long long find_bytes(const char *path, const unsigned char *pat, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    size_t got = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    long long at = -1;
    for (size_t i = 0; i + n <= got && at < 0; i++) {
        if (memcmp(buf + i, pat, n) == 0) {
            at = (long long)i;
        }
    }
    free(buf);
    return at;
}

static void test_open_migrates_and_reopens(void **state)
{
    fx_t *f = *state;
    open_store(f);
    int v = 0;
    assert_int_equal(cw_store_schema_version(f->st, &v, NULL, 0), 0);
    assert_int_equal(v, CW_STORE_SCHEMA_VERSION);
    assert_string_equal(cw_store_backend(f->st), H.pg ? "postgresql" : "sqlite");
    open_store(f); // again: nothing to migrate, the secret opens
    assert_int_equal(count(f), 0);
}

static void test_newer_schema_refused(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_close(f->st);
    f->st = NULL;
    assert_int_equal(
        cw_test_db_raw(&H, f->target, "UPDATE schema_version SET version = 99", NULL, 0), 0);
    cw_store_config_t cfg = {.key = KEY_A};
    int err = cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag));
    assert_int_equal(err, CW_EUNSUPPORTED);
    assert_null(f->st);
    assert_non_null(strstr(f->diag, "schema version 99, newer than this program's 3"));
}

static void test_wrong_key_refused(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_close(f->st);
    f->st = NULL;
    cw_store_config_t cfg = {.key = KEY_B};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_ECRYPTO);
    assert_non_null(strstr(f->diag, "does not open this database"));
    cfg.key = "not-a-key";
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_EFORMAT);
}

static void test_enrol_load_roundtrip(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, back;
    make_traveller(&t, 1);
    uint64_t id = enrol_ok(f, &t);
    assert_true(id > 0);
    assert_true(t.templates[0].id > 0 && t.templates[1].id > 0);
    assert_int_equal(cw_store_load(f->st, id, &back, f->diag, sizeof(f->diag)), 0);
    assert_string_equal(back.name_local, t.name_local);
    assert_string_equal(back.name_latin, t.name_latin);
    assert_string_equal(back.nationality, "CHN");
    assert_int_equal(back.birth.year, 1990);
    assert_int_equal(back.birth.day, 28);
    assert_int_equal(back.residence, CW_RESIDENCE_HONG_KONG);
    assert_int_equal(back.n_documents, 2);
    assert_string_equal(back.documents[1].number, t.documents[1].number);
    assert_string_equal(back.documents[1].mrz, t.documents[1].mrz);
    assert_int_equal(back.documents[1].expires.month, 4);
    assert_int_equal(back.n_memberships, 2);
    assert_int_equal(back.memberships[1].expires_at, NOW + 365 * 86400);
    assert_int_equal(back.n_consents, 2);
    assert_int_equal(back.n_templates, 2);
    assert_int_equal(back.templates[0].id, t.templates[0].id);
    assert_string_equal(back.templates[0].device, "kiosk-7");
    assert_true(back.templates[0].quality > 0.86f && back.templates[0].quality < 0.88f);
    unsigned char buf[1024];
    size_t len = 0;
    assert_int_equal(
        cw_store_template_get(f->st, t.templates[0].id, buf, sizeof(buf), &len, NULL, 0), 0);
    assert_int_equal(len, sizeof(face_bytes));
    assert_memory_equal(buf, face_bytes, len);
    assert_int_equal(cw_store_template_get(f->st, t.templates[0].id, buf, 10, &len, NULL, 0),
                     CW_EOVERFLOW);
    // The identity card is found however its number is spelled.
    uint64_t who = 0;
    assert_int_equal(
        cw_store_find_document(f->st, CW_DOC_HK_IDENTITY_CARD, "a000001 3", &who, NULL, 0), 0);
    assert_int_equal(who, id);
    assert_int_equal(cw_store_find_document(f->st, CW_DOC_PASSPORT, "A0000013", &who, NULL, 0),
                     CW_ENOENT);
    assert_int_equal(cw_store_load(f->st, id + 1000, &back, NULL, 0), CW_ENOENT);
    // Names are not stored in the clear.
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM traveller WHERE name_latin = 'CHAN, Tai Man 1'");
    assert_int_equal(cw_test_db_raw_int(&H, f->target, sql), 0);
}

static void test_metacharacters_in_every_field(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, back;
    make_traveller(&t, 2);
    snprintf(t.name_local, sizeof(t.name_local), "%s", EVIL);
    snprintf(t.name_latin, sizeof(t.name_latin), "O'Brien \"Bobby\" %s \\ %%s ?", EVIL);
    snprintf(t.documents[0].number, sizeof(t.documents[0].number), "'); --");
    snprintf(t.documents[1].number, sizeof(t.documents[1].number), "X' OR '1'='1");
    snprintf(t.templates[0].device, sizeof(t.templates[0].device), "%s", EVIL);
    t.n_memberships = 3;
    t.memberships[2].programme = CW_PROGRAMME_FLIGHT_TOKEN;
    snprintf(t.memberships[2].booking, sizeof(t.memberships[2].booking), "%s", EVIL_SHORT);
    snprintf(t.memberships[2].flight, sizeof(t.memberships[2].flight), "CX'1");
    t.memberships[2].departure_at = NOW + 3600;
    // Template bytes with NULs and quotes.
    static const unsigned char odd[] = {0, '\'', 0, ';', '-', '-', 0, 0xff};
    t.templates[1].data = odd;
    t.templates[1].len = sizeof(odd);
    uint64_t id = enrol_ok(f, &t);
    assert_int_equal(cw_store_load(f->st, id, &back, f->diag, sizeof(f->diag)), 0);
    assert_string_equal(back.name_local, EVIL);
    assert_string_equal(back.name_latin, t.name_latin);
    assert_string_equal(back.documents[0].number, "'); --");
    assert_string_equal(back.documents[1].number, "X' OR '1'='1");
    assert_string_equal(back.templates[0].device, EVIL);
    assert_string_equal(back.memberships[2].booking, EVIL_SHORT);
    assert_string_equal(back.memberships[2].flight, "CX'1");
    unsigned char buf[16];
    size_t len = 0;
    assert_int_equal(
        cw_store_template_get(f->st, back.templates[1].id, buf, sizeof(buf), &len, NULL, 0), 0);
    assert_int_equal(len, sizeof(odd));
    assert_memory_equal(buf, odd, sizeof(odd));
    // Still one table, one traveller; a port with metacharacters too.
    assert_int_equal(count(f), 1);
    uint64_t port = 0;
    assert_int_equal(cw_store_port_add(f->st, "P'1", EVIL, &port, NULL, 0), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM traveller"), 1);
}

static void expect_rejected(fx_t *f, cw_store_traveller_t *t, int want, const char *diag_part)
{
    int err = cw_store_enrol(f->st, t, NOW, "officer", f->diag, sizeof(f->diag));
    if (err != want) {
        fail_msg("want %s got %s (%s)", cw_err_name(want), cw_err_name(err), f->diag);
    }
    if (diag_part != NULL && strstr(f->diag, diag_part) == NULL) {
        fail_msg("diag '%s' lacks '%s'", f->diag, diag_part);
    }
    assert_int_equal(t->id, 0);
}

static void test_bad_input_rejected(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    make_traveller(&t, 3);
    t.birth = (cw_date_t){2001, 2, 29};
    expect_rejected(f, &t, CW_EINVAL, "date of birth is not a valid date");
    make_traveller(&t, 3);
    t.documents[1].expires = (cw_date_t){2030, 13, 1};
    expect_rejected(f, &t, CW_EINVAL, "expiry date");
    make_traveller(&t, 3);
    t.documents[0].type = (cw_doc_type_t)42;
    expect_rejected(f, &t, CW_EINVAL, "unknown type 42");
    make_traveller(&t, 3);
    memset(t.name_latin, 'A', sizeof(t.name_latin)); // no NUL: oversized
    expect_rejected(f, &t, CW_ETOOBIG, "Latin name longer than 127");
    make_traveller(&t, 3);
    t.name_local[2] = '\n';
    expect_rejected(f, &t, CW_EINVAL, "control character");
    make_traveller(&t, 3);
    t.name_local[0] = '\0';
    expect_rejected(f, &t, CW_EINVAL, "is empty");
    make_traveller(&t, 3);
    t.n_consents = 1; // fingerprint template without fingerprint consent
    expect_rejected(f, &t, CW_EINVAL, "no consent");
    make_traveller(&t, 3);
    t.templates[0].len = CW_STORE_TEMPLATE_MAX_BYTES + 1;
    expect_rejected(f, &t, CW_ETOOBIG, NULL);
    make_traveller(&t, 3);
    t.n_documents = CW_STORE_MAX_DOCUMENTS + 1;
    expect_rejected(f, &t, CW_ETOOBIG, NULL);
    make_traveller(&t, 3);
    t.documents[0].n_endorsements = 1; // identity cards carry none
    expect_rejected(f, &t, CW_EINVAL, "endorsements");
    make_traveller(&t, 3);
    snprintf(t.documents[1].mrz, sizeof(t.documents[1].mrz), "P<CHN'; --");
    expect_rejected(f, &t, CW_EINVAL, "MRZ");
    make_traveller(&t, 3);
    t.residence = (cw_residence_t)0;
    expect_rejected(f, &t, CW_EINVAL, "residence");
    assert_int_equal(count(f), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM audit_log"), 0);
    // And the good record still goes in afterwards.
    make_traveller(&t, 3);
    enrol_ok(f, &t);
    assert_int_equal(count(f), 1);
}

static void test_duplicate_document_rejected(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, u;
    make_traveller(&t, 4);
    enrol_ok(f, &t);
    make_traveller(&u, 5);
    snprintf(u.documents[1].number, sizeof(u.documents[1].number), "k-%08d", 4); // same passport
    expect_rejected(f, &u, CW_EEXIST, "enrolled already");
    assert_int_equal(count(f), 1);
    // Nothing of the failed enrolment remains (its identity card number is free).
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM travel_document"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM biometric"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM audit_log"), 1);
    // Two documents with one number inside one enrolment: also refused.
    make_traveller(&u, 6);
    u.documents[1].type = CW_DOC_HK_IDENTITY_CARD;
    snprintf(u.documents[1].number, sizeof(u.documents[1].number), "%s", u.documents[0].number);
    u.documents[1].mrz[0] = '\0';
    expect_rejected(f, &u, CW_EEXIST, NULL);
    assert_int_equal(count(f), 1);
}

static void test_allocation_failure_rolls_back(void **state)
{
    fx_t *f = *state;
    if (pg_unavailable) {
        skip();
    }
    cw_alloc_counting_install();
    open_store(f);
    cw_store_traveller_t t;
    int failures = 0;
    for (uint64_t nth = 1; nth < 500; nth++) {
        cw_alloc_stats_t before, after;
        make_traveller(&t, 7);
        cw_alloc_counting_stats(&before);
        cw_alloc_fail_nth(nth);
        int err = cw_store_enrol(f->st, &t, NOW, "officer", f->diag, sizeof(f->diag));
        cw_alloc_fail_nth(0);
        cw_alloc_counting_stats(&after);
        assert_int_equal(after.live_blocks, before.live_blocks);
        if (err == 0) {
            break;
        }
        failures++;
        assert_int_equal(err, CW_ENOMEM);
        assert_int_equal(t.id, 0);
        assert_int_equal(count(f), 0);
        assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM biometric"), 0);
    }
    assert_true(failures > 5); // the switch really reached the enrolment's allocations
    assert_int_equal(count(f), 1);
    cw_store_close(f->st);
    f->st = NULL;
    cw_alloc_stats_t s;
    cw_alloc_counting_stats(&s);
    cw_alloc_counting_uninstall();
    assert_int_equal(s.live_blocks, 0);
}

// Fail each allocation of op in turn: every failure is CW_ENOMEM, leaks nothing and leaves
// the rows counted by sql as they were; returns how many failures were injected.
typedef int (*alloc_op_fn)(fx_t *f, void *arg);

static int fail_each_allocation(fx_t *f, alloc_op_fn op, void *arg, const char *sql)
{
    long long rows = sql != NULL ? cw_test_db_raw_int(&H, f->target, sql) : 0;
    long long entries = cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM audit_log");
    int failures = 0;
    for (uint64_t nth = 1; nth < 500; nth++) {
        cw_alloc_stats_t before, after;
        cw_alloc_counting_stats(&before);
        cw_alloc_fail_nth(nth);
        int err = op(f, arg);
        cw_alloc_fail_nth(0);
        cw_alloc_counting_stats(&after);
        assert_int_equal(after.live_blocks, before.live_blocks);
        if (err == 0) {
            return failures;
        }
        failures++;
        if (err != CW_ENOMEM) {
            fail_msg("allocation %llu: want CW_ENOMEM got %s (%s)", (unsigned long long)nth,
                     cw_err_name(err), f->diag);
        }
        if (sql != NULL) {
            assert_int_equal(cw_test_db_raw_int(&H, f->target, sql), rows);
        }
        assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM audit_log"),
                         entries);
    }
    fail_msg("op never succeeded");
    return failures;
}

typedef struct alloc_args {
    uint64_t traveller, gate, txn, id;
    char key[CW_STORE_APIKEY_LEN];
    cw_store_clearance_t c;
} alloc_args_t;

static int op_resolve(fx_t *f, void *arg)
{
    alloc_args_t *a = arg;
    return cw_store_referral_resolve(f->st, a->txn, NOW + 9, CW_CLEARANCE_REJECTED, "officer-1",
                                     "a note", f->diag, sizeof(f->diag));
}

static int op_apikey(fx_t *f, void *arg)
{
    alloc_args_t *a = arg;
    return cw_store_apikey_add(f->st, CW_ROLE_GATE, a->gate, "kiosk", NOW, "root", a->key, &a->id,
                               f->diag, sizeof(f->diag));
}

static int op_token(fx_t *f, void *arg)
{
    alloc_args_t *a = arg;
    return cw_store_token_add(f->st, a->traveller, NOW, NOW + 60, "clerk", &a->id, f->diag,
                              sizeof(f->diag));
}

static int op_clearance_get(fx_t *f, void *arg)
{
    alloc_args_t *a = arg;
    cw_store_clearance_step_t steps[2];
    size_t n = 0;
    return cw_store_clearance_get(f->st, a->txn, &a->c, steps, 2, &n, f->diag, sizeof(f->diag));
}

static int count_template(void *ctx, uint64_t traveller, const cw_store_membership_t *m,
                          const cw_store_template_t *t, const void *data, size_t len)
{
    (void)traveller;
    (void)m;
    (void)t;
    (void)data;
    (void)len;
    ++*(int *)ctx;
    return 0;
}

static int op_each_in(fx_t *f, void *arg)
{
    (void)arg;
    int n = 0;
    int err = cw_store_template_each_in(f->st, CW_MODALITY_FACE, CW_PROGRAMME_DOCUMENT_FREE,
                                        count_template, &n, f->diag, sizeof(f->diag));
    return err == 0 && n != 1 ? CW_EINTERNAL : err;
}

static int op_delete(fx_t *f, void *arg)
{
    alloc_args_t *a = arg;
    uint64_t removed[4];
    size_t n = 0;
    return cw_store_traveller_delete(f->st, a->traveller, NOW + 9, "officer-1", removed, 4, &n,
                                     f->diag, sizeof(f->diag));
}

static void test_allocation_failure_schema2(void **state)
{
    fx_t *f = *state;
    if (pg_unavailable) {
        skip();
    }
    cw_alloc_counting_install();
    open_store(f);
    alloc_args_t a;
    memset(&a, 0, sizeof(a));
    cw_store_traveller_t t;
    make_traveller(&t, 95);
    a.traveller = enrol_ok(f, &t);
    uint64_t port;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "E1", CW_PROGRAMME_DOCUMENT_FREE, &a.gate, NULL, 0), 0);
    assert_int_equal(cw_store_clearance_begin(f->st, a.gate, 0, CW_PROGRAMME_DOCUMENT_FREE, NOW,
                                              &a.txn, NULL, 0),
                     0);
    assert_int_equal(cw_store_clearance_step(f->st, a.txn, NOW, "face_1n", "none", 0.1, NULL, 0),
                     0);
    assert_int_equal(cw_store_clearance_finish(f->st, a.txn, NOW + 1, CW_CLEARANCE_REFERRED,
                                               "NO_MATCH", 0, NULL, 0),
                     0);
    assert_true(
        fail_each_allocation(f, op_resolve, &a,
                             "SELECT count(*) FROM clearance WHERE resolved_at IS NOT NULL") > 2);
    assert_true(fail_each_allocation(f, op_apikey, &a, "SELECT count(*) FROM api_key") > 2);
    assert_true(fail_each_allocation(f, op_token, &a, "SELECT count(*) FROM qr_token") > 2);
    assert_true(fail_each_allocation(f, op_clearance_get, &a, NULL) > 2);
    assert_string_equal(a.c.note, "a note");
    assert_true(fail_each_allocation(f, op_each_in, &a, NULL) > 2);
    assert_true(fail_each_allocation(f, op_delete, &a, "SELECT count(*) FROM traveller") > 2);
    assert_int_equal(count(f), 0);
    cw_store_close(f->st);
    f->st = NULL;
    cw_alloc_stats_t s;
    cw_alloc_counting_stats(&s);
    cw_alloc_counting_uninstall();
    assert_int_equal(s.live_blocks, 0);
}

static void test_moved_ciphertext_fails(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t a, b, back;
    make_traveller(&a, 8);
    make_traveller(&b, 9);
    enrol_ok(f, &a);
    enrol_ok(f, &b);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE traveller SET name_latin = (SELECT name_latin FROM traveller WHERE id = %llu) "
             "WHERE id = %llu",
             (unsigned long long)b.id, (unsigned long long)a.id);
    assert_int_equal(cw_test_db_raw(&H, f->target, sql, NULL, 0), 0);
    assert_int_equal(cw_store_load(f->st, a.id, &back, f->diag, sizeof(f->diag)), CW_ECRYPTO);
    assert_non_null(strstr(f->diag, "traveller.name_latin"));
    assert_int_equal(cw_store_load(f->st, b.id, &back, NULL, 0), 0);
    // A template moved to another template's row fails too.
    snprintf(sql, sizeof(sql),
             "UPDATE biometric SET data = (SELECT data FROM biometric WHERE id = %llu) WHERE id "
             "= %llu",
             (unsigned long long)b.templates[0].id, (unsigned long long)a.templates[0].id);
    assert_int_equal(cw_test_db_raw(&H, f->target, sql, NULL, 0), 0);
    unsigned char buf[1024];
    size_t len;
    assert_int_equal(cw_store_template_get(f->st, a.templates[0].id, buf, sizeof(buf), &len,
                                           f->diag, sizeof(f->diag)),
                     CW_ECRYPTO);
    assert_int_equal(
        cw_store_template_get(f->st, b.templates[0].id, buf, sizeof(buf), &len, NULL, 0), 0);
}

static void test_audit_chain_finds_edit(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    for (int i = 0; i < 70; i++) {
        make_traveller(&t, 100 + i);
        enrol_ok(f, &t);
    }
    cw_audit_report_t rep;
    assert_int_equal(cw_store_audit_verify(f->st, &rep, f->diag, sizeof(f->diag)), 0);
    assert_true(rep.intact);
    assert_int_equal(rep.entries, 70);
    assert_int_equal(rep.checkpoints, 1);
    // The log refuses edits through SQL...
    char err[256] = "";
    assert_int_not_equal(cw_test_db_raw(&H, f->target,
                                        "UPDATE audit_log SET detail = 'x' WHERE seq = 5", err,
                                        sizeof(err)),
                         0);
    assert_non_null(strstr(err, "append-only"));
    // ...so the forger drops the guard first; the chain still finds the edited entry.
    const char *edit =
        H.pg ? "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log "
               "SET detail = 'documents=0' WHERE seq = 37"
             : "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'documents=0' "
               "WHERE seq = 37";
    assert_int_equal(cw_test_db_raw(&H, f->target, edit, err, sizeof(err)), 0);
    assert_int_equal(cw_store_audit_verify(f->st, &rep, NULL, 0), 0);
    assert_false(rep.intact);
    assert_int_equal(rep.first_bad, 37);
    assert_int_equal(rep.entries, 36);
    assert_non_null(strstr(rep.reason, "content does not match"));
}

static void test_audit_chain_finds_deletion(void **state)
{
    fx_t *f = *state;
    open_store(f);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(
            cw_store_audit_append(f->st, NOW + i, "tester", "event", EVIL, "d", NULL, 0), 0);
    }
    const char *del =
        H.pg ? "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; DELETE FROM "
               "audit_log WHERE seq >= 9"
             : "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 9";
    assert_int_equal(cw_test_db_raw(&H, f->target, del, NULL, 0), 0);
    cw_audit_report_t rep;
    assert_int_equal(cw_store_audit_verify(f->st, &rep, NULL, 0), 0);
    assert_false(rep.intact);
    assert_int_equal(rep.first_bad, 9);
    assert_non_null(strstr(rep.reason, "missing at the end"));
    assert_int_equal(cw_store_audit_append(f->st, NOW, "t", "", "s", "d", NULL, 0), CW_EINVAL);
}

static void test_consent_withdrawal_deletes_templates(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, back;
    make_traveller(&t, 10);
    enrol_ok(f, &t);
    cw_eligibility_t el;
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    assert_int_equal(cw_store_eligibility(&back, CW_PROGRAMME_DOCUMENT_FREE, NOW, &el), 0);
    assert_true(el.eligible);
    uint64_t removed[4];
    size_t n = 9;
    assert_int_equal(cw_store_consent_withdraw(f->st, t.id, CW_MODALITY_FINGERPRINT, NOW + 10,
                                               "traveller", removed, 0, &n, f->diag,
                                               sizeof(f->diag)),
                     CW_EOVERFLOW);
    assert_int_equal(cw_store_consent_withdraw(f->st, t.id, CW_MODALITY_FINGERPRINT, NOW + 10,
                                               "traveller", removed, 4, &n, f->diag,
                                               sizeof(f->diag)),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(removed[0], t.templates[1].id);
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    assert_int_equal(back.n_templates, 1);
    assert_int_equal(back.templates[0].modality, CW_MODALITY_FACE);
    assert_int_equal(back.consents[1].withdrawn_at, NOW + 10);
    assert_int_equal(cw_store_eligibility(&back, CW_PROGRAMME_DOCUMENT_FREE, NOW + 20, &el), 0);
    assert_false(el.eligible);
    assert_int_equal(el.n_failed, 2);
    assert_int_equal(el.failed[0], CW_ELIG_NO_FINGERPRINT_CONSENT);
    assert_int_equal(el.failed[1], CW_ELIG_NO_FINGERPRINT_TEMPLATE);
    // Withdrawing again: nothing in force.
    assert_int_equal(cw_store_consent_withdraw(f->st, t.id, CW_MODALITY_FINGERPRINT, NOW + 30,
                                               "traveller", removed, 4, &n, NULL, 0),
                     CW_ENOENT);
    cw_audit_report_t rep;
    assert_int_equal(cw_store_audit_verify(f->st, &rep, NULL, 0), 0);
    assert_true(rep.intact);
    assert_int_equal(rep.entries, 2);
}

static void flight_token_traveller(cw_store_traveller_t *t, int n, int64_t departure,
                                   int also_contactless)
{
    make_traveller(t, n);
    t->n_memberships = 1;
    memset(&t->memberships[0], 0, sizeof(t->memberships[0]));
    t->memberships[0].programme = CW_PROGRAMME_FLIGHT_TOKEN;
    snprintf(t->memberships[0].booking, sizeof(t->memberships[0].booking), "ABC%03d", n);
    snprintf(t->memberships[0].flight, sizeof(t->memberships[0].flight), "CX888");
    t->memberships[0].departure_at = departure;
    t->memberships[0].expires_at = departure;
    if (also_contactless) {
        t->n_memberships = 2;
        memset(&t->memberships[1], 0, sizeof(t->memberships[1]));
        t->memberships[1].programme = CW_PROGRAMME_CONTACTLESS;
    }
}

static void test_purge_flight_tokens(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t gone, stays, future;
    flight_token_traveller(&gone, 20, NOW - 3 * 86400, 0);
    flight_token_traveller(&stays, 21, NOW - 3 * 86400, 1);
    flight_token_traveller(&future, 22, NOW + 3600, 0);
    enrol_ok(f, &gone);
    enrol_ok(f, &stays);
    enrol_ok(f, &future);
    cw_store_retention_t pol = {.flight_token_after = 86400};
    cw_store_purge_report_t rep;
    assert_int_equal(
        cw_store_purge(f->st, NOW, &pol, 1, "retention", &rep, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(rep.n_items, 2);
    assert_int_equal(rep.items[0].traveller, gone.id);
    assert_int_equal(rep.items[0].whole_record, 1);
    assert_int_equal(rep.items[1].traveller, stays.id);
    assert_int_equal(rep.items[1].whole_record, 0);
    assert_int_equal(rep.n_templates, 2);
    assert_int_equal(rep.template_ids[0], gone.templates[0].id);
    cw_store_purge_report_free(&rep);
    assert_int_equal(count(f), 3); // the dry run changed nothing
    assert_int_equal(cw_store_purge(f->st, NOW, &pol, 0, "retention", &rep, NULL, 0), 0);
    assert_int_equal(rep.n_items, 2);
    cw_store_purge_report_free(&rep);
    assert_int_equal(count(f), 2);
    cw_store_traveller_t back;
    assert_int_equal(cw_store_load(f->st, gone.id, &back, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_load(f->st, stays.id, &back, NULL, 0), 0);
    assert_int_equal(back.n_memberships, 1);
    assert_int_equal(back.memberships[0].programme, CW_PROGRAMME_CONTACTLESS);
    assert_int_equal(back.n_templates, 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM biometric"), 4);
    // Nothing more to purge.
    assert_int_equal(cw_store_purge(f->st, NOW, &pol, 0, "retention", &rep, NULL, 0), 0);
    assert_int_equal(rep.n_items, 0);
    cw_store_purge_report_free(&rep);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
}

// A port with one gate; a transaction begun at at and finished 5 s later.
static void port_with_gate(fx_t *f, const char *code, cw_programme_t prog, uint64_t *gate)
{
    uint64_t port;
    assert_int_equal(cw_store_port_add(f->st, code, "a port", &port, NULL, 0), 0);
    assert_int_equal(cw_store_gate_add(f->st, port, "G1", prog, gate, NULL, 0), 0);
}

static uint64_t finished(fx_t *f, uint64_t gate, cw_programme_t prog, int64_t at,
                         cw_clearance_decision_t d, const char *reason, uint64_t traveller)
{
    uint64_t txn = 0;
    assert_int_equal(cw_store_clearance_begin(f->st, gate, 0, prog, at, &txn, NULL, 0), 0);
    int err = cw_store_clearance_finish(f->st, txn, at + 5, d, reason, traveller, f->diag,
                                        sizeof(f->diag));
    if (err != 0) {
        fail_msg("finish: %s: %s", cw_err_name(err), f->diag);
    }
    return txn;
}

static void test_key_rotation_resumable(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    for (int i = 0; i < 5; i++) {
        make_traveller(&t, 30 + i);
        enrol_ok(f, &t);
    }
    // Schema 2's sealed values: a resolution note and the signing seed (a referral without a
    // resolution has no note and nothing to re-seal).
    uint64_t gate, resolved, open_ref;
    port_with_gate(f, "LMC", CW_PROGRAMME_DOCUMENT_FREE, &gate);
    resolved =
        finished(f, gate, CW_PROGRAMME_DOCUMENT_FREE, NOW, CW_CLEARANCE_REFERRED, "NO_MATCH", t.id);
    open_ref = finished(f, gate, CW_PROGRAMME_DOCUMENT_FREE, NOW + 1, CW_CLEARANCE_REFERRED,
                        "NO_MATCH", 0);
    assert_int_equal(cw_store_referral_resolve(f->st, resolved, NOW + 9, CW_CLEARANCE_CLEARED,
                                               "officer-1", "photo was old", NULL, 0),
                     0);
    uint8_t seed[32], seed_after[32];
    assert_int_equal(cw_store_signing_seed(f->st, seed, NULL, 0), 0);
    // The new key first, the old one still loaded: a rotation in progress.
    open_key(f, KEY_B "," KEY_A);
    uint64_t done = 0, left = 0;
    assert_int_equal(cw_store_rekey_step(f->st, 4, &done, &left, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(done, 4);
    assert_true(left > 0);
    // "Killed" here: reopen; the mixed state reads fine with both keys.
    open_key(f, KEY_B "," KEY_A);
    cw_store_traveller_t back;
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    uint64_t total = done;
    while (left > 0) {
        assert_int_equal(cw_store_rekey_step(f->st, 4, &done, &left, f->diag, sizeof(f->diag)), 0);
        assert_true(done > 0);
        total += done;
    }
    // 2 secrets (store, signing seed) + 5 travellers + 10 documents + 10 templates + 1 note.
    assert_int_equal(total, 28);
    open_key(f, KEY_B); // the old key is no longer needed
    cw_store_clearance_t c;
    size_t n_steps;
    assert_int_equal(cw_store_clearance_get(f->st, resolved, &c, NULL, 0, &n_steps, NULL, 0), 0);
    assert_string_equal(c.note, "photo was old");
    assert_int_equal(cw_store_clearance_get(f->st, open_ref, &c, NULL, 0, &n_steps, NULL, 0), 0);
    assert_string_equal(c.note, "");
    assert_int_equal(cw_store_signing_seed(f->st, seed_after, NULL, 0), 0);
    assert_memory_equal(seed, seed_after, 32);
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    assert_string_equal(back.documents[1].mrz, t.documents[1].mrz);
    unsigned char buf[1024];
    size_t len;
    assert_int_equal(
        cw_store_template_get(f->st, back.templates[0].id, buf, sizeof(buf), &len, NULL, 0), 0);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
    cw_store_close(f->st);
    f->st = NULL;
    cw_store_config_t cfg = {.key = KEY_A};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, NULL, 0), CW_ECRYPTO);
}

static void test_clearance_transaction(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t port, gate, txn, dup;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &port, NULL, 0), 0);
    assert_int_equal(cw_store_port_add(f->st, "LMC", "again", &dup, NULL, 0), CW_EEXIST);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "E12", CW_PROGRAMME_DOCUMENT_FREE, &gate, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port + 999, "E1", CW_PROGRAMME_DOCUMENT_FREE, &dup, NULL, 0),
        CW_ENOENT);
    assert_int_equal(cw_store_clearance_begin(f->st, gate, 0, CW_PROGRAMME_DOCUMENT_FREE, NOW, &txn,
                                              f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(
        cw_store_clearance_step(f->st, txn, NOW + 1, "face_1n", "match", 0.71, NULL, 0), 0);
    assert_int_equal(cw_store_clearance_step(f->st, txn, NOW + 2, "finger_1_1", EVIL, 0.9, NULL, 0),
                     0);
    assert_int_equal(
        cw_store_clearance_end(f->st, txn, NOW + 3, CW_CLEARANCE_CLEARED, f->diag, sizeof(f->diag)),
        0);
    assert_int_equal(cw_store_clearance_end(f->st, txn, NOW + 4, CW_CLEARANCE_REJECTED, NULL, 0),
                     CW_ESTATE);
    assert_int_equal(cw_store_clearance_step(f->st, txn, NOW + 5, "late", "x", 0, NULL, 0),
                     CW_ESTATE);
    assert_int_equal(cw_store_clearance_end(f->st, txn + 99, NOW, CW_CLEARANCE_CLEARED, NULL, 0),
                     CW_ENOENT);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM clearance_step"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT max(seq) FROM clearance_step"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT decision FROM clearance"),
                     CW_CLEARANCE_CLEARED);
}

static void test_read_only_refuses_writes(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    make_traveller(&t, 40);
    enrol_ok(f, &t);
    cw_store_close(f->st);
    f->st = NULL;
    cw_store_config_t cfg = {.key = KEY_A, .read_only = 1};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), 0);
    cw_store_traveller_t back;
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    make_traveller(&t, 41);
    expect_rejected(f, &t, CW_EPERM, NULL);
    assert_int_equal(count(f), 1);
}

static void test_gates_by_code(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t lmc, hkg, e1, ft, id = 0;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &lmc, NULL, 0), 0);
    assert_int_equal(cw_store_port_add(f->st, "HKG'--", "Airport", &hkg, NULL, 0), 0);
    assert_int_equal(cw_store_gate_add(f->st, lmc, "E1", CW_PROGRAMME_DOCUMENT_FREE, &e1, NULL, 0),
                     0);
    assert_int_equal(
        cw_store_gate_add(f->st, hkg, EVIL_SHORT, CW_PROGRAMME_FLIGHT_TOKEN, &ft, NULL, 0), 0);
    assert_int_equal(cw_store_port_find(f->st, "HKG'--", &id, NULL, 0), 0);
    assert_int_equal(id, hkg);
    assert_int_equal(cw_store_port_find(f->st, "hkg'--", &id, f->diag, sizeof(f->diag)), CW_ENOENT);
    assert_int_equal(cw_store_port_find(f->st, "", &id, NULL, 0), CW_EINVAL);
    cw_store_gate_t g;
    assert_int_equal(cw_store_gate_find(f->st, "HKG'--", EVIL_SHORT, &g, f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(g.id, ft);
    assert_int_equal(g.port, hkg);
    assert_string_equal(g.port_code, "HKG'--");
    assert_string_equal(g.code, EVIL_SHORT);
    assert_int_equal(g.programme, CW_PROGRAMME_FLIGHT_TOKEN);
    assert_int_equal(g.touchpoint, CW_TOUCHPOINT_NONE);
    // The gate code belongs to its port: E1 is not a gate of the airport.
    assert_int_equal(cw_store_gate_find(f->st, "HKG'--", "E1", &g, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_gate_find(f->st, "XXX", "E1", &g, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_gate_find(f->st, "LMC", "E1", &g, NULL, 0), 0);
    assert_int_equal(g.id, e1);
    // Touchpoints: only flight-token gates have one; unknown values and gates are refused.
    assert_int_equal(
        cw_store_gate_set_touchpoint(f->st, ft, CW_TOUCHPOINT_SECURITY, f->diag, sizeof(f->diag)),
        0);
    assert_int_equal(cw_store_gate_get(f->st, ft, &g, NULL, 0), 0);
    assert_int_equal(g.touchpoint, CW_TOUCHPOINT_SECURITY);
    assert_string_equal(g.code, EVIL_SHORT);
    assert_int_equal(
        cw_store_gate_set_touchpoint(f->st, e1, CW_TOUCHPOINT_SECURITY, f->diag, sizeof(f->diag)),
        CW_EINVAL);
    assert_non_null(strstr(f->diag, "not a flight-token gate"));
    assert_int_equal(cw_store_gate_set_touchpoint(f->st, ft, 9, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_store_gate_set_touchpoint(f->st, ft + 99, 1, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_gate_get(f->st, ft, &g, NULL, 0), 0);
    assert_int_equal(g.touchpoint, CW_TOUCHPOINT_SECURITY); // the refusals changed nothing
    assert_int_equal(cw_store_gate_get(f->st, e1, &g, NULL, 0), 0);
    assert_int_equal(g.touchpoint, CW_TOUCHPOINT_NONE);
    assert_int_equal(cw_store_gate_get(f->st, ft + 99, &g, NULL, 0), CW_ENOENT);
    assert_string_equal(cw_touchpoint_name(CW_TOUCHPOINT_BAG_DROP), "bag_drop");
    assert_string_equal(cw_touchpoint_name((cw_touchpoint_t)7), "none");
    assert_int_equal(cw_touchpoint_parse("boarding"), CW_TOUCHPOINT_BOARDING);
    assert_int_equal(cw_touchpoint_parse("Boarding"), CW_TOUCHPOINT_NONE);
    assert_int_equal(cw_touchpoint_parse(NULL), CW_TOUCHPOINT_NONE);
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE action = "
                                        "'gate_touchpoint'"),
                     1);
}

static void test_apikeys(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t port, gate, admin_id, gate_id, clerk_id, id = 99;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "E1", CW_PROGRAMME_DOCUMENT_FREE, &gate, NULL, 0), 0);
    char admin[CW_STORE_APIKEY_LEN], gk[CW_STORE_APIKEY_LEN], clerk[CW_STORE_APIKEY_LEN];
    assert_int_equal(cw_store_apikey_add(f->st, CW_ROLE_ADMIN, 0, "ops laptop", NOW, "root", admin,
                                         &admin_id, f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(strlen(admin), CW_STORE_APIKEY_LEN - 1);
    assert_memory_equal(admin, "cwk_", 4);
    assert_true(strspn(admin + 4,
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    assert_int_equal(cw_store_apikey_add(f->st, CW_ROLE_GATE, gate, EVIL, NOW + 1, "root", gk,
                                         &gate_id, NULL, 0),
                     0);
    assert_int_equal(cw_store_apikey_add(f->st, CW_ROLE_CLERK, 0, NULL, NOW + 2, "root", clerk,
                                         &clerk_id, NULL, 0),
                     0);
    assert_string_not_equal(admin, gk); // random: two keys differ
    cw_store_apikey_t k;
    assert_int_equal(cw_store_apikey_check(f->st, gk, &k, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(k.id, gate_id);
    assert_int_equal(k.role, CW_ROLE_GATE);
    assert_int_equal(k.gate, gate);
    assert_string_equal(k.label, EVIL);
    assert_int_equal(k.created_at, NOW + 1);
    assert_int_equal(k.revoked_at, 0);
    assert_int_equal(cw_store_apikey_check(f->st, admin, &k, NULL, 0), 0);
    assert_int_equal(k.role, CW_ROLE_ADMIN);
    assert_int_equal(k.gate, 0);
    // Forged: well-formed but never issued; one character changed; not a key at all.
    char forged[CW_STORE_APIKEY_LEN];
    snprintf(forged, sizeof(forged), "cwk_%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(cw_store_apikey_check(f->st, forged, &k, f->diag, sizeof(f->diag)), CW_ENOENT);
    assert_int_equal(k.id, 0);
    snprintf(forged, sizeof(forged), "%s", admin);
    forged[20] = forged[20] == 'A' ? 'B' : 'A';
    assert_int_equal(cw_store_apikey_check(f->st, forged, &k, NULL, 0), CW_ENOENT);
    forged[20] = admin[20];
    forged[46] = '\0'; // one character short
    assert_int_equal(cw_store_apikey_check(f->st, forged, &k, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_apikey_check(f->st, "", &k, NULL, 0), CW_ENOENT);
    assert_int_equal(cw_store_apikey_check(f->st, EVIL, &k, NULL, 0), CW_ENOENT);
    // Revoked: refused with EPERM; revoking twice is fine and audited once.
    assert_int_equal(cw_store_apikey_revoke(f->st, gate_id, NOW + 10, "root", NULL, 0), 0);
    assert_int_equal(cw_store_apikey_check(f->st, gk, &k, f->diag, sizeof(f->diag)), CW_EPERM);
    assert_non_null(strstr(f->diag, "revoked"));
    assert_int_equal(k.role, 0);
    assert_int_equal(cw_store_apikey_revoke(f->st, gate_id, NOW + 11, "root", NULL, 0), 0);
    assert_int_equal(cw_store_apikey_revoke(f->st, clerk_id + 100, NOW, "root", NULL, 0),
                     CW_ENOENT);
    assert_int_equal(cw_store_apikey_check(f->st, admin, &k, NULL, 0), 0); // others unaffected
    // Listing: oldest first, the total even when cap is smaller.
    cw_store_apikey_t list[3];
    size_t n = 0;
    assert_int_equal(cw_store_apikey_list(f->st, list, 3, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, admin_id);
    assert_string_equal(list[0].label, "ops laptop");
    assert_int_equal(list[1].id, gate_id);
    assert_int_equal(list[1].revoked_at, NOW + 10);
    assert_int_equal(list[2].id, clerk_id);
    assert_int_equal(list[2].role, CW_ROLE_CLERK);
    assert_string_equal(list[2].label, "");
    assert_int_equal(cw_store_apikey_list(f->st, list, 1, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_int_equal(cw_store_apikey_list(f->st, NULL, 0, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    // Bad requests write nothing.
    char bad[CW_STORE_APIKEY_LEN] = "x";
    assert_int_equal(
        cw_store_apikey_add(f->st, CW_ROLE_GATE, 0, "", NOW, "root", bad, &id, NULL, 0), CW_EINVAL);
    assert_string_equal(bad, "");
    assert_int_equal(
        cw_store_apikey_add(f->st, CW_ROLE_OFFICER, gate, "", NOW, "root", bad, &id, NULL, 0),
        CW_EINVAL);
    assert_int_equal(
        cw_store_apikey_add(f->st, (cw_role_t)9, 0, "", NOW, "root", bad, &id, NULL, 0), CW_EINVAL);
    assert_int_equal(
        cw_store_apikey_add(f->st, CW_ROLE_GATE, gate + 99, "", NOW, "root", bad, &id, NULL, 0),
        CW_ENOENT);
    char long_label[CW_STORE_LABEL_MAX + 1];
    memset(long_label, 'L', CW_STORE_LABEL_MAX);
    long_label[CW_STORE_LABEL_MAX] = '\0';
    assert_int_equal(
        cw_store_apikey_add(f->st, CW_ROLE_ADMIN, 0, long_label, NOW, "root", bad, &id, NULL, 0),
        CW_EINVAL);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM api_key"), 3);
    // Only hashes are stored, and no key reaches the audit log (which names the actor).
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_log WHERE detail LIKE '%%%s%%' OR subject LIKE '%%%s%%'",
             admin + 4, admin + 4);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, sql), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE actor = 'root' AND "
                                        "action IN ('apikey_add', 'apikey_revoke')"),
                     4);
    assert_int_equal(
        cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM api_key WHERE length(hash) = 32"),
        3);
    if (!H.pg) {
        cw_store_close(f->st);
        f->st = NULL;
        char wal[600];
        snprintf(wal, sizeof(wal), "%s-wal", f->target);
        assert_true(find_bytes(f->target, (const unsigned char *)admin + 4, 43) < 0);
        assert_true(find_bytes(wal, (const unsigned char *)admin + 4, 43) < 0);
        open_store(f);
    }
    // The key still works after reopening (nothing lives only in the handle).
    open_store(f);
    assert_int_equal(cw_store_apikey_check(f->st, admin, &k, NULL, 0), 0);
    assert_string_equal(cw_role_name(CW_ROLE_OFFICER), "officer");
    assert_string_equal(cw_role_name((cw_role_t)0), "?");
    assert_int_equal(cw_role_parse("clerk"), CW_ROLE_CLERK);
    assert_int_equal(cw_role_parse("root"), 0);
    assert_int_equal(cw_role_parse(NULL), 0);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
}

static void test_signing_seed(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint8_t a[32], b[32], zero[32] = {0};
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM store_secret"), 1);
    assert_int_equal(cw_store_signing_seed(f->st, a, f->diag, sizeof(f->diag)), 0);
    assert_memory_not_equal(a, zero, 32);
    assert_int_equal(cw_store_signing_seed(f->st, b, NULL, 0), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM store_secret"), 2);
    // Another handle (another program) gets the same seed.
    cw_store_t *other = NULL;
    cw_store_config_t cfg = {.key = KEY_A};
    assert_int_equal(cw_store_open(f->target, &cfg, &other, NULL, 0), 0);
    memset(b, 0, sizeof(b));
    assert_int_equal(cw_store_signing_seed(other, b, NULL, 0), 0);
    assert_memory_equal(a, b, 32);
    cw_store_close(other);
    // Across a key rotation: re-sealed under the new key, the same value.
    open_key(f, KEY_B "," KEY_A);
    uint64_t done = 0, left = 1;
    while (left > 0) {
        assert_int_equal(cw_store_rekey_step(f->st, 100, &done, &left, NULL, 0), 0);
    }
    open_key(f, KEY_B);
    memset(b, 0, sizeof(b));
    assert_int_equal(cw_store_signing_seed(f->st, b, f->diag, sizeof(f->diag)), 0);
    assert_memory_equal(a, b, 32);
    // Sealed to its row: the store secret's ciphertext copied over it does not open.
    assert_int_equal(cw_test_db_raw(&H, f->target,
                                    "UPDATE store_secret SET value = (SELECT value FROM "
                                    "store_secret WHERE id = 1) WHERE id = 2",
                                    NULL, 0),
                     0);
    assert_int_equal(cw_store_signing_seed(f->st, b, f->diag, sizeof(f->diag)), CW_ECRYPTO);
    assert_memory_equal(b, zero, 32); // nothing half-read is handed out
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE action = "
                                        "'signing_seed_create'"),
                     1);
}

static void test_qr_tokens(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    make_traveller(&t, 91);
    enrol_ok(f, &t);
    uint64_t tok = 0, other = 0, id = 7;
    assert_int_equal(
        cw_store_token_add(f->st, t.id, NOW, NOW + 3600, "clerk", &tok, f->diag, sizeof(f->diag)),
        0);
    assert_int_equal(cw_store_token_add(f->st, t.id + 999, NOW, NOW + 3600, "clerk", &id, NULL, 0),
                     CW_ENOENT);
    assert_int_equal(id, 0);
    assert_int_equal(cw_store_token_add(f->st, t.id, NOW, NOW, "clerk", &id, NULL, 0), CW_EINVAL);
    cw_store_token_t tk;
    assert_int_equal(cw_store_token_get(f->st, tok, &tk, NULL, 0), 0);
    assert_int_equal(tk.id, tok);
    assert_int_equal(tk.traveller, t.id);
    assert_int_equal(tk.issued_at, NOW);
    assert_int_equal(tk.expires_at, NOW + 3600);
    assert_int_equal(tk.revoked_at, 0);
    assert_int_equal(tk.last_used_at, 0);
    assert_int_equal(cw_store_token_get(f->st, tok + 999, &tk, NULL, 0), CW_ENOENT);
    // Use, then anti-passback: refused inside the gap, allowed at its end.
    int ok = -1;
    const char *why = NULL;
    assert_int_equal(
        cw_store_token_use(f->st, tok, NOW + 10, 60, &ok, &why, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(cw_store_token_use(f->st, tok, NOW + 69, 60, &ok, &why, NULL, 0), 0);
    assert_int_equal(ok, 0);
    assert_string_equal(why, "reused");
    assert_int_equal(cw_store_token_get(f->st, tok, &tk, NULL, 0), 0);
    assert_int_equal(tk.last_used_at, NOW + 10); // the refused use changed nothing
    assert_int_equal(cw_store_token_use(f->st, tok, NOW + 70, 60, &ok, &why, NULL, 0), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(cw_store_token_get(f->st, tok, &tk, NULL, 0), 0);
    assert_int_equal(tk.last_used_at, NOW + 70);
    // Expired: the instant of expiry is too late.
    assert_int_equal(cw_store_token_use(f->st, tok, NOW + 3600, 0, &ok, &why, NULL, 0), 0);
    assert_int_equal(ok, 0);
    assert_string_equal(why, "expired");
    assert_int_equal(cw_store_token_use(f->st, tok, NOW + 3599, 0, &ok, &why, NULL, 0), 0);
    assert_int_equal(ok, 1);
    // Revoked: refused even inside its validity; revoking twice is not an error.
    assert_int_equal(cw_store_token_add(f->st, t.id, NOW, NOW + 3600, "clerk", &other, NULL, 0), 0);
    assert_int_equal(cw_store_token_revoke(f->st, other, NOW + 5, "officer-2", NULL, 0), 0);
    assert_int_equal(cw_store_token_revoke(f->st, other, NOW + 6, "officer-2", NULL, 0), 0);
    assert_int_equal(cw_store_token_revoke(f->st, other + 999, NOW, "officer-2", NULL, 0),
                     CW_ENOENT);
    assert_int_equal(cw_store_token_get(f->st, other, &tk, NULL, 0), 0);
    assert_int_equal(tk.revoked_at, NOW + 5);
    assert_int_equal(cw_store_token_use(f->st, other, NOW + 100, 60, &ok, &why, NULL, 0), 0);
    assert_int_equal(ok, 0);
    assert_string_equal(why, "revoked");
    assert_int_equal(cw_store_token_use(f->st, other + 999, NOW, 60, &ok, &why, NULL, 0),
                     CW_ENOENT);
    assert_int_equal(ok, 0);
    assert_int_equal(cw_store_token_use(f->st, tok, NOW, -1, &ok, &why, NULL, 0), CW_EINVAL);
    // Four gates present one token at the same instant: exactly one passes.
    uint64_t race = 0;
    assert_int_equal(cw_store_token_add(f->st, t.id, NOW, NOW + 3600, "clerk", &race, NULL, 0), 0);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            cw_store_t *st = NULL;
            cw_store_config_t cfg = {.key = KEY_A};
            char c;
            if (cw_store_open(f->target, &cfg, &st, NULL, 0) != 0 || read(go[0], &c, 1) != 0) {
                _exit(1);
            }
            int kid_ok = 0;
            const char *kid_why = NULL;
            int err = cw_store_token_use(st, race, NOW + 200, 60, &kid_ok, &kid_why, NULL, 0);
            cw_store_close(st);
            _exit(err != 0 ? 2 : kid_ok ? 10 : strcmp(kid_why, "reused") == 0 ? 11 : 3);
        }
    }
    close(go[0]);
    close(go[1]); // every child reads end-of-file at once: go
    int passed = 0, refused = 0;
    for (int i = 0; i < 4; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        assert_true(WIFEXITED(status));
        passed += WEXITSTATUS(status) == 10;
        refused += WEXITSTATUS(status) == 11;
    }
    assert_int_equal(passed, 1);
    assert_int_equal(refused, 3);
    // Issue, revocation and the successful uses are audited, the refusals are not.
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE action IN "
                                        "('token_issue', 'token_revoke', 'token_use')"),
                     8);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
}

static void test_touchpoints(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, u, plain;
    flight_token_traveller(&t, 92, NOW + 7200, 1);
    flight_token_traveller(&u, 93, NOW + 7200, 0);
    make_traveller(&plain, 94);
    enrol_ok(f, &t);
    enrol_ok(f, &u);
    enrol_ok(f, &plain);
    uint64_t port, sec, board;
    assert_int_equal(cw_store_port_add(f->st, "HKG", "Airport", &port, NULL, 0), 0);
    assert_int_equal(cw_store_gate_add(f->st, port, "S1", CW_PROGRAMME_FLIGHT_TOKEN, &sec, NULL, 0),
                     0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "B1", CW_PROGRAMME_FLIGHT_TOKEN, &board, NULL, 0), 0);
    uint32_t mask = 99;
    assert_int_equal(cw_store_touchpoint_passed(f->st, t.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_BAG_DROP, sec, NOW,
                                              f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_SECURITY, sec, NOW + 60, NULL, 0), 0);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_SECURITY, sec, NOW + 90, NULL, 0), 0);
    assert_int_equal(cw_store_touchpoint_passed(f->st, t.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, (1u << CW_TOUCHPOINT_BAG_DROP) | (1u << CW_TOUCHPOINT_SECURITY));
    assert_int_equal(cw_store_touchpoint_passed(f->st, u.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, 0); // one traveller's passes are not another's
    // Refusals write nothing: no flight token, unknown gate, traveller or touchpoint.
    assert_int_equal(cw_store_touchpoint_pass(f->st, plain.id, CW_TOUCHPOINT_SECURITY, sec, NOW,
                                              f->diag, sizeof(f->diag)),
                     CW_ENOENT);
    assert_non_null(strstr(f->diag, "no flight token"));
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_SECURITY, board + 99, NOW, NULL, 0),
        CW_ENOENT);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id + 999, CW_TOUCHPOINT_SECURITY, sec, NOW, NULL, 0),
        CW_ENOENT);
    assert_int_equal(cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_NONE, sec, NOW, NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_store_touchpoint_pass(f->st, t.id, (cw_touchpoint_t)5, sec, NOW, NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM touchpoint_pass"), 3);
    // Rebooked on another flight: the old booking's passes do not count.
    char sql[128];
    snprintf(sql, sizeof(sql),
             "UPDATE membership SET booking = 'NEW001' WHERE traveller = %llu AND programme = 4",
             (unsigned long long)t.id);
    assert_int_equal(cw_test_db_raw(&H, f->target, sql, NULL, 0), 0);
    assert_int_equal(cw_store_touchpoint_passed(f->st, t.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_BOARDING, board, NOW + 99, NULL, 0), 0);
    assert_int_equal(cw_store_touchpoint_passed(f->st, t.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, 1u << CW_TOUCHPOINT_BOARDING);
    // Retention: the passes go with the flight token (t keeps his record through contactless);
    // u goes whole, with his QR token.
    uint64_t tok = 0;
    assert_int_equal(cw_store_token_add(f->st, u.id, NOW, NOW + 86400, "clerk", &tok, NULL, 0), 0);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, u.id, CW_TOUCHPOINT_SECURITY, sec, NOW, NULL, 0), 0);
    cw_store_retention_t pol = {.flight_token_after = 3600};
    cw_store_purge_report_t rep;
    assert_int_equal(cw_store_purge(f->st, NOW + 7200 + 3600, &pol, 0, "retention", &rep, NULL, 0),
                     0);
    assert_int_equal(rep.n_items, 2);
    cw_store_purge_report_free(&rep);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM touchpoint_pass"), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM qr_token"), 0);
    assert_int_equal(count(f), 2);
    assert_int_equal(cw_store_touchpoint_passed(f->st, t.id, &mask, NULL, 0), 0);
    assert_int_equal(mask, 0);
    cw_store_token_t tk;
    assert_int_equal(cw_store_token_get(f->st, tok, &tk, NULL, 0), CW_ENOENT);
}

static void test_clearance_outcomes_and_referrals(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t gate;
    port_with_gate(f, "LMC", CW_PROGRAMME_DOCUMENT_FREE, &gate);
    // A transaction with steps, finished with a reason and the traveller found.
    uint64_t txn = 0;
    assert_int_equal(
        cw_store_clearance_begin(f->st, gate, 0, CW_PROGRAMME_DOCUMENT_FREE, NOW, &txn, NULL, 0),
        0);
    assert_int_equal(
        cw_store_clearance_step(f->st, txn, NOW + 1, "face_1n", "match", 0.71, NULL, 0), 0);
    assert_int_equal(cw_store_clearance_step(f->st, txn, NOW + 2, "confirm", "yes", NAN, NULL, 0),
                     0);
    // A result longer than the struct's field is cut at a character boundary (3-byte chars).
    assert_int_equal(cw_store_clearance_step(f->st, txn, NOW + 3, "finger_1_1",
                                             "指紋不符指紋不符指紋不符指紋不符", 0.1, NULL, 0),
                     0);
    assert_int_equal(cw_store_clearance_finish(f->st, txn, NOW + 4, CW_CLEARANCE_REFERRED,
                                               "FINGER_MISMATCH", 4242, f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(
        cw_store_clearance_finish(f->st, txn, NOW + 5, CW_CLEARANCE_CLEARED, "", 0, NULL, 0),
        CW_ESTATE);
    assert_int_equal(
        cw_store_clearance_finish(f->st, txn + 999, NOW, CW_CLEARANCE_CLEARED, "", 0, NULL, 0),
        CW_ENOENT);
    assert_int_equal(cw_store_clearance_finish(f->st, txn, NOW, CW_CLEARANCE_OPEN, "", 0, NULL, 0),
                     CW_EINVAL);
    cw_store_clearance_t c;
    cw_store_clearance_step_t steps[2];
    size_t n = 0;
    assert_int_equal(cw_store_clearance_get(f->st, txn, &c, steps, 2, &n, f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(n, 3); // the total, though only 2 fit
    assert_int_equal(c.id, txn);
    assert_int_equal(c.gate, gate);
    assert_int_equal(c.traveller, 4242);
    assert_int_equal(c.programme, CW_PROGRAMME_DOCUMENT_FREE);
    assert_int_equal(c.started_at, NOW);
    assert_int_equal(c.ended_at, NOW + 4);
    assert_int_equal(c.decision, CW_CLEARANCE_REFERRED);
    assert_string_equal(c.reason, "FINGER_MISMATCH");
    assert_int_equal(c.resolved_at, 0);
    assert_string_equal(c.note, "");
    assert_int_equal(steps[0].at, NOW + 1);
    assert_string_equal(steps[0].step, "face_1n");
    assert_string_equal(steps[0].result, "match");
    assert_true(steps[0].score > 0.7099 && steps[0].score < 0.7101);
    assert_true(isnan(steps[1].score));
    cw_store_clearance_step_t all[4];
    assert_int_equal(cw_store_clearance_get(f->st, txn, &c, all, 4, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_string_equal(all[2].result, "指紋不符指紋不符指紋"); // 30 of 48 bytes
    assert_int_equal(cw_store_clearance_get(f->st, txn, &c, NULL, 0, &n, NULL, 0), 0);
    assert_int_equal(cw_store_clearance_get(f->st, txn + 999, &c, NULL, 0, &n, NULL, 0), CW_ENOENT);
    // The queue: referred ones newest first, paged by id, open ones only on request.
    uint64_t cleared =
        finished(f, gate, CW_PROGRAMME_DOCUMENT_FREE, NOW + 60, CW_CLEARANCE_CLEARED, "", 1);
    uint64_t r2 = finished(f, gate, CW_PROGRAMME_DOCUMENT_FREE, NOW + 120, CW_CLEARANCE_REFERRED,
                           "NO_MATCH", 0);
    uint64_t r3 = finished(f, gate, CW_PROGRAMME_DOCUMENT_FREE, NOW + 180, CW_CLEARANCE_REFERRED,
                           "AMBIGUOUS", 0);
    cw_store_clearance_t q[8];
    assert_int_equal(cw_store_referrals(f->st, 0, 0, q, 8, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_int_equal(q[0].id, r3);
    assert_int_equal(q[1].id, r2);
    assert_int_equal(q[2].id, txn);
    assert_string_equal(q[1].reason, "NO_MATCH");
    assert_int_equal(cw_store_referrals(f->st, 0, 0, q, 2, &n, NULL, 0), 0);
    assert_int_equal(n, 2);
    assert_int_equal(cw_store_referrals(f->st, 0, q[1].id, q, 8, &n, NULL, 0), 0);
    assert_int_equal(n, 1); // the next page
    assert_int_equal(q[0].id, txn);
    // Resolving: a note with metacharacters, sealed; then the queue of open ones shrinks.
    assert_int_equal(cw_store_referral_resolve(f->st, r2, NOW + 300, CW_CLEARANCE_CLEARED,
                                               "officer-7", EVIL " \"ok\" 檢查", f->diag,
                                               sizeof(f->diag)),
                     0);
    assert_int_equal(cw_store_referral_resolve(f->st, r2, NOW + 301, CW_CLEARANCE_REJECTED,
                                               "officer-8", "", f->diag, sizeof(f->diag)),
                     CW_ESTATE);
    assert_non_null(strstr(f->diag, "resolved already"));
    assert_int_equal(cw_store_referral_resolve(f->st, cleared, NOW + 301, CW_CLEARANCE_REJECTED,
                                               "officer-8", "", f->diag, sizeof(f->diag)),
                     CW_ESTATE);
    assert_non_null(strstr(f->diag, "not referred"));
    assert_int_equal(cw_store_referral_resolve(f->st, r3, NOW + 301, CW_CLEARANCE_REFERRED,
                                               "officer-8", "", NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_store_referral_resolve(f->st, r3 + 999, NOW + 301, CW_CLEARANCE_REJECTED,
                                               "officer-8", "", NULL, 0),
                     CW_ENOENT);
    assert_int_equal(
        cw_store_referral_resolve(f->st, r3, NOW + 301, CW_CLEARANCE_REJECTED, "", "", NULL, 0),
        CW_EINVAL);
    char long_note[CW_STORE_NOTE_MAX + 1];
    memset(long_note, 'n', CW_STORE_NOTE_MAX);
    long_note[CW_STORE_NOTE_MAX] = '\0';
    assert_int_equal(cw_store_referral_resolve(f->st, r3, NOW + 301, CW_CLEARANCE_REJECTED,
                                               "officer-8", long_note, NULL, 0),
                     CW_ETOOBIG);
    assert_int_equal(cw_store_clearance_get(f->st, r2, &c, NULL, 0, &n, NULL, 0), 0);
    assert_int_equal(c.resolved_at, NOW + 300);
    assert_int_equal(c.outcome, CW_CLEARANCE_CLEARED);
    assert_string_equal(c.resolved_by, "officer-7");
    assert_string_equal(c.note, EVIL " \"ok\" 檢查");
    assert_int_equal(c.decision, CW_CLEARANCE_REFERRED); // the gate's decision stays
    assert_int_equal(cw_store_clearance_get(f->st, r3, &c, NULL, 0, &n, NULL, 0), 0);
    assert_int_equal(c.resolved_at, 0); // the refusals wrote nothing
    assert_int_equal(cw_store_referrals(f->st, 1, 0, q, 8, &n, NULL, 0), 0);
    assert_int_equal(n, 2);
    assert_int_equal(q[0].id, r3);
    assert_int_equal(q[1].id, txn);
    assert_int_equal(cw_store_referrals(f->st, 0, 0, q, 8, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_string_equal(q[1].note, EVIL " \"ok\" 檢查");
    // The note is not stored in the clear, and its ciphertext moved to another row fails.
    assert_int_equal(
        cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM clearance WHERE note IS NOT NULL"),
        1);
    assert_int_equal(cw_store_referral_resolve(f->st, txn, NOW + 400, CW_CLEARANCE_REJECTED,
                                               "officer-7", "second", NULL, 0),
                     0);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE clearance SET note = (SELECT note FROM clearance WHERE id = %llu) WHERE id = "
             "%llu",
             (unsigned long long)r2, (unsigned long long)txn);
    assert_int_equal(cw_test_db_raw(&H, f->target, sql, NULL, 0), 0);
    assert_int_equal(cw_store_clearance_get(f->st, txn, &c, NULL, 0, &n, f->diag, sizeof(f->diag)),
                     CW_ECRYPTO);
    assert_non_null(strstr(f->diag, "clearance.note"));
    assert_int_equal(c.id, 0);
    assert_int_equal(cw_store_referrals(f->st, 0, 0, q, 8, &n, NULL, 0), CW_ECRYPTO);
    assert_int_equal(n, 0);
    assert_int_equal(cw_store_clearance_get(f->st, r2, &c, NULL, 0, &n, NULL, 0), 0);
    // Audited: four finishes (one per transaction) and two resolutions, by their officers.
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE action = "
                                        "'referral_resolve' AND actor = 'officer-7'"),
                     2);
    assert_int_equal(
        cw_test_db_raw_int(&H, f->target,
                           "SELECT count(*) FROM audit_log WHERE action = 'clearance'"),
        4);
}

typedef struct report_acc {
    cw_store_report_row_t rows[16];
    int n, stop_after;
} report_acc_t;

static int report_collect(void *ctx, const cw_store_report_row_t *row)
{
    report_acc_t *a = ctx;
    if (a->n < 16) {
        a->rows[a->n] = *row;
    }
    a->n++;
    return a->stop_after > 0 && a->n >= a->stop_after ? 42 : 0;
}

static void test_report_by_local_day(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t lmc, hkg;
    port_with_gate(f, "LMC", CW_PROGRAMME_DOCUMENT_FREE, &lmc);
    port_with_gate(f, "HKG", CW_PROGRAMME_FLIGHT_TOKEN, &hkg);
    // Local midnight (UTC+8) of 2026-01-02 is 2026-01-01T16:00:00Z = NOW + 16 h.
    const int64_t midnight = NOW + 16 * 3600;
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight - 3600, CW_CLEARANCE_CLEARED, "", 1);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight - 1 - 5, CW_CLEARANCE_CLEARED, "", 2);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight - 1, CW_CLEARANCE_REFERRED, "NO_MATCH",
             0);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight, CW_CLEARANCE_CLEARED, "", 3);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight + 60, CW_CLEARANCE_REFERRED, "NO_MATCH",
             0);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight + 120, CW_CLEARANCE_REFERRED, "AMBIGUOUS",
             0);
    finished(f, hkg, CW_PROGRAMME_FLIGHT_TOKEN, midnight + 180, CW_CLEARANCE_REJECTED,
             "TOKEN_EXPIRED", 0);
    uint64_t open_txn;
    assert_int_equal(cw_store_clearance_begin(f->st, lmc, 0, CW_PROGRAMME_DOCUMENT_FREE,
                                              midnight + 200, &open_txn, NULL, 0),
                     0);
    finished(f, lmc, CW_PROGRAMME_DOCUMENT_FREE, midnight + 86400, CW_CLEARANCE_CLEARED, "", 4);
    report_acc_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_report_each(f->st, NOW, midnight + 86400, NULL, report_collect, &a,
                                          f->diag, sizeof(f->diag)),
                     0);
    // Ordered by day, port, programme, decision, reason; the open one counts as OPEN.
    assert_int_equal(a.n, 7);
    const struct {
        int day;
        const char *port;
        cw_clearance_decision_t d;
        const char *reason;
        uint64_t count;
    } want[] = {
        {1, "LMC", CW_CLEARANCE_CLEARED, "", 2},
        {1, "LMC", CW_CLEARANCE_REFERRED, "NO_MATCH", 1},
        {2, "HKG", CW_CLEARANCE_REJECTED, "TOKEN_EXPIRED", 1},
        {2, "LMC", CW_CLEARANCE_OPEN, "", 1},
        {2, "LMC", CW_CLEARANCE_CLEARED, "", 1},
        {2, "LMC", CW_CLEARANCE_REFERRED, "AMBIGUOUS", 1},
        {2, "LMC", CW_CLEARANCE_REFERRED, "NO_MATCH", 1},
    };
    for (int i = 0; i < 7; i++) {
        assert_int_equal(a.rows[i].day.year, 2026);
        assert_int_equal(a.rows[i].day.month, 1);
        assert_int_equal(a.rows[i].day.day, want[i].day);
        assert_string_equal(a.rows[i].port, want[i].port);
        assert_int_equal(a.rows[i].decision, want[i].d);
        assert_string_equal(a.rows[i].reason, want[i].reason);
        assert_int_equal(a.rows[i].count, want[i].count);
    }
    assert_int_equal(a.rows[2].programme, CW_PROGRAMME_FLIGHT_TOKEN);
    // One port; a window that starts at local midnight; an empty window; stopping early.
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_report_each(f->st, midnight, midnight + 86401, "HKG", report_collect, &a, NULL, 0),
        0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.rows[0].port, "HKG");
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_report_each(f->st, midnight, midnight + 86401, "LMC", report_collect, &a, NULL, 0),
        0);
    assert_int_equal(a.n, 5);
    assert_int_equal(a.rows[4].day.day, 3);
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_report_each(f->st, midnight, midnight, NULL, report_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(
        cw_store_report_each(f->st, NOW, midnight, "'; --", report_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 0);
    a.stop_after = 2;
    assert_int_equal(
        cw_store_report_each(f->st, NOW, midnight + 86401, NULL, report_collect, &a, NULL, 0), 42);
    assert_int_equal(a.n, 2);
    // Before 1970 the day still starts at local midnight (floor, not truncation, on both).
    uint64_t old_txn;
    assert_int_equal(cw_store_clearance_begin(f->st, hkg, 0, CW_PROGRAMME_FLIGHT_TOKEN,
                                              -8 * 3600 - 1, &old_txn, NULL, 0),
                     0);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_report_each(f->st, -86400 * 2, 0, NULL, report_collect, &a, NULL, 0),
                     0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.rows[0].day.year, 1969);
    assert_int_equal(a.rows[0].day.month, 12);
    assert_int_equal(a.rows[0].day.day, 31);
}

typedef struct audit_acc {
    int n, stop_after;
    uint64_t seq[8];
    char action[8][32];
    char subject[8][32];
} audit_acc_t;

static int audit_collect(void *ctx, const cw_store_audit_entry_t *e)
{
    audit_acc_t *a = ctx;
    if (a->n < 8) {
        a->seq[a->n] = e->seq;
        snprintf(a->action[a->n], sizeof(a->action[0]), "%s", e->action);
        snprintf(a->subject[a->n], sizeof(a->subject[0]), "%s", e->subject);
    }
    a->n++;
    return a->stop_after > 0 && a->n >= a->stop_after ? 7 : 0;
}

static void test_audit_each(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t;
    make_traveller(&t, 96);
    enrol_ok(f, &t);
    char subject[32];
    snprintf(subject, sizeof(subject), "traveller:%llu", (unsigned long long)t.id);
    uint64_t tok;
    assert_int_equal(cw_store_token_add(f->st, t.id, NOW, NOW + 60, "clerk", &tok, NULL, 0), 0);
    for (int i = 0; i < 600; i++) { // more than one batch of the walk
        assert_int_equal(cw_store_audit_append(f->st, NOW + i, "app", "tick", EVIL, "", NULL, 0),
                         0);
    }
    uint64_t removed[4];
    size_t n;
    assert_int_equal(cw_store_consent_withdraw(f->st, t.id, CW_MODALITY_FINGERPRINT, NOW + 700,
                                               "traveller", removed, 4, &n, NULL, 0),
                     0);
    audit_acc_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_audit_each(f->st, subject, 0, audit_collect, &a, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(a.n, 3); // the traveller's timeline, in order
    assert_string_equal(a.action[0], "enrol");
    assert_string_equal(a.action[1], "token_issue");
    assert_string_equal(a.action[2], "consent_withdraw");
    assert_int_equal(a.seq[2], 603);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_audit_each(f->st, subject, 2, audit_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.seq[0], 603);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_audit_each(f->st, EVIL, 0, audit_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 600);
    assert_string_equal(a.subject[0], EVIL);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_audit_each(f->st, NULL, 0, audit_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 603);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_audit_each(f->st, NULL, 600, audit_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.seq[0], 601);
    memset(&a, 0, sizeof(a));
    a.stop_after = 2;
    assert_int_equal(cw_store_audit_each(f->st, NULL, 0, audit_collect, &a, NULL, 0), 7);
    assert_int_equal(a.n, 2);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_audit_each(f->st, "nobody", 0, audit_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 0);
}

typedef struct member_acc {
    int n;
    uint64_t traveller[8], template_id[8];
    cw_programme_t programme[8];
    int64_t departure[8];
    size_t len[8];
    int bytes_ok;
} member_acc_t;

static int member_collect(void *ctx, uint64_t traveller, const cw_store_membership_t *m,
                          const cw_store_template_t *t, const void *data, size_t len)
{
    member_acc_t *a = ctx;
    if (a->n < 8) {
        a->traveller[a->n] = traveller;
        a->template_id[a->n] = t->id;
        a->programme[a->n] = m->programme;
        a->departure[a->n] = m->departure_at;
        a->len[a->n] = len;
    }
    a->bytes_ok +=
        t->len == len && len == sizeof(face_bytes) && ((const unsigned char *)data)[1] == 7;
    a->n++;
    return 0;
}

static void test_template_each_in(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t both, flight, review, none;
    flight_token_traveller(&both, 0, NOW + 3600, 1); // flight token and contactless
    flight_token_traveller(&flight, 0, NOW + 7200, 0);
    snprintf(flight.documents[0].number, sizeof(flight.documents[0].number), "F1");
    snprintf(flight.documents[1].number, sizeof(flight.documents[1].number), "F2");
    make_traveller(&review, 0); // document-free and contactless, under review
    snprintf(review.documents[0].number, sizeof(review.documents[0].number), "R1");
    snprintf(review.documents[1].number, sizeof(review.documents[1].number), "R2");
    review.status = CW_STORE_REVIEW;
    make_traveller(&none, 0);
    snprintf(none.documents[0].number, sizeof(none.documents[0].number), "N1");
    snprintf(none.documents[1].number, sizeof(none.documents[1].number), "N2");
    none.n_memberships = 0;
    enrol_ok(f, &both);
    enrol_ok(f, &flight);
    enrol_ok(f, &review);
    enrol_ok(f, &none);
    member_acc_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_template_each_in(f->st, CW_MODALITY_FACE, CW_PROGRAMME_FLIGHT_TOKEN,
                                               member_collect, &a, f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.traveller[0], both.id);
    assert_int_equal(a.template_id[0], both.templates[0].id);
    assert_int_equal(a.departure[0], NOW + 3600);
    assert_int_equal(a.traveller[1], flight.id);
    assert_int_equal(a.departure[1], NOW + 7200);
    assert_int_equal(a.programme[1], CW_PROGRAMME_FLIGHT_TOKEN);
    assert_int_equal(a.bytes_ok, 2);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_template_each_in(f->st, CW_MODALITY_FACE, CW_PROGRAMME_CONTACTLESS,
                                               member_collect, &a, NULL, 0),
                     0);
    assert_int_equal(a.n, 2); // the record under review too
    assert_int_equal(a.traveller[0], both.id);
    assert_int_equal(a.traveller[1], review.id);
    assert_int_equal(a.programme[1], CW_PROGRAMME_CONTACTLESS);
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_template_each_in(f->st, CW_MODALITY_FINGERPRINT, 0, member_collect, &a, NULL, 0),
        0);
    assert_int_equal(a.n, 3); // each member's template once; the non-member's not at all
    assert_int_equal(a.traveller[0], both.id);
    assert_int_equal(a.programme[0], CW_PROGRAMME_FLIGHT_TOKEN);
    assert_int_equal(a.len[0], sizeof(finger_bytes));
    assert_int_equal(a.traveller[2], review.id);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_template_each_in(f->st, CW_MODALITY_FACE, CW_PROGRAMME_CLOSED_AREA,
                                               member_collect, &a, NULL, 0),
                     0);
    assert_int_equal(a.n, 0);
    assert_int_equal(cw_store_template_each_in(f->st, CW_MODALITY_FACE, (cw_programme_t)9,
                                               member_collect, &a, NULL, 0),
                     CW_EINVAL);
    // A template moved to another row fails to open here too.
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE biometric SET data = (SELECT data FROM biometric WHERE id = %llu) WHERE id "
             "= %llu",
             (unsigned long long)both.templates[0].id, (unsigned long long)flight.templates[0].id);
    assert_int_equal(cw_test_db_raw(&H, f->target, sql, NULL, 0), 0);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_template_each_in(f->st, CW_MODALITY_FACE, CW_PROGRAMME_FLIGHT_TOKEN,
                                               member_collect, &a, NULL, 0),
                     CW_ECRYPTO);
    assert_int_equal(a.n, 1);
}

static void test_traveller_delete(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_traveller_t t, other, back;
    flight_token_traveller(&t, 97, NOW + 3600, 1);
    make_traveller(&other, 98);
    enrol_ok(f, &t);
    enrol_ok(f, &other);
    uint64_t port, gate, tok, txn;
    assert_int_equal(cw_store_port_add(f->st, "HKG", "Airport", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "S1", CW_PROGRAMME_FLIGHT_TOKEN, &gate, NULL, 0), 0);
    assert_int_equal(cw_store_token_add(f->st, t.id, NOW, NOW + 60, "clerk", &tok, NULL, 0), 0);
    assert_int_equal(
        cw_store_touchpoint_pass(f->st, t.id, CW_TOUCHPOINT_SECURITY, gate, NOW, NULL, 0), 0);
    assert_int_equal(
        cw_store_clearance_begin(f->st, gate, t.id, CW_PROGRAMME_FLIGHT_TOKEN, NOW, &txn, NULL, 0),
        0);
    uint64_t removed[4] = {0};
    size_t n = 9;
    // Too little room: nothing happens.
    assert_int_equal(cw_store_traveller_delete(f->st, t.id, NOW + 10, "officer-3", removed, 1, &n,
                                               f->diag, sizeof(f->diag)),
                     CW_EOVERFLOW);
    assert_int_equal(n, 0);
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    assert_int_equal(cw_store_traveller_delete(f->st, t.id + 999, NOW + 10, "officer-3", removed, 4,
                                               &n, NULL, 0),
                     CW_ENOENT);
    assert_int_equal(cw_store_traveller_delete(f->st, t.id, NOW + 10, "officer-3", removed, 4, &n,
                                               f->diag, sizeof(f->diag)),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(removed[0], t.templates[0].id);
    assert_int_equal(removed[1], t.templates[1].id);
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), CW_ENOENT);
    assert_int_equal(
        cw_store_traveller_delete(f->st, t.id, NOW + 11, "officer-3", removed, 4, &n, NULL, 0),
        CW_ENOENT);
    // Everything he gave went with him; the other traveller and the clearance history stay.
    assert_int_equal(cw_store_load(f->st, other.id, &back, NULL, 0), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM travel_document"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM membership"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM consent"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM biometric"), 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM qr_token"), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM touchpoint_pass"), 0);
    cw_store_clearance_t c;
    size_t n_steps;
    assert_int_equal(cw_store_clearance_get(f->st, txn, &c, NULL, 0, &n_steps, NULL, 0), 0);
    assert_int_equal(c.traveller, t.id);
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT count(*) FROM audit_log WHERE action = "
                                        "'traveller_delete' AND actor = 'officer-3'"),
                     1);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
}

// A database made by the version-1 program (the old migration list, v1 calls only) migrates to
// version 2 in one transaction at the next open and keeps its data; a migration that fails
// half-way leaves it at version 1 untouched.
static void test_v1_database_migrates(void **state)
{
    fx_t *f = *state;
    cw__schema_target = 1;
    open_store(f);
    int v = 0;
    assert_int_equal(cw_store_schema_version(f->st, &v, NULL, 0), 0);
    assert_int_equal(v, 1);
    cw_store_traveller_t t, back;
    make_traveller(&t, 90);
    enrol_ok(f, &t);
    uint64_t port, gate, txn;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "E1", CW_PROGRAMME_DOCUMENT_FREE, &gate, NULL, 0), 0);
    assert_int_equal(
        cw_store_clearance_begin(f->st, gate, t.id, CW_PROGRAMME_DOCUMENT_FREE, NOW, &txn, NULL, 0),
        0);
    assert_int_equal(cw_store_clearance_step(f->st, txn, NOW + 1, "face_1n", "match", 0.8, NULL, 0),
                     0);
    assert_int_equal(cw_store_clearance_end(f->st, txn, NOW + 2, CW_CLEARANCE_CLEARED, NULL, 0), 0);
    cw_store_close(f->st);
    f->st = NULL;
    cw__schema_target = CW_STORE_SCHEMA_VERSION;
    // Version 1 has no api_key table: the check can fail.
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM api_key"), -1);
    // Read-only: the migration is needed and refused.
    cw_store_config_t cfg = {.key = KEY_A, .read_only = 1};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_EPERM);
    assert_non_null(strstr(f->diag, "version 1 and needs migrating to 3"));
    // A migration that fails after its first statement (the table it creates exists already)
    // rolls back whole: the gate keeps its version-1 columns.
    assert_int_equal(cw_test_db_raw(&H, f->target, "CREATE TABLE api_key (x BIGINT)", NULL, 0), 0);
    cfg.read_only = 0;
    assert_int_not_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), 0);
    assert_null(f->st);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT version FROM schema_version"), 1);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(touchpoint) FROM gate"), -1);
    assert_int_equal(cw_test_db_raw(&H, f->target, "DROP TABLE api_key", NULL, 0), 0);
    // Now it migrates, and everything written by version 1 is there.
    open_store(f);
    assert_int_equal(cw_store_schema_version(f->st, &v, NULL, 0), 0);
    assert_int_equal(v, CW_STORE_SCHEMA_VERSION);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM api_key"), 0);
    assert_int_equal(cw_store_load(f->st, t.id, &back, f->diag, sizeof(f->diag)), 0);
    assert_string_equal(back.name_latin, t.name_latin);
    assert_int_equal(back.n_templates, 2);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT touchpoint FROM gate"), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT decision FROM clearance"),
                     CW_CLEARANCE_CLEARED);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
    assert_int_equal(ar.entries, 2);
    // Reopening finds nothing more to do.
    open_store(f);
    assert_int_equal(count(f), 1);
}

typedef struct pax_acc {
    int n, stop_after;
    cw_store_passengers_t rows[8];
} pax_acc_t;

static int pax_collect(void *ctx, const cw_store_passengers_t *row)
{
    pax_acc_t *a = ctx;
    if (a->n < 8) {
        a->rows[a->n] = *row;
    }
    a->n++;
    return a->stop_after > 0 && a->n >= a->stop_after ? 9 : 0;
}

// Passenger totals: set, replaced by a second set (the operator's correction), listed over an
// inclusive day range by day then port, one port or all; bad input changes nothing; each set
// is audited.
static void test_passengers(void **state)
{
    fx_t *f = *state;
    open_store(f);
    uint64_t lmc, hkg;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &lmc, NULL, 0), 0);
    assert_int_equal(cw_store_port_add(f->st, "HKG", "Airport", &hkg, NULL, 0), 0);
    const cw_date_t d1 = {2026, 1, 1}, d2 = {2026, 1, 2}, d3 = {2026, 1, 3};
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d2, 900, 800, NOW, "admin", f->diag,
                                             sizeof(f->diag)),
                     0);
    assert_int_equal(
        cw_store_passengers_set(f->st, "HKG", &d2, 50000, 40000, NOW, "admin", NULL, 0), 0);
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d1, 10, 20, NOW, "admin", NULL, 0), 0);
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d3, 1, 2, NOW, "admin", NULL, 0), 0);
    // A second set of the same day replaces the figures.
    assert_int_equal(
        cw_store_passengers_set(f->st, "LMC", &d2, 1000, 700, NOW + 5, "admin-2", NULL, 0), 0);
    pax_acc_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        cw_store_passengers_each(f->st, &d1, &d2, NULL, pax_collect, &a, f->diag, sizeof(f->diag)),
        0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.rows[0].day.day, 1);
    assert_string_equal(a.rows[0].port, "LMC");
    assert_int_equal(a.rows[1].day.day, 2);
    assert_string_equal(a.rows[1].port, "HKG");
    assert_int_equal(a.rows[1].departing, 50000);
    assert_int_equal(a.rows[2].day.day, 2);
    assert_string_equal(a.rows[2].port, "LMC");
    assert_int_equal(a.rows[2].departing, 1000);
    assert_int_equal(a.rows[2].arriving, 700);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_passengers_each(f->st, &d2, &d3, "LMC", pax_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.rows[1].day.day, 3);
    memset(&a, 0, sizeof(a));
    assert_int_equal(cw_store_passengers_each(f->st, &d3, &d1, NULL, pax_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(
        cw_store_passengers_each(f->st, &d1, &d3, EVIL_SHORT, pax_collect, &a, NULL, 0), 0);
    assert_int_equal(a.n, 0);
    a.stop_after = 1;
    assert_int_equal(cw_store_passengers_each(f->st, &d1, &d3, NULL, pax_collect, &a, NULL, 0), 9);
    // Refused: unknown port, invalid day, negative or huge counts; nothing changes.
    const cw_date_t bad = {2026, 2, 30};
    assert_int_equal(
        cw_store_passengers_set(f->st, "XYZ", &d1, 1, 1, NOW, "admin", f->diag, sizeof(f->diag)),
        CW_ENOENT);
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &bad, 1, 1, NOW, "admin", NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d1, -1, 1, NOW, "admin", NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d1, 1, CW_STORE_PASSENGERS_MAX + 1LL,
                                             NOW, "admin", NULL, 0),
                     CW_ETOOBIG);
    assert_int_equal(cw_store_passengers_each(f->st, &bad, &d1, NULL, pax_collect, &a, NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_test_db_raw_int(&H, f->target,
                                        "SELECT departing FROM port_passengers WHERE day = 20454"),
                     10);
    assert_int_equal(
        cw_test_db_raw_int(&H, f->target,
                           "SELECT count(*) FROM audit_log WHERE action = "
                           "'passengers_set' AND subject = 'passengers:LMC/2026-01-02'"),
        2);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
}

// A database made by the version-2 program migrates to version 3 at the next open, keeping its
// ports and clearances; until then it has no passenger table (the check can fail).
static void test_v2_database_migrates(void **state)
{
    fx_t *f = *state;
    cw__schema_target = 2;
    open_store(f);
    uint64_t port, gate, txn;
    assert_int_equal(cw_store_port_add(f->st, "LMC", "Lok Ma Chau", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(f->st, port, "E1", CW_PROGRAMME_DOCUMENT_FREE, &gate, NULL, 0), 0);
    assert_int_equal(
        cw_store_clearance_begin(f->st, gate, 0, CW_PROGRAMME_DOCUMENT_FREE, NOW, &txn, NULL, 0),
        0);
    cw_store_close(f->st);
    f->st = NULL;
    cw__schema_target = CW_STORE_SCHEMA_VERSION;
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM port_passengers"), -1);
    cw_store_config_t cfg = {.key = KEY_A, .read_only = 1};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_EPERM);
    assert_non_null(strstr(f->diag, "version 2 and needs migrating to 3"));
    open_store(f);
    int v = 0;
    assert_int_equal(cw_store_schema_version(f->st, &v, NULL, 0), 0);
    assert_int_equal(v, 3);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM port_passengers"), 0);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM clearance"), 1);
    const cw_date_t d = {2026, 1, 1};
    assert_int_equal(cw_store_passengers_set(f->st, "LMC", &d, 5, 6, NOW, "admin", NULL, 0), 0);
}

// ---- backend-specific faults ----

static void test_sqlite_corrupt_and_locked(void **state)
{
    fx_t *f = *state;
    if (H.pg) {
        skip();
    }
    FILE *fp = fopen(f->target, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 4096; i++) {
        fputc((i * 31) & 0xff, fp);
    }
    fclose(fp);
    cw_store_config_t cfg = {.key = KEY_A};
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_ECORRUPT);
    assert_null(f->st);
    // Locked: another connection holds the write lock longer than our busy timeout.
    unlink(f->target);
    open_store(f);
    cw_store_close(f->st);
    f->st = NULL;
    cfg.busy_timeout_ms = 100;
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, NULL, 0), 0);
    pid_t pid = fork();
    if (pid == 0) {
        // Hold an exclusive transaction for a second in a child process.
        cw_test_db_raw(&H, f->target,
                       "BEGIN EXCLUSIVE; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 "
                       "FROM c WHERE x < 30000000) SELECT count(*) FROM c; COMMIT",
                       NULL, 0);
        _exit(0);
    }
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    cw_store_traveller_t t;
    make_traveller(&t, 50);
    int err = cw_store_enrol(f->st, &t, NOW, "o", f->diag, sizeof(f->diag));
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(err, CW_EBUSY);
    assert_int_equal(count(f), 0);
    enrol_ok(f, &t); // the lock is gone
}

static void test_sqlite_key_file(void **state)
{
    fx_t *f = *state;
    if (H.pg) {
        skip();
    }
    char key_file[600];
    snprintf(key_file, sizeof(key_file), "%s.key", f->target);
    cw_store_config_t cfg = {.key = NULL};
    unsetenv("CLEARWAY_KEY");
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), 0);
    struct stat sb;
    assert_int_equal(stat(key_file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    cw_store_traveller_t t;
    make_traveller(&t, 60);
    enrol_ok(f, &t);
    cw_store_close(f->st);
    f->st = NULL;
    assert_int_equal(chmod(key_file, 0644), 0);
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), CW_EPERM);
    assert_non_null(strstr(f->diag, "chmod 600"));
    assert_int_equal(chmod(key_file, 0600), 0);
    // Rotation through the key file: new key first, old kept until retired.
    assert_int_equal(cw_store_key_file_add(key_file, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), 0);
    uint64_t done, left = 1;
    while (left > 0) {
        assert_int_equal(cw_store_rekey_step(f->st, 100, &done, &left, NULL, 0), 0);
    }
    cw_store_close(f->st);
    f->st = NULL;
    assert_int_equal(cw_store_key_file_retire(key_file, NULL, 0), 0);
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, f->diag, sizeof(f->diag)), 0);
    cw_store_traveller_t back;
    assert_int_equal(cw_store_load(f->st, t.id, &back, NULL, 0), 0);
    // Missing key file with creation off.
    cw_store_close(f->st);
    f->st = NULL;
    unlink(key_file);
    cfg.no_key_file_create = 1;
    assert_int_equal(cw_store_open(f->target, &cfg, &f->st, NULL, 0), CW_ENOENT);
}

static void test_sqlite_purge_leaves_no_trace(void **state)
{
    fx_t *f = *state;
    if (H.pg) {
        skip();
    }
    open_store(f);
    cw_store_traveller_t t;
    flight_token_traveller(&t, 70, NOW - 5 * 86400, 0);
    enrol_ok(f, &t);
    // The template's ciphertext as stored: a pattern to look for in the files.
    unsigned char pat[32];
    cw_store_close(f->st);
    f->st = NULL;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT substr(data, 40, 32) FROM biometric WHERE id = %llu",
             (unsigned long long)t.templates[0].id);
    assert_int_equal(cw_test_sqlite_blob(f->target, sql, pat, sizeof(pat)), 0);
    open_store(f);
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", f->target);
    assert_true(find_bytes(f->target, pat, sizeof(pat)) >= 0 ||
                find_bytes(wal, pat, sizeof(pat)) >= 0); // the check can fail
    cw_store_retention_t pol = {.flight_token_after = 3600};
    cw_store_purge_report_t rep;
    assert_int_equal(
        cw_store_purge(f->st, NOW, &pol, 0, "retention", &rep, f->diag, sizeof(f->diag)), 0);
    assert_int_equal(rep.n_templates, 2);
    cw_store_purge_report_free(&rep);
    assert_true(find_bytes(f->target, pat, sizeof(pat)) < 0);
    assert_true(find_bytes(wal, pat, sizeof(pat)) < 0);
}

static void test_pg_connection_lost_mid_transaction(void **state)
{
    fx_t *f = *state;
    if (!H.pg || pg_unavailable) {
        skip();
    }
    open_store(f);
    cw_store_traveller_t t;
    make_traveller(&t, 80);
    enrol_ok(f, &t);
    // The server ends our session (as a restart would); the next call fails cleanly...
    assert_int_equal(cw_test_db_kill_sessions(&H, f->target), 0);
    make_traveller(&t, 81);
    int err = cw_store_enrol(f->st, &t, NOW, "o", f->diag, sizeof(f->diag));
    assert_int_equal(err, CW_EIO);
    assert_int_equal(t.id, 0);
    // ...and the one after reconnects.
    enrol_ok(f, &t);
    assert_int_equal(count(f), 2);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
    assert_int_equal(ar.entries, 2);
}

// A bulk import killed with SIGKILL at an arbitrary point: every acknowledged enrolment is
// complete and intact, and no partial one exists.
static void test_sigkill_mid_bulk_import(void **state)
{
    fx_t *f = *state;
    open_store(f);
    cw_store_close(f->st);
    f->st = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        cw_store_t *st = NULL;
        cw_store_config_t cfg = {.key = KEY_A};
        if (cw_store_open(f->target, &cfg, &st, NULL, 0) != 0) {
            _exit(3);
        }
        for (int i = 0; i < 20000; i++) {
            cw_store_traveller_t t;
            make_traveller(&t, 1000 + i);
            if (cw_store_enrol(st, &t, NOW, "bulk", NULL, 0) != 0) {
                _exit(4);
            }
            char c = 1;
            if (write(fds[1], &c, 1) != 1) {
                _exit(5);
            }
        }
        _exit(0);
    }
    close(fds[1]);
    long acked = 0;
    char buf[64];
    while (acked < 300) {
        ssize_t r = read(fds[0], buf, 1);
        assert_true(r == 1);
        acked++;
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ssize_t r;
    while ((r = read(fds[0], buf, sizeof(buf))) > 0) {
        acked += r;
    }
    close(fds[0]);
    open_store(f);
    uint64_t n = count(f);
    // Every acknowledged commit is there; at most the one in flight committed unacknowledged.
    assert_true((long)n >= acked && (long)n <= acked + 1);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM travel_document"),
                     2 * (long long)n);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM biometric"),
                     2 * (long long)n);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM consent"),
                     2 * (long long)n);
    assert_int_equal(cw_test_db_raw_int(&H, f->target, "SELECT count(*) FROM membership"),
                     2 * (long long)n);
    cw_audit_report_t ar;
    assert_int_equal(cw_store_audit_verify(f->st, &ar, NULL, 0), 0);
    assert_true(ar.intact);
    assert_int_equal(ar.entries, n);
    // Each record opens whole: spot-check the first, the last and one in the middle.
    uint64_t first = 0;
    cw_store_traveller_t back;
    assert_int_equal(
        cw_store_find_document(f->st, CW_DOC_HK_IDENTITY_CARD, "A001000(3)", &first, NULL, 0), 0);
    uint64_t ids[3] = {first, 0, 0};
    char num[32];
    snprintf(num, sizeof(num), "A%06d(3)", 1000 + (int)n / 2);
    assert_int_equal(cw_store_find_document(f->st, CW_DOC_HK_IDENTITY_CARD, num, &ids[1], NULL, 0),
                     0);
    snprintf(num, sizeof(num), "A%06d(3)", 1000 + (int)n - 1);
    assert_int_equal(cw_store_find_document(f->st, CW_DOC_HK_IDENTITY_CARD, num, &ids[2], NULL, 0),
                     0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cw_store_load(f->st, ids[i], &back, NULL, 0), 0);
        assert_int_equal(back.n_documents, 2);
        assert_int_equal(back.n_templates, 2);
    }
    // The store goes on working.
    cw_store_traveller_t t;
    make_traveller(&t, 999);
    enrol_ok(f, &t);
}

int main(int argc, char **argv)
{
    int pg = argc > 1 && strcmp(argv[1], "pg") == 0;
    if (cw_test_db_start(&H, pg) != 0) {
        fprintf(stderr, "SKIPPED: PostgreSQL half of the store conformance suite: %s\n", H.why);
        pg_unavailable = 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_migrates_and_reopens, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enrol_load_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_metacharacters_in_every_field, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_rejected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_document_rejected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failure_rolls_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failure_schema2, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_moved_ciphertext_fails, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain_finds_edit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain_finds_deletion, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_consent_withdrawal_deletes_templates, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_purge_flight_tokens, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation_resumable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clearance_transaction, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_v1_database_migrates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_v2_database_migrates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_passengers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gates_by_code, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apikeys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_signing_seed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_qr_tokens, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_touchpoints, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clearance_outcomes_and_referrals, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_report_by_local_day, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_each, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_template_each_in, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_traveller_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_corrupt_and_locked, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_key_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_purge_leaves_no_trace, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pg_connection_lost_mid_transaction, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_bulk_import, fx_setup, fx_teardown),
    };
    if (pg_unavailable) {
        // Report every test as skipped, and the program as skipped to ctest (exit 77).
        const struct CMUnitTest none[] = {
            cmocka_unit_test(test_open_migrates_and_reopens),
        };
        cmocka_run_group_tests_name("store_pg_skipped", none, NULL, NULL);
        return 77;
    }
    int failed = cmocka_run_group_tests_name(pg ? "store_pg" : "store_sqlite", tests, NULL, NULL);
    cw_test_db_stop(&H);
    return failed;
}
