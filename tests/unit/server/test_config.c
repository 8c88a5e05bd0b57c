// SPDX-License-Identifier: Apache-2.0
// The server's configuration file: defaults, every key read with its type and range, unknown
// keys refused with their path, policies mapped over cw_clearance_policy_default, and the checks
// across keys (TLS pairs, plain HTTP only on loopback). Also the listen-address parser.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/server.h"

#include <stdio.h>
#include <string.h>

static int parse(cw_server_config_t *cfg, const char *json, char *diag, size_t diag_len)
{
    return cw_server_config_parse(cfg, json, strlen(json), diag, diag_len);
}

static void test_defaults(void **state)
{
    (void)state;
    cw_server_config_t cfg;
    assert_int_equal(cw_server_config_default(&cfg), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.db, "clearway.db");
    assert_null(cfg.tls_cert);
    assert_int_equal(cfg.http_threads, 4);
    assert_int_equal(cfg.workers, 2);
    assert_int_equal(cfg.max_body_bytes, 8u << 20);
    assert_int_equal(cfg.connection_timeout_s, 30);
    assert_int_equal(cfg.retention.flight_token_after, 86400);
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cw_clearance_policy_t d;
        cw_clearance_policy_default((cw_programme_t)p, &d);
        assert_memory_equal(&cfg.policy[p], &d, sizeof(d));
    }
    char diag[256];
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), 0);
    cw_server_config_free(&cfg);
    cw_server_config_free(&cfg); // twice is harmless
}

static void test_every_key(void **state)
{
    (void)state;
    cw_server_config_t cfg;
    char diag[256] = "";
    assert_int_equal(cw_server_config_default(&cfg), 0);
    const char *json =
        "{\"listen\": \"[::1]:9443\", \"tls_cert\": \"c.pem\", \"tls_key\": \"k.pem\","
        " \"db\": \"postgresql:///x\", \"deps_dir\": \"/d\", \"admin_key_file\": \"/k\","
        " \"distractors\": \"/g.cwg\","
        " \"workers\": 3, \"search_threads\": 2, \"http_threads\": 8, \"max_body_bytes\": 4096,"
        " \"connection_timeout_s\": 5,"
        " \"ports\": [{\"code\": \"HKG\", \"name\": \"Airport\", \"gates\": ["
        "   {\"code\": \"E01\", \"programme\": \"document_free\"},"
        "   {\"code\": \"T-1_x\", \"programme\": \"flight_token\", \"touchpoint\": \"boarding\"}]},"
        "   {\"code\": \"LMC\"}],"
        " \"policies\": {\"contactless\": {\"face_fmr\": 0.001, \"max_captures\": 5,"
        "   \"token_min_gap_s\": 30, \"txn_timeout_s\": 60, \"pad_max\": 0.5},"
        "   \"closed_area\": {\"target_fpir\": 0.01, \"margin\": 0.1, \"population_cap\": 500,"
        "   \"finger_fmr\": 0.01}},"
        " \"retention\": {\"flight_token_after_s\": 3600}}";
    assert_int_equal(parse(&cfg, json, diag, sizeof(diag)), 0);
    assert_string_equal(cfg.listen, "[::1]:9443");
    assert_string_equal(cfg.tls_cert, "c.pem");
    assert_string_equal(cfg.db, "postgresql:///x");
    assert_string_equal(cfg.admin_key_file, "/k");
    assert_string_equal(cfg.distractors, "/g.cwg");
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.search_threads, 2);
    assert_int_equal(cfg.http_threads, 8);
    assert_int_equal(cfg.max_body_bytes, 4096);
    assert_int_equal(cfg.connection_timeout_s, 5);
    assert_int_equal(cfg.n_ports, 2);
    assert_string_equal(cfg.ports[0].name, "Airport");
    assert_string_equal(cfg.ports[1].name, "LMC"); // the code when no name is given
    assert_int_equal(cfg.ports[0].n_gates, 2);
    assert_int_equal(cfg.ports[0].gates[0].programme, CW_PROGRAMME_DOCUMENT_FREE);
    assert_int_equal(cfg.ports[0].gates[1].touchpoint, CW_TOUCHPOINT_BOARDING);
    // Set keys replace the default; the others keep it.
    cw_clearance_policy_t d;
    cw_clearance_policy_default(CW_PROGRAMME_CONTACTLESS, &d);
    const cw_clearance_policy_t *p = &cfg.policy[CW_PROGRAMME_CONTACTLESS];
    assert_true(p->face_fmr == 0.001);
    assert_int_equal(p->max_captures, 5);
    assert_int_equal(p->token_min_gap, 30);
    assert_int_equal(p->txn_timeout, 60);
    assert_true(p->pad_max == 0.5f);
    assert_true(p->finger_fmr == d.finger_fmr);
    assert_true(p->gallery.target_fpir == d.gallery.target_fpir);
    p = &cfg.policy[CW_PROGRAMME_CLOSED_AREA];
    assert_true(p->gallery.target_fpir == 0.01);
    assert_true(p->gallery.margin == 0.1f);
    assert_int_equal(p->gallery.max_n, 500);
    cw_clearance_policy_default(CW_PROGRAMME_DOCUMENT_FREE, &d);
    assert_memory_equal(&cfg.policy[CW_PROGRAMME_DOCUMENT_FREE], &d, sizeof(d));
    assert_int_equal(cfg.retention.flight_token_after, 3600);
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), 0);
    cw_server_config_free(&cfg);
}

typedef struct bad_case {
    const char *json;
    const char *want; // in the message
} bad_case_t;

static void test_refusals_name_the_key(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"{\"listne\": \"x\"}", "listne: unknown key"},
        {"{\"workers\": 0}", "workers: must be an integer in 1..64"},
        {"{\"workers\": \"2\"}", "workers: must be an integer"},
        {"{\"max_body_bytes\": 10}", "max_body_bytes"},
        {"{\"db\": \"\"}", "db: must be a non-empty string"},
        {"{\"ports\": {}}", "ports: must be an array"},
        {"{\"ports\": [{\"name\": \"x\"}]}", "ports[0].code: required"},
        {"{\"ports\": [{\"code\": \"H.K\"}]}", "ports[0].code: 'H.K' may hold only"},
        {"{\"ports\": [{\"code\": \"A\"}, {\"code\": \"A\"}]}", "ports[1].code: 'A' appears twice"},
        {"{\"ports\": [{\"code\": \"A\", \"gates\": [{\"code\": \"G\", \"programme\": \"x\"}]}]}",
         "ports[0].gates[0].programme: unknown programme 'x'"},
        {"{\"ports\": [{\"code\": \"A\", \"gates\": [{\"code\": \"G\", \"programme\": "
         "\"contactless\", \"touchpoint\": \"boarding\"}]}]}",
         "ports[0].gates[0].touchpoint: only flight_token gates"},
        {"{\"ports\": [{\"code\": \"A\", \"gates\": [{\"code\": \"G\", \"programme\": "
         "\"flight_token\", \"touchpoint\": \"lounge\"}]}]}",
         "ports[0].gates[0].touchpoint: unknown touchpoint 'lounge'"},
        {"{\"ports\": [{\"code\": \"A\", \"gates\": [{\"code\": \"G\", \"programme\": "
         "\"closed_area\", \"door\": 1}]}]}",
         "ports[0].gates[0].door: unknown key"},
        {"{\"policies\": {\"contactles\": {}}}", "policies.contactles: unknown key"},
        {"{\"policies\": {\"contactless\": {\"face_fmr\": 0}}}",
         "policies.contactless.face_fmr: must be a number in (0, 1)"},
        {"{\"policies\": {\"contactless\": {\"face_fmr\": \"1e-4\"}}}",
         "policies.contactless.face_fmr"},
        {"{\"policies\": {\"document_free\": {\"margin\": 2}}}",
         "policies.document_free.margin: must be a number in [0, 1]"},
        {"{\"policies\": {\"flight_token\": {\"max_captures\": 0}}}",
         "policies.flight_token.max_captures: must be an integer in 1..20"},
        {"{\"policies\": {\"flight_token\": {\"captures\": 3}}}",
         "policies.flight_token.captures: unknown key"},
        {"{\"retention\": {\"flight_token_after_s\": 1}}", "retention.flight_token_after_s"},
        {"{\"retention\": {\"days\": 1}}", "retention.days: unknown key"},
        {"{\"workers\": 2, \"workers\": 3}", "duplicate"},
        {"[1, 2]", "must be a JSON object"},
        {"{\"listen\": ", "line 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cw_server_config_t cfg;
        char diag[256] = "";
        assert_int_equal(cw_server_config_default(&cfg), 0);
        int err = parse(&cfg, cases[i].json, diag, sizeof(diag));
        if (err == 0 || strstr(diag, cases[i].want) == NULL) {
            fprintf(stderr, "%s -> %d '%s' (want '%s')\n", cases[i].json, err, diag, cases[i].want);
        }
        assert_true(err == CW_EFORMAT || err == CW_EINVAL);
        assert_non_null(strstr(diag, cases[i].want));
        cw_server_config_free(&cfg);
    }
}

static void test_cross_checks(void **state)
{
    (void)state;
    cw_server_config_t cfg;
    char diag[512] = "";
    assert_int_equal(cw_server_config_default(&cfg), 0);
    // Plain HTTP off loopback: refused, with how to fix it.
    assert_int_equal(parse(&cfg, "{\"listen\": \"0.0.0.0:8080\"}", diag, sizeof(diag)), 0);
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), CW_EPERM);
    assert_non_null(strstr(diag, "refusing plain HTTP"));
    assert_non_null(strstr(diag, "--tls-cert"));
    // With TLS it is fine.
    assert_int_equal(parse(&cfg, "{\"tls_cert\": \"c\", \"tls_key\": \"k\"}", diag, sizeof(diag)),
                     0);
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), 0);
    // Half a pair is not.
    assert_int_equal(parse(&cfg, "{\"tls_key\": null}", diag, sizeof(diag)), 0);
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), CW_EINVAL);
    assert_non_null(strstr(diag, "both"));
    assert_int_equal(cw_server_config_set(&cfg.tls_cert, NULL), 0);
    // Loopback in every spelling is plain-HTTP territory.
    static const char *const loop[] = {"127.0.0.1:1", "127.5.6.7:80", "[::1]:0", "localhost:0",
                                       "[::ffff:127.0.0.1]:8080"};
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
        assert_int_equal(cw_server_config_set(&cfg.listen, loop[i]), 0);
        assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), 0);
    }
    static const char *const open_addrs[] = {"0.0.0.0:80", "[::]:80", "10.0.0.1:80",
                                             "[::ffff:10.0.0.1]:80", "128.0.0.1:80"};
    for (size_t i = 0; i < sizeof(open_addrs) / sizeof(open_addrs[0]); i++) {
        assert_int_equal(cw_server_config_set(&cfg.listen, open_addrs[i]), 0);
        assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), CW_EPERM);
    }
    static const char *const bad[] = {"8080",    "127.0.0.1", "127.0.0.1:65536", "host:80",
                                      "[::1:80", "::1:80",    "127.0.0.1:-1",    "127.0.0.1:08a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cw_server_config_set(&cfg.listen, bad[i]), 0);
        assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), CW_EINVAL);
    }
    cw_server_config_free(&cfg);
}

static void test_load_file(void **state)
{
    (void)state;
    cw_server_config_t cfg;
    char diag[512] = "";
    assert_int_equal(cw_server_config_default(&cfg), 0);
    // The example shipped in docs/ is valid and complete.
    assert_int_equal(cw_server_config_load(&cfg, CW_TEST_EXAMPLE_CONFIG, diag, sizeof(diag)), 0);
    assert_true(cfg.n_ports >= 2);
    assert_int_equal(cw_server_config_check(&cfg, diag, sizeof(diag)), 0);
    assert_int_equal(cw_server_config_load(&cfg, "/no/such/file.json", diag, sizeof(diag)), CW_EIO);
    assert_non_null(strstr(diag, "/no/such/file.json"));
    cw_server_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_refusals_name_the_key),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests_name("server_config", tests, NULL, NULL);
}
