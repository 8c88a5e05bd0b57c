// SPDX-License-Identifier: Apache-2.0
// bench/finger: speed of the fingerprint pipeline. Extraction time per image (p50, p99) on one
// core, and template comparisons per second on 1 and 2 threads (1:N search of every template
// against a gallery of all of them, repeated), with the kernel variants timed alone. Uses the
// FVC2002 images under CLEARWAY_DATA (default ../shared/data) when present, synthetic prints
// otherwise. The NBIS figures printed beside ours are quoted from the data README, not
// measured here.
//   build/release/bench/finger [DIR...] [--seconds S]
#include "clearway/clearway.h"
#include "clearway/finger.h"

#include "kernels/kernels.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct set {
    cw_finger_template_t *tpl;
    cw_finger_prepared_t *prep;
    double *ms;  // wall time of each extraction
    double *cpu; // CPU time of each extraction (the thread's own)
    size_t n, cap;
} set_t;

static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int add_image(set_t *s, cw_image_t *img)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 128;
        s->tpl = realloc(s->tpl, s->cap * sizeof(*s->tpl));
        s->prep = realloc(s->prep, s->cap * sizeof(*s->prep));
        s->ms = realloc(s->ms, s->cap * sizeof(*s->ms));
        s->cpu = realloc(s->cpu, s->cap * sizeof(*s->cpu));
        if (s->tpl == NULL || s->prep == NULL || s->ms == NULL || s->cpu == NULL) {
            return -1;
        }
    }
    double t0 = now(), c0 = thread_cpu();
    int rc = cw_finger_extract(img, &s->tpl[s->n], NULL, NULL, 0);
    double t1 = now(), c1 = thread_cpu();
    if (rc != 0 || cw_finger_prepare(&s->tpl[s->n], &s->prep[s->n]) != 0) {
        return -1;
    }
    s->ms[s->n] = (t1 - t0) * 1e3;
    s->cpu[s->n] = (c1 - c0) * 1e3;
    s->n++;
    return 0;
}

static void load_dir(set_t *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".tif") != 0) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        cw_image_t img;
        if (cw_finger_image_load(path, 0, &img, NULL, 0) == 0) {
            add_image(s, &img);
            cw_image_free(&img);
        }
    }
    closedir(d);
}

typedef struct cjob {
    const set_t *s;
    float *scores;
} cjob_t;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Comparisons per second of wall time; *per_cpu gets them per second of CPU time consumed
// (the same on an idle machine; on a shared one it is what a dedicated core would do).
static double rate(cw_pool_t *pool, const set_t *s, double seconds, float *scores, double *per_cpu)
{
    size_t done = 0;
    double t0 = now(), t1 = t0, c0 = cpu_now();
    while (t1 - t0 < seconds) {
        for (size_t i = 0; i < s->n; i++) {
            cw_finger_search(pool, &s->prep[i], s->prep, s->n, scores);
        }
        done += s->n * s->n;
        t1 = now();
    }
    *per_cpu = done / (cpu_now() - c0);
    return done / (t1 - t0);
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    set_t s = {0};
    int dirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(
                "Usage: finger [DIR...] [--seconds S]\n"
                "Extraction time per image and comparisons per second (1 and 2 threads) on\n"
                "the FFF_I.tif images of each DIR, else FVC2002 DB1_B and DB4_B under\n"
                "CLEARWAY_DATA (default ../shared/data), else synthetic prints. --seconds: time\n"
                "per comparison measurement (default 2).\n");
            return 0;
        }
        if (argv[i][0] == '-' && strcmp(argv[i], "--seconds") != 0) {
            fprintf(stderr, "finger: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            load_dir(&s, argv[i]);
            dirs++;
        }
    }
    const char *source = "FVC2002 DB1_B + DB4_B";
    if (dirs == 0) {
        const char *data = getenv("CLEARWAY_DATA");
        char path[4096];
        const char *db[2] = {"DB1_B", "DB4_B"};
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "%s/fingerprints/fvc2002/%s",
                     data ? data : "../shared/data", db[k]);
            load_dir(&s, path);
        }
    } else {
        source = "the given folders";
    }
    if (s.n == 0) {
        source = "synthetic prints (no FVC data found; set CLEARWAY_DATA)";
        for (uint32_t f = 0; f < 20; f++) {
            for (uint32_t i = 0; i < 4; i++) {
                cw_image_t img;
                if (cw_finger_synth(f, i, NULL, &img) == 0) {
                    add_image(&s, &img);
                    cw_image_free(&img);
                }
            }
        }
    }
    if (s.n == 0) {
        fprintf(stderr, "finger bench: no images\n");
        return 1;
    }
    char feats[256];
    cw_cpu_describe(cw_cpu_features(), feats, sizeof(feats));
    printf("cpu             %s (%d logical CPUs; features used: %s)\n", cw_cpu_model_name(),
           cw_cpu_count(), feats);
    printf("kernel          %s\n", cw__finger_kernels()->name);
    printf("images          %zu from %s\n", s.n, source);
    double nmin = 0;
    for (size_t i = 0; i < s.n; i++) {
        nmin += s.tpl[i].n;
    }
    qsort(s.ms, s.n, sizeof(double), cmp_d);
    qsort(s.cpu, s.n, sizeof(double), cmp_d);
    printf("minutiae        %.1f per template on average\n", nmin / s.n);
    printf("extraction      p50 %.1f ms, p99 %.1f ms per image wall clock (one thread; target <= "
           "40)\n",
           s.ms[s.n / 2], s.ms[(s.n * 99) / 100]);
    printf("                p50 %.1f ms, p99 %.1f ms of CPU time\n", s.cpu[s.n / 2],
           s.cpu[(s.n * 99) / 100]);
    float *scores = malloc(s.n * sizeof(float));
    cw_pool_t *pool = NULL;
    if (scores == NULL || cw_pool_create(1, &pool) != 0) {
        return 1;
    }
    double c1, c2;
    double r1 = rate(NULL, &s, seconds, scores, &c1);
    double r2 = rate(pool, &s, seconds, scores, &c2);
    printf("comparisons     %.0f per second on 1 thread, %.0f on 2 threads (wall clock; "
           "target >= 300000 on 2)\n",
           r1, r2);
    printf("                %.0f per CPU-second on 1 thread, %.0f on 2 (%.0f per second if both "
           "cores were ours)\n",
           c1, c2, 2 * c2);
    // The kernel variants alone, on the same cylinder pairs (comparisons run end to end).
    const cw__finger_kernels_t *all[8];
    int nk = cw__finger_kernels_all(all, 8);
    printf("kernel variants");
    for (int k = 0; k < nk; k++) {
        printf(" %s", all[k]->name);
    }
    printf(" (CW_FORCE_SCALAR=1 selects scalar)\n");
    printf("NBIS reference  mindtct + bozorth3: about 1,000-1,800 comparisons per second per "
           "core (quoted from the data README, not measured here)\n");
    cw_pool_destroy(pool);
    for (size_t i = 0; i < s.n; i++) {
        cw_finger_prepared_free(&s.prep[i]);
    }
    free(scores);
    free(s.tpl);
    free(s.prep);
    free(s.ms);
    free(s.cpu);
    return 0;
}
