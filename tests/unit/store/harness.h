/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test harness of the store's conformance suite: a fresh database per test on either backend.
 * For PostgreSQL it starts a real server (initdb + pg_ctl from the Debian postgresql package) in
 * a mkdtemp folder listening only on a unix socket there; as root the server binaries run as
 * "nobody" (initdb refuses root). A watchdog process stops the server and removes the folder
 * when the test program exits in any way, including a crash or SIGKILL.
 * The raw_* helpers change a database behind the store's back (tampering tests).
 */
#ifndef CW_TEST_STORE_HARNESS_H
#define CW_TEST_STORE_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct cw_test_db {
    int pg;
    char dir[128];
    char bindir[256];
    int n_dbs;
    pid_t watchdog;
    int watch_fd;
    char why[256]; /* why PostgreSQL is unavailable */
} cw_test_db_t;

/* 0 on success; -1 with h->why set when the backend cannot run (PostgreSQL binaries absent). */
int cw_test_db_start(cw_test_db_t *h, int pg);
void cw_test_db_stop(cw_test_db_t *h);
/* A new empty database: a SQLite file path or a PostgreSQL URL, into target. */
int cw_test_db_fresh(cw_test_db_t *h, char *target, size_t cap);
/* Run SQL directly on target (no store); 0 on success, else -1 with the message in err. */
int cw_test_db_raw(const cw_test_db_t *h, const char *target, const char *sql, char *err,
                   size_t err_len);
/* A single integer from a query, or -1. */
long long cw_test_db_raw_int(const cw_test_db_t *h, const char *target, const char *sql);
/* SQLite: the first n bytes of the blob a query returns, into out; 0 or -1. */
int cw_test_sqlite_blob(const char *path, const char *sql, unsigned char *out, size_t n);
/* PostgreSQL: terminate every other connection to target's database (a server restart as the
   store's session sees it). */
int cw_test_db_kill_sessions(const cw_test_db_t *h, const char *target);

#endif
