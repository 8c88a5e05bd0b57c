// SPDX-License-Identifier: Apache-2.0
// bench/gallery_search: exact 1:N search speed of the gallery on synthetic galleries, random
// unit vectors and a clustered mix that resembles real embeddings (identities as cluster
// centres with genuine samples around them), over lists of sizes, dimensions and thread counts:
// build time, memory, p50/p99 of one query, batches of 64, and the effective scan rate against
// a read bandwidth measured in the same run. The same queries go through FAISS (Debian's
// libfaiss.a, IndexFlatIP and IndexScalarQuantizer SQ8; bench/faiss_peer.cpp) in the same run,
// with FAISS's top-1 agreement and recall against the exact answer; a few answers are checked
// against a brute-force float search. One table, then the targets marked met or MISSED.
// The int8 kernels are also timed alone over the bandwidth buffer, to tell what the kernel costs
// from what the search does around it.
//
// Rows are regenerated from their index (a counter-based generator) whenever a phase needs
// them, so that no phase holds the float vectors of another: the gallery, FlatIP and SQ8 are
// built and measured one after the other, each freed before the next.
#include "clearway/cpu.h"
#include "clearway/err.h"
#include "clearway/gallery.h"
#include "clearway/thread.h"
#include "kernels/kernels.h" // internal: the kernel path, and the kernels alone as a yardstick
#ifdef CW_BENCH_FAISS
#include "faiss_peer.h"
#endif

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum {
    K = 10,             // top-k of every search
    BATCH = 64,         // queries per batched search
    MAX_LIST = 8,       // entries of --n, --dims, --threads
    CHUNK = 16384,      // rows generated at a time
    GEN_TASK = 512,     // rows per generation task
    SAMPLES_PER_ID = 4, // clustered: gallery rows per identity
    TRAIN_ROWS = 65536, // SQ8 training set (per-dimension ranges)
};

typedef enum data_kind { DATA_RANDOM = 0, DATA_CLUSTERED = 1 } data_kind_t;
static const char *const data_names[] = {"random", "clustered"};

typedef struct opts {
    size_t ns[MAX_LIST];
    int n_ns;
    int dims[MAX_LIST];
    int n_dims;
    int threads[MAX_LIST];
    int n_threads;
    int data[2];
    int n_data;
    int queries;      // single queries per configuration
    int batches;      // batches of 64
    int peer_queries; // of the single queries, how many FAISS answers one at a time (timed)
    int peer_batches;
    int verify;          // queries checked against brute force
    size_t verify_max_n; // ... at galleries up to this size
    size_t bw_bytes;     // read-bandwidth buffer
    int peer;
} opts_t;

// ---- synthetic data ----

typedef struct dataset {
    data_kind_t kind;
    size_t n;
    int dim;
    uint64_t seed;
    size_t n_ids; // clustered: identities (SAMPLES_PER_ID rows each)
    float sigma;  // genuine noise per coordinate: cosine ~0.8 to the centre (or row) it is around
    float *w;     // clustered: per-dimension spread of the centres (real embeddings are uneven)
    float *mean;  // clustered: a direction all centres share a little of
} dataset_t;

enum { STREAM_ROW = 1, STREAM_CENTRE, STREAM_QUERY, STREAM_PICK, STREAM_MEAN };

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// A counter-based stream: value i of (stream, index) never depends on any other row, so rows
// can be regenerated in any order, on any thread, as often as a phase needs them.
typedef struct rng {
    uint64_t s;
} rng_t;

static rng_t rng_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    rng_t r = {mix64(seed ^ mix64(stream * 0x2545f4914f6cdd1dull ^ mix64(index)))};
    return r;
}

// Near-Gaussian with unit variance (sum of four 16-bit uniforms): cheap enough to regenerate
// 10M rows per phase; after normalisation the directions are close to uniform.
static float rng_gauss(rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    uint64_t z = mix64(r->s);
    uint32_t sum = (uint32_t)(z & 0xffff) + (uint32_t)((z >> 16) & 0xffff) +
                   (uint32_t)((z >> 32) & 0xffff) + (uint32_t)(z >> 48);
    return ((float)sum - 2.0f * 65535.0f) * (1.7320508f / 65536.0f);
}

// The gallery's own normalisation (gallery.c), repeated so that the brute-force reference and
// FAISS see bit for bit the vectors the gallery stores.
static void normalise(const float *v, int dim, float *out)
{
    double ss = 0.0;
    for (int i = 0; i < dim; i++) {
        ss += (double)v[i] * v[i];
    }
    double inv = 1.0 / sqrt(ss);
    for (int i = 0; i < dim; i++) {
        out[i] = (float)(v[i] * inv);
    }
}

static int dataset_init(dataset_t *ds, data_kind_t kind, size_t n, int dim)
{
    memset(ds, 0, sizeof(*ds));
    ds->kind = kind;
    ds->n = n;
    ds->dim = dim;
    ds->seed = 0x636c656172776179ull ^ ((uint64_t)kind << 56) ^ ((uint64_t)dim << 40) ^ n;
    ds->n_ids = (n + SAMPLES_PER_ID - 1) / SAMPLES_PER_ID;
    // |sigma g| ~ 0.75 for a unit vector: cosine 1 / sqrt(1 + 0.75^2) = 0.8 to the centre, and
    // about 0.64 between two samples of one identity (genuine scores of a real face model).
    ds->sigma = 0.75f / sqrtf((float)dim);
    ds->w = malloc((size_t)dim * sizeof(float));
    ds->mean = malloc((size_t)dim * sizeof(float));
    if (ds->w == NULL || ds->mean == NULL) {
        return -1;
    }
    // Variance falling 5:1 across the dimensions, and a shared direction that puts the mean
    // impostor score near 0.05, as in real embeddings.
    for (int j = 0; j < dim; j++) {
        ds->w[j] = 1.0f / sqrtf(1.0f + 4.0f * (float)j / (float)dim);
        ds->mean[j] =
            (mix64(ds->seed ^ mix64(STREAM_MEAN * 1000003u + (uint64_t)j)) & 1) ? 0.15f : -0.15f;
    }
    return 0;
}

static void dataset_free(dataset_t *ds)
{
    free(ds->w);
    free(ds->mean);
}

// Clustered: identity id's centre, unit length.
static void make_centre(const dataset_t *ds, uint64_t id, float *out)
{
    rng_t r = rng_at(ds->seed, STREAM_CENTRE, id);
    for (int j = 0; j < ds->dim; j++) {
        out[j] = ds->w[j] * rng_gauss(&r) + ds->mean[j];
    }
    normalise(out, ds->dim, out);
}

// Gallery row r (not normalised: the gallery does that on the way in).
static void make_row(const dataset_t *ds, size_t row, float *out)
{
    rng_t r = rng_at(ds->seed, STREAM_ROW, row);
    if (ds->kind == DATA_RANDOM) {
        for (int j = 0; j < ds->dim; j++) {
            out[j] = rng_gauss(&r);
        }
        return;
    }
    make_centre(ds, row / SAMPLES_PER_ID, out);
    for (int j = 0; j < ds->dim; j++) {
        out[j] += ds->sigma * rng_gauss(&r);
    }
}

// Query qi: even ones are genuine probes (random: a fresh sample around a gallery row;
// clustered: a fresh sample of an enrolled identity), odd ones strangers.
static void make_query(const dataset_t *ds, int qi, float *out)
{
    rng_t r = rng_at(ds->seed, STREAM_QUERY, (uint64_t)qi);
    uint64_t pick = mix64(ds->seed ^ mix64(STREAM_PICK * 1000003u + (uint64_t)qi));
    int genuine = qi % 2 == 0;
    if (ds->kind == DATA_RANDOM) {
        if (genuine) {
            make_row(ds, pick % ds->n, out);
            normalise(out, ds->dim, out);
        }
        for (int j = 0; j < ds->dim; j++) {
            out[j] = genuine ? out[j] + ds->sigma * rng_gauss(&r) : rng_gauss(&r);
        }
        return;
    }
    make_centre(ds, genuine ? pick % ds->n_ids : ds->n_ids + 1 + (uint64_t)qi, out);
    for (int j = 0; j < ds->dim; j++) {
        out[j] += ds->sigma * rng_gauss(&r);
    }
}

typedef struct gen_job {
    const dataset_t *ds;
    size_t r0, nr;
    float *out;
    int unit;
} gen_job_t;

static int gen_task(void *ctx, size_t i, int worker)
{
    (void)worker;
    gen_job_t *j = ctx;
    size_t a = i * GEN_TASK;
    size_t b = a + GEN_TASK < j->nr ? a + GEN_TASK : j->nr;
    for (size_t r = a; r < b; r++) {
        float *o = j->out + r * (size_t)j->ds->dim;
        make_row(j->ds, j->r0 + r, o);
        if (j->unit) {
            normalise(o, j->ds->dim, o);
        }
    }
    return 0;
}

// Rows [r0, r0 + nr) into out (unit: normalised as the gallery would).
static void gen_rows(const dataset_t *ds, size_t r0, size_t nr, float *out, int unit,
                     cw_pool_t *pool)
{
    gen_job_t j = {ds, r0, nr, out, unit};
    cw_pool_parallel_for(pool, (nr + GEN_TASK - 1) / GEN_TASK, gen_task, &j);
}

// ---- measurement helpers ----

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

// Percentile p of n samples (sorts them).
static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(double), cmp_double);
    size_t i = (size_t)ceil(p * (double)n);
    i = i > 0 ? i - 1 : 0;
    return v[i < n ? i : n - 1];
}

static double meminfo_gib(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = -1.0;
    size_t len = strlen(key);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            kib = atof(line + len + 1);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib / (1024.0 * 1024.0);
}

// A time in ms with one decimal, or "-" when it was not measured (NaN).
static void ms_or_dash(char *buf, size_t len, double ms)
{
    if (isnan(ms)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.1f", ms);
    }
}

static double rss_gib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0;
    unsigned long resident = 0;
    if (f == NULL || fscanf(f, "%lu %lu", &size, &resident) != 2) {
        resident = 0;
    }
    if (f != NULL) {
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0 * 1024.0);
}

static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f != NULL && fgets(buf, (int)len, f) != NULL) {
        // Keep the three averages.
        char *p = buf;
        for (int field = 0; field < 3 && *p != '\0'; field++) {
            p += strcspn(p, " ");
            p += *p == ' ' && field < 2;
        }
        *p = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
}

// A plain read loop over a buffer larger than any cache, split over the threads: the memory
// read bandwidth the scan is measured against, in the same run and on the same pool.
typedef struct bw_job {
    const uint64_t *buf;
    size_t words;
    size_t parts;
    uint64_t sink[64];
} bw_job_t;

static int bw_task(void *ctx, size_t part, int worker)
{
    (void)worker;
    bw_job_t *j = ctx;
    size_t per = j->words / j->parts / 8 * 8;
    const uint64_t *p = j->buf + part * per;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (size_t i = 0; i < per; i += 8) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
        a4 += p[i + 4];
        a5 += p[i + 5];
        a6 += p[i + 6];
        a7 += p[i + 7];
    }
    j->sink[part % 64] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    return 0;
}

// GB/s (1e9 bytes) reading `bytes` with `threads` threads, best of `passes`; < 0 on failure.
static double read_bandwidth(const uint64_t *buf, size_t bytes, int threads, cw_pool_t *pool,
                             int passes)
{
    bw_job_t j;
    memset(&j, 0, sizeof(j));
    j.buf = buf;
    j.words = bytes / sizeof(uint64_t);
    j.parts = (size_t)threads;
    size_t read = j.words / j.parts / 8 * 8 * j.parts * sizeof(uint64_t);
    double best = 1e30;
    for (int p = 0; p < passes; p++) {
        double t0 = now_ms();
        cw_pool_parallel_for(pool, j.parts, bw_task, &j);
        double ms = now_ms() - t0;
        best = ms < best ? ms : best;
    }
    return (double)read / (best * 1e6);
}

// The int8 kernel alone over the bandwidth buffer taken as rows (blocks of 1024 rows, as the
// gallery scans): how close the kernel itself comes to the read bandwidth, apart from what the
// search does around it (top-k upkeep, re-ranking, re-scans).
enum { KERN_BLOCK = 1024 };

typedef struct kern_job {
    const cw__gallery_kernels_t *k;
    const int8_t *rows;
    const int8_t *q; // m x dpad
    int m;
    size_t n, dpad, parts;
    int32_t *out; // parts x m x KERN_BLOCK
} kern_job_t;

static int kern_task(void *ctx, size_t part, int worker)
{
    (void)worker;
    kern_job_t *j = ctx;
    size_t per = (j->n + j->parts - 1) / j->parts;
    size_t r0 = part * per;
    size_t r1 = r0 + per < j->n ? r0 + per : j->n;
    int32_t *out = j->out + part * (size_t)j->m * KERN_BLOCK;
    for (size_t b = r0; b < r1; b += KERN_BLOCK) {
        size_t nb = r1 - b < KERN_BLOCK ? r1 - b : KERN_BLOCK;
        if (j->m == 1) {
            j->k->dot1(j->q, j->rows + b * j->dpad, nb, j->dpad, out);
        } else {
            j->k->dotm(j->q, j->m, j->rows + b * j->dpad, nb, j->dpad, out);
        }
    }
    return 0;
}

// GB/s of rows read by dot1 (m = 1) or dotm (m queries at once), best of 3; < 0 on failure.
static double kernel_rate(const uint64_t *buf, size_t bytes, size_t dpad, int m, int threads,
                          cw_pool_t *pool)
{
    kern_job_t j = {cw__gallery_kernels(),
                    (const int8_t *)buf,
                    NULL,
                    m,
                    bytes / dpad,
                    dpad,
                    (size_t)threads,
                    NULL};
    int8_t *q = malloc((size_t)m * dpad);
    j.out = malloc((size_t)threads * (size_t)m * KERN_BLOCK * sizeof(int32_t));
    double best = -1.0;
    if (q != NULL && j.out != NULL) {
        memset(q, 3, (size_t)m * dpad);
        j.q = q;
        double ms = 1e30;
        for (int p = 0; p < 3; p++) {
            double t0 = now_ms();
            cw_pool_parallel_for(pool, j.parts, kern_task, &j);
            double t = now_ms() - t0;
            ms = t < ms ? t : ms;
        }
        best = (double)(j.n * dpad) / (ms * 1e6);
    }
    free(q);
    free(j.out);
    return best;
}

// ---- results ----

typedef struct row {
    int data;
    size_t n;
    int dim;
    int threads;
    char skipped[96]; // why the configuration did not run, or ""
    double build_s, scan_x, scan_gib, float_gib, rss_gib;
    double p50, p99, gbps, bw, b64;
    int checked, exact; // brute-force checked queries, and how many matched
    int differs;        // answers differ from the first thread count's, or batched from single
    // FAISS (have_*: 0 not run, 1 run, -1 skipped or failed)
    int have_flat, have_sq8;
    double flat_build_s, flat_p50, flat_b64;
    int top1_n, top1_agree, top1_ties, top1_wrong;
    double sq8_build_s, sq8_p50, sq8_b64, sq8_recall;
    int sq8_n, sq8_top1;
} row_t;

static void fmt_count(size_t n, char *buf, size_t len)
{
    if (n >= 1000000 && n % 100000 == 0) {
        snprintf(buf, len, n % 1000000 ? "%.1fM" : "%.0fM", (double)n / 1e6);
    } else if (n >= 1000 && n % 1000 == 0) {
        snprintf(buf, len, "%zuK", n / 1000);
    } else {
        snprintf(buf, len, "%zu", n);
    }
}

// ---- the gallery phase ----

// Brute-force float top-K of a few queries, fed the normalised rows in id order; ties keep the
// smaller id, as the gallery does.
typedef struct brute {
    int nq;
    const float *q;        // nq x dim, normalised
    cw_gallery_hit_t *top; // nq x K
    int *count;
} brute_t;

static void brute_push(brute_t *b, int dim, const float *row, uint64_t id)
{
    for (int qi = 0; qi < b->nq; qi++) {
        const float *q = b->q + (size_t)qi * dim;
        double acc = 0.0;
        for (int i = 0; i < dim; i++) {
            acc += (double)q[i] * row[i];
        }
        float s = (float)acc;
        cw_gallery_hit_t *t = b->top + (size_t)qi * K;
        int n = b->count[qi];
        if (n == K && !(s > t[K - 1].score)) {
            continue;
        }
        int pos = n < K ? n : K - 1;
        while (pos > 0 && s > t[pos - 1].score) {
            t[pos] = t[pos - 1];
            pos--;
        }
        t[pos].id = id;
        t[pos].score = s;
        b->count[qi] = n < K ? n + 1 : K;
    }
}

typedef struct context {
    const opts_t *o;
    cw_pool_t **pools;      // per --threads entry; NULL for 1 thread
    cw_pool_t *gen;         // generation pool (all CPUs)
    double *bw;             // read bandwidth per --threads entry (the highest measured so far)
    const uint64_t *bw_buf; // the buffer it is measured on (o->bw_bytes)
} context_t;

// Build the gallery, measure it at every thread count, fill rows[0..n_threads) and the exact
// top-K of the single queries (exact: Q x K). Returns 0, or -1 if it could not run.
static int run_gallery(const context_t *cx, const dataset_t *ds, const float *q_raw,
                       const float *q_unit, row_t *rows, cw_gallery_hit_t *exact)
{
    const opts_t *o = cx->o;
    const int dim = ds->dim;
    const size_t dpad = ((size_t)dim + 63) / 64 * 64;
    char label[64];
    char nbuf[32];
    fmt_count(ds->n, nbuf, sizeof(nbuf));
    snprintf(label, sizeof(label), "%s %s x %d", data_names[ds->kind], nbuf, dim);

    double rss0 = rss_gib();
    cw_gallery_config_t cfg = {(uint32_t)dim, 1, 1, 1, ds->n};
    cw_gallery_t *g = NULL;
    int rc = cw_gallery_create(&cfg, &g);
    if (rc != 0) {
        fprintf(stderr, "gallery_search: %s: cw_gallery_create: %s\n", label, cw_strerror(rc));
        return -1;
    }
    int nv = ds->n <= o->verify_max_n ? o->verify : 0;
    float *chunk = malloc((size_t)CHUNK * dim * sizeof(float));
    float *unit = nv > 0 ? malloc((size_t)CHUNK * dim * sizeof(float)) : NULL;
    cw_gallery_hit_t *bf_top = calloc((size_t)(nv > 0 ? nv : 1) * K, sizeof(cw_gallery_hit_t));
    int *bf_count = calloc((size_t)(nv > 0 ? nv : 1), sizeof(int));
    if (chunk == NULL || (nv > 0 && unit == NULL) || bf_top == NULL || bf_count == NULL) {
        fprintf(stderr, "gallery_search: %s: out of memory\n", label);
        rc = -1;
    }
    brute_t bf = {nv, q_unit, bf_top, bf_count};
    double build_ms = 0.0;
    double t_phase = now_ms();
    for (size_t r0 = 0; r0 < ds->n && rc == 0; r0 += CHUNK) {
        size_t nr = ds->n - r0 < CHUNK ? ds->n - r0 : CHUNK;
        gen_rows(ds, r0, nr, chunk, 0, cx->gen);
        double t0 = now_ms();
        for (size_t r = 0; r < nr && rc == 0; r++) {
            rc = cw_gallery_add(g, r0 + r, chunk + r * dim);
        }
        build_ms += now_ms() - t0;
        if (rc != 0) {
            fprintf(stderr, "gallery_search: %s: cw_gallery_add: %s\n", label, cw_strerror(rc));
            break;
        }
        for (size_t r = 0; r < nr && nv > 0; r++) {
            normalise(chunk + r * dim, dim, unit + r * dim);
            brute_push(&bf, dim, unit + r * dim, r0 + r);
        }
    }
    free(chunk);
    free(unit);
    if (rc != 0) {
        cw_gallery_destroy(g);
        free(bf_top);
        free(bf_count);
        return -1;
    }
    size_t scan_bytes = 0;
    size_t float_bytes = 0;
    cw_gallery_memory(g, &scan_bytes, &float_bytes);
    double rss = rss_gib() - rss0;
    fprintf(stderr, "  %s: gallery built in %.1f s (adds), %.1f s with generation; RSS +%.2f GiB\n",
            label, build_ms / 1e3, (now_ms() - t_phase) / 1e3, rss);

    const int nq = o->queries;
    double *ms = malloc((size_t)(nq > o->batches ? nq : o->batches) * sizeof(double));
    cw_gallery_hit_t *hits = malloc((size_t)BATCH * K * sizeof(cw_gallery_hit_t));
    int *nh = malloc(BATCH * sizeof(int));
    if (ms == NULL || hits == NULL || nh == NULL) {
        rc = -1;
    }
    for (int ti = 0; ti < o->n_threads && rc == 0; ti++) {
        row_t *row = &rows[ti];
        cw_pool_t *pool = cx->pools[ti];
        row->build_s = build_ms / 1e3;
        row->scan_gib = (double)scan_bytes / (1024.0 * 1024.0 * 1024.0);
        row->float_gib = (double)float_bytes / (1024.0 * 1024.0 * 1024.0);
        row->scan_x = (double)scan_bytes / ((double)ds->n * dim);
        row->rss_gib = rss;
        // Warm-up: the first searches fault in the pool's and the allocator's working set.
        for (int w = 0; w < 3 && rc == 0; w++) {
            rc = cw_gallery_search(g, q_raw + (size_t)(w % nq) * dim, K, pool, hits, nh);
        }
        for (int qi = 0; qi < nq && rc == 0; qi++) {
            double t0 = now_ms();
            rc = cw_gallery_search(g, q_raw + (size_t)qi * dim, K, pool, hits, nh);
            ms[qi] = now_ms() - t0;
            cw_gallery_hit_t *ex = exact + (size_t)qi * K;
            if (rc == 0 && ti == 0) {
                memset(ex, 0, K * sizeof(*ex));
                for (int i = 0; i < nh[0]; i++) {
                    ex[i].id = hits[i].id;
                    ex[i].score = hits[i].score;
                }
            }
            for (int i = 0; i < nh[0] && rc == 0 && ti > 0; i++) {
                if (ex[i].id != hits[i].id || ex[i].score != hits[i].score) {
                    row->differs++;
                    break;
                }
            }
        }
        if (rc != 0) {
            fprintf(stderr, "gallery_search: %s: cw_gallery_search: %s\n", label, cw_strerror(rc));
            break;
        }
        row->p50 = pct(ms, (size_t)nq, 0.50);
        row->p99 = pct(ms, (size_t)nq, 0.99);
        row->gbps = (double)ds->n * (double)dpad / (row->p50 * 1e6);
        // Bandwidth again now, next to the scan it is compared with; the highest figure of the
        // run stands (start, each configuration, end), so a busy moment never flatters the scan.
        double bw = read_bandwidth(cx->bw_buf, o->bw_bytes, o->threads[ti], pool, 3);
        cx->bw[ti] = bw > cx->bw[ti] ? bw : cx->bw[ti];
        row->bw = cx->bw[ti];
        for (int b = 0; b < o->batches && rc == 0; b++) {
            const float *bq = q_raw + (size_t)(nq + b * BATCH) * dim;
            double t0 = now_ms();
            rc = cw_gallery_search_batch(g, bq, BATCH, K, pool, hits, nh);
            ms[b] = now_ms() - t0;
        }
        if (rc != 0) {
            fprintf(stderr, "gallery_search: %s: cw_gallery_search_batch: %s\n", label,
                    cw_strerror(rc));
            break;
        }
        row->b64 = o->batches > 0 ? pct(ms, (size_t)o->batches, 0.50) : NAN;
        // The batched path (another kernel) must give each query the answer it gets alone:
        // the last batch's first queries, asked again one at a time.
        for (int i = 0; i < 4 && o->batches > 0 && rc == 0; i++) {
            cw_gallery_hit_t one[K];
            int n1 = 0;
            const float *bq = q_raw + (size_t)(nq + (o->batches - 1) * BATCH + i) * dim;
            rc = cw_gallery_search(g, bq, K, pool, one, &n1);
            int same = rc == 0 && n1 == nh[i];
            for (int j = 0; j < n1 && same; j++) {
                same = one[j].id == hits[i * K + j].id && one[j].score == hits[i * K + j].score;
            }
            if (rc == 0 && !same) {
                row->differs++;
                fprintf(stderr,
                        "gallery_search: %s: batch query %d: batched and single answers "
                        "differ\n",
                        label, i);
            }
        }
        // Exactness: the gallery's top-K against the brute-force one (ids, and scores that
        // are computed the same way, so equal).
        row->checked = nv;
        for (int qi = 0; qi < nv; qi++) {
            const cw_gallery_hit_t *ex = exact + (size_t)qi * K;
            const cw_gallery_hit_t *bt = bf_top + (size_t)qi * K;
            int same = 1;
            for (int i = 0; i < bf_count[qi]; i++) {
                same &= ex[i].id == bt[i].id && fabsf(ex[i].score - bt[i].score) <= 1e-6f;
            }
            row->exact += same;
            if (!same && ti == 0) {
                fprintf(stderr,
                        "gallery_search: %s: query %d: top-%d differs from brute force "
                        "(first: gallery %llu %.7f, brute force %llu %.7f)\n",
                        label, qi, K, (unsigned long long)ex[0].id, ex[0].score,
                        (unsigned long long)bt[0].id, bt[0].score);
            }
        }
        fprintf(stderr, "  %s, %d thread%s: p50 %.2f ms, p99 %.2f ms, batch of 64 %.1f ms\n", label,
                o->threads[ti], o->threads[ti] > 1 ? "s" : "", row->p50, row->p99, row->b64);
    }
    free(ms);
    free(hits);
    free(nh);
    free(bf_top);
    free(bf_count);
    cw_gallery_destroy(g);
    return rc == 0 ? 0 : -1;
}

// ---- the FAISS phases ----

#ifdef CW_BENCH_FAISS
// The exact score of row `row` for a normalised query (to tell a tie from a wrong answer).
static float exact_score_of(const dataset_t *ds, const float *q_unit, size_t row)
{
    float x[CW_GALLERY_MAX_DIM];
    make_row(ds, row, x);
    normalise(x, ds->dim, x);
    double acc = 0.0;
    for (int i = 0; i < ds->dim; i++) {
        acc += (double)q_unit[i] * x[i];
    }
    return (float)acc;
}

// FAISS's answer to query qi against the exact one: FlatIP's top-1, SQ8's recall@K.
static void judge(const dataset_t *ds, peer_kind_t kind, const float *q_unit, int qi,
                  const cw_gallery_hit_t *exact, const int64_t *labels, row_t *row)
{
    const cw_gallery_hit_t *ex = exact + (size_t)qi * K;
    if (kind == PEER_FLAT_IP) {
        row->top1_n++;
        if ((uint64_t)labels[0] == ex[0].id) {
            row->top1_agree++;
        } else if (labels[0] >= 0 && exact_score_of(ds, q_unit + (size_t)qi * ds->dim,
                                                    (size_t)labels[0]) == ex[0].score) {
            row->top1_ties++; // equal float scores: the gallery keeps the smaller id
        } else {
            row->top1_wrong++;
            fprintf(stderr, "gallery_search: query %d: FAISS FlatIP top-1 %lld, gallery %llu\n", qi,
                    (long long)labels[0], (unsigned long long)ex[0].id);
        }
        return;
    }
    int found = 0;
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++) {
            found += labels[i] >= 0 && (uint64_t)labels[i] == ex[j].id;
        }
    }
    row->sq8_n++;
    row->sq8_recall += (double)found / K;
    row->sq8_top1 += (uint64_t)labels[0] == ex[0].id;
}

static void run_peer(const context_t *cx, const dataset_t *ds, peer_kind_t kind,
                     const float *q_unit, const cw_gallery_hit_t *exact, row_t *rows)
{
    const opts_t *o = cx->o;
    const int dim = ds->dim;
    const char *name = kind == PEER_FLAT_IP ? "FlatIP" : "SQ8";
    peer_index_t *p = NULL;
    float *chunk = malloc((size_t)CHUNK * dim * sizeof(float));
    float *train = NULL;
    int rc = chunk == NULL ? -1 : peer_create(kind, dim, ds->n, &p);
    double build_ms = 0.0;
    if (rc == 0 && kind == PEER_SQ8) {
        size_t nt = ds->n < TRAIN_ROWS ? ds->n : TRAIN_ROWS;
        train = malloc(nt * dim * sizeof(float));
        rc = train == NULL ? -1 : 0;
        if (rc == 0) {
            gen_rows(ds, 0, nt, train, 1, cx->gen);
            double t0 = now_ms();
            rc = peer_train(p, train, nt);
            build_ms += now_ms() - t0;
        }
        free(train);
    }
    for (size_t r0 = 0; r0 < ds->n && rc == 0; r0 += CHUNK) {
        size_t nr = ds->n - r0 < CHUNK ? ds->n - r0 : CHUNK;
        gen_rows(ds, r0, nr, chunk, 1, cx->gen);
        double t0 = now_ms();
        rc = peer_add(p, chunk, nr);
        build_ms += now_ms() - t0;
    }
    free(chunk);
    const int np = o->peer_queries;
    double *ms = malloc((size_t)(np > o->peer_batches ? np : o->peer_batches + 1) * sizeof(double));
    size_t rest = (size_t)(o->queries - np);
    size_t nlab = (size_t)K * (rest > BATCH ? rest : BATCH);
    float *scores = malloc(nlab * sizeof(float));
    int64_t *labels = malloc(nlab * sizeof(int64_t));
    if (ms == NULL || scores == NULL || labels == NULL) {
        rc = -1;
    }
    // One query: FAISS spreads a search over queries, never within one, so a single query
    // runs on one thread whatever the setting; it is timed with one OpenMP thread, which spares
    // it the barrier of an idle second thread, and the figure stands for every thread count.
    row_t *row = &rows[0];
    peer_set_threads(1);
    if (rc == 0) {
        rc = peer_search(p, q_unit, 1, K, scores, labels); // warm-up
    }
    for (int qi = 0; qi < np && rc == 0; qi++) {
        double t0 = now_ms();
        rc = peer_search(p, q_unit + (size_t)qi * dim, 1, K, scores, labels);
        ms[qi] = now_ms() - t0;
        if (rc == 0) {
            judge(ds, kind, q_unit, qi, exact, labels, row);
        }
    }
    double p50 = rc == 0 && np > 0 ? pct(ms, (size_t)np, 0.50) : NAN;
    // FlatIP's top-1 over every query: the ones not timed one by one go in one batch.
    peer_set_threads(o->threads[o->n_threads - 1]);
    if (rc == 0 && kind == PEER_FLAT_IP && rest > 0) {
        rc = peer_search(p, q_unit + (size_t)np * dim, rest, K, scores, labels);
        for (size_t i = 0; i < rest && rc == 0; i++) {
            judge(ds, kind, q_unit, np + (int)i, exact, labels + i * K, row);
        }
    }
    for (int ti = 0; ti < o->n_threads && rc == 0; ti++) {
        row_t *r = &rows[ti];
        peer_set_threads(o->threads[ti]);
        for (int b = 0; b < o->peer_batches && rc == 0; b++) {
            const float *bq = q_unit + (size_t)(o->queries + b * BATCH) * dim;
            double t0 = now_ms();
            rc = peer_search(p, bq, BATCH, K, scores, labels);
            ms[b] = now_ms() - t0;
        }
        double b64 = rc == 0 && o->peer_batches > 0 ? pct(ms, (size_t)o->peer_batches, 0.5) : NAN;
        if (kind == PEER_FLAT_IP) {
            r->have_flat = rc == 0 ? 1 : -1;
            r->flat_build_s = build_ms / 1e3;
            r->flat_p50 = p50;
            r->flat_b64 = b64;
            r->top1_n = row->top1_n;
            r->top1_agree = row->top1_agree;
            r->top1_ties = row->top1_ties;
            r->top1_wrong = row->top1_wrong;
        } else {
            r->have_sq8 = rc == 0 ? 1 : -1;
            r->sq8_build_s = build_ms / 1e3;
            r->sq8_p50 = p50;
            r->sq8_b64 = b64;
            r->sq8_n = row->sq8_n;
            r->sq8_recall = row->sq8_recall;
            r->sq8_top1 = row->sq8_top1;
        }
        if (rc == 0) {
            fprintf(stderr, "  FAISS %s: one query p50 %.2f ms", name, p50);
            if (!isnan(b64)) {
                fprintf(stderr, "; %d thread%s: batch of 64 %.1f ms", o->threads[ti],
                        o->threads[ti] > 1 ? "s" : "", b64);
            }
            if (kind == PEER_FLAT_IP) {
                fprintf(stderr, "; top-1 equal %d/%d\n", row->top1_agree + row->top1_ties,
                        row->top1_n);
            } else {
                fprintf(stderr, "; top-1 equal %d/%d, recall@%d %.3f\n", row->sq8_top1, row->sq8_n,
                        K, row->sq8_n > 0 ? row->sq8_recall / row->sq8_n : NAN);
            }
        }
    }
    if (rc != 0) {
        fprintf(stderr, "gallery_search: FAISS %s: %s\n", name,
                p != NULL ? peer_error() : "could not start (memory)");
        for (int ti = 0; ti < o->n_threads; ti++) {
            *(kind == PEER_FLAT_IP ? &rows[ti].have_flat : &rows[ti].have_sq8) = -1;
        }
    }
    free(ms);
    free(scores);
    free(labels);
    peer_destroy(p);
}
#endif

// ---- the table ----

static void print_table(const opts_t *o, const row_t *rows, int n_rows)
{
    printf("\n%-37s | %-85s | %-37s | %s\n", "", "clearway (exact top-10; GB/s = N x dpad / p50)",
           "FAISS IndexFlatIP", "FAISS SQ8");
    printf("%-9s %5s %4s %3s %6s %5s %6s %5s | %7s %7s %6s %5s %4s %7s %5s %7s %5s | %6s %7s "
           "%7s %6s %8s | %6s %7s %8s %5s %5s\n",
           "data", "N", "d", "thr", "build", "scan", "float", "rss", "p50", "p99", "GB/s", "bw",
           "%bw", "b64", "b64/1", "q/s", "exact", "build", "p50", "b64", "x", "top-1", "build",
           "p50", "b64", "x", "R@10");
    printf("%-9s %5s %4s %3s %6s %5s %6s %5s | %7s %7s %6s %5s %4s %7s %5s %7s %5s | %6s %7s "
           "%7s %6s %8s | %6s %7s %8s %5s %5s\n",
           "", "", "", "", "s", "xNd", "GiB", "GiB", "ms", "ms", "", "GB/s", "", "ms", "", "b64",
           "", "s", "ms", "ms", "", "", "s", "ms", "ms", "", "");
    for (int i = 0; i < n_rows; i++) {
        const row_t *r = &rows[i];
        char nbuf[32];
        fmt_count(r->n, nbuf, sizeof(nbuf));
        printf("%-9s %5s %4d %3d ", data_names[r->data], nbuf, r->dim, r->threads);
        if (r->skipped[0] != '\0') {
            printf("skipped: %s\n", r->skipped);
            continue;
        }
        char exact[16];
        if (r->checked > 0) {
            snprintf(exact, sizeof(exact), "%d/%d", r->exact, r->checked);
        } else {
            snprintf(exact, sizeof(exact), "-");
        }
        if (r->differs > 0) {
            snprintf(exact + strlen(exact), sizeof(exact) - strlen(exact), "!");
        }
        printf("%6.1f %5.2f %6.2f %5.2f | %7.2f %7.2f %6.1f %5.1f %3.0f%% %7.1f %5.1f %7.0f %5s | ",
               r->build_s, r->scan_x, r->float_gib, r->rss_gib, r->p50, r->p99, r->gbps, r->bw,
               100.0 * r->gbps / r->bw, r->b64, r->b64 / r->p50, BATCH * 1e3 / r->b64, exact);
        if (r->have_flat == 1) {
            char top1[24];
            snprintf(top1, sizeof(top1), "%d/%d", r->top1_agree + r->top1_ties, r->top1_n);
            char b64[16];
            ms_or_dash(b64, sizeof(b64), r->flat_b64);
            printf("%6.1f %7.1f %7s %5.1fx %8s | ", r->flat_build_s, r->flat_p50, b64,
                   r->flat_p50 / r->p50, top1);
        } else {
            printf("%-6s %7s %7s %6s %8s | ", r->have_flat < 0 ? "failed" : "-", "", "", "", "");
        }
        if (r->have_sq8 == 1) {
            char b64[16];
            ms_or_dash(b64, sizeof(b64), r->sq8_b64);
            printf("%6.1f %7.1f %8s %4.1fx %5.3f\n", r->sq8_build_s, r->sq8_p50, b64,
                   r->sq8_p50 / r->p50, r->sq8_n > 0 ? r->sq8_recall / r->sq8_n : NAN);
        } else {
            printf("%s\n", r->have_sq8 < 0 ? "failed" : "-");
        }
    }
    printf("build: time to add the N rows (generation not counted; SQ8 includes training on %d "
           "rows).\n",
           TRAIN_ROWS);
    printf("scan: cw_gallery_memory's scan bytes / (N x d); float: its float originals; rss: "
           "growth of the resident memory over the build.\n");
    printf("bw: read bandwidth with that many threads (the highest of the run). b64: median "
           "time of one batch of 64; b64/1: that over one query's p50.\n");
    printf("exact: top-10 equal to a brute-force float top-10 (ids and scores); '!': the "
           "answers changed with the thread count, or batched from single.\n");
    printf("FAISS p50: one query on one thread (FAISS parallelises over queries only), the same "
           "on every thread row; its b64 uses the row's threads.\n");
    printf("x: FAISS p50 / clearway p50. top-1: FlatIP's top-1 equal to clearway's, all %d "
           "queries (equal float scores count as equal).\n",
           o->queries);
    printf("R@10: SQ8's recall of the exact top-10 over the first %d queries.\n", o->peer_queries);
}

static void target(const char *what, int met, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void target(const char *what, int met, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("  %-44s %-58s %s\n", what, buf, met ? "met" : "MISSED");
}

// The targets, at N = 10M, d = 128, 2 threads (or the nearest configuration run).
static void print_targets(const opts_t *o, const row_t *rows, int n_rows)
{
    for (int data = 0; data < 2; data++) {
        const row_t *best = NULL;
        for (int i = 0; i < n_rows; i++) {
            const row_t *r = &rows[i];
            if (r->data != data || r->dim != 128 || r->skipped[0] != '\0') {
                continue;
            }
            if (best == NULL || r->n > best->n ||
                (r->n == best->n && r->threads > best->threads && best->threads != 2)) {
                best = r;
            }
        }
        if (best == NULL) {
            continue;
        }
        char nbuf[32];
        fmt_count(best->n, nbuf, sizeof(nbuf));
        int at_target = best->n == 10000000 && best->threads == 2;
        printf("\ntargets, %s data, N = %s, d = 128, %d thread%s%s:\n", data_names[data], nbuf,
               best->threads, best->threads > 1 ? "s" : "",
               at_target ? "" : " (NOT the target configuration N = 10M, 2 threads)");
        target("exact top-10 p50 <= 30 ms", best->p50 <= 30.0, "p50 %.2f ms", best->p50);
        double frac = best->gbps / best->bw;
        target("scan >= 85% of measured read bandwidth", frac >= 0.85, "%.1f of %.1f GB/s = %.0f%%",
               best->gbps, best->bw, 100.0 * frac);
        target("batch of 64 <= 3x one query", best->b64 <= 3.0 * best->p50,
               "%.1f ms = %.2fx of %.2f ms", best->b64, best->b64 / best->p50, best->p50);
        if (best->have_flat == 1) {
            target(">= 10x FAISS IndexFlatIP (single query)", best->flat_p50 >= 10.0 * best->p50,
                   "%.1f ms / %.2f ms = %.1fx", best->flat_p50, best->p50,
                   best->flat_p50 / best->p50);
            target("identical top-1 with FAISS IndexFlatIP", best->top1_wrong == 0,
                   "%d/%d equal (%d of them float ties)", best->top1_agree + best->top1_ties,
                   best->top1_n, best->top1_ties);
        } else {
            printf("  FAISS IndexFlatIP not measured (%s)\n", o->peer ? "failed" : "--no-peer");
        }
        if (best->have_sq8 == 1) {
            target(">= 2x FAISS SQ8 (single query)", best->sq8_p50 >= 2.0 * best->p50,
                   "%.1f ms / %.2f ms = %.1fx", best->sq8_p50, best->p50,
                   best->sq8_p50 / best->p50);
        } else {
            printf("  FAISS SQ8 not measured (%s)\n", o->peer ? "failed" : "--no-peer");
        }
        target("memory <= 1.15x compact templates", best->scan_x <= 1.15,
               "scan %.2f GiB = %.2fx N x d (floats %.2f GiB apart)", best->scan_gib, best->scan_x,
               best->float_gib);
        if (best->checked > 0 || best->differs > 0) {
            target("exact against brute force", best->exact == best->checked && !best->differs,
                   "%d/%d queries", best->exact, best->checked);
        }
    }
}

// ---- options ----

static int parse_count(const char *s, size_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end == 'K' || *end == 'k') {
        v *= 1e3;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1e6;
        end++;
    }
    if (end == s || (*end != '\0' && *end != ',') || !(v >= 1.0) || v > 4e9) {
        return -1;
    }
    *out = (size_t)(v + 0.5);
    return (int)(end - s);
}

static int parse_counts(const char *s, size_t *out, int max)
{
    int n = 0;
    while (*s != '\0' && n < max) {
        int len = parse_count(s, &out[n]);
        if (len < 0) {
            return -1;
        }
        n++;
        s += len;
        s += *s == ',';
    }
    return *s == '\0' ? n : -1;
}

static int parse_ints(const char *s, int *out, int max, int lo, int hi)
{
    size_t v[MAX_LIST];
    int n = parse_counts(s, v, max);
    for (int i = 0; i < n; i++) {
        if (v[i] < (size_t)lo || v[i] > (size_t)hi) {
            return -1;
        }
        out[i] = (int)v[i];
    }
    return n;
}

static int usage(int rc)
{
    printf("Usage: gallery_search [--n LIST] [--dims LIST] [--threads LIST] [--data LIST]\n"
           "                      [--queries Q] [--batches B] [--peer-queries P] "
           "[--peer-batches PB]\n"
           "                      [--verify V] [--verify-max-n N] [--bw-mib M] [--no-peer] "
           "[--quick]\n"
           "Defaults: --n 1M,5M,10M --dims 128,512 --threads 1,2 --data random,clustered\n"
           "  --queries 200 (single queries, half genuine probes, half strangers) --batches 10\n"
           "  --peer-queries 50 (FAISS answers these one at a time; FlatIP's top-1 is checked "
           "on all Q)\n"
           "  --peer-batches 1 --verify 8 (queries checked against brute force at N <= "
           "--verify-max-n 1M)\n"
           "  --bw-mib 1024 (read-bandwidth buffer). --quick: N = 100K, Q = 50, B = 3, P = 20.\n"
           "Configurations that would not fit in the available memory are skipped and say so.\n");
    return rc;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->ns[0] = 1000000;
    o->ns[1] = 5000000;
    o->ns[2] = 10000000;
    o->n_ns = 3;
    o->dims[0] = 128;
    o->dims[1] = 512;
    o->n_dims = 2;
    o->threads[0] = 1;
    o->threads[1] = 2;
    o->n_threads = 2;
    o->data[0] = DATA_RANDOM;
    o->data[1] = DATA_CLUSTERED;
    o->n_data = 2;
    o->queries = 200;
    o->batches = 10;
    o->peer_queries = 50;
    o->peer_batches = 1;
    o->verify = 8;
    o->verify_max_n = 1000000;
    o->bw_bytes = (size_t)1024 << 20;
    o->peer = 1;
    int set_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        size_t c = 0;
        if (strcmp(a, "--no-peer") == 0) {
            o->peer = 0;
            continue;
        }
        if (strcmp(a, "--quick") == 0) {
            if (!set_n) {
                o->ns[0] = 100000;
                o->n_ns = 1;
            }
            o->queries = 50;
            o->batches = 3;
            o->peer_queries = 20;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            return usage(0) - 1;
        }
        if (v == NULL) {
            return usage(2);
        }
        i++;
        if (strcmp(a, "--n") == 0) {
            o->n_ns = parse_counts(v, o->ns, MAX_LIST);
            ok = o->n_ns > 0;
            set_n = 1;
        } else if (strcmp(a, "--dims") == 0) {
            o->n_dims = parse_ints(v, o->dims, MAX_LIST, CW_GALLERY_MIN_DIM, CW_GALLERY_MAX_DIM);
            ok = o->n_dims > 0;
        } else if (strcmp(a, "--threads") == 0) {
            o->n_threads = parse_ints(v, o->threads, MAX_LIST, 1, 64);
            ok = o->n_threads > 0;
        } else if (strcmp(a, "--data") == 0) {
            o->n_data = 0;
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", v);
            for (char *t = strtok(buf, ","); t != NULL && ok; t = strtok(NULL, ",")) {
                ok = o->n_data < 2 && (strcmp(t, "random") == 0 || strcmp(t, "clustered") == 0);
                if (ok) {
                    o->data[o->n_data++] = strcmp(t, "random") == 0 ? DATA_RANDOM : DATA_CLUSTERED;
                }
            }
            ok = ok && o->n_data > 0;
        } else if (strcmp(a, "--queries") == 0) {
            ok = parse_count(v, &c) > 0 && c <= 100000;
            o->queries = (int)c;
        } else if (strcmp(a, "--batches") == 0) {
            ok = (strcmp(v, "0") == 0 || parse_count(v, &c) > 0) && c <= 10000;
            o->batches = (int)c;
        } else if (strcmp(a, "--peer-queries") == 0) {
            ok = parse_count(v, &c) > 0 && c <= 100000;
            o->peer_queries = (int)c;
        } else if (strcmp(a, "--peer-batches") == 0) {
            ok = (strcmp(v, "0") == 0 || parse_count(v, &c) > 0) && c <= 10000;
            o->peer_batches = (int)c;
        } else if (strcmp(a, "--verify") == 0) {
            ok = (strcmp(v, "0") == 0 || parse_count(v, &c) > 0) && c <= 1000;
            o->verify = (int)c;
        } else if (strcmp(a, "--verify-max-n") == 0) {
            ok = parse_count(v, &o->verify_max_n) > 0;
        } else if (strcmp(a, "--bw-mib") == 0) {
            ok = parse_count(v, &c) > 0 && c >= 64 && c <= 65536;
            o->bw_bytes = c << 20;
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "gallery_search: bad option %s %s\n", a, v);
            return usage(2);
        }
    }
    o->peer_queries = o->peer_queries < o->queries ? o->peer_queries : o->queries;
    o->verify = o->verify < o->queries ? o->verify : o->queries;
    return 0;
}

// ---- main ----

// Resident bytes a phase needs at most (the gallery: scan copy, per-row data, id index at its
// largest load, floats; FAISS: its codes), plus the generation chunk.
static double need_gib(int phase, size_t n, int dim)
{
    double dpad = (double)(((size_t)dim + 63) / 64 * 64);
    double chunk = (double)CHUNK * dim * sizeof(float) * 2;
    double b;
    if (phase == 0) {
        b = (double)n * (dpad + 4.0 * dim + 25.0 + 32.0);
    } else if (phase == 1) {
        b = (double)n * dim * sizeof(float);
    } else {
        b = (double)n * dim + (double)TRAIN_ROWS * dim * sizeof(float);
    }
    return (b + chunk) / (1024.0 * 1024.0 * 1024.0);
}

int main(int argc, char **argv)
{
    opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    char feat[256];
    char load[64];
    cw_cpu_describe(cw_cpu_features(), feat, sizeof(feat));
    const cw__gallery_kernels_t *kern = cw__gallery_kernels();
    printf("gallery_search: %s, %d CPUs, features: %s; gallery kernels: %s%s\n",
           cw_cpu_model_name(), cw_cpu_count(), feat[0] ? feat : "none",
           kern != NULL && kern->name != NULL ? kern->name : "?",
           cw_cpu_forced_scalar() ? " (CW_FORCE_SCALAR)" : "");
    loadavg(load, sizeof(load));
    printf("load average at start: %s; memory available %.1f GiB\n", load,
           meminfo_gib("MemAvailable"));

    context_t cx = {&o, NULL, NULL, NULL, NULL};
    cx.pools = calloc((size_t)o.n_threads, sizeof(cw_pool_t *));
    cx.bw = calloc((size_t)o.n_threads, sizeof(double));
    if (cx.pools == NULL || cx.bw == NULL || cw_pool_create(CW_POOL_AUTO, &cx.gen) != 0) {
        fprintf(stderr, "gallery_search: out of memory\n");
        return 1;
    }
    for (int ti = 0; ti < o.n_threads; ti++) {
        if (o.threads[ti] > 1 && cw_pool_create(o.threads[ti] - 1, &cx.pools[ti]) != 0) {
            fprintf(stderr, "gallery_search: cannot start %d threads\n", o.threads[ti]);
            return 1;
        }
    }

    // Read bandwidth, in the same run: best of 5 passes over a buffer far larger than the
    // caches, with each thread count; measured again before each configuration's searches and
    // at the end, and the highest figure is the one the scans are compared with.
    uint64_t *buf = malloc(o.bw_bytes);
    if (buf == NULL) {
        fprintf(stderr, "gallery_search: cannot allocate the %zu MiB bandwidth buffer\n",
                o.bw_bytes >> 20);
        return 1;
    }
    memset(buf, 1, o.bw_bytes);
    printf("read bandwidth (%zu MiB, best of 5):", o.bw_bytes >> 20);
    for (int ti = 0; ti < o.n_threads; ti++) {
        cx.bw[ti] = read_bandwidth(buf, o.bw_bytes, o.threads[ti], cx.pools[ti], 5);
        printf(" %d thread%s %.1f GB/s%s", o.threads[ti], o.threads[ti] > 1 ? "s" : "", cx.bw[ti],
               ti + 1 < o.n_threads ? "," : "\n");
    }
    cx.bw_buf = buf;
    for (int dd = 0; dd < o.n_dims; dd++) {
        size_t dpad = ((size_t)o.dims[dd] + 63) / 64 * 64;
        printf("int8 kernel alone (%s, GB/s of rows), dpad %zu:", kern->name, dpad);
        for (int ti = 0; ti < o.n_threads; ti++) {
            double one = kernel_rate(buf, o.bw_bytes, dpad, 1, o.threads[ti], cx.pools[ti]);
            double many =
                kernel_rate(buf, o.bw_bytes / 8, dpad, BATCH, o.threads[ti], cx.pools[ti]);
            printf(" %d thread%s: 1 query %.1f, %d queries %.3g (%.1f per query)%s", o.threads[ti],
                   o.threads[ti] > 1 ? "s" : "", one, BATCH, many, many * BATCH,
                   ti + 1 < o.n_threads ? ";" : "\n");
        }
    }
#ifdef CW_BENCH_FAISS
    char peer_desc[512];
    peer_describe(peer_desc, sizeof(peer_desc));
    printf("peer: %s\n", o.peer ? peer_desc : "off (--no-peer)");
#else
    printf("peer: not built (needs a C++ compiler, libfaiss-dev and libopenblas0-openmp)\n");
    o.peer = 0;
#endif
    printf("queries: %d single (half genuine probes near gallery rows, half strangers), %d "
           "batch%s of %d, top-%d; FAISS: the first %d single, %d batch%s; brute-force check "
           "of %d queries at N <= %zu\n",
           o.queries, o.batches, o.batches == 1 ? "" : "es", BATCH, K, o.peer_queries,
           o.peer_batches, o.peer_batches == 1 ? "" : "es", o.verify, o.verify_max_n);
    if (atof(load) >= 0.5) {
        printf("note: the machine is not idle (load average %.2f on %d CPUs): other work shares "
               "the cores and the memory bus, so every figure here is pessimistic\n",
               atof(load), cw_cpu_count());
    }
    fflush(stdout);

    int n_rows_max = o.n_data * o.n_ns * o.n_dims * o.n_threads;
    row_t *rows = calloc((size_t)n_rows_max, sizeof(row_t));
    int n_rows = 0;
    int nq_total = o.queries + o.batches * BATCH;
    if (nq_total < o.queries + o.peer_batches * BATCH) {
        nq_total = o.queries + o.peer_batches * BATCH;
    }
    for (int di = 0; di < o.n_data && rows != NULL; di++) {
        for (int dd = 0; dd < o.n_dims; dd++) {
            for (int ni = 0; ni < o.n_ns; ni++) {
                const int dim = o.dims[dd];
                dataset_t ds;
                row_t *cr = &rows[n_rows];
                n_rows += o.n_threads;
                for (int ti = 0; ti < o.n_threads; ti++) {
                    cr[ti].data = o.data[di];
                    cr[ti].n = o.ns[ni];
                    cr[ti].dim = dim;
                    cr[ti].threads = o.threads[ti];
                }
                double avail = meminfo_gib("MemAvailable");
                double need = need_gib(0, o.ns[ni], dim);
                if (need > avail - 1.0) {
                    for (int ti = 0; ti < o.n_threads; ti++) {
                        snprintf(cr[ti].skipped, sizeof(cr[ti].skipped),
                                 "needs %.1f GiB, %.1f GiB available", need, avail);
                    }
                    fprintf(stderr, "  %s N = %zu d = %d skipped: %s\n", data_names[o.data[di]],
                            o.ns[ni], dim, cr[0].skipped);
                    continue;
                }
                float *q_raw = malloc((size_t)nq_total * dim * sizeof(float));
                float *q_unit = malloc((size_t)nq_total * dim * sizeof(float));
                cw_gallery_hit_t *exact = calloc((size_t)o.queries * K, sizeof(*exact));
                if (dataset_init(&ds, o.data[di], o.ns[ni], dim) != 0 || q_raw == NULL ||
                    q_unit == NULL || exact == NULL) {
                    fprintf(stderr, "gallery_search: out of memory\n");
                    return 1;
                }
                for (int qi = 0; qi < nq_total; qi++) {
                    make_query(&ds, qi, q_raw + (size_t)qi * dim);
                    normalise(q_raw + (size_t)qi * dim, dim, q_unit + (size_t)qi * dim);
                }
                int ok = run_gallery(&cx, &ds, q_raw, q_unit, cr, exact) == 0;
                if (!ok) {
                    for (int ti = 0; ti < o.n_threads; ti++) {
                        snprintf(cr[ti].skipped, sizeof(cr[ti].skipped), "failed (see above)");
                    }
                }
#ifdef CW_BENCH_FAISS
                for (int kind = 0; kind < 2 && ok && o.peer; kind++) {
                    avail = meminfo_gib("MemAvailable");
                    need = need_gib(1 + kind, o.ns[ni], dim);
                    if (need > avail - 1.0) {
                        fprintf(stderr, "  FAISS %s skipped: needs %.1f GiB, %.1f available\n",
                                kind == 0 ? "FlatIP" : "SQ8", need, avail);
                        for (int ti = 0; ti < o.n_threads; ti++) {
                            *(kind == 0 ? &cr[ti].have_flat : &cr[ti].have_sq8) = -1;
                        }
                        continue;
                    }
                    run_peer(&cx, &ds, (peer_kind_t)kind, q_unit, exact, cr);
                }
#endif
                free(q_raw);
                free(q_unit);
                free(exact);
                dataset_free(&ds);
            }
        }
    }
    if (rows == NULL) {
        return 1;
    }
    // Bandwidth at the end; the highest figure of the run stands for every row.
    printf("\nread bandwidth at the end:");
    for (int ti = 0; ti < o.n_threads; ti++) {
        double bw = read_bandwidth(buf, o.bw_bytes, o.threads[ti], cx.pools[ti], 5);
        cx.bw[ti] = bw > cx.bw[ti] ? bw : cx.bw[ti];
        printf(" %d thread%s %.1f GB/s%s", o.threads[ti], o.threads[ti] > 1 ? "s" : "", bw,
               ti + 1 < o.n_threads ? "," : "; ");
    }
    printf("highest of the run (start, before each configuration, end):");
    for (int ti = 0; ti < o.n_threads; ti++) {
        printf(" %d thread%s %.1f GB/s%s", o.threads[ti], o.threads[ti] > 1 ? "s" : "", cx.bw[ti],
               ti + 1 < o.n_threads ? "," : "\n");
        for (int i = 0; i < n_rows; i++) {
            if (rows[i].threads == o.threads[ti]) {
                rows[i].bw = cx.bw[ti];
            }
        }
    }
    free(buf);
    print_table(&o, rows, n_rows);
    print_targets(&o, rows, n_rows);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    loadavg(load, sizeof(load));
    printf("\npeak resident memory %.2f GiB; load average at the end: %s\n",
           ru.ru_maxrss / (1024.0 * 1024.0), load);
    free(rows);
    for (int ti = 0; ti < o.n_threads; ti++) {
        cw_pool_destroy(cx.pools[ti]);
    }
    cw_pool_destroy(cx.gen);
    free(cx.pools);
    free(cx.bw);
    return 0;
}
