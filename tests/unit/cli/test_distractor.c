// SPDX-License-Identifier: Apache-2.0
// Tests of the distractor model (src/cli/distractor.c): the sampler reproduces the fitted mean
// and covariance (200,000 rows, every entry within 5 standard errors, and the same check refuses
// a covariance 10% too large), the t model spreads by nu / (nu - 2), a mixture's components come
// out with their weights, rows do not depend on how the stream is cut into calls, normalised rows
// are unit vectors, and bad input is refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "distractor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 32, N_FIT = 5000, N_SAMPLE = 200000 };

static uint64_t lcg = 12345;

static double unit(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(lcg >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(unit())) * cos(6.283185307179586 * unit());
}

/* n vectors mu + A z with a fixed random lower-triangular A (correlated, uneven variances). */
static float *correlated(size_t n)
{
    static double a[D][D];
    for (int r = 0; r < D; r++) {
        for (int c = 0; c <= r; c++) {
            a[r][c] = (r == c ? 0.3 + 0.02 * r : 0.05 * gauss());
        }
    }
    float *v = malloc(n * D * sizeof(float));
    double z[D];
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < D; c++) {
            z[c] = gauss();
        }
        for (int r = 0; r < D; r++) {
            double x = 0.1 * (r % 5) - 0.2;
            for (int c = 0; c <= r; c++) {
                x += a[r][c] * z[c];
            }
            v[i * D + r] = (float)x;
        }
    }
    return v;
}

/*
 * Are the mean and covariance of rows within `zmax` standard errors of mean and cov * s2 (plus the
 * ridge) in every entry? The worst z goes to *worst.
 */
static int moments_match(const float *rows, size_t n, const float *mean, const double *cov,
                         double s2, double zmax, double *worst)
{
    double *m = calloc(D, sizeof(double)), *c = calloc(D * D, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < D; r++) {
            m[r] += rows[i * D + r];
        }
    }
    for (int r = 0; r < D; r++) {
        m[r] /= (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < D; r++) {
            for (int q = 0; q <= r; q++) {
                c[r * D + q] += (rows[i * D + r] - m[r]) * (rows[i * D + q] - m[q]);
            }
        }
    }
    *worst = 0;
    for (int r = 0; r < D; r++) {
        double srr = s2 * cov[r * D + r] + CW_CLI_DISTRACTOR_RIDGE * s2;
        double z = fabs(m[r] - mean[r]) / sqrt(srr / (double)n);
        *worst = z > *worst ? z : *worst;
        for (int q = 0; q <= r; q++) {
            double sqq = s2 * cov[q * D + q] + CW_CLI_DISTRACTOR_RIDGE * s2;
            double srq = s2 * cov[r * D + q] + (r == q ? CW_CLI_DISTRACTOR_RIDGE * s2 : 0);
            double se = sqrt((srr * sqq + srq * srq) / (double)n);
            z = fabs(c[r * D + q] / (double)(n - 1) - srq) / se;
            *worst = z > *worst ? z : *worst;
        }
    }
    free(m);
    free(c);
    return *worst < zmax;
}

static void gaussian_recovers_its_moments(void **state)
{
    (void)state;
    float *v = correlated(N_FIT);
    cw_cli_distractor_t m;
    assert_int_equal(cw_cli_distractor_fit(v, N_FIT, D, 1, 7, &m), 0);
    // The fitted mean and covariance are the data's own.
    double mean0 = 0;
    for (size_t i = 0; i < N_FIT; i++) {
        mean0 += v[i * D];
    }
    assert_true(fabs(mean0 / N_FIT - m.mean[0]) < 1e-5);
    float *rows = malloc((size_t)N_SAMPLE * D * sizeof(float));
    cw_cli_distractor_sample(&m, 0, N_SAMPLE, rows, 0);
    double worst;
    assert_true(moments_match(rows, N_SAMPLE, m.mean, m.cov, 1.0, 5.0, &worst));
    // The check can fail: the same rows against a covariance 10% too large.
    assert_false(moments_match(rows, N_SAMPLE, m.mean, m.cov, 1.1, 5.0, &worst));
    // The scale inflates the covariance by its square.
    m.scale = sqrt(1.1);
    cw_cli_distractor_sample(&m, 0, N_SAMPLE, rows, 0);
    assert_true(moments_match(rows, N_SAMPLE, m.mean, m.cov, 1.1, 5.0, &worst));
    assert_false(moments_match(rows, N_SAMPLE, m.mean, m.cov, 1.0, 5.0, &worst));
    free(rows);
    cw_cli_distractor_free(&m);
    free(v);
}

/* The t model: covariance nu / (nu - 2) times the Gaussian's (checked on the trace). */
static void t_spreads_by_its_degrees_of_freedom(void **state)
{
    (void)state;
    float *v = correlated(N_FIT);
    cw_cli_distractor_t m;
    assert_int_equal(cw_cli_distractor_fit(v, N_FIT, D, 1, 5, &m), 0);
    m.nu = 10;
    float *rows = malloc((size_t)N_SAMPLE * D * sizeof(float));
    cw_cli_distractor_sample(&m, 0, N_SAMPLE, rows, 0);
    double trace = 0, want = 0;
    for (int r = 0; r < D; r++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < N_SAMPLE; i++) {
            mean += rows[i * D + r];
        }
        mean /= N_SAMPLE;
        for (size_t i = 0; i < N_SAMPLE; i++) {
            ss += (rows[i * D + r] - mean) * (rows[i * D + r] - mean);
        }
        trace += ss / (N_SAMPLE - 1);
        want += m.cov[r * D + r] + CW_CLI_DISTRACTOR_RIDGE;
        assert_true(fabs(mean - m.mean[r]) < 0.01);
    }
    assert_true(fabs(trace / want - 10.0 / 8.0) < 0.03);
    assert_false(fabs(trace / want - 1.0) < 0.03); // the Gaussian's would fail
    free(rows);
    cw_cli_distractor_free(&m);
    free(v);
}

static void rows_do_not_depend_on_the_calls(void **state)
{
    (void)state;
    float *v = correlated(500);
    cw_cli_distractor_t m;
    assert_int_equal(cw_cli_distractor_fit(v, 500, D, 1, 3, &m), 0);
    float whole[10 * D], one[D];
    cw_cli_distractor_sample(&m, 1000, 10, whole, 1);
    for (int i = 0; i < 10; i++) {
        cw_cli_distractor_sample(&m, 1000 + (uint64_t)i, 1, one, 1);
        assert_memory_equal(one, whole + i * D, sizeof(one));
        double ss = 0;
        for (int k = 0; k < D; k++) {
            ss += (double)one[k] * one[k];
        }
        assert_true(fabs(ss - 1.0) < 1e-5);
    }
    // Another seed, other rows.
    m.seed = 4;
    cw_cli_distractor_sample(&m, 1000, 1, one, 1);
    assert_memory_not_equal(one, whole, sizeof(one));
    cw_cli_distractor_free(&m);
    free(v);
}

static void mixture_keeps_the_weights(void **state)
{
    (void)state;
    // Three far-apart clusters holding 50%, 30% and 20% of the data.
    enum { N = 3000 };
    float *v = malloc(N * D * sizeof(float));
    for (size_t i = 0; i < N; i++) {
        int c = i < 1500 ? 0 : i < 2400 ? 1 : 2;
        for (int k = 0; k < D; k++) {
            v[i * D + k] = (float)((k == c ? 10.0 : 0.0) + 0.3 * gauss());
        }
    }
    cw_cli_distractor_t m;
    assert_int_equal(cw_cli_distractor_fit(v, N, D, 3, 11, &m), 0);
    enum { S = 100000 };
    float *rows = malloc((size_t)S * D * sizeof(float));
    cw_cli_distractor_sample(&m, 0, S, rows, 0);
    size_t count[3] = {0};
    for (size_t i = 0; i < S; i++) {
        int best = 0;
        for (int c = 1; c < 3; c++) {
            best = rows[i * D + c] > rows[i * D + best] ? c : best;
        }
        count[best]++;
        // Rows sit around their centre with the within-cluster spread, not the whole data's.
        assert_true(fabs(rows[i * D + best] - 10.0) < 3.0);
    }
    assert_true(fabs((double)count[0] / S - 0.5) < 0.01);
    assert_true(fabs((double)count[1] / S - 0.3) < 0.01);
    assert_true(fabs((double)count[2] / S - 0.2) < 0.01);
    assert_true(fabs(m.cov[0] - 0.09) < 0.01); // pooled within-cluster variance
    free(rows);
    cw_cli_distractor_free(&m);
    free(v);
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    float v[4 * D] = {0};
    cw_cli_distractor_t m;
    assert_int_equal(cw_cli_distractor_fit(v, 2, D, 1, 1, &m), CW_EINVAL);
    assert_int_equal(cw_cli_distractor_fit(v, 4, D, 3, 1, &m), CW_EINVAL);
    assert_int_equal(cw_cli_distractor_fit(v, 4, D, 0, 1, &m), CW_EINVAL);
    v[5] = NAN;
    assert_int_equal(cw_cli_distractor_fit(v, 4, D, 1, 1, &m), CW_EINVAL);
    cw_cli_distractor_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gaussian_recovers_its_moments),
        cmocka_unit_test(t_spreads_by_its_degrees_of_freedom),
        cmocka_unit_test(rows_do_not_depend_on_the_calls),
        cmocka_unit_test(mixture_keeps_the_weights),
        cmocka_unit_test(bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
