// SPDX-License-Identifier: Apache-2.0
// `clearway apikey add|list|revoke`: the API keys that let gate devices, officers, clerks and
// administrators call the clearance service. A new key is printed once on stdout (the store
// keeps only its hash); listing shows every key without secrets; revoking takes effect at the
// next request. Adding and revoking are written to the audit log with the actor.
#include "cli.h"

#include "clearway/clearway.h"
#include "clearway/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int run_apikey(int argc, char **argv);

const cw_cli_command_t cw_cmd_apikey = {
    "apikey",
    "Add, list and revoke the clearance service's API keys",
    "Usage: clearway apikey add --db DB --role ROLE [--gate PORT/GATE] [--label TEXT]\n"
    "                          [--actor NAME]\n"
    "       clearway apikey list --db DB\n"
    "       clearway apikey revoke --db DB ID [--actor NAME]\n"
    "\n"
    "ROLE is gate (a gate device: --gate names the gate it serves, by port and gate code),\n"
    "officer (referral queue and resolutions), clerk (enrolment and records) or admin (keys,\n"
    "configuration, reports). `add` prints the new key on stdout: it is shown once and cannot\n"
    "be shown again, because the store keeps only its hash. `list` shows every key with its\n"
    "role, gate, label, creation and revocation times (UTC). `revoke` refuses the key from its\n"
    "next use. Adding and revoking are audited with NAME (default: clearway apikey).\n"
    "\n"
    "DB is a SQLite file or a postgresql:// URL; the key comes from CLEARWAY_KEY or the key\n"
    "file (DB.key for SQLite).\n"
    "\n"
    "Exit status: 0 done, 1 failure (unknown gate or key, database), 2 bad command line.\n",
    run_apikey,
    NULL,
};

static int open_db(const char *db, cw_store_t **st)
{
    char diag[256] = "";
    int err = cw_store_open(db, NULL, st, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "clearway apikey: cannot open %s: %s (%s)\n", db, diag, cw_err_name(err));
        return -1;
    }
    return 0;
}

static void format_time(int64_t t, char out[24])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, 24, "-");
    }
}

static int run_add(int argc, char **argv)
{
    const char *db = NULL, *role_text = NULL, *gate_text = NULL, *label = "",
               *actor = "clearway apikey";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            return cw_cli_usage_error("apikey", "unknown argument '%s'", a);
        }
        if (strcmp(a, "--db") == 0) {
            db = argv[++i];
        } else if (strcmp(a, "--role") == 0) {
            role_text = argv[++i];
        } else if (strcmp(a, "--gate") == 0) {
            gate_text = argv[++i];
        } else if (strcmp(a, "--label") == 0) {
            label = argv[++i];
        } else if (strcmp(a, "--actor") == 0) {
            actor = argv[++i];
        } else {
            return cw_cli_usage_error("apikey", "unknown argument '%s'", a);
        }
    }
    if (db == NULL || role_text == NULL) {
        return cw_cli_usage_error("apikey", "add needs --db and --role");
    }
    cw_role_t role = cw_role_parse(role_text);
    if (role == 0) {
        return cw_cli_usage_error("apikey", "unknown role '%s' (gate, officer, clerk or admin)",
                                  role_text);
    }
    if ((role == CW_ROLE_GATE) != (gate_text != NULL)) {
        return cw_cli_usage_error("apikey", role == CW_ROLE_GATE
                                                ? "a gate key needs --gate PORT/GATE"
                                                : "--gate is only for gate keys");
    }
    char port_code[CW_STORE_CODE_MAX] = "", gate_code[CW_STORE_CODE_MAX] = "";
    if (gate_text != NULL) {
        const char *slash = strchr(gate_text, '/');
        size_t pl = slash != NULL ? (size_t)(slash - gate_text) : 0;
        if (slash == NULL || pl == 0 || pl >= sizeof(port_code) || slash[1] == '\0' ||
            strlen(slash + 1) >= sizeof(gate_code)) {
            return cw_cli_usage_error("apikey",
                                      "--gate takes PORT/GATE (codes of at most %d "
                                      "characters)",
                                      CW_STORE_CODE_MAX - 1);
        }
        memcpy(port_code, gate_text, pl);
        port_code[pl] = '\0';
        snprintf(gate_code, sizeof(gate_code), "%s", slash + 1);
    }
    cw_store_t *st;
    if (open_db(db, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    char diag[256] = "";
    int err = 0;
    cw_store_gate_t gate = {0};
    if (gate_text != NULL) {
        err = cw_store_gate_find(st, port_code, gate_code, &gate, diag, sizeof(diag));
    }
    char key[CW_STORE_APIKEY_LEN];
    uint64_t id = 0;
    if (err == 0) {
        err = cw_store_apikey_add(st, role, gate.id, label, (int64_t)time(NULL), actor, key, &id,
                                  diag, sizeof(diag));
    }
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway apikey: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    printf("%s\n", key);
    fflush(stdout);
    cw_memzero(key, sizeof(key));
    fprintf(stderr,
            "clearway apikey: key %llu (%s%s%s) created. It is shown once and will not be shown "
            "again: store it now.\n",
            (unsigned long long)id, cw_role_name(role), gate_text != NULL ? " at " : "",
            gate_text != NULL ? gate_text : "");
    return CW_EXIT_OK;
}

static int run_list(int argc, char **argv)
{
    const char *db = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else {
            return cw_cli_usage_error("apikey", "unknown argument '%s'", argv[i]);
        }
    }
    if (db == NULL) {
        return cw_cli_usage_error("apikey", "list needs --db");
    }
    cw_store_t *st;
    if (open_db(db, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    char diag[256] = "";
    size_t n = 0;
    cw_store_apikey_t *keys = NULL;
    int err = cw_store_apikey_list(st, NULL, 0, &n, diag, sizeof(diag));
    if (err == 0 && n > 0) {
        keys = calloc(n, sizeof(*keys));
        err = keys == NULL ? CW_ENOMEM : cw_store_apikey_list(st, keys, n, &n, diag, sizeof(diag));
    }
    if (err == 0 && n == 0) {
        printf("no API keys\n");
    } else if (err == 0) {
        printf("%-8s %-8s %-20s %-21s %-21s %s\n", "ID", "ROLE", "GATE", "CREATED", "REVOKED",
               "LABEL");
    }
    for (size_t i = 0; err == 0 && i < n; i++) {
        const cw_store_apikey_t *k = &keys[i];
        char gate[2 * CW_STORE_CODE_MAX + 2] = "-", created[24], revoked[24];
        cw_store_gate_t g;
        if (k->gate != 0 && cw_store_gate_get(st, k->gate, &g, NULL, 0) == 0) {
            snprintf(gate, sizeof(gate), "%s/%s", g.port_code, g.code);
        } else if (k->gate != 0) {
            snprintf(gate, sizeof(gate), "#%llu", (unsigned long long)k->gate);
        }
        format_time(k->created_at, created);
        format_time(k->revoked_at, revoked);
        printf("%-8llu %-8s %-20s %-21s %-21s %s\n", (unsigned long long)k->id,
               cw_role_name(k->role), gate, created, revoked, k->label[0] != '\0' ? k->label : "-");
    }
    free(keys);
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway apikey: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    return CW_EXIT_OK;
}

static int run_revoke(int argc, char **argv)
{
    const char *db = NULL, *id_text = NULL, *actor = "clearway apikey";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc) {
            actor = argv[++i];
        } else if (argv[i][0] != '-' && id_text == NULL) {
            id_text = argv[i];
        } else {
            return cw_cli_usage_error("apikey", "unknown argument '%s'", argv[i]);
        }
    }
    if (db == NULL || id_text == NULL) {
        return cw_cli_usage_error("apikey", "revoke needs --db and the key's ID");
    }
    char *end;
    errno = 0;
    unsigned long long id = strtoull(id_text, &end, 10);
    if (errno != 0 || *end != '\0' || id == 0 || id_text[0] == '-') {
        return cw_cli_usage_error("apikey", "'%s' is not a key ID (see `clearway apikey list`)",
                                  id_text);
    }
    cw_store_t *st;
    if (open_db(db, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    char diag[256] = "";
    int err = cw_store_apikey_revoke(st, id, (int64_t)time(NULL), actor, diag, sizeof(diag));
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway apikey: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    printf("API key %llu revoked\n", id);
    return CW_EXIT_OK;
}

static int run_apikey(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "add") == 0) {
        return run_add(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        return run_list(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "revoke") == 0) {
        return run_revoke(argc, argv);
    }
    return cw_cli_usage_error("apikey", "expected `add`, `list` or `revoke`");
}
