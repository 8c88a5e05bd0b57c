// SPDX-License-Identifier: Apache-2.0
// bench/finger_calibrate: the impostor score distribution behind cw_finger_threshold. Collects
// templates from FVC-style folders (FFF_I.tif; fingers of different folders are different
// fingers) and from N synthetic fingers (one impression each), compares every cross-finger
// pair, and prints the score thresholds for FMR 1e-3, 1e-4 and 1e-5 per source, with how many
// impostor scores lie above each (a threshold resting on fewer than ~10 scores is a floor, not
// an estimate). Run after any change that bumps CW_FINGER_MATCHER_VERSION:
//   build/f-rel/bench/finger_calibrate --synth 1000 DB1_B DB4_B
#include "clearway/clearway.h"
#include "clearway/finger.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    int finger; // globally unique finger id
    int source; // 0 FVC, 1 synthetic
    char path[512];
    int ok;
    cw_finger_prepared_t prep;
} item_t;

typedef struct job {
    item_t *it;
    size_t n;
    float **rows; // per i: scores against j > i (NaN for same finger)
} job_t;

static int extract_item(void *ctx, size_t i, int worker)
{
    (void)worker;
    job_t *j = ctx;
    item_t *it = &j->it[i];
    cw_image_t img;
    int rc = it->source == 0 ? cw_finger_image_load(it->path, 0, &img, NULL, 0)
                             : cw_finger_synth((uint32_t)(100000 + it->finger), 0, NULL, &img);
    if (rc != 0) {
        return 0;
    }
    cw_finger_template_t *t = malloc(sizeof(*t));
    if (t != NULL && cw_finger_extract(&img, t, NULL, NULL, 0) == 0 &&
        cw_finger_prepare(t, &it->prep) == 0) {
        it->ok = 1;
    }
    free(t);
    cw_image_free(&img);
    return 0;
}

static int compare_row(void *ctx, size_t i, int worker)
{
    (void)worker;
    job_t *j = ctx;
    for (size_t k = i + 1; k < j->n; k++) {
        j->rows[i][k - i - 1] = j->it[i].finger == j->it[k].finger
                                    ? -1.0f
                                    : cw_finger_compare(&j->it[i].prep, &j->it[k].prep);
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void report(const char *name, float *s, size_t n)
{
    if (n == 0) {
        return;
    }
    qsort(s, n, sizeof(float), cmp_desc);
    printf("%-10s %9zu impostor pairs, max %.4f", name, n, s[0]);
    const double fmr[3] = {1e-3, 1e-4, 1e-5};
    for (int k = 0; k < 3; k++) {
        size_t above = (size_t)(fmr[k] * (double)n); // scores allowed at or above the threshold
        if (above == 0) {
            printf(" | %g: > %.4f (unresolved)", fmr[k], s[0]);
        } else {
            printf(" | %g: %.4f (%zu above)", fmr[k], s[above], above);
        }
    }
    printf("\n");
    // Exponential tail fitted to the top 1% (mean excess over the 99th percentile), for the
    // rates the sample cannot resolve: P(S >= t) = 0.01 exp(-(t - t0) / beta).
    size_t k = n / 100;
    if (k >= 10) {
        double t0 = s[k], beta = 0.0;
        for (size_t i = 0; i < k; i++) {
            beta += s[i] - t0;
        }
        beta /= (double)k;
        printf("%-10s exponential tail over the top 1%% (t0 %.4f, beta %.4f):", name, t0, beta);
        for (int q = 0; q < 3; q++) {
            printf(" %g: %.4f", fmr[q], t0 + beta * log(0.01 / fmr[q]));
        }
        printf("\n");
    }
}

static void add_dir(item_t **it, size_t *n, size_t *cap, const char *dir, int base)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "finger_calibrate: cannot read '%s'\n", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int f, imp;
        if (sscanf(e->d_name, "%d_%d.tif", &f, &imp) != 2) {
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            *it = realloc(*it, *cap * sizeof(**it));
        }
        item_t *x = &(*it)[(*n)++];
        memset(x, 0, sizeof(*x));
        x->finger = base + f;
        snprintf(x->path, sizeof(x->path), "%s/%s", dir, e->d_name);
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    int synth = 1000;
    item_t *it = NULL;
    size_t n = 0, cap = 0;
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--synth") == 0 && i + 1 < argc) {
            synth = atoi(argv[++i]);
        } else {
            add_dir(&it, &n, &cap, argv[i], 10000 * ++ndirs);
        }
    }
    size_t n_fvc = n;
    for (int f = 0; f < synth; f++) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            it = realloc(it, cap * sizeof(*it));
        }
        memset(&it[n], 0, sizeof(it[n]));
        it[n].finger = f;
        it[n].source = 1;
        n++;
    }
    cw_pool_t *pool = NULL;
    if (n < 2 || cw_pool_create(cw_cpu_count() - 1, &pool) != 0) {
        fprintf(stderr, "usage: finger_calibrate [--synth N] [FVC_DIR...]\n");
        return 2;
    }
    job_t j = {it, n, calloc(n, sizeof(float *))};
    for (size_t i = 0; i < n; i++) {
        j.rows[i] = malloc((n - i) * sizeof(float));
    }
    fprintf(stderr, "extracting %zu templates (%zu FVC, %d synthetic)...\n", n, n_fvc, synth);
    cw_pool_parallel_for(pool, n, extract_item, &j);
    fprintf(stderr, "comparing...\n");
    cw_pool_parallel_for(pool, n, compare_row, &j);
    size_t cap_s = n * (n - 1) / 2;
    float *fvc = malloc(cap_s * sizeof(float)), *syn = malloc(cap_s * sizeof(float));
    float *all = malloc(cap_s * sizeof(float));
    size_t nf = 0, ns = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++) {
            float s = j.rows[i][k - i - 1];
            if (s < 0.0f || !it[i].ok || !it[k].ok) {
                continue;
            }
            all[na++] = s;
            if (it[i].source == 0 && it[k].source == 0) {
                fvc[nf++] = s;
            } else if (it[i].source == 1 && it[k].source == 1) {
                syn[ns++] = s;
            }
        }
    }
    printf("matcher version %d; thresholds: score >= t is a match\n", CW_FINGER_MATCHER_VERSION);
    report("FVC", fvc, nf);
    report("synthetic", syn, ns);
    report("all", all, na);
    for (size_t i = 0; i < n; i++) {
        cw_finger_prepared_free(&it[i].prep);
        free(j.rows[i]);
    }
    free(j.rows);
    free(fvc);
    free(syn);
    free(all);
    free(it);
    cw_pool_destroy(pool);
    return 0;
}
