// SPDX-License-Identifier: Apache-2.0
// The server's configuration: defaults, the JSON file (every key checked for type and range,
// unknown keys refused with their path, e.g. "policies.contactless.face_fmr"), the listen
// address, and the checks across keys (TLS files in pairs, plain HTTP only on loopback).
// docs/api.md documents each key; keep the two in step.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_LEN = 128 };

int cw_server_config_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value != NULL) {
        copy = cw_strdup(value);
        if (copy == NULL) {
            return CW_ENOMEM;
        }
    }
    cw_free(*field);
    *field = copy;
    return 0;
}

int cw_server_config_default(cw_server_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->workers = 2;
    cfg->search_threads = 1;
    cfg->http_threads = 4;
    cfg->max_body_bytes = 8u << 20;
    cfg->connection_timeout_s = 30;
    cfg->retention.flight_token_after = 24 * 3600;
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cw_clearance_policy_default((cw_programme_t)p, &cfg->policy[p]);
    }
    if (cw_server_config_set(&cfg->listen, "127.0.0.1:8080") != 0 ||
        cw_server_config_set(&cfg->db, "clearway.db") != 0) {
        cw_server_config_free(cfg);
        return CW_ENOMEM;
    }
    return 0;
}

void cw_server_config_free(cw_server_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    cw_free(cfg->listen);
    cw_free(cfg->tls_cert);
    cw_free(cfg->tls_key);
    cw_free(cfg->db);
    cw_free(cfg->deps_dir);
    cw_free(cfg->admin_key_file);
    cw_free(cfg->distractors);
    cw_free(cfg->web_root);
    for (size_t i = 0; i < cfg->n_ports; i++) {
        cw_free(cfg->ports[i].gates);
    }
    cw_free(cfg->ports);
    memset(cfg, 0, sizeof(*cfg));
}

// ---- typed readers: each checks one value at path and explains a refusal there ----

static int unknown_keys(json_t *obj, const char *path, const char *const *keys, char *diag,
                        size_t diag_len)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        (void)v;
        int known = 0;
        for (size_t i = 0; keys[i] != NULL && !known; i++) {
            known = strcmp(keys[i], k) == 0;
        }
        if (!known) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s%s%s: unknown key", path,
                               path[0] != '\0' ? "." : "", k);
        }
    }
    return 0;
}

// A key's dotted path for messages ("gates.0.code"), cut short if longer than PATH_LEN - 1.
static void sub(char *out, const char *path, const char *key)
{
    size_t n = 0;
    const char *parts[3] = {path, path[0] != '\0' ? "." : "", key};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p != '\0' && n < PATH_LEN - 1; p++) {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static int read_string(json_t *obj, const char *path, const char *key, char **field, char *diag,
                       size_t diag_len)
{
    json_t *v = json_object_get(obj, key);
    char at[PATH_LEN];
    sub(at, path, key);
    if (v == NULL) {
        return 0;
    }
    if (json_is_null(v)) {
        return cw_server_config_set(field, NULL);
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be a non-empty string", at);
    }
    return cw_server_config_set(field, json_string_value(v));
}

static int read_int(json_t *obj, const char *path, const char *key, long long min, long long max,
                    long long *out, char *diag, size_t diag_len)
{
    json_t *v = json_object_get(obj, key);
    char at[PATH_LEN];
    sub(at, path, key);
    if (v == NULL) {
        return 1; // absent: keep the default
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s: must be an integer in %lld..%lld", at,
                           min, max);
    }
    *out = json_integer_value(v);
    return 0;
}

// A number in (lo, hi) (open) when open is set, else [lo, hi].
static int read_real(json_t *obj, const char *path, const char *key, double lo, double hi, int open,
                     double *out, char *diag, size_t diag_len)
{
    json_t *v = json_object_get(obj, key);
    char at[PATH_LEN];
    sub(at, path, key);
    if (v == NULL) {
        return 1;
    }
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    int ok = isfinite(x) && (open ? (x > lo && x < hi) : (x >= lo && x <= hi));
    if (!ok) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s: must be a number in %s%g, %g%s", at,
                           open ? "(" : "[", lo, hi, open ? ")" : "]");
    }
    *out = x;
    return 0;
}

// Codes go into URLs ("PORT.GATE") and the store: letters, digits, '-' and '_' only.
static int check_code(const char *s, const char *at, char *diag, size_t diag_len)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CW_STORE_CODE_MAX) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s: must be 1..%d characters", at,
                           CW_STORE_CODE_MAX - 1);
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "%s: '%s' may hold only letters, digits, '-' and '_'", at, s);
        }
    }
    return 0;
}

static int read_code(json_t *obj, const char *path, const char *key, int required, char *dst,
                     size_t cap, char *diag, size_t diag_len)
{
    json_t *v = json_object_get(obj, key);
    char at[PATH_LEN];
    sub(at, path, key);
    if (v == NULL) {
        return required ? cw_diag_set(diag, diag_len, CW_EINVAL, "%s: required", at) : 0;
    }
    if (!json_is_string(v)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be a string", at);
    }
    const char *s = json_string_value(v);
    if (strlen(s) >= cap) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "%s: longer than %zu bytes", at, cap - 1);
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

// ---- sections ----

static int read_gate(json_t *g, const char *path, cw_server_gate_config_t *out, char *diag,
                     size_t diag_len)
{
    static const char *const keys[] = {"code", "programme", "touchpoint", NULL};
    if (!json_is_object(g)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be an object", path);
    }
    int err = unknown_keys(g, path, keys, diag, diag_len);
    char at[PATH_LEN];
    char name[32] = "";
    if (err == 0) {
        err = read_code(g, path, "code", 1, out->code, sizeof(out->code), diag, diag_len);
    }
    if (err == 0) {
        sub(at, path, "code");
        err = check_code(out->code, at, diag, diag_len);
    }
    if (err == 0) {
        err = read_code(g, path, "programme", 1, name, sizeof(name), diag, diag_len);
    }
    if (err == 0) {
        out->programme = cw_programme_parse(name);
        if (out->programme == 0) {
            sub(at, path, "programme");
            err = cw_diag_set(diag, diag_len, CW_EINVAL,
                              "%s: unknown programme '%s' (document_free, contactless, "
                              "smart_departure, flight_token, closed_area)",
                              at, name);
        }
    }
    name[0] = '\0';
    if (err == 0) {
        err = read_code(g, path, "touchpoint", 0, name, sizeof(name), diag, diag_len);
    }
    if (err == 0 && name[0] != '\0') {
        sub(at, path, "touchpoint");
        out->touchpoint = cw_touchpoint_parse(name);
        if (out->touchpoint == CW_TOUCHPOINT_NONE) {
            err = cw_diag_set(diag, diag_len, CW_EINVAL,
                              "%s: unknown touchpoint '%s' (bag_drop, security, immigration, "
                              "boarding)",
                              at, name);
        } else if (out->programme != CW_PROGRAMME_FLIGHT_TOKEN) {
            err = cw_diag_set(diag, diag_len, CW_EINVAL,
                              "%s: only flight_token gates have a touchpoint", at);
        }
    }
    return err;
}

static int read_ports(json_t *arr, cw_server_config_t *cfg, char *diag, size_t diag_len)
{
    static const char *const keys[] = {"code", "name", "gates", NULL};
    if (!json_is_array(arr)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "ports: must be an array");
    }
    size_t n = json_array_size(arr);
    if (n > 256) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "ports: at most 256 ports");
    }
    cw_server_port_config_t *ports = n > 0 ? cw_calloc(n, sizeof(*ports)) : NULL;
    if (n > 0 && ports == NULL) {
        return CW_ENOMEM;
    }
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        json_t *p = json_array_get(arr, i);
        char path[PATH_LEN], at[PATH_LEN];
        snprintf(path, sizeof(path), "ports[%zu]", i);
        if (!json_is_object(p)) {
            err = cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be an object", path);
            break;
        }
        err = unknown_keys(p, path, keys, diag, diag_len);
        if (err == 0) {
            err =
                read_code(p, path, "code", 1, ports[i].code, sizeof(ports[i].code), diag, diag_len);
        }
        if (err == 0) {
            sub(at, path, "code");
            err = check_code(ports[i].code, at, diag, diag_len);
        }
        for (size_t j = 0; j < i && err == 0; j++) {
            if (strcmp(ports[j].code, ports[i].code) == 0) {
                err = cw_diag_set(diag, diag_len, CW_EINVAL, "%s.code: '%s' appears twice", path,
                                  ports[i].code);
            }
        }
        if (err == 0) {
            err =
                read_code(p, path, "name", 0, ports[i].name, sizeof(ports[i].name), diag, diag_len);
        }
        if (err == 0 && ports[i].name[0] == '\0') {
            memcpy(ports[i].name, ports[i].code, sizeof(ports[i].code));
        }
        json_t *gates = json_object_get(p, "gates");
        if (err != 0 || gates == NULL) {
            continue;
        }
        sub(at, path, "gates");
        if (!json_is_array(gates) || json_array_size(gates) > 1024) {
            err =
                cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be an array (at most 1024)", at);
            break;
        }
        ports[i].n_gates = json_array_size(gates);
        ports[i].gates =
            ports[i].n_gates > 0 ? cw_calloc(ports[i].n_gates, sizeof(*ports[i].gates)) : NULL;
        if (ports[i].n_gates > 0 && ports[i].gates == NULL) {
            err = CW_ENOMEM;
            break;
        }
        for (size_t j = 0; j < ports[i].n_gates && err == 0; j++) {
            char gp[PATH_LEN + 24];
            snprintf(gp, sizeof(gp), "%s[%zu]", at, j);
            err = read_gate(json_array_get(gates, j), gp, &ports[i].gates[j], diag, diag_len);
            for (size_t k = 0; k < j && err == 0; k++) {
                if (strcmp(ports[i].gates[k].code, ports[i].gates[j].code) == 0) {
                    err = cw_diag_set(diag, diag_len, CW_EINVAL, "%s.code: '%s' appears twice", gp,
                                      ports[i].gates[j].code);
                }
            }
        }
    }
    if (err != 0) {
        for (size_t i = 0; i < n; i++) {
            cw_free(ports[i].gates);
        }
        cw_free(ports);
        return err;
    }
    for (size_t i = 0; i < cfg->n_ports; i++) {
        cw_free(cfg->ports[i].gates);
    }
    cw_free(cfg->ports);
    cfg->ports = ports;
    cfg->n_ports = n;
    return 0;
}

// Read one optional value: assign runs when it is present and valid; a refusal sets err.
#define READ(err, call, assign)                                                                    \
    do {                                                                                           \
        if ((err) == 0) {                                                                          \
            int rc_ = (call);                                                                      \
            if (rc_ < 0) {                                                                         \
                (err) = rc_;                                                                       \
            } else if (rc_ == 0) {                                                                 \
                assign;                                                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static int read_policy(json_t *o, const char *path, cw_clearance_policy_t *pol, char *diag,
                       size_t diag_len)
{
    static const char *const keys[] = {
        "target_fpir", "margin",  "population_cap",  "max_captures",  "face_fmr",
        "finger_fmr",  "pad_max", "token_min_gap_s", "txn_timeout_s", NULL};
    if (!json_is_object(o)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: must be an object", path);
    }
    int err = unknown_keys(o, path, keys, diag, diag_len);
    double x = 0;
    long long v = 0;
    READ(err, read_real(o, path, "target_fpir", 0, 1, 1, &x, diag, diag_len),
         pol->gallery.target_fpir = x);
    READ(err, read_real(o, path, "margin", 0, 1, 0, &x, diag, diag_len),
         pol->gallery.margin = (float)x);
    READ(err, read_int(o, path, "population_cap", 0, INT64_MAX, &v, diag, diag_len),
         pol->gallery.max_n = (uint64_t)v);
    READ(err, read_int(o, path, "max_captures", 1, 20, &v, diag, diag_len),
         pol->max_captures = (int)v);
    READ(err, read_real(o, path, "face_fmr", 0, 1, 1, &x, diag, diag_len), pol->face_fmr = x);
    READ(err, read_real(o, path, "finger_fmr", 0, 1, 1, &x, diag, diag_len), pol->finger_fmr = x);
    READ(err, read_real(o, path, "pad_max", -1, 1, 0, &x, diag, diag_len), pol->pad_max = (float)x);
    READ(err, read_int(o, path, "token_min_gap_s", 1, 86400, &v, diag, diag_len),
         pol->token_min_gap = v);
    READ(err, read_int(o, path, "txn_timeout_s", 1, 86400, &v, diag, diag_len),
         pol->txn_timeout = v);
    return err;
}

static int read_policies(json_t *o, cw_server_config_t *cfg, char *diag, size_t diag_len)
{
    if (!json_is_object(o)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "policies: must be an object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        cw_programme_t p = cw_programme_parse(k);
        char path[PATH_LEN];
        snprintf(path, sizeof(path), "policies.%s", k);
        if (p == 0) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "%s: unknown key (a programme: document_free, contactless, "
                               "smart_departure, flight_token, closed_area)",
                               path);
        }
        int err = read_policy(v, path, &cfg->policy[p], diag, diag_len);
        if (err != 0) {
            return err;
        }
    }
    return 0;
}

static int read_retention(json_t *o, cw_server_config_t *cfg, char *diag, size_t diag_len)
{
    static const char *const keys[] = {"flight_token_after_s", NULL};
    if (!json_is_object(o)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "retention: must be an object");
    }
    int err = unknown_keys(o, "retention", keys, diag, diag_len);
    long long v = 0;
    READ(
        err,
        read_int(o, "retention", "flight_token_after_s", 60, 366LL * 24 * 3600, &v, diag, diag_len),
        cfg->retention.flight_token_after = v);
    return err;
}

int cw_server_config_parse(cw_server_config_t *cfg, const char *text, size_t len, char *diag,
                           size_t diag_len)
{
    static const char *const keys[] = {"listen",
                                       "tls_cert",
                                       "tls_key",
                                       "db",
                                       "deps_dir",
                                       "admin_key_file",
                                       "distractors",
                                       "workers",
                                       "search_threads",
                                       "http_threads",
                                       "max_body_bytes",
                                       "connection_timeout_s",
                                       "ports",
                                       "policies",
                                       "retention",
                                       "web_root",
                                       NULL};
    cw__json_init();
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "line %d, column %d: %s", jerr.line,
                           jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "the configuration must be a JSON object");
    }
    int err = unknown_keys(root, "", keys, diag, diag_len);
    static const char *const strings[] = {"listen",   "tls_cert",       "tls_key",     "db",
                                          "deps_dir", "admin_key_file", "distractors", "web_root"};
    char **fields[] = {&cfg->listen,   &cfg->tls_cert,       &cfg->tls_key,     &cfg->db,
                       &cfg->deps_dir, &cfg->admin_key_file, &cfg->distractors, &cfg->web_root};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]) && err == 0; i++) {
        err = read_string(root, "", strings[i], fields[i], diag, diag_len);
    }
    long long v = 0;
    READ(err, read_int(root, "", "workers", 1, 64, &v, diag, diag_len), cfg->workers = (int)v);
    READ(err, read_int(root, "", "search_threads", 1, 64, &v, diag, diag_len),
         cfg->search_threads = (int)v);
    READ(err, read_int(root, "", "http_threads", 1, 64, &v, diag, diag_len),
         cfg->http_threads = (int)v);
    READ(err, read_int(root, "", "max_body_bytes", 1024, 1LL << 30, &v, diag, diag_len),
         cfg->max_body_bytes = (size_t)v);
    READ(err, read_int(root, "", "connection_timeout_s", 1, 3600, &v, diag, diag_len),
         cfg->connection_timeout_s = (int)v);
    json_t *o;
    if (err == 0 && (o = json_object_get(root, "ports")) != NULL) {
        err = read_ports(o, cfg, diag, diag_len);
    }
    if (err == 0 && (o = json_object_get(root, "policies")) != NULL) {
        err = read_policies(o, cfg, diag, diag_len);
    }
    if (err == 0 && (o = json_object_get(root, "retention")) != NULL) {
        err = read_retention(o, cfg, diag, diag_len);
    }
    json_decref(root);
    return err;
}

int cw_server_config_load(cw_server_config_t *cfg, const char *path, char *diag, size_t diag_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot read %s", path);
    }
    enum { CAP = 1 << 20 };
    char *buf = cw_malloc(CAP);
    if (buf == NULL) {
        fclose(f);
        return CW_ENOMEM;
    }
    size_t n = fread(buf, 1, CAP, f);
    int bad = ferror(f) || n == CAP;
    fclose(f);
    if (bad) {
        cw_free(buf);
        return cw_diag_set(diag, diag_len, n == CAP ? CW_ETOOBIG : CW_EIO,
                           "%s: cannot read (or larger than 1 MiB)", path);
    }
    char inner[400] = "";
    int err = cw_server_config_parse(cfg, buf, n, inner, sizeof(inner));
    cw_free(buf);
    if (err != 0) {
        return cw_diag_set(diag, diag_len, err, "%s: %s", path, inner);
    }
    return 0;
}

// ---- the listen address ----

int cw__listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *ss_len,
                     int *loopback, char *diag, size_t diag_len)
{
    char host[64];
    const char *port_s;
    if (listen == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no listen address");
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host)) {
            return cw_diag_set(diag, diag_len, CW_EINVAL, "listen '%s': want [IPV6]:PORT", listen);
        }
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port_s = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
            strchr(listen, ':') != colon) {
            return cw_diag_set(diag, diag_len, CW_EINVAL,
                               "listen '%s': want ADDR:PORT (IPv6 as [ADDR]:PORT)", listen);
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port_s = colon + 1;
    }
    uint64_t port = 0;
    if (cw__parse_u64(port_s, &port) != 0 || port > 65535) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "listen '%s': the port must be 0..65535",
                           listen);
    }
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *ss_len = sizeof(*v4);
        *loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *ss_len = sizeof(*v6);
        const uint8_t *a = v6->sin6_addr.s6_addr;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *loopback =
            IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
        return 0;
    }
    return cw_diag_set(diag, diag_len, CW_EINVAL,
                       "listen '%s': '%s' is not a numeric IPv4 or IPv6 address", listen, host);
}

int cw_server_config_check(const cw_server_config_t *cfg, char *diag, size_t diag_len)
{
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL,
                           "TLS needs both a certificate and a key (tls_cert and tls_key)");
    }
    if (cfg->db == NULL || cfg->db[0] == '\0') {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no database given");
    }
    struct sockaddr_storage ss;
    socklen_t ss_len;
    int loopback = 0;
    int err = cw__listen_parse(cfg->listen, &ss, &ss_len, &loopback, diag, diag_len);
    if (err != 0) {
        return err;
    }
    if (!loopback && cfg->tls_cert == NULL) {
        return cw_diag_set(diag, diag_len, CW_EPERM,
                           "refusing plain HTTP on the non-loopback address %s: API keys and "
                           "biometrics would cross the network in clear; give --tls-cert and "
                           "--tls-key, or listen on 127.0.0.1 / [::1]",
                           cfg->listen);
    }
    return 0;
}
