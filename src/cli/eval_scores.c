// SPDX-License-Identifier: Apache-2.0
// `clearway eval scores FILE...`: re-analyses saved score files ("clearway-scores 1", written
// by `eval face --scores` and `eval finger --scores`) without measuring again: verification
// figures with 95% bootstrap intervals for each file, identification figures when the file
// holds search records, the DET of all files on one chart and the histogram of the first. Also
// the report and plot helpers the other eval commands share (eval_cli.h).
#include "cli.h"
#include "eval_cli.h"

#include "clearway/clearway.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cw_cli_fmr_targets[3] = {1e-2, 1e-3, 1e-4};
const double cw_cli_fpir_targets[2] = {1e-2, 1e-3};

static const char *target_name(double t)
{
    return t == 1e-2 ? "1e-2" : t == 1e-3 ? "1e-3" : t == 1e-4 ? "1e-4" : "?";
}

static void print_ci(const char *label, const cw_eval_ci_t *c, int replicates)
{
    printf("%-17s %.2f%%", label, 100.0 * c->value);
    if (replicates > 0) {
        printf(" [%.2f, %.2f]", 100.0 * c->lo, 100.0 * c->hi);
    }
}

void cw_cli_eval_print_verify(const cw_eval_verify_t *v)
{
    print_ci("EER", &v->eer, v->replicates);
    printf(" at threshold %.4f\n", v->eer_threshold);
    for (int k = 0; k < v->n_targets; k++) {
        char label[32];
        snprintf(label, sizeof(label), "FNMR@FMR=%s", target_name(v->fmr_target[k]));
        if (isnan(v->fnmr[k].value)) {
            printf("%-17s not resolved: %zu impostor pairs resolve FMR only to %.1e\n", label,
                   v->n_imp, 1.0 / (double)v->n_imp);
            continue;
        }
        print_ci(label, &v->fnmr[k], v->replicates);
        printf(" (threshold %.4f)\n", v->threshold[k]);
    }
    if (v->replicates > 0) {
        printf("%-17s 95%% intervals from %d bootstrap replicates over subjects\n", "intervals",
               v->replicates);
    }
}

void cw_cli_eval_print_identify(const cw_eval_identify_t *id)
{
    char label[32];
    print_ci("rank-1", &id->rank1, id->replicates);
    printf(" (%zu mated searches)\n", id->n_mated);
    print_ci("rank-10", &id->rank10, id->replicates);
    printf("\n");
    for (int k = 0; k < id->n_targets; k++) {
        snprintf(label, sizeof(label), "FNIR@FPIR=%s", target_name(id->fpir_target[k]));
        if (isnan(id->fnir[k].value)) {
            printf("%-17s not resolved: %zu non-mated searches\n", label, id->n_nonmated);
            continue;
        }
        print_ci(label, &id->fnir[k], id->replicates);
        printf(" (threshold %.4f, %zu non-mated searches)\n", id->threshold[k], id->n_nonmated);
    }
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ci_json(const cw_eval_ci_t *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "value", num(c->value));
    json_object_set_new(o, "lo", num(c->lo));
    json_object_set_new(o, "hi", num(c->hi));
    return o;
}

json_t *cw_cli_eval_verify_json(const cw_eval_verify_t *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "genuine", json_integer((json_int_t)v->n_gen));
    json_object_set_new(o, "impostor", json_integer((json_int_t)v->n_imp));
    json_object_set_new(o, "fta_rate", num(v->fta_rate));
    json_object_set_new(o, "eer", ci_json(&v->eer));
    json_object_set_new(o, "eer_threshold", num(v->eer_threshold));
    for (int k = 0; k < v->n_targets; k++) {
        char key[48];
        snprintf(key, sizeof(key), "fnmr_at_fmr_%s", target_name(v->fmr_target[k]));
        json_object_set_new(o, key, ci_json(&v->fnmr[k]));
        snprintf(key, sizeof(key), "threshold_%s", target_name(v->fmr_target[k]));
        json_object_set_new(o, key, num(v->threshold[k]));
    }
    json_object_set_new(o, "replicates", json_integer(v->replicates));
    return o;
}

json_t *cw_cli_eval_identify_json(const cw_eval_identify_t *id)
{
    json_t *o = json_object();
    json_object_set_new(o, "mated", json_integer((json_int_t)id->n_mated));
    json_object_set_new(o, "nonmated", json_integer((json_int_t)id->n_nonmated));
    json_object_set_new(o, "rank1", ci_json(&id->rank1));
    json_object_set_new(o, "rank10", ci_json(&id->rank10));
    for (int k = 0; k < id->n_targets; k++) {
        char key[48];
        snprintf(key, sizeof(key), "fnir_at_fpir_%s", target_name(id->fpir_target[k]));
        json_object_set_new(o, key, ci_json(&id->fnir[k]));
        snprintf(key, sizeof(key), "threshold_fpir_%s", target_name(id->fpir_target[k]));
        json_object_set_new(o, key, num(id->threshold[k]));
    }
    json_object_set_new(o, "replicates", json_integer(id->replicates));
    return o;
}

static int to_png(const char *svg, int *warned)
{
    size_t len = strlen(svg);
    char *png = malloc(len + 5);
    if (png == NULL) {
        return -1;
    }
    memcpy(png, svg, len + 1);
    if (len > 4 && strcmp(png + len - 4, ".svg") == 0) {
        png[len - 4] = '\0';
    }
    strcat(png, ".png");
    int rc = cw_eval_svg_to_png(svg, png);
    if (rc == CW_ENOENT) {
        if (!*warned) {
            fprintf(stderr, "clearway eval: rsvg-convert not found (Debian package "
                            "librsvg2-bin): SVG only\n");
        }
        *warned = 1;
        rc = 0;
    } else if (rc != 0) {
        fprintf(stderr, "clearway eval: rsvg-convert could not convert %s\n", svg);
    }
    free(png);
    return rc == 0 ? 0 : -1;
}

void cw_cli_eval_common_init(cw_cli_eval_common_t *c)
{
    memset(c, 0, sizeof(*c));
    c->replicates = 200;
}

int cw_cli_eval_common_option(int argc, char **argv, int *i, cw_cli_eval_common_t *c)
{
    const char *a = argv[*i];
    if (strcmp(a, "--png") == 0) {
        c->png = 1;
        return 1;
    }
    if (strcmp(a, "--log") == 0) {
        c->log_y = 1;
        return 1;
    }
    if (strcmp(a, "--json") == 0) {
        c->json = 1;
        return 1;
    }
    int takes = strcmp(a, "--det") == 0 || strcmp(a, "--hist") == 0 ||
                strcmp(a, "--replicates") == 0 || strcmp(a, "--threads") == 0;
    if (!takes) {
        return 0;
    }
    if (*i + 1 >= argc) {
        cw_cli_usage_error("eval", "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    long n = 0;
    if (strcmp(a, "--det") == 0) {
        c->det = v;
    } else if (strcmp(a, "--hist") == 0) {
        c->hist = v;
    } else if (strcmp(a, "--replicates") == 0) {
        if (cw_cli_long_arg("eval", a, v, 0, 100000, &n) != 0) {
            return -1;
        }
        c->replicates = (int)n;
    } else {
        if (cw_cli_long_arg("eval", a, v, 1, 256, &n) != 0) {
            return -1;
        }
        c->threads = (int)n;
    }
    return 1;
}

int cw_cli_eval_plots(const char *det, const char *hist, int png, int log_y,
                      const cw_eval_scores_t *const *sets, int n, const char *title)
{
    int warned = 0;
    if (det != NULL) {
        int rc = cw_eval_det_svg(det, sets, n, title);
        if (rc != 0) {
            fprintf(stderr, "clearway eval: cannot write the DET to %s: %s\n", det,
                    cw_strerror(rc));
            return -1;
        }
        if (png && to_png(det, &warned) != 0) {
            return -1;
        }
    }
    if (hist != NULL) {
        int rc = cw_eval_hist_svg(hist, sets[0], log_y, title);
        if (rc != 0) {
            fprintf(stderr, "clearway eval: cannot write the histogram to %s: %s\n", hist,
                    cw_strerror(rc));
            return -1;
        }
        if (png && to_png(hist, &warned) != 0) {
            return -1;
        }
    }
    return 0;
}

// ---- eval scores ----

enum { MAX_FILES = 16 };

typedef struct sopts {
    const char *files[MAX_FILES];
    int n_files;
    cw_cli_eval_common_t c;
} sopts_t;

static int parse(int argc, char **argv, sopts_t *o)
{
    memset(o, 0, sizeof(*o));
    cw_cli_eval_common_init(&o->c);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int common = cw_cli_eval_common_option(argc, argv, &i, &o->c);
        if (common < 0) {
            return CW_EXIT_USAGE;
        }
        if (common > 0) {
            continue;
        }
        if (a[0] == '-') {
            return cw_cli_usage_error("eval", "unknown argument '%s'", a);
        } else if (o->n_files == MAX_FILES) {
            return cw_cli_usage_error("eval", "at most %d score files", MAX_FILES);
        } else {
            o->files[o->n_files++] = a;
        }
    }
    if (o->n_files == 0) {
        return cw_cli_usage_error("eval", "expected `eval scores FILE...`");
    }
    return 0;
}

// Systems of the same name (one matcher on two sensors) are told apart on the chart's legend by
// their file's name.
static void name_apart(cw_eval_scores_t *sets, const char *const *files, int n)
{
    int same[MAX_FILES] = {0};
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < n; j++) {
            same[k] |= j != k && strcmp(sets[j].system, sets[k].system) == 0;
        }
    }
    for (int k = 0; k < n; k++) {
        if (same[k]) {
            const char *base = strrchr(files[k], '/');
            base = base != NULL ? base + 1 : files[k];
            size_t l = strlen(sets[k].system);
            snprintf(sets[k].system + l, sizeof(sets[k].system) - l, " (%s)", base);
        }
    }
}

int cw_cli_eval_scores(int argc, char **argv)
{
    sopts_t o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    cw_eval_scores_t sets[MAX_FILES];
    memset(sets, 0, sizeof(sets));
    const cw_eval_scores_t *ptrs[MAX_FILES];
    int ret = CW_EXIT_FAIL;
    cw_pool_t *pool = NULL;
    json_t *files = json_array();
    int threads = o.c.threads > 0 ? o.c.threads : cw_cpu_count();
    if (cw_pool_create(threads - 1, &pool) != 0) {
        fprintf(stderr, "clearway eval: cannot start %d threads\n", threads);
        goto out;
    }
    for (int k = 0; k < o.n_files; k++) {
        char diag[256] = "";
        rc = cw_eval_scores_read(o.files[k], &sets[k], diag, sizeof(diag));
        if (rc != 0) {
            fprintf(stderr, "clearway eval: %s: %s\n", o.files[k],
                    diag[0] ? diag : cw_strerror(rc));
            goto out;
        }
        const cw_eval_scores_t *s = &sets[k];
        ptrs[k] = s;
        if (s->n_gen == 0 || s->n_imp == 0) {
            fprintf(stderr, "clearway eval: %s: needs genuine and impostor scores (%zu, %zu)\n",
                    o.files[k], s->n_gen, s->n_imp);
            goto out;
        }
        cw_eval_verify_t v;
        rc = cw_eval_verification(s, cw_cli_fmr_targets, 3, o.c.replicates, 1, pool, &v);
        if (rc != 0) {
            fprintf(stderr, "clearway eval: %s: %s\n", o.files[k], cw_strerror(rc));
            goto out;
        }
        cw_eval_identify_t id;
        int have_id = s->n_search > 0 && cw_eval_identification(s, cw_cli_fpir_targets, 2,
                                                                o.c.replicates, 1, &id) == 0;
        if (o.c.json) {
            json_t *j = json_object();
            json_object_set_new(j, "file", json_string(o.files[k]));
            json_object_set_new(j, "system", json_string(s->system));
            json_object_set_new(j, "modality", json_string(s->modality));
            json_object_set_new(j, "samples", json_integer((json_int_t)s->n_samples));
            json_object_set_new(j, "fta", json_integer((json_int_t)s->n_fta));
            json_object_set_new(j, "verification", cw_cli_eval_verify_json(&v));
            if (have_id) {
                json_object_set_new(j, "identification", cw_cli_eval_identify_json(&id));
            }
            json_array_append_new(files, j);
        } else {
            printf("%sfile              %s\n", k > 0 ? "\n" : "", o.files[k]);
            printf("system            %s (%s)\n", s->system[0] ? s->system : "unnamed",
                   s->modality[0] ? s->modality : "modality not stated");
            printf("pairs             %zu genuine, %zu impostor, %u subjects\n", s->n_gen, s->n_imp,
                   (unsigned)s->n_subjects);
            printf("FTA               %.2f%% (%llu of %llu samples)\n", 100.0 * v.fta_rate,
                   (unsigned long long)s->n_fta, (unsigned long long)s->n_samples);
            cw_cli_eval_print_verify(&v);
            if (have_id) {
                cw_cli_eval_print_identify(&id);
            }
        }
    }
    if (o.c.json) {
        json_t *j = json_pack("{s:O}", "files", files);
        char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (txt != NULL) {
            puts(txt);
            free(txt);
        }
        json_decref(j);
    }
    name_apart(sets, o.files, o.n_files);
    if (cw_cli_eval_plots(o.c.det, o.c.hist, o.c.png, o.c.log_y, ptrs, o.n_files,
                          o.n_files == 1 ? (sets[0].system[0] ? sets[0].system : o.files[0])
                                         : "DET") != 0) {
        goto out;
    }
    ret = CW_EXIT_OK;
out:
    json_decref(files);
    for (int k = 0; k < o.n_files; k++) {
        cw_eval_scores_free(&sets[k]);
    }
    cw_pool_destroy(pool);
    return ret;
}
