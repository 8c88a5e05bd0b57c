// SPDX-License-Identifier: Apache-2.0
// bench/gallery_kernels: the int8 scan kernels of 1:N search (src/gallery/kernels), every variant
// this CPU runs, against a plain memory-read loop measured in the same run. Synthetic gallery of
// N rows x dpad int8 values (default N = 1M and 10M, dpad = 128 and 512), the rows block on
// transparent huge pages as gallery.c should allocate it (--no-huge to see the difference), on 1
// and 2 threads (the rows split in halves). Each thread calls the kernel on blocks of 1024 rows
// into one reused output buffer, as gallery.c's scan does. Prints p50 / p99 milliseconds per scan,
// GB/s of rows read (at p50), the share of the read loop's bandwidth on as many threads, and for
// dotm (m queries at once, default 64) the cost relative to one query's dot1. Every variant's
// results are checked against the scalar reference before it is timed.
//
// Usage: gallery_kernels [--rows 1000000,10000000] [--dpad 128,512] [--reps 5] [--m 64]
//                        [--threads 2] [--no-huge] [--scalar-dotm]
#define _DEFAULT_SOURCE // madvise, MADV_HUGEPAGE

#include "../src/gallery/kernels/kernels.h"
#include "clearway/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { BLOCK = 1024, MAX_THREADS = 64, MAX_LIST = 8, MAX_REPS = 101 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// ---- data ----

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Random int8 values in [-127, 127] (a byte of -128 becomes -127, as the quantiser clamps).
static void fill(int8_t *p, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = splitmix(&s);
        for (int b = 0; b < 8 && i + (size_t)b < len; b++) {
            int8_t v = (int8_t)(uint8_t)(w >> (8 * b));
            p[i + (size_t)b] = v == -128 ? -127 : v;
        }
    }
}

typedef struct gallery {
    int8_t *rows;
    size_t n, dpad;
} gallery_t;

typedef struct fill_job {
    gallery_t *g;
    size_t r0, r1;
} fill_job_t;

static void *fill_part(void *arg)
{
    fill_job_t *j = arg;
    gallery_t *g = j->g;
    fill(g->rows + j->r0 * g->dpad, (j->r1 - j->r0) * g->dpad, 12345 + j->r0);
    return NULL;
}

static int make_gallery(gallery_t *g, size_t n, size_t dpad, int huge, int threads)
{
    size_t bytes = (n * dpad + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    g->n = n;
    g->dpad = dpad;
    g->rows = aligned_alloc(2u << 20, bytes);
    if (g->rows == NULL) {
        return -1;
    }
    if (huge) {
        madvise(g->rows, bytes, MADV_HUGEPAGE); // a hint; no huge pages is not an error
    }
    pthread_t t[MAX_THREADS];
    fill_job_t j[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        j[i] =
            (fill_job_t){g, n * (size_t)i / (size_t)threads, n * (size_t)(i + 1) / (size_t)threads};
        pthread_create(&t[i], NULL, fill_part, &j[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    return 0;
}

// ---- timed work ----

typedef enum what { READ, READ_PREFETCH, DOT1, DOTM } what_t;

typedef struct job {
    what_t what;
    const cw__gallery_kernels_t *k;
    const gallery_t *g;
    const int8_t *q;
    int m;
    size_t r0, r1;
    int32_t *out; // m x BLOCK
    uint64_t sink;
} job_t;

// The plain read loop: 64 bytes a step into four independent sums, as the kernels read rows.
// Written in plain C (intrinsics live only under kernels/); the compiler vectorises it.
static uint64_t read_sum(const int8_t *p, size_t len, int prefetch)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 8 <= len / 8; i += 8) {
        if (prefetch) {
            __builtin_prefetch(w + i + 128); // 1 KB ahead
        }
        s0 += w[i] + w[i + 4];
        s1 += w[i + 1] + w[i + 5];
        s2 += w[i + 2] + w[i + 6];
        s3 += w[i + 3] + w[i + 7];
    }
    return s0 ^ s1 ^ s2 ^ s3;
}

static void *run_job(void *arg)
{
    job_t *j = arg;
    const gallery_t *g = j->g;
    switch (j->what) {
    case READ:
    case READ_PREFETCH:
        j->sink = read_sum(g->rows + j->r0 * g->dpad, (j->r1 - j->r0) * g->dpad,
                           j->what == READ_PREFETCH);
        break;
    case DOT1:
    case DOTM:
        for (size_t b = j->r0; b < j->r1; b += BLOCK) {
            size_t nb = j->r1 - b < BLOCK ? j->r1 - b : BLOCK;
            if (j->what == DOT1) {
                j->k->dot1(j->q, g->rows + b * g->dpad, nb, g->dpad, j->out);
            } else {
                j->k->dotm(j->q, j->m, g->rows + b * g->dpad, nb, g->dpad, j->out);
            }
            j->sink += (uint32_t)j->out[nb - 1];
        }
        break;
    }
    return NULL;
}

// What the passes produced (printed at the end, so that no pass can be optimised away).
static uint64_t checksum;

// One pass over the gallery on `threads` threads; returns milliseconds.
static double run_once(what_t what, const cw__gallery_kernels_t *k, const gallery_t *g,
                       const int8_t *q, int m, int threads, int32_t *const *outs)
{
    pthread_t t[MAX_THREADS];
    job_t j[MAX_THREADS];
    double t0 = now_ms();
    for (int i = 0; i < threads; i++) {
        j[i] = (job_t){.what = what,
                       .k = k,
                       .g = g,
                       .q = q,
                       .m = m,
                       .r0 = g->n * (size_t)i / (size_t)threads,
                       .r1 = g->n * (size_t)(i + 1) / (size_t)threads,
                       .out = outs[i]};
        if (i > 0) {
            pthread_create(&t[i], NULL, run_job, &j[i]);
        }
    }
    run_job(&j[0]);
    for (int i = 1; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    double ms = now_ms() - t0;
    for (int i = 0; i < threads; i++) {
        checksum += j[i].sink;
    }
    return ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct path {
    what_t what;
    const cw__gallery_kernels_t *k;
    int m;
    char name[48];
    double ms[MAX_REPS];
    double p50, p99, best;
} path_t;

// Time every path reps times, round-robin (one pass of each in turn, after one warm-up pass of
// each), so that other load on the machine falls on all of them alike.
static void measure(path_t *paths, int n_paths, const gallery_t *g, const int8_t *q, int threads,
                    int32_t *const *outs, int reps)
{
    for (int p = 0; p < n_paths; p++) {
        run_once(paths[p].what, paths[p].k, g, q, paths[p].m, threads, outs);
    }
    for (int r = 0; r < reps; r++) {
        for (int p = 0; p < n_paths; p++) {
            paths[p].ms[r] = run_once(paths[p].what, paths[p].k, g, q, paths[p].m, threads, outs);
        }
    }
    for (int p = 0; p < n_paths; p++) {
        double *ms = paths[p].ms;
        qsort(ms, (size_t)reps, sizeof(double), cmp_double);
        int i99 = (int)(0.99 * reps + 0.999999) - 1; // nearest rank
        paths[p].p50 = ms[reps / 2];
        paths[p].p99 = ms[i99 < 0 ? 0 : i99];
        paths[p].best = ms[0];
    }
}

// ---- checks ----

// Every variant's dot1 and dotm against the reference on the first rows of the gallery (and an
// odd count, so that the tails run). Exits on a difference: a wrong kernel is not benchmarked.
static void check_variant(const cw__gallery_kernels_t *k, const gallery_t *g, const int8_t *q,
                          int m, int32_t *want, int32_t *got)
{
    const cw__gallery_kernels_t *ref = cw__gallery_kernels_ref();
    size_t n = g->n < BLOCK - 3 ? g->n : BLOCK - 3;
    for (int mode = 0; mode < 2; mode++) {
        size_t total = mode == 0 ? n : (size_t)m * n;
        if (mode == 0) {
            ref->dot1(q, g->rows, n, g->dpad, want);
            k->dot1(q, g->rows, n, g->dpad, got);
        } else {
            ref->dotm(q, m, g->rows, n, g->dpad, want);
            k->dotm(q, m, g->rows, n, g->dpad, got);
        }
        if (memcmp(want, got, total * sizeof(int32_t)) != 0) {
            fprintf(stderr, "gallery_kernels: %s %s differs from the reference\n", k->name,
                    mode == 0 ? "dot1" : "dotm");
            exit(1);
        }
    }
}

// ---- main ----

static int parse_list(const char *s, size_t *v)
{
    int n = 0;
    while (*s != '\0' && n < MAX_LIST) {
        char *end;
        v[n++] = strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != '\0') {
            return -1;
        }
    }
    return n;
}

static void row(size_t dpad, size_t n, int threads, const path_t *p, double ref_bw,
                const char *note)
{
    char rows[32];
    if (n % 1000000 == 0) {
        snprintf(rows, sizeof(rows), "%zuM", n / 1000000);
    } else {
        snprintf(rows, sizeof(rows), "%zu", n);
    }
    double bw = (double)n * (double)dpad / p->p50 / 1e6;
    printf("%5zu %5s %3d  %-20s %8.2f %8.2f %8.2f %7.1f %6.0f%%  %s\n", dpad, rows, threads,
           p->name, p->p50, p->p99, p->best, bw, 100.0 * bw / ref_bw, note);
}

static void add_path(path_t *paths, int *n, what_t what, const cw__gallery_kernels_t *k, int m)
{
    path_t *p = &paths[(*n)++];
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->k = k;
    p->m = m;
    if (what == READ || what == READ_PREFETCH) {
        snprintf(p->name, sizeof(p->name), "%s", what == READ ? "read" : "read+prefetch");
    } else if (what == DOT1) {
        snprintf(p->name, sizeof(p->name), "%s dot1", k->name);
    } else {
        snprintf(p->name, sizeof(p->name), "%s dotm%d", k->name, m);
    }
}

int main(int argc, char **argv)
{
    size_t rows_list[MAX_LIST] = {1000000, 10000000}, dpad_list[MAX_LIST] = {128, 512};
    int n_rows = 2, n_dpad = 2, reps = 5, m = 64, max_threads = 2, huge = 1, scalar_dotm = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            n_rows = parse_list(argv[++i], rows_list);
        } else if (strcmp(argv[i], "--dpad") == 0 && i + 1 < argc) {
            n_dpad = parse_list(argv[++i], dpad_list);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--m") == 0 && i + 1 < argc) {
            m = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            max_threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-huge") == 0) {
            huge = 0;
        } else if (strcmp(argv[i], "--scalar-dotm") == 0) {
            scalar_dotm = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--rows N,...] [--dpad D,...] [--reps R] [--m M] "
                    "[--threads T] [--no-huge] [--scalar-dotm]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n_rows < 1 || n_dpad < 1 || reps < 1 || reps > MAX_REPS || m < 1 ||
        m > CW__GALLERY_DOTM_MAX || max_threads < 1 || max_threads > MAX_THREADS) {
        fprintf(stderr, "gallery_kernels: bad arguments\n");
        return 2;
    }
    for (int i = 0; i < n_dpad; i++) {
        if (dpad_list[i] < 64 || dpad_list[i] > CW__GALLERY_DPAD_MAX || dpad_list[i] % 64 != 0) {
            fprintf(stderr, "gallery_kernels: dpad must be a multiple of 64 in 64..1024\n");
            return 2;
        }
    }

    char feat[256];
    cw_cpu_describe(cw_cpu_features(), feat, sizeof(feat));
    const cw__gallery_kernels_t *k[8];
    int nk = cw__gallery_kernels_all(k, 8);
    printf("gallery_kernels: %s, %d CPUs, features: %s\n", cw_cpu_model_name(), cw_cpu_count(),
           feat);
    printf("kernel path chosen: %s; variants:", cw__gallery_kernels()->name);
    for (int i = 0; i < nk; i++) {
        printf(" %s", k[i]->name);
    }
    printf(
        "\nrows block on %s pages; %d reps per figure (p50, p99 of the reps); blocks of %d rows\n",
        huge ? "transparent huge (madvise)" : "4 KB", reps, BLOCK);
    printf("GB/s = rows bytes / p50 time; %%read = of the faster read loop on as many threads\n");
    printf("(the paths of one row group are timed round-robin, so other load hits all alike)\n\n");
    printf("%5s %5s %3s  %-20s %8s %8s %8s %7s %7s\n", "dpad", "rows", "thr", "path", "p50 ms",
           "p99 ms", "best ms", "GB/s", "%read");

    int32_t *outs[MAX_THREADS];
    for (int i = 0; i < max_threads; i++) {
        outs[i] = aligned_alloc(64, (size_t)CW__GALLERY_DOTM_MAX * BLOCK * sizeof(int32_t));
    }
    int32_t *want = malloc((size_t)CW__GALLERY_DOTM_MAX * BLOCK * sizeof(int32_t));
    int32_t *got = malloc((size_t)CW__GALLERY_DOTM_MAX * BLOCK * sizeof(int32_t));

    for (int di = 0; di < n_dpad; di++) {
        size_t dpad = dpad_list[di];
        size_t max_n = 0;
        for (int ri = 0; ri < n_rows; ri++) {
            max_n = rows_list[ri] > max_n ? rows_list[ri] : max_n;
        }
        gallery_t full;
        double t0 = now_ms();
        if (make_gallery(&full, max_n, dpad, huge, max_threads) != 0) {
            fprintf(stderr, "gallery_kernels: out of memory for %zu x %zu\n", max_n, dpad);
            return 1;
        }
        int8_t *q = aligned_alloc(64, (size_t)CW__GALLERY_DOTM_MAX * dpad);
        fill(q, (size_t)CW__GALLERY_DOTM_MAX * dpad, 777);
        printf("(dpad %zu: %zu rows generated in %.1f s)\n", dpad, max_n, (now_ms() - t0) / 1e3);
        for (int i = 0; i < nk; i++) {
            check_variant(k[i], &full, q, m, want, got);
        }
        for (int ri = 0; ri < n_rows; ri++) {
            gallery_t g = full; // the first n rows
            g.n = rows_list[ri];
            double bytes = (double)g.n * (double)dpad;
            for (int threads = 1; threads <= max_threads; threads *= 2) {
                path_t paths[2 + 2 * 8];
                int np = 0;
                add_path(paths, &np, READ, NULL, 1);
                add_path(paths, &np, READ_PREFETCH, NULL, 1);
                for (int i = 0; i < nk; i++) {
                    add_path(paths, &np, DOT1, k[i], 1);
                }
                for (int i = 0; i < nk; i++) {
                    if (i > 0 || scalar_dotm) {
                        add_path(paths, &np, DOTM, k[i], m);
                    }
                }
                measure(paths, np, &g, q, threads, outs, reps);
                double ref_bw = 0;
                for (int p = 0; p < 2; p++) {
                    double bw = bytes / paths[p].p50 / 1e6;
                    ref_bw = bw > ref_bw ? bw : ref_bw;
                }
                for (int p = 0; p < np; p++) {
                    char note[96] = "";
                    if (paths[p].what == DOTM) {
                        for (int o = 0; o < np; o++) {
                            if (paths[o].what == DOT1 && paths[o].k == paths[p].k) {
                                snprintf(note, sizeof(note),
                                         "%.2fx one query's dot1 (%.2f ms per query)",
                                         paths[p].p50 / paths[o].p50, paths[p].p50 / m);
                            }
                        }
                    }
                    row(dpad, g.n, threads, &paths[p], ref_bw, note);
                }
                fflush(stdout);
            }
        }
        free(full.rows);
        free(q);
    }
    for (int i = 0; i < max_threads; i++) {
        free(outs[i]);
    }
    free(want);
    free(got);
    printf("\n(checksum %016llx)\n", (unsigned long long)checksum);
    return 0;
}
