// SPDX-License-Identifier: Apache-2.0
// One request through libmicrohttpd: route match (404 / 405), the API key (401), the route's
// roles and the gate binding (403), content type (415) and declared length (413) all decided
// from the headers before any body byte is read; then the body, read incrementally into a
// buffer that may never exceed max_body_bytes (413 the moment it would), parsed as JSON (400),
// and the handler. Every routed request is audited with its principal (one store write) and
// counted for /metrics; request buffers are wiped when freed.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/log.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int64_t cw__now(void)
{
    return (int64_t)time(NULL);
}

int cw__with_store(cw__req_t *r, cw_clearance_store_fn fn, void *ctx)
{
    return cw_clearance_with_store(r->srv->clr, fn, ctx);
}

void cw__gate_name(cw_store_t *st, uint64_t gate, char *buf, size_t cap)
{
    cw_store_gate_t g;
    if (gate != 0 && cw_store_gate_get(st, gate, &g, NULL, 0) == 0) {
        snprintf(buf, cap, "%s.%s", g.port_code, g.code);
    } else {
        snprintf(buf, cap, "gate:%llu", (unsigned long long)gate);
    }
}

const char *cw__query(cw__req_t *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct query_check {
    const char *const *keys;
    const char *bad;
} query_check_t;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    (void)value;
    query_check_t *q = cls;
    for (size_t i = 0; q->keys[i] != NULL; i++) {
        if (strcmp(q->keys[i], key) == 0) {
            return MHD_YES;
        }
    }
    q->bad = key;
    return MHD_NO;
}

int cw__query_allow(cw__req_t *r, const char *const *keys)
{
    query_check_t q = {keys, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
    if (q.bad != NULL) {
        cw__reply_error(r, 400, CW_EFORMAT, "UNKNOWN_PARAMETER", "unknown query parameter '%.64s'",
                        q.bad);
        return -1;
    }
    return 0;
}

// ---- authentication and the gate binding (one store call) ----

typedef struct auth_ctx {
    const char *key;
    cw_store_apikey_t rec;
    int key_err;
    int gate_bound;
    char port[CW__PARAM_MAX], gate[CW__PARAM_MAX];
    cw_store_gate_t g;
    int gate_err;
    char diag[256];
} auth_ctx_t;

static int auth_fn(void *ctx, cw_store_t *st)
{
    auth_ctx_t *a = ctx;
    a->key_err = cw_store_apikey_check(st, a->key, &a->rec, a->diag, sizeof(a->diag));
    if (a->key_err != 0 && a->key_err != CW_ENOENT && a->key_err != CW_EPERM) {
        return a->key_err; // the store itself failed
    }
    if (a->key_err == 0 && a->gate_bound) {
        a->gate_err = a->port[0] != '\0' ? cw_store_gate_find(st, a->port, a->gate, &a->g, a->diag,
                                                              sizeof(a->diag))
                                         : CW_ENOENT;
        if (a->gate_err != 0 && a->gate_err != CW_ENOENT) {
            return a->gate_err;
        }
    }
    return 0;
}

// "PORT.GATE" into its two codes; empty port when malformed.
static void split_gate(const char *param, char *port, char *gate)
{
    const char *dot = strchr(param, '.');
    port[0] = gate[0] = '\0';
    if (dot == NULL || dot == param || dot[1] == '\0' || strchr(dot + 1, '.') != NULL) {
        return;
    }
    memcpy(port, param, (size_t)(dot - param));
    port[dot - param] = '\0';
    memcpy(gate, dot + 1, strlen(dot + 1) + 1);
}

static void authenticate(cw__req_t *r, const cw__route_t *rt)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (h == NULL) {
        cw__reply_error(r, 401, CW_EPERM, "UNAUTHENTICATED",
                        "an API key is required: Authorization: Bearer cwk_...");
        return;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        cw__reply_error(r, 401, CW_EPERM, "UNAUTHENTICATED",
                        "the Authorization header must be: Bearer cwk_...");
        return;
    }
    const char *key = h + 7;
    while (*key == ' ') {
        key++;
    }
    if (strlen(key) >= CW_STORE_APIKEY_LEN) {
        cw__reply_error(r, 401, CW_EPERM, "UNKNOWN_KEY", "unknown API key");
        return;
    }
    auth_ctx_t a = {.key = key, .gate_bound = rt->gate_bound};
    if (rt->gate_bound) {
        split_gate(r->params[0], a.port, a.gate);
    }
    int err = cw__with_store(r, auth_fn, &a);
    if (err != 0) {
        cw__reply_err(r, err, a.diag, NULL, 1);
        return;
    }
    if (a.key_err == CW_EPERM) {
        cw__reply_error(r, 401, CW_EPERM, "KEY_REVOKED", "this API key has been revoked");
        return;
    }
    if (a.key_err != 0) {
        cw__reply_error(r, 401, CW_EPERM, "UNKNOWN_KEY", "unknown API key");
        return;
    }
    r->authed = 1;
    r->key = a.rec;
    snprintf(r->actor, sizeof(r->actor), "apikey:%llu/%s", (unsigned long long)a.rec.id,
             cw_role_name(a.rec.role));
    if ((rt->roles & CW__ROLE(a.rec.role)) == 0) {
        cw__reply_error(r, 403, CW_EPERM, "FORBIDDEN", "the %s role may not call %s %s",
                        cw_role_name(a.rec.role), rt->method, rt->pattern);
        return;
    }
    if (!rt->gate_bound) {
        return;
    }
    // A gate key learns nothing about other gates: unknown and foreign gates are both 403.
    if (a.rec.role == CW_ROLE_GATE && (a.gate_err != 0 || a.g.id != a.rec.gate)) {
        cw__reply_error(r, 403, CW_EPERM, "WRONG_GATE", "this key is bound to another gate");
        return;
    }
    if (a.gate_err != 0) {
        cw__reply_error(r, 404, CW_ENOENT, "UNKNOWN_GATE", "no gate '%s' (PORT.GATE codes)",
                        r->params[0]);
        return;
    }
    r->gate = a.g;
    snprintf(r->subject, sizeof(r->subject), "gate:%s.%s", a.g.port_code, a.g.code);
}

// ---- the checks made on the headers ----

static int is_json_type(const char *ct)
{
    if (ct == NULL) {
        return 0;
    }
    while (*ct == ' ') {
        ct++;
    }
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    ct += n;
    while (*ct == ' ') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

static void check_headers(cw__req_t *r, const cw__route_t *rt)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    uint64_t declared = 0;
    int has_body = te != NULL || (cl != NULL && (cw__parse_u64(cl, &declared) != 0 || declared));
    if (rt->body == CW__BODY_JSON || (rt->body == CW__BODY_OPTIONAL && has_body)) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(ct)) {
            cw__reply_error(r, 415, CW_EUNSUPPORTED, "UNSUPPORTED_MEDIA_TYPE",
                            "the body must be application/json (got %.64s)",
                            ct != NULL ? ct : "no Content-Type");
            return;
        }
    }
    if (declared > r->srv->max_body) {
        cw__reply_error(r, 413, CW_ETOOBIG, "BODY_TOO_LARGE",
                        "the body is larger than max_body_bytes (%zu)", r->srv->max_body);
        return;
    }
    // The buffer grows as bytes arrive (not from the declared length): a client that declares
    // a large body and stalls holds no more memory than it has sent.
}

static void start_request(cw__req_t *r, const char *method, const char *url)
{
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->path, sizeof(r->path), "%s", url);
    r->path_long = strlen(url) >= sizeof(r->path);
    // The path goes into logs and the audit trail: no control characters (no forged lines).
    for (char *c = r->path; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
    for (char *c = r->method; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
    snprintf(r->actor, sizeof(r->actor), "anonymous");
    snprintf(r->subject, sizeof(r->subject), "%.95s", r->path);
    int idx = cw__route_match(method, url, r->params, &r->n_params, r->allow, sizeof(r->allow));
    if (idx == -2) {
        r->route = -1;
        cw__reply_error(r, 405, CW_EINVAL, "METHOD_NOT_ALLOWED", "%s is not allowed here (%s)",
                        r->method, r->allow);
        return;
    }
    if (idx < 0) {
        r->route = -1;
        cw__reply_error(r, 404, CW_ENOENT, "NOT_FOUND", "no such endpoint");
        return;
    }
    r->route = idx;
    const cw__route_t *rt = &cw__routes[idx];
    if (rt->roles == 0) {
        r->no_audit = 1;
    } else {
        authenticate(r, rt);
    }
    if (!r->answered) {
        check_headers(r, rt);
    }
}

// ---- body ----

static int append_body(cw__req_t *r, const char *data, size_t n)
{
    size_t max = r->srv->max_body;
    if (n > max - r->len) {
        return CW_ETOOBIG;
    }
    if (n > r->cap - r->len) {
        // Grow by doubling (never past the cap); the old block is wiped, not just freed.
        size_t cap = r->cap > 0 ? r->cap : 64 * 1024;
        while (cap - r->len < n) {
            cap = cap > max / 2 ? max : cap * 2;
        }
        uint8_t *nb = cw_malloc(cap);
        if (nb == NULL) {
            return CW_ENOMEM;
        }
        if (r->len > 0) {
            memcpy(nb, r->body, r->len);
        }
        cw_free_wipe(r->body, r->cap);
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 0;
}

static void run_handler(cw__req_t *r)
{
    const cw__route_t *rt = &cw__routes[r->route];
    json_t *body = NULL;
    if (r->len > 0 && rt->body != CW__BODY_NONE) {
        json_error_t jerr;
        body = json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
        if (body == NULL) {
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_JSON",
                            "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                            jerr.text);
            return;
        }
        if (!json_is_object(body)) {
            json_decref(body);
            cw__reply_error(r, 400, CW_EFORMAT, "BAD_JSON", "the body must be a JSON object");
            return;
        }
    } else if (rt->body == CW__BODY_JSON) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_JSON", "a JSON object body is required");
        return;
    }
    rt->fn(r, body);
    json_decref(body);
    if (!r->answered) {
        cw__reply_error(r, 500, CW_EINTERNAL, "INTERNAL", "no answer");
    }
}

// ---- audit and sending ----

typedef struct audit_ctx {
    cw__req_t *r;
    char detail[96];
} audit_ctx_t;

static int audit_fn(void *ctx, cw_store_t *st)
{
    audit_ctx_t *a = ctx;
    return cw_store_audit_append(st, cw__now(), a->r->actor, cw__routes[a->r->route].name,
                                 a->r->subject, a->detail, NULL, 0);
}

static void audit(cw__req_t *r)
{
    if (r->route < 0 || r->no_audit || r->status == 503) {
        return;
    }
    audit_ctx_t a = {.r = r};
    snprintf(a.detail, sizeof(a.detail), "status=%d%s%s", r->status, r->reason ? " reason=" : "",
             r->reason ? r->reason : "");
    int err = cw__with_store(r, audit_fn, &a);
    if (err == 0) {
        return;
    }
    atomic_fetch_add(&r->srv->audit_failures, 1);
    cw_log(CW_LOG_ERROR, "server", "%s %s: audit entry not written (%s)", r->method, r->path,
           cw_err_name(err));
    // Nothing is disclosed without a trail: a read whose audit failed is not answered.
    if (strcmp(r->method, "GET") == 0 && r->status < 400) {
        cw__reply_error(r, 503, err, "STORE_UNAVAILABLE",
                        "the audit log cannot be written; nothing was disclosed");
    }
}

static void free_out(void *p)
{
    cw__json_free(p);
}

static enum MHD_Result send_answer(cw__req_t *r)
{
    audit(r);
    static const char fallback[] = "{\"error\":{\"status\":500,\"code\":\"CW_ENOMEM\","
                                   "\"reason\":\"INTERNAL\",\"message\":\"out of memory\"}}";
    struct MHD_Response *resp;
    if (r->out != NULL) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->out_len, r->out, free_out);
        if (resp != NULL) {
            r->out = NULL; // the response owns it now
        }
    } else {
        r->status = 500;
        resp = MHD_create_response_from_buffer(sizeof(fallback) - 1, (void *)fallback,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    // The pages may be cached if revalidated; API answers never are.
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->ui ? "no-cache" : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->ui) {
        // Scripts, styles and connections from this server only; the camera's frames are blob:
        // media and canvas captures data: images.
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data: blob:; media-src 'self' blob:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'; form-action 'self'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (r->location[0] != '\0') {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    }
    if (r->status == 405) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    }
    if (r->status == 401) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    if (r->timing[0] != '\0') {
        MHD_add_response_header(resp, "Server-Timing", r->timing);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    cw_server_t *s = cls;
    cw__req_t *r = *con_cls;
    if (r == NULL) {
        r = cw_calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        r->srv = s;
        r->conn = conn;
        r->route = -1;
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        atomic_fetch_add(&s->in_flight, 1);
        start_request(r, method, url);
        return r->answered ? send_answer(r) : MHD_YES;
    }
    r->conn = conn;
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->answered) {
            return MHD_YES; // answered from the headers; MHD discards the rest
        }
        int err = append_body(r, upload_data, n);
        if (err == 0) {
            return MHD_YES;
        }
        if (err == CW_ETOOBIG) {
            r->body_over = 1;
            cw__reply_error(r, 413, err, "BODY_TOO_LARGE",
                            "the body is larger than max_body_bytes (%zu)", s->max_body);
        } else {
            cw__reply_error(r, 500, err, "INTERNAL", "out of memory");
        }
        // MHD cannot answer in the middle of a body it is still reading: the connection is
        // closed at once instead (the request is counted and audited with its status).
        audit(r);
        return MHD_NO;
    }
    if (r->answered) {
        return MHD_YES;
    }
    run_handler(r);
    // The body held images; it is no longer needed.
    cw_free_wipe(r->body, r->cap);
    r->body = NULL;
    r->len = r->cap = 0;
    return send_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    cw_server_t *s = cls;
    cw__req_t *r = *con_cls;
    if (r == NULL) {
        return;
    }
    *con_cls = NULL;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) * 1e-9;
    if (r->answered) {
        cw__metrics_record(s, r->route, r->status, secs);
        cw_log(CW_LOG_INFO, "http", "%s %s %d %.1f ms %s%s%s", r->method, r->path, r->status,
               secs * 1e3, r->actor, r->reason != NULL ? " " : "",
               r->reason != NULL ? r->reason : "");
    } else {
        cw_log(CW_LOG_INFO, "http", "%s %s dropped after %.1f ms (%s) %s", r->method, r->path,
               secs * 1e3, toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" : "closed",
               r->actor);
    }
    cw_free_wipe(r->body, r->cap);
    cw__json_free(r->out);
    cw_free_wipe(r, sizeof(*r));
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    cw_log(CW_LOG_WARN, "http", "%s", line);
}

int cw__http_start(cw_server_t *s, int http_threads, int timeout_s, char *diag, size_t diag_len)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (s->tls_cert_pem != NULL) {
        flags |= MHD_USE_TLS;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    // The logger goes first so that MHD reports even option errors through it.
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, http_threads > 1 ? http_threads : 0, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 1000, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_END, 0, NULL}, // TLS options go here
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (s->tls_cert_pem != NULL) {
        size_t i = 7;
        opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
        opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
        opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    if (s->mhd == NULL) {
        return cw_diag_set(diag, diag_len, CW_EIO,
                           "cannot start the HTTP server (libmicrohttpd refused the options%s)",
                           s->tls_cert_pem != NULL ? "; is the TLS certificate/key valid?" : "");
    }
    return 0;
}

void cw__http_stop(cw_server_t *s)
{
    if (s->mhd == NULL) {
        return;
    }
    // Stop accepting, let the requests in flight finish (at most 10 s), then close.
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
        s->listen_fd = -1;
    }
    for (int i = 0; i < 1000 && atomic_load(&s->in_flight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
