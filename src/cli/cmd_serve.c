// SPDX-License-Identifier: Apache-2.0
// `clearway serve`: Clearway's main job, the HTTP/1.1 + JSON server gate devices, officers and
// clerks talk to (src/server/). Options are applied over the configuration file, which is
// applied over the defaults; SIGINT and SIGTERM stop it cleanly (requests in flight finish, then
// the store closes).
#include "cli.h"

#include "clearway/clearway.h"
#include "clearway/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int run_serve(int argc, char **argv);

const cw_cli_command_t cw_cmd_serve = {
    "serve",
    "Run the clearance service over HTTP (the main job)",
    "Usage: clearway serve [--db PATH|postgresql://URL] [--listen ADDR:PORT] [--config FILE]\n"
    "                      [--tls-cert FILE --tls-key FILE] [--admin-key-file FILE]\n"
    "                      [--web-root DIR]\n"
    "\n"
    "Serves the clearance API (docs/api.md, docs/openapi.yaml) until SIGINT or SIGTERM.\n"
    "\n"
    "  --db          SQLite file or PostgreSQL URL (default: clearway.db in this folder)\n"
    "  --listen      address and port (default 127.0.0.1:8080; port 0 picks a free one).\n"
    "                Plain HTTP is served on loopback addresses only: any other address\n"
    "                needs --tls-cert and --tls-key.\n"
    "  --config      JSON configuration (ports and gates, policies, limits; see\n"
    "                docs/clearway.example.json); options given here override it\n"
    "  --tls-cert, --tls-key   PEM certificate and private key: serve HTTPS\n"
    "  --admin-key-file        where the first admin API key is written when the store has\n"
    "                none (default DB.admin-key; clearway.admin-key for PostgreSQL)\n"
    "  --web-root    the browser pages served under /ui/ without a key (default: the\n"
    "                source tree's web/ folder)\n"
    "\n"
    "Prints the URL it listens on (and where a new admin key went) on stdout; logs to stderr\n"
    "(CLEARWAY_LOG). The store's key comes from CLEARWAY_KEY or the key file (DB.key).\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 could not start, 2 bad command line or "
    "configuration.\n",
    run_serve,
    NULL,
};

static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    int saved = errno;
    stop_signal = sig;
    ssize_t w = write(stop_pipe[1], "x", 1);
    (void)w;
    errno = saved;
}

static int set_opt(char **field, const char *value)
{
    if (cw_server_config_set(field, value) != 0) {
        fprintf(stderr, "clearway serve: out of memory\n");
        return -1;
    }
    return 0;
}

static int run_serve(int argc, char **argv)
{
    const char *config = NULL, *db = NULL, *listen = NULL, *cert = NULL, *key = NULL, *admin = NULL;
    const char *web = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--config") == 0           ? &config
                           : strcmp(a, "--db") == 0             ? &db
                           : strcmp(a, "--listen") == 0         ? &listen
                           : strcmp(a, "--tls-cert") == 0       ? &cert
                           : strcmp(a, "--tls-key") == 0        ? &key
                           : strcmp(a, "--admin-key-file") == 0 ? &admin
                           : strcmp(a, "--web-root") == 0       ? &web
                                                                : NULL;
        if (dst == NULL) {
            return cw_cli_usage_error("serve", "unknown argument '%s'", a);
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            return cw_cli_usage_error("serve", "%s needs a value", a);
        }
        *dst = argv[++i];
    }

    cw_server_config_t cfg;
    if (cw_server_config_default(&cfg) != 0) {
        fprintf(stderr, "clearway serve: out of memory\n");
        return CW_EXIT_FAIL;
    }
    char diag[512] = "";
    int rc = CW_EXIT_OK;
    if (config != NULL && cw_server_config_load(&cfg, config, diag, sizeof(diag)) != 0) {
        fprintf(stderr, "clearway serve: configuration %s\n", diag);
        cw_server_config_free(&cfg);
        return CW_EXIT_USAGE;
    }
    if ((db != NULL && set_opt(&cfg.db, db) != 0) ||
        (listen != NULL && set_opt(&cfg.listen, listen) != 0) ||
        (cert != NULL && set_opt(&cfg.tls_cert, cert) != 0) ||
        (key != NULL && set_opt(&cfg.tls_key, key) != 0) ||
        (admin != NULL && set_opt(&cfg.admin_key_file, admin) != 0) ||
        (web != NULL && set_opt(&cfg.web_root, web) != 0) ||
        (cfg.deps_dir == NULL && set_opt(&cfg.deps_dir, cw_cli_deps_dir()) != 0)) {
        cw_server_config_free(&cfg);
        return CW_EXIT_FAIL;
    }
    if (cw_server_config_check(&cfg, diag, sizeof(diag)) != 0) {
        fprintf(stderr, "clearway serve: %s\n", diag);
        cw_server_config_free(&cfg);
        return CW_EXIT_USAGE;
    }

    // SIGINT / SIGTERM only write to a pipe the main thread waits on: whichever thread the
    // signal lands on (some libraries start threads before main), the stop is the same.
    if (pipe(stop_pipe) != 0) {
        fprintf(stderr, "clearway serve: pipe: %s\n", strerror(errno));
        cw_server_config_free(&cfg);
        return CW_EXIT_FAIL;
    }
    fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    // A file-size limit reached (a full disk by quota) must be a store error, not a kill.
    signal(SIGXFSZ, SIG_IGN);

    cw_server_t *srv = NULL;
    int err = cw_server_create(&cfg, &srv, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "clearway serve: %s (%s)\n", diag, cw_err_name(err));
        cw_server_config_free(&cfg);
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        return CW_EXIT_FAIL;
    }
    cw_server_info_t info;
    cw_server_get_info(srv, &info);
    printf("clearway serve: listening on %s (store: %s)\n", info.url, info.store_backend);
    if (info.admin_key_made) {
        printf("clearway serve: first start: the admin API key is in %s\n", info.admin_key_file);
    } else if (access(info.admin_key_file, F_OK) == 0) {
        printf("clearway serve: the admin API key made at first start is in %s\n",
               info.admin_key_file);
    }
    printf("clearway serve: press Ctrl-C to stop\n");
    fflush(stdout);

    char c;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    cw_log(CW_LOG_INFO, "server", "%s: finishing requests in flight and stopping",
           stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    cw_server_destroy(srv);
    cw_server_config_free(&cfg);
    cw_log(CW_LOG_INFO, "server", "stopped");
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc;
}
