// SPDX-License-Identifier: Apache-2.0
// The server's lifecycle: bind the listen address (plain HTTP only on loopback), open the
// clearance service (galleries built with progress in the log), create the configured ports and
// gates, make the first admin key when the store has none, run the maintenance thread (expire
// stale transactions every few seconds, apply retention hourly), and start and stop the HTTP
// thread pool so that requests in flight finish before the store closes.
// realpath() is XSI, not in the POSIX base the build asks for.
#define _XOPEN_SOURCE 700
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/file.h"
#include "clearway/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAINT_TICK_S = 5, PURGE_EVERY_S = 3600 };

// ---- the listen socket ----

static int bind_listen(cw_server_t *s, const char *addr, char *diag, size_t diag_len)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int loopback = 0;
    int err = cw__listen_parse(addr, &ss, &len, &loopback, diag, diag_len);
    if (err != 0) {
        return err;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return cw_diag_set(diag, diag_len, CW_EIO, "socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot listen on %s: %s", addr, strerror(e));
    }
    struct sockaddr_storage got;
    socklen_t got_len = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &got_len);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (got.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&got;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&got;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    s->listen_fd = fd;
    s->info.port = port;
    snprintf(s->info.url, sizeof(s->info.url), "%s://%s%s%s:%d/",
             s->tls_cert_pem != NULL ? "https" : "http", got.ss_family == AF_INET6 ? "[" : "", host,
             got.ss_family == AF_INET6 ? "]" : "", port);
    return 0;
}

// A PEM file (certificate or key), as a C string: at most 1 MiB, not empty.
static int read_pem(const char *path, char **out, size_t *len, char *diag, size_t diag_len)
{
    uint8_t *buf = NULL;
    int err = cw_file_read(path, (size_t)1 << 20, &buf, len, diag, diag_len);
    if (err == 0 && *len == 0) {
        cw_free_wipe(buf, 1);
        buf = NULL;
        err = cw_diag_set(diag, diag_len, CW_EIO, "cannot read %s: it is empty", path);
    }
    *out = (char *)buf;
    return err;
}

// ---- start-up work on the store ----

typedef struct setup_ctx {
    const cw_server_config_t *cfg;
    char diag[400];
} setup_ctx_t;

static int setup_gates_fn(void *ctx, cw_store_t *st)
{
    setup_ctx_t *c = ctx;
    const cw_server_config_t *cfg = c->cfg;
    for (size_t i = 0; i < cfg->n_ports; i++) {
        const cw_server_port_config_t *p = &cfg->ports[i];
        uint64_t port_id = 0;
        int err = cw_store_port_find(st, p->code, &port_id, c->diag, sizeof(c->diag));
        if (err == CW_ENOENT) {
            err = cw_store_port_add(st, p->code, p->name, &port_id, c->diag, sizeof(c->diag));
            if (err == 0) {
                cw_log(CW_LOG_INFO, "server", "port %s (%s) created", p->code, p->name);
            }
        }
        if (err != 0) {
            return err;
        }
        for (size_t j = 0; j < p->n_gates; j++) {
            const cw_server_gate_config_t *g = &p->gates[j];
            cw_store_gate_t have;
            err = cw_store_gate_find(st, p->code, g->code, &have, c->diag, sizeof(c->diag));
            if (err == CW_ENOENT) {
                uint64_t id = 0;
                err = cw_store_gate_add(st, port_id, g->code, g->programme, &id, c->diag,
                                        sizeof(c->diag));
                if (err == 0) {
                    cw_log(CW_LOG_INFO, "server", "gate %s.%s (%s) created", p->code, g->code,
                           cw_programme_name(g->programme));
                    err = cw_store_gate_get(st, id, &have, c->diag, sizeof(c->diag));
                }
            } else if (err == 0 && have.programme != g->programme) {
                return cw_diag_set(c->diag, sizeof(c->diag), CW_EINVAL,
                                   "gate %s.%s exists with programme %s; the configuration says "
                                   "%s (a gate's programme cannot change)",
                                   p->code, g->code, cw_programme_name(have.programme),
                                   cw_programme_name(g->programme));
            }
            if (err == 0 && have.touchpoint != (int)g->touchpoint) {
                err = cw_store_gate_set_touchpoint(st, have.id, (int)g->touchpoint, c->diag,
                                                   sizeof(c->diag));
            }
            if (err != 0) {
                return err;
            }
        }
    }
    return 0;
}

static void default_admin_key_file(const char *db, char *out, size_t cap)
{
    if (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0) {
        snprintf(out, cap, "clearway.admin-key");
    } else {
        snprintf(out, cap, "%s.admin-key", db);
    }
}

static int write_secret(const char *path, const char *text, char *diag, size_t diag_len)
{
    char tmp[600];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "admin key file path too long");
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    size_t n = strlen(text);
    int ok = fchmod(fd, 0600) == 0 && write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
             fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

typedef struct admin_ctx {
    const char *path;
    int made;
    char diag[600];
} admin_ctx_t;

static int admin_key_fn(void *ctx, cw_store_t *st)
{
    admin_ctx_t *a = ctx;
    cw_store_apikey_t one;
    size_t n = 0;
    int err = cw_store_apikey_list(st, &one, 1, &n, a->diag, sizeof(a->diag));
    if (err != 0 || n > 0) {
        return err;
    }
    char key[CW_STORE_APIKEY_LEN];
    uint64_t id = 0;
    int64_t now = cw__now();
    err = cw_store_apikey_add(st, CW_ROLE_ADMIN, 0, "first admin (clearway serve)", now,
                              "clearway serve", key, &id, a->diag, sizeof(a->diag));
    if (err != 0) {
        return err;
    }
    err = write_secret(a->path, key, a->diag, sizeof(a->diag));
    cw_memzero(key, sizeof(key));
    if (err != 0) {
        // Nobody could ever read that key: revoke it so it is not left valid.
        cw_store_apikey_revoke(st, id, now, "clearway serve", NULL, 0);
        return err;
    }
    a->made = 1;
    return 0;
}

static int backend_fn(void *ctx, cw_store_t *st)
{
    *(const char **)ctx = cw_store_backend(st);
    return 0;
}

// ---- maintenance ----

static void maintenance_tick(cw_server_t *s, int64_t *next_purge)
{
    int64_t now = cw__now();
    size_t n = 0;
    int err = cw_clearance_expire(s->clr, now, &n);
    if (err != 0) {
        atomic_fetch_add(&s->maintenance_errors, 1);
        cw_log(CW_LOG_WARN, "server", "expiring stale transactions failed: %s", cw_err_name(err));
    } else if (n > 0) {
        atomic_fetch_add(&s->expired, n);
        cw_log(CW_LOG_INFO, "server", "%zu stale transaction%s referred (TIMEOUT)", n,
               n == 1 ? "" : "s");
    }
    if (now < *next_purge) {
        return;
    }
    char diag[256] = "";
    n = 0;
    err = cw_clearance_purge(s->clr, now, &s->retention, &n, diag, sizeof(diag));
    if (err != 0) {
        atomic_fetch_add(&s->maintenance_errors, 1);
        cw_log(CW_LOG_WARN, "server", "retention purge failed: %s (%s); retrying in a minute", diag,
               cw_err_name(err));
        *next_purge = now + 60;
        return;
    }
    atomic_fetch_add(&s->purged, n);
    if (n > 0) {
        cw_log(CW_LOG_INFO, "server", "retention: %zu membership%s purged", n, n == 1 ? "" : "s");
    }
    *next_purge = now + PURGE_EVERY_S;
}

static void *maintenance_main(void *arg)
{
    cw_server_t *s = arg;
    int64_t next_purge = 0; // the first tick purges
    pthread_mutex_lock(&s->mu);
    while (!s->maint_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += MAINT_TICK_S;
        while (!s->maint_stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0) {
        }
        if (s->maint_stop) {
            break;
        }
        pthread_mutex_unlock(&s->mu);
        maintenance_tick(s, &next_purge);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

// ---- create / destroy ----

static void progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    (void)ctx;
    static _Atomic int64_t last_ms;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    // One line a second at most, and always the last one.
    if (done != total && ms - atomic_load(&last_ms) < 1000) {
        return;
    }
    atomic_store(&last_ms, ms);
    cw_log(CW_LOG_INFO, "server", "building galleries: %s %llu/%llu", what,
           (unsigned long long)done, (unsigned long long)total);
}

void cw_server_get_info(const cw_server_t *s, cw_server_info_t *out)
{
    *out = s->info;
}

int cw_server_create(const cw_server_config_t *cfg, cw_server_t **out, char *diag, size_t diag_len)
{
    cw__json_init();
    *out = NULL;
    int err = cw_server_config_check(cfg, diag, diag_len);
    if (err != 0) {
        return err;
    }
    cw_server_t *s = cw_calloc(1, sizeof(*s));
    if (s == NULL) {
        return CW_ENOMEM;
    }
    s->listen_fd = -1;
    s->max_body = cfg->max_body_bytes;
    s->retention = cfg->retention;
    s->started_at = cw__now();
    // The pages are optional: without their folder the API is served as ever, /ui/ answers 404.
    const char *web = cfg->web_root != NULL ? cfg->web_root : CW_DEFAULT_WEB_DIR;
    s->web_root = realpath(web, NULL);
    if (s->web_root == NULL) {
        cw_log(CW_LOG_WARN, "server", "web root %s: %s; the pages under /ui/ are not served", web,
               strerror(errno));
    }
    s->info.store_backend = "?";
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->metrics = cw_calloc(cw__n_routes + 1, sizeof(*s->metrics));
    if (s->metrics == NULL) {
        cw_server_destroy(s);
        return CW_ENOMEM;
    }
    if (cfg->tls_cert != NULL) {
        err = read_pem(cfg->tls_cert, &s->tls_cert_pem, &s->tls_cert_len, diag, diag_len);
        if (err == 0) {
            err = read_pem(cfg->tls_key, &s->tls_key_pem, &s->tls_key_len, diag, diag_len);
        }
        if (err != 0) {
            cw_server_destroy(s);
            return err;
        }
    }
    // Bind first: a busy port is reported before the models load.
    err = bind_listen(s, cfg->listen, diag, diag_len);
    if (err != 0) {
        cw_server_destroy(s);
        return err;
    }

    cw_clearance_config_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.store = cfg->db;
    cc.face.deps_dir = cfg->deps_dir;
    if (cc.face.deps_dir == NULL) {
        const char *env = getenv("CLEARWAY_DEPS");
        cc.face.deps_dir = env != NULL && env[0] != '\0' ? env : ".deps";
    }
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cc.policy[p] = cfg->policy[p];
        cc.face.load_pad |= cfg->policy[p].pad_max > 0;
    }
    cc.distractors = cfg->distractors;
    cc.workers = cfg->workers;
    cc.search_threads = cfg->search_threads;
    cc.progress = progress;
    cw_log(CW_LOG_INFO, "server", "opening the store and building galleries (%s)",
           strncmp(cfg->db, "postgres", 8) == 0 ? "postgresql" : cfg->db);
    char inner[400] = "";
    err = cw_clearance_create(&cc, &s->clr, inner, sizeof(inner));
    if (err != 0) {
        cw_diag_set(diag, diag_len, err, "cannot start the clearance service: %s", inner);
        cw_server_destroy(s);
        return err;
    }
    cw_clearance_with_store(s->clr, backend_fn, &s->info.store_backend);

    setup_ctx_t sc = {.cfg = cfg};
    err = cw_clearance_with_store(s->clr, setup_gates_fn, &sc);
    if (err != 0) {
        cw_diag_set(diag, diag_len, err, "setting up ports and gates: %s", sc.diag);
        cw_server_destroy(s);
        return err;
    }
    char key_path[512];
    if (cfg->admin_key_file != NULL) {
        snprintf(key_path, sizeof(key_path), "%s", cfg->admin_key_file);
    } else {
        default_admin_key_file(cfg->db, key_path, sizeof(key_path));
    }
    admin_ctx_t ac = {.path = key_path};
    err = cw_clearance_with_store(s->clr, admin_key_fn, &ac);
    if (err != 0) {
        cw_diag_set(diag, diag_len, err, "making the first admin key: %s", ac.diag);
        cw_server_destroy(s);
        return err;
    }
    snprintf(s->info.admin_key_file, sizeof(s->info.admin_key_file), "%s", key_path);
    s->info.admin_key_made = ac.made;
    if (ac.made) {
        cw_log(CW_LOG_WARN, "server",
               "no API key existed: an admin key was made and written to %s (mode 0600); "
               "keep it safe, or delete the file once you have made your own keys",
               key_path);
    }

    if (pthread_create(&s->maint, NULL, maintenance_main, s) != 0) {
        cw_server_destroy(s);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "cannot start the maintenance thread");
    }
    s->maint_started = 1;
    err = cw__http_start(s, cfg->http_threads, cfg->connection_timeout_s, diag, diag_len);
    if (err != 0) {
        cw_server_destroy(s);
        return err;
    }
    cw_log(CW_LOG_INFO, "server", "listening on %s (store %s, %d HTTP threads, %d workers)",
           s->info.url, s->info.store_backend, cfg->http_threads, cfg->workers);
    *out = s;
    return 0;
}

void cw_server_destroy(cw_server_t *s)
{
    if (s == NULL) {
        return;
    }
    cw__http_stop(s);
    if (s->maint_started) {
        pthread_mutex_lock(&s->mu);
        s->maint_stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->maint, NULL);
    }
    cw_clearance_destroy(s->clr);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    if (s->tls_key_pem != NULL) {
        cw_free_wipe(s->tls_key_pem, s->tls_key_len + 1);
    }
    cw_free(s->tls_cert_pem);
    cw_free(s->metrics);
    free(s->web_root); // realpath's malloc
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cw_free(s);
}
