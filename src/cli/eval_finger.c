// SPDX-License-Identifier: Apache-2.0
// `clearway eval finger DIR`: accuracy of the fingerprint pipeline on an FVC-style folder of
// FFF_I.tif images (finger FFF, impression I). FVC protocol: genuine = every pair of
// impressions of a finger; impostor = the first impression of each finger against the first of
// every other; and the extended impostor set, every cross-finger pair. Reports EER (FVC's
// EER_low/EER_high midpoint), FNMR at FMR 1e-2 and 1e-3, extraction time, and writes the DET
// curve as SVG.
#include "cli.h"

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
    const char *det;
    const char *scores;
    int threads;
    int dpi;
    int json;
} fopts_t;

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

static void det_curve(FILE *f, const float *gen, size_t ng, const float *imp, size_t ni,
                      const char *colour, double x0, double y0, double w, double h)
{
    // log10 axes from 1e-4 to 1 on both sides.
    // One point per distinct score (thresholds between scores change nothing); both sorted.
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    size_t i = 0, j = 0;
    while (i < ng || j < ni) {
        float t = j >= ni || (i < ng && gen[i] <= imp[j]) ? gen[i++] : imp[j++];
        double fm = fmr_at(imp, ni, t), fn = fnmr_at(gen, ng, t);
        if (fm <= 0 || fn <= 0) {
            continue;
        }
        double lx = log10(fm < 1e-4 ? 1e-4 : fm), ly = log10(fn < 1e-4 ? 1e-4 : fn);
        fprintf(f, "%.1f,%.1f ", x0 + (lx + 4) / 4 * w, y0 + h - (ly + 4) / 4 * h);
    }
    fprintf(f, "\"/>\n");
}

static int write_det(const char *path, const float *gen, size_t ng, const float *imp, size_t ni,
                     const float *ext, size_t ne, const char *title)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "clearway eval: cannot write '%s'\n", path);
        return -1;
    }
    double x0 = 70, y0 = 40, w = 480, h = 480;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"600\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"600\" height=\"600\" fill=\"white\"/>\n"
            "<text x=\"300\" y=\"24\" text-anchor=\"middle\">DET: %s</text>\n",
            title);
    for (int d = 0; d <= 4; d++) {
        double gx = x0 + d * w / 4, gy = y0 + h - d * h / 4;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n"
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">1e-%d</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">1e-%d</text>\n",
                gx, y0, gx, y0 + h, x0, gy, x0 + w, gy, gx, y0 + h + 16, 4 - d, x0 - 6, gy + 4,
                4 - d);
    }
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"black\"/>\n"
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">FMR</text>\n"
            "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
            "text-anchor=\"middle\">FNMR</text>\n",
            x0, y0, w, h, x0 + w / 2, y0 + h + 36, y0 + h / 2, y0 + h / 2);
    det_curve(f, gen, ng, imp, ni, "#c03030", x0, y0, w, h);
    det_curve(f, gen, ng, ext, ne, "#3050c0", x0, y0, w, h);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#c03030\">FVC impostors (%zu)</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#3050c0\">all cross-finger pairs (%zu)</text>\n"
            "</svg>\n",
            x0 + 10, y0 + 20, ni, x0 + 10, y0 + 36, ne);
    return fclose(f) == 0 ? 0 : -1;
}

static int parse(int argc, char **argv, fopts_t *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--det") == 0 || strcmp(a, "--threads") == 0 ||
                    strcmp(a, "--dpi") == 0 || strcmp(a, "--scores") == 0;
        if (takes && v == NULL) {
            return cw_cli_usage_error("eval", "%s needs a value", a);
        }
        char *end = NULL;
        if (strcmp(a, "--det") == 0) {
            o->det = v;
        } else if (strcmp(a, "--scores") == 0) {
            o->scores = v;
        } else if (strcmp(a, "--threads") == 0) {
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 1 || n > 256) {
                return cw_cli_usage_error("eval", "--threads must be 1..256");
            }
            o->threads = (int)n;
        } else if (strcmp(a, "--dpi") == 0) {
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 100 || n > 2000) {
                return cw_cli_usage_error("eval", "--dpi must be 100..2000");
            }
            o->dpi = (int)n;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
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
    int threads = o.threads > 0 ? o.threads : cw_cpu_count();
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
    FILE *sf = o.scores ? fopen(o.scores, "w") : NULL;
    if (o.scores != NULL && sf == NULL) {
        fprintf(stderr, "clearway eval: cannot write '%s'\n", o.scores);
        goto out;
    }
    double t1 = now_ms();
    size_t ncmp = 0;
    for (size_t i = 0; i < n; i++) {
        failed += !im[i].ok;
        ms[i] = im[i].ms;
        for (size_t j = i + 1; j < n; j++) {
            // A failed extraction scores 0: a false non-match, never a silent omission.
            float s = cw_finger_compare(&im[i].prep, &im[j].prep);
            ncmp++;
            if (im[i].finger == im[j].finger) {
                gen[ng++] = s;
            } else {
                ext[ne++] = s;
                int first_i = i == 0 || im[i - 1].finger != im[i].finger;
                int first_j = im[j - 1].finger != im[j].finger;
                if (first_i && first_j) {
                    imp[ni++] = s;
                }
            }
            if (sf != NULL) {
                fprintf(sf, "%s\t%d_%d\t%d_%d\t%.5f\n",
                        im[i].finger == im[j].finger ? "genuine" : "impostor", im[i].finger,
                        im[i].imp, im[j].finger, im[j].imp, s);
            }
        }
    }
    double t_cmp = now_ms() - t1;
    if (sf != NULL) {
        fclose(sf);
    }
    if (ng == 0 || ni == 0) {
        fprintf(stderr, "clearway eval: need at least two fingers with two impressions\n");
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
    if (o.json) {
        printf("{\"images\":%zu,\"failed\":%zu,\"genuine\":%zu,\"impostor\":%zu,"
               "\"impostor_extended\":%zu,\"eer\":%.5f,\"eer_extended\":%.5f,"
               "\"fnmr_at_fmr_1e-2\":%.5f,\"fnmr_at_fmr_1e-3\":%.5f,"
               "\"fnmr_at_fmr_1e-2_extended\":%.5f,\"fnmr_at_fmr_1e-3_extended\":%.5f,"
               "\"extract_ms_p50\":%.2f,\"mean_minutiae\":%.1f,\"matcher_version\":%d}\n",
               n, failed, ng, ni, ne, rf.eer, re.eer, rf.fnmr[0], rf.fnmr[1], re.fnmr[0],
               re.fnmr[1], ms[n / 2], nmin / n, CW_FINGER_MATCHER_VERSION);
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
    }
    if (o.det != NULL && write_det(o.det, gen, ng, imp, ni, ext, ne, o.dir) != 0) {
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
    cw_pool_destroy(pool);
    return ret;
}
