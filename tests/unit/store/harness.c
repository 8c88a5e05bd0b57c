// SPDX-License-Identifier: Apache-2.0
// The store tests' database harness (see harness.h): SQLite files in a temporary folder, or a
// private PostgreSQL server started in one, with a watchdog that always cleans up.
#define _DEFAULT_SOURCE 1 // setgroups
#include "harness.h"

#include "../../common/rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// Run a server binary (as nobody when we are root), output to DIR/pg.log; its exit status.
static int run_pg(const cw_test_db_t *h, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        char log[256];
        snprintf(log, sizeof(log), "%s/pg.log", h->dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            if (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
                setuid(pw->pw_uid) != 0) {
                _exit(126);
            }
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void pg_stop_now(const cw_test_db_t *h)
{
    char pg_ctl[300], data[160];
    snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", h->bindir);
    snprintf(data, sizeof(data), "%s/data", h->dir);
    char *argv[] = {pg_ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL};
    run_pg(h, argv);
}

static int find_bindir(cw_test_db_t *h)
{
    const char *env = getenv("CW_PG_BINDIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(h->bindir, sizeof(h->bindir), "%.200s", env);
    } else {
        glob_t g;
        if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
            snprintf(h->why, sizeof(h->why),
                     "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; install "
                     "the postgresql package or set CW_PG_BINDIR)");
            return -1;
        }
        snprintf(h->bindir, sizeof(h->bindir), "%.200s", g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
        *strrchr(h->bindir, '/') = '\0';
    }
    char initdb[300];
    snprintf(initdb, sizeof(initdb), "%s/initdb", h->bindir);
    if (access(initdb, X_OK) != 0) {
        snprintf(h->why, sizeof(h->why), "%.200s is not executable", initdb);
        return -1;
    }
    return 0;
}

int cw_test_db_start(cw_test_db_t *h, int pg)
{
    memset(h, 0, sizeof(*h));
    h->pg = pg;
    h->watch_fd = -1;
    if (pg && find_bindir(h) != 0) {
        return -1;
    }
    snprintf(h->dir, sizeof(h->dir), "/tmp/cw-store-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        snprintf(h->why, sizeof(h->why), "mkdtemp: %s", strerror(errno));
        return -1;
    }
    if (!pg) {
        return 0;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        if (pw == NULL || chown(h->dir, pw->pw_uid, pw->pw_gid) != 0) {
            snprintf(h->why, sizeof(h->why), "cannot hand %s to nobody", h->dir);
            cw_test_rmtree(h->dir);
            return -1;
        }
    }
    char initdb[300], pg_ctl[300], data[160], log[160], opts[512];
    snprintf(initdb, sizeof(initdb), "%s/initdb", h->bindir);
    snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", h->bindir);
    snprintf(data, sizeof(data), "%s/data", h->dir);
    snprintf(log, sizeof(log), "%s/server.log", h->dir);
    snprintf(opts, sizeof(opts),
             "-k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off "
             "-c max_connections=40 -c shared_buffers=16MB",
             h->dir);
    char *init_argv[] = {initdb,
                         "-D",
                         data,
                         "-A",
                         "trust",
                         "-U",
                         "postgres",
                         "-E",
                         "UTF8",
                         "--no-sync",
                         "--no-instructions",
                         NULL};
    if (run_pg(h, init_argv) != 0) {
        snprintf(h->why, sizeof(h->why), "initdb failed (see %s/pg.log)", h->dir);
        cw_test_rmtree(h->dir);
        return -1;
    }
    char *start_argv[] = {pg_ctl, "-D", data, "-l", log, "-o", opts, "-w", "start", NULL};
    if (run_pg(h, start_argv) != 0) {
        snprintf(h->why, sizeof(h->why), "pg_ctl start failed (see %s)", log);
        pg_stop_now(h);
        cw_test_rmtree(h->dir);
        return -1;
    }
    // The watchdog: when our end of the pipe closes (exit, crash, SIGKILL), stop and clean.
    int fds[2];
    if (pipe(fds) != 0) {
        pg_stop_now(h);
        cw_test_rmtree(h->dir);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        char c;
        while (read(fds[0], &c, 1) != 0 && errno == EINTR) {
        }
        pg_stop_now(h);
        cw_test_rmtree(h->dir);
        _exit(0);
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    h->watch_fd = fds[1];
    h->watchdog = pid;
    return 0;
}

void cw_test_db_stop(cw_test_db_t *h)
{
    if (h->pg && h->watchdog > 0) {
        close(h->watch_fd);
        while (waitpid(h->watchdog, NULL, 0) < 0 && errno == EINTR) {
        }
        h->watchdog = 0;
    } else if (h->dir[0] != '\0') {
        cw_test_rmtree(h->dir);
    }
    h->dir[0] = '\0';
}

static void pg_url(const cw_test_db_t *h, const char *db, char *out, size_t cap)
{
    snprintf(out, cap, "postgresql:///%s?host=%s&user=postgres", db, h->dir);
}

int cw_test_db_fresh(cw_test_db_t *h, char *target, size_t cap)
{
    h->n_dbs++;
    if (!h->pg) {
        snprintf(target, cap, "%s/t%d.db", h->dir, h->n_dbs);
        return 0;
    }
    char admin[300], sql[64], name[32];
    pg_url(h, "postgres", admin, sizeof(admin));
    snprintf(name, sizeof(name), "t%d", h->n_dbs);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    if (cw_test_db_raw(h, admin, sql, NULL, 0) != 0) {
        return -1;
    }
    pg_url(h, name, target, cap);
    return 0;
}

int cw_test_db_raw(const cw_test_db_t *h, const char *target, const char *sql, char *err,
                   size_t err_len)
{
    if (!h->pg) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open(target, &db);
        char *msg = NULL;
        if (rc == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        }
        if (rc != SQLITE_OK && err != NULL) {
            snprintf(err, err_len, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
        }
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : -1;
    }
    PGconn *c = PQconnectdb(target);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok && err != NULL) {
            snprintf(err, err_len, "%s", PQresultErrorMessage(r));
        }
        PQclear(r);
    } else if (err != NULL) {
        snprintf(err, err_len, "%s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

long long cw_test_db_raw_int(const cw_test_db_t *h, const char *target, const char *sql)
{
    long long v = -1;
    if (!h->pg) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open(target, &db) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
    }
    PGconn *c = PQconnectdb(target);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
            v = atoll(PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

int cw_test_db_kill_sessions(const cw_test_db_t *h, const char *target)
{
    (void)target;
    return cw_test_db_raw(h, target,
                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND pid <> pg_backend_pid()",
                          NULL, 0);
}

int cw_test_sqlite_blob(const char *path, const char *sql, unsigned char *out, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        (size_t)sqlite3_column_bytes(st, 0) >= n) {
        memcpy(out, sqlite3_column_blob(st, 0), n);
        rc = 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
