// SPDX-License-Identifier: Apache-2.0
// `clearway sim population`: the population model (include/clearway/sim.h) run on score files.
// Reads the face (and fingerprint) scores, fits each impostor tail, prints every mode's figures
// for N = 1e3 .. 1e8, the largest N each mode serves, and the model beside a direct simulation;
// optionally all of it as JSON and as recommended policies, traceable to the input files by
// their BLAKE2b-256 hashes. The model's assumptions are in the help (cmd_sim.c) and sim.c.
#include "cli.h"

#include "clearway/clearway.h"
#include "clearway/eval.h"
#include "clearway/sim.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME "sim population"

enum { MAX_FILES = 8 }; // score files per modality

typedef struct opts {
    const char *face[MAX_FILES], *finger[MAX_FILES];
    int n_face, n_finger;
    const char *same_person; // file of NAME_A <TAB> NAME_B lines: one person, not impostors
    const char *json, *policy;
    double tail_fraction, finger_tail_fraction;
    int check;
    uint64_t trials, seed;
    cw_sim_params_t p;
} opts_t;

// One score file: what it held, and how to find it again.
typedef struct file {
    const char *path;
    char system[96];
    long long bytes;
    char hash[2 * crypto_generichash_BYTES + 1]; // BLAKE2b-256, hex
    size_t n_gen, n_imp, n_same;                 // n_same: impostor pairs dropped as one person
} file_t;

// One modality: its files, pooled into one model.
typedef struct input {
    file_t file[MAX_FILES];
    int n_files;
    char system[96];
    size_t n_gen, n_imp, n_same;
    double tail_fraction;
    cw_sim_scores_t *model;
} input_t;

// Pairs of subject names that are one person (a name change, a spelling, a label error).
typedef struct aliases {
    char **a, **b;
    size_t n;
} aliases_t;

static const uint64_t DECADES[] = {1000, 10000, 100000, 1000000, 10000000, 100000000};
enum { N_DECADES = sizeof(DECADES) / sizeof(DECADES[0]) };
// The largest-N search starts at 10 so that a mode failing at 1,000 still gets its number.
#define LO_N 10u
#define HI_N 100000000u

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    cw_sim_params_default(&o->p);
    o->tail_fraction = 1e-3;
    o->trials = 200000;
    o->seed = 1;
    static const char *const takes[] = {"--face",          "--finger",
                                        "--same-person",   "--target-fpir",
                                        "--max-fnir",      "--margin",
                                        "--tail-fraction", "--finger-tail-fraction",
                                        "--face-fmr",      "--inside-face-fmr",
                                        "--finger-fmr",    "--fingers",
                                        "--captures",      "--json",
                                        "--policy",        "--decision-fpir",
                                        "--max-hint",      "--trials",
                                        "--seed",          NULL};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int value = 0;
        for (int k = 0; takes[k] != NULL; k++) {
            value |= strcmp(a, takes[k]) == 0;
        }
        if (value && v == NULL) {
            return cw_cli_usage_error("sim", "%s needs a value", a);
        }
        long n = 0;
        int rc = 0;
        if (strcmp(a, "--face") == 0 || strcmp(a, "--finger") == 0) {
            int face = strcmp(a, "--face") == 0;
            int *count = face ? &o->n_face : &o->n_finger;
            if (*count == MAX_FILES) {
                return cw_cli_usage_error("sim", "at most %d %s files", MAX_FILES, a);
            }
            (face ? o->face : o->finger)[(*count)++] = v;
        } else if (strcmp(a, "--same-person") == 0) {
            o->same_person = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json = v;
        } else if (strcmp(a, "--policy") == 0) {
            o->policy = v;
        } else if (strcmp(a, "--target-fpir") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->p.target_fpir);
        } else if (strcmp(a, "--max-fnir") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 1, 1, &o->p.max_fnir);
        } else if (strcmp(a, "--max-hint") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 0, &o->p.max_hint);
        } else if (strcmp(a, "--decision-fpir") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->p.decision_fpir);
        } else if (strcmp(a, "--margin") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 1, 0, &o->p.margin);
        } else if (strcmp(a, "--tail-fraction") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->tail_fraction);
        } else if (strcmp(a, "--finger-tail-fraction") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->finger_tail_fraction);
        } else if (strcmp(a, "--face-fmr") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->p.face_fmr);
        } else if (strcmp(a, "--inside-face-fmr") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->p.inside_face_fmr);
        } else if (strcmp(a, "--finger-fmr") == 0) {
            rc = cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->p.finger_fmr);
        } else if (strcmp(a, "--fingers") == 0) {
            rc = cw_cli_long_arg("sim", a, v, 1, 10, &n);
            o->p.fingers = (int)n;
        } else if (strcmp(a, "--captures") == 0) {
            rc = cw_cli_long_arg("sim", a, v, 1, 100, &n);
            o->p.captures = (int)n;
        } else if (strcmp(a, "--trials") == 0) {
            rc = cw_cli_long_arg("sim", a, v, 100, 100000000, &n);
            o->trials = (uint64_t)n;
        } else if (strcmp(a, "--seed") == 0) {
            rc = cw_cli_long_arg("sim", a, v, 1, 2000000000, &n);
            o->seed = (uint64_t)n;
        } else if (strcmp(a, "--check") == 0) {
            o->check = 1;
        } else {
            return cw_cli_usage_error("sim", "unknown argument '%s'", a);
        }
        if (rc != 0) {
            return rc;
        }
        i += value;
    }
    if (o->n_face == 0) {
        return cw_cli_usage_error("sim", "--face FILE is required");
    }
    return 0;
}

// BLAKE2b-256 of the file's bytes, in hex, and its size.
static int hash_file(const char *path, char *hex, size_t hex_len, long long *bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return CW_EIO;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
    unsigned char buf[1 << 16];
    size_t got;
    *bytes = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_generichash_update(&st, buf, got);
        *bytes += (long long)got;
    }
    int bad = ferror(f);
    fclose(f);
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(hex, hex_len, h, sizeof h);
    return bad ? CW_EIO : 0;
}

static void aliases_free(aliases_t *al)
{
    for (size_t i = 0; i < al->n; i++) {
        free(al->a[i]);
        free(al->b[i]);
    }
    free(al->a);
    free(al->b);
    memset(al, 0, sizeof *al);
}

// The --same-person file: one pair of names per line, tab-separated; '#' starts a comment.
static int aliases_read(const char *path, aliases_t *al)
{
    memset(al, 0, sizeof *al);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "clearway %s: cannot read '%s': %s\n", NAME, path, strerror(errno));
        return CW_EXIT_FAIL;
    }
    char line[1024];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        ln++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *tab = strchr(line, '\t');
        if (tab == NULL || tab == line || tab[1] == '\0' || strchr(tab + 1, '\t') != NULL) {
            fprintf(stderr, "clearway %s: %s: line %d: expected NAME_A<TAB>NAME_B\n", NAME, path,
                    ln);
            rc = CW_EXIT_FAIL;
            break;
        }
        *tab = '\0';
        char **na = realloc(al->a, (al->n + 1) * sizeof *na);
        if (na != NULL) {
            al->a = na;
        }
        char **nb = realloc(al->b, (al->n + 1) * sizeof *nb);
        if (nb != NULL) {
            al->b = nb;
        }
        char *x = strdup(line), *y = strdup(tab + 1);
        if (na == NULL || nb == NULL || x == NULL || y == NULL) {
            free(x);
            free(y);
            fprintf(stderr, "clearway %s: out of memory\n", NAME);
            rc = CW_EXIT_FAIL;
            break;
        }
        al->a[al->n] = x;
        al->b[al->n] = y;
        al->n++;
    }
    fclose(f);
    if (rc != 0) {
        aliases_free(al);
    }
    return rc;
}

// Subject pairs of s that al names as one person: mark[a * n + b] would be too big, so each
// subject gets the index of its alias class (its own index when it has none).
static uint32_t *alias_classes(const cw_eval_scores_t *s, const aliases_t *al)
{
    uint32_t *cls = malloc((s->n_subjects ? s->n_subjects : 1) * sizeof *cls);
    if (cls == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < s->n_subjects; i++) {
        cls[i] = i;
    }
    // Few aliases: a pass per alias, joining the two names' classes (union by relabelling).
    for (size_t k = 0; k < al->n; k++) {
        uint32_t ca = UINT32_MAX, cb = UINT32_MAX;
        for (uint32_t i = 0; i < s->n_subjects; i++) {
            if (s->subject[i] != NULL && strcmp(s->subject[i], al->a[k]) == 0) {
                ca = cls[i];
            }
            if (s->subject[i] != NULL && strcmp(s->subject[i], al->b[k]) == 0) {
                cb = cls[i];
            }
        }
        if (ca == UINT32_MAX || cb == UINT32_MAX || ca == cb) {
            continue;
        }
        for (uint32_t i = 0; i < s->n_subjects; i++) {
            if (cls[i] == cb) {
                cls[i] = ca;
            }
        }
    }
    return cls;
}

static int grow_floats(float **a, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 1024;
    while (c < need) {
        c += c / 2;
    }
    float *n = realloc(*a, c * sizeof *n);
    if (n == NULL) {
        return CW_ENOMEM;
    }
    *a = n;
    *cap = c;
    return 0;
}

// Read one score file into the pooled arrays (impostor pairs of one person dropped), and hash it.
static int load_file(const char *path, const char *modality, const aliases_t *al, file_t *fl,
                     float **gen, size_t *cap_gen, size_t *n_gen, float **imp, size_t *cap_imp,
                     size_t *n_imp)
{
    memset(fl, 0, sizeof *fl);
    fl->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "clearway %s: cannot read '%s': %s\n", NAME, path, strerror(errno));
        return CW_EXIT_FAIL;
    }
    fprintf(stderr, "reading %s (%lld bytes)\n", path, (long long)sb.st_size);
    char diag[256] = "";
    cw_eval_scores_t s;
    int err = cw_eval_scores_read(path, &s, diag, sizeof diag);
    if (err != 0) {
        fprintf(stderr, "clearway %s: cannot read '%s': %s\n", NAME, path,
                diag[0] ? diag : cw_strerror(err));
        return CW_EXIT_FAIL;
    }
    if (s.modality[0] != '\0' && strcmp(s.modality, modality) != 0) {
        fprintf(stderr, "clearway %s: '%s' holds %s scores, not %s\n", NAME, path, s.modality,
                modality);
        cw_eval_scores_free(&s);
        return CW_EXIT_FAIL;
    }
    snprintf(fl->system, sizeof fl->system, "%s", s.system);
    uint32_t *cls = al->n > 0 ? alias_classes(&s, al) : NULL;
    if ((al->n > 0 && cls == NULL) || grow_floats(gen, cap_gen, *n_gen + s.n_gen) != 0 ||
        grow_floats(imp, cap_imp, *n_imp + s.n_imp) != 0) {
        free(cls);
        cw_eval_scores_free(&s);
        fprintf(stderr, "clearway %s: out of memory\n", NAME);
        return CW_EXIT_FAIL;
    }
    for (size_t i = 0; i < s.n_gen; i++) {
        (*gen)[(*n_gen)++] = s.gen[i].score;
    }
    for (size_t i = 0; i < s.n_imp; i++) {
        const cw_eval_pair_t *q = &s.imp[i];
        if (cls != NULL && cls[q->a] == cls[q->b]) {
            fl->n_same++;
            continue;
        }
        (*imp)[(*n_imp)++] = q->score;
    }
    fl->n_gen = s.n_gen;
    fl->n_imp = s.n_imp - fl->n_same;
    free(cls);
    cw_eval_scores_free(&s);
    if (hash_file(path, fl->hash, sizeof fl->hash, &fl->bytes) != 0) {
        fprintf(stderr, "clearway %s: cannot read '%s'\n", NAME, path);
        return CW_EXIT_FAIL;
    }
    return 0;
}

// Read a modality's score files, pool them, and build its model. Errors are printed; returns an
// exit code.
static int load(const char *const *paths, int n_paths, const char *modality, const aliases_t *al,
                double tail_fraction, input_t *in)
{
    memset(in, 0, sizeof *in);
    float *gen = NULL, *imp = NULL;
    size_t cap_gen = 0, cap_imp = 0;
    int rc = 0;
    for (int i = 0; i < n_paths && rc == 0; i++) {
        file_t *fl = &in->file[i];
        rc = load_file(paths[i], modality, al, fl, &gen, &cap_gen, &in->n_gen, &imp, &cap_imp,
                       &in->n_imp);
        in->n_files = i + 1;
        in->n_same += fl->n_same;
        if (rc == 0 && (i == 0 || strcmp(in->system, fl->system) != 0)) {
            // One system name, or the files' names joined when they differ.
            size_t l = strlen(in->system);
            snprintf(in->system + l, sizeof in->system - l, "%s%s", i > 0 ? " + " : "", fl->system);
        }
    }
    if (rc == 0 && in->n_same > 0) {
        fprintf(stderr, "%zu %s impostor pairs dropped: one person under two names (%s)\n",
                in->n_same, modality, "--same-person");
    }
    if (rc == 0 && tail_fraction == 0.0) {
        // Finger sets are small: leave 200 scores above u where the face fraction would not.
        double q = in->n_imp > 0 ? 200.0 / (double)in->n_imp : 0.1;
        tail_fraction = q > 0.1 ? 0.1 : q;
        if (tail_fraction < 1e-3) {
            tail_fraction = 1e-3;
        }
    }
    in->tail_fraction = tail_fraction;
    if (rc == 0) {
        fprintf(stderr, "fitting the %s impostor tail (%zu genuine, %zu impostor scores)\n",
                modality, in->n_gen, in->n_imp);
        char diag[256] = "";
        int err = cw_sim_scores_create(gen, in->n_gen, imp, in->n_imp, tail_fraction, NULL,
                                       &in->model, diag, sizeof diag);
        if (err != 0) {
            fprintf(stderr, "clearway %s: %s: %s\n", NAME, paths[0],
                    diag[0] ? diag : cw_strerror(err));
            rc = CW_EXIT_FAIL;
        }
    }
    free(gen);
    free(imp);
    return rc;
}

// 12345678 as "12,345,678".
static const char *grouped(uint64_t n, char *buf, size_t len)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%llu", (unsigned long long)n);
    size_t l = strlen(raw), j = 0;
    for (size_t i = 0; i < l && j + 2 < len; i++) {
        if (i > 0 && (l - i) % 3 == 0) {
            buf[j++] = ',';
        }
        buf[j++] = raw[i];
    }
    buf[j] = '\0';
    return buf;
}

// A threshold for a table: "never" when nothing passes.
static const char *thr(double t, char *buf, size_t len)
{
    if (!isfinite(t)) {
        snprintf(buf, len, "never");
    } else {
        snprintf(buf, len, "%.4f", t);
    }
    return buf;
}

static void print_fit(const char *modality, const input_t *in)
{
    const cw_gallery_calibration_t *c = cw_sim_scores_tail(in->model);
    char same[64] = "";
    if (in->n_same > 0) {
        snprintf(same, sizeof same, " (%zu one-person pairs dropped)", in->n_same);
    }
    printf("| %s | %s | %zu | %zu%s | %g | %.5f | %.3g (%.0f above) | %+.4f | %.5f |\n", modality,
           in->system[0] ? in->system : "-", in->n_gen, in->n_imp, same, in->tail_fraction, c->u,
           c->p_u, c->p_u * (double)in->n_imp, c->xi, c->sigma);
}

static json_t *point_json(const cw_sim_point_t *pt)
{
    json_t *j =
        json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:b}", "mode", cw_sim_mode_name(pt->mode), "n",
                  (json_int_t)pt->n, "fpir", pt->fpir, "fnir", pt->fnir, "fpir_txn", pt->fpir_txn,
                  "fnir_txn_lo", pt->fnir_txn_lo, "fnir_txn_hi", pt->fnir, "ok", pt->ok);
    json_object_set_new(j, "threshold",
                        isfinite(pt->threshold) ? json_real(pt->threshold) : json_null());
    if (pt->mode == CW_SIM_DOCUMENT_FREE || pt->mode == CW_SIM_DOCUMENT_FREE_FIXED) {
        json_object_set_new(j, "front_target", json_real(pt->front_target));
        json_object_set_new(j, "hint_stranger", json_real(pt->hint_stranger));
        json_object_set_new(j, "hint_wrong", json_real(pt->hint_wrong));
        json_object_set_new(j, "finger_threshold",
                            isfinite(pt->finger_threshold) ? json_real(pt->finger_threshold)
                                                           : json_null());
        json_object_set_new(j, "inside_face_threshold",
                            isfinite(pt->inside_threshold) ? json_real(pt->inside_threshold)
                                                           : json_null());
    } else if (pt->mode == CW_SIM_FACE_1N) {
        json_object_set_new(j, "decision_fpir", json_real(pt->front_target));
    }
    return j;
}

static const char *const MODE_TITLE[CW_SIM_N_MODES] = {
    "Face-only 1:N (closed area, Flight Token)",
    "Document-free, front target chosen per N",
    "Document-free, front at the face-only decision FPIR",
    "Face 1:1 (Contactless e-Channel, Smart Departure)",
};

static const char *const MODE_PROGRAMMES[CW_SIM_N_MODES] = {
    "closed_area, flight_token",
    "document_free",
    "document_free (front fixed)",
    "contactless, smart_departure",
};

static int print_mode(const opts_t *o, const input_t *face, const input_t *finger,
                      cw_sim_mode_t mode, json_t *modes)
{
    printf("\n## %s\n\n", MODE_TITLE[mode]);
    int df = mode == CW_SIM_DOCUMENT_FREE || mode == CW_SIM_DOCUMENT_FREE_FIXED;
    if (df) {
        printf("| N | front target | front threshold | FPIR | FNIR | FPIR / transaction | FNIR / "
               "transaction | stranger's hint | wrong hint | meets |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|\n");
    } else {
        printf("| N | threshold | FPIR | FNIR | FPIR / transaction | FNIR / transaction | meets "
               "|\n");
        printf("|---|---|---|---|---|---|---|\n");
    }
    json_t *arr = json_array();
    cw_sim_point_t pt;
    for (int i = 0; i < N_DECADES; i++) {
        int err = cw_sim_evaluate(face->model, finger ? finger->model : NULL, &o->p, mode,
                                  DECADES[i], &pt);
        if (err != 0) {
            json_decref(arr);
            fprintf(stderr, "clearway %s: %s\n", NAME, cw_strerror(err));
            return CW_EXIT_FAIL;
        }
        char nb[32], tb[32];
        const char *nlabel = mode == CW_SIM_FACE_1TO1 ? "any" : grouped(pt.n, nb, sizeof nb);
        if (df) {
            printf("| %s | %.3g | %s | %.3g | %.4f | %.3g | %.4f .. %.4f | %.3g | %.3g | %s |\n",
                   nlabel, pt.front_target, thr(pt.threshold, tb, sizeof tb), pt.fpir, pt.fnir,
                   pt.fpir_txn, pt.fnir_txn_lo, pt.fnir, pt.hint_stranger, pt.hint_wrong,
                   pt.ok ? "yes" : "no");
        } else {
            printf("| %s | %s | %.3g | %.4f | %.3g | %.4f .. %.4f | %s |\n", nlabel,
                   thr(pt.threshold, tb, sizeof tb), pt.fpir, pt.fnir, pt.fpir_txn, pt.fnir_txn_lo,
                   pt.fnir, pt.ok ? "yes" : "no");
        }
        json_array_append_new(arr, point_json(&pt));
        if (mode == CW_SIM_FACE_1TO1) {
            break; // the same at every N
        }
    }
    if (df) {
        printf("\nFinger threshold %.4f (FMR %g per finger, FNMR %.4f); inside face threshold "
               "%.4f (FMR %g, FNMR %.4f).\n",
               pt.finger_threshold, o->p.finger_fmr / o->p.fingers,
               cw_sim_fnmr(finger->model, pt.finger_threshold), pt.inside_threshold,
               o->p.inside_face_fmr, cw_sim_fnmr(face->model, pt.inside_threshold));
    }
    json_object_set_new(modes, cw_sim_mode_name(mode), arr);
    return 0;
}

typedef struct largest {
    uint64_t n;
    int where;
    uint64_t n_attempt;
    int where_attempt;
} largest_t;

static const char *largest_text(uint64_t n, int where, char *buf, size_t len)
{
    if (where < 0) {
        snprintf(buf, len, "< %u", LO_N);
    } else if (where > 0) {
        snprintf(buf, len, ">= 1e8");
    } else {
        grouped(n, buf, len);
    }
    return buf;
}

// The largest N round enough for a policy: the leading digit kept, the rest zeroed.
static uint64_t round_down(uint64_t n)
{
    uint64_t p = 1;
    while (n / p >= 10) {
        p *= 10;
    }
    return n / p * p;
}

static int compute_largest(const opts_t *o, const input_t *face, const input_t *finger,
                           cw_sim_mode_t mode, largest_t *out)
{
    const cw_sim_scores_t *fm = finger ? finger->model : NULL;
    fprintf(stderr, "largest N: %s\n", cw_sim_mode_name(mode));
    int err = cw_sim_largest_n(face->model, fm, &o->p, mode, LO_N, HI_N, &out->n, &out->where);
    if (err != 0) {
        return err;
    }
    // Per attempt: the same decision rule, one capture.
    cw_sim_params_t q = o->p;
    q.decision_fpir = cw_sim_decision_fpir(&o->p);
    q.captures = 1;
    return cw_sim_largest_n(face->model, fm, &q, mode, LO_N, HI_N, &out->n_attempt,
                            &out->where_attempt);
}

static json_t *input_json(const input_t *in)
{
    const cw_gallery_calibration_t *c = cw_sim_scores_tail(in->model);
    json_t *files = json_array();
    for (int i = 0; i < in->n_files; i++) {
        const file_t *f = &in->file[i];
        json_array_append_new(
            files, json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:I}", "path", f->path, "system", f->system,
                             "bytes", (json_int_t)f->bytes, "blake2b_256", f->hash, "genuine",
                             (json_int_t)f->n_gen, "impostor", (json_int_t)f->n_imp,
                             "same_person_dropped", (json_int_t)f->n_same));
    }
    return json_pack("{s:o,s:s,s:I,s:I,s:I,s:{s:f,s:f,s:f,s:f,s:f}}", "files", files, "system",
                     in->system, "genuine", (json_int_t)in->n_gen, "impostor",
                     (json_int_t)in->n_imp, "same_person_dropped", (json_int_t)in->n_same, "tail",
                     "tail_fraction", in->tail_fraction, "u", c->u, "p_u", c->p_u, "xi", c->xi,
                     "sigma", c->sigma);
}

static int write_json(const char *path, json_t *j)
{
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0) {
        fprintf(stderr, "clearway %s: cannot write '%s'\n", NAME, path);
        return CW_EXIT_FAIL;
    }
    return 0;
}

// The population the document-free flow is designed for: its front's target is chosen here.
#define DF_REFERENCE_N 1000000u

// What the policies are derived from (see policy_json).
typedef struct derived {
    uint64_t safe_n; // face-only 1:N: largest N of the 1-2-5 grid the direct simulation confirms
    int safe_where;  // -1: not even 1,000; +1: all of the grid up to 1e8
    uint64_t df_n;   // document-free: largest N with the flow's FPIR on target (FNIR aside)
    int df_where;    // as cw_sim_largest_n's where
    double df_front; // the front's target at DF_REFERENCE_N
} derived_t;

// The 1-2-5 grid of gallery sizes from 1,000 to 1e8.
static uint64_t grid_125(int i)
{
    static const uint64_t m[] = {1, 2, 5};
    uint64_t n = 1000;
    for (int k = 0; k < i / 3; k++) {
        n *= 10;
    }
    return n * m[i % 3];
}

/*
 * The numbers the recommended policies rest on. A population cap bounds what the decision can
 * vouch for, the false-positive side: beyond it every search is REQUIRES_SECOND_FACTOR, which no
 * FNIR argument could justify (it refers everyone). So:
 * - face-only 1:N: the threshold follows N by the fitted tail, and that is only as good as the
 *   tail. The cap is the largest N (1-2-5 grid from 1,000) up to which the direct simulation
 *   from the measured impostor scores finds an FPIR not significantly above the decision's
 *   target (the lower end of its 95% interval at most the target) while the measurement can
 *   still tell (at least 3 measured impostor scores expected above the threshold), stopping at
 *   the first that fails: past it either real pairs above the threshold (twins, one person
 *   under two names) outnumber what the model expects, or the data say nothing.
 * - document-free: the flow's own FPIR (front x finger) against the target, FNIR aside: no cap
 *   when it holds to 1e8.
 */
static int derive(const opts_t *o, const input_t *face, const input_t *finger, derived_t *d)
{
    memset(d, 0, sizeof *d);
    d->safe_where = -1;
    for (int i = 0; grid_125(i) <= HI_N; i++) {
        uint64_t n = grid_125(i);
        fprintf(stderr, "population cap: direct simulation at N = %llu\n", (unsigned long long)n);
        cw_sim_check_t c;
        int err = cw_sim_check_face_1n(face->model, &o->p, n, o->trials, o->seed + 100 + i, &c);
        if (err != 0) {
            return err;
        }
        // The measured scores can only test the threshold while some of them are expected
        // above it: with fewer than 3 expected, seeing none happens more than 5% of the time.
        double expected = cw_sim_fmr(face->model, c.threshold) * (double)face->n_imp;
        if (expected < 3.0 || c.fpir_lo > cw_sim_decision_fpir(&o->p)) {
            break;
        }
        d->safe_n = n;
        d->safe_where = grid_125(i + 1) > HI_N ? 1 : 0;
    }
    d->df_front = cw_sim_decision_fpir(&o->p);
    if (finger != NULL) {
        cw_sim_params_t q = o->p;
        q.max_fnir = 1.0; // the FPIR side only
        int err = cw_sim_largest_n(face->model, finger->model, &q, CW_SIM_DOCUMENT_FREE, LO_N, HI_N,
                                   &d->df_n, &d->df_where);
        cw_sim_point_t pt;
        if (err == 0) {
            err = cw_sim_evaluate(face->model, finger->model, &o->p, CW_SIM_DOCUMENT_FREE,
                                  DF_REFERENCE_N, &pt);
        }
        if (err != 0) {
            return err;
        }
        d->df_front = pt.front_target;
    }
    return 0;
}

static void print_derived(const opts_t *o, const derived_t *d, int has_finger)
{
    char a[32];
    printf("\n## Recommended policies\n\n");
    printf("| programmes | target FPIR per attempt | population cap | why |\n|---|---|---|---|\n");
    printf(
        "| closed_area, flight_token | %.4g | %s | the direct simulation confirms the FPIR up to "
        "this N (1-2-5 grid) |\n",
        cw_sim_decision_fpir(&o->p),
        d->safe_where < 0   ? "1 (face-only 1:N off)"
        : d->safe_where > 0 ? "none"
                            : grouped(d->safe_n, a, sizeof a));
    if (has_finger) {
        printf("| document_free | %.4g (front, chosen at N = %s) | %s | the flow's FPIR (front x "
               "finger) meets the target %s |\n",
               d->df_front, grouped(DF_REFERENCE_N, a, sizeof a),
               d->df_where > 0 ? "none" : "largest N meeting it",
               d->df_where > 0 ? "to 1e8" : "up to the cap");
    }
    printf("| contactless, smart_departure | face FMR %g | - | 1:1, no N |\n", o->p.face_fmr);
}

// Recommended policies with the keys of the service's "policies" configuration.
static json_t *policy_json(const opts_t *o, const input_t *finger, const derived_t *d,
                           json_t *source)
{
    double decision = cw_sim_decision_fpir(&o->p);
    json_t *pol = json_object();
    // A cap of 1 keeps face-only 1:N off (0 would mean no cap).
    uint64_t cap = d->safe_where > 0 ? 0 : d->safe_where < 0 ? 1 : d->safe_n;
    const char *const one_n[] = {"flight_token", "closed_area"};
    for (int i = 0; i < 2; i++) {
        json_object_set_new(pol, one_n[i],
                            json_pack("{s:f,s:f,s:I,s:i}", "target_fpir", decision, "margin",
                                      o->p.margin, "population_cap", (json_int_t)cap,
                                      "max_captures", o->p.captures));
    }
    const char *const one_one[] = {"contactless", "smart_departure"};
    for (int i = 0; i < 2; i++) {
        json_object_set_new(
            pol, one_one[i],
            json_pack("{s:f,s:i}", "face_fmr", o->p.face_fmr, "max_captures", o->p.captures));
    }
    if (finger != NULL) {
        uint64_t dcap = d->df_where > 0 ? 0 : d->df_where < 0 ? 1 : round_down(d->df_n);
        json_object_set_new(pol, "document_free",
                            json_pack("{s:f,s:f,s:I,s:i,s:f,s:f}", "target_fpir", d->df_front,
                                      "margin", o->p.margin, "population_cap", (json_int_t)dcap,
                                      "max_captures", o->p.captures, "face_fmr",
                                      o->p.inside_face_fmr, "finger_fmr", o->p.finger_fmr));
    }
    return json_pack("{s:O,s:o}", "source", source, "policies", pol);
}

int cw_cli_sim_population(int argc, char **argv)
{
    opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "clearway %s: libsodium failed to start\n", NAME);
        return CW_EXIT_FAIL;
    }
    aliases_t al;
    memset(&al, 0, sizeof al);
    if (o.same_person != NULL && aliases_read(o.same_person, &al) != 0) {
        return CW_EXIT_FAIL;
    }
    input_t face, finger;
    memset(&face, 0, sizeof face);
    memset(&finger, 0, sizeof finger);
    rc = load(o.face, o.n_face, "face", &al, o.tail_fraction, &face);
    if (rc == 0 && o.n_finger > 0) {
        rc = load(o.finger, o.n_finger, "finger", &al, o.finger_tail_fraction, &finger);
    }
    aliases_free(&al);
    if (rc != 0) {
        cw_sim_scores_destroy(face.model);
        cw_sim_scores_destroy(finger.model);
        return rc;
    }
    const input_t *fin = o.n_finger > 0 ? &finger : NULL;
    json_t *root = json_object();
    json_t *inputs = json_object();
    json_object_set_new(inputs, "face", input_json(&face));
    if (fin != NULL) {
        json_object_set_new(inputs, "finger", input_json(fin));
    }
    json_object_set(root, "inputs", inputs);
    json_object_set_new(
        root, "params",
        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:i}", "target_fpir", o.p.target_fpir,
                  "max_fnir", o.p.max_fnir, "decision_fpir", cw_sim_decision_fpir(&o.p), "margin",
                  o.p.margin, "face_fmr", o.p.face_fmr, "inside_face_fmr", o.p.inside_face_fmr,
                  "finger_fmr", o.p.finger_fmr, "fingers", o.p.fingers, "captures", o.p.captures));

    printf("# Population model\n\n");
    printf("Criterion: FPIR <= %g and FNIR <= %g per transaction of %d captures (impostor "
           "retries independent, genuine ones correlated). Face 1:N decision FPIR per attempt: "
           "%.4g.\n\n",
           o.p.target_fpir, o.p.max_fnir, o.p.captures, cw_sim_decision_fpir(&o.p));
    printf("| modality | system | genuine | impostor | tail fraction | u | p_u | xi | sigma "
           "|\n|---|---|---|---|---|---|---|---|---|\n");
    print_fit("face", &face);
    if (fin != NULL) {
        print_fit("finger", fin);
    }

    json_t *modes = json_object();
    for (int m = 0; m < CW_SIM_N_MODES && rc == 0; m++) {
        int df = m == CW_SIM_DOCUMENT_FREE || m == CW_SIM_DOCUMENT_FREE_FIXED;
        if (df && fin == NULL) {
            continue;
        }
        rc = print_mode(&o, &face, fin, (cw_sim_mode_t)m, modes);
    }
    json_object_set_new(root, "modes", modes);

    largest_t lg[CW_SIM_N_MODES];
    memset(lg, 0, sizeof lg);
    json_t *jl = json_array();
    if (rc == 0) {
        printf("\n## Largest N with FPIR <= %g and FNIR <= %g\n\n", o.p.target_fpir, o.p.max_fnir);
        printf("| mode | programmes | per transaction (the criterion) | per attempt |\n");
        printf("|---|---|---|---|\n");
    }
    for (int m = 0; m < CW_SIM_N_MODES && rc == 0; m++) {
        if ((m == CW_SIM_DOCUMENT_FREE || m == CW_SIM_DOCUMENT_FREE_FIXED) && fin == NULL) {
            continue;
        }
        int err = compute_largest(&o, &face, fin, (cw_sim_mode_t)m, &lg[m]);
        if (err != 0) {
            fprintf(stderr, "clearway %s: %s\n", NAME, cw_strerror(err));
            rc = CW_EXIT_FAIL;
            break;
        }
        char a[32], b[32];
        const char *t1 = largest_text(lg[m].n, lg[m].where, a, sizeof a);
        const char *t2 = largest_text(lg[m].n_attempt, lg[m].where_attempt, b, sizeof b);
        if (m == CW_SIM_FACE_1TO1) {
            t1 = lg[m].where > 0 ? "any N" : "none";
            t2 = lg[m].where_attempt > 0 ? "any N" : "none";
        }
        printf("| %s | %s | %s | %s |\n", cw_sim_mode_name((cw_sim_mode_t)m), MODE_PROGRAMMES[m],
               t1, t2);
        json_array_append_new(
            jl, json_pack("{s:s,s:I,s:i,s:I,s:i}", "mode", cw_sim_mode_name((cw_sim_mode_t)m), "n",
                          (json_int_t)lg[m].n, "where", lg[m].where, "n_attempt",
                          (json_int_t)lg[m].n_attempt, "where_attempt", lg[m].where_attempt));
    }
    json_object_set_new(root, "largest_n", jl);

    json_t *jc = json_array();
    if (rc == 0) {
        printf("\n## Face-only 1:N: the model against a direct simulation (%llu searches of each "
               "kind per N, empirical impostor scores)\n\n",
               (unsigned long long)o.trials);
        printf("| N | threshold | FPIR model | FPIR simulated (95%%) | false MATCH | FNIR model | "
               "FNIR simulated (95%%) |\n|---|---|---|---|---|---|---|\n");
    }
    int n_checks = o.check ? N_DECADES : 2;
    for (int i = 0; i < n_checks && rc == 0; i++) {
        fprintf(stderr, "direct simulation at N = %llu\n", (unsigned long long)DECADES[i]);
        cw_sim_check_t c;
        int err = cw_sim_check_face_1n(face.model, &o.p, DECADES[i], o.trials, o.seed + i, &c);
        if (err != 0) {
            fprintf(stderr, "clearway %s: simulation: %s\n", NAME, cw_strerror(err));
            rc = CW_EXIT_FAIL;
            break;
        }
        char nb[32], tb[32];
        printf("| %s | %s | %.3g | %.3g (%.3g .. %.3g) | %.3g | %.4f | %.4f (%.4f .. %.4f) |\n",
               grouped(c.n, nb, sizeof nb),
               thr(c.threshold > 1.0 ? INFINITY : c.threshold, tb, sizeof tb), c.model_fpir, c.fpir,
               c.fpir_lo, c.fpir_hi, (double)c.false_match / (double)c.trials, c.model_fnir, c.fnir,
               c.fnir_lo, c.fnir_hi);
        json_array_append_new(
            jc, json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)c.n,
                          "trials", (json_int_t)c.trials, "threshold", c.threshold, "model_fpir",
                          c.model_fpir, "fpir", c.fpir, "fpir_lo", c.fpir_lo, "fpir_hi", c.fpir_hi,
                          "false_match", (json_int_t)c.false_match, "model_fnir", c.model_fnir,
                          "fnir", c.fnir, "fnir_lo", c.fnir_lo, "fnir_hi", c.fnir_hi));
    }
    json_object_set_new(root, "checks", jc);

    derived_t dv;
    if (rc == 0) {
        int err = derive(&o, &face, fin, &dv);
        if (err != 0) {
            fprintf(stderr, "clearway %s: %s\n", NAME, cw_strerror(err));
            rc = CW_EXIT_FAIL;
        } else {
            print_derived(&o, &dv, fin != NULL);
            json_object_set_new(root, "derived",
                                json_pack("{s:I,s:i,s:I,s:i,s:f}", "face_1n_cap_n",
                                          (json_int_t)dv.safe_n, "face_1n_cap_where", dv.safe_where,
                                          "document_free_fpir_n", (json_int_t)dv.df_n,
                                          "document_free_fpir_where", dv.df_where,
                                          "document_free_front_target", dv.df_front));
        }
    }
    if (rc == 0 && o.json != NULL) {
        rc = write_json(o.json, root);
    }
    if (rc == 0 && o.policy != NULL) {
        json_t *pj = policy_json(&o, fin, &dv, inputs);
        rc = write_json(o.policy, pj);
        json_decref(pj);
    }
    json_decref(inputs);
    json_decref(root);
    cw_sim_scores_destroy(face.model);
    cw_sim_scores_destroy(finger.model);
    return rc;
}
