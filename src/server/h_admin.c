// SPDX-License-Identifier: Apache-2.0
// Operations endpoints: /healthz (no key: is the store reachable?), /metrics (Prometheus text),
// and the administrators' API keys (a new key is shown once in the answer; only its hash is
// stored).
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static int health_fn(void *ctx, cw_store_t *st)
{
    (void)ctx;
    int version = 0;
    // A read that reaches the database file (or the PostgreSQL server) every time.
    int err = cw_store_schema_version(st, &version, NULL, 0);
    uint64_t n = 0;
    if (err == 0) {
        err = cw_store_count(st, &n, NULL, 0);
    }
    return err;
}

void cw__h_healthz(cw__req_t *r, json_t *body)
{
    (void)body;
    int err = cw__with_store(r, health_fn, NULL);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(err == 0 ? "ok" : "unavailable"));
    json_object_set_new(o, "store", json_string(r->srv->info.store_backend));
    cw__reply_json(r, err == 0 ? 200 : 503, o);
    if (err != 0) {
        r->reason = "STORE_UNAVAILABLE";
    }
}

void cw__h_metrics(cw__req_t *r, json_t *body)
{
    (void)body;
    size_t n = 0;
    char *text = cw__metrics_text(r->srv, &n);
    if (text == NULL) {
        cw__reply_error(r, 500, CW_ENOMEM, "INTERNAL", "out of memory");
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "metrics");
    cw__reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, n);
    cw_free(text);
}

// ---- API keys ----

typedef struct key_add_ctx {
    cw_role_t role;
    char port[CW__PARAM_MAX], gate[CW__PARAM_MAX];
    const char *label, *actor;
    uint64_t gate_id, id;
    char key[CW_STORE_APIKEY_LEN];
    int gate_unknown;
    char diag[256];
} key_add_ctx_t;

static int key_add_fn(void *ctx, cw_store_t *st)
{
    key_add_ctx_t *k = ctx;
    if (k->role == CW_ROLE_GATE) {
        cw_store_gate_t g;
        int err = cw_store_gate_find(st, k->port, k->gate, &g, k->diag, sizeof(k->diag));
        if (err == CW_ENOENT) {
            k->gate_unknown = 1;
        }
        if (err != 0) {
            return err;
        }
        k->gate_id = g.id;
    }
    return cw_store_apikey_add(st, k->role, k->gate_id, k->label, cw__now(), k->actor, k->key,
                               &k->id, k->diag, sizeof(k->diag));
}

void cw__h_apikey_add(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"role", "gate", "label", NULL};
    key_add_ctx_t k = {.label = "", .actor = r->actor};
    const char *role = NULL, *gate = NULL;
    if (cw__body_allow(r, body, NULL, keys) || cw__get_string(r, body, "role", 1, &role) ||
        cw__get_string(r, body, "gate", 0, &gate) ||
        cw__get_string(r, body, "label", 0, &k.label)) {
        return;
    }
    k.role = cw_role_parse(role);
    if (k.role == 0) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "role must be one of gate, officer, clerk, admin");
        return;
    }
    if ((k.role == CW_ROLE_GATE) != (gate != NULL)) {
        cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD",
                        "a gate key needs \"gate\": \"PORT.GATE\"; other roles take none");
        return;
    }
    if (strlen(k.label) >= CW_STORE_LABEL_MAX) {
        cw__reply_error(r, 400, CW_ETOOBIG, "BAD_FIELD", "label is longer than %d bytes",
                        CW_STORE_LABEL_MAX - 1);
        return;
    }
    if (gate != NULL) {
        const char *dot = strchr(gate, '.');
        size_t pn = dot != NULL ? (size_t)(dot - gate) : 0;
        if (dot == NULL || pn == 0 || pn >= sizeof(k.port) || strlen(dot + 1) == 0 ||
            strlen(dot + 1) >= sizeof(k.gate)) {
            cw__reply_error(r, 400, CW_EINVAL, "BAD_FIELD", "gate must be \"PORT.GATE\"");
            return;
        }
        memcpy(k.port, gate, pn);
        memcpy(k.gate, dot + 1, strlen(dot + 1) + 1);
    }
    int err = cw__with_store(r, key_add_fn, &k);
    if (err != 0) {
        cw__reply_err(r, err, k.diag, k.gate_unknown ? "UNKNOWN_GATE" : NULL, 1);
        return;
    }
    snprintf(r->subject, sizeof(r->subject), "apikey:%llu", (unsigned long long)k.id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)k.id));
    json_object_set_new(o, "key", json_string(k.key));
    json_object_set_new(o, "role", json_string(cw_role_name(k.role)));
    json_object_set_new(o, "gate", gate != NULL ? json_string(gate) : json_null());
    json_object_set_new(o, "label", json_string(k.label));
    cw_memzero(k.key, sizeof(k.key));
    cw__reply_json(r, 201, o);
}

typedef struct key_list_ctx {
    json_t *list;
    char diag[256];
} key_list_ctx_t;

static int key_list_fn(void *ctx, cw_store_t *st)
{
    key_list_ctx_t *k = ctx;
    size_t cap = 64, n = 0;
    cw_store_apikey_t *keys = NULL;
    int err;
    for (;;) {
        cw_store_apikey_t *nk = cw_reallocarray(keys, cap, sizeof(*keys));
        if (nk == NULL) {
            cw_free(keys);
            return CW_ENOMEM;
        }
        keys = nk;
        err = cw_store_apikey_list(st, keys, cap, &n, k->diag, sizeof(k->diag));
        if (err != 0 || n <= cap || cap >= 1u << 20) {
            break;
        }
        cap = n;
    }
    for (size_t i = 0; err == 0 && i < n && i < cap; i++) {
        json_t *o = json_object();
        char gate[2 * CW_STORE_CODE_MAX + 8];
        json_object_set_new(o, "id", json_integer((json_int_t)keys[i].id));
        json_object_set_new(o, "role", json_string(cw_role_name(keys[i].role)));
        if (keys[i].role == CW_ROLE_GATE) {
            cw__gate_name(st, keys[i].gate, gate, sizeof(gate));
            json_object_set_new(o, "gate", json_string(gate));
        } else {
            json_object_set_new(o, "gate", json_null());
        }
        json_object_set_new(o, "label", json_string(keys[i].label));
        json_object_set_new(o, "created_at", json_integer(keys[i].created_at));
        json_object_set_new(o, "revoked_at",
                            keys[i].revoked_at != 0 ? json_integer(keys[i].revoked_at)
                                                    : json_null());
        json_array_append_new(k->list, o);
    }
    cw_free(keys);
    return err;
}

void cw__h_apikey_list(cw__req_t *r, json_t *body)
{
    (void)body;
    key_list_ctx_t k = {.list = json_array()};
    snprintf(r->subject, sizeof(r->subject), "apikeys");
    int err = cw__with_store(r, key_list_fn, &k);
    if (err != 0) {
        json_decref(k.list);
        cw__reply_err(r, err, k.diag, NULL, 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "apikeys", k.list);
    cw__reply_json(r, 200, o);
}

typedef struct key_revoke_ctx {
    uint64_t id;
    const char *actor;
    char diag[256];
} key_revoke_ctx_t;

static int key_revoke_fn(void *ctx, cw_store_t *st)
{
    key_revoke_ctx_t *k = ctx;
    return cw_store_apikey_revoke(st, k->id, cw__now(), k->actor, k->diag, sizeof(k->diag));
}

void cw__h_apikey_revoke(cw__req_t *r, json_t *body)
{
    (void)body;
    key_revoke_ctx_t k = {.actor = r->actor};
    snprintf(r->subject, sizeof(r->subject), "apikey:%.60s", r->params[0]);
    if (cw__parse_u64(r->params[0], &k.id) != 0 || k.id == 0) {
        cw__reply_error(r, 404, CW_ENOENT, "UNKNOWN_KEY", "no API key '%.64s'", r->params[0]);
        return;
    }
    int err = cw__with_store(r, key_revoke_fn, &k);
    if (err != 0) {
        cw__reply_err(r, err, k.diag, "UNKNOWN_KEY", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)k.id));
    json_object_set_new(o, "revoked", json_true());
    cw__reply_json(r, 200, o);
}

// ---- passenger totals ----

typedef struct pax_ctx {
    const char *port, *actor;
    cw_date_t day;
    int64_t departing, arriving;
    char diag[256];
} pax_ctx_t;

static int pax_fn(void *ctx, cw_store_t *st)
{
    pax_ctx_t *p = ctx;
    return cw_store_passengers_set(st, p->port, &p->day, p->departing, p->arriving, cw__now(),
                                   p->actor, p->diag, sizeof(p->diag));
}

void cw__h_passengers_set(cw__req_t *r, json_t *body)
{
    static const char *const keys[] = {"departing", "arriving", NULL};
    pax_ctx_t p = {.port = r->params[0], .actor = r->actor};
    snprintf(r->subject, sizeof(r->subject), "passengers:%.24s/%.10s", r->params[0], r->params[1]);
    if (cw_date_parse(r->params[1], &p.day) != 0) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_PARAMETER",
                        "the day must be a date YYYY-MM-DD (the port's local day)");
        return;
    }
    if (cw__body_allow(r, body, NULL, keys) ||
        cw__get_int(r, body, "departing", 1, 0, CW_STORE_PASSENGERS_MAX, &p.departing) ||
        cw__get_int(r, body, "arriving", 1, 0, CW_STORE_PASSENGERS_MAX, &p.arriving)) {
        return;
    }
    int err = cw__with_store(r, pax_fn, &p);
    if (err != 0) {
        cw__reply_err(r, err, p.diag, "UNKNOWN_PORT", 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "day", json_string(r->params[1]));
    json_object_set_new(o, "port", json_string(p.port));
    json_object_set_new(o, "departing", json_integer((json_int_t)p.departing));
    json_object_set_new(o, "arriving", json_integer((json_int_t)p.arriving));
    cw__reply_json(r, 200, o);
}

// ---- live figures for the dashboard ----

void cw__h_stats_live(cw__req_t *r, json_t *body)
{
    (void)body;
    cw__live_t lv;
    cw__metrics_live(r->srv, &lv);
    json_t *g = json_array();
    for (int i = 0; i < lv.n_galleries; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "programme", json_string(cw_programme_name(lv.programme[i])));
        json_object_set_new(o, "size", json_integer((json_int_t)lv.size[i]));
        // A cap of 0 means none: null, so a chart draws no line rather than a line at zero.
        json_object_set_new(o, "cap",
                            lv.cap[i] > 0 ? json_integer((json_int_t)lv.cap[i]) : json_null());
        json_array_append_new(g, o);
    }
    json_t *lat = json_object();
    json_object_set_new(lat, "p50", lv.count > 0 ? json_real(lv.p50_ms) : json_null());
    json_object_set_new(lat, "p99", lv.count > 0 ? json_real(lv.p99_ms) : json_null());
    json_object_set_new(lat, "count", json_integer((json_int_t)lv.count));
    json_t *o = json_object();
    json_object_set_new(o, "galleries", g);
    json_object_set_new(o, "latency_ms", lat);
    json_object_set_new(o, "open_transactions", json_integer((json_int_t)lv.open_transactions));
    snprintf(r->subject, sizeof(r->subject), "stats");
    cw__reply_json(r, 200, o);
}
