/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The integration tests' harness: the real `clearway serve` binary run as a child process on an
 * ephemeral loopback port (port 0; the URL is read from its stdout) with a real database in a
 * temporary folder, and an HTTP client (libcurl) with JSON helpers (jansson). The child gets
 * SIGTERM when the test program dies in any way (PR_SET_PDEATHSIG), so no server outlives a
 * crashed test.
 */
#ifndef CW_TEST_IT_H
#define CW_TEST_IT_H

#include "../common/rmtree.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cw_it_server {
    pid_t pid;
    char dir[256]; /* the temporary folder (config, log, SQLite file) */
    char db[512];  /* what --db was */
    char url[160]; /* "http://127.0.0.1:PORT/" */
    char log[300]; /* the server's stderr */
    char admin_key[64];
    char cacert[300]; /* HTTPS: the certificate to trust (empty: plain HTTP) */
} cw_it_server_t;

typedef struct cw_it_resp {
    long status; /* 0 when the request failed at the transport (curl_err says why) */
    int curl_err;
    char *body;
    size_t len;
    json_t *json;  /* the body parsed, when it is JSON */
    char *headers; /* the response's header lines */
} cw_it_resp_t;

/* A fresh folder /tmp/cw-it-XXXXXX into dir. */
int cw_it_tmpdir(char *dir, size_t cap);
/* Removing it again: cw_test_rmtree (tests/common/rmtree.h). */

/*
 * cw_it_start: write config (may be NULL) to DIR/config.json and start
 * `clearway serve --db DB --listen LISTEN --config ...` plus extra (NULL-terminated, may be
 * NULL), with the server's stderr in DIR/server.log, and wait (up to 180 s) for it to print its
 * URL. listen NULL means 127.0.0.1:0. db NULL means DIR/clearway.db. Reads the first-start admin
 * key. 0, or -1 with why set (the end of the server's log included).
 */
int cw_it_start(cw_it_server_t *s, const char *dir, const char *db, const char *listen,
                const char *config, const char *const *extra, char *why, size_t why_len);
/* SIGTERM and wait (up to 60 s, then SIGKILL); the exit status, or -1 if killed. */
int cw_it_stop(cw_it_server_t *s);
/* Run the command as the server would be run and return its exit status, output in out. */
int cw_it_run(const char *const *argv, char *out, size_t cap);

/* One request; key NULL for none (a key with a space in it is sent as the whole Authorization
 * value); ctype NULL for none. Fills out (free with cw_it_resp_free). */
int cw_it_request(const cw_it_server_t *s, const char *method, const char *path, const char *key,
                  const char *ctype, const void *body, size_t len, cw_it_resp_t *out);
/* The same with a JSON body (stolen; NULL for no body) sent as application/json. */
int cw_it_json(const cw_it_server_t *s, const char *method, const char *path, const char *key,
               json_t *body, cw_it_resp_t *out);
void cw_it_resp_free(cw_it_resp_t *r);
/* error.reason of an error answer, else "". */
const char *cw_it_reason(const cw_it_resp_t *r);
/* A string field of the answer's object, else "". */
const char *cw_it_str(const cw_it_resp_t *r, const char *key);
/* An integer field of the answer's object, else -1. */
long long cw_it_int(const cw_it_resp_t *r, const char *key);

/* Make an API key through the admin API: role, gate "PORT.GATE" or NULL; key and id out. */
int cw_it_make_key(const cw_it_server_t *s, const char *role, const char *gate, char key[64],
                   uint64_t *id);

/* base64 (standard, padded) of n bytes, as a new jansson string. */
json_t *cw_it_b64(const void *data, size_t n);
/* A whole file into a new buffer (free). */
int cw_it_read_file(const char *path, uint8_t **data, size_t *n);

#endif
