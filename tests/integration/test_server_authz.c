// SPDX-License-Identifier: Apache-2.0
// The authorisation matrix of `clearway serve`, end to end: every endpoint called by every kind
// of caller (no key, a malformed header, an unknown key, a revoked key, a gate key of this gate,
// a gate key of another gate, officer, clerk, admin). The expected table below is written from
// the API's documentation, independently of the server's route table: a caller that may call an
// endpoint must never get 401 or 403 (nor "no such endpoint"), one that may not gets 401
// (not authenticated) or 403 (authenticated, not allowed). The audit chain the requests wrote
// must verify afterwards.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum principal {
    P_NONE,
    P_BAD_HEADER,
    P_UNKNOWN_KEY,
    P_REVOKED,
    P_GATE,       // bound to HKG.E01, the gate in the paths below
    P_GATE_OTHER, // bound to HKG.C01
    P_OFFICER,
    P_CLERK,
    P_ADMIN,
    P_N
};

static const char *const principal_names[P_N] = {"no key",
                                                 "malformed header",
                                                 "unknown key",
                                                 "revoked key",
                                                 "gate key (this gate)",
                                                 "gate key (other gate)",
                                                 "officer",
                                                 "clerk",
                                                 "admin"};

#define B(p) (1u << (p))
#define ALL                                                                                        \
    (B(P_NONE) | B(P_BAD_HEADER) | B(P_UNKNOWN_KEY) | B(P_REVOKED) | B(P_GATE) | B(P_GATE_OTHER) | \
     B(P_OFFICER) | B(P_CLERK) | B(P_ADMIN))

typedef struct expect_row {
    const char *method, *path;
    unsigned allowed;
} expect_row_t;

#define TXN "/v1/gates/HKG.E01/transactions/987654321"

static const expect_row_t matrix[] = {
    {"GET", "/healthz", ALL},
    {"GET", "/metrics", B(P_OFFICER) | B(P_ADMIN)},
    {"POST", "/v1/gates/HKG.E01/transactions", B(P_GATE) | B(P_ADMIN)},
    {"POST", TXN "/face", B(P_GATE) | B(P_ADMIN)},
    {"POST", TXN "/document", B(P_GATE) | B(P_ADMIN)},
    {"POST", TXN "/confirm", B(P_GATE) | B(P_ADMIN)},
    {"POST", TXN "/inside", B(P_GATE) | B(P_ADMIN)},
    {"POST", TXN "/abandon", B(P_GATE) | B(P_ADMIN)},
    {"POST", "/v1/travellers", B(P_CLERK) | B(P_ADMIN)},
    {"GET", "/v1/travellers/987654321", B(P_CLERK) | B(P_OFFICER) | B(P_ADMIN)},
    {"DELETE", "/v1/travellers/987654321", B(P_CLERK) | B(P_ADMIN)},
    {"POST", "/v1/travellers/987654321/consents/face/withdraw", B(P_CLERK) | B(P_ADMIN)},
    {"POST", "/v1/travellers/987654321/consents/fingerprint/withdraw", B(P_CLERK) | B(P_ADMIN)},
    {"POST", "/v1/travellers/987654321/tokens", B(P_CLERK) | B(P_ADMIN)},
    {"POST", "/v1/tokens/987654321/revoke", B(P_CLERK) | B(P_ADMIN)},
    {"GET", "/v1/referrals", B(P_OFFICER) | B(P_ADMIN)},
    {"GET", "/v1/referrals?open=1&limit=5", B(P_OFFICER) | B(P_ADMIN)},
    {"GET", "/v1/clearances/987654321", B(P_OFFICER) | B(P_ADMIN)},
    {"POST", "/v1/referrals/987654321/resolve", B(P_OFFICER) | B(P_ADMIN)},
    {"GET", "/v1/reports?from=2026-01-01&to=2026-01-31", B(P_OFFICER) | B(P_ADMIN)},
    {"GET", "/v1/stats/live", B(P_OFFICER) | B(P_ADMIN)},
    {"PUT", "/v1/ports/HKG/passengers/2026-01-01", B(P_ADMIN)},
    {"POST", "/v1/apikeys", B(P_ADMIN)},
    {"GET", "/v1/apikeys", B(P_ADMIN)},
    {"DELETE", "/v1/apikeys/987654321", B(P_ADMIN)},
    // The browser pages: public (they hold no personal data; they call the API with a key).
    {"GET", "/", ALL},
    {"GET", "/ui", ALL},
    {"GET", "/ui/index.html", ALL},
};

static const char config[] =
    "{\"ports\": [{\"code\": \"HKG\", \"name\": \"Airport\", \"gates\": ["
    "  {\"code\": \"E01\", \"programme\": \"document_free\"},"
    "  {\"code\": \"C01\", \"programme\": \"contactless\"}]},"
    " {\"code\": \"MFM\", \"gates\": [{\"code\": \"E01\", \"programme\": \"document_free\"}]}]}";

typedef struct fx {
    char dir[256];
    cw_it_server_t srv;
    char keys[P_N][64];
} fx_t;

static fx_t F;

static int setup(void **state)
{
    (void)state;
    char why[4096] = "";
    if (cw_it_tmpdir(F.dir, sizeof(F.dir)) != 0 ||
        cw_it_start(&F.srv, F.dir, NULL, NULL, config, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    uint64_t revoked_id = 0;
    snprintf(F.keys[P_ADMIN], 64, "%s", F.srv.admin_key);
    snprintf(F.keys[P_UNKNOWN_KEY], 64, "cwk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    if (cw_it_make_key(&F.srv, "gate", "HKG.E01", F.keys[P_GATE], NULL) != 0 ||
        cw_it_make_key(&F.srv, "gate", "HKG.C01", F.keys[P_GATE_OTHER], NULL) != 0 ||
        cw_it_make_key(&F.srv, "officer", NULL, F.keys[P_OFFICER], NULL) != 0 ||
        cw_it_make_key(&F.srv, "clerk", NULL, F.keys[P_CLERK], NULL) != 0 ||
        cw_it_make_key(&F.srv, "clerk", NULL, F.keys[P_REVOKED], &revoked_id) != 0) {
        return -1;
    }
    char path[64];
    snprintf(path, sizeof(path), "/v1/apikeys/%llu", (unsigned long long)revoked_id);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "DELETE", path, F.srv.admin_key, NULL, NULL, 0, &r);
    int ok = r.status == 200;
    cw_it_resp_free(&r);
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = cw_it_stop(&F.srv);
    if (rc != 0) {
        fprintf(stderr, "the server exited with %d\n", rc);
    }
    cw_test_rmtree(F.dir);
    return rc == 0 ? 0 : -1;
}

static void call(const expect_row_t *row, int p, cw_it_resp_t *r)
{
    const char *key = p == P_NONE || p == P_BAD_HEADER ? NULL : F.keys[p];
    if (p == P_BAD_HEADER) {
        key = "Basic dXNlcjpwYXNz"; // not a Bearer token
    }
    const char *body =
        strcmp(row->method, "POST") == 0 || strcmp(row->method, "PUT") == 0 ? "{}" : NULL;
    cw_it_request(&F.srv, row->method, row->path, key, body != NULL ? "application/json" : NULL,
                  body, body != NULL ? 2 : 0, r);
}

static void test_matrix(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        for (int p = 0; p < P_N; p++) {
            cw_it_resp_t r;
            call(&matrix[i], p, &r);
            int allowed = (matrix[i].allowed & B(p)) != 0;
            int denied = r.status == 401 || r.status == 403;
            int missing = r.status == 405 || r.status == 0 ||
                          (r.status == 404 && strcmp(cw_it_reason(&r), "NOT_FOUND") == 0);
            int want_401 = p == P_NONE || p == P_BAD_HEADER || p == P_UNKNOWN_KEY || p == P_REVOKED;
            int ok = allowed ? (!denied && !missing) : (r.status == (want_401 ? 401 : 403));
            // Every refusal is the JSON error shape.
            if (ok && denied) {
                ok =
                    json_is_object(json_object_get(r.json, "error")) && cw_it_reason(&r)[0] != '\0';
            }
            if (!ok) {
                failures++;
                fprintf(stderr, "%-6s %-55s %-22s: got %ld %s, expected %s\n", matrix[i].method,
                        matrix[i].path, principal_names[p], r.status, cw_it_reason(&r),
                        allowed    ? "allowed"
                        : want_401 ? "401"
                                   : "403");
            }
            cw_it_resp_free(&r);
        }
    }
    assert_int_equal(failures, 0);
}

// A gate key learns nothing about gates that are not its own: an unknown gate is 403 too, while
// an admin gets 404 for it.
static void test_gate_key_on_unknown_gate(void **state)
{
    (void)state;
    cw_it_resp_t r;
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.Z99/transactions", F.keys[P_GATE], NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(cw_it_reason(&r), "WRONG_GATE");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", "/v1/gates/MFM.E01/transactions", F.keys[P_GATE], NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 403);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.Z99/transactions", F.keys[P_ADMIN], NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_GATE");
    cw_it_resp_free(&r);
    // And the check can fail the other way: the gate key on its own gate opens a transaction.
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.E01/transactions", F.keys[P_GATE], NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 201);
    assert_true(cw_it_int(&r, "txn") > 0);
    cw_it_resp_free(&r);
}

// The metrics count the refusals by route and status.
static void test_metrics_count_refusals(void **state)
{
    (void)state;
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", "/metrics", F.keys[P_OFFICER], NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(r.body, "clearway_http_requests_total{route=\"txn_face\",status=\"403\"}"));
    assert_non_null(
        strstr(r.body, "clearway_http_requests_total{route=\"apikey_list\",status=\"401\"}"));
    assert_non_null(
        strstr(r.body, "clearway_http_request_duration_seconds_bucket{route=\"healthz\""));
    assert_non_null(strstr(r.body, "process_resident_memory_bytes "));
    cw_it_resp_free(&r);
}

// The first-start admin key: a file only its owner may read, and never in the log.
static void test_admin_key_file(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof(path), "%s.admin-key", F.srv.db);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    uint8_t *log = NULL;
    size_t n = 0;
    assert_int_equal(cw_it_read_file(F.srv.log, &log, &n), 0);
    uint8_t *z = realloc(log, n + 1);
    assert_non_null(z);
    z[n] = '\0';
    assert_non_null(strstr((char *)z, path)); // where it is, yes
    for (int p = 0; p < P_N; p++) {
        if (p != P_NONE && p != P_BAD_HEADER) {
            assert_null(strstr((char *)z, F.keys[p])); // no key, ever
        }
    }
    free(z);
}

// Every request above was audited: the chain the server wrote verifies (after it stopped).
static void test_audit_chain_intact(void **state)
{
    (void)state;
    assert_int_equal(cw_it_stop(&F.srv), 0);
    char out[2048];
    const char *argv[] = {CW_TEST_CLEARWAY, "audit", "verify", "--db", F.srv.db, NULL};
    int rc = cw_it_run(argv, out, sizeof(out));
    fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "intact"));
    // Restart on the same store: no new admin key is made, the old one still works.
    char why[4096] = "";
    char admin[64];
    snprintf(admin, sizeof(admin), "%s", F.keys[P_ADMIN]);
    assert_int_equal(cw_it_start(&F.srv, F.dir, NULL, NULL, config, NULL, why, sizeof(why)), 0);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", "/v1/apikeys", admin, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "apikeys")), 6);
    cw_it_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_gate_key_on_unknown_gate),
        cmocka_unit_test(test_metrics_count_refusals),
        cmocka_unit_test(test_admin_key_file),
        cmocka_unit_test(test_audit_chain_intact),
    };
    return cmocka_run_group_tests_name("server_authz", tests, setup, teardown);
}
