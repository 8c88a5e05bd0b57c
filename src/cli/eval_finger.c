// SPDX-License-Identifier: Apache-2.0
// `clearway eval finger DIR`: accuracy of the fingerprint pipeline on an FVC-style folder of
// FFF_I.tif images (finger FFF, impression I). FVC protocol: genuine = every pair of
// impressions of a finger; impostor = the first impression of each finger against the first of
// every other; and the extended impostor set, every cross-finger pair. Reports EER (FVC's
// EER_low/EER_high midpoint), FNMR at FMR 1e-2 and 1e-3, extraction time; and through cw_eval
// (bootstrap over fingers) the 95% intervals, the failure-to-acquire rate, the score file
// ("clearway-scores 1": genuine = impression pairs of a finger, impostor = the extended set),
// the DET of both impostor sets and the score histogram.
#include "cli.h"
#include "eval_cli.h"

#include "clearway/clearway.h"
#include "clearway/finger.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct fimg {
    char *path;
    int finger, imp;
    int ok;
    double ms;
    cw_finger_template_t tpl;
    cw_finger_quality_t q;
    cw_finger_prepared_t prep;
} fimg_t;

typedef struct fjob {
    fimg_t *im;
    size_t n;
    int dpi;
    size_t done;
    time_t start;
    int tty;
} fjob_t;

typedef struct fopts {
    const char *dir;
    const char *scores;
    int dpi;
    cw_cli_eval_common_t c; /* --det, --hist, --png, --log, --json, --replicates, --threads */
} fopts_t;

// Fewer minutiae than this and the clearance service refuses the capture (src/clearance/enrol.c):
// such an image counts as a failure to acquire.
enum { FTA_MIN_MINUTIAE = 8 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void fprogress(fjob_t *j, size_t done)
{
    int pct = (int)(100 * done / j->n), prev = (int)(100 * (done - 1) / j->n);
    if (!(j->tty ? pct != prev || done == j->n : pct / 10 != prev / 10 || done == j->n)) {
        return;
    }
    double el = difftime(time(NULL), j->start);
    double eta = done ? el * (double)(j->n - done) / done : 0.0;
    if (j->tty) {
        char bar[31];
        for (int i = 0; i < 30; i++) {
            bar[i] = i < pct * 30 / 100 ? '#' : '.';
        }
        bar[30] = '\0';
        fprintf(stderr, "\rextracting [%s] %3d%% %zu/%zu images, %.0f s left ", bar, pct, done,
                j->n, eta);
        if (done == j->n) {
            fputc('\n', stderr);
        }
    } else {
        fprintf(stderr, "extracting: %d%% (%zu/%zu images, %.0f s left)\n", pct, done, j->n, eta);
    }
}

static int extract_one(void *ctx, size_t i, int worker)
{
    (void)worker;
    fjob_t *j = ctx;
    fimg_t *f = &j->im[i];
    cw_image_t img;
    char diag[256];
    if (cw_finger_image_load(f->path, j->dpi, &img, diag, sizeof(diag)) == 0) {
        double t0 = now_ms();
        if (cw_finger_extract(&img, &f->tpl, &f->q, diag, sizeof(diag)) == 0 &&
            cw_finger_prepare(&f->tpl, &f->prep) == 0) {
            f->ok = 1;
        }
        f->ms = now_ms() - t0;
        cw_image_free(&img);
    }
    if (!f->ok) {
        fprintf(stderr, "\nclearway eval: %s: %s\n", f->path, diag);
    }
    size_t done = __atomic_add_fetch(&j->done, 1, __ATOMIC_RELAXED);
    fprogress(j, done);
    return 0;
}

static int cmp_fimg(const void *a, const void *b)
{
    const fimg_t *x = a, *y = b;
    return x->finger != y->finger ? x->finger - y->finger : x->imp - y->imp;
}

static int scan(const char *dir, fimg_t **out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "clearway eval: cannot read folder '%s'\n", dir);
        return -1;
    }
    size_t n = 0, cap = 0;
    fimg_t *im = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int f, i, used = 0;
        char ext[8];
        if (sscanf(e->d_name, "%d_%d.%7s%n", &f, &i, ext, &used) != 3 ||
            (strcmp(ext, "tif") != 0 && strcmp(ext, "tiff") != 0 && strcmp(ext, "png") != 0)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            fimg_t *p = realloc(im, cap * sizeof(*im));
            if (p == NULL) {
                break;
            }
            im = p;
        }
        memset(&im[n], 0, sizeof(im[n]));
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        im[n].path = malloc(len);
        if (im[n].path == NULL) {
            break;
        }
        snprintf(im[n].path, len, "%s/%s", dir, e->d_name);
        im[n].finger = f;
        im[n].imp = i;
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "clearway eval: no FFF_I.tif images in '%s'\n", dir);
        free(im);
        return -1;
    }
    qsort(im, n, sizeof(*im), cmp_fimg);
    *out = im;
    *n_out = n;
    return 0;
}

typedef struct rates {
    double eer, eer_thr;
    double fnmr[2], thr[2]; // at FMR 1e-2, 1e-3
} rates_t;

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// FMR(t) = impostors >= t, FNMR(t) = genuine < t, both sorted ascending.
static double fmr_at(const float *imp, size_t ni, float t)
{
    size_t lo = 0, hi = ni;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (imp[mid] < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (double)(ni - lo) / ni;
}

static double fnmr_at(const float *gen, size_t ng, float t)
{
    return 1.0 - fmr_at(gen, ng, t);
}

static void rates(const float *gen, size_t ng, const float *imp, size_t ni, rates_t *r)
{
    // Candidate thresholds: every score, and just above the highest.
    size_t nc = ng + ni + 1;
    float *c = malloc(nc * sizeof(float));
    memset(r, 0, sizeof(*r));
    if (c == NULL) {
        return;
    }
    memcpy(c, gen, ng * sizeof(float));
    memcpy(c + ng, imp, ni * sizeof(float));
    c[nc - 1] = 2.0f;
    qsort(c, nc, sizeof(float), cmp_f);
    // FVC EER: t1 the last threshold with FNMR <= FMR, t2 the first with FNMR >= FMR.
    double best_lo = 1, best_hi = 1;
    for (size_t i = 0; i < nc; i++) {
        double fm = fmr_at(imp, ni, c[i]), fn = fnmr_at(gen, ng, c[i]);
        if (fn >= fm) {
            double pfm = i > 0 ? fmr_at(imp, ni, c[i - 1]) : 1.0;
            double pfn = i > 0 ? fnmr_at(gen, ng, c[i - 1]) : 0.0;
            if (pfn + pfm <= fm + fn) {
                best_lo = pfn;
                best_hi = pfm;
            } else {
                best_lo = fm;
                best_hi = fn;
            }
            r->eer_thr = c[i];
            break;
        }
    }
    r->eer = 0.5 * (best_lo + best_hi);
    const double targets[2] = {1e-2, 1e-3};
    for (int k = 0; k < 2; k++) {
        r->fnmr[k] = 1.0;
        r->thr[k] = 2.0;
        for (size_t i = 0; i < nc; i++) {
            if (fmr_at(imp, ni, c[i]) <= targets[k]) {
                r->fnmr[k] = fnmr_at(gen, ng, c[i]);
                r->thr[k] = c[i];
                break;
            }
        }
    }
    free(c);
}

static int parse(int argc, char **argv, fopts_t *o)
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
        int takes = strcmp(a, "--dpi") == 0 || strcmp(a, "--scores") == 0;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (takes && v == NULL) {
            return cw_cli_usage_error("eval", "%s needs a value", a);
        }
        if (strcmp(a, "--scores") == 0) {
            o->scores = v;
        } else if (strcmp(a, "--dpi") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, v, 100, 2000, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            o->dpi = (int)n;
        } else if (a[0] == '-') {
            return cw_cli_usage_error("eval", "unknown argument '%s'", a);
        } else if (o->dir == NULL) {
            o->dir = a;
        } else {
            return cw_cli_usage_error("eval", "one folder only (got '%s' too)", a);
        }
        i += takes;
    }
    if (o->dir == NULL) {
        return cw_cli_usage_error("eval", "expected `eval finger DIR`");
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cw_cli_eval_finger(int argc, char **argv)
{
    fopts_t o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    fimg_t *im = NULL;
    size_t n = 0;
    if (scan(o.dir, &im, &n) != 0) {
        return CW_EXIT_FAIL;
    }
    int ret = CW_EXIT_FAIL;
    cw_pool_t *pool = NULL;
    float *gen = NULL, *imp = NULL, *ext = NULL;
    double *ms = NULL;
    cw_eval_scores_t es = {0};  // genuine and extended impostor pairs: the figures, the file
    cw_eval_scores_t fvc = {0}; // the FVC impostors (and es's genuine pairs) for the DET
    int threads = o.c.threads > 0 ? o.c.threads : cw_cpu_count();
    if (cw_pool_create(threads - 1, &pool) != 0) {
        fprintf(stderr, "clearway eval: cannot start %d threads\n", threads);
        goto out;
    }
    fjob_t job = {im, n, o.dpi, 0, time(NULL), isatty(2)};
    double t0 = now_ms();
    cw_pool_parallel_for(pool, n, extract_one, &job);
    double t_extract = now_ms() - t0;
    size_t ng = 0, ni = 0, ne = 0, failed = 0;
    gen = malloc(n * n * sizeof(float));
    imp = malloc(n * n * sizeof(float));
    ext = malloc(n * n * sizeof(float));
    ms = malloc(n * sizeof(double));
    if (gen == NULL || imp == NULL || ext == NULL || ms == NULL) {
        fprintf(stderr, "clearway eval: out of memory\n");
        goto out;
    }
    // Subjects are fingers, numbered in folder order (im is sorted by finger).
    es.n_subjects = 0;
    for (size_t i = 0; i < n; i++) {
        es.n_subjects += i == 0 || im[i - 1].finger != im[i].finger;
    }
    es.subject = calloc(es.n_subjects, sizeof(char *));
    uint32_t *subj = malloc(n * sizeof(uint32_t));
    if (es.subject == NULL || subj == NULL) {
        free(subj);
        fprintf(stderr, "clearway eval: out of memory\n");
        goto out;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i > 0 && im[i - 1].finger != im[i].finger) {
            k++;
        }
        subj[i] = (uint32_t)k;
        if (es.subject[k] == NULL) {
            char name[16];
            snprintf(name, sizeof(name), "%d", im[i].finger);
            es.subject[k] = strdup(name);
        }
    }
    snprintf(es.system, sizeof(es.system), "Clearway MCC matcher v%d", CW_FINGER_MATCHER_VERSION);
    snprintf(es.modality, sizeof(es.modality), "finger");
    double t1 = now_ms();
    size_t ncmp = 0, fta = 0;
    int oom = 0;
    for (size_t i = 0; i < n; i++) {
        failed += !im[i].ok;
        fta += !im[i].ok || im[i].tpl.n < FTA_MIN_MINUTIAE;
        ms[i] = im[i].ms;
        for (size_t j = i + 1; j < n; j++) {
            // A failed extraction scores 0: a false non-match, never a silent omission.
            float s = cw_finger_compare(&im[i].prep, &im[j].prep);
            ncmp++;
            int same = im[i].finger == im[j].finger;
            if (same) {
                gen[ng++] = s;
            } else {
                ext[ne++] = s;
                int first_i = i == 0 || im[i - 1].finger != im[i].finger;
                int first_j = im[j - 1].finger != im[j].finger;
                if (first_i && first_j) {
                    imp[ni++] = s;
                    oom |= cw_eval_scores_add(&fvc, 0, s, subj[i], subj[j]);
                }
            }
            oom |= cw_eval_scores_add(&es, same, s, subj[i], subj[j]);
        }
    }
    free(subj);
    double t_cmp = now_ms() - t1;
    es.n_samples = n;
    es.n_fta = fta;
    if (oom) {
        fprintf(stderr, "clearway eval: out of memory\n");
        goto out;
    }
    if (ng == 0 || ni == 0) {
        fprintf(stderr, "clearway eval: need at least two fingers with two impressions\n");
        goto out;
    }
    cw_eval_verify_t v;
    rc = cw_eval_verification(&es, cw_cli_fmr_targets, 3, o.c.replicates, 1, pool, &v);
    if (rc != 0) {
        fprintf(stderr, "clearway eval: %s\n", cw_strerror(rc));
        goto out;
    }
    qsort(gen, ng, sizeof(float), cmp_f);
    qsort(imp, ni, sizeof(float), cmp_f);
    qsort(ext, ne, sizeof(float), cmp_f);
    qsort(ms, n, sizeof(double), cmp_double);
    rates_t rf, re;
    rates(gen, ng, imp, ni, &rf);
    rates(gen, ng, ext, ne, &re);
    double nmin = 0;
    for (size_t i = 0; i < n; i++) {
        nmin += im[i].tpl.n;
    }
    if (o.c.json) {
        printf("{\"images\":%zu,\"failed\":%zu,\"genuine\":%zu,\"impostor\":%zu,"
               "\"impostor_extended\":%zu,\"eer\":%.5f,\"eer_extended\":%.5f,"
               "\"fnmr_at_fmr_1e-2\":%.5f,\"fnmr_at_fmr_1e-3\":%.5f,"
               "\"fnmr_at_fmr_1e-2_extended\":%.5f,\"fnmr_at_fmr_1e-3_extended\":%.5f,"
               "\"extract_ms_p50\":%.2f,\"mean_minutiae\":%.1f,\"matcher_version\":%d,"
               "\"fta\":%zu,\"fta_rate\":%.5f,\"verification\":",
               n, failed, ng, ni, ne, rf.eer, re.eer, rf.fnmr[0], rf.fnmr[1], re.fnmr[0],
               re.fnmr[1], ms[n / 2], nmin / n, CW_FINGER_MATCHER_VERSION, fta, (double)fta / n);
        json_t *jv = cw_cli_eval_verify_json(&v);
        char *txt = json_dumps(jv, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s}\n", txt != NULL ? txt : "null");
        free(txt);
        json_decref(jv);
    } else {
        printf("folder            %s\n", o.dir);
        printf("images            %zu (%zu failed to extract), %.1f minutiae on average\n", n,
               failed, nmin / n);
        printf("pairs             %zu genuine, %zu FVC impostor, %zu extended impostor\n", ng, ni,
               ne);
        printf("EER (FVC)         %.2f%% (threshold %.4f)\n", 100 * rf.eer, rf.eer_thr);
        printf("EER (extended)    %.2f%% (threshold %.4f)\n", 100 * re.eer, re.eer_thr);
        printf("FNMR@FMR=1e-2     %.2f%% (FVC), %.2f%% (extended, threshold %.4f)\n",
               100 * rf.fnmr[0], 100 * re.fnmr[0], re.thr[0]);
        printf("FNMR@FMR=1e-3     %.2f%% (FVC), %.2f%% (extended, threshold %.4f)\n",
               100 * rf.fnmr[1], 100 * re.fnmr[1], re.thr[1]);
        printf("note              %zu FVC impostor pairs resolve FMR only to %.3f\n", ni, 1.0 / ni);
        const double cal[3] = {1e-3, 1e-4, 1e-5};
        for (int k = 0; k < 3; k++) {
            float t = cw_finger_threshold(cal[k]);
            printf("at FMR %g setting threshold %.3f: FNMR %.2f%%, FMR %.2f%% (FVC), %.3f%% "
                   "(extended)\n",
                   cal[k], t, 100 * fnmr_at(gen, ng, t), 100 * fmr_at(imp, ni, t),
                   100 * fmr_at(ext, ne, t));
        }
        printf(
            "extraction        %.1f ms per image (p50 wall time, %d threads sharing the machine; "
            "bench/finger measures CPU time), %.0f ms in all\n",
            ms[n / 2], threads, t_extract);
        printf("comparisons       %zu in %.0f ms (%.0f per second, one thread)\n", ncmp, t_cmp,
               t_cmp > 0 ? 1e3 * ncmp / t_cmp : 0.0);
        printf("matcher version   %d\n", CW_FINGER_MATCHER_VERSION);
        printf("FTA               %.2f%% (%zu of %zu images: extraction failed or fewer than %d "
               "minutiae)\n",
               100.0 * fta / n, fta, n, FTA_MIN_MINUTIAE);
        printf("with 95%% intervals (bootstrap over %u fingers; genuine and extended impostor "
               "pairs):\n",
               (unsigned)es.n_subjects);
        cw_cli_eval_print_verify(&v);
    }
    if (o.scores != NULL && (rc = cw_eval_scores_write(&es, o.scores)) != 0) {
        fprintf(stderr, "clearway eval: cannot write '%s': %s\n", o.scores, cw_strerror(rc));
        goto out;
    }
    fvc.gen = es.gen;
    fvc.n_gen = es.n_gen;
    snprintf(fvc.system, sizeof(fvc.system), "Clearway MCC v%d, FVC impostors",
             CW_FINGER_MATCHER_VERSION);
    cw_eval_scores_t ext_named = es;
    snprintf(ext_named.system, sizeof(ext_named.system), "Clearway MCC v%d, all cross-finger pairs",
             CW_FINGER_MATCHER_VERSION);
    const cw_eval_scores_t *sets[2] = {&fvc, &ext_named};
    rc = cw_cli_eval_plots(o.c.det, NULL, o.c.png, o.c.log_y, sets, 2, o.dir);
    fvc.gen = NULL;
    fvc.n_gen = 0;
    if (rc != 0 || cw_cli_eval_plots(NULL, o.c.hist, o.c.png, o.c.log_y, sets + 1, 1, o.dir) != 0) {
        goto out;
    }
    ret = CW_EXIT_OK;
out:
    for (size_t i = 0; i < n; i++) {
        cw_finger_prepared_free(&im[i].prep);
        free(im[i].path);
    }
    free(im);
    free(gen);
    free(imp);
    free(ext);
    free(ms);
    cw_eval_scores_free(&es);
    cw_eval_scores_free(&fvc);
    cw_pool_destroy(pool);
    return ret;
}
