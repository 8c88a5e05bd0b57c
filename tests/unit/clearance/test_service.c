// SPDX-License-Identifier: Apache-2.0
// The clearance service end to end, on real faces and a real store: the five modes, and the
// field's lessons (a stranger never opens a gate, the second factor is checked against the
// record the first chose, retries are limited, out-of-order events change nothing, internal
// errors refer). Faces are crops of the group photos shipped in @vladmandic/face-api: one crop
// of a person is enrolled, a different crop (wider, shifted, another size) is the gate capture.
// Fingerprints are synthetic (cw_finger_synth): impression 0 enrolled, impression 1 presented.
// Runs on SQLite, or with argument "pg" on a PostgreSQL server the store harness starts.
#include "../store/harness.h"
#include "clearway/alloc.h"
#include "clearway/clearance.h"
#include "clearway/err.h"
#include "clearway/log.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef CW_TEST_DEPS_DIR
#define CW_TEST_DEPS_DIR ".deps"
#endif

static const char *KEY = "8f3a1c2e4b5d6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

static cw_test_db_t H;
static int pg_unavailable;

static const char *deps_dir(void)
{
    const char *e = getenv("CLEARWAY_DEPS");
    return e != NULL && e[0] != '\0' ? e : CW_TEST_DEPS_DIR;
}

/* ---- test images ---- */

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob_t;

static void blob_free(blob_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static blob_t png_of(const cw_image_t *img)
{
    char path[] = "/tmp/cw-test-png-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cw_image_write_png(img, path, NULL, 0), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    blob_t b = {malloc((size_t)n), (size_t)n};
    assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    return b;
}

/* A square crop of side `scale` x the face box around its centre shifted by (dx, dy) sides,
 * resized to out x out. */
static blob_t crop(const cw_image_t *img, const cw_face_t *f, double scale, double dx, double dy,
                   int out)
{
    double bw = f->x1 - f->x0, bh = f->y1 - f->y0;
    double side = scale * (bw > bh ? bw : bh);
    double cx = (f->x0 + f->x1) / 2 + dx * side, cy = (f->y0 + f->y1) / 2 + dy * side;
    int x0 = (int)(cx - side / 2), y0 = (int)(cy - side / 2), s = (int)side;
    cw_image_t c;
    assert_int_equal(cw_image_alloc(s, s, 3, &c), 0);
    for (int y = 0; y < s; y++) {
        for (int x = 0; x < s; x++) {
            int sx = x0 + x, sy = y0 + y;
            sx = sx < 0 ? 0 : sx >= img->width ? img->width - 1 : sx;
            sy = sy < 0 ? 0 : sy >= img->height ? img->height - 1 : sy;
            memcpy(c.data + (size_t)y * c.stride + (size_t)x * 3,
                   img->data + (size_t)sy * img->stride + (size_t)sx * 3, 3);
        }
    }
    cw_image_t r;
    assert_int_equal(cw_image_resize(&c, out, out, &r), 0);
    blob_t b = png_of(&r);
    cw_image_free(&c);
    cw_image_free(&r);
    return b;
}

enum { MAX_PEOPLE = 32 };

/* People found in the sample photos whose enrolment and gate crops both pass quality, whose
 * two crops match each other, and who do not resemble one another. */
typedef struct person {
    blob_t enrol, probe;
} person_t;

static person_t people[MAX_PEOPLE];
static int n_people;
static blob_t group_photo, blank, finger_img[8][2];

static int face_of(cw_face_session_t *s, const blob_t *b, cw_face_template_t *t)
{
    cw_image_t img;
    if (cw_image_decode(b->p, b->n, CW_IMAGE_RGB, NULL, &img, NULL, 0) != 0) {
        return -1;
    }
    cw_face_capture_opts_t opts = {1, 0, CW_FACE_SUBJECT_AUTO};
    cw_face_capture_t cap;
    int ok = cw_face_capture(s, &img, &opts, &cap) == 0 && cap.problem == CW_FACE_CAPTURE_OK;
    if (ok) {
        *t = cap.tpl;
    }
    cw_image_free(&img);
    return ok ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    cw_face_config_t fc = {0};
    fc.deps_dir = deps_dir();
    fc.min_face = 64; // as the service's gate engine
    cw_face_engine_t *e;
    cw_face_session_t *s;
    char diag[256];
    if (cw_face_engine_create(&fc, &e, diag, sizeof(diag)) != 0 ||
        cw_face_session_create(e, &s, diag, sizeof(diag)) != 0) {
        fprintf(stderr, "face engine: %s\n", diag);
        return -1;
    }
    static cw_face_template_t tpl[MAX_PEOPLE];
    for (int i = 1; i <= 6 && n_people < MAX_PEOPLE; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/npm/face-api/demo/sample%d.jpg", deps_dir(), i);
        cw_image_t img;
        if (cw_image_load(path, CW_IMAGE_RGB, NULL, &img, diag, sizeof(diag)) != 0) {
            fprintf(stderr, "%s: %s\n", path, diag);
            return -1;
        }
        if (i == 1) {
            cw_image_t small;
            assert_int_equal(cw_image_resize(&img, 960, 640, &small), 0);
            group_photo = png_of(&small);
            cw_image_free(&small);
        }
        cw_face_t faces[16];
        int n = 0;
        assert_int_equal(cw_face_detect(s, &img, faces, 16, &n), 0);
        for (int j = 0; j < n && j < 16 && n_people < MAX_PEOPLE; j++) {
            person_t p = {crop(&img, &faces[j], 2.2, 0, 0, 360),
                          crop(&img, &faces[j], 2.7, 0.04, -0.03, 480)};
            cw_face_template_t a, b;
            float sc = 0;
            int keep = face_of(s, &p.enrol, &a) == 0 && face_of(s, &p.probe, &b) == 0 &&
                       cw_face_compare(&a, &b, &sc) == 0 && sc > 0.8f;
            for (int k = 0; keep && k < n_people; k++) {
                float other = 1;
                keep = cw_face_compare(&a, &tpl[k], &other) == 0 && other < 0.35f;
            }
            if (keep) {
                tpl[n_people] = a;
                people[n_people++] = p;
            } else {
                blob_free(&p.enrol);
                blob_free(&p.probe);
            }
        }
        cw_image_free(&img);
    }
    cw_face_session_destroy(s);
    cw_face_engine_destroy(e);
    if (n_people < 7) {
        fprintf(stderr, "only %d usable people in the sample photos\n", n_people);
        return -1;
    }
    cw_image_t grey;
    assert_int_equal(cw_image_alloc(480, 480, 3, &grey), 0);
    memset(grey.data, 128, grey.stride * 480);
    blank = png_of(&grey);
    cw_image_free(&grey);
    for (int f = 0; f < 8; f++) {
        for (int imp = 0; imp < 2; imp++) {
            cw_image_t fi;
            assert_int_equal(cw_finger_synth(100 + (uint32_t)f, (uint32_t)imp, NULL, &fi), 0);
            finger_img[f][imp] = png_of(&fi);
            cw_image_free(&fi);
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_people; i++) {
        blob_free(&people[i].enrol);
        blob_free(&people[i].probe);
    }
    blob_free(&group_photo);
    blob_free(&blank);
    for (int f = 0; f < 8; f++) {
        blob_free(&finger_img[f][0]);
        blob_free(&finger_img[f][1]);
    }
    return 0;
}

/* ---- fixture: a fresh store with one port and a gate per mode, and a service over it ---- */

typedef struct fx {
    char target[512];
    cw_store_config_t scfg;
    cw_store_t *st; /* the test's own handle, for set-up and checks */
    cw_clearance_t *c;
    uint64_t gate_df, gate_cl, gate_sd, gate_ca, gate_sec, gate_imm, gate_brd;
    int64_t now;
} fx_t;

static fx_t F;

static void open_service(const cw_clearance_policy_t *policies)
{
    cw_clearance_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = F.target;
    cfg.store_cfg = &F.scfg;
    cfg.face.deps_dir = deps_dir();
    cfg.workers = 2;
    if (policies != NULL) {
        memcpy(cfg.policy, policies, sizeof(cfg.policy));
    }
    char diag[256] = "";
    int err = cw_clearance_create(&cfg, &F.c, diag, sizeof(diag));
    if (err != 0) {
        fail_msg("cw_clearance_create: %s (%s)", diag, cw_err_name(err));
    }
}

static int fx_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    F.scfg.key = KEY;
    F.now = (int64_t)time(NULL);
    assert_int_equal(cw_test_db_fresh(&H, F.target, sizeof(F.target)), 0);
    char diag[256] = "";
    int err = cw_store_open(F.target, &F.scfg, &F.st, diag, sizeof(diag));
    if (err != 0) {
        fail_msg("open: %s", diag);
    }
    uint64_t port;
    assert_int_equal(cw_store_port_add(F.st, "LWS", "Lok Ma Chau Spur Line", &port, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "DF1", CW_PROGRAMME_DOCUMENT_FREE, &F.gate_df, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "CL1", CW_PROGRAMME_CONTACTLESS, &F.gate_cl, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "SD1", CW_PROGRAMME_SMART_DEPARTURE, &F.gate_sd, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "CA1", CW_PROGRAMME_CLOSED_AREA, &F.gate_ca, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "SEC", CW_PROGRAMME_FLIGHT_TOKEN, &F.gate_sec, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "IMM", CW_PROGRAMME_FLIGHT_TOKEN, &F.gate_imm, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_add(F.st, port, "BRD", CW_PROGRAMME_FLIGHT_TOKEN, &F.gate_brd, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_set_touchpoint(F.st, F.gate_sec, CW_TOUCHPOINT_SECURITY, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_set_touchpoint(F.st, F.gate_imm, CW_TOUCHPOINT_IMMIGRATION, NULL, 0), 0);
    assert_int_equal(
        cw_store_gate_set_touchpoint(F.st, F.gate_brd, CW_TOUCHPOINT_BOARDING, NULL, 0), 0);
    return 0;
}

static int fx_teardown(void **state)
{
    (void)state;
    cw_clearance_destroy(F.c);
    cw_store_close(F.st);
    if (!H.pg) {
        unlink(F.target);
    }
    return 0;
}

/* ---- travellers ---- */

static void base_traveller(cw_store_traveller_t *t, const char *latin, const char *local,
                           cw_residence_t residence)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name_latin, sizeof(t->name_latin), "%s", latin);
    snprintf(t->name_local, sizeof(t->name_local), "%s", local);
    t->sex = CW_SEX_MALE;
    t->birth = (cw_date_t){1980, 5, 17};
    t->residence = residence;
    snprintf(t->nationality, sizeof(t->nationality), "%s",
             residence == CW_RESIDENCE_VISITOR ? "UTO" : "CHN");
    t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FACE, F.now - 100, 0};
    t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, F.now - 100, 0};
}

static void add_doc(cw_store_traveller_t *t, cw_doc_type_t type, const char *number)
{
    cw_store_document_t *d = &t->documents[t->n_documents++];
    d->type = type;
    snprintf(d->number, sizeof(d->number), "%s", number);
    d->issued = (cw_date_t){2015, 1, 1};
    d->expires = (cw_date_t){2045, 1, 1};
}

static void add_membership(cw_store_traveller_t *t, cw_programme_t p, int64_t departure)
{
    cw_store_membership_t *m = &t->memberships[t->n_memberships++];
    memset(m, 0, sizeof(*m));
    m->programme = p;
    m->enrolled_at = F.now - 100;
    if (p == CW_PROGRAMME_FLIGHT_TOKEN) {
        snprintf(m->booking, sizeof(m->booking), "BK%lld", (long long)departure % 100000);
        snprintf(m->flight, sizeof(m->flight), "CX888");
        m->departure_at = departure;
    }
    if (p == CW_PROGRAMME_CLOSED_AREA) {
        snprintf(m->area, sizeof(m->area), "FRONTIER");
    }
}

/* Enrol person `who` (face) with finger `finger` (impression 0) as a HK resident of programme
 * p; returns the traveller id. */
static uint64_t enrol_as(int who, int finger, cw_programme_t p, const char *hkid,
                         cw_clearance_enrol_result_t *res_out)
{
    cw_store_traveller_t t;
    base_traveller(&t, "CHAN Tai Man", "陳大文", CW_RESIDENCE_HONG_KONG);
    add_doc(&t, CW_DOC_HK_IDENTITY_CARD, hkid);
    if (p == CW_PROGRAMME_CLOSED_AREA) {
        char cap[24];
        snprintf(cap, sizeof(cap), "CAP%s", hkid);
        add_doc(&t, CW_DOC_CLOSED_AREA_PERMIT, cap);
    }
    add_membership(&t, p, F.now + 3 * 3600);
    cw_clearance_enrolment_t bio;
    memset(&bio, 0, sizeof(bio));
    bio.face = people[who].enrol.p;
    bio.face_len = people[who].enrol.n;
    if (finger >= 0) {
        bio.fingers[0] = finger_img[finger][0].p;
        bio.finger_lens[0] = finger_img[finger][0].n;
        bio.n_fingers = 1;
    }
    cw_clearance_enrol_result_t res;
    char diag[256] = "";
    int err = cw_clearance_enrol(F.c, &t, &bio, F.now, "test clerk", &res, diag, sizeof(diag));
    if (err != 0) {
        fail_msg("enrol person %d: %s (%s)", who, diag, cw_err_name(err));
    }
    if (res_out != NULL) {
        *res_out = res;
    }
    return res.traveller;
}

/* ---- driving a gate ---- */

static cw_clearance_reply_t R;

static uint64_t begin(uint64_t gate)
{
    char diag[256] = "";
    int err = cw_clearance_begin(F.c, gate, F.now, "gate:test", &R, diag, sizeof(diag));
    if (err != 0) {
        fail_msg("begin: %s (%s)", diag, cw_err_name(err));
    }
    return R.txn;
}

static int step(uint64_t gate, uint64_t txn, const cw_clearance_event_t *ev)
{
    char diag[256] = "";
    return cw_clearance_step(F.c, gate, txn, ev, F.now, "gate:test", &R, diag, sizeof(diag));
}

static int face_ev(uint64_t gate, uint64_t txn, const blob_t *face)
{
    cw_clearance_event_t ev = {.type = CW_EV_FACE, .face = face->p, .face_len = face->n};
    return step(gate, txn, &ev);
}

static int simple_ev(uint64_t gate, uint64_t txn, cw_txn_event_t type)
{
    cw_clearance_event_t ev = {.type = type};
    return step(gate, txn, &ev);
}

static int inside_ev(uint64_t gate, uint64_t txn, const blob_t *face, const blob_t *finger)
{
    cw_clearance_event_t ev = {.type = CW_EV_INSIDE,
                               .face = face->p,
                               .face_len = face->n,
                               .finger = finger->p,
                               .finger_len = finger->n};
    return step(gate, txn, &ev);
}

static int text_ev(uint64_t gate, uint64_t txn, cw_txn_event_t type, const char *text)
{
    cw_clearance_event_t ev = {.type = type, .text = text};
    return step(gate, txn, &ev);
}

#define EXPECT(want_action, want_reason)                                                           \
    do {                                                                                           \
        if (R.action != (want_action) || R.reason != (want_reason)) {                              \
            fail_msg("expected %s/%s, got %s/%s", cw_gate_action_name(want_action),                \
                     cw_reason_name(want_reason), cw_gate_action_name(R.action),                   \
                     cw_reason_name(R.reason));                                                    \
        }                                                                                          \
    } while (0)

static void expect_decision(uint64_t txn, cw_clearance_decision_t d, const char *reason,
                            uint64_t traveller)
{
    cw_store_clearance_t row;
    size_t n_steps = 0;
    assert_int_equal(cw_store_clearance_get(F.st, txn, &row, NULL, 0, &n_steps, NULL, 0), 0);
    assert_int_equal(row.decision, d);
    assert_string_equal(row.reason, reason);
    assert_int_equal(row.traveller, traveller);
}

/* ---- document-free channel ---- */

static void test_document_free_clears_the_enrolled(void **state)
{
    (void)state;
    open_service(NULL);
    uint64_t a = enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    enrol_as(1, 1, CW_PROGRAMME_DOCUMENT_FREE, "B2345674", NULL);
    uint64_t txn = begin(F.gate_df);
    assert_int_equal(R.action, CW_ACTION_CAPTURE_FACE);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_SHOW_CONFIRMATION, CW_REASON_NONE);
    assert_int_equal(R.state, CW_TXN_AWAIT_CONFIRMATION);
    // Only the masked hint: surname and initials, the first character, the last three.
    assert_string_equal(R.masked_name, "CHAN T** M**");
    assert_string_equal(R.masked_local, "陳**");
    assert_string_equal(R.masked_document, "…563");
    assert_null(strstr(R.masked_name, "Tai"));
    assert_null(strstr(R.masked_local, "大"));
    assert_null(strstr(R.masked_document, "A1234"));
    assert_true(R.gallery_n == 2);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), 0);
    EXPECT(CW_ACTION_OPEN_FRONT, CW_REASON_NONE);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[0][1]), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    assert_int_equal(R.state, CW_TXN_CLEARED);
    expect_decision(txn, CW_CLEARANCE_CLEARED, "", a);
    // The transaction is closed: nothing more can happen in it.
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), CW_ENOENT);
    cw_clearance_stats_t st;
    cw_clearance_stats(F.c, &st);
    assert_int_equal(st.cleared[CW_PROGRAMME_DOCUMENT_FREE], 1);
    assert_int_equal(st.gallery_n[CW_PROGRAMME_DOCUMENT_FREE], 2);
}

static void test_stranger_never_opens_a_gate(void **state)
{
    (void)state;
    open_service(NULL);
    // Two people in each 1:N gallery (one face per identity: a face enrolled twice would be
    // flagged as a duplicate).
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "C%07d", i);
        if (i < 2) {
            enrol_as(i, i, CW_PROGRAMME_DOCUMENT_FREE, id, NULL);
        } else {
            enrol_as(i, -1, CW_PROGRAMME_CLOSED_AREA, id, NULL);
        }
    }
    // Everyone not enrolled, at both 1:N modes.
    for (int i = 4; i < n_people; i++) {
        uint64_t txn = begin(F.gate_df);
        assert_int_equal(face_ev(F.gate_df, txn, &people[i].probe), 0);
        EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_NO_MATCH);
        assert_string_equal(R.masked_name, "");
        assert_string_equal(R.masked_document, "");
        expect_decision(txn, CW_CLEARANCE_REFERRED, "NO_MATCH", 0);
        txn = begin(F.gate_ca);
        assert_int_equal(face_ev(F.gate_ca, txn, &people[i].probe), 0);
        EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_NO_MATCH);
    }
    // And the enrolled are still recognised (the check can pass).
    uint64_t txn = begin(F.gate_ca);
    assert_int_equal(face_ev(F.gate_ca, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
}

static void test_inside_checks_the_chosen_record(void **state)
{
    (void)state;
    open_service(NULL);
    uint64_t a = enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    enrol_as(1, 1, CW_PROGRAMME_DOCUMENT_FREE, "B2345674", NULL);
    // Someone else's face inside, after A was chosen at the front: refused, never re-searched.
    uint64_t txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), 0);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[1].probe, &finger_img[1][1]), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_FACE_MISMATCH);
    expect_decision(txn, CW_CLEARANCE_REFERRED, "FACE_MISMATCH", a);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[0][1]), CW_ENOENT);
    // A's face but B's finger: the fingerprint is checked against A's record.
    txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), 0);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[1][1]), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_FINGER_MISMATCH);
    // A finger never enrolled at all.
    txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), 0);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[7][1]), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_FINGER_MISMATCH);
}

static void test_retries_are_limited_and_specific(void **state)
{
    (void)state;
    open_service(NULL);
    enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    uint64_t txn = begin(F.gate_df);
    assert_int_equal(R.captures_left, 3);
    assert_int_equal(face_ev(F.gate_df, txn, &blank), 0);
    EXPECT(CW_ACTION_RETRY, CW_REASON_NO_FACE);
    assert_int_equal(R.captures_left, 2);
    assert_int_equal(face_ev(F.gate_df, txn, &group_photo), 0);
    EXPECT(CW_ACTION_RETRY, CW_REASON_MANY_FACES);
    assert_int_equal(R.captures_left, 1);
    blob_t junk = {(uint8_t *)"not an image at all", 19};
    assert_int_equal(face_ev(F.gate_df, txn, &junk), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_RETRIES_EXHAUSTED);
    expect_decision(txn, CW_CLEARANCE_REFERRED, "RETRIES_EXHAUSTED", 0);
    // The right face after the limit is of no use: the transaction is over.
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), CW_ENOENT);
    // Each refused capture is in the audit log.
    cw_audit_report_t rep;
    assert_int_equal(cw_store_audit_verify(F.st, &rep, NULL, 0), 0);
    assert_true(rep.intact);
    // A retry followed by a good capture goes on normally.
    txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &blank), 0);
    EXPECT(CW_ACTION_RETRY, CW_REASON_NO_FACE);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_SHOW_CONFIRMATION, CW_REASON_NONE);
}

static void test_duplicate_enrolment_and_ambiguity(void **state)
{
    (void)state;
    open_service(NULL);
    cw_clearance_enrol_result_t r1, r2;
    uint64_t a = enrol_as(3, 3, CW_PROGRAMME_DOCUMENT_FREE, "D1111111", &r1);
    assert_false(r1.duplicate_of);
    assert_true(r1.eligibility[CW_PROGRAMME_DOCUMENT_FREE].eligible);
    // The same face under another identity: flagged for review on enrolment...
    enrol_as(3, 4, CW_PROGRAMME_DOCUMENT_FREE, "D2222222", &r2);
    assert_true(r2.duplicate_of);
    assert_int_equal(r2.resembles, a);
    assert_false(r2.eligibility[CW_PROGRAMME_DOCUMENT_FREE].eligible);
    // ...and at the gate two close candidates mean no one.
    uint64_t txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[3].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_AMBIGUOUS);
    assert_string_equal(R.masked_name, "");
}

static void test_out_of_order_events_change_nothing(void **state)
{
    (void)state;
    open_service(NULL);
    enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    uint64_t txn = begin(F.gate_df);
    // Inside capture or confirmation before the front capture: refused.
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[0][1]), CW_ESTATE);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), CW_ESTATE);
    assert_int_equal(text_ev(F.gate_df, txn, CW_EV_ID_NUMBER, "A1234563"), CW_ESTATE);
    // Another gate cannot act on this transaction; a missing image is the caller's error.
    assert_int_equal(face_ev(F.gate_ca, txn, &people[0].probe), CW_ENOENT);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_FACE), CW_EINVAL);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_SHOW_CONFIRMATION, CW_REASON_NONE);
    assert_int_equal(R.captures_left, 2);
    assert_int_equal(inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[0][1]), CW_ESTATE);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_DECLINE), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_DECLINED);
    // Abandoned transactions refer too.
    txn = begin(F.gate_df);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_ABANDON), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_ABANDONED);
}

/* ---- contactless e-channel ---- */

static void test_contactless_id_number_and_qr(void **state)
{
    (void)state;
    open_service(NULL);
    uint64_t a = enrol_as(0, -1, CW_PROGRAMME_CONTACTLESS, "A1234563", NULL);
    uint64_t txn = begin(F.gate_cl);
    assert_int_equal(R.action, CW_ACTION_PRESENT_DOCUMENT);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_ID_NUMBER, "A1234563"), 0);
    EXPECT(CW_ACTION_OPEN_FRONT, CW_REASON_NONE);
    assert_int_equal(face_ev(F.gate_cl, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    expect_decision(txn, CW_CLEARANCE_CLEARED, "", a);
    // Someone else's face behind A's card.
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_ID_NUMBER, "A1234563"), 0);
    assert_int_equal(face_ev(F.gate_cl, txn, &people[1].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_FACE_MISMATCH);
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_ID_NUMBER, "Z9999999"), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_UNKNOWN_DOCUMENT);

    char qr[CW_TOKEN_TEXT_MAX];
    uint64_t tok;
    assert_int_equal(
        cw_clearance_token_issue(F.c, a, F.now, F.now + 86400, "clerk", qr, &tok, NULL, 0), 0);
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_QR, qr), 0);
    EXPECT(CW_ACTION_OPEN_FRONT, CW_REASON_NONE);
    assert_int_equal(face_ev(F.gate_cl, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    // Replayed within the anti-passback gap.
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_QR, qr), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOKEN_REUSED);
    // Forged: one character changed.
    char forged[CW_TOKEN_TEXT_MAX];
    snprintf(forged, sizeof(forged), "%s", qr);
    size_t k = strlen(forged) - 5;
    forged[k] = forged[k] == 'A' ? 'B' : 'A';
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_QR, forged), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOKEN_INVALID);
    // Revoked, and expired.
    assert_int_equal(cw_store_token_revoke(F.st, tok, F.now, "officer", NULL, 0), 0);
    F.now += 120;
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_QR, qr), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOKEN_REVOKED);
    assert_int_equal(
        cw_clearance_token_issue(F.c, a, F.now, F.now + 30, "clerk", qr, &tok, NULL, 0), 0);
    F.now += 60;
    txn = begin(F.gate_cl);
    assert_int_equal(text_ev(F.gate_cl, txn, CW_EV_QR, qr), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOKEN_EXPIRED);
}

/* ---- Smart Departure ---- */

static void mrz_field(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] != '\0' && i < n; i++) {
        dst[i] = src[i] == ' ' ? '<' : src[i];
    }
    for (; i < n; i++) {
        dst[i] = '<';
    }
}

/* A TD3 MRZ with correct check digits. */
static void make_td3(char out[90], const char *number, const char *nat, const char *birth,
                     const char *expiry)
{
    char l1[45], l2[45];
    mrz_field(l1, "P<UTOSMITH<<JOHN", 44);
    mrz_field(l2, number, 9);
    l2[9] = (char)('0' + cw_mrz_check_digit(l2, 9));
    memcpy(l2 + 10, nat, 3);
    memcpy(l2 + 13, birth, 6);
    l2[19] = (char)('0' + cw_mrz_check_digit(l2 + 13, 6));
    l2[20] = 'M';
    memcpy(l2 + 21, expiry, 6);
    l2[27] = (char)('0' + cw_mrz_check_digit(l2 + 21, 6));
    mrz_field(l2 + 28, "", 14);
    l2[42] = '<';
    char comp[40];
    memcpy(comp, l2, 10);
    memcpy(comp + 10, l2 + 13, 7);
    memcpy(comp + 17, l2 + 21, 22);
    l2[43] = (char)('0' + cw_mrz_check_digit(comp, 39));
    l1[44] = l2[44] = '\0';
    snprintf(out, 90, "%s\n%s", l1, l2);
}

static void test_smart_departure(void **state)
{
    (void)state;
    open_service(NULL);
    cw_store_traveller_t t;
    base_traveller(&t, "SMITH John", "SMITH John", CW_RESIDENCE_VISITOR);
    add_doc(&t, CW_DOC_PASSPORT, "L898902C3");
    char mrz[90];
    make_td3(mrz, "L898902C3", "UTO", "800517", "350101");
    // The store keeps the MRZ as one run of 88 characters.
    snprintf(t.documents[0].mrz, sizeof(t.documents[0].mrz), "%.44s%s", mrz, mrz + 45);
    add_membership(&t, CW_PROGRAMME_SMART_DEPARTURE, 0);
    cw_clearance_enrolment_t bio;
    memset(&bio, 0, sizeof(bio));
    bio.face = people[5].enrol.p;
    bio.face_len = people[5].enrol.n;
    cw_clearance_enrol_result_t res;
    char diag[256] = "";
    int err = cw_clearance_enrol(F.c, &t, &bio, F.now, "clerk", &res, diag, sizeof(diag));
    if (err != 0) {
        fail_msg("enrol: %s (%s)", diag, cw_err_name(err));
    }
    cw_clearance_event_t ev = {.type = CW_EV_PASSPORT,
                               .text = mrz,
                               .chip = people[5].enrol.p,
                               .chip_len = people[5].enrol.n};
    uint64_t txn = begin(F.gate_sd);
    assert_int_equal(R.action, CW_ACTION_PRESENT_DOCUMENT);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    EXPECT(CW_ACTION_OPEN_FRONT, CW_REASON_NONE);
    assert_int_equal(face_ev(F.gate_sd, txn, &people[5].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    expect_decision(txn, CW_CLEARANCE_CLEARED, "", res.traveller);
    // Another face than the chip's.
    txn = begin(F.gate_sd);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    assert_int_equal(face_ev(F.gate_sd, txn, &people[6].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_FACE_MISMATCH);
    // A wrong check digit anywhere.
    char bad[90];
    snprintf(bad, sizeof(bad), "%s", mrz);
    size_t l2 = strlen(bad) - 44;
    bad[l2 + 19] = bad[l2 + 19] == '0' ? '1' : '0';
    ev.text = bad;
    txn = begin(F.gate_sd);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_MRZ_INVALID);
    // A valid MRZ whose birth date is not the record's.
    make_td3(bad, "L898902C3", "UTO", "810517", "350101");
    txn = begin(F.gate_sd);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_MRZ_INVALID);
    // A passport nobody enrolled, and a chip photo without a face.
    make_td3(bad, "X12345678", "UTO", "800517", "350101");
    txn = begin(F.gate_sd);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_UNKNOWN_DOCUMENT);
    ev.text = mrz;
    ev.chip = blank.p;
    ev.chip_len = blank.n;
    txn = begin(F.gate_sd);
    assert_int_equal(step(F.gate_sd, txn, &ev), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_CHIP_FACE_UNUSABLE);
}

/* ---- Flight Token ---- */

static void test_flight_token_touchpoints_in_order(void **state)
{
    (void)state;
    open_service(NULL);
    cw_store_traveller_t t;
    base_traveller(&t, "WONG Siu Ming", "黃小明", CW_RESIDENCE_HONG_KONG);
    add_doc(&t, CW_DOC_HK_IDENTITY_CARD, "E7654321");
    int64_t departure = F.now + 2 * 3600;
    add_membership(&t, CW_PROGRAMME_FLIGHT_TOKEN, departure);
    cw_clearance_enrolment_t bio;
    memset(&bio, 0, sizeof(bio));
    bio.face = people[2].enrol.p;
    bio.face_len = people[2].enrol.n;
    cw_clearance_enrol_result_t res;
    assert_int_equal(cw_clearance_enrol(F.c, &t, &bio, F.now, "check-in", &res, NULL, 0), 0);
    uint64_t txn = begin(F.gate_brd);
    assert_int_equal(face_ev(F.gate_brd, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOUCHPOINT_ORDER);
    txn = begin(F.gate_sec);
    assert_int_equal(face_ev(F.gate_sec, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    txn = begin(F.gate_brd);
    assert_int_equal(face_ev(F.gate_brd, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOUCHPOINT_ORDER);
    txn = begin(F.gate_imm);
    assert_int_equal(face_ev(F.gate_imm, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    txn = begin(F.gate_sec);
    assert_int_equal(face_ev(F.gate_sec, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_TOUCHPOINT_ORDER);
    txn = begin(F.gate_brd);
    assert_int_equal(face_ev(F.gate_brd, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
    uint32_t passed = 0;
    assert_int_equal(cw_store_touchpoint_passed(F.st, res.traveller, &passed, NULL, 0), 0);
    assert_int_equal(passed, (1u << CW_TOUCHPOINT_SECURITY) | (1u << CW_TOUCHPOINT_IMMIGRATION) |
                                 (1u << CW_TOUCHPOINT_BOARDING));
    // After departure the token is spent: it leaves the gallery.
    F.now = departure + 60;
    size_t n = 0;
    assert_int_equal(cw_clearance_expire(F.c, F.now, &n), 0);
    cw_clearance_stats_t st;
    cw_clearance_stats(F.c, &st);
    assert_int_equal(st.gallery_n[CW_PROGRAMME_FLIGHT_TOKEN], 0);
    txn = begin(F.gate_sec);
    assert_int_equal(face_ev(F.gate_sec, txn, &people[2].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_NO_MATCH);
}

/* ---- closed area ---- */

static void test_closed_area_population_cap(void **state)
{
    (void)state;
    cw_clearance_policy_t pol[CW_PROGRAMME_CLOSED_AREA + 1];
    memset(pol, 0, sizeof(pol));
    pol[CW_PROGRAMME_CLOSED_AREA].gallery.max_n = 2;
    open_service(pol);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "K%07d", i);
        enrol_as(i, -1, CW_PROGRAMME_CLOSED_AREA, id, NULL);
    }
    uint64_t txn = begin(F.gate_ca);
    assert_int_equal(face_ev(F.gate_ca, txn, &people[1].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_POPULATION_CAP);
    cw_clearance_destroy(F.c);
    F.c = NULL;
    // The same population under the default cap: cleared.
    open_service(NULL);
    txn = begin(F.gate_ca);
    assert_int_equal(face_ev(F.gate_ca, txn, &people[1].probe), 0);
    EXPECT(CW_ACTION_OPEN_REAR, CW_REASON_NONE);
}

/* ---- failing closed ---- */

static void test_internal_errors_refer(void **state)
{
    (void)state;
    open_service(NULL);
    enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    int referred = 0, cleared = 0;
    cw_log_set_level(CW_LOG_OFF); // each failure is logged as an error: expected here
    for (uint64_t nth = 1; nth < 200; nth++) {
        uint64_t txn = begin(F.gate_df);
        assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
        assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), 0);
        cw_alloc_counting_install();
        cw_alloc_fail_nth(nth);
        int err = inside_ev(F.gate_df, txn, &people[0].probe, &finger_img[0][1]);
        cw_alloc_counting_uninstall();
        // Either the failure did not reach the step, or the traveller is referred: the rear
        // gate opens only on a fully successful check.
        if (err == 0 && R.action == CW_ACTION_OPEN_REAR) {
            cleared++;
            break; // past the last allocation of the step
        }
        if (err == 0 || err == CW_ENOMEM) {
            referred++;
            if (err == 0) {
                assert_int_equal(R.action, CW_ACTION_REFER_TO_OFFICER);
                assert_int_equal(R.state, CW_TXN_REFERRED);
            }
        } else {
            fail_msg("allocation %llu: error %s", (unsigned long long)nth, cw_err_name(err));
        }
    }
    cw_log_set_level(CW_LOG_INFO);
    assert_true(referred > 0);
    assert_int_equal(cleared, 1);
}

static void test_timeout_and_consent_withdrawal(void **state)
{
    (void)state;
    open_service(NULL);
    uint64_t a = enrol_as(0, 0, CW_PROGRAMME_DOCUMENT_FREE, "A1234563", NULL);
    uint64_t txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    size_t n = 0;
    assert_int_equal(cw_clearance_expire(F.c, F.now + 30, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cw_clearance_expire(F.c, F.now + 121, &n), 0);
    assert_int_equal(n, 1);
    expect_decision(txn, CW_CLEARANCE_REFERRED, "TIMEOUT", a);
    assert_int_equal(simple_ev(F.gate_df, txn, CW_EV_CONFIRM), CW_ENOENT);
    // Withdrawing face consent removes the face from the galleries at once.
    assert_int_equal(
        cw_clearance_consent_withdraw(F.c, a, CW_MODALITY_FACE, F.now, "clerk", NULL, 0), 0);
    txn = begin(F.gate_df);
    assert_int_equal(face_ev(F.gate_df, txn, &people[0].probe), 0);
    EXPECT(CW_ACTION_REFER_TO_OFFICER, CW_REASON_NO_MATCH);
    // And a restarted service does not load it again.
    cw_clearance_destroy(F.c);
    F.c = NULL;
    open_service(NULL);
    cw_clearance_stats_t st;
    cw_clearance_stats(F.c, &st);
    assert_int_equal(st.gallery_n[CW_PROGRAMME_DOCUMENT_FREE], 0);
}

int main(int argc, char **argv)
{
    int pg = argc > 1 && strcmp(argv[1], "pg") == 0;
    if (cw_test_db_start(&H, pg) != 0) {
        fprintf(stderr, "SKIPPED: PostgreSQL half of the clearance suite: %s\n", H.why);
        pg_unavailable = 1;
        return 77;
    }
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_document_free_clears_the_enrolled),
        T(test_stranger_never_opens_a_gate),
        T(test_inside_checks_the_chosen_record),
        T(test_retries_are_limited_and_specific),
        T(test_duplicate_enrolment_and_ambiguity),
        T(test_out_of_order_events_change_nothing),
        T(test_contactless_id_number_and_qr),
        T(test_smart_departure),
        T(test_flight_token_touchpoints_in_order),
        T(test_closed_area_population_cap),
        T(test_internal_errors_refer),
        T(test_timeout_and_consent_withdrawal),
    };
#undef T
    int failed = cmocka_run_group_tests_name(pg ? "clearance_service_pg" : "clearance_service",
                                             tests, group_setup, group_teardown);
    cw_test_db_stop(&H);
    return failed;
}
