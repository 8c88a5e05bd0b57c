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
enum { MCC_MIN_M = 2, NREL = 5, MIN_NP = 4, MAX_NP = 8 };
#define WR 0.5f

typedef struct prep {
    uint64_t key;  // canonical order, so that compare(a, b) == compare(b, a) exactly
    int n;         // minutiae with a valid cylinder
    uint64_t *cyl; // n x CYL_WORDS cell bits, MCC_ND slices of MCC_NS^2 cells (64-byte aligned)
    uint64_t *rep; // n x CYL_WORDS: the validity mask repeated for each slice
    uint64_t *msk; // n x MSK_WORDS validity bits
    float *x, *y;
    uint16_t *ang; // direction in 1/65536 turns (image coordinates)
    int32_t *dist; // n x n distances in 1/8 pixels
    uint16_t *dr;  // n x n: direction of the line i->j relative to minutia i, 1/65536 turns
    size_t bytes;
} prep_t;

// At most this many local pairs enter the relaxation (LSS-R uses min(nA, nB)). On FVC2002 a cap
// of 20 scores as well as 64 (measured: same EER on DB1_B and DB4_B) at a third of the cost.
// CAND_MAX bounds the candidate buffer on the stack (32 KiB).
enum { NR_MAX = 20, CAND_MAX = 4096 };
// NR_MAX rounded up to the 8-wide blocks of the relaxation sums.
enum { NRP_MAX = (NR_MAX + 7) & ~7 };
// Largest direction difference of a local pair, in 1/65536 turns: 67.5 degrees (the paper
// uses 90; on FVC2002 67.5 loses nothing and saves a quarter of the cylinder comparisons).
#define DTHETA 0x3000

// ---- lookup tables (built once) ----

enum { Z1_N = 80, ZA_N = 513 };
#define Z1_STEP 0.125f // pixels per entry of the distance table; Z1 is ~0 beyond 10 pixels
static float g_z1[Z1_N], g_za[ZA_N]; // ZA indexed by angle difference in 1/1024 turns
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;

static float zfun(float v, float mu, float tau)
{
    return 1.0f / (1.0f + expf(-tau * (v - mu)));
}

static void build_tables(void)
{
    for (int i = 0; i < Z1_N; i++) {
        g_z1[i] = zfun(i * Z1_STEP, 5.0f, -8.0f / 5.0f);
    }
    for (int i = 0; i < ZA_N; i++) {
        g_za[i] = zfun(i * 2.0f * (float)M_PI / 1024.0f, (float)M_PI / 12.0f, -30.0f);
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

// Z of the absolute difference of two angle differences, all in 1/65536 turns.
static inline float za16(int d)
{
    d = (d & 0xffff) >> 6; // 1/1024 turns
    return g_za[d <= 512 ? d : 1024 - d];
}

static inline uint16_t to_units(float theta)
{
    return (uint16_t)((long)lrintf(theta * (65536.0f / (2.0f * (float)M_PI))) & 0xffff);
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
    return inside || best <= MCC_OMEGA * MCC_OMEGA;
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
    size_t bytes = sizeof(prep_t) + 64 + (size_t)n * (2 * CYL_WORDS + MSK_WORDS) * 8 +
                   2 * (size_t)n * sizeof(float) + 2 * (size_t)n + nn * sizeof(float) + 2 * nn;
    uint8_t *mem = cw_calloc(1, bytes);
    if (mem == NULL) {
        return CW_ENOMEM;
    }
    prep_t *p = (prep_t *)mem;
    p->bytes = bytes;
    uint8_t *cur = mem + sizeof(prep_t);
    cur = (uint8_t *)(((uintptr_t)cur + 63) & ~(uintptr_t)63);
    p->cyl = (uint64_t *)cur;
    cur += (size_t)n * CYL_WORDS * 8;
    p->rep = (uint64_t *)cur;
    cur += (size_t)n * CYL_WORDS * 8;
    p->msk = (uint64_t *)cur;
    cur += (size_t)n * MSK_WORDS * 8;
    p->x = (float *)cur;
    p->y = p->x + n;
    p->dist = (int32_t *)(p->y + n);
    p->ang = (uint16_t *)(p->dist + nn);
    p->dr = p->ang + n;

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
    // Minutiae are kept in order of direction, so that the candidates of a comparison (directions
    // within a quarter turn) form one circular run: no unpredictable branch per pair.
    int order[CW_FINGER_MAX_MINUTIAE];
    for (int i = 0; i < n; i++) {
        int j = i;
        uint16_t u = to_units(mt[i]);
        while (j > 0 && to_units(mt[order[j - 1]]) > u) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int kept = 0;
    uint64_t key = 1469598103934665603ull;
    for (int q = 0; q < n; q++) {
        const int m = order[q];
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
                    if (acc[k] >= MCC_MU_PSI) {
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
        for (int k = 0; k < MCC_ND; k++) {
            memcpy(p->rep + (size_t)kept * CYL_WORDS + k * MSK_WORDS, msk, MSK_WORDS * 8);
        }
        p->x[kept] = mx[m];
        p->y[kept] = my[m];
        p->ang[kept] = to_units(mt[m]);
        kept++;
        key = (key ^ ((uint64_t)tpl->m[m].x << 24 ^ (uint64_t)tpl->m[m].y << 8 ^ tpl->m[m].angle)) *
              1099511628211ull;
    }
    p->n = kept;
    p->key = key ^ (uint64_t)kept << 56;
    // Pairwise geometry over the kept minutiae (stride kept).
    for (int i = 0; i < kept; i++) {
        for (int j = 0; j < kept; j++) {
            float dx = p->x[j] - p->x[i], dy = p->y[j] - p->y[i];
            p->dist[(size_t)i * kept + j] = (int32_t)lrintf(sqrtf(dx * dx + dy * dy) / Z1_STEP);
            p->dr[(size_t)i * kept + j] =
                i == j ? 0 : (uint16_t)((p->ang[i] - to_units(atan2f(dy, dx))) & 0xffff);
        }
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

// A local pair as one sortable key: the similarity's float bits (positive floats order as
// integers) above the complemented indices, so a larger key is a better pair and ties go to
// the lower indices; selection is deterministic and costs one integer compare.
typedef uint64_t pair_t;

static inline pair_t pair_make(float s, int a, int b)
{
    uint32_t bits;
    memcpy(&bits, &s, sizeof(bits));
    return (uint64_t)bits << 32 | (uint32_t) ~((uint32_t)a << 16 | (uint32_t)b);
}

static inline float pair_s(pair_t p)
{
    uint32_t bits = (uint32_t)(p >> 32);
    float s;
    memcpy(&s, &bits, sizeof(s));
    return s;
}

static inline int pair_a(pair_t p)
{
    return (int)(~(uint32_t)p >> 16);
}

static inline int pair_b(pair_t p)
{
    return (int)(~(uint32_t)p & 0xffff);
}

// Partial selection: afterwards the k largest keys are in c[0, k).
static void select_top(pair_t *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        pair_t piv = c[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (c[i] > piv) {
                i++;
            }
            while (c[j] < piv) {
                j--;
            }
            if (i <= j) {
                pair_t t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j) {
            hi = j;
        } else if (k - 1 >= i) {
            lo = i;
        } else {
            return;
        }
    }
}

static float compare_impl(const prep_t *A, const prep_t *B)
{
    int na = A->n, nb = B->n;
    if (na == 0 || nb == 0) {
        return 0.0f;
    }
    const int min_me = (int)(MCC_MIN_ME * 0.785f * MCC_NS * MCC_NS);
    const cw__finger_kernels_t *kern = cw__finger_kernels();
    // Local similarities; the best nR pairs are kept in a min-heap.
    int nr = na < nb ? na : nb;
    if (nr > NR_MAX) {
        nr = NR_MAX;
    }
    // Candidates: every pair with a positive local similarity, gathered in a bounded buffer;
    // when it fills, only the best nr are kept (quickselect) and gathering goes on.
    pair_t cand[CAND_MAX];
    int nc = 0;
    int hist[65] = {0}; // similarities of the candidates in 1/64 bins
    float sim[CW_FINGER_MAX_MINUTIAE];
    int jj[CW_FINGER_MAX_MINUTIAE];
    int start = 0;
    for (int i = 0; i < na; i++) {
        const uint64_t *ca = A->cyl + (size_t)i * CYL_WORDS, *ma = A->msk + (size_t)i * MSK_WORDS;
        const uint64_t *ra = A->rep + (size_t)i * CYL_WORDS;
        // B's minutiae with directions in [ai - 1/4 turn, ai + 1/4 turn]: a circular run of its
        // direction-sorted list; its start only moves forward as ai grows.
        const uint16_t lo = (uint16_t)(A->ang[i] - DTHETA);
        int guard = 0;
        while (guard < nb && ((uint16_t)(B->ang[start] - lo)) > 2 * DTHETA) {
            start = start + 1 == nb ? 0 : start + 1;
            guard++;
        }
        int nj = 0;
        for (int k = 0, j = start; k < nb; k++) {
            if ((uint16_t)(B->ang[j] - lo) > 2 * DTHETA) {
                break;
            }
            nj++;
            j = j + 1 == nb ? 0 : j + 1;
        }
        // The run as at most two contiguous pieces (it may wrap past the last minutia).
        int first = nj < nb - start ? nj : nb - start;
        int m = kern->cyl_row(ca, ma, ra, B->cyl, B->msk, B->rep, start, first, min_me, jj, sim);
        if (nj > first) {
            m += kern->cyl_row(ca, ma, ra, B->cyl, B->msk, B->rep, 0, nj - first, min_me, jj + m,
                               sim + m);
        }
        for (int q = 0; q < m; q++) {
            if (sim[q] > 0.0f) {
                cand[nc++] = pair_make(sim[q], i, jj[q]);
                hist[(int)(sim[q] * 64.0f)]++;
            }
        }
        if (nc > CAND_MAX - CW_FINGER_MAX_MINUTIAE) {
            select_top(cand, nc, nr);
            nc = nr;
            memset(hist, 0, sizeof(hist));
            for (int c = 0; c < nc; c++) {
                hist[(int)(pair_s(cand[c]) * 64.0f)]++;
            }
        }
    }
    if (nc > nr) {
        // Histogram of similarities: the pairs above the bin holding the nr-th best are in;
        // only that bin's pairs need a selection.
        int cut = 64, above = 0;
        while (above + hist[cut] < nr) {
            above += hist[cut--];
        }
        // bin(s) > cut exactly when s >= (cut + 1) / 64 (scaling by 64 is exact): compare the
        // keys' float bits as integers.
        float hi_f = (float)(cut + 1) / 64.0f, lo_f = (float)cut / 64.0f;
        uint32_t hi, lo;
        memcpy(&hi, &hi_f, sizeof(hi));
        memcpy(&lo, &lo_f, sizeof(lo));
        int w = 0, b = 0;
        pair_t sure[NR_MAX];
        for (int c = 0; c < nc; c++) {
            uint32_t bits = (uint32_t)(cand[c] >> 32);
            if (bits >= hi) {
                sure[w++] = cand[c];
            } else if (bits >= lo) {
                cand[b++] = cand[c]; // b <= c: compaction in place behind the reader
            }
        }
        memmove(cand + w, cand, (size_t)b * sizeof(pair_t));
        memcpy(cand, sure, (size_t)w * sizeof(pair_t));
        select_top(cand + w, b, nr - w);
        nc = nr;
    }
    const pair_t *top = cand;
    int ntop = nc;
    if (ntop == 0) {
        return 0.0f;
    }
    nr = ntop;
    // Relaxation: pairs whose relations to the others agree in both prints reinforce.
    // Rows padded to a multiple of 8 with zeros (and lam too) for the vectorised sums.
    const int nrp = (nr + 7) & ~7;
    float rmat[NRP_MAX * NRP_MAX];
    float lam[2][NRP_MAX];
    for (int t = nr; t < nrp; t++) {
        lam[0][t] = lam[1][t] = 0.0f;
    }
    for (int t = 0; t < nr; t++) {
        int at = pair_a(top[t]), bt = pair_b(top[t]);
        rmat[t * nrp + t] = 0.0f;
        for (int k = nr; k < nrp; k++) {
            rmat[t * nrp + k] = 0.0f;
        }
        const int32_t *da = A->dist + (size_t)at * na, *db = B->dist + (size_t)bt * nb;
        const uint16_t *ra = A->dr + (size_t)at * na, *rb = B->dr + (size_t)bt * nb;
        for (int k = t + 1; k < nr; k++) {
            int ak = pair_a(top[k]), bk = pair_b(top[k]);
            float v = 0.0f;
            if (at != ak && bt != bk) {
                int dd = abs(da[ak] - db[bk]);
                if (dd < Z1_N) {
                    float r1 = g_z1[dd];
                    int d2 = (A->ang[at] - A->ang[ak]) - (B->ang[bt] - B->ang[bk]);
                    int d3 = ra[ak] - rb[bk];
                    v = r1 * za16(d2) * za16(d3);
                }
            }
            rmat[t * nrp + k] = v;
            rmat[k * nrp + t] = v;
        }
        lam[0][t] = pair_s(top[t]);
    }
    int cur = 0;
    const float norm = nr > 1 ? (1.0f - WR) / (float)(nr - 1) : 0.0f;
    for (int it = 0; it < NREL; it++) {
        for (int t = 0; t < nr; t++) {
            // Eight partial sums so that the compiler can keep them in one vector register.
            float acc[8] = {0};
            const float *row = rmat + (size_t)t * nrp;
            for (int k = 0; k < nrp; k += 8) {
                for (int u = 0; u < 8; u++) {
                    acc[u] += row[k + u] * lam[cur][k + u];
                }
            }
            float s =
                ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            lam[cur ^ 1][t] = WR * lam[cur][t] + norm * s;
        }
        cur ^= 1;
    }
    // The nP pairs of highest efficiency (relaxed over initial similarity).
    int mn = na < nb ? na : nb;
    int np = MIN_NP + (int)lrintf(zfun((float)mn, 20.0f, 2.0f / 5.0f) * (MAX_NP - MIN_NP));
    int want = np;
    if (np > nr) {
        np = nr;
    }
    float eff[NR_MAX];
    for (int t = 0; t < nr; t++) {
        eff[t] = lam[cur][t] / pair_s(top[t]);
    }
    // The np best by efficiency, ties to the lower index, summed best first.
    int best[MAX_NP];
    int nbest = 0;
    for (int t = 0; t < nr; t++) {
        if (nbest == np && eff[t] <= eff[best[np - 1]]) {
            continue;
        }
        int q = nbest < np ? nbest++ : np - 1;
        while (q > 0 && eff[best[q - 1]] < eff[t]) {
            best[q] = best[q - 1];
            q--;
        }
        best[q] = t;
    }
    float sum = 0.0f;
    for (int q = 0; q < nbest; q++) {
        sum += lam[cur][best[q]];
    }
    // Fewer pairs than nP count as zeros: a handful of agreeing minutiae is weak evidence.
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

enum { SEARCH_CHUNK = 16 };

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

// Thresholds for CW_FINGER_MATCHER_VERSION, from bench/finger_calibrate on the 12,160
// cross-finger impostor pairs of FVC2002 DB1_B + DB4_B (20 fingers, 160 images): 1e-3 is the
// empirical quantile (12 scores above it); 1e-4 and 1e-5 come from an exponential fit to the
// top 1% of impostor scores (t0 0.0273, beta 0.0035), which reproduces the empirical 1e-3
// quantile to 2e-4. Rounded up. Synthetic prints have a heavier impostor tail (1e-3 at 0.054);
// see docs/finger.md.
float cw_finger_threshold(double fmr)
{
    if (fmr >= 3e-4) {
        return 0.036f; // FMR 1e-3
    }
    if (fmr >= 3e-5) {
        return 0.044f; // FMR 1e-4
    }
    return 0.052f; // FMR 1e-5
}
