// SPDX-License-Identifier: Apache-2.0
// Minutiae extraction from a 500 dpi grayscale fingerprint: block segmentation (grey-level
// spread and gradient coherence), orientation field (gradient tensors smoothed as doubled-angle
// vectors), ridge frequency (oriented signatures), contextual enhancement with an oriented Gabor
// bank, binarisation, Zhang-Suen thinning, crossing-number minutiae traced along their ridges
// for angle and validation, removal of false minutiae, and the image-quality verdict.
#include "finger_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    BS = 8,        // block size (pixels)
    MIN_SIDE = 32, // smallest image we extract from
    TRACE_LEN = 8, // pixels traced along a ridge from a minutia
    MAX_CANDIDATES = 4096,
};

// ---- the Gabor bank (shared with synth.c) ----

static float *g_bank;
static pthread_once_t g_bank_once = PTHREAD_ONCE_INIT;

static void build_bank(void)
{
    float *bank = malloc(sizeof(float) * GABOR_NORI * GABOR_NPER * GABOR_K * GABOR_K);
    if (bank == NULL) {
        return;
    }
    for (int o = 0; o < GABOR_NORI; o++) {
        double th = o * M_PI / GABOR_NORI; // ridge direction
        double c = cos(th), s = sin(th);
        for (int p = 0; p < GABOR_NPER; p++) {
            double per = GABOR_PMIN + p;
            double sx = 0.5 * per, sy = 0.55 * per;
            if (sy > 5.0) {
                sy = 5.0;
            }
            if (sx > 4.5) {
                sx = 4.5;
            }
            float *k = bank + ((size_t)o * GABOR_NPER + (size_t)p) * GABOR_K * GABOR_K;
            double sum = 0.0, wsum = 0.0;
            for (int y = -GABOR_R; y <= GABOR_R; y++) {
                for (int x = -GABOR_R; x <= GABOR_R; x++) {
                    double along = x * c + y * s, across = -x * s + y * c;
                    double env =
                        exp(-0.5 * (across * across / (sx * sx) + along * along / (sy * sy)));
                    k[(y + GABOR_R) * GABOR_K + x + GABOR_R] =
                        (float)(env * cos(2.0 * M_PI * across / per));
                    sum += k[(y + GABOR_R) * GABOR_K + x + GABOR_R];
                    wsum += env;
                }
            }
            // Zero mean (the envelope carries the correction) so flat areas give 0.
            double norm = 0.0;
            for (int y = -GABOR_R; y <= GABOR_R; y++) {
                for (int x = -GABOR_R; x <= GABOR_R; x++) {
                    double along = x * c + y * s, across = -x * s + y * c;
                    double env =
                        exp(-0.5 * (across * across / (sx * sx) + along * along / (sy * sy)));
                    float *v = &k[(y + GABOR_R) * GABOR_K + x + GABOR_R];
                    *v -= (float)(sum * env / wsum);
                    norm += fabs(*v);
                }
            }
            for (int i = 0; i < GABOR_K * GABOR_K; i++) {
                k[i] = (float)(k[i] / norm);
            }
        }
    }
    g_bank = bank;
}

const float *cw__finger_gabor_bank(void)
{
    pthread_once(&g_bank_once, build_bank);
    return g_bank;
}

// ---- working state ----

typedef struct work {
    int w, h;    // image size
    int bw, bh;  // blocks
    float *img;  // input grey levels
    float *norm; // locally normalised
    float *enh;  // Gabor output
    double *ii;  // integral images: grey, grey^2 (w+1)*(h+1) each
    double *ii2;
    float *gx, *gy;     // gradients
    float *bcos, *bsin; // smoothed doubled-angle vector per block (unit)
    float *coh;         // coherence per block
    float *bstd;        // grey-level spread per block
    float *bper;        // ridge period per block
    uint8_t *mask;      // foreground per block
    uint8_t *bdist;     // distance to the background in blocks (capped)
    uint8_t *bin;       // ridge pixels (1) / skeleton
    uint8_t *visit;     // tracing marks
} work_t;

static void work_free(work_t *k)
{
    size_t np = (size_t)k->w * k->h;
    size_t ni = (size_t)(k->w + 1) * (k->h + 1);
    cw_free_wipe(k->img, np * sizeof(float));
    cw_free_wipe(k->norm, np * sizeof(float));
    cw_free_wipe(k->enh, np * sizeof(float));
    cw_free_wipe(k->gx, np * sizeof(float));
    cw_free_wipe(k->gy, np * sizeof(float));
    cw_free_wipe(k->ii, ni * sizeof(double));
    cw_free_wipe(k->ii2, ni * sizeof(double));
    cw_free_wipe(k->bin, np);
    cw_free_wipe(k->visit, np);
    cw_free(k->bcos);
    cw_free(k->bsin);
    cw_free(k->coh);
    cw_free(k->bstd);
    cw_free(k->bper);
    cw_free(k->mask);
    cw_free(k->bdist);
}

static int work_alloc(work_t *k, int w, int h)
{
    memset(k, 0, sizeof(*k));
    k->w = w;
    k->h = h;
    k->bw = (w + BS - 1) / BS;
    k->bh = (h + BS - 1) / BS;
    size_t np = (size_t)w * h, nb = (size_t)k->bw * k->bh;
    size_t ni = (size_t)(w + 1) * (h + 1);
    k->img = cw_malloc(np * sizeof(float));
    k->norm = cw_malloc(np * sizeof(float));
    k->enh = cw_calloc(np, sizeof(float));
    k->gx = cw_malloc(np * sizeof(float));
    k->gy = cw_malloc(np * sizeof(float));
    k->ii = cw_malloc(ni * sizeof(double));
    k->ii2 = cw_malloc(ni * sizeof(double));
    k->bin = cw_calloc(np, 1);
    k->visit = cw_calloc(np, 1);
    k->bcos = cw_malloc(nb * sizeof(float));
    k->bsin = cw_malloc(nb * sizeof(float));
    k->coh = cw_malloc(nb * sizeof(float));
    k->bstd = cw_malloc(nb * sizeof(float));
    k->bper = cw_malloc(nb * sizeof(float));
    k->mask = cw_calloc(nb, 1);
    k->bdist = cw_calloc(nb, 1);
    if (!k->img || !k->norm || !k->enh || !k->gx || !k->gy || !k->ii || !k->ii2 || !k->bin ||
        !k->visit || !k->bcos || !k->bsin || !k->coh || !k->bstd || !k->bper || !k->mask ||
        !k->bdist) {
        work_free(k);
        return CW_ENOMEM;
    }
    return 0;
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

// Sum of an integral image over [x0, x1) x [y0, y1), clipped to the image.
static double box(const double *ii, int w, int h, int x0, int y0, int x1, int y1, int *area)
{
    x0 = clampi(x0, 0, w);
    x1 = clampi(x1, 0, w);
    y0 = clampi(y0, 0, h);
    y1 = clampi(y1, 0, h);
    size_t s = (size_t)w + 1;
    *area = (x1 - x0) * (y1 - y0);
    return ii[(size_t)y1 * s + x1] - ii[(size_t)y0 * s + x1] - ii[(size_t)y1 * s + x0] +
           ii[(size_t)y0 * s + x0];
}

static void integrals(work_t *k)
{
    size_t s = (size_t)k->w + 1;
    memset(k->ii, 0, s * sizeof(double));
    memset(k->ii2, 0, s * sizeof(double));
    for (int y = 0; y < k->h; y++) {
        double r = 0.0, r2 = 0.0;
        k->ii[(size_t)(y + 1) * s] = 0.0;
        k->ii2[(size_t)(y + 1) * s] = 0.0;
        for (int x = 0; x < k->w; x++) {
            double v = k->img[(size_t)y * k->w + x];
            r += v;
            r2 += v * v;
            k->ii[(size_t)(y + 1) * s + x + 1] = k->ii[(size_t)y * s + x + 1] + r;
            k->ii2[(size_t)(y + 1) * s + x + 1] = k->ii2[(size_t)y * s + x + 1] + r2;
        }
    }
}

// Local mean/spread normalisation over a 17x17 window: equalises contrast for the Gabor stage.
static void normalise(work_t *k)
{
    for (int y = 0; y < k->h; y++) {
        for (int x = 0; x < k->w; x++) {
            int a;
            double s = box(k->ii, k->w, k->h, x - 8, y - 8, x + 9, y + 9, &a);
            double s2 = box(k->ii2, k->w, k->h, x - 8, y - 8, x + 9, y + 9, &a);
            double m = s / a, var = s2 / a - m * m;
            double sd = var > 1.0 ? sqrt(var) : 1.0;
            k->norm[(size_t)y * k->w + x] = (float)((k->img[(size_t)y * k->w + x] - m) / sd);
        }
    }
}

static void gradients(work_t *k)
{
    int w = k->w, h = k->h;
    for (int y = 0; y < h; y++) {
        int ym = y > 0 ? y - 1 : 0, yp = y < h - 1 ? y + 1 : h - 1;
        for (int x = 0; x < w; x++) {
            int xm = x > 0 ? x - 1 : 0, xp = x < w - 1 ? x + 1 : w - 1;
            const float *I = k->img;
            float gx =
                (I[(size_t)ym * w + xp] + 2 * I[(size_t)y * w + xp] + I[(size_t)yp * w + xp]) -
                (I[(size_t)ym * w + xm] + 2 * I[(size_t)y * w + xm] + I[(size_t)yp * w + xm]);
            float gy =
                (I[(size_t)yp * w + xm] + 2 * I[(size_t)yp * w + x] + I[(size_t)yp * w + xp]) -
                (I[(size_t)ym * w + xm] + 2 * I[(size_t)ym * w + x] + I[(size_t)ym * w + xp]);
            k->gx[(size_t)y * w + x] = gx;
            k->gy[(size_t)y * w + x] = gy;
        }
    }
}

// Gaussian smoothing of a block field (sigma in blocks), weighted by wgt (may be NULL).
static void smooth_blocks(const work_t *k, float *f, const float *wgt, float sigma, float *tmp)
{
    int r = (int)ceilf(2.0f * sigma);
    float g[16];
    if (r > 7) {
        r = 7;
    }
    for (int i = -r; i <= r; i++) {
        g[i + r] = expf(-0.5f * i * i / (sigma * sigma));
    }
    for (int by = 0; by < k->bh; by++) {
        for (int bx = 0; bx < k->bw; bx++) {
            float s = 0, ws = 0;
            for (int i = -r; i <= r; i++) {
                int x = bx + i;
                if (x < 0 || x >= k->bw) {
                    continue;
                }
                float wv = g[i + r] * (wgt ? wgt[by * k->bw + x] : 1.0f);
                s += wv * f[by * k->bw + x];
                ws += wv;
            }
            tmp[by * k->bw + bx] = ws > 0 ? s / ws : 0;
        }
    }
    for (int by = 0; by < k->bh; by++) {
        for (int bx = 0; bx < k->bw; bx++) {
            float s = 0, ws = 0;
            for (int i = -r; i <= r; i++) {
                int y = by + i;
                if (y < 0 || y >= k->bh) {
                    continue;
                }
                float wv = g[i + r] * (wgt ? 1.0f : 1.0f);
                s += wv * tmp[y * k->bw + bx];
                ws += wv;
            }
            f[by * k->bw + bx] = ws > 0 ? s / ws : 0;
        }
    }
}

// Orientation tensors per block over a 24x24 window; coherence; grey spread over 16x16.
static int orientation(work_t *k)
{
    int nb = k->bw * k->bh;
    float *vx = cw_malloc((size_t)nb * sizeof(float) * 3);
    if (vx == NULL) {
        return CW_ENOMEM;
    }
    float *vy = vx + nb, *tmp = vy + nb;
    for (int by = 0; by < k->bh; by++) {
        for (int bx = 0; bx < k->bw; bx++) {
            int cx = bx * BS + BS / 2, cy = by * BS + BS / 2;
            double sxx = 0, syy = 0, sxy = 0;
            for (int y = clampi(cy - 12, 0, k->h); y < clampi(cy + 12, 0, k->h); y++) {
                for (int x = clampi(cx - 12, 0, k->w); x < clampi(cx + 12, 0, k->w); x++) {
                    double gx = k->gx[(size_t)y * k->w + x], gy = k->gy[(size_t)y * k->w + x];
                    sxx += gx * gx;
                    syy += gy * gy;
                    sxy += gx * gy;
                }
            }
            double a = sxx - syy, b = 2 * sxy, e = sxx + syy;
            double mag = sqrt(a * a + b * b);
            int i = by * k->bw + bx;
            k->coh[i] = e > 1e-9 ? (float)(mag / e) : 0.0f;
            vx[i] = (float)(e > 1e-9 ? a / e : 0.0);
            vy[i] = (float)(e > 1e-9 ? b / e : 0.0);
            int area;
            double s = box(k->ii, k->w, k->h, cx - 8, cy - 8, cx + 8, cy + 8, &area);
            double s2 = box(k->ii2, k->w, k->h, cx - 8, cy - 8, cx + 8, cy + 8, &area);
            double m = s / area, var = s2 / area - m * m;
            k->bstd[i] = var > 0 ? (float)sqrt(var) : 0.0f;
        }
    }
    smooth_blocks(k, vx, NULL, 1.5f, tmp);
    smooth_blocks(k, vy, NULL, 1.5f, tmp);
    for (int i = 0; i < nb; i++) {
        float m = sqrtf(vx[i] * vx[i] + vy[i] * vy[i]);
        // Gradient direction phi = atan2(vy, vx) / 2; the ridge runs at phi + pi/2, so the
        // ridge's doubled angle is the gradient's plus pi: negate the vector.
        k->bcos[i] = m > 1e-6f ? -vx[i] / m : 1.0f;
        k->bsin[i] = m > 1e-6f ? -vy[i] / m : 0.0f;
    }
    cw_free(vx);
    return 0;
}

// ---- segmentation ----

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void majority(work_t *k, uint8_t *tmp)
{
    for (int by = 0; by < k->bh; by++) {
        for (int bx = 0; bx < k->bw; bx++) {
            int c = 0, n = 0;
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    int x = bx + dx, y = by + dy;
                    n++;
                    if (x >= 0 && y >= 0 && x < k->bw && y < k->bh) {
                        c += k->mask[y * k->bw + x];
                    }
                }
            }
            tmp[by * k->bw + bx] = (uint8_t)(2 * c > n);
        }
    }
    memcpy(k->mask, tmp, (size_t)k->bw * k->bh);
}

// Flood fill from a seed on the block grid: labels the component of value `v` in `m`, returns
// its size and sets *touches if it reaches the edge of the image.
static int flood(const work_t *k, const uint8_t *m, uint8_t v, int *lab, int *stack, int seed,
                 int label, int *touches)
{
    int n = 0, sp = 0;
    stack[sp++] = seed;
    lab[seed] = label;
    *touches = 0;
    while (sp > 0) {
        int i = stack[--sp];
        n++;
        int x = i % k->bw, y = i / k->bw;
        *touches |= x == 0 || y == 0 || x == k->bw - 1 || y == k->bh - 1;
        const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
        for (int d = 0; d < 4; d++) {
            if (nx[d] < 0 || ny[d] < 0 || nx[d] >= k->bw || ny[d] >= k->bh) {
                continue;
            }
            int j = ny[d] * k->bw + nx[d];
            if (lab[j] == 0 && m[j] == v) {
                lab[j] = label;
                stack[sp++] = j;
            }
        }
    }
    return n;
}

static int segment(work_t *k)
{
    int nb = k->bw * k->bh;
    float *sorted = cw_malloc((size_t)nb * sizeof(float));
    int *lab = cw_calloc((size_t)nb, sizeof(int));
    int *stack = cw_malloc((size_t)nb * sizeof(int));
    uint8_t *tmp = cw_malloc((size_t)nb);
    if (!sorted || !lab || !stack || !tmp) {
        cw_free(sorted);
        cw_free(lab);
        cw_free(stack);
        cw_free(tmp);
        return CW_ENOMEM;
    }
    memcpy(sorted, k->bstd, (size_t)nb * sizeof(float));
    qsort(sorted, (size_t)nb, sizeof(float), cmp_float);
    float p90 = sorted[(nb * 9) / 10];
    float thr = 0.3f * p90;
    if (thr < 2.5f) {
        thr = 2.5f;
    }
    // Faint prints (spread under 6 grey levels) count only where ridges are clearly oriented,
    // so that a light touch gets "press firmer" rather than "no finger".
    for (int i = 0; i < nb; i++) {
        k->mask[i] = (uint8_t)(k->bstd[i] > thr && (k->coh[i] > 0.15f || k->bstd[i] > 2 * thr) &&
                               (k->bstd[i] >= 6.0f || k->coh[i] > 0.4f));
    }
    majority(k, tmp);
    majority(k, tmp);
    // Keep the largest foreground component.
    int best = 0, best_label = 0, label = 0;
    for (int i = 0; i < nb; i++) {
        if (k->mask[i] && lab[i] == 0) {
            int touches;
            int n = flood(k, k->mask, 1, lab, stack, i, ++label, &touches);
            if (n > best) {
                best = n;
                best_label = label;
            }
        }
    }
    for (int i = 0; i < nb; i++) {
        k->mask[i] = (uint8_t)(k->mask[i] && lab[i] == best_label);
    }
    // Fill holes: background components that do not touch the image border.
    memset(lab, 0, (size_t)nb * sizeof(int));
    label = 0;
    // Labels of enclosed background components are negated, then filled in one pass.
    for (int i = 0; i < nb; i++) {
        if (!k->mask[i] && lab[i] == 0) {
            int touches;
            ++label;
            flood(k, k->mask, 0, lab, stack, i, label, &touches);
            if (!touches) {
                lab[i] = -label; // mark the component by its seed; resolved below
            }
        }
    }
    // A seed marked negative names an enclosed component: flood it into the mask.
    uint8_t *enclosed = tmp;
    memset(enclosed, 0, (size_t)nb);
    for (int i = 0; i < nb; i++) {
        if (lab[i] < 0) {
            lab[i] = -lab[i];
            enclosed[i] = 1;
        }
    }
    for (int i = 0; i < nb; i++) {
        if (enclosed[i]) {
            int want = lab[i];
            int sp = 0;
            stack[sp++] = i;
            k->mask[i] = 1;
            while (sp > 0) {
                int j = stack[--sp];
                int x = j % k->bw, y = j / k->bw;
                const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
                for (int d = 0; d < 4; d++) {
                    if (nx[d] < 0 || ny[d] < 0 || nx[d] >= k->bw || ny[d] >= k->bh) {
                        continue;
                    }
                    int q = ny[d] * k->bw + nx[d];
                    if (!k->mask[q] && lab[q] == want) {
                        k->mask[q] = 1;
                        stack[sp++] = q;
                    }
                }
            }
        }
    }
    // Distance to the background in blocks (chessboard), the image edge counting as background.
    for (int i = 0; i < nb; i++) {
        int x = i % k->bw, y = i / k->bw;
        k->bdist[i] = k->mask[i] ? 255 : 0;
        if (k->mask[i] && (x == 0 || y == 0 || x == k->bw - 1 || y == k->bh - 1)) {
            k->bdist[i] = 1;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 0; t < nb; t++) {
            int i = pass == 0 ? t : nb - 1 - t;
            int x = i % k->bw, y = i / k->bw;
            if (k->bdist[i] == 0) {
                continue;
            }
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= k->bw || ny >= k->bh) {
                        continue;
                    }
                    int d = k->bdist[ny * k->bw + nx] + 1;
                    if (d < k->bdist[i]) {
                        k->bdist[i] = (uint8_t)d;
                    }
                }
            }
        }
    }
    cw_free(sorted);
    cw_free(lab);
    cw_free(stack);
    cw_free(tmp);
    return 0;
}

// ---- ridge frequency ----

static float sample(const work_t *k, const float *f, float x, float y)
{
    int xi = clampi((int)lrintf(x), 0, k->w - 1), yi = clampi((int)lrintf(y), 0, k->h - 1);
    return f[(size_t)yi * k->w + xi];
}

static void frequency(work_t *k, float *tmp)
{
    int nb = k->bw * k->bh;
    float *valid = tmp + nb;
    for (int i = 0; i < nb; i++) {
        k->bper[i] = 0.0f;
        valid[i] = 0.0f;
        if (!k->mask[i]) {
            continue;
        }
        float c2 = k->bcos[i], s2 = k->bsin[i];
        float th = 0.5f * atan2f(s2, c2); // ridge direction
        float tc = cosf(th), ts = sinf(th);
        float nc = -ts, ns = tc; // normal
        float cx = (float)((i % k->bw) * BS + BS / 2), cy = (float)((i / k->bw) * BS + BS / 2);
        float sig[32];
        for (int j = 0; j < 32; j++) {
            float a = (float)(j - 16), s = 0;
            for (int l = -3; l <= 3; l++) {
                s += sample(k, k->norm, cx + a * nc + 2.0f * l * tc, cy + a * ns + 2.0f * l * ts);
            }
            sig[j] = s;
        }
        int first = -1, last = -1, npk = 0;
        for (int j = 1; j < 31; j++) {
            float v = 0.25f * sig[j - 1] + 0.5f * sig[j] + 0.25f * sig[j + 1];
            float vl = j > 1 ? 0.25f * sig[j - 2] + 0.5f * sig[j - 1] + 0.25f * sig[j] : sig[0];
            float vr = j < 30 ? 0.25f * sig[j] + 0.5f * sig[j + 1] + 0.25f * sig[j + 2] : sig[31];
            if (v > vl && v >= vr && v > 0.0f) {
                if (first < 0) {
                    first = j;
                }
                last = j;
                npk++;
            }
        }
        if (npk >= 2) {
            float per = (float)(last - first) / (float)(npk - 1);
            if (per >= 4.0f && per <= 16.0f) {
                k->bper[i] = per;
                valid[i] = 1.0f;
            }
        }
    }
    // Fill the blocks without an estimate from their neighbours, then smooth.
    double sum = 0;
    int n = 0;
    for (int i = 0; i < nb; i++) {
        if (valid[i] > 0) {
            sum += k->bper[i];
            n++;
        }
    }
    float mean = n > 0 ? (float)(sum / n) : 9.0f;
    for (int i = 0; i < nb; i++) {
        if (valid[i] == 0) {
            k->bper[i] = mean;
        }
    }
    smooth_blocks(k, k->bper, valid, 2.0f, tmp);
    for (int i = 0; i < nb; i++) {
        k->bper[i] = clampf(k->bper[i], 5.0f, 15.0f);
    }
}

// ---- enhancement ----

static int enhance(work_t *k)
{
    const float *bank = cw__finger_gabor_bank();
    if (bank == NULL) {
        return CW_ENOMEM;
    }
    int w = k->w, h = k->h;
    for (int y = 0; y < h; y++) {
        int by = y / BS;
        for (int x = 0; x < w; x++) {
            int bx = x / BS;
            float *out = &k->enh[(size_t)y * w + x];
            *out = 0.0f;
            // Pixels in or next to the foreground only.
            int near = 0;
            for (int dy = -1; dy <= 1 && !near; dy++) {
                for (int dx = -1; dx <= 1 && !near; dx++) {
                    int nx = bx + dx, ny = by + dy;
                    near =
                        nx >= 0 && ny >= 0 && nx < k->bw && ny < k->bh && k->mask[ny * k->bw + nx];
                }
            }
            if (!near) {
                continue;
            }
            // Bilinear orientation (doubled-angle) and period between block centres.
            float fx = ((float)x - BS / 2 + 0.5f) / BS, fy = ((float)y - BS / 2 + 0.5f) / BS;
            int x0 = clampi((int)floorf(fx), 0, k->bw - 1),
                y0 = clampi((int)floorf(fy), 0, k->bh - 1);
            int x1 = clampi(x0 + 1, 0, k->bw - 1), y1 = clampi(y0 + 1, 0, k->bh - 1);
            float ax = clampf(fx - x0, 0, 1), ay = clampf(fy - y0, 0, 1);
            int i00 = y0 * k->bw + x0, i01 = y0 * k->bw + x1, i10 = y1 * k->bw + x0,
                i11 = y1 * k->bw + x1;
            float w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay,
                  w11 = ax * ay;
            float c =
                w00 * k->bcos[i00] + w01 * k->bcos[i01] + w10 * k->bcos[i10] + w11 * k->bcos[i11];
            float s =
                w00 * k->bsin[i00] + w01 * k->bsin[i01] + w10 * k->bsin[i10] + w11 * k->bsin[i11];
            float per =
                w00 * k->bper[i00] + w01 * k->bper[i01] + w10 * k->bper[i10] + w11 * k->bper[i11];
            float th = 0.5f * atan2f(s, c);
            if (th < 0) {
                th += (float)M_PI;
            }
            int o = (int)lrintf(th * GABOR_NORI / (float)M_PI) % GABOR_NORI;
            int p = clampi((int)lrintf(per) - GABOR_PMIN, 0, GABOR_NPER - 1);
            const float *kern = cw__finger_gabor_kernel(bank, o, p);
            float acc = 0.0f;
            if (x >= GABOR_R && y >= GABOR_R && x < w - GABOR_R && y < h - GABOR_R) {
                for (int ky = 0; ky < GABOR_K; ky++) {
                    const float *row = k->norm + (size_t)(y + ky - GABOR_R) * w + x - GABOR_R;
                    const float *kr = kern + ky * GABOR_K;
                    for (int kx = 0; kx < GABOR_K; kx++) {
                        acc += kr[kx] * row[kx];
                    }
                }
            } else {
                for (int ky = 0; ky < GABOR_K; ky++) {
                    int yy = clampi(y + ky - GABOR_R, 0, h - 1);
                    for (int kx = 0; kx < GABOR_K; kx++) {
                        int xx = clampi(x + kx - GABOR_R, 0, w - 1);
                        acc += kern[ky * GABOR_K + kx] * k->norm[(size_t)yy * w + xx];
                    }
                }
            }
            *out = acc;
        }
    }
    return 0;
}

// ---- binarisation and thinning ----

static void binarise(work_t *k)
{
    for (int y = 0; y < k->h; y++) {
        for (int x = 0; x < k->w; x++) {
            size_t i = (size_t)y * k->w + x;
            int b = (y / BS) * k->bw + x / BS;
            // Ridges are dark: a negative response to the (bright-centred) kernel.
            k->bin[i] = (uint8_t)(k->mask[b] && k->enh[i] < 0.0f);
        }
    }
    // One-pixel border cleared so that neighbourhood reads stay inside.
    for (int x = 0; x < k->w; x++) {
        k->bin[x] = 0;
        k->bin[(size_t)(k->h - 1) * k->w + x] = 0;
    }
    for (int y = 0; y < k->h; y++) {
        k->bin[(size_t)y * k->w] = 0;
        k->bin[(size_t)y * k->w + k->w - 1] = 0;
    }
}

// Neighbours P2..P9 clockwise from north.
static inline void neighbours(const uint8_t *b, int w, size_t i, int p[8])
{
    p[0] = b[i - w];
    p[1] = b[i - w + 1];
    p[2] = b[i + 1];
    p[3] = b[i + w + 1];
    p[4] = b[i + w];
    p[5] = b[i + w - 1];
    p[6] = b[i - 1];
    p[7] = b[i - w - 1];
}

static void thin(work_t *k)
{
    int w = k->w, h = k->h;
    uint8_t *del = k->visit;
    int changed = 1;
    for (int iter = 0; changed && iter < 40; iter++) {
        changed = 0;
        for (int sub = 0; sub < 2; sub++) {
            memset(del, 0, (size_t)w * h);
            for (int y = 1; y < h - 1; y++) {
                for (int x = 1; x < w - 1; x++) {
                    size_t i = (size_t)y * w + x;
                    if (!k->bin[i]) {
                        continue;
                    }
                    int p[8];
                    neighbours(k->bin, w, i, p);
                    int bsum = 0, a = 0;
                    for (int j = 0; j < 8; j++) {
                        bsum += p[j];
                        a += !p[j] && p[(j + 1) & 7];
                    }
                    if (bsum < 2 || bsum > 6 || a != 1) {
                        continue;
                    }
                    if (sub == 0 ? (p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6])
                                 : (p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6])) {
                        continue;
                    }
                    del[i] = 1;
                }
            }
            for (size_t i = 0; i < (size_t)w * h; i++) {
                if (del[i]) {
                    k->bin[i] = 0;
                    changed = 1;
                }
            }
        }
    }
    // Remove staircase pixels (a pixel whose removal keeps 8-connectivity and which has two
    // 4-neighbours at a right angle), so crossing numbers see clean one-pixel lines.
    for (int y = 1; y < h - 1; y++) {
        for (int x = 1; x < w - 1; x++) {
            size_t i = (size_t)y * w + x;
            if (!k->bin[i]) {
                continue;
            }
            int p[8];
            neighbours(k->bin, w, i, p);
            int n = p[0] + p[2] + p[4] + p[6];
            int d = p[1] + p[3] + p[5] + p[7];
            if (n == 2 && d == 0 &&
                ((p[0] && p[2]) || (p[2] && p[4]) || (p[4] && p[6]) || (p[6] && p[0]))) {
                int opp = (p[0] && p[2])   ? p[5]
                          : (p[2] && p[4]) ? p[7]
                          : (p[4] && p[6]) ? p[1]
                                           : p[3];
                if (!opp) {
                    k->bin[i] = 0;
                }
            }
        }
    }
    memset(del, 0, (size_t)w * h);
}

// ---- minutiae ----

typedef struct cand {
    int x, y;
    int type;    // 1 ending, 3 bifurcation (crossing number)
    float angle; // radians, image coordinates
    float quality;
    int alive;
} cand_t;

static int crossing(const uint8_t *b, int w, size_t i)
{
    int p[8];
    neighbours(b, w, i, p);
    int cn = 0;
    for (int j = 0; j < 8; j++) {
        cn += p[j] != p[(j + 1) & 7];
    }
    return cn / 2;
}

static const int DX8[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int DY8[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

// Follow the skeleton from (x, y) through first step (fx, fy) for up to len pixels. Returns the
// end point and 1 if the trace stopped at another minutia (crossing number != 2) early.
static int trace(const work_t *k, int x, int y, int fx, int fy, int len, int *ex, int *ey,
                 int *steps)
{
    int px = x, py = y, cx = fx, cy = fy, w = k->w;
    int n = 1;
    while (n < len) {
        size_t ci = (size_t)cy * w + cx;
        if (cx <= 0 || cy <= 0 || cx >= k->w - 1 || cy >= k->h - 1) {
            break;
        }
        int cn = crossing(k->bin, w, ci);
        if (cn != 2) {
            *ex = cx;
            *ey = cy;
            *steps = n;
            return 1;
        }
        int nx = -1, ny = -1, best = 99;
        for (int d = 0; d < 8; d++) {
            int qx = cx + DX8[d], qy = cy + DY8[d];
            if ((qx == px && qy == py) || !k->bin[(size_t)qy * w + qx]) {
                continue;
            }
            // Do not step back next to where we came from.
            int back = abs(qx - px) <= 1 && abs(qy - py) <= 1;
            int cost = back * 10 + ((DX8[d] != 0) + (DY8[d] != 0));
            if (cost < best) {
                best = cost;
                nx = qx;
                ny = qy;
            }
        }
        if (nx < 0 || best >= 10) {
            break;
        }
        px = cx;
        py = cy;
        cx = nx;
        cy = ny;
        n++;
    }
    *ex = cx;
    *ey = cy;
    *steps = n;
    return 0;
}

static float angdiff(float a, float b)
{
    float d = fmodf(a - b, 2.0f * (float)M_PI);
    if (d > (float)M_PI) {
        d -= 2.0f * (float)M_PI;
    } else if (d < -(float)M_PI) {
        d += 2.0f * (float)M_PI;
    }
    return d;
}

// Ridge direction of the block containing (x, y), snapped to the sense nearest `traced`.
static float snap(const work_t *k, int x, int y, float traced)
{
    int b = (y / BS) * k->bw + x / BS;
    float th = 0.5f * atan2f(k->bsin[b], k->bcos[b]);
    float d = angdiff(traced, th);
    if (fabsf(d) > (float)M_PI / 2) {
        th += (float)M_PI;
        d = angdiff(traced, th);
    }
    // Block orientation is the more precise; keep a little of the local trace.
    return th + 0.25f * d;
}

// Examine candidate c: trace its branches, set its angle, and report false structures.
// Returns 0 if plausible, 1 if it belongs to a short ridge, spur, bridge or hole.
static int examine(const work_t *k, cand_t *c)
{
    int br[3][2], nb = 0;
    int w = k->w;
    for (int d = 0; d < 8 && nb < 3; d++) {
        int qx = c->x + DX8[d], qy = c->y + DY8[d];
        if (!k->bin[(size_t)qy * w + qx]) {
            continue;
        }
        // Skip a neighbour adjacent to an already chosen branch start (same branch).
        int dup = 0;
        for (int j = 0; j < nb; j++) {
            dup |= abs(br[j][0] - qx) + abs(br[j][1] - qy) <= 1;
        }
        if (!dup) {
            br[nb][0] = qx;
            br[nb][1] = qy;
            nb++;
        }
    }
    int want = c->type == 1 ? 1 : 3;
    if (nb != want) {
        return 1;
    }
    float dir[3];
    for (int j = 0; j < nb; j++) {
        int ex, ey, steps;
        int hit = trace(k, c->x, c->y, br[j][0], br[j][1], TRACE_LEN, &ex, &ey, &steps);
        if (hit && steps < TRACE_LEN) {
            return 1; // another minutia close along the same ridge
        }
        dir[j] = atan2f((float)(ey - c->y), (float)(ex - c->x));
    }
    float traced;
    if (c->type == 1) {
        traced = dir[0] + (float)M_PI; // outward from the ridge end
    } else {
        // The two branches closest in angle are the fork; the third is the stem, which the
        // angle points along (as the dual valley ending would).
        float d01 = fabsf(angdiff(dir[0], dir[1])), d02 = fabsf(angdiff(dir[0], dir[2])),
              d12 = fabsf(angdiff(dir[1], dir[2]));
        int stem = d01 <= d02 && d01 <= d12 ? 2 : d02 <= d12 ? 1 : 0;
        traced = dir[stem];
    }
    c->angle = snap(k, c->x, c->y, traced);
    return 0;
}

static int cmp_cand_quality(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->quality != y->quality) {
        return x->quality < y->quality ? 1 : -1;
    }
    return (x->y * 65536 + x->x) - (y->y * 65536 + y->x);
}

static int minutiae(work_t *k, cw_finger_template_t *out)
{
    cand_t *c = cw_malloc(MAX_CANDIDATES * sizeof(*c));
    if (c == NULL) {
        return CW_ENOMEM;
    }
    int n = 0;
    for (int y = 2; y < k->h - 2 && n < MAX_CANDIDATES; y++) {
        for (int x = 2; x < k->w - 2 && n < MAX_CANDIDATES; x++) {
            size_t i = (size_t)y * k->w + x;
            if (!k->bin[i]) {
                continue;
            }
            int cn = crossing(k->bin, k->w, i);
            if (cn != 1 && cn != 3) {
                continue;
            }
            int b = (y / BS) * k->bw + x / BS;
            if (k->bdist[b] < 2) {
                continue; // too close to the edge of the print
            }
            c[n] = (cand_t){x, y, cn, 0.0f, 0.0f, 1};
            n++;
        }
    }
    for (int i = 0; i < n; i++) {
        if (examine(k, &c[i]) != 0) {
            c[i].alive = 0;
        }
    }
    // Pairs: too close, or facing ridge endings (a broken ridge).
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            float dx = (float)(c[j].x - c[i].x), dy = (float)(c[j].y - c[i].y);
            float d2 = dx * dx + dy * dy;
            if (d2 > 20.0f * 20.0f) {
                continue;
            }
            if (d2 < 5.0f * 5.0f) {
                c[i].alive = c[j].alive = 0;
                continue;
            }
            if (c[i].type == 1 && c[j].type == 1 && d2 < 16.0f * 16.0f) {
                float opp = fabsf(angdiff(c[i].angle, c[j].angle + (float)M_PI));
                float line = atan2f(dy, dx); // from i to j
                float ai = fabsf(angdiff(c[i].angle, line));
                if (opp < 0.6f && ai < 0.8f) {
                    c[i].alive = c[j].alive = 0;
                }
            }
        }
    }
    // Clusters: many minutiae in a small disc are noise.
    for (int i = 0; i < n; i++) {
        int cnt = 0;
        for (int j = 0; j < n; j++) {
            int dx = c[j].x - c[i].x, dy = c[j].y - c[i].y;
            cnt += dx * dx + dy * dy < 16 * 16;
        }
        if (cnt > 4) {
            c[i].quality = -1.0f;
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!c[i].alive || c[i].quality < 0.0f) {
            continue;
        }
        int b = (c[i].y / BS) * k->bw + c[i].x / BS;
        float q = clampf((k->coh[b] - 0.1f) / 0.6f, 0.05f, 1.0f);
        q *= clampf((float)k->bdist[b] / 4.0f, 0.25f, 1.0f);
        c[i].quality = q;
        c[m++] = c[i];
    }
    qsort(c, (size_t)m, sizeof(*c), cmp_cand_quality);
    if (m > CW_FINGER_MAX_MINUTIAE) {
        m = CW_FINGER_MAX_MINUTIAE;
    }
    out->n = (uint16_t)m;
    for (int i = 0; i < m; i++) {
        cw_minutia_t *mt = &out->m[i];
        mt->x = (uint16_t)c[i].x;
        mt->y = (uint16_t)c[i].y;
        mt->angle = cw__finger_angle_to_iso(c[i].angle);
        mt->type = (uint8_t)(c[i].type == 1 ? CW_MINUTIA_ENDING : CW_MINUTIA_BIFURCATION);
        mt->quality = (uint8_t)lrintf(100.0f * c[i].quality);
    }
    cw_free(c);
    return 0;
}

// ---- quality ----

const char *cw_finger_verdict_text(cw_finger_verdict_t v)
{
    switch (v) {
    case CW_FINGER_OK:
        return "good";
    case CW_FINGER_NO_FINGER:
        return "no finger found: place a finger on the sensor";
    case CW_FINGER_PRESS_FIRMER:
        return "press firmer";
    case CW_FINGER_CLEAN_SENSOR:
        return "clean the sensor";
    case CW_FINGER_PLACE_CENTRE:
        return "place the centre of the finger";
    }
    return "unknown";
}

static void assess(const work_t *k, int n_minutiae, cw_finger_quality_t *q)
{
    int nb = k->bw * k->bh, nf = 0;
    double coh = 0, con = 0, sx = 0, sy = 0;
    for (int i = 0; i < nb; i++) {
        if (k->mask[i]) {
            nf++;
            coh += k->coh[i];
            con += k->bstd[i];
            sx += i % k->bw + 0.5;
            sy += i / k->bw + 0.5;
        }
    }
    memset(q, 0, sizeof(*q));
    q->area = (float)nf / (float)nb;
    if (nf < 16) {
        q->verdict = CW_FINGER_NO_FINGER;
        return;
    }
    q->coherence = (float)(coh / nf);
    q->contrast = (float)(con / nf);
    double dx = (sx / nf - k->bw / 2.0) / (k->bw / 2.0),
           dy = (sy / nf - k->bh / 2.0) / (k->bh / 2.0);
    q->centre_offset = (float)sqrt(dx * dx + dy * dy);
    float s_area = clampf(q->area / 0.45f, 0, 1);
    float s_coh = clampf((q->coherence - 0.2f) / 0.45f, 0, 1);
    float s_con = clampf((q->contrast - 6.0f) / 20.0f, 0, 1);
    float s_min = clampf((float)n_minutiae / 25.0f, 0, 1);
    q->score = (int)lrintf(100.0f * s_area * s_coh * sqrtf(s_con) * sqrtf(s_min));
    if (q->coherence < 0.2f && q->area < 0.1f) {
        q->verdict = CW_FINGER_NO_FINGER;
    } else if (q->contrast < 10.0f) {
        q->verdict = CW_FINGER_PRESS_FIRMER;
    } else if (q->coherence < 0.35f) {
        q->verdict = CW_FINGER_CLEAN_SENSOR;
    } else if (q->area < 0.2f || q->centre_offset > 0.6f) {
        q->verdict = CW_FINGER_PLACE_CENTRE;
    } else if (n_minutiae < 8) {
        q->verdict = CW_FINGER_PRESS_FIRMER;
    } else {
        q->verdict = CW_FINGER_OK;
    }
}

int cw_finger_extract(const cw_image_t *img, cw_finger_template_t *out,
                      cw_finger_quality_t *quality, char *diag, size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (quality != NULL) {
        memset(quality, 0, sizeof(*quality));
    }
    if (img == NULL || out == NULL || img->data == NULL || img->channels != 1 ||
        img->stride < (size_t)img->width) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "finger: need a 1-channel image");
    }
    if (img->width < MIN_SIDE || img->height < MIN_SIDE) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "finger: image %dx%d smaller than %dx%d",
                           img->width, img->height, MIN_SIDE, MIN_SIDE);
    }
    if (img->width > CW_FINGER_MAX_SIDE || img->height > CW_FINGER_MAX_SIDE ||
        (long)img->width * img->height > CW_FINGER_MAX_PIXELS) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "finger: image %dx%d over the cap",
                           img->width, img->height);
    }
    work_t k;
    int rc = work_alloc(&k, img->width, img->height);
    if (rc != 0) {
        return cw_diag_set(diag, diag_len, rc, "finger: out of memory");
    }
    for (int y = 0; y < k.h; y++) {
        for (int x = 0; x < k.w; x++) {
            k.img[(size_t)y * k.w + x] = img->data[(size_t)y * img->stride + x];
        }
    }
    out->width = (uint16_t)k.w;
    out->height = (uint16_t)k.h;
    out->dpi = CW_FINGER_DPI;
    integrals(&k);
    gradients(&k);
    rc = orientation(&k);
    if (rc == 0) {
        rc = segment(&k);
    }
    float *tmp = NULL;
    if (rc == 0) {
        tmp = cw_malloc((size_t)k.bw * k.bh * 2 * sizeof(float));
        rc = tmp ? 0 : CW_ENOMEM;
    }
    if (rc == 0) {
        normalise(&k);
        frequency(&k, tmp);
        rc = enhance(&k);
    }
    if (rc == 0) {
        binarise(&k);
        thin(&k);
        rc = minutiae(&k, out);
    }
    cw_finger_quality_t q;
    if (rc == 0) {
        assess(&k, out->n, &q);
        out->quality = (uint8_t)q.score;
        if (quality != NULL) {
            *quality = q;
        }
    }
    cw_free(tmp);
    work_free(&k);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        return cw_diag_set(diag, diag_len, rc, "finger: extraction failed: %s", cw_strerror(rc));
    }
    return 0;
}
