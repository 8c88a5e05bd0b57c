// SPDX-License-Identifier: Apache-2.0
// The route table and its matcher (path parameters, 404 vs 405 with the Allow list, oversized
// parameters), the table's own consistency (unique names, public only for /healthz, gate-bound
// routes take {gate} first and allow no officer or clerk), and the small parsers requests go
// through: unsigned decimal ids and base64 images.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"

#include "server_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int match(const char *method, const char *path, char params[][CW__PARAM_MAX], int *n,
                 char *allow)
{
    return cw__route_match(method, path, params, n, allow, 48);
}

static void test_match(void **state)
{
    (void)state;
    char p[CW__MAX_PARAMS][CW__PARAM_MAX], allow[48];
    int n = 0;
    int i = match("POST", "/v1/gates/HKG.E01/transactions/42/face", p, &n, allow);
    assert_true(i >= 0);
    assert_string_equal(cw__routes[i].name, "txn_face");
    assert_int_equal(n, 2);
    assert_string_equal(p[0], "HKG.E01");
    assert_string_equal(p[1], "42");
    i = match("GET", "/healthz", p, &n, allow);
    assert_string_equal(cw__routes[i].name, "healthz");
    assert_int_equal(n, 0);
    i = match("POST", "/v1/travellers/7/consents/face/withdraw", p, &n, allow);
    assert_string_equal(cw__routes[i].name, "consent_withdraw");
    assert_string_equal(p[1], "face");
    i = match("PUT", "/v1/ports/HKG/passengers/2026-01-31", p, &n, allow);
    assert_string_equal(cw__routes[i].name, "passengers_set");
    assert_int_equal(cw__routes[i].roles, CW__ADMIN);
    assert_string_equal(p[0], "HKG");
    assert_string_equal(p[1], "2026-01-31");
    assert_int_equal(match("GET", "/v1/ports/HKG/passengers/2026-01-31", p, &n, allow), -2);
    assert_string_equal(allow, "PUT");
    i = match("GET", "/v1/stats/live", p, &n, allow);
    assert_string_equal(cw__routes[i].name, "stats_live");
    assert_int_equal(cw__routes[i].roles, CW__OFFICER | CW__ADMIN);
    // The same path with two methods.
    assert_string_equal(cw__routes[match("GET", "/v1/travellers/7", p, &n, allow)].name,
                        "traveller_get");
    assert_string_equal(cw__routes[match("DELETE", "/v1/travellers/7", p, &n, allow)].name,
                        "traveller_delete");
    // 405 lists what is allowed; 404 for what does not exist.
    assert_int_equal(match("PUT", "/v1/travellers/7", p, &n, allow), -2);
    assert_string_equal(allow, "GET, DELETE");
    assert_int_equal(match("PATCH", "/v1/apikeys", p, &n, allow), -2);
    assert_string_equal(allow, "POST, GET");
    static const char *const missing[] = {"/v1",
                                          "/v1/travellers/",
                                          "/v1/travellers/7/",
                                          "/v1/gates//transactions",
                                          "/healthz/x",
                                          "/v1/gates/A.B/transactions/1/face/more",
                                          "healthz",
                                          "/V1/apikeys",
                                          ""};
    for (size_t k = 0; k < sizeof(missing) / sizeof(missing[0]); k++) {
        assert_int_equal(match("GET", missing[k], p, &n, allow), -1);
        assert_int_equal(match("POST", missing[k], p, &n, allow), -1);
    }
    // The pages: "/" and "/ui" redirect, "/ui/" and anything below it is one wildcard route
    // (the handler judges the path), "/uix" is nothing.
    assert_string_equal(cw__routes[match("GET", "/", p, &n, allow)].name, "ui_root");
    assert_string_equal(cw__routes[match("GET", "/ui", p, &n, allow)].name, "ui_redirect");
    assert_string_equal(cw__routes[match("GET", "/ui/", p, &n, allow)].name, "ui_file");
    assert_string_equal(cw__routes[match("GET", "/ui/vendor/chart.umd.js", p, &n, allow)].name,
                        "ui_file");
    assert_int_equal(n, 0);
    assert_int_equal(match("GET", "/uix", p, &n, allow), -1);
    assert_int_equal(match("POST", "/ui/gate.html", p, &n, allow), -2);
    assert_string_equal(allow, "GET");
    // A parameter longer than the cap is not copied anywhere.
    char longp[200] = "/v1/travellers/";
    memset(longp + strlen(longp), '9', 100);
    assert_int_equal(match("GET", longp, p, &n, allow), -3);
}

static void test_table(void **state)
{
    (void)state;
    unsigned officer_clerk = CW__OFFICER | CW__CLERK;
    for (size_t i = 0; i < cw__n_routes; i++) {
        const cw__route_t *r = &cw__routes[i];
        for (size_t j = 0; j < i; j++) {
            assert_true(strcmp(r->name, cw__routes[j].name) != 0);
            assert_false(strcmp(r->pattern, cw__routes[j].pattern) == 0 &&
                         strcmp(r->method, cw__routes[j].method) == 0);
        }
        // Only the health check and the pages (no personal data in them) are public; admins may
        // call everything else.
        assert_true(r->roles != 0 || strcmp(r->name, "healthz") == 0 ||
                    strncmp(r->name, "ui_", 3) == 0);
        assert_true(strncmp(r->name, "ui_", 3) != 0 || r->roles == 0);
        assert_true(r->roles == 0 || (r->roles & CW__ADMIN) != 0);
        // Gate keys reach gate routes only, and those bind {gate} first.
        assert_int_equal((r->roles & CW__GATE) != 0, r->gate_bound);
        if (r->gate_bound) {
            assert_memory_equal(r->pattern, "/v1/gates/{gate}/", 17);
            assert_int_equal(r->roles & officer_clerk, 0);
        }
        assert_true(strcmp(r->method, "GET") != 0 || r->body == CW__BODY_NONE);
        assert_non_null(r->fn);
    }
}

// Quantiles from histogram buckets, against values worked by hand (linear within a bucket,
// the open bucket's lower bound above the last).
static void test_histogram_quantile(void **state)
{
    (void)state;
    const double b[3] = {0.01, 0.1, 1};
    const uint64_t none[3] = {0, 0, 0};
    assert_true(cw__histogram_quantile(b, none, 3, 0, 0.5) == 0);
    // 10 in (0, 0.01], 10 in (0.01, 0.1]: the median is the first bucket's top, p75 halfway
    // through the second.
    const uint64_t c[3] = {10, 10, 0};
    assert_true(fabs(cw__histogram_quantile(b, c, 3, 0, 0.5) - 0.01) < 1e-12);
    assert_true(fabs(cw__histogram_quantile(b, c, 3, 0, 0.75) - 0.055) < 1e-12);
    assert_true(fabs(cw__histogram_quantile(b, c, 3, 0, 0.25) - 0.005) < 1e-12);
    // Half the observations above the last bound: p99 is that bound.
    assert_true(cw__histogram_quantile(b, c, 3, 20, 0.99) == 1);
    // An empty bucket before the rank is skipped.
    const uint64_t d[3] = {0, 0, 4};
    assert_true(fabs(cw__histogram_quantile(b, d, 3, 0, 0.5) - 0.55) < 1e-12);
}

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cw__parse_u64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cw__parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      "01",
                                      "1a",
                                      " 1",
                                      "1 ",
                                      "0x10",
                                      "18446744073709551616",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cw__parse_u64(bad[i], &v), -1);
    }
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(cw__b64_decode("aGVsbG8=", 8, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    cw_free_wipe(out, n);
    // Line breaks are allowed (MIME-style wrapping).
    assert_int_equal(cw__b64_decode("aGVs\r\nbG8=\n", 11, &out, &n), 0);
    assert_memory_equal(out, "hello", 5);
    cw_free_wipe(out, n);
    assert_int_equal(cw__b64_decode("", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    cw_free_wipe(out, 1);
    static const char *const bad[] = {
        "aGVsbG8", "aGVsbG8==", "aGV*bG8=", "aGVsbG8=x", "====", "aGVsbG8-"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = NULL;
        assert_int_equal(cw__b64_decode(bad[i], strlen(bad[i]), &out, &n), CW_EFORMAT);
        assert_null(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_histogram_quantile),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests_name("server_routes", tests, NULL, NULL);
}
