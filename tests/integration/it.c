// SPDX-License-Identifier: Apache-2.0
// The integration tests' harness (see it.h): start and stop the real `clearway serve`, and talk
// to it over HTTP with libcurl.
#define _DEFAULT_SOURCE 1 // mkdtemp, prctl
#include "it.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CW_TEST_CLEARWAY
#error "CW_TEST_CLEARWAY must name the clearway binary"
#endif

int cw_it_tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/cw-it-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

int cw_it_read_file(const char *path, uint8_t **data, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fclose(f);
            return -1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (nb == NULL) {
            free(buf);
        }
        buf = nb;
    }
    fclose(f);
    *data = buf;
    *n = len;
    return 0;
}

static void log_tail(const char *log, char *why, size_t why_len)
{
    uint8_t *data = NULL;
    size_t n = 0;
    size_t used = strlen(why);
    if (cw_it_read_file(log, &data, &n) != 0) {
        return;
    }
    size_t from = n > 1500 ? n - 1500 : 0;
    snprintf(why + used, why_len - used, "\n--- server log (end) ---\n%.*s", (int)(n - from),
             (const char *)data + from);
    free(data);
}

static void child_exec(const char *const *argv, int out_fd, const char *log)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int lf = log != NULL ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : out_fd;
    dup2(out_fd, 1);
    dup2(lf >= 0 ? lf : out_fd, 2);
    if (getenv("CLEARWAY_DEPS") == NULL) {
        setenv("CLEARWAY_DEPS", CW_TEST_DEPS_DIR, 1);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

int cw_it_start(cw_it_server_t *s, const char *dir, const char *db, const char *listen,
                const char *config, const char *const *extra, char *why, size_t why_len)
{
    char cfg_path[300];
    const char *argv[32];
    int n = 0;
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    snprintf(s->log, sizeof(s->log), "%s/server.log", dir);
    if (db != NULL) {
        snprintf(s->db, sizeof(s->db), "%s", db);
    } else {
        snprintf(s->db, sizeof(s->db), "%s/clearway.db", dir);
    }
    argv[n++] = CW_TEST_CLEARWAY;
    argv[n++] = "serve";
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--listen";
    argv[n++] = listen != NULL ? listen : "127.0.0.1:0";
    if (config != NULL) {
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
        FILE *f = fopen(cfg_path, "w");
        if (f == NULL || fputs(config, f) < 0 || fclose(f) != 0) {
            snprintf(why, why_len, "cannot write %s", cfg_path);
            return -1;
        }
        argv[n++] = "--config";
        argv[n++] = cfg_path;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
        if (strcmp(extra[i], "--tls-cert") == 0 && extra[i + 1] != NULL) {
            snprintf(s->cacert, sizeof(s->cacert), "%s", extra[i + 1]);
        }
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(argv, fds[1], s->log);
    }
    close(fds[1]);
    s->pid = pid;
    // Read stdout until the last start-up line ("press Ctrl-C").
    char out[4096] = "";
    size_t used = 0;
    time_t deadline = time(NULL) + 180;
    int done = 0;
    while (!done && time(NULL) < deadline) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 500) <= 0) {
            continue;
        }
        ssize_t got = read(fds[0], out + used, sizeof(out) - 1 - used);
        if (got <= 0) {
            break; // the server exited
        }
        used += (size_t)got;
        out[used] = '\0';
        done = strstr(out, "press Ctrl-C") != NULL;
    }
    close(fds[0]);
    const char *u = strstr(out, "listening on ");
    if (!done || u == NULL) {
        snprintf(why, why_len, "the server did not start; stdout: %s", out);
        log_tail(s->log, why, why_len);
        cw_it_stop(s);
        return -1;
    }
    sscanf(u + strlen("listening on "), "%159s", s->url);
    char key_file[600];
    const char *k = strstr(out, "admin API key is in ");
    if (k != NULL) {
        sscanf(k + strlen("admin API key is in "), "%511s", key_file);
    } else {
        snprintf(key_file, sizeof(key_file), "%s.admin-key", s->db);
    }
    FILE *f = fopen(key_file, "r");
    if (f != NULL) {
        if (fscanf(f, "%63s", s->admin_key) != 1) {
            s->admin_key[0] = '\0';
        }
        fclose(f);
    }
    return 0;
}

int cw_it_stop(cw_it_server_t *s)
{
    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 600; i++) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return -1;
}

int cw_it_run(const char *const *argv, char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(argv, fds[1], NULL);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t got;
    while (used + 1 < cap && (got = read(fds[0], out + used, cap - 1 - used)) > 0) {
        used += (size_t)got;
    }
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- HTTP ----

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    cw_it_resp_t *r = ctx;
    size_t n = size * nmemb;
    char *nb = realloc(r->body, r->len + n + 1);
    if (nb == NULL) {
        return 0;
    }
    memcpy(nb + r->len, ptr, n);
    r->body = nb;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t collect_header(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    cw_it_resp_t *r = ctx;
    size_t n = size * nmemb, have = r->headers != NULL ? strlen(r->headers) : 0;
    char *nb = realloc(r->headers, have + n + 1);
    if (nb == NULL) {
        return 0;
    }
    memcpy(nb + have, ptr, n);
    nb[have + n] = '\0';
    r->headers = nb;
    return n;
}

int cw_it_request(const cw_it_server_t *s, const char *method, const char *path, const char *key,
                  const char *ctype, const void *body, size_t len, cw_it_resp_t *out)
{
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return -1;
    }
    char url[1024], auth[128], ct[128];
    // The server's URL ends in '/', paths start with one.
    snprintf(url, sizeof(url), "%.*s%s", (int)strlen(s->url) - 1, s->url, path);
    struct curl_slist *h = NULL;
    if (key != NULL) {
        // A "key" with a space in it is the whole header value (malformed-header tests).
        snprintf(auth, sizeof(auth), "Authorization: %s%s", strchr(key, ' ') ? "" : "Bearer ", key);
        h = curl_slist_append(h, auth);
    }
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype != NULL ? ctype : "");
    h = curl_slist_append(h, ct);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    // Paths are sent as written ("/ui/../x" too): the server, not curl, must refuse them.
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (body != NULL || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (s->cacert[0] != '\0') {
        curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
    }
    out->curl_err = (int)curl_easy_perform(c);
    if (out->curl_err == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out->body != NULL) {
        out->json = json_loadb(out->body, out->len, 0, NULL);
    }
    return out->curl_err == CURLE_OK ? 0 : -1;
}

int cw_it_json(const cw_it_server_t *s, const char *method, const char *path, const char *key,
               json_t *body, cw_it_resp_t *out)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = cw_it_request(s, method, path, key, text != NULL ? "application/json" : NULL, text,
                           text != NULL ? strlen(text) : 0, out);
    free(text);
    return rc;
}

void cw_it_resp_free(cw_it_resp_t *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

const char *cw_it_reason(const cw_it_resp_t *r)
{
    json_t *e = json_object_get(r->json, "error");
    const char *s = json_string_value(json_object_get(e, "reason"));
    return s != NULL ? s : "";
}

const char *cw_it_str(const cw_it_resp_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    return s != NULL ? s : "";
}

long long cw_it_int(const cw_it_resp_t *r, const char *key)
{
    json_t *v = json_object_get(r->json, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

int cw_it_make_key(const cw_it_server_t *s, const char *role, const char *gate, char key[64],
                   uint64_t *id)
{
    json_t *b = json_pack("{s:s, s:s}", "role", role, "label", "test");
    if (gate != NULL) {
        json_object_set_new(b, "gate", json_string(gate));
    }
    cw_it_resp_t r;
    cw_it_json(s, "POST", "/v1/apikeys", s->admin_key, b, &r);
    int ok = r.status == 201 && cw_it_str(&r, "key")[0] != '\0';
    if (ok) {
        snprintf(key, 64, "%s", cw_it_str(&r, "key"));
        if (id != NULL) {
            *id = (uint64_t)cw_it_int(&r, "id");
        }
    } else {
        fprintf(stderr, "making a %s key failed: %ld %s\n", role, r.status,
                r.body != NULL ? r.body : "");
    }
    cw_it_resp_free(&r);
    return ok ? 0 : -1;
}

json_t *cw_it_b64(const void *data, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    sodium_bin2base64(buf, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(buf);
    free(buf);
    return s;
}
