// SPDX-License-Identifier: Apache-2.0
// The store's subcommands: `clearway audit verify`, `clearway purge`, `clearway keys rotate` and
// `clearway enrol --csv` (bulk import with a progress bar, a report of rejected rows, idempotent
// re-runs, and a 1:N check of each new face against the faces already enrolled that flags likely
// duplicate identities for an officer's review).
#include "cli.h"
#include "face_cli.h"

#include "clearway/clearway.h"
#include "clearway/gallery.h"
#include "clearway/store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int run_audit(int argc, char **argv);
static int run_purge(int argc, char **argv);
static int run_keys(int argc, char **argv);
static int run_enrol(int argc, char **argv);

const cw_cli_command_t cw_cmd_audit = {
    "audit",
    "Verify the hash chain of a store's audit log",
    "Usage: clearway audit verify --db DB\n"
    "\n"
    "Recomputes the audit log's keyed hash chain from the first entry and reports the first\n"
    "entry whose content, link, sequence or checkpoint does not match (or entries missing from\n"
    "the end). DB is a SQLite file or a postgresql:// URL; the key comes from CLEARWAY_KEY or\n"
    "the key file (DB.key for SQLite).\n"
    "\n"
    "Exit status: 0 intact, 1 broken or failure, 2 bad command line.\n",
    run_audit,
    NULL,
};

const cw_cli_command_t cw_cmd_purge = {
    "purge",
    "Apply retention: end departed flight tokens and delete what they leave",
    "Usage: clearway purge --db DB [--dry-run] [--after HOURS] [--now UNIX_TIME]\n"
    "\n"
    "Flight-token memberships whose departure is more than HOURS ago (default 24) end; a\n"
    "traveller left with no membership is deleted with his documents, consents and templates.\n"
    "Prints one line per membership and the template ids removed (for the galleries).\n"
    "\n"
    "  --dry-run   list what would go, change nothing\n"
    "\n"
    "Exit status: 0 done, 1 failure, 2 bad command line.\n",
    run_purge,
    NULL,
};

const cw_cli_command_t cw_cmd_keys = {
    "keys",
    "Rotate the store's encryption key",
    "Usage: clearway keys rotate --db DB [--key-file FILE] [--batch N]\n"
    "\n"
    "Adds a new random key at the top of the key file (DB.key for SQLite), re-encrypts every\n"
    "row in batches of N (default 500), one transaction each, then drops the old keys from the\n"
    "file. Safe to interrupt or kill: every ciphertext names its key, and running the command\n"
    "again finishes the rotation in progress instead of starting another one.\n"
    "\n"
    "Exit status: 0 done, 1 failure, 2 bad command line.\n",
    run_keys,
    NULL,
};

const cw_cli_command_t cw_cmd_enrol = {
    "enrol",
    "Bulk-import travellers from a CSV file",
    "Usage: clearway enrol --csv FILE --db DB [--images DIR] [--actor NAME]\n"
    "                      [--report FILE] [--dup-threshold T] [--now UNIX_TIME]\n"
    "\n"
    "FILE has this header and one traveller per line (fields may be double-quoted):\n"
    "  name_local,name_latin,sex,birth,residence,nationality,doc_type,doc_number,doc_issued,\n"
    "  doc_expires,mrz,programme,consent,image\n"
    "sex F|M|X; dates YYYY-MM-DD; residence hk|macao|mainland|visitor|other; doc_type\n"
    "mtp|eep|hkid|passport|cap; programme document-free|contactless|smart-departure|closed-area;\n"
    "consent face or face+fingerprint (given at import time); image a photo in DIR (optional).\n"
    "\n"
    "Each row is one transaction. A row whose document is enrolled already is skipped, so\n"
    "re-running an import is harmless. Rejected rows are listed with their reason on stderr\n"
    "(or in --report FILE). With --images, each face is searched against the faces enrolled\n"
    "so far; a score at or above the threshold (default: the model's threshold at FMR 1e-4)\n"
    "enrols the row under review, pointing at the record it resembles. Progress on stderr.\n"
    "\n"
    "Exit status: 0 all rows enrolled or present, 1 some rejected or failure, 2 bad command "
    "line.\n",
    run_enrol,
    NULL,
};

static int open_db(const char *name, const char *db, const char *key_file, cw_store_t **st)
{
    char diag[256] = "";
    cw_store_config_t cfg = {0};
    cfg.key_file = key_file;
    int err = cw_store_open(db, &cfg, st, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "clearway %s: cannot open %s: %s (%s)\n", name, db, diag, cw_err_name(err));
        return -1;
    }
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s) {
        return -1;
    }
    *out = v;
    return 0;
}

// ---- audit ----

static int run_audit(int argc, char **argv)
{
    const char *db = NULL;
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        return cw_cli_usage_error("audit", "expected `verify`");
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else {
            return cw_cli_usage_error("audit", "unknown argument '%s'", argv[i]);
        }
    }
    if (db == NULL) {
        return cw_cli_usage_error("audit", "--db is required");
    }
    cw_store_t *st;
    if (open_db("audit", db, NULL, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    cw_audit_report_t rep;
    char diag[256] = "";
    int err = cw_store_audit_verify(st, &rep, diag, sizeof(diag));
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway audit: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    if (!rep.intact) {
        printf("audit log BROKEN at entry %llu: %s (%llu entries verified before it)\n",
               (unsigned long long)rep.first_bad, rep.reason, (unsigned long long)rep.entries);
        return CW_EXIT_FAIL;
    }
    printf("audit log intact: %llu entries, %llu checkpoints\n", (unsigned long long)rep.entries,
           (unsigned long long)rep.checkpoints);
    return CW_EXIT_OK;
}

// ---- purge ----

static int run_purge(int argc, char **argv)
{
    const char *db = NULL;
    int dry = 0;
    int64_t hours = 24, now = (int64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(argv[i], "--after") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], &hours) != 0 || hours < 1) {
                return cw_cli_usage_error("purge", "--after takes a positive number of hours");
            }
        } else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], &now) != 0) {
                return cw_cli_usage_error("purge", "--now takes a Unix time");
            }
        } else {
            return cw_cli_usage_error("purge", "unknown argument '%s'", argv[i]);
        }
    }
    if (db == NULL) {
        return cw_cli_usage_error("purge", "--db is required");
    }
    cw_store_t *st;
    if (open_db("purge", db, NULL, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    cw_store_retention_t pol = {.flight_token_after = hours * 3600};
    cw_store_purge_report_t rep;
    char diag[256] = "";
    int err = cw_store_purge(st, now, &pol, dry, "clearway purge", &rep, diag, sizeof(diag));
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway purge: %s (%s)\n", diag, cw_err_name(err));
        cw_store_purge_report_free(&rep);
        return CW_EXIT_FAIL;
    }
    for (size_t i = 0; i < rep.n_items; i++) {
        printf("%s traveller %llu: flight token ends%s\n", dry ? "would purge" : "purged",
               (unsigned long long)rep.items[i].traveller,
               rep.items[i].whole_record ? ", whole record deleted" : "");
    }
    for (size_t i = 0; i < rep.n_templates; i++) {
        printf("template %llu %s\n", (unsigned long long)rep.template_ids[i],
               dry ? "would be deleted" : "deleted");
    }
    printf("%s: %zu memberships, %zu templates\n", dry ? "dry run" : "purged", rep.n_items,
           rep.n_templates);
    cw_store_purge_report_free(&rep);
    return CW_EXIT_OK;
}

// ---- keys ----

static int rekey_loop(cw_store_t *st, size_t batch, uint64_t *total)
{
    for (;;) {
        uint64_t done = 0, left = 0;
        char diag[256] = "";
        int err = cw_store_rekey_step(st, batch, &done, &left, diag, sizeof(diag));
        if (err != 0) {
            fprintf(stderr, "clearway keys: %s (%s)\n", diag, cw_err_name(err));
            return -1;
        }
        *total += done;
        if (done > 0) {
            fprintf(stderr, "re-encrypted %llu rows, %llu to go\n", (unsigned long long)*total,
                    (unsigned long long)left);
        }
        if (left == 0) {
            return 0;
        }
    }
}

static int run_keys(int argc, char **argv)
{
    const char *db = NULL, *key_file = NULL;
    int64_t batch = 500;
    if (argc < 2 || strcmp(argv[1], "rotate") != 0) {
        return cw_cli_usage_error("keys", "expected `rotate`");
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
            key_file = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], &batch) != 0 || batch < 1 || batch > 1000000) {
                return cw_cli_usage_error("keys", "--batch takes 1..1000000");
            }
        } else {
            return cw_cli_usage_error("keys", "unknown argument '%s'", argv[i]);
        }
    }
    if (db == NULL) {
        return cw_cli_usage_error("keys", "--db is required");
    }
    const char *env = getenv("CLEARWAY_KEY");
    if (env != NULL && env[0] != '\0') {
        fprintf(stderr, "clearway keys: CLEARWAY_KEY is set; rotation works on the key file "
                        "(unset it, or put the new key first in CLEARWAY_KEY yourself)\n");
        return CW_EXIT_FAIL;
    }
    cw_store_config_t cfg = {.key_file = key_file};
    char path[1024];
    if (cw_store_key_file_path(db, &cfg, path, sizeof(path)) != 0) {
        return cw_cli_usage_error("keys", "a PostgreSQL store needs --key-file");
    }
    cw_store_t *st;
    uint64_t total = 0;
    // First finish a rotation that was interrupted, if any.
    if (open_db("keys", db, path, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    int rc = rekey_loop(st, (size_t)batch, &total);
    cw_store_close(st);
    if (rc != 0) {
        return CW_EXIT_FAIL;
    }
    char diag[256] = "";
    if (total == 0) {
        int err = cw_store_key_file_add(path, diag, sizeof(diag));
        if (err != 0) {
            fprintf(stderr, "clearway keys: %s (%s)\n", diag, cw_err_name(err));
            return CW_EXIT_FAIL;
        }
        if (open_db("keys", db, path, &st) != 0) {
            return CW_EXIT_FAIL;
        }
        rc = rekey_loop(st, (size_t)batch, &total);
        cw_store_close(st);
        if (rc != 0) {
            return CW_EXIT_FAIL;
        }
    }
    int err = cw_store_key_file_retire(path, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "clearway keys: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    printf("key rotated: %llu rows re-encrypted; old keys removed from %s\n",
           (unsigned long long)total, path);
    return CW_EXIT_OK;
}

// ---- enrol ----

enum { N_COLS = 14, LINE_MAX_BYTES = 4096 };

static const char *const header =
    "name_local,name_latin,sex,birth,residence,nationality,doc_type,doc_number,doc_issued,"
    "doc_expires,mrz,programme,consent,image";

// Split one CSV line in place into at most N_COLS fields; -1 if malformed or too many.
static int split_csv(char *line, char *fields[N_COLS])
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == N_COLS) {
            return -1;
        }
        if (*p == '"') {
            char *w = ++p;
            fields[n++] = w;
            for (;;) {
                if (*p == '\0') {
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            *w = '\0';
            if (*p != ',' && *p != '\0') {
                return -1;
            }
        } else {
            fields[n++] = p;
            p += strcspn(p, ",");
        }
        if (*p == '\0') {
            return n;
        }
        *p++ = '\0';
    }
}

static int lookup(const char *s, const char *const *names, const int *values, int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = values[i];
            return 0;
        }
    }
    return -1;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap) {
        return -1;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

// Row to record; on error writes the reason and returns -1.
static int parse_row(char *f[N_COLS], int64_t now, cw_store_traveller_t *t, char *why,
                     size_t why_len)
{
    static const char *const sexes[] = {"F", "M", "X"};
    static const int sex_v[] = {CW_SEX_FEMALE, CW_SEX_MALE, CW_SEX_UNSPECIFIED};
    static const char *const res[] = {"hk", "macao", "mainland", "visitor", "other"};
    static const int res_v[] = {CW_RESIDENCE_HONG_KONG, CW_RESIDENCE_MACAO, CW_RESIDENCE_MAINLAND,
                                CW_RESIDENCE_VISITOR, CW_RESIDENCE_OTHER};
    static const char *const docs[] = {"mtp", "eep", "hkid", "passport", "cap"};
    static const int doc_v[] = {CW_DOC_MAINLAND_TRAVEL_PERMIT, CW_DOC_EXIT_ENTRY_PERMIT,
                                CW_DOC_HK_IDENTITY_CARD, CW_DOC_PASSPORT,
                                CW_DOC_CLOSED_AREA_PERMIT};
    static const char *const progs[] = {"document-free", "contactless", "smart-departure",
                                        "closed-area"};
    static const int prog_v[] = {CW_PROGRAMME_DOCUMENT_FREE, CW_PROGRAMME_CONTACTLESS,
                                 CW_PROGRAMME_SMART_DEPARTURE, CW_PROGRAMME_CLOSED_AREA};
    memset(t, 0, sizeof(*t));
    int v;
    cw_store_document_t *d = &t->documents[0];
    if (copy_field(t->name_local, sizeof(t->name_local), f[0]) != 0 ||
        copy_field(t->name_latin, sizeof(t->name_latin), f[1]) != 0 ||
        copy_field(t->nationality, sizeof(t->nationality), f[5]) != 0 ||
        copy_field(d->number, sizeof(d->number), f[7]) != 0 ||
        copy_field(d->mrz, sizeof(d->mrz), f[10]) != 0) {
        snprintf(why, why_len, "a field is too long");
        return -1;
    }
    if (lookup(f[2], sexes, sex_v, 3, &v) != 0) {
        snprintf(why, why_len, "unknown sex '%.20s'", f[2]);
        return -1;
    }
    t->sex = (cw_sex_t)v;
    if (cw_date_parse(f[3], &t->birth) != 0) {
        snprintf(why, why_len, "invalid birth date '%.20s'", f[3]);
        return -1;
    }
    if (lookup(f[4], res, res_v, 5, &v) != 0) {
        snprintf(why, why_len, "unknown residence '%.20s'", f[4]);
        return -1;
    }
    t->residence = (cw_residence_t)v;
    if (lookup(f[6], docs, doc_v, 5, &v) != 0) {
        snprintf(why, why_len, "unknown document type '%.20s'", f[6]);
        return -1;
    }
    d->type = (cw_doc_type_t)v;
    if (cw_date_parse(f[8], &d->issued) != 0 || cw_date_parse(f[9], &d->expires) != 0) {
        snprintf(why, why_len, "invalid document date");
        return -1;
    }
    t->n_documents = 1;
    if (lookup(f[11], progs, prog_v, 4, &v) != 0) {
        snprintf(why, why_len, "unknown programme '%.30s'", f[11]);
        return -1;
    }
    t->n_memberships = 1;
    t->memberships[0].programme = (cw_programme_t)v;
    t->memberships[0].enrolled_at = now;
    if (v == CW_PROGRAMME_CLOSED_AREA) {
        snprintf(t->memberships[0].area, sizeof(t->memberships[0].area), "DEFAULT");
    }
    if (strcmp(f[12], "face") == 0 || strcmp(f[12], "face+fingerprint") == 0) {
        t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FACE, now, 0};
        if (strcmp(f[12], "face+fingerprint") == 0) {
            t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, now, 0};
        }
    } else if (f[12][0] != '\0') {
        snprintf(why, why_len, "unknown consent '%.20s'", f[12]);
        return -1;
    }
    return 0;
}

typedef struct enrol_ctx {
    cw_cli_face_t cf;
    int have_face;
    cw_gallery_t *gallery;
    uint32_t model_id, model_version, dim;
} enrol_ctx_t;

static int add_to_gallery(void *arg, uint64_t traveller, const cw_store_template_t *t,
                          const void *data, size_t len)
{
    enrol_ctx_t *c = arg;
    if (t->model_id != c->model_id || t->model_version != c->model_version ||
        len != c->dim * sizeof(float)) {
        return 0; // another model's templates are not comparable
    }
    float v[CW_FACE_MAX_DIM];
    memcpy(v, data, len);
    int err = cw_gallery_add(c->gallery, traveller, v);
    cw_memzero(v, sizeof(v));
    return err == CW_EEXIST ? 0 : err; // one face per traveller is enough for the check
}

static void progress(size_t done, size_t total, int tty)
{
    if (total == 0 || (!tty && done % 500 != 0 && done != total)) {
        return;
    }
    int width = 30, fill = (int)(done * (size_t)width / total);
    fprintf(stderr, "%s[", tty ? "\r" : "");
    for (int i = 0; i < width; i++) {
        fputc(i < fill ? '#' : ' ', stderr);
    }
    fprintf(stderr, "] %zu/%zu rows%s", done, total, tty ? "" : "\n");
    if (tty && done == total) {
        fputc('\n', stderr);
    }
}

static int run_enrol(int argc, char **argv)
{
    const char *csv = NULL, *db = NULL, *images = NULL, *actor = "clearway enrol",
               *report_path = NULL;
    double threshold = NAN;
    int64_t now = (int64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            return cw_cli_usage_error("enrol", "unknown argument '%s'", a);
        }
        if (strcmp(a, "--csv") == 0) {
            csv = argv[++i];
        } else if (strcmp(a, "--db") == 0) {
            db = argv[++i];
        } else if (strcmp(a, "--images") == 0) {
            images = argv[++i];
        } else if (strcmp(a, "--actor") == 0) {
            actor = argv[++i];
        } else if (strcmp(a, "--report") == 0) {
            report_path = argv[++i];
        } else if (strcmp(a, "--dup-threshold") == 0) {
            char *end;
            threshold = strtod(argv[++i], &end);
            if (*end != '\0' || !(threshold >= -1 && threshold <= 1)) {
                return cw_cli_usage_error("enrol", "--dup-threshold must be in [-1, 1]");
            }
        } else if (strcmp(a, "--now") == 0) {
            if (parse_i64(argv[++i], &now) != 0) {
                return cw_cli_usage_error("enrol", "--now takes a Unix time");
            }
        } else {
            return cw_cli_usage_error("enrol", "unknown argument '%s'", a);
        }
    }
    if (csv == NULL || db == NULL) {
        return cw_cli_usage_error("enrol", "--csv and --db are required");
    }
    FILE *in = fopen(csv, "r");
    if (in == NULL) {
        fprintf(stderr, "clearway enrol: cannot read %s: %s\n", csv, strerror(errno));
        return CW_EXIT_FAIL;
    }
    // Count the rows for the progress bar.
    size_t total = 0;
    char line[LINE_MAX_BYTES];
    while (fgets(line, sizeof(line), in) != NULL) {
        total++;
    }
    total = total > 0 ? total - 1 : 0;
    rewind(in);
    if (fgets(line, sizeof(line), in) == NULL || strncmp(line, header, strlen(header)) != 0) {
        fprintf(stderr, "clearway enrol: %s: the first line must be the header:\n%s\n", csv,
                header);
        fclose(in);
        return CW_EXIT_FAIL;
    }
    FILE *report = stderr;
    if (report_path != NULL && (report = fopen(report_path, "w")) == NULL) {
        fprintf(stderr, "clearway enrol: cannot write %s: %s\n", report_path, strerror(errno));
        fclose(in);
        return CW_EXIT_FAIL;
    }
    cw_store_t *st;
    if (open_db("enrol", db, NULL, &st) != 0) {
        fclose(in);
        if (report != stderr) {
            fclose(report);
        }
        return CW_EXIT_FAIL;
    }
    enrol_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    int rc = CW_EXIT_OK;
    if (images != NULL) {
        cw_face_config_t fcfg = {0};
        if (cw_cli_face_open(&fcfg, &ctx.cf) != 0) {
            rc = CW_EXIT_FAIL;
        } else {
            ctx.have_face = 1;
            cw_face_engine_model(ctx.cf.engine, &ctx.model_id, &ctx.model_version, &ctx.dim);
            if (isnan(threshold)) {
                threshold = cw_face_threshold(ctx.model_id, ctx.model_version, 0, 1e-4);
            }
            cw_gallery_config_t gc = {ctx.dim, 1, ctx.model_id, ctx.model_version, 1024};
            char diag[256] = "";
            int err = cw_gallery_create(&gc, &ctx.gallery);
            if (err == 0) {
                err = cw_store_template_each(st, CW_MODALITY_FACE, add_to_gallery, &ctx, diag,
                                             sizeof(diag));
            }
            if (err != 0) {
                fprintf(stderr, "clearway enrol: loading enrolled faces: %s (%s)\n", diag,
                        cw_err_name(err));
                rc = CW_EXIT_FAIL;
            }
        }
    }
    size_t row = 0, enrolled = 0, present = 0, rejected = 0, flagged = 0;
    int tty = isatty(2);
    while (rc == CW_EXIT_OK && fgets(line, sizeof(line), in) != NULL) {
        row++;
        line[strcspn(line, "\r\n")] = '\0';
        char *f[N_COLS];
        char why[300] = "";
        cw_store_traveller_t t;
        cw_face_template_t ft;
        int ok = split_csv(line, f) == N_COLS;
        if (!ok) {
            snprintf(why, sizeof(why), "expected %d fields", N_COLS);
        } else {
            ok = parse_row(f, now, &t, why, sizeof(why)) == 0;
        }
        uint64_t holder = 0;
        if (ok && cw_store_find_document(st, t.documents[0].type, t.documents[0].number, &holder,
                                         NULL, 0) == 0) {
            present++; // imported by an earlier run
            progress(row, total, tty);
            continue;
        }
        if (ok && f[13][0] != '\0') {
            if (!ctx.have_face) {
                snprintf(why, sizeof(why), "image given but no --images folder");
                ok = 0;
            } else {
                char path[2048];
                snprintf(path, sizeof(path), "%s/%s", images, f[13]);
                cw_cli_face_photo_t ph;
                ok = 0;
                if (strstr(f[13], "..") != NULL) {
                    snprintf(why, sizeof(why), "image path leaves the folder");
                } else if (cw_cli_face_photo(&ctx.cf, path, CW_FACE_SUBJECT_AUTO, &ph) != 0) {
                    snprintf(why, sizeof(why), "cannot read image %.200s", f[13]);
                } else {
                    if (ph.subject < 0) {
                        snprintf(why, sizeof(why), "no face in %.200s", f[13]);
                    } else if (cw_face_embed(ctx.cf.session, &ph.img, &ph.faces[ph.subject], &ft) !=
                               0) {
                        snprintf(why, sizeof(why), "cannot embed %.200s", f[13]);
                    } else {
                        ok = 1;
                        cw_store_template_t *b = &t.templates[t.n_templates++];
                        b->modality = CW_MODALITY_FACE;
                        b->model_id = ft.model_id;
                        b->model_version = ft.model_version;
                        b->quality = 1.0f;
                        b->captured_at = now;
                        snprintf(b->device, sizeof(b->device), "import");
                        b->data = ft.v;
                        b->len = ft.dim * sizeof(float);
                        if (cw_gallery_count(ctx.gallery) > 0) {
                            cw_gallery_hit_t hit;
                            int n_hits = 0;
                            if (cw_gallery_search(ctx.gallery, ft.v, 1, NULL, &hit, &n_hits) == 0 &&
                                n_hits == 1 && hit.score >= threshold) {
                                t.status = CW_STORE_REVIEW;
                                t.review_of = hit.id;
                            }
                        }
                    }
                    cw_cli_face_photo_free(&ph);
                }
            }
        }
        if (ok) {
            char diag[256] = "";
            int err = cw_store_enrol(st, &t, now, actor, diag, sizeof(diag));
            if (err == CW_EEXIST) {
                present++;
            } else if (err != 0) {
                snprintf(why, sizeof(why), "%s: %s", cw_err_name(err), diag);
                ok = 0;
            } else {
                enrolled++;
                flagged += t.status == CW_STORE_REVIEW;
                if (t.n_templates > 0 && ctx.gallery != NULL) {
                    (void)cw_gallery_add(ctx.gallery, t.id, ft.v);
                }
                if (t.status == CW_STORE_REVIEW) {
                    fprintf(report,
                            "row %zu: enrolled as traveller %llu UNDER REVIEW: face "
                            "resembles traveller %llu\n",
                            row + 1, (unsigned long long)t.id, (unsigned long long)t.review_of);
                }
            }
        }
        if (!ok) {
            rejected++;
            fprintf(report, "row %zu: rejected: %s\n", row + 1, why);
        }
        cw_memzero(&t, sizeof(t));
        cw_memzero(&ft, sizeof(ft));
        progress(row, total, tty);
    }
    fclose(in);
    if (report != stderr) {
        fclose(report);
    }
    cw_gallery_destroy(ctx.gallery);
    if (ctx.have_face) {
        cw_cli_face_close(&ctx.cf);
    }
    cw_store_close(st);
    if (rc == CW_EXIT_OK) {
        printf("enrolled %zu, already present %zu, rejected %zu, flagged for review %zu\n",
               enrolled, present, rejected, flagged);
    }
    return rc != CW_EXIT_OK ? rc : rejected > 0 ? CW_EXIT_FAIL : CW_EXIT_OK;
}
