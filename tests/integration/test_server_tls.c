// SPDX-License-Identifier: Apache-2.0
// TLS of `clearway serve`: with a self-signed certificate made at test time (GnuTLS API), HTTPS
// works and verifies against that certificate, plain HTTP to the TLS port gets nothing; plain
// HTTP on a non-loopback address is refused at start-up (from the command line and from a
// configuration file), while TLS on one is served; unreadable or mismatched TLS files fail
// start-up with a message.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[256], cert[300], key[300], other_key[300];

static int write_pem(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int ok = fwrite(d->data, 1, d->size, f) == d->size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int make_key(gnutls_x509_privkey_t *k, const char *path)
{
    gnutls_datum_t d = {NULL, 0};
    int rc = gnutls_x509_privkey_init(k);
    if (rc == 0) {
        rc = gnutls_x509_privkey_generate(*k, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    }
    if (rc == 0) {
        rc = gnutls_x509_privkey_export2(*k, GNUTLS_X509_FMT_PEM, &d);
    }
    if (rc == 0) {
        rc = write_pem(path, &d);
    }
    gnutls_free(d.data);
    return rc;
}

// A self-signed certificate for localhost and 127.0.0.1, valid from an hour ago for a day.
static int make_cert(void)
{
    gnutls_x509_privkey_t k, k2;
    gnutls_x509_crt_t c;
    gnutls_datum_t d = {NULL, 0};
    unsigned char ip[4] = {127, 0, 0, 1};
    unsigned char serial[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    time_t now = time(NULL);
    if (make_key(&k, key) != 0 || make_key(&k2, other_key) != 0 || gnutls_x509_crt_init(&c) != 0) {
        return -1;
    }
    int rc = gnutls_x509_crt_set_version(c, 3);
    rc |= gnutls_x509_crt_set_serial(c, serial, sizeof(serial));
    rc |= gnutls_x509_crt_set_activation_time(c, now - 3600);
    rc |= gnutls_x509_crt_set_expiration_time(c, now + 86400);
    rc |= gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9);
    rc |= gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                               GNUTLS_FSAN_APPEND);
    rc |= gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
    rc |= gnutls_x509_crt_set_basic_constraints(c, 1, -1);
    rc |= gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
    rc |= gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_SERVER, 0);
    rc |= gnutls_x509_crt_set_key(c, k);
    rc |= gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0);
    if (rc == 0) {
        rc = gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d);
    }
    if (rc == 0) {
        rc = write_pem(cert, &d);
    }
    gnutls_free(d.data);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_privkey_deinit(k);
    gnutls_x509_privkey_deinit(k2);
    return rc == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    if (cw_it_tmpdir(dir, sizeof(dir)) != 0) {
        return -1;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(other_key, sizeof(other_key), "%s/other-key.pem", dir);
    return make_cert();
}

static int teardown(void **state)
{
    (void)state;
    cw_test_rmtree(dir);
    return 0;
}

static void test_https_works(void **state)
{
    (void)state;
    cw_it_server_t s;
    char why[4096] = "";
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    assert_int_equal(cw_it_start(&s, dir, NULL, NULL, NULL, extra, why, sizeof(why)), 0);
    assert_memory_equal(s.url, "https://127.0.0.1:", 18);
    cw_it_resp_t r;
    cw_it_request(&s, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cw_it_str(&r, "status"), "ok");
    cw_it_resp_free(&r);
    cw_it_request(&s, "GET", "/v1/apikeys", s.admin_key, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    // The check can fail: without trusting our certificate the handshake is refused...
    cw_it_server_t untrusting = s;
    untrusting.cacert[0] = '\0';
    cw_it_request(&untrusting, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 0);
    cw_it_resp_free(&r);
    // ...and plain HTTP to the TLS port gets no answer.
    cw_it_server_t plain = s;
    plain.cacert[0] = '\0';
    memmove(plain.url + 4, plain.url + 5, strlen(plain.url + 5) + 1); // https -> http
    cw_it_request(&plain, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_true(r.status != 200);
    cw_it_resp_free(&r);
    assert_int_equal(cw_it_stop(&s), 0);
}

static void refused(const char *const *argv, int want_exit, const char *want)
{
    char out[4096];
    int rc = cw_it_run(argv, out, sizeof(out));
    if (rc != want_exit || strstr(out, want) == NULL) {
        fprintf(stderr, "exit %d (want %d), output:\n%s\n", rc, want_exit, out);
    }
    assert_int_equal(rc, want_exit);
    assert_non_null(strstr(out, want));
}

static void test_plain_http_off_loopback_refused(void **state)
{
    (void)state;
    char db[300], cfg[300];
    snprintf(db, sizeof(db), "%s/refused.db", dir);
    const char *a1[] = {CW_TEST_CLEARWAY, "serve", "--db", db, "--listen", "0.0.0.0:0", NULL};
    refused(a1, 2, "refusing plain HTTP on the non-loopback address 0.0.0.0:0");
    const char *a2[] = {CW_TEST_CLEARWAY, "serve", "--db", db, "--listen", "[::]:0", NULL};
    refused(a2, 2, "refusing plain HTTP");
    snprintf(cfg, sizeof(cfg), "%s/offloop.json", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"listen\": \"192.0.2.1:8443\"}", f);
    fclose(f);
    const char *a3[] = {CW_TEST_CLEARWAY, "serve", "--db", db, "--config", cfg, NULL};
    refused(a3, 2, "refusing plain HTTP");
    // Only one half of a TLS pair.
    const char *a4[] = {CW_TEST_CLEARWAY, "serve", "--db", db, "--tls-cert", cert, NULL};
    refused(a4, 2, "both a certificate and a key");
    // Nothing was created: the refusal came before the store was opened.
    FILE *probe = fopen(db, "r");
    assert_null(probe);
}

static void test_https_off_loopback_served(void **state)
{
    (void)state;
    cw_it_server_t s;
    char why[4096] = "";
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    assert_int_equal(cw_it_start(&s, dir, NULL, "0.0.0.0:0", NULL, extra, why, sizeof(why)), 0);
    // Reach it through the loopback interface (the certificate names 127.0.0.1).
    const char *port = strrchr(s.url, ':');
    assert_non_null(port);
    char url[160];
    snprintf(url, sizeof(url), "https://127.0.0.1%s", port);
    snprintf(s.url, sizeof(s.url), "%s", url);
    cw_it_resp_t r;
    cw_it_request(&s, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cw_it_resp_free(&r);
    assert_int_equal(cw_it_stop(&s), 0);
}

static void test_bad_tls_files(void **state)
{
    (void)state;
    char db[300], missing[300];
    snprintf(db, sizeof(db), "%s/badtls.db", dir);
    snprintf(missing, sizeof(missing), "%s/no-such.pem", dir);
    const char *a1[] = {CW_TEST_CLEARWAY, "serve", "--db",      db,  "--listen", "127.0.0.1:0",
                        "--tls-cert",     missing, "--tls-key", key, NULL};
    refused(a1, 1, "cannot read");
    // A key that does not belong to the certificate.
    const char *a2[] = {CW_TEST_CLEARWAY, "serve",       "--db",       db,
                        "--listen",       "127.0.0.1:0", "--tls-cert", cert,
                        "--tls-key",      other_key,     NULL};
    refused(a2, 1, "TLS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_works),
        cmocka_unit_test(test_plain_http_off_loopback_refused),
        cmocka_unit_test(test_https_off_loopback_served),
        cmocka_unit_test(test_bad_tls_files),
    };
    return cmocka_run_group_tests_name("server_tls", tests, setup, teardown);
}
