// SPDX-License-Identifier: Apache-2.0
// The five clearance modes end to end through HTTP, on real faces, against the real
// `clearway serve` on SQLite (`test_integration_server_e2e`) and on a real PostgreSQL server
// (`... pg`, started by tests/unit/store/harness.c; skipped when its binaries are absent).
//
// People are faces found in the set-up's group photos: each enrolled person is enrolled from one
// crop and probed at the gate with another crop at another scale; strangers are faces that
// resemble nobody enrolled (checked with the face engine here, so the test does not depend on
// who is in which photo). Fingerprints are synthetic (cw_finger_synth): enrolled from one
// impression, presented with another. Clerks enrol, gate keys drive their own gates, officers
// work the referrals. Along the way: the masked hint is all a gate learns, every refusal path of
// each mode refers with its reason, the referral queue, timelines with the audit entries of each
// request, resolutions, reports and metrics agree with what happened, consent withdrawal and
// deletion take effect at the gates at once, and (PostgreSQL) the server fails closed while the
// database is down and recovers when it returns.
#define _DEFAULT_SOURCE 1 // setgroups
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../unit/store/harness.h"
#include "faces.h"
#include "it.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char config[] =
    "{\"ports\": [{\"code\": \"HKG\", \"name\": \"Airport\", \"gates\": ["
    "  {\"code\": \"E01\", \"programme\": \"document_free\"},"
    "  {\"code\": \"C01\", \"programme\": \"contactless\"},"
    "  {\"code\": \"D01\", \"programme\": \"smart_departure\"},"
    "  {\"code\": \"T02\", \"programme\": \"flight_token\", \"touchpoint\": \"security\"},"
    "  {\"code\": \"T03\", \"programme\": \"flight_token\", \"touchpoint\": \"immigration\"},"
    "  {\"code\": \"T04\", \"programme\": \"flight_token\", \"touchpoint\": \"boarding\"}]},"
    " {\"code\": \"LMC\", \"name\": \"Lok Ma Chau\", \"gates\": ["
    "  {\"code\": \"A01\", \"programme\": \"closed_area\"}]}]}";

enum { P_DF, P_CL, P_SD, P_FT, P_CA, N_PEOPLE, N_STRANGERS = 2 };
enum { G_E01, G_C01, G_D01, G_T02, G_T03, G_T04, G_A01, N_GATES };
static const char *const gate_names[N_GATES] = {"HKG.E01", "HKG.C01", "HKG.D01", "HKG.T02",
                                                "HKG.T03", "HKG.T04", "LMC.A01"};

typedef struct fx {
    int pg;
    cw_test_db_t db;
    char target[512];
    char dir[256];
    cw_it_server_t srv;
    cw_it_faces_t faces;
    int person[N_PEOPLE];      // face index of each enrolled person
    int stranger[N_STRANGERS]; // face indices of people enrolled nowhere
    long long id[N_PEOPLE];    // traveller ids
    char clerk[64], officer[64], gate_key[N_GATES][64];
    long long referred_txn; // one referral the officer test resolves
    int cleared, referred;  // what the gates did, for the report and metrics checks
} fx_t;

static fx_t F;

// ---- helpers ----

static json_t *b64_of(int (*make)(cw_it_faces_t *, int, uint8_t **, size_t *), int face)
{
    uint8_t *jpeg = NULL;
    size_t n = 0;
    if (make(&F.faces, face, &jpeg, &n) != 0) {
        return NULL;
    }
    json_t *s = cw_it_b64(jpeg, n);
    free(jpeg);
    return s;
}

static json_t *finger_b64(uint32_t finger, uint32_t impression)
{
    uint8_t *jpeg = NULL;
    size_t n = 0;
    if (cw_it_finger_jpeg(finger, impression, &jpeg, &n) != 0) {
        return NULL;
    }
    json_t *s = cw_it_b64(jpeg, n);
    free(jpeg);
    return s;
}

static long long begin_at(int gate, cw_it_resp_t *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/gates/%s/transactions", gate_names[gate]);
    cw_it_request(&F.srv, "POST", path, F.gate_key[gate], NULL, NULL, 0, r);
    assert_int_equal(r->status, 201);
    return cw_it_int(r, "txn");
}

static void step_at(int gate, long long txn, const char *what, json_t *body, cw_it_resp_t *r)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/gates/%s/transactions/%lld/%s", gate_names[gate], txn, what);
    cw_it_json(&F.srv, "POST", path, F.gate_key[gate], body, r);
}

// The answer is a gate reply with this action and reason, and nothing personal beyond the hint.
static void expect(cw_it_resp_t *r, int status, const char *action, const char *reason)
{
    if (r->status != status || strcmp(cw_it_str(r, "action"), action) != 0 ||
        strcmp(cw_it_str(r, "reason"), reason) != 0) {
        fprintf(stderr, "got %ld %s, want %d %s %s\n", r->status, r->body ? r->body : "", status,
                action, reason);
    }
    assert_int_equal(r->status, status);
    assert_string_equal(cw_it_str(r, "action"), action);
    assert_string_equal(cw_it_str(r, "reason"), reason);
    static const char *const allowed[] = {"txn",           "programme", "state",
                                          "action",        "reason",    "instruction",
                                          "captures_left", "hint",      NULL};
    const char *k;
    json_t *v;
    json_object_foreach(r->json, k, v)
    {
        (void)v;
        int known = 0;
        for (int i = 0; allowed[i] != NULL; i++) {
            known |= strcmp(allowed[i], k) == 0;
        }
        assert_true(known);
    }
    if (strcmp(action, "REFER_TO_OFFICER") == 0) {
        F.referred++;
    } else if (strcmp(action, "OPEN_REAR") == 0) {
        F.cleared++;
        assert_string_equal(cw_it_str(r, "state"), "CLEARED");
    }
}

static long long enrol(json_t *rec)
{
    cw_it_resp_t r;
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    if (r.status != 201) {
        fprintf(stderr, "enrolment: %ld %s\n", r.status, r.body ? r.body : "");
    }
    assert_int_equal(r.status, 201);
    assert_string_equal(cw_it_str(&r, "status"), "active");
    // Eligible for every programme the record holds.
    const char *prog;
    json_t *e;
    json_object_foreach(json_object_get(r.json, "eligibility"), prog, e)
    {
        if (!json_is_true(json_object_get(e, "eligible"))) {
            fprintf(stderr, "not eligible for %s: %s\n", prog, r.body);
        }
        assert_true(json_is_true(json_object_get(e, "eligible")));
    }
    long long id = cw_it_int(&r, "id");
    cw_it_resp_free(&r);
    return id;
}

static json_t *hkid(const char *number)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "type", "hk_identity_card", "number", number, "issued",
                     "2018-01-01", "expires", "2099-12-31");
}

// ICAO 9303 check digit (weights 7, 3, 1).
static char cd(const char *s, size_t n)
{
    static const int w[3] = {7, 3, 1};
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 0;
        sum += v * w[i % 3];
    }
    return (char)('0' + sum % 10);
}

// A TD3 passport MRZ for SMITH JOHN, GBR, born 1975-03-15, passport X12345678, expiring
// 2032-01-01, every check digit computed here.
static void make_mrz(char *out, size_t cap)
{
    char l2[45];
    memcpy(l2, "X12345678", 9);
    l2[9] = cd(l2, 9);
    memcpy(l2 + 10, "GBR750315", 9);
    l2[19] = cd(l2 + 13, 6);
    l2[20] = 'M';
    memcpy(l2 + 21, "320101", 6);
    l2[27] = cd(l2 + 21, 6);
    memcpy(l2 + 28, "<<<<<<<<<<<<<<", 14);
    l2[42] = cd(l2 + 28, 14);
    char comp[40];
    memcpy(comp, l2, 10);
    memcpy(comp + 10, l2 + 13, 7);
    memcpy(comp + 17, l2 + 21, 22);
    l2[43] = cd(comp, 39);
    l2[44] = '\0';
    snprintf(out, cap, "P<GBRSMITH<<JOHN<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n%s", l2);
}

// ---- set-up: people, the server, keys, enrolments ----

static int choose_people(void)
{
    // Everyone chosen must be clearly unlike everyone else chosen; the enrolled need both crops
    // good, strangers only the probe.
    int chosen[N_PEOPLE + N_STRANGERS];
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        int want = pass == 0 ? N_PEOPLE : N_PEOPLE + N_STRANGERS;
        for (int i = 0; i < F.faces.n && n < want; i++) {
            const cw_it_face_t *p = &F.faces.faces[i];
            int taken = 0;
            for (int k = 0; k < n; k++) {
                taken |= chosen[k] == i;
            }
            if (!taken && (pass == 0 ? p->usable : p->probe_usable) &&
                cw_it_best_score(&F.faces, i, chosen, n) < 0.3f) {
                chosen[n++] = i;
            }
        }
        if (n < want) {
            fprintf(stderr, "only %d usable, distinct faces in the sample photos\n", n);
            return -1;
        }
    }
    memcpy(F.person, chosen, sizeof(F.person));
    memcpy(F.stranger, chosen + N_PEOPLE, sizeof(F.stranger));
    return 0;
}

static void enrol_everyone(void)
{
    int64_t now = (int64_t)time(NULL);
    // Document-free: a Hong Kong resident with face and two fingers.
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o], s:[{s:s}], s:{s:b, s:b}}",
                            "name_latin", "CHAN Tai Man", "name_local", "陳大文", "sex", "M",
                            "birth", "1980-02-29", "residence", "hong_kong", "nationality", "CHN",
                            "documents", hkid("A1234567"), "memberships", "programme",
                            "document_free", "consents", "face", 1, "fingerprint", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_enrol_jpeg, F.person[P_DF]));
    json_t *fingers = json_array();
    json_array_append_new(fingers, finger_b64(1001, 0));
    json_array_append_new(fingers, finger_b64(1002, 0));
    json_object_set_new(rec, "fingerprints", fingers);
    F.id[P_DF] = enrol(rec);
    // Contactless: identity card number or QR token, then the face.
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o], s:[{s:s}], s:{s:b}}", "name_latin",
                    "LEE Siu Ming", "name_local", "李小明", "sex", "F", "birth", "1991-07-01",
                    "residence", "hong_kong", "nationality", "CHN", "documents", hkid("B7654321"),
                    "memberships", "programme", "contactless", "consents", "face", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_enrol_jpeg, F.person[P_CL]));
    F.id[P_CL] = enrol(rec);
    // Smart Departure: a visitor's e-passport.
    char mrz[128];
    make_mrz(mrz, sizeof(mrz));
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s}], s:[{s:s}], "
                    "s:{s:b}}",
                    "name_latin", "SMITH John", "name_local", "SMITH John", "sex", "M", "birth",
                    "1975-03-15", "residence", "visitor", "nationality", "GBR", "documents", "type",
                    "passport", "number", "X12345678", "issued", "2022-01-02", "expires",
                    "2032-01-01", "mrz", mrz, "memberships", "programme", "smart_departure",
                    "consents", "face", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_enrol_jpeg, F.person[P_SD]));
    F.id[P_SD] = enrol(rec);
    // Flight token: enrolled at check-in, departing tomorrow.
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o], s:[{s:s, s:s, s:s, s:I}], s:{s:b}}",
                    "name_latin", "WONG Ka Yan", "name_local", "黃家欣", "sex", "F", "birth",
                    "1988-12-12", "residence", "hong_kong", "nationality", "CHN", "documents",
                    hkid("C2345678"), "memberships", "programme", "flight_token", "booking",
                    "ABC123", "flight", "CX100", "departure_at", (json_int_t)(now + 86400),
                    "consents", "face", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_enrol_jpeg, F.person[P_FT]));
    F.id[P_FT] = enrol(rec);
    // Closed area: a Closed Area Permit holder registered for the area.
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:[{s:s, s:s}], "
                    "s:{s:b}}",
                    "name_latin", "HO Wing Kei", "name_local", "何永基", "sex", "M", "birth",
                    "1970-05-05", "residence", "hong_kong", "nationality", "CHN", "documents",
                    "type", "closed_area_permit", "number", "CAP00042", "issued", "2020-01-01",
                    "expires", "2099-01-01", "memberships", "programme", "closed_area", "area",
                    "LMC", "consents", "face", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_enrol_jpeg, F.person[P_CA]));
    F.id[P_CA] = enrol(rec);
}

// PostgreSQL's pg_ctl as the harness runs it (as nobody when we are root).
static int pg_ctl(const char *action)
{
    char bin[300], data[200], log[200], opts[512];
    snprintf(bin, sizeof(bin), "%s/pg_ctl", F.db.bindir);
    snprintf(data, sizeof(data), "%s/data", F.db.dir);
    snprintf(log, sizeof(log), "%s/server.log", F.db.dir);
    snprintf(opts, sizeof(opts),
             "-k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off "
             "-c max_connections=40 -c shared_buffers=16MB",
             F.db.dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            if (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
                setuid(pw->pw_uid) != 0) {
                _exit(126);
            }
        }
        if (strcmp(action, "stop") == 0) {
            execl(bin, bin, "-D", data, "-m", "fast", "-w", "stop", (char *)NULL);
        } else {
            execl(bin, bin, "-D", data, "-l", log, "-o", opts, "-w", "start", (char *)NULL);
        }
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
    (void)state;
    char why[4096] = "";
    if (cw_it_faces_open(&F.faces, CW_TEST_DEPS_DIR, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    if (choose_people() != 0 || cw_it_tmpdir(F.dir, sizeof(F.dir)) != 0 ||
        cw_test_db_fresh(&F.db, F.target, sizeof(F.target)) != 0) {
        return -1;
    }
    char key_file[300];
    snprintf(key_file, sizeof(key_file), "%s/admin-key", F.dir);
    const char *extra[] = {"--admin-key-file", key_file, NULL};
    if (F.pg) {
        // PostgreSQL has no key file beside the database: the key comes from the environment.
        setenv("CLEARWAY_KEY", "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
               1);
    }
    if (cw_it_start(&F.srv, F.dir, F.target, NULL, config, extra, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    FILE *f = fopen(key_file, "r");
    if (f == NULL || fscanf(f, "%63s", F.srv.admin_key) != 1) {
        return -1;
    }
    fclose(f);
    if (cw_it_make_key(&F.srv, "clerk", NULL, F.clerk, NULL) != 0 ||
        cw_it_make_key(&F.srv, "officer", NULL, F.officer, NULL) != 0) {
        return -1;
    }
    for (int g = 0; g < N_GATES; g++) {
        if (cw_it_make_key(&F.srv, "gate", gate_names[g], F.gate_key[g], NULL) != 0) {
            return -1;
        }
    }
    enrol_everyone();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = cw_it_stop(&F.srv);
    cw_it_faces_close(&F.faces);
    if (rc != 0) {
        fprintf(stderr, "the server exited with %d; its log: %s\n", rc, F.srv.log);
        return -1;
    }
    cw_test_rmtree(F.dir);
    return 0;
}

// ---- the modes ----

static void test_document_free(void **state)
{
    (void)state;
    cw_it_resp_t r;
    // Face 1:N, masked hint, confirmation, inside face + fingerprint against the same record.
    long long txn = begin_at(G_E01, &r);
    expect(&r, 201, "CAPTURE_FACE", "NONE");
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_DF])), &r);
    expect(&r, 200, "SHOW_CONFIRMATION", "NONE");
    assert_non_null(strstr(r.headers, "Server-Timing: decode;dur="));
    assert_non_null(strstr(r.headers, "search;dur="));
    json_t *hint = json_object_get(r.json, "hint");
    assert_string_equal(json_string_value(json_object_get(hint, "name")), "CHAN T** M**");
    assert_string_equal(json_string_value(json_object_get(hint, "name_local")), "陳**");
    assert_non_null(strstr(json_string_value(json_object_get(hint, "document")), "567"));
    assert_null(strstr(r.body, "A1234567")); // never the whole number, name or birth date
    assert_null(strstr(r.body, "Tai Man"));
    assert_null(strstr(r.body, "1980"));
    cw_it_resp_free(&r);
    // A face now is not what the machine waits for: refused, nothing changes.
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_DF])), &r);
    assert_int_equal(r.status, 409);
    assert_string_equal(cw_it_reason(&r), "STATE_CONFLICT");
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "confirm", json_pack("{s:b}", "confirm", 1), &r);
    expect(&r, 200, "OPEN_FRONT", "NONE");
    cw_it_resp_free(&r);
    json_t *inside = json_pack("{s:o, s:o}", "face", b64_of(cw_it_probe_jpeg, F.person[P_DF]),
                               "fingerprint", finger_b64(1001, 3));
    step_at(G_E01, txn, "inside", inside, &r);
    expect(&r, 200, "OPEN_REAR", "NONE");
    cw_it_resp_free(&r);

    // The wrong finger inside: referred.
    txn = begin_at(G_E01, &r);
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_DF])), &r);
    expect(&r, 200, "SHOW_CONFIRMATION", "NONE");
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "confirm", json_pack("{s:b}", "confirm", 1), &r);
    cw_it_resp_free(&r);
    inside = json_pack("{s:o, s:o}", "face", b64_of(cw_it_probe_jpeg, F.person[P_DF]),
                       "fingerprint", finger_b64(7777, 1));
    step_at(G_E01, txn, "inside", inside, &r);
    expect(&r, 200, "REFER_TO_OFFICER", "FINGER_MISMATCH");
    F.referred_txn = txn;
    cw_it_resp_free(&r);

    // "Not me".
    txn = begin_at(G_E01, &r);
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_DF])), &r);
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "confirm", json_pack("{s:b}", "confirm", 0), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "DECLINED");
    cw_it_resp_free(&r);

    // Someone enrolled nowhere: no match, referred.
    txn = begin_at(G_E01, &r);
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.stranger[0])), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "NO_MATCH");
    cw_it_resp_free(&r);
    // A person enrolled for another programme is not in this gallery either.
    txn = begin_at(G_E01, &r);
    cw_it_resp_free(&r);
    step_at(G_E01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_CL])), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "NO_MATCH");
    cw_it_resp_free(&r);
}

static void test_contactless(void **state)
{
    (void)state;
    cw_it_resp_t r;
    // Identity card number, then the face 1:1.
    long long txn = begin_at(G_C01, &r);
    expect(&r, 201, "PRESENT_DOCUMENT", "NONE");
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "id_number", "B7654321"), &r);
    expect(&r, 200, "OPEN_FRONT", "NONE");
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_CL])), &r);
    expect(&r, 200, "OPEN_REAR", "NONE");
    cw_it_resp_free(&r);
    // Someone else's face after the card: referred.
    txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "id_number", "B7654321"), &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.stranger[1])), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "FACE_MISMATCH");
    cw_it_resp_free(&r);
    // An unknown card.
    txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "id_number", "Z0000000"), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "UNKNOWN_DOCUMENT");
    cw_it_resp_free(&r);

    // A QR token issued by a clerk, used once; again at once is refused (anti-passback).
    char path[128];
    snprintf(path, sizeof(path), "/v1/travellers/%lld/tokens", F.id[P_CL]);
    cw_it_json(&F.srv, "POST", path, F.clerk,
               json_pack("{s:I}", "expires_at", (json_int_t)time(NULL) + 3600), &r);
    assert_int_equal(r.status, 201);
    char qr[256];
    snprintf(qr, sizeof(qr), "%s", cw_it_str(&r, "qr"));
    cw_it_resp_free(&r);
    txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "qr", qr), &r);
    expect(&r, 200, "OPEN_FRONT", "NONE");
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_CL])), &r);
    expect(&r, 200, "OPEN_REAR", "NONE");
    cw_it_resp_free(&r);
    txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "qr", qr), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "TOKEN_REUSED");
    cw_it_resp_free(&r);
    // A revoked token.
    cw_it_json(&F.srv, "POST", path, F.clerk,
               json_pack("{s:I}", "expires_at", (json_int_t)time(NULL) + 3600), &r);
    assert_int_equal(r.status, 201);
    snprintf(qr, sizeof(qr), "%s", cw_it_str(&r, "qr"));
    long long token = cw_it_int(&r, "token_id");
    cw_it_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tokens/%lld/revoke", token);
    cw_it_request(&F.srv, "POST", path, F.clerk, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "qr", qr), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "TOKEN_REVOKED");
    cw_it_resp_free(&r);
}

static void test_smart_departure(void **state)
{
    (void)state;
    char mrz[128];
    make_mrz(mrz, sizeof(mrz));
    cw_it_resp_t r;
    long long txn = begin_at(G_D01, &r);
    expect(&r, 201, "PRESENT_DOCUMENT", "NONE");
    cw_it_resp_free(&r);
    // The chip photo is the enrolment crop (what the passport holds); the gate camera a probe.
    step_at(
        G_D01, txn, "document",
        json_pack("{s:s, s:o}", "mrz", mrz, "chip_image", b64_of(cw_it_enrol_jpeg, F.person[P_SD])),
        &r);
    expect(&r, 200, "OPEN_FRONT", "NONE");
    cw_it_resp_free(&r);
    step_at(G_D01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.person[P_SD])), &r);
    expect(&r, 200, "OPEN_REAR", "NONE");
    cw_it_resp_free(&r);
    // The passport's chip, someone else at the gate.
    txn = begin_at(G_D01, &r);
    cw_it_resp_free(&r);
    step_at(
        G_D01, txn, "document",
        json_pack("{s:s, s:o}", "mrz", mrz, "chip_image", b64_of(cw_it_enrol_jpeg, F.person[P_SD])),
        &r);
    cw_it_resp_free(&r);
    step_at(G_D01, txn, "face",
            json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, F.stranger[0])), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "FACE_MISMATCH");
    cw_it_resp_free(&r);
}

static void ft_at(int gate, int face, const char *action, const char *reason)
{
    cw_it_resp_t r;
    long long txn = begin_at(gate, &r);
    expect(&r, 201, "CAPTURE_FACE", "NONE");
    cw_it_resp_free(&r);
    step_at(gate, txn, "face", json_pack("{s:o}", "image", b64_of(cw_it_probe_jpeg, face)), &r);
    expect(&r, 200, action, reason);
    cw_it_resp_free(&r);
}

static void test_flight_token(void **state)
{
    (void)state;
    // Boarding before security and immigration: out of order.
    ft_at(G_T04, F.person[P_FT], "REFER_TO_OFFICER", "TOUCHPOINT_ORDER");
    ft_at(G_T02, F.person[P_FT], "OPEN_REAR", "NONE");
    ft_at(G_T03, F.person[P_FT], "OPEN_REAR", "NONE");
    ft_at(G_T04, F.person[P_FT], "OPEN_REAR", "NONE");
    // Back through security: refused.
    ft_at(G_T02, F.person[P_FT], "REFER_TO_OFFICER", "TOUCHPOINT_ORDER");
    ft_at(G_T02, F.stranger[1], "REFER_TO_OFFICER", "NO_MATCH");
}

static void test_closed_area(void **state)
{
    (void)state;
    ft_at(G_A01, F.person[P_CA], "OPEN_REAR", "NONE");
    ft_at(G_A01, F.stranger[0], "REFER_TO_OFFICER", "NO_MATCH");
    ft_at(G_A01, F.person[P_DF], "REFER_TO_OFFICER", "NO_MATCH");
}

// ---- officers ----

static void test_referrals_timeline_resolution(void **state)
{
    (void)state;
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", "/v1/referrals?open=1&limit=500", F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "referrals");
    assert_int_equal((int)json_array_size(list), F.referred);
    int found = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (json_integer_value(json_object_get(e, "txn")) == F.referred_txn) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(e, "gate")), "HKG.E01");
            assert_string_equal(json_string_value(json_object_get(e, "reason")), "FINGER_MISMATCH");
            assert_int_equal(json_integer_value(json_object_get(e, "traveller")), F.id[P_DF]);
        }
        // Newest first.
        if (i > 0) {
            assert_true(json_integer_value(json_object_get(e, "txn")) <
                        json_integer_value(json_object_get(json_array_get(list, i - 1), "txn")));
        }
    }
    assert_true(found);
    cw_it_resp_free(&r);
    // Paging: two at a time covers the same list.
    cw_it_request(&F.srv, "GET", "/v1/referrals?open=1&limit=2", F.officer, NULL, NULL, 0, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "referrals")), 2);
    long long next = json_integer_value(json_object_get(r.json, "next_before"));
    assert_true(next > 0);
    cw_it_resp_free(&r);

    // The timeline: the steps and the audit entries of each gate request, with the gate key.
    char path[128];
    snprintf(path, sizeof(path), "/v1/clearances/%lld", F.referred_txn);
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "decision"), "referred");
    assert_true(json_array_size(json_object_get(r.json, "steps")) >= 2); // face, confirm
    json_t *audit = json_object_get(r.json, "audit");
    int face_req = 0, inside_req = 0;
    for (size_t i = 0; i < json_array_size(audit); i++) {
        json_t *a = json_array_get(audit, i);
        const char *actor = json_string_value(json_object_get(a, "actor"));
        const char *action = json_string_value(json_object_get(a, "action"));
        if (strstr(actor, "/gate") != NULL && strcmp(action, "txn_face") == 0) {
            face_req = 1;
        }
        if (strstr(actor, "/gate") != NULL && strcmp(action, "txn_inside") == 0) {
            inside_req = 1;
            assert_non_null(strstr(json_string_value(json_object_get(a, "detail")), "status=200"));
        }
    }
    assert_true(face_req && inside_req);
    cw_it_resp_free(&r);

    // The resolution, once.
    snprintf(path, sizeof(path), "/v1/referrals/%lld/resolve", F.referred_txn);
    cw_it_json(&F.srv, "POST", path, F.officer,
               json_pack("{s:s, s:s}", "outcome", "cleared", "note", "finger re-taken at desk"),
               &r);
    assert_int_equal(r.status, 200);
    json_t *res = json_object_get(r.json, "resolution");
    assert_string_equal(json_string_value(json_object_get(res, "outcome")), "cleared");
    assert_non_null(strstr(json_string_value(json_object_get(res, "by")), "officer"));
    cw_it_resp_free(&r);
    cw_it_json(&F.srv, "POST", path, F.officer, json_pack("{s:s}", "outcome", "rejected"), &r);
    assert_int_equal(r.status, 409);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/v1/referrals?open=1&limit=500", F.officer, NULL, NULL, 0, &r);
    assert_int_equal((int)json_array_size(json_object_get(r.json, "referrals")), F.referred - 1);
    cw_it_resp_free(&r);
}

static void test_reports_and_metrics(void **state)
{
    (void)state;
    char path[128], day[16];
    time_t t = time(NULL) + 8 * 3600; // the ports' local date
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(path, sizeof(path), "/v1/reports?from=%s&to=%s", day, day);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *rows = json_object_get(r.json, "rows");
    long long cleared = 0, referred = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        const char *d = json_string_value(json_object_get(row, "decision"));
        long long n = json_integer_value(json_object_get(row, "count"));
        cleared += strcmp(d, "cleared") == 0 ? n : 0;
        referred += strcmp(d, "referred") == 0 ? n : 0;
    }
    assert_int_equal(cleared, F.cleared);
    assert_int_equal(referred, F.referred);
    cw_it_resp_free(&r);
    // One port only.
    snprintf(path, sizeof(path), "/v1/reports?from=%s&to=%s&port=LMC", day, day);
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    rows = json_object_get(r.json, "rows");
    for (size_t i = 0; i < json_array_size(rows); i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "port")),
                            "LMC");
    }
    cw_it_resp_free(&r);

    cw_it_request(&F.srv, "GET", "/metrics", F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "clearway_cleared_total{programme=\"document_free\"} 1\n"));
    assert_non_null(strstr(r.body, "clearway_cleared_total{programme=\"flight_token\"} 3\n"));
    assert_non_null(strstr(r.body, "clearway_cleared_total{programme=\"closed_area\"} 1\n"));
    assert_non_null(strstr(
        r.body, "clearway_decisions_total{programme=\"contactless\",reason=\"TOKEN_REUSED\"} 1\n"));
    assert_non_null(strstr(r.body, "clearway_gallery_size{programme=\"document_free\"} 1\n"));
    assert_non_null(
        strstr(r.body, "clearway_gallery_population_cap{programme=\"closed_area\"} 1000\n"));
    assert_non_null(strstr(r.body, "clearway_open_transactions 0\n"));
    assert_non_null(
        strstr(r.body, "clearway_http_requests_total{route=\"txn_face\",status=\"200\"}"));
    cw_it_resp_free(&r);

    // Passenger totals: an admin enters them, bad ones are refused with a reason, the report
    // of the same days carries them (and only the chosen port's).
    snprintf(path, sizeof(path), "/v1/ports/HKG/passengers/%s", day);
    cw_it_json(&F.srv, "PUT", path, F.srv.admin_key,
               json_pack("{s:i, s:i}", "departing", 120000, "arriving", 110000), &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(cw_it_int(&r, "departing"), 120000);
    cw_it_resp_free(&r);
    cw_it_json(&F.srv, "PUT", "/v1/ports/LMC/passengers/2026-01-01", F.srv.admin_key,
               json_pack("{s:i, s:i}", "departing", 7, "arriving", 8), &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    static const struct {
        const char *path, *body;
        int status;
        const char *reason;
    } bad[] = {
        {"/v1/ports/HKG/passengers/2026-02-30", "{\"departing\": 1, \"arriving\": 1}", 400,
         "BAD_PARAMETER"},
        {"/v1/ports/HKG/passengers/yesterday", "{\"departing\": 1, \"arriving\": 1}", 400,
         "BAD_PARAMETER"},
        {"/v1/ports/HKG/passengers/2026-01-01", "{\"departing\": -1, \"arriving\": 1}", 400,
         "BAD_FIELD"},
        {"/v1/ports/HKG/passengers/2026-01-01", "{\"departing\": 1, \"arriving\": 100000001}", 400,
         "BAD_FIELD"},
        {"/v1/ports/HKG/passengers/2026-01-01", "{\"departing\": 1.5, \"arriving\": 1}", 400,
         "BAD_FIELD"},
        {"/v1/ports/HKG/passengers/2026-01-01", "{\"departing\": 1}", 400, "MISSING_FIELD"},
        {"/v1/ports/HKG/passengers/2026-01-01", "{\"departing\": 1, \"arriving\": 1, \"x\": 1}",
         400, "UNKNOWN_FIELD"},
        {"/v1/ports/XYZ/passengers/2026-01-01", "{\"departing\": 1, \"arriving\": 1}", 404,
         "UNKNOWN_PORT"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cw_it_request(&F.srv, "PUT", bad[i].path, F.srv.admin_key, "application/json", bad[i].body,
                      strlen(bad[i].body), &r);
        if (r.status != bad[i].status || strcmp(cw_it_reason(&r), bad[i].reason) != 0) {
            fail_msg("PUT %s %s: got %ld %s", bad[i].path, bad[i].body, r.status, cw_it_reason(&r));
        }
        cw_it_resp_free(&r);
    }
    cw_it_json(&F.srv, "PUT", path, F.officer,
               json_pack("{s:i, s:i}", "departing", 1, "arriving", 1), &r);
    assert_int_equal(r.status, 403);
    cw_it_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/reports?from=2026-01-01&to=%s", day);
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *pax = json_object_get(r.json, "passengers");
    assert_int_equal(json_array_size(pax), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pax, 0), "port")), "LMC");
    json_t *hkg = json_array_get(pax, 1);
    assert_string_equal(json_string_value(json_object_get(hkg, "day")), day);
    assert_string_equal(json_string_value(json_object_get(hkg, "port")), "HKG");
    assert_int_equal(json_integer_value(json_object_get(hkg, "departing")), 120000);
    assert_int_equal(json_integer_value(json_object_get(hkg, "arriving")), 110000);
    cw_it_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/reports?from=%s&to=%s&port=LMC", day, day);
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "passengers")), 0);
    cw_it_resp_free(&r);

    // The live figures: the galleries against their caps, the gate steps' latency.
    cw_it_request(&F.srv, "GET", "/v1/stats/live", F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *gal = json_object_get(r.json, "galleries");
    assert_int_equal(json_array_size(gal), 3);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(gal); i++) {
        json_t *g = json_array_get(gal, i);
        const char *prog = json_string_value(json_object_get(g, "programme"));
        if (strcmp(prog, "document_free") == 0) {
            assert_int_equal(json_integer_value(json_object_get(g, "size")), 1);
            seen++;
        } else if (strcmp(prog, "closed_area") == 0) {
            assert_int_equal(json_integer_value(json_object_get(g, "cap")), 1000);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_t *lat = json_object_get(r.json, "latency_ms");
    assert_true(json_integer_value(json_object_get(lat, "count")) > 10);
    double p50 = json_real_value(json_object_get(lat, "p50"));
    double p99 = json_real_value(json_object_get(lat, "p99"));
    assert_true(p50 > 0 && p50 <= p99 && p99 <= 30000);
    assert_int_equal(cw_it_int(&r, "open_transactions"), 0);
    cw_it_resp_free(&r);
}

// ---- records ----

static void test_records(void **state)
{
    (void)state;
    char path[128];
    cw_it_resp_t r;
    snprintf(path, sizeof(path), "/v1/travellers/%lld", F.id[P_DF]);
    cw_it_request(&F.srv, "GET", path, F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "name_latin"), "CHAN Tai Man");
    assert_string_equal(cw_it_str(&r, "birth"), "1980-02-29");
    json_t *doc = json_array_get(json_object_get(r.json, "documents"), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "number")), "A1234567");
    json_t *tpl = json_object_get(r.json, "templates");
    assert_int_equal(json_array_size(tpl), 3); // a face and two fingers, metadata only
    for (size_t i = 0; i < json_array_size(tpl); i++) {
        assert_null(json_object_get(json_array_get(tpl, i), "data"));
        assert_true(json_integer_value(json_object_get(json_array_get(tpl, i), "bytes")) > 0);
    }
    cw_it_resp_free(&r);
    // A gate key may not read records.
    cw_it_request(&F.srv, "GET", path, F.gate_key[G_E01], NULL, NULL, 0, &r);
    assert_int_equal(r.status, 403);
    cw_it_resp_free(&r);

    // Consent withdrawn: the closed-area gate no longer knows the face.
    snprintf(path, sizeof(path), "/v1/travellers/%lld/consents/face/withdraw", F.id[P_CA]);
    cw_it_request(&F.srv, "POST", path, F.clerk, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", path, F.clerk, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404); // no consent in force any more
    cw_it_resp_free(&r);
    ft_at(G_A01, F.person[P_CA], "REFER_TO_OFFICER", "NO_MATCH");

    // Deleted: the card number is unknown at the gate, the record gone.
    snprintf(path, sizeof(path), "/v1/travellers/%lld", F.id[P_CL]);
    cw_it_request(&F.srv, "DELETE", path, F.clerk, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", path, F.clerk, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_TRAVELLER");
    cw_it_resp_free(&r);
    long long txn = begin_at(G_C01, &r);
    cw_it_resp_free(&r);
    step_at(G_C01, txn, "document", json_pack("{s:s}", "id_number", "B7654321"), &r);
    expect(&r, 200, "REFER_TO_OFFICER", "UNKNOWN_DOCUMENT");
    cw_it_resp_free(&r);

    // Enrolling the same document again is refused; a look-alike enrols under review.
    json_t *rec =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[o], s:[{s:s}], s:{s:b}}", "name_latin",
                  "CHAN Tai Man", "name_local", "陳大文", "birth", "1980-02-29", "residence",
                  "hong_kong", "nationality", "CHN", "documents", hkid("A1234567"), "memberships",
                  "programme", "contactless", "consents", "face", 1);
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    assert_int_equal(r.status, 409);
    assert_string_equal(cw_it_reason(&r), "DUPLICATE_DOCUMENT");
    cw_it_resp_free(&r);
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[o], s:[{s:s}], s:{s:b}}", "name_latin",
                    "CHEN Da Wen", "name_local", "陳大文", "birth", "1980-03-01", "residence",
                    "hong_kong", "nationality", "CHN", "documents", hkid("D9999999"), "memberships",
                    "programme", "contactless", "consents", "face", 1);
    json_object_set_new(rec, "face", b64_of(cw_it_probe_jpeg, F.person[P_DF]));
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(cw_it_str(&r, "status"), "review");
    assert_int_equal(cw_it_int(&r, "duplicate_of"), F.id[P_DF]);
    cw_it_resp_free(&r);
}

// PostgreSQL stopped under the server: everything answers 503 and nothing is decided; when it is
// back, so is the service, without a restart.
static void test_database_outage(void **state)
{
    (void)state;
    if (!F.pg) {
        skip(); // the SQLite outage is test_server_input's test_store_unavailable
    }
    assert_int_equal(pg_ctl("stop"), 0);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(cw_it_str(&r, "status"), "unavailable");
    cw_it_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/gates/%s/transactions", gate_names[G_A01]);
    cw_it_request(&F.srv, "POST", path, F.gate_key[G_A01], NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(cw_it_reason(&r), "STORE_UNAVAILABLE");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/v1/referrals", F.officer, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    cw_it_resp_free(&r);
    assert_int_equal(pg_ctl("start"), 0);
    // The store reconnects on the next call of each handle; a few calls may still fail.
    int ok = 0;
    for (int i = 0; i < 20 && !ok; i++) {
        cw_it_request(&F.srv, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
        ok = r.status == 200;
        cw_it_resp_free(&r);
    }
    assert_true(ok);
    ok = 0;
    for (int i = 0; i < 20 && !ok; i++) {
        cw_it_request(&F.srv, "GET", "/v1/referrals", F.officer, NULL, NULL, 0, &r);
        ok = r.status == 200;
        if (!ok) {
            fprintf(stderr, "after the restart: %ld %s\n", r.status, r.body ? r.body : "");
        }
        cw_it_resp_free(&r);
    }
    assert_true(ok);
    ft_at(G_T02, F.stranger[0], "REFER_TO_OFFICER", "NO_MATCH");
}

int main(int argc, char **argv)
{
    F.pg = argc > 1 && strcmp(argv[1], "pg") == 0;
    if (cw_test_db_start(&F.db, F.pg) != 0) {
        fprintf(stderr, "SKIPPED: %s\n", F.db.why);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_free),
        cmocka_unit_test(test_contactless),
        cmocka_unit_test(test_smart_departure),
        cmocka_unit_test(test_flight_token),
        cmocka_unit_test(test_closed_area),
        cmocka_unit_test(test_referrals_timeline_resolution),
        cmocka_unit_test(test_reports_and_metrics),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_database_outage),
    };
    int failed = cmocka_run_group_tests_name(F.pg ? "server_e2e_pg" : "server_e2e_sqlite", tests,
                                             setup, teardown);
    cw_test_db_stop(&F.db);
    return failed;
}
