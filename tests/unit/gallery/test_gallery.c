// SPDX-License-Identifier: Apache-2.0
// Tests of the gallery: the top-k of every search equals a brute-force float search (random
// vectors, clustered "identities", adversarial near-ties at the k-th place, duplicates), with
// one thread and with a pool, single and batched; add/update/remove/compact keep the id index
// and the answers right; searches running while a writer updates never see a half-written row;
// bad input is refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/gallery.h"
#include "clearway/thread.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

// Standard normal (Box-Muller).
static double gauss(void)
{
    double u = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
    double v = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void normalise(float *v, int d)
{
    double s = 0.0;
    for (int i = 0; i < d; i++) {
        s += (double)v[i] * v[i];
    }
    for (int i = 0; i < d; i++) {
        v[i] = (float)(v[i] / sqrt(s));
    }
}

// Brute force over the float originals as the gallery normalises them, same tie rule.
typedef struct ref {
    int d;
    size_t n;
    float *v; // n x d, normalised
    uint64_t *id;
    int *alive;
} ref_t;

static void ref_top(const ref_t *r, const float *query, int k, cw_gallery_hit_t *out, int *n_out)
{
    float q[1024];
    memcpy(q, query, (size_t)r->d * sizeof(float));
    normalise(q, r->d);
    int n = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->alive[i]) {
            continue;
        }
        double acc = 0.0;
        for (int j = 0; j < r->d; j++) {
            acc += (double)q[j] * r->v[i * r->d + j];
        }
        cw_gallery_hit_t h = {r->id[i], (float)acc};
        // insertion into the sorted top-k
        int pos = n < k ? n : k;
        while (pos > 0 && (out[pos - 1].score < h.score ||
                           (out[pos - 1].score == h.score && out[pos - 1].id > h.id))) {
            if (pos < k) {
                out[pos] = out[pos - 1];
            }
            pos--;
        }
        if (pos < k) {
            out[pos] = h;
            if (n < k) {
                n++;
            }
        }
    }
    *n_out = n;
}

static void expect_same(const cw_gallery_hit_t *a, int na, const cw_gallery_hit_t *b, int nb)
{
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        if (a[i].id != b[i].id || a[i].score != b[i].score) {
            fail_msg("rank %d: gallery id %llu score %.9g, brute force id %llu score %.9g", i,
                     (unsigned long long)a[i].id, (double)a[i].score, (unsigned long long)b[i].id,
                     (double)b[i].score);
        }
    }
}

static cw_gallery_t *make(int d, ref_t *r, size_t n, int clustered, int near_ties)
{
    cw_gallery_config_t cfg = {(uint32_t)d, 1, 1, 1, 0};
    cw_gallery_t *g;
    assert_int_equal(cw_gallery_create(&cfg, &g), 0);
    r->d = d;
    r->n = n;
    r->v = malloc(n * (size_t)d * sizeof(float));
    r->id = malloc(n * sizeof(uint64_t));
    r->alive = malloc(n * sizeof(int));
    int n_ids = clustered ? (int)(n / 8) + 1 : 0;
    float *centres = clustered ? malloc((size_t)n_ids * d * sizeof(float)) : NULL;
    for (int c = 0; c < n_ids; c++) {
        for (int j = 0; j < d; j++) {
            centres[(size_t)c * d + j] = (float)gauss();
        }
        normalise(centres + (size_t)c * d, d);
    }
    for (size_t i = 0; i < n; i++) {
        float *v = r->v + i * d;
        if (near_ties && i > 0 && i % 3 == 0) {
            // A near-copy of an earlier row: a last-bit nudge, so scores tie or nearly tie.
            memcpy(v, r->v + (i - 1) * d, (size_t)d * sizeof(float));
            v[rnd() % (uint64_t)d] *= 1.0f + 1e-6f * (float)(rnd() % 3);
        } else if (clustered) {
            const float *c = centres + (size_t)(rnd() % (uint64_t)n_ids) * d;
            for (int j = 0; j < d; j++) {
                v[j] = c[j] + 0.35f / sqrtf((float)d) * (float)gauss();
            }
        } else {
            for (int j = 0; j < d; j++) {
                v[j] = (float)gauss();
            }
        }
        normalise(v, d);
        r->id[i] = (rnd() >> 20) * 1000 + i; // unique, not in insertion order
        r->alive[i] = 1;
        assert_int_equal(cw_gallery_add(g, r->id[i], v), 0);
    }
    free(centres);
    assert_int_equal(cw_gallery_count(g), n);
    return g;
}

static void ref_free(ref_t *r)
{
    free(r->v);
    free(r->id);
    free(r->alive);
}

// Queries near gallery rows (probes of enrolled people) and random ones (strangers).
static void make_query(const ref_t *r, float *q)
{
    if (rnd() % 2) {
        const float *base = r->v + (rnd() % r->n) * r->d;
        for (int j = 0; j < r->d; j++) {
            q[j] = base[j] + 0.3f / sqrtf((float)r->d) * (float)gauss();
        }
    } else {
        for (int j = 0; j < r->d; j++) {
            q[j] = (float)gauss();
        }
    }
}

static void check_searches(cw_gallery_t *g, const ref_t *r, int n_queries, cw_pool_t *pool)
{
    static const int ks[] = {1, 3, 10, 50};
    float *q = malloc((size_t)n_queries * r->d * sizeof(float));
    cw_gallery_hit_t want[64];
    cw_gallery_hit_t *got = malloc((size_t)n_queries * 50 * sizeof(cw_gallery_hit_t));
    int *n_got = malloc((size_t)n_queries * sizeof(int));
    for (int i = 0; i < n_queries; i++) {
        make_query(r, q + (size_t)i * r->d);
    }
    for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
        int k = ks[t];
        // One by one.
        for (int i = 0; i < n_queries; i++) {
            int nw;
            ref_top(r, q + (size_t)i * r->d, k, want, &nw);
            assert_int_equal(cw_gallery_search(g, q + (size_t)i * r->d, k, pool, got, &n_got[0]),
                             0);
            expect_same(got, n_got[0], want, nw);
        }
        // Batched.
        assert_int_equal(cw_gallery_search_batch(g, q, n_queries, k, pool, got, n_got), 0);
        for (int i = 0; i < n_queries; i++) {
            int nw;
            ref_top(r, q + (size_t)i * r->d, k, want, &nw);
            expect_same(got + (size_t)i * k, n_got[i], want, nw);
        }
    }
    free(q);
    free(got);
    free(n_got);
}

static void test_exact_random_and_clustered(void **state)
{
    (void)state;
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(2, &pool), 0);
    static const int dims[] = {64, 128, 200, 512};
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
        for (int clustered = 0; clustered < 2; clustered++) {
            ref_t r;
            // Big enough for several scan blocks and for the pool to split the rows.
            cw_gallery_t *g = make(dims[di], &r, 9000, clustered, 0);
            check_searches(g, &r, 8, NULL);
            check_searches(g, &r, 4, pool);
            cw_gallery_destroy(g);
            ref_free(&r);
        }
    }
    cw_pool_destroy(pool);
}

static void test_exact_near_ties(void **state)
{
    (void)state;
    // Every third row is a near-copy of its neighbour: the k-th place is contested by rows whose
    // scores differ in the last bits, far below the int8 error bound. The search must widen
    // until it can prove the answer, and ties go to the smaller id.
    ref_t r;
    cw_gallery_t *g = make(128, &r, 6000, 1, 1);
    check_searches(g, &r, 16, NULL);
    // Exact duplicates: a query equal to a duplicated row returns both, smaller id first.
    float v[128];
    memcpy(v, r.v, sizeof(v));
    assert_int_equal(cw_gallery_add(g, 1, v), 0);
    assert_int_equal(cw_gallery_add(g, 2, v), 0);
    cw_gallery_hit_t hits[3];
    int n;
    assert_int_equal(cw_gallery_search(g, v, 3, NULL, hits, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].id, 1);
    assert_int_equal(hits[1].id, 2);
    assert_true(hits[0].score == hits[1].score && hits[1].score == hits[2].score);
    cw_gallery_destroy(g);
    ref_free(&r);
}

// A plateau: thousands of rows whose exact scores against the query climb in steps of 2e-7, far
// finer than the int8 error (about 6e-4 typical, 1e-2 at worst), so the int8 order of the top rows
// is mostly noise. The first pass keeps the wrong rows and must notice it (its proof cannot hold)
// and widen; a search that trusted a bound smaller than the true int8 error would return the wrong
// top-k.
static void test_exact_plateau(void **state)
{
    (void)state;
    enum { D = 128, N = 5000 };
    cw_gallery_config_t cfg = {D, 1, 1, 1, 0};
    cw_gallery_t *g;
    assert_int_equal(cw_gallery_create(&cfg, &g), 0);
    ref_t r = {D, N, malloc((size_t)N * D * sizeof(float)), malloc(N * sizeof(uint64_t)),
               malloc(N * sizeof(int))};
    float q[D];
    for (int j = 0; j < D; j++) {
        q[j] = (float)gauss();
    }
    normalise(q, D);
    for (size_t i = 0; i < N; i++) {
        // x = c q + sqrt(1 - c^2) u with u a unit vector orthogonal to q: x . q = c.
        double c = 0.55 + 2e-7 * (double)((i * 2654435761u) % N); // climbing, shuffled order
        float *v = r.v + i * D;
        double dot = 0.0;
        for (int j = 0; j < D; j++) {
            v[j] = (float)gauss();
            dot += (double)v[j] * q[j];
        }
        for (int j = 0; j < D; j++) {
            v[j] = (float)(v[j] - dot * q[j]);
        }
        normalise(v, D);
        for (int j = 0; j < D; j++) {
            v[j] = (float)(c * q[j] + sqrt(1.0 - c * c) * v[j]);
        }
        normalise(v, D);
        r.id[i] = 1000000 + i;
        r.alive[i] = 1;
        assert_int_equal(cw_gallery_add(g, r.id[i], v), 0);
    }
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(2, &pool), 0);
    static const int ks[] = {1, 10, 100};
    cw_gallery_hit_t want[100];
    cw_gallery_hit_t got[100];
    for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
        int nw;
        int ng;
        ref_top(&r, q, ks[t], want, &nw);
        assert_int_equal(cw_gallery_search(g, q, ks[t], NULL, got, &ng), 0);
        expect_same(got, ng, want, nw);
        assert_int_equal(cw_gallery_search(g, q, ks[t], pool, got, &ng), 0);
        expect_same(got, ng, want, nw);
    }
    cw_pool_destroy(pool);
    cw_gallery_destroy(g);
    ref_free(&r);
}

static void test_update_remove_compact(void **state)
{
    (void)state;
    ref_t r;
    cw_gallery_t *g = make(128, &r, 5000, 0, 0);
    float v[128];
    // Remove every fifth row, update every seventh.
    for (size_t i = 0; i < r.n; i++) {
        if (i % 5 == 0) {
            assert_int_equal(cw_gallery_remove(g, r.id[i]), 0);
            r.alive[i] = 0;
        } else if (i % 7 == 0) {
            for (int j = 0; j < 128; j++) {
                v[j] = (float)gauss();
            }
            normalise(v, 128);
            memcpy(r.v + i * 128, v, sizeof(v));
            assert_int_equal(cw_gallery_update(g, r.id[i], v), 0);
        }
    }
    assert_int_equal(cw_gallery_count(g), 4000);
    check_searches(g, &r, 10, NULL);
    assert_int_equal(cw_gallery_compact(g), 0);
    assert_int_equal(cw_gallery_count(g), 4000);
    check_searches(g, &r, 10, NULL);
    // Ids behave after compaction: removed ones are gone, others still updatable.
    assert_int_equal(cw_gallery_remove(g, r.id[0]), CW_ENOENT);
    assert_int_equal(cw_gallery_update(g, r.id[1], v), 0);
    assert_int_equal(cw_gallery_add(g, r.id[2], v), CW_EEXIST);
    assert_int_equal(cw_gallery_add(g, r.id[0], v), 0); // a removed id may come back
    cw_gallery_destroy(g);
    ref_free(&r);
}

static void test_bad_input(void **state)
{
    (void)state;
    cw_gallery_config_t cfg = {63, 1, 1, 1, 0};
    cw_gallery_t *g = (cw_gallery_t *)1;
    assert_int_equal(cw_gallery_create(&cfg, &g), CW_EINVAL);
    assert_null(g);
    cfg.dim = 1025;
    assert_int_equal(cw_gallery_create(&cfg, &g), CW_EINVAL);
    cfg.dim = 64;
    assert_int_equal(cw_gallery_create(&cfg, &g), 0);
    float v[64] = {0};
    cw_gallery_hit_t hits[4];
    int n = -1;
    // Empty gallery: no hits, not an error.
    v[0] = 1.0f;
    assert_int_equal(cw_gallery_search(g, v, 4, NULL, hits, &n), 0);
    assert_int_equal(n, 0);
    v[0] = 0.0f;
    assert_int_equal(cw_gallery_add(g, 7, v), CW_EINVAL); // zero vector
    v[3] = NAN;
    assert_int_equal(cw_gallery_add(g, 7, v), CW_EINVAL);
    v[3] = INFINITY;
    assert_int_equal(cw_gallery_search(g, v, 1, NULL, hits, &n), CW_EINVAL);
    v[3] = 1.0f;
    assert_int_equal(cw_gallery_add(g, 7, v), 0);
    assert_int_equal(cw_gallery_add(g, 7, v), CW_EEXIST);
    assert_int_equal(cw_gallery_update(g, 8, v), CW_ENOENT);
    assert_int_equal(cw_gallery_search(g, v, 0, NULL, hits, &n), CW_EINVAL);
    assert_int_equal(cw_gallery_search(g, v, CW_GALLERY_MAX_K + 1, NULL, hits, &n), CW_EINVAL);
    // k larger than N: all rows.
    assert_int_equal(cw_gallery_search(g, v, 4, NULL, hits, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].id, 7);
    assert_true(fabsf(hits[0].score - 1.0f) < 1e-6f);
    cw_gallery_destroy(g);
    cw_gallery_destroy(NULL);
}

// ---- concurrency: searches while a writer flips rows between two known templates ----
// Run under ThreadSanitizer by the tsan preset (.ci/run) as well as in the ordinary builds.

enum { RACE_ROWS = 9000 }; // several scan blocks, and enough rows for a pool to split them

typedef struct race {
    cw_gallery_t *g;
    float a[128], b[128];
    float ab; // the score between a and b
    atomic_int stop;
    atomic_int bad;
    atomic_int searches;
} race_t;

static void *writer(void *arg)
{
    race_t *rc = arg;
    for (int it = 0; it < 3000 && !atomic_load(&rc->stop); it++) {
        uint64_t id = 1000 + (uint64_t)(it % RACE_ROWS);
        cw_gallery_update(rc->g, id, (it / 50) % 2 ? rc->b : rc->a);
        if (it % 10 == 0) {
            // New rows: the arrays grow (and move) while searches run.
            cw_gallery_add(rc->g, 100000 + (uint64_t)it, it % 20 ? rc->a : rc->b);
        }
        if (it % 500 == 250) {
            cw_gallery_remove(rc->g, 5000);
            cw_gallery_add(rc->g, 5000, rc->a);
            cw_gallery_compact(rc->g);
        }
    }
    return NULL;
}

static void *reader(void *arg)
{
    race_t *rc = arg;
    cw_pool_t *pool = NULL;
    if (cw_pool_create(1, &pool) != 0) {
        atomic_fetch_add(&rc->bad, 1);
        return NULL;
    }
    cw_gallery_hit_t hits[60];
    for (int it = 0; it < 200; it++) {
        int n;
        if (cw_gallery_search(rc->g, it % 2 ? rc->a : rc->b, 60, it % 3 ? pool : NULL, hits, &n) !=
            0) {
            atomic_fetch_add(&rc->bad, 1);
            continue;
        }
        // Every row holds a or b (never a blend): each score is one of the two exact values.
        for (int i = 0; i < n; i++) {
            float s = hits[i].score;
            if (!(fabsf(s - 1.0f) < 1e-5f || fabsf(s - rc->ab) < 1e-5f)) {
                atomic_fetch_add(&rc->bad, 1);
            }
        }
        atomic_fetch_add(&rc->searches, 1);
    }
    cw_pool_destroy(pool);
    return NULL;
}

static void test_concurrent_search_and_update(void **state)
{
    (void)state;
    cw_gallery_config_t cfg = {128, 1, 1, 1, 0};
    static race_t rc;
    memset(&rc, 0, sizeof(rc));
    assert_int_equal(cw_gallery_create(&cfg, &rc.g), 0);
    for (int j = 0; j < 128; j++) {
        rc.a[j] = (float)gauss();
        rc.b[j] = (float)gauss();
    }
    normalise(rc.a, 128);
    normalise(rc.b, 128);
    double ab = 0.0;
    for (int j = 0; j < 128; j++) {
        ab += (double)rc.a[j] * rc.b[j];
    }
    rc.ab = (float)ab;
    for (uint64_t id = 1000; id < 1000 + RACE_ROWS; id++) {
        assert_int_equal(cw_gallery_add(rc.g, id, id % 2 ? rc.a : rc.b), 0);
    }
    size_t before = cw_gallery_count(rc.g);
    pthread_t w;
    pthread_t r[2];
    assert_int_equal(pthread_create(&w, NULL, writer, &rc), 0);
    assert_int_equal(pthread_create(&r[0], NULL, reader, &rc), 0);
    assert_int_equal(pthread_create(&r[1], NULL, reader, &rc), 0);
    pthread_join(r[0], NULL);
    pthread_join(r[1], NULL);
    atomic_store(&rc.stop, 1);
    pthread_join(w, NULL);
    assert_int_equal(atomic_load(&rc.bad), 0);
    assert_int_equal(atomic_load(&rc.searches), 400);
    assert_true(cw_gallery_count(rc.g) > before); // the writer's adds landed
    cw_gallery_destroy(rc.g);
}

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_snapshot_round_trip_and_corruption(void **state)
{
    (void)state;
    ref_t r;
    cw_gallery_t *g = make(128, &r, 3000, 1, 0);
    assert_int_equal(cw_gallery_remove(g, r.id[5]), 0); // removed rows are not saved
    r.alive[5] = 0;
    char dir[] = "/tmp/cw-gallery-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/g.snap", dir);
    char diag[256];
    assert_int_equal(cw_gallery_save(g, path, diag, sizeof(diag)), 0);
    cw_gallery_t *h;
    assert_int_equal(cw_gallery_load(path, &h, diag, sizeof(diag)), 0);
    assert_int_equal(cw_gallery_count(h), 2999);
    cw_gallery_config_t c;
    cw_gallery_config(h, &c);
    assert_int_equal(c.dim, 128);
    assert_int_equal(c.model_id, 1);
    check_searches(h, &r, 10, NULL);

    // Read the file back and damage it in the ways a disk or a person would.
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    assert_int_equal(fread(buf, 1, len, f), len);
    fclose(f);
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/bad.snap", dir);
    cw_gallery_t *x = (cw_gallery_t *)1;
    struct {
        size_t at;
        uint8_t xor_with;
        size_t cut; // 0: keep length
        int want;
        const char *diag;
    } cases[] = {
        {200, 0x01, 0, CW_ECORRUPT, "checksum"},        // a payload bit
        {0, 0x20, 0, CW_EFORMAT, "magic"},              // the magic
        {8, 0x02, 0, CW_EUNSUPPORTED, "version"},       // the format version
        {13, 0xff, 0, CW_EFORMAT, "dimension"},         // the dimension
        {33, 0x01, 0, CW_EFORMAT, "disagree"},          // the count
        {0, 0x00, len - 100, CW_ECORRUPT, "truncated"}, // cut short
        {0, 0x00, 50, CW_EFORMAT, "too short"},         // shorter than a header
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        copy[cases[i].at] ^= cases[i].xor_with;
        write_bytes(bad, copy, cases[i].cut ? cases[i].cut : len);
        free(copy);
        diag[0] = '\0';
        assert_int_equal(cw_gallery_load(bad, &x, diag, sizeof(diag)), cases[i].want);
        assert_null(x);
        if (strstr(diag, cases[i].diag) == NULL) {
            fail_msg("case %zu: diagnostic '%s' lacks '%s'", i, diag, cases[i].diag);
        }
    }
    snprintf(bad, sizeof(bad), "%s/none.snap", dir);
    assert_int_equal(cw_gallery_load(bad, &x, diag, sizeof(diag)), CW_ENOENT);
    // Saving over an existing snapshot replaces it whole (write to a temporary, rename).
    assert_int_equal(cw_gallery_save(h, path, diag, sizeof(diag)), 0);
    free(buf);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cw_gallery_destroy(h);
    cw_gallery_destroy(g);
    ref_free(&r);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    float v[64];
    for (int nth = 1; nth < 200; nth++) {
        cw_alloc_counting_install();
        cw_alloc_fail_nth(nth);
        cw_gallery_config_t cfg = {64, 1, 1, 1, 0};
        cw_gallery_t *g = NULL;
        int rc = cw_gallery_create(&cfg, &g);
        for (int i = 0; rc == 0 && i < 3000; i++) {
            for (int j = 0; j < 64; j++) {
                v[j] = (float)gauss();
            }
            rc = cw_gallery_add(g, (uint64_t)i, v);
        }
        cw_gallery_hit_t hits[5];
        int n;
        if (rc == 0) {
            rc = cw_gallery_search(g, v, 5, NULL, hits, &n);
        }
        if (rc == 0) {
            // Compaction that fails leaves the gallery as it was: 2999 rows, id 7 gone.
            assert_int_equal(cw_gallery_remove(g, 7), 0);
            rc = cw_gallery_compact(g);
            assert_int_equal(cw_gallery_count(g), 2999);
            assert_int_equal(cw_gallery_remove(g, 7), CW_ENOENT);
        }
        cw_alloc_fail_nth(0);
        if (g != NULL) {
            // After a failure the gallery is still consistent and searchable.
            assert_int_equal(cw_gallery_search(g, v, 5, NULL, hits, &n), 0);
        }
        cw_gallery_destroy(g);
        cw_alloc_stats_t st;
        cw_alloc_counting_stats(&st);
        cw_alloc_counting_uninstall();
        assert_int_equal(st.live_blocks, 0);
        if (st.failures == 0) {
            break;
        }
        assert_true(rc == 0 || rc == CW_ENOMEM);
    }
}

// An optional argument selects tests by name (a glob): the tsan preset runs only the concurrency
// test, the rest being single-threaded and slow under ThreadSanitizer.
int main(int argc, char **argv)
{
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_random_and_clustered),
        cmocka_unit_test(test_exact_near_ties),
        cmocka_unit_test(test_exact_plateau),
        cmocka_unit_test(test_update_remove_compact),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_concurrent_search_and_update),
        cmocka_unit_test(test_snapshot_round_trip_and_corruption),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
