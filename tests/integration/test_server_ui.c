// SPDX-License-Identifier: Apache-2.0
// The browser pages served by `clearway serve` (GET /ui/...): a page comes with its MIME type,
// nosniff, the content security policy and no-cache, without an API key and without an audit
// entry; "/" and "/ui" redirect to "/ui/", which is index.html; and nothing outside the web root
// is ever served: not through "..", encoded or not, an absolute path, a symlink pointing out, a
// directory, a hidden file or a file of a type the pages do not use.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx {
    char dir[256];
    char web[300];
    cw_it_server_t srv;
} fx_t;

static fx_t F;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char why[4096] = "", p[400], q[400];
    if (cw_it_tmpdir(F.dir, sizeof(F.dir)) != 0) {
        return -1;
    }
    // DIR/web is the root; DIR/secret.html sits beside it and a symlink inside points at it.
    snprintf(F.web, sizeof(F.web), "%s/web", F.dir);
    snprintf(p, sizeof(p), "%s/sub", F.web);
    if (mkdir(F.web, 0700) != 0 || mkdir(p, 0700) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/index.html", F.web);
    snprintf(q, sizeof(q), "%s/secret.html", F.dir);
    if (write_file(p, "<!doctype html><title>Clearway</title>\n") != 0 ||
        write_file(q, "SECRET\n") != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/sub/app.js", F.web);
    if (write_file(p, "export const x = 1;\n") != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/out.html", F.web);
    if (symlink(q, p) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/in.html", F.web);
    if (symlink("index.html", p) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/.hidden.html", F.web);
    snprintf(q, sizeof(q), "%s/notes.txt", F.web);
    if (write_file(p, "hidden\n") != 0 || write_file(q, "notes\n") != 0) {
        return -1;
    }
    const char *extra[] = {"--web-root", F.web, NULL};
    if (cw_it_start(&F.srv, F.dir, NULL, NULL, NULL, extra, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = cw_it_stop(&F.srv);
    cw_test_rmtree(F.dir);
    return rc == 0 ? 0 : -1;
}

// The value of header name in the response (case-insensitive name), into out; 0 if present.
static int header(const cw_it_resp_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *h = r->headers; h != NULL && *h != '\0';) {
        const char *eol = strstr(h, "\r\n");
        size_t len = eol != NULL ? (size_t)(eol - h) : strlen(h);
        if (len > n && strncasecmp(h, name, n) == 0 && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vl = len - (size_t)(v - h);
            snprintf(out, cap, "%.*s", (int)vl, v);
            return 0;
        }
        h = eol != NULL ? eol + 2 : h + len;
    }
    out[0] = '\0';
    return -1;
}

static void get(const char *path, cw_it_resp_t *r)
{
    assert_int_equal(cw_it_request(&F.srv, "GET", path, NULL, NULL, NULL, 0, r), 0);
}

static void test_serves_index(void **state)
{
    (void)state;
    cw_it_resp_t r;
    char v[512];
    static const char *const paths[] = {"/ui/", "/ui/index.html", "/ui/in.html"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(paths[i], &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "<title>Clearway</title>"));
        assert_int_equal(header(&r, "Content-Type", v, sizeof(v)), 0);
        assert_string_equal(v, "text/html; charset=utf-8");
        assert_int_equal(header(&r, "X-Content-Type-Options", v, sizeof(v)), 0);
        assert_string_equal(v, "nosniff");
        assert_int_equal(header(&r, "Cache-Control", v, sizeof(v)), 0);
        assert_string_equal(v, "no-cache");
        assert_int_equal(header(&r, "Content-Security-Policy", v, sizeof(v)), 0);
        assert_non_null(strstr(v, "default-src 'self'"));
        assert_non_null(strstr(v, "img-src 'self' data: blob:"));
        assert_non_null(strstr(v, "media-src 'self' blob:"));
        cw_it_resp_free(&r);
    }
    get("/ui/sub/app.js", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(header(&r, "Content-Type", v, sizeof(v)), 0);
    assert_string_equal(v, "text/javascript; charset=utf-8");
    cw_it_resp_free(&r);
    // The API keeps its own caching rule.
    get("/healthz", &r);
    assert_int_equal(header(&r, "Cache-Control", v, sizeof(v)), 0);
    assert_string_equal(v, "no-store");
    assert_int_equal(header(&r, "Content-Security-Policy", v, sizeof(v)), -1);
    cw_it_resp_free(&r);
}

static void test_redirects(void **state)
{
    (void)state;
    cw_it_resp_t r;
    char v[64];
    static const char *const paths[] = {"/", "/ui"};
    for (size_t i = 0; i < 2; i++) {
        get(paths[i], &r);
        assert_int_equal(r.status, 302);
        assert_int_equal(header(&r, "Location", v, sizeof(v)), 0);
        assert_string_equal(v, "/ui/");
        cw_it_resp_free(&r);
    }
}

static void test_refuses_outside(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/ui/../CMakeLists.txt",
        "/ui/../secret.html",
        "/ui/%2e%2e/secret.html",
        "/ui/%2E%2E%2Fsecret.html",
        "/ui/sub/../../secret.html",
        "/ui/./index.html",
        "/ui//etc/passwd",
        "/ui/%2Fetc%2Fpasswd",
        "/ui/out.html", // a symlink out of the root
        "/ui/sub",      // a directory
        "/ui/sub/",
        "/ui/missing.html",
        "/ui/.hidden.html",
        "/ui/notes.txt", // not a type the pages use
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        cw_it_resp_t r;
        get(paths[i], &r);
        if (r.status != 404 || strstr(r.body, "SECRET") != NULL ||
            strcmp(cw_it_reason(&r), "NOT_FOUND") != 0) {
            fprintf(stderr, "%s: got %ld %s\n", paths[i], r.status, r.body);
        }
        assert_int_equal(r.status, 404);
        assert_string_equal(cw_it_reason(&r), "NOT_FOUND");
        cw_it_resp_free(&r);
    }
    // An encoded NUL ends the path where libmicrohttpd decodes it: what follows it changes
    // nothing, neither the file nor its type.
    cw_it_resp_t r;
    char v[64];
    get("/ui/index.html%00.js", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(header(&r, "Content-Type", v, sizeof(v)), 0);
    assert_string_equal(v, "text/html; charset=utf-8");
    cw_it_resp_free(&r);
    // Only GET: the pages are not an upload area.
    cw_it_request(&F.srv, "POST", "/ui/index.html", NULL, "application/json", "{}", 2, &r);
    assert_int_equal(r.status, 405);
    cw_it_resp_free(&r);
}

// Page loads write nothing to the audit chain, API calls still do.
static void test_not_audited(void **state)
{
    (void)state;
    cw_it_resp_t r;
    get("/ui/index.html", &r);
    cw_it_resp_free(&r);
    get("/ui/missing.html", &r);
    cw_it_resp_free(&r);
    cw_it_request(&F.srv, "GET", "/metrics", F.srv.admin_key, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    // Counted in the metrics under their own route.
    assert_non_null(
        strstr(r.body, "clearway_http_requests_total{route=\"ui_file\",status=\"200\"}"));
    assert_non_null(
        strstr(r.body, "clearway_http_requests_total{route=\"ui_file\",status=\"404\"}"));
    cw_it_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_index),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_refuses_outside),
        cmocka_unit_test(test_not_audited),
    };
    return cmocka_run_group_tests_name("integration_server_ui", tests, setup, teardown);
}
