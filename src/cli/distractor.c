// SPDX-License-Identifier: Apache-2.0
// The distractor model of distractor.h: fitting (mean, k-means, pooled covariance, Cholesky) and
// the sampler (polar-method normals from a per-row xoshiro256** stream, times the Cholesky
// factor). The sampler is the hot loop of `clearway sim direct` (10M rows x 192 x 192 / 2
// multiply-adds); its inner loop is an axpy over a row of the factor so that the compiler can
// vectorise it without reordering sums (this file is built with -O3, see CMakeLists.txt).
#include "distractor.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s[4];
} rng_t;

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* n standard normals (Marsaglia's polar method: one log and one sqrt per pair). */
static void normals(rng_t *r, float *z, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += 2) {
        double a, b, s;
        do {
            a = 2.0 * rng_unit(r) - 1.0;
            b = 2.0 * rng_unit(r) - 1.0;
            s = a * a + b * b;
        } while (s >= 1.0 || s == 0.0);
        double f = sqrt(-2.0 * log(s) / s);
        z[i] = (float)(a * f);
        if (i + 1 < n) {
            z[i + 1] = (float)(b * f);
        }
    }
}

void cw_cli_distractor_free(cw_cli_distractor_t *m)
{
    if (m == NULL) {
        return;
    }
    cw_free(m->cdf);
    cw_free(m->mean);
    cw_free(m->cov);
    cw_free(m->chol_t);
    memset(m, 0, sizeof(*m));
}

static double dist2(const float *a, const float *b, uint32_t d)
{
    double s = 0;
    for (uint32_t i = 0; i < d; i++) {
        double t = (double)a[i] - b[i];
        s += t * t;
    }
    return s;
}

/* k-means: centres into m->mean, each vector's cluster into label. */
static int kmeans(const float *v, size_t n, uint32_t d, int k, uint64_t seed, float *mean,
                  int *label)
{
    double *best = cw_malloc(n * sizeof(double));
    double *sum = cw_malloc((size_t)k * d * sizeof(double));
    size_t *count = cw_malloc((size_t)k * sizeof(size_t));
    if (best == NULL || sum == NULL || count == NULL) {
        cw_free(best);
        cw_free(sum);
        cw_free(count);
        return CW_ENOMEM;
    }
    // k-means++: each next centre drawn with probability proportional to squared distance.
    rng_t r;
    rng_seed(&r, seed, 0x6b6d65616e73ull);
    size_t first = (size_t)(rng_unit(&r) * (double)n);
    memcpy(mean, v + first * d, d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        best[i] = dist2(v + i * d, mean, d);
    }
    for (int c = 1; c < k; c++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            total += best[i];
        }
        double x = rng_unit(&r) * total;
        size_t pick = n - 1;
        for (size_t i = 0; i < n; i++) {
            x -= best[i];
            if (x < 0) {
                pick = i;
                break;
            }
        }
        memcpy(mean + (size_t)c * d, v + pick * d, d * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            double e = dist2(v + i * d, mean + (size_t)c * d, d);
            best[i] = e < best[i] ? e : best[i];
        }
    }
    for (int round = 0; round < 25; round++) {
        int moved = 0;
        for (size_t i = 0; i < n; i++) {
            int arg = 0;
            double lo = INFINITY;
            for (int c = 0; c < k; c++) {
                double e = dist2(v + i * d, mean + (size_t)c * d, d);
                if (e < lo) {
                    lo = e;
                    arg = c;
                }
            }
            moved += round == 0 || label[i] != arg;
            label[i] = arg;
        }
        if (moved == 0) {
            break;
        }
        memset(sum, 0, (size_t)k * d * sizeof(double));
        memset(count, 0, (size_t)k * sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
            count[label[i]]++;
            for (uint32_t j = 0; j < d; j++) {
                sum[(size_t)label[i] * d + j] += v[i * d + j];
            }
        }
        for (int c = 0; c < k; c++) {
            for (uint32_t j = 0; count[c] > 0 && j < d; j++) {
                mean[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / (double)count[c]);
            }
        }
    }
    cw_free(best);
    cw_free(sum);
    cw_free(count);
    return 0;
}

int cw_cli_distractor_fit(const float *v, size_t n, uint32_t dim, int k, uint64_t seed,
                          cw_cli_distractor_t *out)
{
    memset(out, 0, sizeof(*out));
    if (v == NULL || dim == 0 || dim > CW_CLI_DISTRACTOR_MAX_DIM || k < 1 || n <= (size_t)k + 1) {
        return CW_EINVAL;
    }
    for (size_t i = 0; i < n * dim; i++) {
        if (!isfinite(v[i])) {
            return CW_EINVAL;
        }
    }
    size_t dd = (size_t)dim * dim;
    out->dim = dim;
    out->k = k;
    out->scale = 1.0;
    out->seed = seed;
    out->cdf = cw_calloc((size_t)k, sizeof(double));
    out->mean = cw_calloc((size_t)k * dim, sizeof(float));
    out->cov = cw_calloc(dd, sizeof(double));
    out->chol_t = cw_calloc(dd, sizeof(float));
    int *label = cw_calloc(n, sizeof(int));
    double *chol = cw_calloc(dd, sizeof(double));
    double *x = cw_calloc(dim, sizeof(double));
    int rc = 0;
    if (out->cdf == NULL || out->mean == NULL || out->cov == NULL || out->chol_t == NULL ||
        label == NULL || chol == NULL || x == NULL) {
        rc = CW_ENOMEM;
        goto out;
    }
    if (k == 1) {
        double *acc = chol; // scratch: the first dim doubles
        for (size_t i = 0; i < n; i++) {
            for (uint32_t j = 0; j < dim; j++) {
                acc[j] += v[i * dim + j];
            }
        }
        for (uint32_t j = 0; j < dim; j++) {
            out->mean[j] = (float)(acc[j] / (double)n);
            acc[j] = 0;
        }
    } else if ((rc = kmeans(v, n, dim, k, seed, out->mean, label)) != 0) {
        goto out;
    }
    // Weights, and the pooled scatter around each vector's own centre (n - k degrees of freedom).
    for (size_t i = 0; i < n; i++) {
        out->cdf[label[i]] += 1.0 / (double)n;
        const float *mu = out->mean + (size_t)label[i] * dim;
        for (uint32_t r = 0; r < dim; r++) {
            x[r] = (double)v[i * dim + r] - mu[r];
        }
        for (uint32_t r = 0; r < dim; r++) {
            double xr = x[r];
            double *row = out->cov + (size_t)r * dim;
            for (uint32_t c = 0; c <= r; c++) {
                row[c] += xr * x[c];
            }
        }
    }
    for (int c = 1; c < k; c++) {
        out->cdf[c] += out->cdf[c - 1];
    }
    out->cdf[k - 1] = 1.0;
    for (uint32_t r = 0; r < dim; r++) {
        for (uint32_t c = 0; c <= r; c++) {
            out->cov[(size_t)r * dim + c] /= (double)(n - (size_t)k);
            chol[(size_t)r * dim + c] = out->cov[(size_t)r * dim + c];
        }
        chol[(size_t)r * dim + r] += CW_CLI_DISTRACTOR_RIDGE;
    }
    // Cholesky (lower), in place.
    for (uint32_t j = 0; j < dim; j++) {
        double s = chol[(size_t)j * dim + j];
        for (uint32_t q = 0; q < j; q++) {
            s -= chol[(size_t)j * dim + q] * chol[(size_t)j * dim + q];
        }
        chol[(size_t)j * dim + j] = sqrt(s > 1e-12 ? s : 1e-12);
        for (uint32_t i = j + 1; i < dim; i++) {
            double t = chol[(size_t)i * dim + j];
            for (uint32_t q = 0; q < j; q++) {
                t -= chol[(size_t)i * dim + q] * chol[(size_t)j * dim + q];
            }
            chol[(size_t)i * dim + j] = t / chol[(size_t)j * dim + j];
        }
    }
    for (uint32_t r = 0; r < dim; r++) {
        for (uint32_t c = 0; c <= r; c++) {
            out->chol_t[(size_t)c * dim + r] = (float)chol[(size_t)r * dim + c];
        }
    }
out:
    cw_free(label);
    cw_free(chol);
    cw_free(x);
    if (rc != 0) {
        cw_cli_distractor_free(out);
    }
    return rc;
}

/*
 * x = L z as a sum of the factor's columns (row c of chol_t is zero before c), eight columns per
 * pass so that x is loaded and stored once for eight multiply-adds. restrict lets the compiler
 * vectorise the inner loop without run-time alias checks.
 */
static void lz(const float *restrict lt, size_t d, const float *restrict z, float *restrict x)
{
    // size_t indices: with 32-bit unsigned ones the compiler must allow for wrap-around and
    // cannot treat the rows as contiguous.
    size_t c = 0;
    for (; c + 8 <= d; c += 8) {
        const float *restrict r0 = lt + c * d, *restrict r1 = r0 + d, *restrict r2 = r1 + d;
        const float *restrict r3 = r2 + d, *restrict r4 = r3 + d, *restrict r5 = r4 + d;
        const float *restrict r6 = r5 + d, *restrict r7 = r6 + d;
        const float z0 = z[c], z1 = z[c + 1], z2 = z[c + 2], z3 = z[c + 3];
        const float z4 = z[c + 4], z5 = z[c + 5], z6 = z[c + 6], z7 = z[c + 7];
        for (size_t q = c; q < d; q++) {
            x[q] += ((z0 * r0[q] + z1 * r1[q]) + (z2 * r2[q] + z3 * r3[q])) +
                    ((z4 * r4[q] + z5 * r5[q]) + (z6 * r6[q] + z7 * r7[q]));
        }
    }
    for (; c < d; c++) {
        const float zc = z[c];
        const float *restrict col = lt + c * d;
        for (size_t q = c; q < d; q++) {
            x[q] += zc * col[q];
        }
    }
}

void cw_cli_distractor_sample(const cw_cli_distractor_t *m, uint64_t first, size_t n, float *out,
                              int normalise)
{
    uint32_t d = m->dim;
    float z[CW_CLI_DISTRACTOR_MAX_DIM];
    const float scale = (float)m->scale;
    for (size_t i = 0; i < n; i++) {
        rng_t r;
        rng_seed(&r, m->seed, first + i + 1);
        int comp = 0;
        if (m->k > 1) {
            double u = rng_unit(&r);
            while (comp < m->k - 1 && m->cdf[comp] <= u) {
                comp++;
            }
        }
        normals(&r, z, d);
        float *x = out + i * d;
        memset(x, 0, d * sizeof(float));
        lz(m->chol_t, d, z, x);
        float f = scale;
        if (m->nu > 0) {
            // w ~ chi-square(nu) from nu more normals of the row's stream.
            float w[CW_CLI_DISTRACTOR_MAX_NU];
            int nu = m->nu < CW_CLI_DISTRACTOR_MAX_NU ? m->nu : CW_CLI_DISTRACTOR_MAX_NU;
            normals(&r, w, (uint32_t)nu);
            double chi = 0;
            for (int i2 = 0; i2 < nu; i2++) {
                chi += (double)w[i2] * w[i2];
            }
            f = (float)(scale * sqrt((double)nu / (chi > 1e-300 ? chi : 1e-300)));
        }
        const float *mu = m->mean + (size_t)comp * d;
        double ss = 0;
        for (uint32_t q = 0; q < d; q++) {
            x[q] = mu[q] + f * x[q];
            ss += (double)x[q] * x[q];
        }
        if (normalise && ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (uint32_t q = 0; q < d; q++) {
                x[q] *= inv;
            }
        }
    }
}
