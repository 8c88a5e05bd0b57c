// SPDX-License-Identifier: Apache-2.0
// Tests of the open-set decision: the tail calibration recovers known generalised Pareto tails
// (and its threshold u is the exact order statistic, ties and adversarial orders included), the
// threshold for a gallery size meets the FPIR target and is the smallest that does, it moves the
// right way with N and the target, unreachable targets fail closed, each verdict of
// cw_gallery_decide, bad arguments, and the built-in face calibration.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/gallery.h"

#include "../../../src/gallery/gallery_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// The fitter on its own (src/gallery/decide.c).

static uint64_t rng;

static double uniform01(void) // (0, 1), xorshift64
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gpd_draw(double xi, double sigma)
{
    double u = uniform01();
    return xi == 0.0 ? -sigma * log(u) : sigma * (pow(u, -xi) - 1.0) / xi;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int close_to(double got, double want, double tol)
{
    return fabs(got - want) <= tol;
}

// 1 - (1 - fmr)^n in long double: the reference for the library's FPIR.
static double fpir_ref(double fmr, uint64_t n)
{
    if (fmr <= 0.0) {
        return 0.0;
    }
    return (double)-expm1l((long double)n * log1pl(-(long double)fmr));
}

static const cw_gallery_calibration_t SYNTH = {.model_id = 7,
                                               .model_version = 1,
                                               .u = 0.40,
                                               .p_u = 1e-3,
                                               .xi = -0.05,
                                               .sigma = 0.04,
                                               .n_impostor = 1000000};

// ---- calibration ----

// Scores offset + GPD(xi, sigma): the excesses over any level v are GPD(xi, sigma + xi v), so
// the fit above u must give back xi and sigma + xi (u - offset).
static void check_recovers(double xi, double sigma)
{
    enum { N = 400000 };
    const double offset = 0.1, tail = 0.05; // 20,000 excesses
    float *s = malloc(N * sizeof *s);
    assert_non_null(s);
    rng = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < N; i++) {
        s[i] = (float)(offset + gpd_draw(xi, sigma));
    }
    cw_gallery_calibration_t c = {.model_id = 42, .model_version = 3};
    assert_int_equal(cw_gallery_calibrate(s, N, tail, &c), 0);
    assert_int_equal(c.model_id, 42); // the caller's fields are left alone
    assert_int_equal(c.model_version, 3);
    assert_int_equal(c.n_impostor, N);
    // u is exactly the order statistic with floor(tail * N) scores above it.
    qsort(s, N, sizeof *s, cmp_float);
    assert_true(c.u == (double)s[N - 20000 - 1]);
    assert_true(c.p_u == 20000.0 / N);
    // Standard error of xi is about (1 + xi) / sqrt(20000) < 0.01: 0.035 is over 3.5 of them.
    double sigma_u = sigma + xi * (c.u - offset);
    assert_true(close_to(c.xi, xi, 0.035));
    assert_true(close_to(c.sigma, sigma_u, 0.05 * sigma_u));
    free(s);
}

static void test_calibrate_recovers_short_tail(void **state)
{
    (void)state;
    check_recovers(-0.1, 0.05); // bounded, like cosine impostor scores
}

static void test_calibrate_recovers_exponential_tail(void **state)
{
    (void)state;
    check_recovers(0.0, 0.05);
}

static void test_calibrate_recovers_heavy_tail(void **state)
{
    (void)state;
    check_recovers(0.25, 0.05);
}

static void test_calibrate_recovers_very_short_tail(void **state)
{
    (void)state;
    check_recovers(-0.4, 0.2);
}

// The tolerance above is not vacuous: the same fit is far from a wrong shape.
static void test_recovery_check_can_fail(void **state)
{
    (void)state;
    enum { K = 20000 };
    double *y = malloc(K * sizeof *y), xi, sigma;
    rng = 99;
    for (int i = 0; i < K; i++) {
        y[i] = gpd_draw(0.0, 0.05);
    }
    qsort(y, K, sizeof *y, cmp_double);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 0, &xi, &sigma), 1); // maximum likelihood
    assert_true(close_to(xi, 0.0, 0.035));
    assert_false(close_to(xi, -0.1, 0.035));
    assert_false(close_to(xi, 0.1, 0.035));
    assert_false(close_to(sigma, 0.06, 0.05 * 0.06));
    free(y);
}

static void draw_sorted(double *y, int k, double xi, double sigma)
{
    for (int i = 0; i < k; i++) {
        y[i] = gpd_draw(xi, sigma);
    }
    qsort(y, (size_t)k, sizeof *y, cmp_double);
}

// Maximum likelihood and probability-weighted moments agree on a regular tail. Below xi = -1
// the likelihood has no interior maximum and the automatic fit takes the moments; when their
// end point would fall inside the data (an excess beyond the rest), the exponential.
static void test_gpd_fallbacks(void **state)
{
    (void)state;
    enum { K = 5000 };
    double *y = malloc(K * sizeof *y), xm, sm, xp, sp, x, s;
    rng = 12345;
    draw_sorted(y, K, -0.2, 0.1);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 1, &xm, &sm), 1);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 2, &xp, &sp), 2);
    assert_true(close_to(xm, -0.2, 0.05));
    assert_true(close_to(xp, -0.2, 0.05));
    assert_true(close_to(sm, sp, 0.1 * sm));

    // Uniform (xi = -1): the likelihood still peaks just inside, with the end point beyond
    // the largest excess.
    draw_sorted(y, K, -1.0, 1.0);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 0, &x, &s), 1);
    assert_true(close_to(x, -1.0, 0.05) && x > -1.0);
    assert_true(s / -x >= y[K - 1]);

    // xi = -1.5: no maximum of the likelihood; the moments.
    draw_sorted(y, K, -1.5, 1.0);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 1, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 0, &x, &s), 2);
    assert_true(close_to(x, -1.5, 0.1));
    assert_true(s / -x >= y[K - 1]);

    // The same with one excess beyond that end point: the moments would call it impossible,
    // so the exponential (a heavier tail: higher thresholds).
    y[K - 1] *= 1.1;
    assert_int_equal(cw__gallery_gpd_fit(y, K, 2, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 0, &x, &s), 3);
    assert_true(x == 0.0 && s > 0.0);

    // Bad input to the fitter.
    assert_int_equal(cw__gallery_gpd_fit(NULL, K, 0, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(y, 1, 0, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(y, K, 4, &x, &s), CW_EINVAL);
    double unsorted[3] = {0.3, 0.1, 0.2}, zero[3] = {0.0, 0.1, 0.2}, flat[3] = {0.1, 0.1, 0.1};
    assert_int_equal(cw__gallery_gpd_fit(unsorted, 3, 0, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(zero, 3, 0, &x, &s), CW_EINVAL);
    assert_int_equal(cw__gallery_gpd_fit(flat, 3, 0, &x, &s), CW_EINVAL);
    free(y);
}

// u and p_u against a sort, for inputs that trouble quickselect: sorted, reversed, organ pipe,
// heavily tied (scores on a 1/64 grid, so u is tied and fewer than k scores lie above it).
static void test_calibrate_order_statistic(void **state)
{
    (void)state;
    enum { N = 50000 };
    float *s = malloc(N * sizeof *s), *ref = malloc(N * sizeof *ref);
    for (int kind = 0; kind < 4; kind++) {
        rng = 777 + (uint64_t)kind;
        for (int i = 0; i < N; i++) {
            double v = gpd_draw(-0.1, 0.1);
            switch (kind) {
            case 0:
                s[i] = (float)i / N + (float)(v * 1e-3);
                break;
            case 1:
                s[i] = (float)(N - i) / N + (float)(v * 1e-3);
                break;
            case 2:
                s[i] = (float)(i < N / 2 ? i : N - i) / N + (float)(v * 1e-3);
                break;
            default:
                s[i] = floorf((float)v * 64.0f) / 64.0f;
                break;
            }
        }
        memcpy(ref, s, N * sizeof *s);
        qsort(ref, N, sizeof *ref, cmp_float);
        cw_gallery_calibration_t c;
        assert_int_equal(cw_gallery_calibrate(s, N, 0.01, &c), 0);
        float u = ref[N - 500 - 1];
        assert_true(c.u == (double)u);
        size_t above = 0;
        for (int i = 0; i < N; i++) {
            above += ref[i] > u;
        }
        assert_true(above >= 100 && above <= 500);
        assert_true(c.p_u == (double)above / N);
        assert_true(c.sigma > 0.0 && isfinite(c.xi));
    }
    free(s);
    free(ref);
}

static void test_calibrate_bad_input(void **state)
{
    (void)state;
    enum { N = 10000 };
    float *s = malloc(N * sizeof *s);
    rng = 5;
    for (int i = 0; i < N; i++) {
        s[i] = (float)gpd_draw(0.0, 0.1);
    }
    cw_gallery_calibration_t c;
    assert_int_equal(cw_gallery_calibrate(s, N, 0.1, &c), 0);
    assert_int_equal(cw_gallery_calibrate(NULL, N, 0.1, &c), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, N, 0.1, NULL), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, 0, 0.1, &c), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, N, 0.0, &c), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, N, 1.0, &c), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, N, NAN, &c), CW_EINVAL);
    assert_int_equal(cw_gallery_calibrate(s, N, 0.0099, &c), CW_EINVAL); // 99 excesses
    assert_int_equal(cw_gallery_calibrate(s, N, 0.01, &c), 0);           // 100
    s[1234] = NAN;
    assert_int_equal(cw_gallery_calibrate(s, N, 0.1, &c), CW_EINVAL);
    s[1234] = INFINITY;
    assert_int_equal(cw_gallery_calibrate(s, N, 0.1, &c), CW_EINVAL);
    // All scores equal: nothing lies above u.
    for (int i = 0; i < N; i++) {
        s[i] = 0.25f;
    }
    assert_int_equal(cw_gallery_calibrate(s, N, 0.1, &c), CW_EINVAL);
    free(s);
}

// ---- FMR and thresholds ----

static void test_fmr_shape(void **state)
{
    (void)state;
    const cw_gallery_calibration_t *c = &SYNTH;
    assert_true(cw_gallery_fmr(c, c->u) == c->p_u);
    assert_true(cw_gallery_fmr(c, 0.0) == c->p_u); // below u: the calibration says p_u
    assert_true(cw_gallery_fmr(c, -INFINITY) == c->p_u);
    double prev = c->p_u;
    for (double t = 0.41; t < 1.3; t += 0.01) {
        double f = cw_gallery_fmr(c, t);
        assert_true(f <= prev && f >= 0.0);
        prev = f;
    }
    // Closed form at one point, and zero beyond the end point u + sigma / -xi = 1.2.
    double want = 1e-3 * pow(1.0 + -0.05 * (0.6 - 0.4) / 0.04, 1.0 / 0.05);
    assert_true(close_to(cw_gallery_fmr(c, 0.6), want, 1e-12 * want));
    assert_true(cw_gallery_fmr(c, 1.2000001) == 0.0);
    assert_true(cw_gallery_fmr(c, INFINITY) == 0.0);
    // xi = 0 is the exponential; a tiny xi is continuous with it.
    cw_gallery_calibration_t e = *c, e2 = *c;
    e.xi = 0.0;
    e2.xi = 1e-12;
    double fe = cw_gallery_fmr(&e, 0.7);
    assert_true(close_to(fe, 1e-3 * exp(-0.3 / 0.04), 1e-15));
    assert_true(close_to(cw_gallery_fmr(&e2, 0.7), fe, 1e-9 * fe));
    // No model or no threshold: the worst.
    assert_true(cw_gallery_fmr(NULL, 0.9) == 1.0);
    assert_true(cw_gallery_fmr(c, NAN) == 1.0);
    cw_gallery_calibration_t bad = *c;
    bad.sigma = 0.0;
    assert_true(cw_gallery_fmr(&bad, 0.9) == 1.0);
}

static cw_gallery_calibration_t shaped(double xi)
{
    cw_gallery_calibration_t c = SYNTH;
    c.xi = xi;
    return c;
}

// The threshold meets the target and is the smallest that does: a hair below it misses.
static void test_threshold_meets_target(void **state)
{
    (void)state;
    static const double xis[] = {-0.3, -0.05, 0.0, 1e-9, 0.2};
    static const double targets[] = {0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6};
    int checked = 0;
    for (size_t a = 0; a < sizeof xis / sizeof xis[0]; a++) {
        cw_gallery_calibration_t c = shaped(xis[a]);
        for (size_t b = 0; b < sizeof targets / sizeof targets[0]; b++) {
            for (uint64_t n = 1; n <= 10000000000ull; n *= 10) {
                double t = cw_gallery_threshold(&c, n, targets[b]);
                assert_true(t >= c.u);
                if (t > 1.0) {
                    continue; // unreachable: tested below
                }
                assert_true(fpir_ref(cw_gallery_fmr(&c, t), n) <= targets[b] * (1 + 1e-12));
                if (t > c.u) {
                    double below = t - 1e-9 * (1.0 + fabs(t));
                    assert_true(fpir_ref(cw_gallery_fmr(&c, below), n) > targets[b]);
                    checked++;
                } else {
                    // Clamped at u: the target allows more than the tail describes.
                    assert_true(-expm1(log1p(-targets[b]) / (double)n) >= c.p_u);
                }
            }
        }
    }
    assert_true(checked > 100);
}

// The same check catches a threshold from a tail fitted too light (xi too small by 0.1).
static void test_target_check_can_fail(void **state)
{
    (void)state;
    cw_gallery_calibration_t truth = shaped(0.0), wrong = shaped(-0.1);
    double t = cw_gallery_threshold(&wrong, 1000000, 1e-3);
    assert_true(t <= 1.0);
    assert_true(fpir_ref(cw_gallery_fmr(&truth, t), 1000000) > 1e-3);
    assert_true(fpir_ref(cw_gallery_fmr(&truth, t), 1000000) > 10 * 1e-3);
}

static void test_threshold_monotone(void **state)
{
    (void)state;
    cw_gallery_calibration_t builtin;
    assert_int_equal(cw_gallery_calibration_for(1, 1, 1, &builtin), 0);
    cw_gallery_calibration_t cals[] = {shaped(-0.3), shaped(0.0), shaped(0.2), builtin};
    for (size_t a = 0; a < sizeof cals / sizeof cals[0]; a++) {
        for (double target = 0.3; target > 1e-7; target /= 3.0) {
            double prev = -INFINITY;
            for (uint64_t n = 1; n <= 100000000000ull; n = n * 3 + 1) {
                double t = cw_gallery_threshold(&cals[a], n, target);
                assert_true(t >= prev); // larger gallery, stricter threshold
                assert_true(t >= cals[a].u);
                // A stricter target never lowers the threshold.
                assert_true(cw_gallery_threshold(&cals[a], n, target / 2) >= t);
                prev = t;
            }
        }
    }
    // n = 0 (an empty gallery) is given the threshold of n = 1.
    assert_true(cw_gallery_threshold(&SYNTH, 0, 1e-3) == cw_gallery_threshold(&SYNTH, 1, 1e-3));
}

// A target the model cannot meet below a cosine of 1 gives a threshold nothing passes.
static void test_unreachable_target_fails_closed(void **state)
{
    (void)state;
    cw_gallery_calibration_t heavy = shaped(0.2);
    double t = cw_gallery_threshold(&heavy, 1000000000, 1e-6);
    assert_true(t > 1.0);
    assert_true(cw_gallery_threshold(&SYNTH, UINT64_MAX, 1e-300) > 1.0); // FMR underflows
    assert_true(cw_gallery_threshold(NULL, 10, 1e-3) > 1.0);
    assert_true(cw_gallery_threshold(&SYNTH, 10, 0.0) > 1.0);
    assert_true(cw_gallery_threshold(&SYNTH, 10, 1.0) > 1.0);
    assert_true(cw_gallery_threshold(&SYNTH, 10, NAN) > 1.0);

    cw_gallery_hit_t hits[2] = {{11, 1.0f}, {12, 0.1f}};
    cw_gallery_policy_t pol = {.target_fpir = 1e-6, .margin = 0.0f, .max_n = 0};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 2, 1000000000, &heavy, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_NO_MATCH);
    assert_true(d.threshold > 1.0);
    assert_true(d.score == 1.0f);
    // A bounded tail whose end point lies below 1 reaches any target just below that end point.
    cw_gallery_calibration_t bounded = shaped(-0.5); // end point u + sigma / 0.5 = 0.48
    double tb = cw_gallery_threshold(&bounded, 1000000000, 1e-6);
    assert_true(tb > bounded.u && tb <= 0.48);
}

// ---- decisions ----

static const cw_gallery_policy_t POLICY = {.target_fpir = 1e-3, .margin = 0.05f, .max_n = 0};

static void test_decide_no_match(void **state)
{
    (void)state;
    double t = cw_gallery_threshold(&SYNTH, 1000, 1e-3);
    cw_gallery_hit_t hits[2] = {{5, (float)(t - 0.01)}, {6, 0.2f}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 2, 1000, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_NO_MATCH);
    assert_true(d.threshold == t);
    assert_int_equal(d.n, 1000);
    assert_true(d.score == hits[0].score);
    assert_int_equal(d.id, 0);
    // No hits at all (an empty gallery).
    assert_int_equal(cw_gallery_decide(NULL, 0, 0, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_NO_MATCH);
    assert_true(d.predicted_fpir == 0.0);
}

static void test_decide_match(void **state)
{
    (void)state;
    cw_gallery_hit_t hits[3] = {{77, 0.83f}, {12, 0.45f}, {13, 0.44f}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 3, 1000, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
    assert_int_equal(d.id, 77);
    assert_true(d.score == 0.83f);
    assert_true(d.threshold == cw_gallery_threshold(&SYNTH, 1000, 1e-3));
    assert_true(d.threshold > SYNTH.u && d.threshold < 0.83);
    assert_true(d.predicted_fpir <= 1e-3 && d.predicted_fpir > 0.9e-3);
    assert_true(
        close_to(d.predicted_fpir, fpir_ref(cw_gallery_fmr(&SYNTH, d.threshold), 1000), 1e-12));
    // The same id repeated (merged searches) is not a second person.
    cw_gallery_hit_t dup[3] = {{77, 0.83f}, {77, 0.82f}, {13, 0.44f}};
    assert_int_equal(cw_gallery_decide(dup, 3, 1000, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
    assert_int_equal(d.id, 77);
    // A gallery of one row needs no runner-up.
    assert_int_equal(cw_gallery_decide(hits, 1, 1, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
}

static void test_decide_ambiguous_by_margin(void **state)
{
    (void)state;
    // The runner-up fails the threshold but lies within the margin of the best.
    double t = cw_gallery_threshold(&SYNTH, 1000, 1e-3);
    cw_gallery_hit_t hits[2] = {{1, (float)(t + 0.02)}, {2, (float)(t - 0.02)}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 2, 1000, &SYNTH, &POLICY, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_AMBIGUOUS);
    assert_int_equal(d.id, 0);
    // Exactly the margin apart (values exact in binary) is still within it; more is not.
    cw_gallery_policy_t pol = POLICY;
    pol.margin = 0.25f;
    cw_gallery_hit_t edge[2] = {{1, 0.875f}, {2, 0.625f}};
    cw_gallery_calibration_t low = SYNTH; // threshold near 0.7 so 0.625 fails it
    assert_int_equal(cw_gallery_decide(edge, 2, 1000, &low, &pol, &d), 0);
    assert_true(d.threshold > 0.625 && d.threshold < 0.875);
    assert_int_equal(d.verdict, CW_GALLERY_AMBIGUOUS);
    edge[1].score = 0.62f;
    assert_int_equal(cw_gallery_decide(edge, 2, 1000, &low, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
}

static void test_decide_ambiguous_two_pass(void **state)
{
    (void)state;
    // Far apart, but both pass: two people match.
    cw_gallery_policy_t pol = POLICY;
    pol.margin = 0.0f;
    double t = cw_gallery_threshold(&SYNTH, 1000, 1e-3);
    cw_gallery_hit_t hits[3] = {{1, 0.99f}, {2, (float)(t + 0.001)}, {3, 0.1f}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 3, 1000, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_AMBIGUOUS);
    // An exact tie is ambiguous even with no margin.
    cw_gallery_hit_t tie[2] = {{1, 0.9f}, {2, 0.9f}};
    assert_int_equal(cw_gallery_decide(tie, 2, 1000, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_AMBIGUOUS);
    // The second one just below the threshold: a match.
    hits[1].score = (float)(t - 0.001);
    assert_int_equal(cw_gallery_decide(hits, 3, 1000, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
    assert_int_equal(d.id, 1);
}

static void test_decide_requires_second_factor(void **state)
{
    (void)state;
    cw_gallery_policy_t pol = POLICY;
    pol.max_n = 1000;
    cw_gallery_hit_t hits[2] = {{1, 0.99f}, {2, 0.1f}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(hits, 2, 1001, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_REQUIRES_SECOND_FACTOR);
    assert_int_equal(d.id, 0);
    assert_int_equal(d.n, 1001);
    assert_true(d.threshold == cw_gallery_threshold(&SYNTH, 1001, 1e-3));
    assert_true(d.predicted_fpir > 0.0 && d.predicted_fpir <= 1e-3);
    assert_true(d.score == 0.99f);
    // At the limit: face-only is allowed.
    assert_int_equal(cw_gallery_decide(hits, 2, 1000, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_MATCH);
    // Beyond it even with no hits.
    assert_int_equal(cw_gallery_decide(NULL, 0, 5000, &SYNTH, &pol, &d), 0);
    assert_int_equal(d.verdict, CW_GALLERY_REQUIRES_SECOND_FACTOR);
}

static void expect_einval(const cw_gallery_hit_t *hits, int n_hits, uint64_t n,
                          const cw_gallery_calibration_t *cal, const cw_gallery_policy_t *pol)
{
    cw_gallery_decision_t d;
    memset(&d, 0xab, sizeof d);
    assert_int_equal(cw_gallery_decide(hits, n_hits, n, cal, pol, &d), CW_EINVAL);
    // The caller is left holding a NO_MATCH nothing could pass.
    assert_int_equal(d.verdict, CW_GALLERY_NO_MATCH);
    assert_true(d.threshold > 1.0);
    assert_int_equal(d.id, 0);
}

static void test_decide_bad_arguments(void **state)
{
    (void)state;
    cw_gallery_hit_t ok[2] = {{1, 0.9f}, {2, 0.3f}};
    cw_gallery_decision_t d;
    assert_int_equal(cw_gallery_decide(ok, 2, 100, &SYNTH, &POLICY, &d), 0); // the baseline
    assert_int_equal(cw_gallery_decide(ok, 2, 100, &SYNTH, &POLICY, NULL), CW_EINVAL);
    expect_einval(NULL, 2, 100, &SYNTH, &POLICY);
    expect_einval(ok, -1, 100, &SYNTH, &POLICY);
    expect_einval(ok, 2, 100, NULL, &POLICY);
    expect_einval(ok, 2, 100, &SYNTH, NULL);
    cw_gallery_hit_t nan[2] = {{1, NAN}, {2, 0.3f}}, nan2[2] = {{1, 0.9f}, {2, NAN}};
    expect_einval(nan, 2, 100, &SYNTH, &POLICY);
    expect_einval(nan2, 2, 100, &SYNTH, &POLICY);
    cw_gallery_hit_t unsorted[3] = {{1, 0.9f}, {2, 0.3f}, {3, 0.5f}};
    expect_einval(unsorted, 3, 100, &SYNTH, &POLICY);
    static const double bad_targets[] = {0.0, 1.0, -0.1, 1.5, NAN};
    for (size_t i = 0; i < sizeof bad_targets / sizeof bad_targets[0]; i++) {
        cw_gallery_policy_t pol = POLICY;
        pol.target_fpir = bad_targets[i];
        expect_einval(ok, 2, 100, &SYNTH, &pol);
    }
    cw_gallery_policy_t pol = POLICY;
    pol.margin = -0.01f;
    expect_einval(ok, 2, 100, &SYNTH, &pol);
    pol.margin = NAN;
    expect_einval(ok, 2, 100, &SYNTH, &pol);
    pol.margin = INFINITY;
    expect_einval(ok, 2, 100, &SYNTH, &pol);
    expect_einval(ok, 2, 1, &SYNTH, &POLICY);   // more hits than rows
    expect_einval(ok, 1, 100, &SYNTH, &POLICY); // the guard needs the runner-up
    cw_gallery_calibration_t bad = SYNTH;
    bad.p_u = 0.0;
    expect_einval(ok, 2, 100, &bad, &POLICY);
    bad = SYNTH;
    bad.xi = NAN;
    expect_einval(ok, 2, 100, &bad, &POLICY);
}

// ---- the built-in calibration ----

static void test_builtin_calibration(void **state)
{
    (void)state;
    cw_gallery_calibration_t c;
    assert_int_equal(cw_gallery_calibration_for(1, 1, 1, &c), 0); // MobileFaceNet, flip-averaged
    assert_int_equal(c.model_id, 1);
    assert_int_equal(c.model_version, 1);
    assert_int_equal(c.n_impostor, 21021550);
    // u is the 1:1 threshold at FMR 1e-3 of docs/models.md (0.4588).
    assert_true(close_to(c.u, 0.4588, 5e-5));
    assert_true(close_to(c.p_u, 1e-3, 1e-7));
    assert_true(c.xi > -0.5 && c.xi < 0.5 && c.sigma > 0.0 && c.sigma < 0.2);
    // The thresholds docs/gallery-decisions.md quotes.
    assert_true(close_to(cw_gallery_threshold(&c, 1000, 1e-3), 0.6814, 5e-5));
    assert_true(close_to(cw_gallery_threshold(&c, 1000000, 1e-3), 0.8434, 5e-5));
    // Other models, versions or template kinds have none: callers must fail closed.
    assert_int_equal(cw_gallery_calibration_for(1, 1, 0, &c), CW_ENOENT);
    assert_int_equal(cw_gallery_calibration_for(1, 2, 1, &c), CW_ENOENT);
    assert_int_equal(cw_gallery_calibration_for(99, 1, 1, &c), CW_ENOENT);
    assert_int_equal(cw_gallery_calibration_for(1, 1, 1, NULL), CW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibrate_recovers_short_tail),
        cmocka_unit_test(test_calibrate_recovers_exponential_tail),
        cmocka_unit_test(test_calibrate_recovers_heavy_tail),
        cmocka_unit_test(test_calibrate_recovers_very_short_tail),
        cmocka_unit_test(test_recovery_check_can_fail),
        cmocka_unit_test(test_gpd_fallbacks),
        cmocka_unit_test(test_calibrate_order_statistic),
        cmocka_unit_test(test_calibrate_bad_input),
        cmocka_unit_test(test_fmr_shape),
        cmocka_unit_test(test_threshold_meets_target),
        cmocka_unit_test(test_target_check_can_fail),
        cmocka_unit_test(test_threshold_monotone),
        cmocka_unit_test(test_unreachable_target_fails_closed),
        cmocka_unit_test(test_decide_no_match),
        cmocka_unit_test(test_decide_match),
        cmocka_unit_test(test_decide_ambiguous_by_margin),
        cmocka_unit_test(test_decide_ambiguous_two_pass),
        cmocka_unit_test(test_decide_requires_second_factor),
        cmocka_unit_test(test_decide_bad_arguments),
        cmocka_unit_test(test_builtin_calibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
