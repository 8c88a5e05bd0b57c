/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: `clearway serve`, the HTTP/1.1 + JSON front of the clearance service that gate
 * devices, officers and enrolment clerks talk to. One route table (method, path pattern, roles
 * allowed, handler) is the whole API and its authorisation matrix; every request is
 * authenticated with an API key from the store (roles gate, officer, clerk, admin; a gate key is
 * bound to one gate), audited with its principal, and answered in JSON. The configuration is a
 * JSON file (docs/api.md lists every key and its default); libmicrohttpd serves HTTP with an
 * internal thread pool, TLS through GnuTLS when a certificate is given. A maintenance thread
 * expires stale transactions every few seconds and applies retention hourly.
 */
#ifndef CLEARWAY_SERVER_H
#define CLEARWAY_SERVER_H

#include "clearway/clearance.h"
#include "clearway/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== configuration ==== */

typedef struct cw_server_gate_config {
    char code[CW_STORE_CODE_MAX];
    cw_programme_t programme;
    cw_touchpoint_t touchpoint; /* flight-token gates; CW_TOUCHPOINT_NONE otherwise */
} cw_server_gate_config_t;

typedef struct cw_server_port_config {
    char code[CW_STORE_CODE_MAX];
    char name[CW_STORE_NAME_MAX];
    size_t n_gates;
    cw_server_gate_config_t *gates; /* owned by the configuration */
} cw_server_port_config_t;

typedef struct cw_server_config {
    /* Strings are owned by the configuration (cw_server_config_free); NULL when unset. */
    char *listen;             /* "ADDR:PORT" (IPv6 as "[ADDR]:PORT"); default "127.0.0.1:8080" */
    char *tls_cert;           /* PEM certificate file; with tls_key, serve HTTPS */
    char *tls_key;            /* PEM private key file */
    char *db;                 /* SQLite path or postgresql:// URL; default "clearway.db" */
    char *deps_dir;           /* model packages; NULL: the caller's default (CLEARWAY_DEPS) */
    char *admin_key_file;     /* first start: where the admin key goes; NULL: "<db>.admin-key" */
    char *distractors;        /* capacity tests only: a gallery snapshot of synthetic rows searched
                                 beside the document-free gallery (see cw_clearance_config_t) */
    char *web_root;           /* the browser pages served under /ui/ (no key needed); NULL: the
                                 source tree's web/ folder the server was built from */
    int workers;              /* concurrent clearance steps (default 2) */
    int search_threads;       /* threads of the 1:N search pool (default 1) */
    int http_threads;         /* libmicrohttpd thread pool (default 4) */
    size_t max_body_bytes;    /* request bodies larger than this get 413 (default 8 MiB) */
    int connection_timeout_s; /* an idle or stalled connection is closed after this (30) */
    size_t n_ports;
    cw_server_port_config_t *ports; /* created in the store at start-up if missing */
    /* Per programme (index by cw_programme_t): the defaults of cw_clearance_policy_default,
     * with the keys the file sets replaced. */
    cw_clearance_policy_t policy[CW_PROGRAMME_CLOSED_AREA + 1];
    cw_store_retention_t retention; /* flight_token_after (default 24 h) */
} cw_server_config_t;

/* cw_server_config_default: every field at its default (strings NULL where the default is
 * computed: db and listen are set). Free with cw_server_config_free. CW_ENOMEM. */
int cw_server_config_default(cw_server_config_t *cfg);

/*
 * cw_server_config_parse: apply a JSON configuration text (len bytes) over cfg (which holds
 * the defaults or an earlier file). Unknown keys, wrong types and values out of range are
 * refused with CW_EFORMAT / CW_EINVAL and the key's path in diag ("policies.contactless.
 * face_fmr: must be a number in (0, 1)"); cfg may then be partly updated. Pure apart from
 * allocation; thread-safe.
 * cw_server_config_load: the same for a file (CW_EIO if it cannot be read).
 */
int cw_server_config_parse(cw_server_config_t *cfg, const char *json, size_t len, char *diag,
                           size_t diag_len);
int cw_server_config_load(cw_server_config_t *cfg, const char *path, char *diag, size_t diag_len);

/* Replace a string field of cfg by a copy of value (NULL clears it). CW_ENOMEM. */
int cw_server_config_set(char **field, const char *value);

/*
 * cw_server_config_check: the checks that need the whole configuration: both or neither of
 * tls_cert and tls_key; the listen address parses; plain HTTP only on a loopback address
 * (CW_EPERM otherwise, with a message that says how to fix it).
 */
int cw_server_config_check(const cw_server_config_t *cfg, char *diag, size_t diag_len);

/* Free what cfg owns and zero it; NULL or a zeroed config is a no-op. */
void cw_server_config_free(cw_server_config_t *cfg);

/* ==== the server ==== */

typedef struct cw_server cw_server_t;

typedef struct cw_server_info {
    char url[128];             /* "http://127.0.0.1:8080/" with the port actually bound */
    int port;                  /* the bound port (useful with port 0) */
    char admin_key_file[512];  /* the admin key file (written at first start) */
    int admin_key_made;        /* 1: the store had no key and this start made one */
    const char *store_backend; /* "sqlite" or "postgresql" (static) */
} cw_server_info_t;

/*
 * cw_server_create: start serving cfg: open the clearance service (store and galleries, with
 * progress logged), create the configured ports and gates that are missing, make the first
 * admin key when the store has none (written to the admin key file, mode 0600; never logged),
 * bind the listen address, start the HTTP thread pool and the maintenance thread. On return
 * requests are being answered. cfg is read during the call only. Errors: CW_EINVAL / CW_EPERM
 * (configuration; see cw_server_config_check), CW_EIO (cannot bind or read TLS files), the
 * clearance service's and store's errors; detail in diag. Destroy with cw_server_destroy.
 */
int cw_server_create(const cw_server_config_t *cfg, cw_server_t **out, char *diag, size_t diag_len);

/* What the running server listens on and where the admin key went. */
void cw_server_get_info(const cw_server_t *s, cw_server_info_t *out);

/*
 * cw_server_destroy: stop accepting connections, let requests in flight finish (up to a
 * grace period), stop the maintenance thread, close the service and the store. NULL is a
 * no-op. Not async-signal-safe: call it from a normal thread (cmd_serve waits for SIGINT /
 * SIGTERM through a self-pipe and then calls it).
 */
void cw_server_destroy(cw_server_t *s);

#ifdef __cplusplus
}
#endif
#endif
