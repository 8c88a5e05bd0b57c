// SPDX-License-Identifier: Apache-2.0
// The gallery: rows (id, int8 scan copy with its scale, float original), per-block bounds, an id
// index, and exact top-k search.
//
// Exactness: a row's int8 score a differs from its float score s by at most
// B = e_x + e_q (1 + e_x), where e_x = ||x - x'|| and e_q = ||q - q'|| are the quantisation
// errors of the (unit) row and query (|q.x - q'.x'| <= ||q|| ||x - x'|| + ||q - q'|| ||x'||);
// e_x is bounded by its block's largest error. The scan keeps the best `width` rows by a: it
// collects rows into a buffer of twice that and, when it fills, cuts it back to the best width
// (quickselect); the width-th best a at the last cut is the bar h, which only rises. Every row
// not kept scored at most h, so none of them can score above h + B in float. After re-ranking
// the kept rows by s, the answer is proven exact when that bound is below the k-th exact score;
// otherwise the search widens and runs again. Tests check it against a brute-force float
// search, adversarial near-ties and plateaus included.
//
// Speed: once there is a bar, the kernels' find_pass compares every row's d x scale with h over
// the query's scale, sixteen rows per instruction, and only the rows at or above it (the few
// that can still enter the kept set) are scored one by one. The scan then runs at about the
// speed of the dot-product kernel itself.
#define _GNU_SOURCE // pthread_rwlockattr_setkind_np: writers must not starve behind searches
#include "clearway/gallery.h"
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "gallery_internal.h"
#include "kernels/kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// Row-block size of the scan: the int32 dot products of one block stay in L1.
enum { BLOCK = CW__GALLERY_BLOCK };

// ---- id index: open addressing, linear probing; slot values are row + 1, 0 = empty, -1 = gone

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

#define SLOT_EMPTY 0u
#define SLOT_GONE UINT32_MAX

static size_t n_blocks(size_t rows)
{
    return (rows + CW__GALLERY_BLOCK - 1) / CW__GALLERY_BLOCK;
}

// The index slot an id hashes to: multiply-shift maps the hash onto [0, index_cap) for any
// capacity, so the index can be sized to its load rather than to a power of two.
static size_t index_home(size_t cap, uint64_t id)
{
    __extension__ typedef unsigned __int128 u128;
    return (size_t)(((u128)mix64(id) * cap) >> 64);
}

static int index_find(const cw_gallery_t *g, uint64_t id, size_t *pos)
{
    if (g->index_cap == 0) {
        return -1;
    }
    for (size_t i = index_home(g->index_cap, id);; i = i + 1 == g->index_cap ? 0 : i + 1) {
        uint32_t v = g->index[i];
        if (v == SLOT_EMPTY) {
            return -1;
        }
        if (v != SLOT_GONE && g->ids[v - 1] == id) {
            *pos = i;
            return 0;
        }
    }
}

static void index_put(uint32_t *idx, size_t cap, uint64_t id, size_t row)
{
    size_t i = index_home(cap, id);
    while (idx[i] != SLOT_EMPTY) {
        i = i + 1 == cap ? 0 : i + 1;
    }
    idx[i] = (uint32_t)(row + 1);
}

static int index_rebuild(cw_gallery_t *g, size_t cap)
{
    uint32_t *idx = cw_calloc(cap, sizeof(uint32_t));
    if (idx == NULL) {
        return CW_ENOMEM;
    }
    for (size_t r = 0; r < g->n_rows; r++) {
        if (g->scale[r] != 0.0f) {
            index_put(idx, cap, g->ids[r], r);
        }
    }
    cw_free(g->index);
    g->index = idx;
    g->index_cap = cap;
    g->index_used = g->n_live;
    return 0;
}

// Load factors of the index: rebuilt at INDEX_MAX (tombstones included) to INDEX_FILL, sized
// for the larger of the live ids and the row capacity, so that building a gallery whose capacity
// was given rebuilds it once. About 4 / 0.7 = 5.7 bytes per row: with linear probing a lookup
// of a missing id at 0.8 load reads about 13 slots, a few cache lines, and adds and updates are
// not the hot path. (At a load of 1/2 the index alone would be 6% of a 128-d gallery's scan copy.)
#define INDEX_MAX 0.8
#define INDEX_FILL 0.7

// Room in the index for one more id.
static int index_reserve(cw_gallery_t *g)
{
    if ((double)(g->index_used + 1) <= INDEX_MAX * (double)g->index_cap) {
        return 0;
    }
    size_t want = g->n_live + 1 > g->cap ? g->n_live + 1 : g->cap;
    size_t cap = (size_t)((double)want / INDEX_FILL) + 1;
    return index_rebuild(g, cap < 64 ? 64 : cap);
}

static void index_insert(cw_gallery_t *g, uint64_t id, size_t row)
{
    index_put(g->index, g->index_cap, id, row);
    g->index_used++;
}

// ---- rows ----

// Reallocate the row arrays to exactly cap rows (cap >= n_rows).
static int resize(cw_gallery_t *g, size_t cap)
{
    size_t qbytes;
    size_t fbytes;
    if (cw_size_mul(cap, g->dpad, &qbytes) != 0 ||
        cw_size_mul(cap, (size_t)g->cfg.dim * sizeof(float), &fbytes) != 0) {
        return CW_EOVERFLOW;
    }
    size_t nb = n_blocks(cap);
    int8_t *q = cw_aligned_alloc(64, qbytes > 0 ? qbytes : 64);
    float *f = cw_malloc(fbytes > 0 ? fbytes : 1);
    float *scale = cw_malloc(cap * sizeof(float) + 1);
    uint64_t *ids = cw_malloc(cap * sizeof(uint64_t) + 1);
    float *berr = cw_calloc(nb + 1, sizeof(float));
    if (q == NULL || f == NULL || scale == NULL || ids == NULL || berr == NULL) {
        cw_aligned_free(q);
        cw_free(f);
        cw_free(scale);
        cw_free(ids);
        cw_free(berr);
        return CW_ENOMEM;
    }
    size_t n = g->n_rows;
    if (n > 0) {
        memcpy(q, g->q, n * g->dpad);
        memcpy(f, g->f, n * (size_t)g->cfg.dim * sizeof(float));
        memcpy(scale, g->scale, n * sizeof(float));
        memcpy(ids, g->ids, n * sizeof(uint64_t));
        memcpy(berr, g->berr, n_blocks(n) * sizeof(float));
    }
    cw__gallery_free_rows(g);
    g->q = q;
    g->f = f;
    g->scale = scale;
    g->ids = ids;
    g->berr = berr;
    g->cap = cap;
    return 0;
}

// Room for need rows: by half again at a time (a gallery given its capacity never grows).
static int grow(cw_gallery_t *g, size_t need)
{
    if (need <= g->cap) {
        return 0;
    }
    if (need > CW__GALLERY_MAX_ROWS) {
        return CW_EOVERFLOW;
    }
    size_t cap = g->cap + g->cap / 2;
    cap = cap < 1024 ? 1024 : cap;
    cap = cap < need ? need : cap;
    return resize(g, cap < CW__GALLERY_MAX_ROWS ? cap : CW__GALLERY_MAX_ROWS);
}

void cw__gallery_free_rows(cw_gallery_t *g)
{
    // Templates are biometric data: wipe before freeing.
    if (g->q != NULL) {
        cw_memzero(g->q, g->cap * g->dpad);
        cw_aligned_free(g->q);
    }
    cw_free_wipe(g->f, g->cap * (size_t)g->cfg.dim * sizeof(float));
    cw_free(g->scale);
    cw_free(g->ids);
    cw_free(g->berr);
    g->q = NULL;
    g->f = NULL;
    g->scale = NULL;
    g->ids = NULL;
    g->berr = NULL;
}

int cw__gallery_normalise(const float *v, uint32_t dim, float *out)
{
    double ss = 0.0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i])) {
            return CW_EINVAL;
        }
        ss += (double)v[i] * v[i];
    }
    if (!(ss > 1e-30) || !isfinite(ss)) {
        return CW_EINVAL;
    }
    double inv = 1.0 / sqrt(ss);
    for (uint32_t i = 0; i < dim; i++) {
        out[i] = (float)(v[i] * inv);
    }
    return 0;
}

// ||x - q * s||, rounded up a little: the bound must hold despite float rounding in the scores.
static float quant_err(const float *x, const int8_t *q, float s, uint32_t dim)
{
    double e = 0.0;
    for (uint32_t i = 0; i < dim; i++) {
        double d = (double)x[i] - (double)q[i] * s;
        e += d * d;
    }
    return (float)(sqrt(e) * (1.0 + 1e-6) + 1e-6);
}

void cw__gallery_quantise(const float *x, uint32_t dim, size_t dpad, int8_t *q, float *scale,
                          float *err)
{
    float maxabs = 0.0f;
    for (uint32_t i = 0; i < dim; i++) {
        maxabs = fmaxf(maxabs, fabsf(x[i]));
    }
    float s = maxabs / 127.0f;
    for (uint32_t i = 0; i < dim; i++) {
        long v = lrintf(x[i] / s);
        v = v > 127 ? 127 : (v < -127 ? -127 : v);
        q[i] = (int8_t)v;
    }
    memset(q + dim, 0, dpad - dim);
    *scale = s;
    *err = quant_err(x, q, s, dim);
}

// Write row r from the normalised template x.
static void put_row(cw_gallery_t *g, size_t r, uint64_t id, const float *x)
{
    float err;
    cw__gallery_quantise(x, g->cfg.dim, g->dpad, g->q + r * g->dpad, &g->scale[r], &err);
    memcpy(g->f + r * g->cfg.dim, x, g->cfg.dim * sizeof(float));
    g->ids[r] = id;
    size_t b = r / CW__GALLERY_BLOCK;
    g->berr[b] = fmaxf(g->berr[b], err);
}

int cw__gallery_init(cw_gallery_t *g, const cw_gallery_config_t *cfg)
{
    if (cfg == NULL || cfg->dim < CW_GALLERY_MIN_DIM || cfg->dim > CW_GALLERY_MAX_DIM) {
        return CW_EINVAL;
    }
    memset(g, 0, sizeof(*g));
    g->cfg = *cfg;
    g->dpad = ((size_t)cfg->dim + 63) / 64 * 64;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&g->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc == 0 ? 0 : CW_ENOMEM;
}

int cw_gallery_create(const cw_gallery_config_t *cfg, cw_gallery_t **out)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    *out = NULL;
    cw_gallery_t *g = cw_calloc(1, sizeof(*g));
    if (g == NULL) {
        return CW_ENOMEM;
    }
    int rc = cw__gallery_init(g, cfg);
    if (rc == 0 && cfg->capacity > 0) {
        rc = resize(g, cfg->capacity < CW__GALLERY_MAX_ROWS ? cfg->capacity : CW__GALLERY_MAX_ROWS);
        if (rc != 0) {
            pthread_rwlock_destroy(&g->lock);
        }
    }
    if (rc != 0) {
        cw_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void cw_gallery_destroy(cw_gallery_t *g)
{
    if (g == NULL) {
        return;
    }
    cw__gallery_free_rows(g);
    cw_free(g->index);
    pthread_rwlock_destroy(&g->lock);
    cw_free(g);
}

void cw_gallery_config(const cw_gallery_t *g, cw_gallery_config_t *out)
{
    *out = g->cfg;
}

size_t cw_gallery_count(const cw_gallery_t *g)
{
    cw_gallery_t *m = (cw_gallery_t *)g;
    pthread_rwlock_rdlock(&m->lock);
    size_t n = g->n_live;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

void cw_gallery_memory(const cw_gallery_t *g, size_t *scan_bytes, size_t *float_bytes)
{
    cw_gallery_t *m = (cw_gallery_t *)g;
    pthread_rwlock_rdlock(&m->lock);
    size_t per_row = g->dpad + sizeof(float) + sizeof(uint64_t);
    if (scan_bytes != NULL) {
        *scan_bytes =
            g->cap * per_row + n_blocks(g->cap) * sizeof(float) + g->index_cap * sizeof(uint32_t);
    }
    if (float_bytes != NULL) {
        *float_bytes = g->cap * (size_t)g->cfg.dim * sizeof(float);
    }
    pthread_rwlock_unlock(&m->lock);
}

int cw_gallery_add(cw_gallery_t *g, uint64_t id, const float *v)
{
    if (g == NULL || v == NULL) {
        return CW_EINVAL;
    }
    float x[CW_GALLERY_MAX_DIM];
    int rc = cw__gallery_normalise(v, g->cfg.dim, x);
    if (rc != 0) {
        return rc;
    }
    pthread_rwlock_wrlock(&g->lock);
    size_t pos;
    if (index_find(g, id, &pos) == 0) {
        rc = CW_EEXIST;
    } else if ((rc = grow(g, g->n_rows + 1)) == 0 && (rc = index_reserve(g)) == 0) {
        size_t r = g->n_rows++;
        put_row(g, r, id, x);
        index_insert(g, id, r);
        g->n_live++;
    }
    pthread_rwlock_unlock(&g->lock);
    cw_memzero(x, sizeof(x));
    return rc;
}

int cw_gallery_update(cw_gallery_t *g, uint64_t id, const float *v)
{
    if (g == NULL || v == NULL) {
        return CW_EINVAL;
    }
    float x[CW_GALLERY_MAX_DIM];
    int rc = cw__gallery_normalise(v, g->cfg.dim, x);
    if (rc != 0) {
        return rc;
    }
    pthread_rwlock_wrlock(&g->lock);
    size_t pos;
    if (index_find(g, id, &pos) != 0) {
        rc = CW_ENOENT;
    } else {
        put_row(g, g->index[pos] - 1, id, x);
    }
    pthread_rwlock_unlock(&g->lock);
    cw_memzero(x, sizeof(x));
    return rc;
}

int cw_gallery_remove(cw_gallery_t *g, uint64_t id)
{
    if (g == NULL) {
        return CW_EINVAL;
    }
    int rc = 0;
    pthread_rwlock_wrlock(&g->lock);
    size_t pos;
    if (index_find(g, id, &pos) != 0) {
        rc = CW_ENOENT;
    } else {
        size_t r = g->index[pos] - 1;
        g->scale[r] = 0.0f;
        cw_memzero(g->f + r * g->cfg.dim, g->cfg.dim * sizeof(float));
        cw_memzero(g->q + r * g->dpad, g->dpad);
        g->index[pos] = SLOT_GONE;
        g->n_live--;
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

// ||x - q * scale|| of row r, rounded up as cw__gallery_quantise rounds it (the same value).
static float row_err(const cw_gallery_t *g, size_t r)
{
    return quant_err(g->f + r * g->cfg.dim, g->q + r * g->dpad, g->scale[r], g->cfg.dim);
}

// Compaction copies the live rows into new arrays while searches go on (writers are serialised
// by the caller, so under the read lock nothing changes), then swaps them in under the write
// lock: searches wait only for the swap. It needs room for a second copy of the live rows.
int cw_gallery_compact(cw_gallery_t *g)
{
    if (g == NULL) {
        return CW_EINVAL;
    }
    pthread_rwlock_rdlock(&g->lock);
    cw_gallery_t c = *g; // the new arrays, built beside the old
    c.q = NULL;
    c.f = NULL;
    c.scale = NULL;
    c.ids = NULL;
    c.berr = NULL;
    c.n_rows = 0;
    c.cap = 0;
    size_t icap = (size_t)((double)(g->n_live > 0 ? g->n_live : 1) / INDEX_FILL) + 1;
    icap = icap < 64 ? 64 : icap;
    c.index = cw_calloc(icap, sizeof(uint32_t));
    int rc = c.index != NULL ? resize(&c, g->n_live) : CW_ENOMEM;
    if (rc == 0) {
        const size_t d = g->cfg.dim;
        size_t w = 0;
        for (size_t r = 0; r < g->n_rows; r++) {
            if (g->scale[r] == 0.0f) {
                continue;
            }
            memcpy(c.q + w * g->dpad, g->q + r * g->dpad, g->dpad);
            memcpy(c.f + w * d, g->f + r * d, d * sizeof(float));
            c.scale[w] = g->scale[r];
            c.ids[w] = g->ids[r];
            size_t b = w / CW__GALLERY_BLOCK;
            c.berr[b] = fmaxf(c.berr[b], row_err(&c, w)); // removed rows no longer widen it
            index_put(c.index, icap, c.ids[w], w);
            w++;
        }
        c.n_rows = w;
        c.index_cap = icap;
        c.index_used = w;
    }
    pthread_rwlock_unlock(&g->lock);
    if (rc != 0) {
        cw__gallery_free_rows(&c);
        cw_free(c.index);
        return rc;
    }
    pthread_rwlock_wrlock(&g->lock);
    cw_gallery_t old = *g;
    g->q = c.q;
    g->f = c.f;
    g->scale = c.scale;
    g->ids = c.ids;
    g->berr = c.berr;
    g->n_rows = c.n_rows;
    g->cap = c.cap;
    g->index = c.index;
    g->index_cap = c.index_cap;
    g->index_used = c.index_used;
    pthread_rwlock_unlock(&g->lock);
    cw__gallery_free_rows(&old); // wipes the old copies
    cw_free(old.index);
    return 0;
}

// ---- search ----

typedef struct cand {
    float key; // int8 score
    uint32_t row;
} cand_t;

// a ranks above b: higher key, then (ties) the smaller id, as the answer's order.
static int better(const cw_gallery_t *g, const cand_t *a, const cand_t *b)
{
    if (a->key != b->key) {
        return a->key > b->key;
    }
    return g->ids[a->row] < g->ids[b->row];
}

// Reorder c[0..n) so that c[0..w) are the w best (in no order) and c[w - 1] is the worst of
// them (quickselect, median-of-three pivots; expected O(n)). 0 < w < n.
static void select_best(const cw_gallery_t *g, cand_t *c, int n, int w)
{
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        // Median of three to c[hi] as the pivot.
        if (better(g, &c[mid], &c[lo])) {
            cand_t t = c[mid];
            c[mid] = c[lo];
            c[lo] = t;
        }
        if (better(g, &c[hi], &c[lo])) {
            cand_t t = c[hi];
            c[hi] = c[lo];
            c[lo] = t;
        }
        if (better(g, &c[mid], &c[hi])) {
            cand_t t = c[mid];
            c[mid] = c[hi];
            c[hi] = t;
        }
        const cand_t p = c[hi];
        int st = lo;
        for (int i = lo; i < hi; i++) {
            if (better(g, &c[i], &p)) {
                cand_t t = c[i];
                c[i] = c[st];
                c[st] = t;
                st++;
            }
        }
        c[hi] = c[st];
        c[st] = p;
        // c[lo..st) beat the pivot, c[st] is the pivot, c(st..hi] do not beat it.
        if (st == w - 1) {
            return;
        }
        if (st < w - 1) {
            lo = st + 1;
        } else {
            hi = st - 1;
        }
    }
}

// The scan state of one query over one range of rows: the candidates in a buffer of 2 x width,
// cut back to the best width whenever it fills. Every row not kept (skipped, refused, or cut)
// scored at most the bar, and the bar only rises; finish() relies on both.
typedef struct scan {
    cand_t *buf; // 2 x width
    int n;
    int width;
    int left_out; // a row was not kept
    float bar;    // the width-th best score after the last cut (-INFINITY before the first)
    float emax;   // the largest block error among the rows scanned
} scan_t;

static void scan_cut(const cw_gallery_t *g, scan_t *s)
{
    select_best(g, s->buf, s->n, s->width);
    s->n = s->width;
    s->bar = s->buf[s->width - 1].key;
    s->left_out = 1;
}

// Row r with int8 dot product d: scored, and kept unless it is below the bar. (A row equal to
// the bar is kept: it may win a tie on id.)
static void scan_one(const cw_gallery_t *g, scan_t *s, int32_t d, float qs, size_t r)
{
    float sc = g->scale[r];
    if (sc == 0.0f) {
        return; // removed
    }
    float a = (float)d * qs * sc;
    if (a < s->bar) {
        s->left_out = 1;
        return;
    }
    s->buf[s->n].key = a;
    s->buf[s->n].row = (uint32_t)r;
    if (++s->n == 2 * s->width) {
        scan_cut(g, s);
    }
}

// The bar find_pass holds d x scale to: h / qs lowered by a relative margin far above float
// rounding (a few ulps), so that the skip never drops a row the float test in scan_one keeps.
static float pass_bar(float h, float qs)
{
    return (float)((double)h / (double)qs * (1.0 - 1e-6));
}

// Scan rows [r0, r1) (r0 a multiple of BLOCK) for m queries at once (qq: m x dpad int8, qs:
// their scales), pushing into scans[0..m).
static void scan_rows(const cw_gallery_t *g, const int8_t *qq, const float *qs, int m, size_t r0,
                      size_t r1, scan_t *scans, int32_t *dots)
{
    const cw__gallery_kernels_t *k = cw__gallery_kernels();
    for (size_t b = r0; b < r1; b += BLOCK) {
        size_t nb = r1 - b < BLOCK ? r1 - b : BLOCK;
        const float be = g->berr[b / BLOCK];
        const int8_t *rows = g->q + b * g->dpad;
        // find_pass reads every row's scale (4 bytes beside the row's dpad): ask for the next
        // block's now, so that it streams in with the rows.
        for (size_t o = b + BLOCK; o < r1 && o < b + 2 * BLOCK; o += 64 / sizeof(float)) {
            __builtin_prefetch(&g->scale[o]);
        }
        if (m == 1) {
            k->dot1(qq, rows, nb, g->dpad, dots);
        } else {
            k->dotm(qq, m, rows, nb, g->dpad, dots);
        }
        for (int qi = 0; qi < m; qi++) {
            const int32_t *d = dots + (size_t)qi * nb;
            scan_t *s = &scans[qi];
            s->emax = fmaxf(s->emax, be);
            size_t i = 0;
            while (i < nb) {
                if (!(s->bar > 0.0f)) {
                    scan_one(g, s, d[i], qs[qi], b + i);
                    i++;
                    continue;
                }
                // Skip to the next row that can reach the bar.
                size_t j =
                    i + k->find_pass(d + i, g->scale + b + i, nb - i, pass_bar(s->bar, qs[qi]));
                if (j > i) {
                    s->left_out = 1;
                }
                if (j < nb) {
                    scan_one(g, s, d[j], qs[qi], b + j);
                }
                i = j + 1;
            }
        }
    }
    for (int qi = 0; qi < m; qi++) {
        if (scans[qi].n > scans[qi].width) {
            scan_cut(g, &scans[qi]);
        }
    }
}

static float exact_score(const cw_gallery_t *g, const float *x, uint32_t row)
{
    const float *y = g->f + (size_t)row * g->cfg.dim;
    double acc = 0.0;
    for (uint32_t i = 0; i < g->cfg.dim; i++) {
        acc += (double)x[i] * y[i];
    }
    return (float)acc;
}

static int cmp_hits(const void *pa, const void *pb)
{
    const cw_gallery_hit_t *a = pa;
    const cw_gallery_hit_t *b = pb;
    if (a->score != b->score) {
        return a->score > b->score ? -1 : 1;
    }
    return a->id < b->id ? -1 : (a->id > b->id);
}

// Per-call work for one query: parts (one per task) merged into the final answer.
typedef struct job {
    const cw_gallery_t *g;
    const int8_t *qq;
    const float *qs;
    const float *qe;
    int m;
    int width;
    size_t parts;
    scan_t *scans; // parts x m
    cand_t *bufs;  // parts x m x 2 width
    int32_t *dots; // parts x m x BLOCK
} job_t;

static int scan_task(void *ctx, size_t part, int worker)
{
    (void)worker;
    job_t *j = ctx;
    size_t n = j->g->n_rows;
    size_t per = (n + j->parts - 1) / j->parts;
    per = (per + BLOCK - 1) / BLOCK * BLOCK; // parts start on a block of the bounds
    size_t r0 = part * per < n ? part * per : n;
    size_t r1 = r0 + per < n ? r0 + per : n;
    scan_t *scans = j->scans + part * (size_t)j->m;
    for (int qi = 0; qi < j->m; qi++) {
        scans[qi].buf = j->bufs + (part * (size_t)j->m + (size_t)qi) * 2 * (size_t)j->width;
        scans[qi].n = 0;
        scans[qi].width = j->width;
        scans[qi].left_out = 0;
        scans[qi].bar = -INFINITY;
        scans[qi].emax = 0.0f;
    }
    scan_rows(j->g, j->qq, j->qs, j->m, r0, r1, scans, j->dots + part * (size_t)j->m * BLOCK);
    return 0;
}

// Merge the parts of query qi, re-rank exactly, and check the proof. Returns 1 when exact.
static int finish(const job_t *j, int qi, const float *x, int k, cw_gallery_hit_t *hits,
                  int *n_hits, cw_gallery_hit_t *tmp)
{
    const cw_gallery_t *g = j->g;
    int nc = 0;
    float out_bound = -INFINITY;
    for (size_t p = 0; p < j->parts; p++) {
        const scan_t *s = &j->scans[p * (size_t)j->m + (size_t)qi];
        if (s->left_out) {
            // No row this part left out scored above its bar (see the top).
            float e = s->emax;
            out_bound = fmaxf(out_bound, s->bar + e + j->qe[qi] * (1.0f + e) + 1e-6f);
        }
        // The float rows are scattered in memory: ask for all of them before reading any.
        for (int i = 0; i < s->n; i++) {
            const float *y = g->f + (size_t)s->buf[i].row * g->cfg.dim;
            for (size_t o = 0; o < g->cfg.dim; o += 64 / sizeof(float)) {
                __builtin_prefetch(y + o);
            }
        }
        for (int i = 0; i < s->n; i++) {
            tmp[nc].id = g->ids[s->buf[i].row];
            tmp[nc].score = exact_score(g, x, s->buf[i].row);
            nc++;
        }
    }
    qsort(tmp, (size_t)nc, sizeof(*tmp), cmp_hits);
    int kk = nc < k ? nc : k;
    memcpy(hits, tmp, (size_t)kk * sizeof(*hits));
    *n_hits = kk;
    if (kk < k) {
        return 1; // every live row was kept: nothing outside
    }
    // Exact if no row outside can reach the k-th score (a tie could win on id: strict).
    return out_bound < hits[kk - 1].score;
}

static int search_locked(const cw_gallery_t *g, const float *queries, int m, int k, cw_pool_t *pool,
                         cw_gallery_hit_t *hits, int *n_hits)
{
    const uint32_t dim = g->cfg.dim;
    size_t parts = pool != NULL ? (size_t)cw_pool_size(pool) + 1 : 1;
    if (g->n_rows < parts * 4096) {
        parts = 1;
    }
    float *x = cw_malloc((size_t)m * dim * sizeof(float));
    int8_t *qq = cw_aligned_alloc(64, (size_t)m * g->dpad);
    float *qs = cw_malloc((size_t)m * sizeof(float));
    float *qe = cw_malloc((size_t)m * sizeof(float));
    int rc = x && qq && qs && qe ? 0 : CW_ENOMEM;
    for (int qi = 0; qi < m && rc == 0; qi++) {
        rc = cw__gallery_normalise(queries + (size_t)qi * dim, dim, x + (size_t)qi * dim);
        if (rc == 0) {
            cw__gallery_quantise(x + (size_t)qi * dim, dim, g->dpad, qq + (size_t)qi * g->dpad,
                                 &qs[qi], &qe[qi]);
        }
    }
    // Kept rows per query: wide enough that the proof usually holds at the first pass (the
    // bound is about 0.03 for d = 128; the k-th and width-th scores of 10M rows differ more).
    int width = k * 4 > k + 128 ? k * 4 : k + 128;
    int *todo = cw_malloc((size_t)m * sizeof(int));
    rc = rc == 0 && todo == NULL ? CW_ENOMEM : rc;
    int n_todo = m;
    for (int qi = 0; qi < m && rc == 0; qi++) {
        todo[qi] = qi;
    }
    while (rc == 0 && n_todo > 0) {
        job_t j = {g, qq, qs, qe, m, width, parts, NULL, NULL, NULL};
        j.scans = cw_malloc(parts * (size_t)m * sizeof(scan_t));
        j.bufs = cw_malloc(parts * (size_t)m * 2 * (size_t)width * sizeof(cand_t));
        j.dots = cw_malloc(parts * (size_t)m * BLOCK * sizeof(int32_t));
        cw_gallery_hit_t *tmp = cw_malloc(parts * (size_t)width * sizeof(cw_gallery_hit_t));
        if (j.scans == NULL || j.bufs == NULL || j.dots == NULL || tmp == NULL) {
            rc = CW_ENOMEM;
        } else if (parts > 1) {
            rc = cw_pool_parallel_for(pool, parts, scan_task, &j);
        } else {
            rc = scan_task(&j, 0, 0);
        }
        int left = 0;
        for (int t = 0; t < n_todo && rc == 0; t++) {
            int qi = todo[t];
            if (!finish(&j, qi, x + (size_t)qi * dim, k, hits + (size_t)qi * k, &n_hits[qi], tmp)) {
                todo[left++] = qi;
            }
        }
        cw_free(j.scans);
        cw_free(j.bufs);
        cw_free(j.dots);
        cw_free(tmp);
        // Unproven queries (near-ties at the bound) run again, wider; all rows at worst.
        n_todo = left;
        if (n_todo > 0) {
            width = width * 4 > (int)g->n_rows ? (int)g->n_rows + 1 : width * 4;
        }
        // (All queries are re-scanned together for simplicity; unproven ones are rare.)
    }
    cw_free(todo);
    if (x != NULL) {
        cw_free_wipe(x, (size_t)m * dim * sizeof(float));
    }
    if (qq != NULL) {
        cw_memzero(qq, (size_t)m * g->dpad);
        cw_aligned_free(qq);
    }
    cw_free(qs);
    cw_free(qe);
    return rc;
}

int cw_gallery_search_batch(const cw_gallery_t *g, const float *queries, int n_queries, int k,
                            cw_pool_t *pool, cw_gallery_hit_t *hits, int *n_hits)
{
    if (g == NULL || queries == NULL || hits == NULL || n_hits == NULL || k < 1 ||
        k > CW_GALLERY_MAX_K || n_queries < 1) {
        return CW_EINVAL;
    }
    cw_gallery_t *m = (cw_gallery_t *)g;
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    for (int q0 = 0; q0 < n_queries && rc == 0; q0 += CW__GALLERY_MAX_BATCH) {
        int nq = n_queries - q0 < CW__GALLERY_MAX_BATCH ? n_queries - q0 : CW__GALLERY_MAX_BATCH;
        rc = search_locked(g, queries + (size_t)q0 * g->cfg.dim, nq, k, pool, hits + (size_t)q0 * k,
                           n_hits + q0);
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

int cw_gallery_search(const cw_gallery_t *g, const float *query, int k, cw_pool_t *pool,
                      cw_gallery_hit_t *hits, int *n_hits)
{
    return cw_gallery_search_batch(g, query, 1, k, pool, hits, n_hits);
}
