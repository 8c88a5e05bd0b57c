// SPDX-License-Identifier: Apache-2.0
// Bad input against the real `clearway serve`: malformed JSON, a wrong content type, a body over
// the limit (declared and chunked), slow clients that send part of a request and stall, unknown
// gates and transactions, a forged QR token, an MRZ with a wrong check digit, pictures that are
// not pictures, that show no face or three faces, and a store that stops accepting writes
// (answers 503 and decides nothing, then recovers). After each, a normal request must still
// succeed: one bad client never stops the server serving the others.
#define _GNU_SOURCE 1 // prlimit
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "faces.h"
#include "it.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { TIMEOUT_S = 2, MAX_BODY = 1 << 20 };

static const char config[] =
    "{\"connection_timeout_s\": 2, \"max_body_bytes\": 1048576, \"http_threads\": 2,"
    " \"ports\": [{\"code\": \"HKG\", \"name\": \"Airport\", \"gates\": ["
    "  {\"code\": \"E01\", \"programme\": \"document_free\"},"
    "  {\"code\": \"C01\", \"programme\": \"contactless\"},"
    "  {\"code\": \"S01\", \"programme\": \"smart_departure\"},"
    "  {\"code\": \"A01\", \"programme\": \"closed_area\"}]}],"
    " \"policies\": {\"closed_area\": {\"txn_timeout_s\": 1}}}";

typedef struct fx {
    char dir[256];
    cw_it_server_t srv;
    cw_it_faces_t faces;
    char clerk[64];
    int good[3]; // three usable faces
    int stopped; // the last test stopped the server itself
} fx_t;

static fx_t F;

static int setup(void **state)
{
    (void)state;
    char why[4096] = "";
    if (cw_it_faces_open(&F.faces, CW_TEST_DEPS_DIR, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < F.faces.n && k < 3; i++) {
        if (F.faces.faces[i].usable) {
            F.good[k++] = i;
        }
    }
    if (k < 3 || cw_it_tmpdir(F.dir, sizeof(F.dir)) != 0 ||
        cw_it_start(&F.srv, F.dir, NULL, NULL, config, NULL, why, sizeof(why)) != 0 ||
        cw_it_make_key(&F.srv, "clerk", NULL, F.clerk, NULL) != 0) {
        fprintf(stderr, "set-up failed (%d usable faces): %s\n", k, why);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = F.stopped ? 0 : cw_it_stop(&F.srv);
    cw_it_faces_close(&F.faces);
    if (rc != 0) {
        fprintf(stderr, "the server exited with %d; log in %s\n", rc, F.srv.log);
        return -1;
    }
    cw_test_rmtree(F.dir);
    return 0;
}

// The server still answers a normal request (and an authenticated, audited one).
static void assert_still_serving(void)
{
    cw_it_resp_t r;
    cw_it_request(&F.srv, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/v1/apikeys", F.srv.admin_key, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
}

// Open a transaction at HKG.<gate> as admin; its id.
static long long begin(const char *gate)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/gates/HKG.%s/transactions", gate);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "POST", path, F.srv.admin_key, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 201);
    long long txn = cw_it_int(&r, "txn");
    cw_it_resp_free(&r);
    assert_true(txn > 0);
    return txn;
}

static void step(const char *gate, long long txn, const char *what, json_t *body, cw_it_resp_t *r)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/gates/HKG.%s/transactions/%lld/%s", gate, txn, what);
    cw_it_json(&F.srv, "POST", path, F.srv.admin_key, body, r);
}

static json_t *image_body(const char *key, const uint8_t *data, size_t n)
{
    json_t *o = json_object();
    json_object_set_new(o, key, cw_it_b64(data, n));
    return o;
}

static void test_malformed_json(void **state)
{
    (void)state;
    long long txn = begin("E01");
    char path[160];
    snprintf(path, sizeof(path), "/v1/gates/HKG.E01/transactions/%lld/face", txn);
    static const char *const bad[] = {"{\"image\": ",
                                      "[1,2,3]",
                                      "{\"image\": 1}",
                                      "{\"image\": \"@@@\"}",
                                      "{\"image\": \"aGk=\", \"image\": \"aGk=\"}",
                                      "\"just a string\""};
    static const char *const reasons[] = {"BAD_JSON",   "BAD_JSON", "BAD_FIELD",
                                          "BAD_BASE64", "BAD_JSON", "BAD_JSON"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cw_it_resp_t r;
        cw_it_request(&F.srv, "POST", path, F.srv.admin_key, "application/json", bad[i],
                      strlen(bad[i]), &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(cw_it_reason(&r), reasons[i]);
        json_t *e = json_object_get(r.json, "error");
        assert_int_equal(json_integer_value(json_object_get(e, "status")), 400);
        assert_non_null(json_string_value(json_object_get(e, "code")));
        assert_non_null(json_string_value(json_object_get(e, "message")));
        cw_it_resp_free(&r);
    }
    // An unknown field is refused too (a typo must not be ignored silently).
    cw_it_resp_t r;
    step("E01", txn, "confirm", json_pack("{s:b, s:i}", "confirm", 1, "extra", 1), &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_FIELD");
    cw_it_resp_free(&r);
    assert_still_serving();
}

static void test_wrong_content_type(void **state)
{
    (void)state;
    cw_it_resp_t r;
    const char body[] = "{\"role\": \"clerk\"}";
    cw_it_request(&F.srv, "POST", "/v1/apikeys", F.srv.admin_key, "text/plain", body, strlen(body),
                  &r);
    assert_int_equal(r.status, 415);
    assert_string_equal(cw_it_reason(&r), "UNSUPPORTED_MEDIA_TYPE");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", "/v1/apikeys", F.srv.admin_key, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 415);
    cw_it_resp_free(&r);
    // With parameters it is still JSON.
    cw_it_request(&F.srv, "POST", "/v1/apikeys", F.srv.admin_key, "application/json; charset=utf-8",
                  body, strlen(body), &r);
    assert_int_equal(r.status, 201);
    cw_it_resp_free(&r);
    assert_still_serving();
}

static void test_huge_body(void **state)
{
    (void)state;
    size_t n = 2u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'A', n);
    memcpy(big, "{\"image\": \"", 11);
    big[n - 2] = '"';
    big[n - 1] = '}';
    long long txn = begin("E01");
    char path[160];
    snprintf(path, sizeof(path), "/v1/gates/HKG.E01/transactions/%lld/face", txn);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "POST", path, F.srv.admin_key, "application/json", big, n, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(cw_it_reason(&r), "BODY_TOO_LARGE");
    cw_it_resp_free(&r);
    free(big);
    // Without a declared length (chunked) the connection is cut as soon as the cap is passed.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    unsigned port = 0;
    sscanf(strrchr(F.srv.url, ':') + 1, "%u", &port);
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                      path, F.srv.admin_key);
    assert_int_equal(send(fd, head, (size_t)hl, MSG_NOSIGNAL), hl);
    static char chunk[65536 + 16];
    int cl = snprintf(chunk, sizeof(chunk), "10000\r\n");
    memset(chunk + cl, 'A', 65536);
    memcpy(chunk + cl + 65536, "\r\n", 2);
    size_t sent = 0;
    for (int i = 0; i < 64; i++) { // 4 MiB if nobody stops us
        ssize_t w = send(fd, chunk, (size_t)cl + 65538, MSG_NOSIGNAL);
        if (w <= 0) {
            break;
        }
        sent += (size_t)w;
    }
    // The server closed the connection before taking everything (or answered 413).
    char buf[256] = "";
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(sent < 64u * 65545 || got <= 0 || strstr(buf, " 413 ") != NULL);
    close(fd);
    assert_still_serving();
}

static int connect_raw(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    unsigned port = 0;
    sscanf(strrchr(F.srv.url, ':') + 1, "%u", &port);
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Slow clients: one sends half its headers, one its headers and part of a declared body, one
// connects and says nothing. Others are served meanwhile; each stalled one is dropped after the
// connection timeout.
static void test_slow_clients(void **state)
{
    (void)state;
    int fds[4];
    char msg[512];
    for (int i = 0; i < 4; i++) {
        fds[i] = connect_raw();
        assert_true(fds[i] >= 0);
    }
    const char *half = "POST /v1/gates/HKG.E01/transactions HTTP/1.1\r\nHost: x\r\n";
    assert_true(send(fds[0], half, strlen(half), MSG_NOSIGNAL) > 0);
    int n = snprintf(msg, sizeof(msg),
                     "POST /v1/apikeys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"role\":",
                     F.srv.admin_key);
    assert_true(send(fds[1], msg, (size_t)n, MSG_NOSIGNAL) > 0);
    n = snprintf(msg, sizeof(msg), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive");
    assert_true(send(fds[3], msg, (size_t)n, MSG_NOSIGNAL) > 0);
    double t0 = now_s();
    for (int i = 0; i < 5; i++) {
        cw_it_resp_t r;
        cw_it_request(&F.srv, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        cw_it_resp_free(&r);
    }
    assert_true(now_s() - t0 < TIMEOUT_S); // served while the others stall
    assert_still_serving();
    // Each stalled connection is closed by the server within the timeout (plus slack).
    for (int i = 0; i < 4; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        int ready = poll(&p, 1, (TIMEOUT_S + 8) * 1000);
        assert_int_equal(ready, 1);
        char buf[256];
        ssize_t got = recv(fds[i], buf, sizeof(buf), 0);
        assert_true(got <= 0); // EOF or reset: dropped without an answer
        close(fds[i]);
    }
    assert_true(now_s() - t0 < TIMEOUT_S + 8);
    assert_still_serving();
}

static void test_unknown_gate_and_txn(void **state)
{
    (void)state;
    cw_it_resp_t r;
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.NOPE/transactions", F.srv.admin_key, NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_GATE");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", "/v1/gates/not-a-gate/transactions", F.srv.admin_key, NULL, NULL,
                  0, &r);
    assert_int_equal(r.status, 404);
    cw_it_resp_free(&r);
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_probe_jpeg(&F.faces, F.good[0], &jpeg, &n), 0);
    step("E01", 987654321, "face", image_body("image", jpeg, n), &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_TXN");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.E01/transactions/abc/abandon", F.srv.admin_key,
                  NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(cw_it_reason(&r), "UNKNOWN_TXN");
    cw_it_resp_free(&r);
    // A transaction of one gate is unknown at another.
    long long txn = begin("E01");
    step("C01", txn, "face", image_body("image", jpeg, n), &r);
    assert_int_equal(r.status, 404);
    cw_it_resp_free(&r);
    free(jpeg);
    // A finished transaction takes no more events.
    step("E01", txn, "abandon", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "action"), "REFER_TO_OFFICER");
    cw_it_resp_free(&r);
    step("E01", txn, "abandon", NULL, &r);
    assert_true(r.status == 404 || r.status == 409);
    cw_it_resp_free(&r);
    assert_still_serving();
}

// A traveller with a contactless membership, enrolled by a clerk; the id.
static long long enrol_minimal(const char *docno)
{
    json_t *rec =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:[{s:s}], s:{s:b}}",
                  "name_latin", "CHAN Tai Man", "name_local", "陳大文", "birth", "1980-02-29",
                  "residence", "hong_kong", "nationality", "CHN", "documents", "type",
                  "hk_identity_card", "number", docno, "issued", "2015-01-01", "expires",
                  "2099-12-31", "memberships", "programme", "contactless", "consents", "face", 1);
    cw_it_resp_t r;
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    assert_int_equal(r.status, 201);
    long long id = cw_it_int(&r, "id");
    cw_it_resp_free(&r);
    return id;
}

static void test_forged_qr(void **state)
{
    (void)state;
    long long id = enrol_minimal("Q1234567");
    char path[128];
    snprintf(path, sizeof(path), "/v1/travellers/%lld/tokens", id);
    cw_it_resp_t r;
    cw_it_json(&F.srv, "POST", path, F.clerk,
               json_pack("{s:I}", "expires_at", (json_int_t)time(NULL) + 3600), &r);
    assert_int_equal(r.status, 201);
    char qr[256];
    snprintf(qr, sizeof(qr), "%s", cw_it_str(&r, "qr"));
    cw_it_resp_free(&r);
    assert_true(strlen(qr) > 10);
    // Alter one character of the signature (the end of the text).
    size_t last = strlen(qr) - 3;
    qr[last] = qr[last] == 'A' ? 'B' : 'A';
    static const char *const fakes[2] = {NULL, "CW1.this-is-not-a-token"};
    for (int i = 0; i < 2; i++) {
        long long txn = begin("C01");
        step("C01", txn, "document", json_pack("{s:s}", "qr", i == 0 ? qr : fakes[i]), &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(cw_it_str(&r, "action"), "REFER_TO_OFFICER");
        assert_string_equal(cw_it_str(&r, "reason"), "TOKEN_INVALID");
        // Nothing about the traveller reaches the gate.
        assert_null(json_object_get(r.json, "hint"));
        assert_null(strstr(r.body, "CHAN"));
        cw_it_resp_free(&r);
    }
    assert_still_serving();
}

// ICAO 9303 check digit (weights 7, 3, 1), written here independently of the parser.
static int check_digit(const char *s, size_t n)
{
    static const int w[3] = {7, 3, 1};
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 0;
        sum += v * w[i % 3];
    }
    return sum % 10;
}

static void test_mrz_wrong_check_digit(void **state)
{
    (void)state;
    // ICAO Doc 9303's specimen passport, with its birth-date check digit wrong.
    char line2[] = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
    assert_int_equal(check_digit(line2 + 13, 6), line2[19] - '0'); // the specimen is right
    line2[19] = (char)('0' + (line2[19] - '0' + 1) % 10);
    char mrz[128];
    snprintf(mrz, sizeof(mrz), "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n%s", line2);
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_enrol_jpeg(&F.faces, F.good[0], &jpeg, &n), 0);
    long long txn = begin("S01");
    json_t *b = image_body("chip_image", jpeg, n);
    json_object_set_new(b, "mrz", json_string(mrz));
    cw_it_resp_t r;
    step("S01", txn, "document", b, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "action"), "REFER_TO_OFFICER");
    assert_string_equal(cw_it_str(&r, "reason"), "MRZ_INVALID");
    cw_it_resp_free(&r);
    free(jpeg);
    // Both forms together are refused before the service sees them.
    txn = begin("S01");
    step("S01", txn, "document", json_pack("{s:s, s:s}", "mrz", mrz, "qr", "x"), &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(cw_it_reason(&r), "BAD_DOCUMENT");
    cw_it_resp_free(&r);
    assert_still_serving();
}

// A picture the gate cannot use is a retry with the reason, never an error; enrolment refuses
// it with 422 and the reason.
static void bad_picture(const uint8_t *data, size_t n, const char *reason)
{
    long long txn = begin("E01");
    cw_it_resp_t r;
    step("E01", txn, "face", image_body("image", data, n), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "action"), "RETRY");
    assert_string_equal(cw_it_str(&r, "reason"), reason);
    assert_true(cw_it_str(&r, "instruction")[0] != '\0');
    assert_true(cw_it_int(&r, "captures_left") >= 0);
    cw_it_resp_free(&r);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:b}}", "name_latin", "LEE Siu Ming",
                            "name_local", "李小明", "birth", "1990-01-01", "residence", "hong_kong",
                            "nationality", "CHN", "consents", "face", 1);
    json_object_set_new(rec, "face", cw_it_b64(data, n));
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    assert_int_equal(r.status, 422);
    assert_string_equal(cw_it_reason(&r), reason);
    cw_it_resp_free(&r);
    assert_still_serving();
}

static void test_not_an_image(void **state)
{
    (void)state;
    const char text[] = "this is not an image, it is a sentence";
    bad_picture((const uint8_t *)text, sizeof(text) - 1, "BAD_IMAGE");
    // A truncated JPEG.
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_probe_jpeg(&F.faces, F.good[0], &jpeg, &n), 0);
    bad_picture(jpeg, 200, "BAD_IMAGE");
    free(jpeg);
}

static void test_no_face(void **state)
{
    (void)state;
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_noface_jpeg(&jpeg, &n), 0);
    bad_picture(jpeg, n, "NO_FACE");
    free(jpeg);
}

static void test_three_faces(void **state)
{
    (void)state;
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_three_faces_jpeg(&F.faces, F.good, &jpeg, &n), 0);
    bad_picture(jpeg, n, "MANY_FACES");
    free(jpeg);
}

// The store stops accepting writes (the server's file-size limit drops to one byte, as when a
// disk fills up): every request that would write answers 503 STORE_UNAVAILABLE and opens
// nothing, reads that would go unaudited are not answered; when the store returns, so does
// service.
static void test_store_unavailable(void **state)
{
    (void)state;
    struct rlimit old, tiny;
    assert_int_equal(prlimit(F.srv.pid, RLIMIT_FSIZE, NULL, &old), 0);
    tiny = (struct rlimit){1, old.rlim_max}; // the soft limit only, so it can be raised again
    assert_int_equal(prlimit(F.srv.pid, RLIMIT_FSIZE, &tiny, NULL), 0);
    cw_it_resp_t r;
    cw_it_request(&F.srv, "POST", "/v1/gates/HKG.E01/transactions", F.srv.admin_key, NULL, NULL, 0,
                  &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(cw_it_reason(&r), "STORE_UNAVAILABLE");
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/v1/apikeys", F.srv.admin_key, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_null(json_object_get(r.json, "apikeys"));
    cw_it_resp_free(&r);
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:[{s:s}]}", "name_latin",
        "WONG Ka Yan", "name_local", "黃家欣", "nationality", "CHN", "birth", "1985-05-05",
        "residence", "hong_kong", "documents", "type", "hk_identity_card", "number", "W7654321",
        "issued", "2015-01-01", "expires", "2099-01-01", "memberships", "programme", "contactless");
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, json_incref(rec), &r);
    assert_int_equal(r.status, 503);
    cw_it_resp_free(&r);
    // Back.
    assert_int_equal(prlimit(F.srv.pid, RLIMIT_FSIZE, &old, NULL), 0);
    long long txn = begin("E01");
    assert_true(txn > 0);
    // The refused enrolment left nothing behind: it goes through now.
    cw_it_json(&F.srv, "POST", "/v1/travellers", F.clerk, rec, &r);
    assert_int_equal(r.status, 201);
    cw_it_resp_free(&r);
    assert_still_serving();
}

// The maintenance thread refers a transaction left open past its policy's timeout (TIMEOUT):
// it is in the referral queue, counted, and takes no more events.
static void test_stale_transaction_expires(void **state)
{
    (void)state;
    long long txn = begin("A01");
    cw_it_resp_t r;
    int found = 0;
    for (int i = 0; i < 30 && !found; i++) { // the tick runs every 5 s
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
        cw_it_request(&F.srv, "GET", "/v1/referrals?open=1", F.srv.admin_key, NULL, NULL, 0, &r);
        json_t *list = json_object_get(r.json, "referrals");
        for (size_t k = 0; k < json_array_size(list); k++) {
            json_t *e = json_array_get(list, k);
            if (json_integer_value(json_object_get(e, "txn")) == txn) {
                found = 1;
                assert_string_equal(json_string_value(json_object_get(e, "reason")), "TIMEOUT");
            }
        }
        cw_it_resp_free(&r);
    }
    assert_true(found);
    step("A01", txn, "abandon", NULL, &r);
    assert_int_equal(r.status, 404);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/metrics", F.srv.admin_key, NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "clearway_transactions_expired_total 1\n"));
    assert_non_null(strstr(
        r.body, "clearway_decisions_total{programme=\"closed_area\",reason=\"TIMEOUT\"} 1\n"));
    cw_it_resp_free(&r);
}

// SIGTERM while a gate step is being processed: the step is answered, then the server exits 0
// and accepts nothing more.
static void test_stop_finishes_requests_in_flight(void **state)
{
    (void)state;
    long long txn = begin("E01");
    uint8_t *jpeg;
    size_t n;
    assert_int_equal(cw_it_probe_jpeg(&F.faces, F.good[0], &jpeg, &n), 0);
    json_t *b = image_body("image", jpeg, n);
    free(jpeg);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    size_t cap = strlen(body) + 1024;
    char *req = malloc(cap);
    assert_non_null(req);
    int len = snprintf(req, cap,
                       "POST /v1/gates/HKG.E01/transactions/%lld/face HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       txn, F.srv.admin_key, strlen(body), body);
    free(body);
    int fd = connect_raw();
    assert_true(fd >= 0);
    assert_int_equal(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
    free(req);
    struct timespec ts = {0, 30 * 1000 * 1000}; // the face step is under way
    nanosleep(&ts, NULL);
    assert_int_equal(kill(F.srv.pid, SIGTERM), 0);
    char resp[4096];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 60000) != 1) {
            break;
        }
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    assert_memory_equal(resp, "HTTP/1.1 200", 12);
    assert_non_null(strstr(resp, "\"txn\""));
    F.stopped = 1;
    assert_int_equal(cw_it_stop(&F.srv), 0);
    assert_true(connect_raw() < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_wrong_content_type),
        cmocka_unit_test(test_huge_body),
        cmocka_unit_test(test_slow_clients),
        cmocka_unit_test(test_unknown_gate_and_txn),
        cmocka_unit_test(test_forged_qr),
        cmocka_unit_test(test_mrz_wrong_check_digit),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_no_face),
        cmocka_unit_test(test_three_faces),
        cmocka_unit_test(test_store_unavailable),
        cmocka_unit_test(test_stale_transaction_expires),
        cmocka_unit_test(test_stop_finishes_requests_in_flight),
    };
    return cmocka_run_group_tests_name("server_input", tests, setup, teardown);
}
