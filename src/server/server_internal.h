/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's internals shared by its files: the route table entry and the per-request state
 * handlers work on (http.c runs the request, routes.c holds the table, reply.c builds answers,
 * json.c reads request bodies, metrics.c counts, h_*.c are the handlers, server.c the
 * lifecycle). Nothing here is public.
 */
#ifndef CW_SERVER_INTERNAL_H
#define CW_SERVER_INTERNAL_H

#include "clearway/clearance.h"
#include "clearway/server.h"
#include "clearway/store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct MHD_Daemon;
struct MHD_Connection;

enum {
    CW__MAX_PARAMS = 4,
    CW__PARAM_MAX = 64,
    CW__ACTOR_MAX = 64,
    CW__SUBJECT_MAX = 96,
    CW__PATH_MAX = 256,
};

/* Role bits of a route's allowed set; a route with no bits is public (no key needed). */
#define CW__ROLE(r) (1u << (unsigned)(r))
#define CW__GATE CW__ROLE(CW_ROLE_GATE)
#define CW__OFFICER CW__ROLE(CW_ROLE_OFFICER)
#define CW__CLERK CW__ROLE(CW_ROLE_CLERK)
#define CW__ADMIN CW__ROLE(CW_ROLE_ADMIN)

typedef enum cw__body {
    CW__BODY_NONE = 0, /* no body expected (a body sent anyway is read within the cap, ignored) */
    CW__BODY_OPTIONAL, /* empty, or a JSON object */
    CW__BODY_JSON,     /* a JSON object */
} cw__body_t;

typedef struct cw__req cw__req_t;
/* A handler reads r (params, principal, gate) and body (NULL when empty), and answers with
 * cw__reply_json / cw__reply_error. It never fails without answering. */
typedef void (*cw__handler_fn)(cw__req_t *r, json_t *body);

typedef struct cw__route {
    const char *name;    /* metrics label and audit action */
    const char *method;  /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern; /* "/v1/gates/{gate}/transactions/{txn}/face"; a final '*' matches the
                            rest of the path, slashes included (not copied into the params) */
    unsigned roles;      /* CW__ROLE bits; 0 = public */
    cw__body_t body;
    int gate_bound; /* {gate} is the first parameter: a gate key may only use its own gate */
    cw__handler_fn fn;
} cw__route_t;

extern const cw__route_t cw__routes[];
extern const size_t cw__n_routes;

/*
 * cw__route_match: the route for method and path. Returns its index with the parameters
 * copied into params; -1 if no pattern matches the path (404); -2 if patterns match but not for
 * this method (405, with the methods that would be allowed in allow, comma-separated); -3 if
 * a path parameter is longer than CW__PARAM_MAX (404).
 */
int cw__route_match(const char *method, const char *path, char params[][CW__PARAM_MAX],
                    int *n_params, char *allow, size_t allow_cap);

/* ---- metrics ---- */

enum { CW__N_STATUS = 14, CW__N_BUCKETS = 12 };

typedef struct cw__route_metrics {
    _Atomic uint64_t by_status[CW__N_STATUS];
    _Atomic uint64_t bucket[CW__N_BUCKETS]; /* not cumulative; the +Inf bucket is count */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
} cw__route_metrics_t;

/* ---- the server ---- */

struct cw_server {
    cw_clearance_t *clr;
    struct MHD_Daemon *mhd;
    int listen_fd;
    char *tls_cert_pem, *tls_key_pem;
    size_t tls_cert_len, tls_key_len;
    cw_server_info_t info;
    size_t max_body;
    cw_store_retention_t retention;
    int64_t started_at;
    atomic_int in_flight;
    cw__route_metrics_t *metrics; /* cw__n_routes + 1 (the last: requests matching no route) */
    char *web_root; /* the pages' folder, resolved (realpath; free); NULL: none served */
    _Atomic uint64_t audit_failures, expired, purged, maintenance_errors;
    /* maintenance thread */
    pthread_t maint;
    int maint_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int maint_stop;
};

/* ---- one request ---- */

struct cw__req {
    cw_server_t *srv;
    struct MHD_Connection *conn;
    int route; /* index into cw__routes, -1 when none matched */
    char method[8];
    char path[CW__PATH_MAX];
    int path_long; /* the path did not fit in path (cut short there) */
    char params[CW__MAX_PARAMS][CW__PARAM_MAX];
    int n_params;
    /* the principal (authed = 1 once the key checked) */
    int authed;
    cw_store_apikey_t key;
    char actor[CW__ACTOR_MAX]; /* "apikey:<id>/<role>", "anonymous" */
    /* gate-bound routes: the gate named by {gate} */
    cw_store_gate_t gate;
    char subject[CW__SUBJECT_MAX]; /* audit subject: "gate:HKG.E01", "clearance:42", ... */
    /* the body as read so far (wiped when freed: it carries images) */
    uint8_t *body;
    size_t len, cap;
    int body_over; /* the cap was exceeded */
    struct timespec t0;
    /* the answer */
    int answered;
    int status;
    const char *reason; /* the error reason, for the access log; static */
    char *out;          /* serialised body (jansson allocator: wiped when freed) */
    size_t out_len;
    const char *content_type;
    char allow[48];    /* 405: the Allow header */
    char timing[160];  /* gate steps: the Server-Timing header (where the time went) */
    int no_audit;      /* public routes */
    int ui;            /* a page file (or its refusal): the pages' caching and CSP headers */
    char location[16]; /* a redirect's Location */
};

/* ---- replies (reply.c) ---- */

/* Answer with status and obj (stolen; serialised compactly). */
void cw__reply_json(cw__req_t *r, int status, json_t *obj);
/* Answer with a preformatted text body (copied), e.g. the metrics. */
void cw__reply_text(cw__req_t *r, int status, const char *content_type, const char *text,
                    size_t len);
/* Answer with body (len bytes from cw__json_malloc; stolen) of content_type (static). */
void cw__reply_owned(cw__req_t *r, int status, const char *content_type, char *body, size_t len);
/* The JSON error body {"error": {status, code, reason, message}}; reason is a static string. */
void cw__reply_error(cw__req_t *r, int status, int err, const char *reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/*
 * Map an error code from the service or the store to a status: ENOENT 404 (with
 * enoent_reason), EEXIST / ESTATE / EBUSY 409, EINVAL / EFORMAT / ETOOBIG / EOVERFLOW 400, EIO /
 * EDB / store-side EBUSY 503 STORE_UNAVAILABLE (store_call = 1), others 500. diag is shown to
 * every role but gates (gate devices get the generic message).
 */
void cw__reply_err(cw__req_t *r, int err, const char *diag, const char *enoent_reason,
                   int store_call);
/* 1 if err means the store could not be reached or used. */
int cw__store_unavailable(int err);

/* ---- request bodies (json.c) ---- */

/* Make jansson allocate through cw_malloc and wipe what it frees (request bodies carry
 * images and personal data). Idempotent; called before any JSON is made. */
void cw__json_init(void);
/* Allocate as jansson does / free a buffer so allocated (json_dumps output), wiping it. */
void *cw__json_malloc(size_t size);
void cw__json_free(void *p);

/* Each reader answers 400 and returns -1 on a problem; 0 otherwise. A missing optional field
 * leaves *out unchanged and returns 0 (with *present = 0 where present is given). */
int cw__body_allow(cw__req_t *r, json_t *obj, const char *where, const char *const *keys);
int cw__get_string(cw__req_t *r, json_t *obj, const char *key, int required, const char **out);
int cw__get_text(cw__req_t *r, json_t *obj, const char *key, int required, char *dst, size_t cap);
int cw__get_int(cw__req_t *r, json_t *obj, const char *key, int required, int64_t min, int64_t max,
                int64_t *out);
int cw__get_bool(cw__req_t *r, json_t *obj, const char *key, int required, int *out);
int cw__get_date(cw__req_t *r, json_t *obj, const char *key, int required, cw_date_t *out);
/* base64 (RFC 4648 with padding; whitespace ignored) into a new buffer (cw_free_wipe). */
int cw__get_b64(cw__req_t *r, json_t *obj, const char *key, int required, uint8_t **out,
                size_t *len);
int cw__b64_decode(const char *s, size_t n, uint8_t **out, size_t *len);

/* Unsigned decimal (no sign, no leading zeros but "0", no overflow); -1 if malformed. */
int cw__parse_u64(const char *s, uint64_t *out);

/* ---- store access ---- */

/* Run fn with a store handle from the service's pool. */
int cw__with_store(cw__req_t *r, cw_clearance_store_fn fn, void *ctx);

/* "PORT.GATE" of a gate id (looked up), or "gate:<id>" when unknown; into buf. */
void cw__gate_name(cw_store_t *st, uint64_t gate, char *buf, size_t cap);

/* ---- metrics (metrics.c) ---- */

void cw__metrics_record(cw_server_t *s, int route, int status, double seconds);
/* The Prometheus exposition text (cw_free). */
char *cw__metrics_text(cw_server_t *s, size_t *len);

/*
 * The live figures of GET /v1/stats/live, from the same sources as the exposition text: the
 * 1:N galleries' sizes and caps and the open transactions from cw_clearance_stats, and the
 * decision latency estimated from the request-duration histogram of the gate step routes
 * (face, document, confirm, inside) pooled: no raw samples are kept, so p50 and p99 are
 * interpolated linearly within a bucket, as Prometheus' histogram_quantile does (a quantile in
 * the last, open bucket is reported as its lower bound, 30 s).
 */
typedef struct cw__live {
    int n_galleries;
    cw_programme_t programme[3];
    uint64_t size[3], cap[3]; /* cap 0: none */
    uint64_t count;           /* gate step requests measured */
    double p50_ms, p99_ms;    /* 0 when count is 0 */
    uint64_t open_transactions;
} cw__live_t;
void cw__metrics_live(cw_server_t *s, cw__live_t *out);
/* The q-quantile (0..1) of a histogram with n finite buckets (upper bounds, not cumulative
 * counts) plus `over` observations above the last bound; 0 when empty. */
double cw__histogram_quantile(const double *bounds, const uint64_t *counts, int n, uint64_t over,
                              double q);

/* ---- HTTP (http.c) ---- */

int cw__http_start(cw_server_t *s, int http_threads, int timeout_s, char *diag, size_t diag_len);
void cw__http_stop(cw_server_t *s);

/* ---- handlers (h_*.c) ---- */

void cw__h_healthz(cw__req_t *r, json_t *body);
void cw__h_metrics(cw__req_t *r, json_t *body);
void cw__h_txn_begin(cw__req_t *r, json_t *body);
void cw__h_txn_face(cw__req_t *r, json_t *body);
void cw__h_txn_document(cw__req_t *r, json_t *body);
void cw__h_txn_confirm(cw__req_t *r, json_t *body);
void cw__h_txn_inside(cw__req_t *r, json_t *body);
void cw__h_txn_abandon(cw__req_t *r, json_t *body);
void cw__h_traveller_enrol(cw__req_t *r, json_t *body);
void cw__h_traveller_get(cw__req_t *r, json_t *body);
void cw__h_traveller_delete(cw__req_t *r, json_t *body);
void cw__h_consent_withdraw(cw__req_t *r, json_t *body);
void cw__h_token_issue(cw__req_t *r, json_t *body);
void cw__h_token_revoke(cw__req_t *r, json_t *body);
void cw__h_referrals(cw__req_t *r, json_t *body);
void cw__h_clearance_get(cw__req_t *r, json_t *body);
void cw__h_referral_resolve(cw__req_t *r, json_t *body);
void cw__h_reports(cw__req_t *r, json_t *body);
void cw__h_apikey_add(cw__req_t *r, json_t *body);
void cw__h_apikey_list(cw__req_t *r, json_t *body);
void cw__h_apikey_revoke(cw__req_t *r, json_t *body);
void cw__h_passengers_set(cw__req_t *r, json_t *body);
void cw__h_stats_live(cw__req_t *r, json_t *body);
void cw__h_ui_root(cw__req_t *r, json_t *body);
void cw__h_ui_file(cw__req_t *r, json_t *body);

/* Query parameters of the request: answers 400 for a parameter not in keys. */
int cw__query_allow(cw__req_t *r, const char *const *keys);
const char *cw__query(cw__req_t *r, const char *key);

/*
 * cw__listen_parse: "ADDR:PORT" / "[ADDR6]:PORT" (numeric, or "localhost") into a socket
 * address; *loopback = 1 for 127.0.0.0/8, ::1 and v4-mapped 127/8. CW_EINVAL if malformed.
 */
int cw__listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *ss_len,
                     int *loopback, char *diag, size_t diag_len);

/* Unix time now. */
int64_t cw__now(void);

#endif
