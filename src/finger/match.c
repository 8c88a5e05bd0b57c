// SPDX-License-Identifier: Apache-2.0
// The fingerprint matcher: Minutia Cylinder-Code local descriptors in their bit-vector form
// (after Cappelli, Ferrara and Maltoni, "Minutia Cylinder-Code", IEEE TPAMI 2010), compared by
// popcount with per-pair validity masks, and consolidated by relaxation (LSS-R): the best local
// pairs reinforce each other when their relative distances and angles agree, and the score is
// the mean of the most efficient pairs after relaxation. Templates are prepared once (cylinders,
// pairwise geometry), so a comparison does no allocation and no transcendental maths.
#include "finger_internal.h"
#include "kernels/kernels.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// Cylinder geometry and the parameters of the paper (units: 500 dpi pixels, radians).
#define MCC_R 70.0f
#define MCC_SIGMA_S (28.0f / 3.0f)
#define MCC_SIGMA_D (2.0f * (float)M_PI / 9.0f)
#define MCC_MU_PSI 0.01f
#define MCC_OMEGA 50.0f
#define MCC_MIN_VC 0.75f
#define MCC_MIN_ME 0.60f
#define MCC_DELTA_THETA ((float)M_PI / 2.0f)
enum { MCC_MIN_M = 2, NREL = 5, MIN_NP = 4, MAX_NP = 12 };
#define WR 0.5f

typedef struct prep {
    uint64_t key; // canonical order, so that compare(a, b) == compare(b, a) exactly
    int n;        // minutiae with a valid cylinder
    float *x, *y, *t;
    uint64_t *cyl; // n x CYL_WORDS cell bits, ND slices of NS*NS cells
    uint64_t *msk; // n x MSK_WORDS validity bits, NS*NS cells
    float *dist;   // n x n distances
    float *dr;     // n x n: angle of the line i->j relative to minutia i's direction
    size_t bytes;
} prep_t;

// ---- lookup tables (built once) ----

enum { Z1_N = 256, ZA_N = 512 };
#define Z1_STEP 0.125f               // pixels per entry of the distance table
#define ZA_STEP ((float)M_PI / ZA_N) // radians per entry of the angle tables
static float g_z1[Z1_N + 1], g_za[ZA_N + 1];
static float g_sqrt[CYL_BITS + 1];
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;

static float zfun(float v, float mu, float tau)
{
    return 1.0f / (1.0f + expf(-tau * (v - mu)));
}

static void build_tables(void)
{
    for (int i = 0; i <= Z1_N; i++) {
        g_z1[i] = zfun(i * Z1_STEP, 5.0f, -8.0f / 5.0f);
    }
    for (int i = 0; i <= ZA_N; i++) {
        g_za[i] = zfun(i * ZA_STEP, (float)M_PI / 12.0f, -30.0f);
    }
    for (int i = 0; i <= CYL_BITS; i++) {
        g_sqrt[i] = sqrtf((float)i);
    }
}

static inline float angdiff(float a, float b)
{
    float d = a - b;
    while (d > (float)M_PI) {
        d -= 2.0f * (float)M_PI;
    }
    while (d <= -(float)M_PI) {
        d += 2.0f * (float)M_PI;
    }
    return d;
}

static inline float z1(float d)
{
    int i = (int)(d * (1.0f / Z1_STEP));
    return i >= Z1_N ? 0.0f : g_z1[i];
}

static inline float za(float a)
{
    int i = (int)(fabsf(a) * (1.0f / ZA_STEP));
    return i >= ZA_N ? g_za[ZA_N] : g_za[i];
}

// ---- preparation ----

// Convex hull (monotone chain) of the minutiae; returns its vertex count.
typedef struct pt {
    float x, y;
} pt_t;

static int cmp_pt(const void *a, const void *b)
{
    const pt_t *p = a, *q = b;
    if (p->x != q->x) {
        return p->x < q->x ? -1 : 1;
    }
    return (p->y > q->y) - (p->y < q->y);
}

static float cross(pt_t o, pt_t a, pt_t b)
{
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static int hull(pt_t *p, int n, pt_t *h)
{
    if (n < 3) {
        for (int i = 0; i < n; i++) {
            h[i] = p[i];
        }
        return n;
    }
    qsort(p, (size_t)n, sizeof(*p), cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) {
            k--;
        }
        h[k++] = p[i];
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) {
            k--;
        }
        h[k++] = p[i];
    }
    return k - 1;
}

// Is q inside the hull (counter-clockwise) or within omega of it?
static int near_hull(const pt_t *h, int nh, float qx, float qy)
{
    if (nh == 0) {
        return 0;
    }
    int inside = nh >= 3;
    float best = 1e30f;
    for (int i = 0; i < nh; i++) {
        pt_t a = h[i], b = h[(i + 1) % nh];
        float ex = b.x - a.x, ey = b.y - a.y;
        float wx = qx - a.x, wy = qy - a.y;
        if (ex * wy - ey * wx < 0) {
            inside = 0;
        }
        float l2 = ex * ex + ey * ey;
        float t = l2 > 0 ? (ex * wx + ey * wy) / l2 : 0.0f;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        float dx = wx - t * ex, dy = wy - t * ey;
        float d2 = dx * dx + dy * dy;
        if (d2 < best) {
            best = d2;
        }
    }
    return inside || best <= cw__tune("OMEGA", MCC_OMEGA) * cw__tune("OMEGA", MCC_OMEGA);
}

static void prep_free(prep_t *p)
{
    if (p != NULL) {
        cw_free_wipe(p, p->bytes);
    }
}

// Integral of the angular Gaussian over one direction bin centred dphi_k away from d.
static float gauss_dir(float d)
{
    const float dd = 2.0f * (float)M_PI / MCC_ND;
    float a = (d - dd / 2) / (MCC_SIGMA_D * 1.41421356f);
    float b = (d + dd / 2) / (MCC_SIGMA_D * 1.41421356f);
    return 0.5f * (erff(b) - erff(a));
}

int cw_finger_prepare(const cw_finger_template_t *tpl, cw_finger_prepared_t *out)
{
    if (out != NULL) {
        out->impl = NULL;
    }
    if (tpl == NULL || out == NULL || tpl->n > CW_FINGER_MAX_MINUTIAE) {
        return CW_EINVAL;
    }
    pthread_once(&g_tables_once, build_tables);
    int n = tpl->n;
    // One block: header, then arrays (sized for all minutiae; only valid ones are kept).
    size_t nn = (size_t)n * (size_t)n;
    size_t bytes = sizeof(prep_t) + 3 * (size_t)n * sizeof(float) +
                   (size_t)n * (CYL_WORDS + MSK_WORDS) * sizeof(uint64_t) + 2 * nn * sizeof(float) +
                   64;
    uint8_t *mem = cw_calloc(1, bytes);
    if (mem == NULL) {
        return CW_ENOMEM;
    }
    prep_t *p = (prep_t *)mem;
    p->bytes = bytes;
    uint8_t *cur = mem + sizeof(prep_t);
    cur = (uint8_t *)(((uintptr_t)cur + 63) & ~(uintptr_t)63);
    p->cyl = (uint64_t *)cur;
    cur += (size_t)n * CYL_WORDS * sizeof(uint64_t);
    p->msk = (uint64_t *)cur;
    cur += (size_t)n * MSK_WORDS * sizeof(uint64_t);
    p->x = (float *)cur;
    p->y = p->x + n;
    p->t = p->y + n;
    p->dist = p->t + n;
    p->dr = p->dist + nn;

    pt_t pts[CW_FINGER_MAX_MINUTIAE], hl[CW_FINGER_MAX_MINUTIAE + 1];
    float mx[CW_FINGER_MAX_MINUTIAE], my[CW_FINGER_MAX_MINUTIAE], mt[CW_FINGER_MAX_MINUTIAE];
    float scale = tpl->dpi > 0 ? (float)CW_FINGER_DPI / tpl->dpi : 1.0f;
    for (int i = 0; i < n; i++) {
        mx[i] = tpl->m[i].x * scale;
        my[i] = tpl->m[i].y * scale;
        mt[i] = (float)cw__finger_iso_to_angle(tpl->m[i].angle);
        pts[i] = (pt_t){mx[i], my[i]};
    }
    int nh = hull(pts, n, hl);
    const float ds = 2.0f * MCC_R / MCC_NS, dd = 2.0f * (float)M_PI / MCC_ND;
    const float gs_norm = 1.0f / (MCC_SIGMA_S * sqrtf(2.0f * (float)M_PI));
    const float nbr = 3.0f * MCC_SIGMA_S;
    int in_circle = 0;
    for (int i = 0; i < MCC_NS; i++) {
        for (int j = 0; j < MCC_NS; j++) {
            float u = (i + 0.5f - MCC_NS / 2.0f) * ds, v = (j + 0.5f - MCC_NS / 2.0f) * ds;
            in_circle += u * u + v * v <= MCC_R * MCC_R;
        }
    }
    int kept = 0;
    uint64_t key = 1469598103934665603ull;
    for (int m = 0; m < n; m++) {
        // Neighbourhood size check (minM).
        int near = 0;
        for (int o = 0; o < n; o++) {
            float dx = mx[o] - mx[m], dy = my[o] - my[m];
            near += o != m && dx * dx + dy * dy <= (MCC_R + nbr) * (MCC_R + nbr);
        }
        if (near < MCC_MIN_M) {
            continue;
        }
        uint64_t *cyl = p->cyl + (size_t)kept * CYL_WORDS;
        uint64_t *msk = p->msk + (size_t)kept * MSK_WORDS;
        float c = cosf(mt[m]), s = sinf(mt[m]);
        int valid = 0;
        for (int i = 0; i < MCC_NS; i++) {
            for (int j = 0; j < MCC_NS; j++) {
                float u = (i + 0.5f - MCC_NS / 2.0f) * ds, v = (j + 0.5f - MCC_NS / 2.0f) * ds;
                if (u * u + v * v > MCC_R * MCC_R) {
                    continue;
                }
                float px = mx[m] + c * u - s * v, py = my[m] + s * u + c * v;
                if (!near_hull(hl, nh, px, py)) {
                    continue;
                }
                int cell = i * MCC_NS + j;
                msk[cell >> 6] |= 1ull << (cell & 63);
                valid++;
                float acc[MCC_ND] = {0};
                for (int o = 0; o < n; o++) {
                    if (o == m) {
                        continue;
                    }
                    float dx = mx[o] - px, dy = my[o] - py;
                    float d2 = dx * dx + dy * dy;
                    if (d2 > nbr * nbr) {
                        continue;
                    }
                    float gs = gs_norm * expf(-d2 / (2.0f * MCC_SIGMA_S * MCC_SIGMA_S));
                    float dth = angdiff(mt[m], mt[o]);
                    for (int k = 0; k < MCC_ND; k++) {
                        float phik = -(float)M_PI + (k + 0.5f) * dd;
                        acc[k] += gs * gauss_dir(angdiff(phik, dth));
                    }
                }
                for (int k = 0; k < MCC_ND; k++) {
                    if (acc[k] >= cw__tune("MUPSI", MCC_MU_PSI)) {
                        int bit = k * MCC_NS * MCC_NS + cell;
                        cyl[bit >> 6] |= 1ull << (bit & 63);
                    }
                }
            }
        }
        if (valid < MCC_MIN_VC * in_circle) {
            memset(cyl, 0, CYL_WORDS * sizeof(uint64_t));
            memset(msk, 0, MSK_WORDS * sizeof(uint64_t));
            continue;
        }
        p->x[kept] = mx[m];
        p->y[kept] = my[m];
        p->t[kept] = mt[m];
        kept++;
        key = (key ^ ((uint64_t)tpl->m[m].x << 24 ^ (uint64_t)tpl->m[m].y << 8 ^ tpl->m[m].angle)) *
              1099511628211ull;
    }
    p->n = kept;
    p->key = key ^ (uint64_t)kept << 56;
    // Pairwise geometry over the kept minutiae (stride n, the allocation's).
    for (int i = 0; i < kept; i++) {
        for (int j = 0; j < kept; j++) {
            float dx = p->x[j] - p->x[i], dy = p->y[j] - p->y[i];
            p->dist[(size_t)i * n + j] = sqrtf(dx * dx + dy * dy);
            p->dr[(size_t)i * n + j] = i == j ? 0.0f : angdiff(p->t[i], atan2f(dy, dx));
        }
    }
    // Remember the stride: store n (allocation) in the upper bits of bytes is awkward; keep it
    // simple and compact the geometry to stride `kept`.
    if (kept != n) {
        for (int i = 0; i < kept; i++) {
            memmove(p->dist + (size_t)i * kept, p->dist + (size_t)i * n, (size_t)kept * 4);
        }
        float *dr = p->dist + (size_t)kept * kept;
        for (int i = 0; i < kept; i++) {
            memmove(dr + (size_t)i * kept, p->dr + (size_t)i * n, (size_t)kept * 4);
        }
        p->dr = dr;
    }
    out->impl = p;
    return 0;
}

void cw_finger_prepared_free(cw_finger_prepared_t *p)
{
    if (p != NULL) {
        prep_free(p->impl);
        p->impl = NULL;
    }
}

// ---- comparison ----

typedef struct pair {
    float s;
    uint16_t a, b;
} pair_t;

static int cmp_eff(const void *x, const void *y)
{
    const float *p = x, *q = y;
    if (p[0] != q[0]) {
        return p[0] < q[0] ? 1 : -1;
    }
    return (p[1] > q[1]) - (p[1] < q[1]);
}

static float compare_impl(const prep_t *A, const prep_t *B)
{
    int na = A->n, nb = B->n;
    if (na == 0 || nb == 0) {
        return 0.0f;
    }
    const int min_me = (int)(cw__tune("MINME", MCC_MIN_ME) * 0.785f * MCC_NS * MCC_NS);
    const cw__finger_kernels_t *kern = cw__finger_kernels();
    // Local similarities, kept as the best nR pairs (a small heap would do; the counts are
    // small, so a bounded insertion list is simpler).
    int nr = na < nb ? na : nb;
    pair_t top[CW_FINGER_MAX_MINUTIAE];
    int ntop = 0;
    for (int i = 0; i < na; i++) {
        const uint64_t *ca = A->cyl + (size_t)i * CYL_WORDS, *ma = A->msk + (size_t)i * MSK_WORDS;
        for (int j = 0; j < nb; j++) {
            if (fabsf(angdiff(A->t[i], B->t[j])) > MCC_DELTA_THETA) {
                continue;
            }
            const uint64_t *cb = B->cyl + (size_t)j * CYL_WORDS;
            const uint64_t *mb = B->msk + (size_t)j * MSK_WORDS;
            unsigned pa, pb, px;
            if (kern->cyl_pair(ca, ma, cb, mb, min_me, &pa, &pb, &px) != 0) {
                continue;
            }
            float den = g_sqrt[pa] + g_sqrt[pb];
            float s = den > 0 ? 1.0f - g_sqrt[px] / den : 0.0f;
            if (s <= 0.0f) {
                continue;
            }
            if (ntop == nr && s <= top[ntop - 1].s) {
                continue;
            }
            int k = ntop < nr ? ntop++ : ntop - 1;
            while (k > 0 && top[k - 1].s < s) {
                top[k] = top[k - 1];
                k--;
            }
            top[k] = (pair_t){s, (uint16_t)i, (uint16_t)j};
        }
    }
    if (ntop == 0) {
        return 0.0f;
    }
    nr = ntop;
    // Relaxation: pairs whose relations to the others agree in both prints reinforce.
    float rho[CW_FINGER_MAX_MINUTIAE];
    float lam[2][CW_FINGER_MAX_MINUTIAE];
    static const int bound = CW_FINGER_MAX_MINUTIAE;
    (void)bound;
    float *rmat = NULL;
    float rstack[64 * 64];
    if (nr <= 64) {
        rmat = rstack;
    } else {
        rmat = malloc((size_t)nr * nr * sizeof(float));
        if (rmat == NULL) {
            return 0.0f;
        }
    }
    for (int t = 0; t < nr; t++) {
        int at = top[t].a, bt = top[t].b;
        rmat[t * nr + t] = 0.0f;
        for (int k = t + 1; k < nr; k++) {
            int ak = top[k].a, bk = top[k].b;
            float v = 0.0f;
            if (at != ak && bt != bk) {
                float d1 = fabsf(A->dist[at * na + ak] - B->dist[bt * nb + bk]);
                float r1 = z1(d1);
                if (r1 > 0.0f) {
                    float d2 = angdiff(angdiff(A->t[at], A->t[ak]), angdiff(B->t[bt], B->t[bk]));
                    float d3 = angdiff(A->dr[at * na + ak], B->dr[bt * nb + bk]);
                    v = r1 * za(d2) * za(d3);
                }
            }
            rmat[t * nr + k] = v;
            rmat[k * nr + t] = v;
        }
        lam[0][t] = top[t].s;
    }
    (void)rho;
    int cur = 0;
    const float wr = cw__tune("WR", WR);
    const int nrel = (int)cw__tune("NREL", NREL);
    for (int it = 0; it < nrel; it++) {
        for (int t = 0; t < nr; t++) {
            float s = 0.0f;
            const float *row = rmat + (size_t)t * nr;
            for (int k = 0; k < nr; k++) {
                s += row[k] * lam[cur][k];
            }
            lam[cur ^ 1][t] = wr * lam[cur][t] + (1.0f - wr) * (nr > 1 ? s / (nr - 1) : 0.0f);
        }
        cur ^= 1;
    }
    if (rmat != rstack) {
        free(rmat);
    }
    // Efficiency-ordered selection of nP pairs.
    int mn = na < nb ? na : nb;
    float zp = zfun((float)mn, 20.0f, 2.0f / 5.0f);
    const int minnp = (int)cw__tune("MINNP", MIN_NP), maxnp = (int)cw__tune("MAXNP", MAX_NP);
    int np = minnp + (int)lrintf(zp * (maxnp - minnp));
    float eff[CW_FINGER_MAX_MINUTIAE][2];
    for (int t = 0; t < nr; t++) {
        eff[t][0] = lam[cur][t] / top[t].s;
        eff[t][1] = (float)t;
    }
    qsort(eff, (size_t)nr, sizeof(eff[0]), cmp_eff);
    if (np > nr) {
        np = nr;
    }
    float sum = 0.0f;
    for (int t = 0; t < np; t++) {
        sum += lam[cur][(int)eff[t][1]];
    }
    // Fewer pairs than nP: scale down (a handful of agreeing minutiae is weak evidence).
    int want = cw__tune("SM", 0) > 0 ? np : minnp + (int)lrintf(zp * (maxnp - minnp));
    float score = sum / (float)want;
    return score < 0.0f ? 0.0f : score > 1.0f ? 1.0f : score;
}

float cw_finger_compare(const cw_finger_prepared_t *a, const cw_finger_prepared_t *b)
{
    if (a == NULL || b == NULL || a->impl == NULL || b->impl == NULL) {
        return 0.0f;
    }
    const prep_t *A = a->impl, *B = b->impl;
    // Canonical order: the computation is not literally symmetric (pair ranking ties), so
    // always run it the same way round.
    if (A->key > B->key || (A->key == B->key && A->n > B->n)) {
        const prep_t *t = A;
        A = B;
        B = t;
    }
    return compare_impl(A, B);
}

int cw_finger_compare_templates(const cw_finger_template_t *a, const cw_finger_template_t *b,
                                float *score)
{
    if (score == NULL) {
        return CW_EINVAL;
    }
    *score = 0.0f;
    cw_finger_prepared_t pa, pb;
    int rc = cw_finger_prepare(a, &pa);
    if (rc != 0) {
        return rc;
    }
    rc = cw_finger_prepare(b, &pb);
    if (rc != 0) {
        cw_finger_prepared_free(&pa);
        return rc;
    }
    *score = cw_finger_compare(&pa, &pb);
    cw_finger_prepared_free(&pa);
    cw_finger_prepared_free(&pb);
    return 0;
}

typedef struct search_job {
    const cw_finger_prepared_t *probe, *gallery;
    float *scores;
    size_t n;
} search_job_t;

enum { SEARCH_CHUNK = 64 };

static int search_chunk(void *ctx, size_t i, int worker)
{
    (void)worker;
    search_job_t *j = ctx;
    size_t end = (i + 1) * SEARCH_CHUNK < j->n ? (i + 1) * SEARCH_CHUNK : j->n;
    for (size_t g = i * SEARCH_CHUNK; g < end; g++) {
        j->scores[g] = cw_finger_compare(j->probe, &j->gallery[g]);
    }
    return 0;
}

int cw_finger_search(cw_pool_t *pool, const cw_finger_prepared_t *probe,
                     const cw_finger_prepared_t *gallery, size_t n, float *scores)
{
    if (probe == NULL || (n > 0 && (gallery == NULL || scores == NULL))) {
        return CW_EINVAL;
    }
    search_job_t j = {probe, gallery, scores, n};
    return cw_pool_parallel_for(pool, (n + SEARCH_CHUNK - 1) / SEARCH_CHUNK, search_chunk, &j);
}

// Thresholds for CW_FINGER_MATCHER_VERSION, from the impostor score distributions measured by
// `clearway eval finger` (see docs/finger.md).
float cw_finger_threshold(double fmr)
{
    if (fmr >= 3e-4) {
        return 0.30f; // FMR 1e-3
    }
    if (fmr >= 3e-5) {
        return 0.36f; // FMR 1e-4
    }
    return 0.42f; // FMR 1e-5
}
