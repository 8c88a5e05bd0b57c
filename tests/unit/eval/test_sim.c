// SPDX-License-Identifier: Apache-2.0
// Tests of the population model (src/eval/sim.c) on synthetic scores with known answers:
// Gaussian impostors, whose FPIR at any threshold is known in closed form, against the fitted
// tail; thresholds and FNIR move the right way with N; the document-free FPIR is the product of
// its factors; the 1:1 modes ignore N; the largest N against an analytic answer; the fast
// sampler of the direct simulation against drawing every score; the direct simulation against
// the model; and bad input.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/gallery.h"
#include "clearway/sim.h"

#include "../../../src/eval/sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

static double uniform01(void) // (0, 1), xorshift64
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(double mu, double sd) // Box-Muller
{
    double a = uniform01(), b = uniform01();
    return mu + sd * sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

static float *gauss_array(size_t n, double mu, double sd)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)gauss(mu, sd);
    }
    return a;
}

// P(X >= t) for X ~ N(mu, sd).
static double gauss_sf(double t, double mu, double sd)
{
    return 0.5 * erfc((t - mu) / (sd * sqrt(2.0)));
}

enum { N_IMP = 1000000, N_GEN = 20000 };
#define IMP_MU 0.0
#define IMP_SD 0.1
#define GEN_MU 0.55
#define GEN_SD 0.1

// Face: Gaussian impostors N(0, 0.1) and genuine N(0.55, 0.1); finger: impostors N(0, 0.01),
// genuine N(0.2, 0.05) (fingerprint-like scores, far from the cosine range's end).
typedef struct fixture {
    cw_sim_scores_t *face, *finger;
} fixture_t;

static int setup(void **state)
{
    static fixture_t f;
    rng = 0x1234567887654321ull;
    float *imp = gauss_array(N_IMP, IMP_MU, IMP_SD);
    float *gen = gauss_array(N_GEN, GEN_MU, GEN_SD);
    char diag[200] = "";
    int rc = cw_sim_scores_create(gen, N_GEN, imp, N_IMP, 1e-3, NULL, &f.face, diag, sizeof diag);
    free(imp);
    free(gen);
    if (rc != 0) {
        return -1;
    }
    imp = gauss_array(100000, 0.0, 0.01);
    gen = gauss_array(2000, 0.2, 0.05);
    rc = cw_sim_scores_create(gen, 2000, imp, 100000, 1e-2, NULL, &f.finger, diag, sizeof diag);
    free(imp);
    free(gen);
    *state = &f;
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cw_sim_scores_destroy(f->face);
    cw_sim_scores_destroy(f->finger);
    return 0;
}

// The fitted tail's FPIR at the model's threshold, against the Gaussian's true one: within a
// factor 1.5 at N = 1e3 .. 1e5 (per comparison FMR 3e-7 .. 3e-9, two to four decades beyond
// the data). A tail fitted 0.15 too heavy in xi is caught.
static void test_face_fpir_matches_gaussian(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    for (uint64_t n = 1000; n <= 100000; n *= 10) {
        cw_sim_point_t pt;
        assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1N, n, &pt), 0);
        double truth = cw_sim_any_of(gauss_sf(pt.threshold, IMP_MU, IMP_SD), (double)n);
        double ratio = truth / pt.fpir;
        assert_true(ratio > 1.0 / 1.5 && ratio < 1.5);
        // The model's own FPIR is the per-attempt decision target.
        assert_true(fabs(pt.fpir - cw_sim_decision_fpir(&p)) < 1e-9);
    }
    // The same check fails on a wrong tail.
    cw_gallery_calibration_t wrong = *cw_sim_scores_tail(f->face);
    wrong.xi += 0.15;
    size_t ng, ni;
    const float *gen = cw_sim_scores_genuine(f->face, &ng);
    const float *imp = cw_sim_scores_impostor(f->face, &ni);
    cw_sim_scores_t *bad;
    assert_int_equal(cw_sim_scores_create(gen, ng, imp, ni, 1e-3, &wrong, &bad, NULL, 0), 0);
    cw_sim_point_t pt;
    assert_int_equal(cw_sim_evaluate(bad, NULL, &p, CW_SIM_FACE_1N, 100000, &pt), 0);
    double ratio = cw_sim_any_of(gauss_sf(pt.threshold, IMP_MU, IMP_SD), 1e5) / pt.fpir;
    assert_false(ratio > 1.0 / 1.5 && ratio < 1.5);
    cw_sim_scores_destroy(bad);
}

// The model's 1:N threshold is the gallery's, where the gallery can express it (<= 1).
static void test_threshold_is_the_gallerys(void **state)
{
    fixture_t *f = *state;
    const cw_gallery_calibration_t *cal = cw_sim_scores_tail(f->face);
    for (uint64_t n = 1; n <= 100000000; n *= 10) {
        for (double target = 1e-4; target < 0.6; target *= 10) {
            double t = cw_sim_threshold_1n(f->face, n, target);
            assert_true(t <= 1.0);
            assert_true(t == cw_gallery_threshold(cal, n, target));
        }
    }
    // The finger tail reaches thresholds the cosine-bound gallery cannot; 1:1 at 1e-9 is fine.
    double tf = cw_sim_threshold(f->finger, 1e-9);
    assert_true(isfinite(tf) && tf > 0.0 && tf < 0.2);
    assert_true(cw_sim_fmr(f->finger, tf) <= 1e-9);
    assert_true(cw_sim_fmr(f->finger, nextafter(tf, 0.0) - 1e-9) > 1e-9);
    // The empirical quantile where the target is above the tail's p_u.
    double t1 = cw_sim_threshold(f->face, 1e-2);
    assert_true(cw_sim_fmr(f->face, t1) <= 1e-2);
    assert_true(cw_sim_fmr(f->face, (double)nextafterf((float)t1, -INFINITY)) > 1e-2);
}

static void test_threshold_and_fnir_grow_with_n(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    cw_sim_point_t prev;
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1N, 1000, &prev), 0);
    for (uint64_t n = 10000; n <= 100000000; n *= 10) {
        cw_sim_point_t pt;
        assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1N, n, &pt), 0);
        assert_true(pt.threshold > prev.threshold);
        assert_true(pt.fnir > prev.fnir);
        prev = pt;
    }
    // Against the genuine Gaussian: FNIR at least the share below the threshold.
    assert_true(prev.fnir >= 1.0 - gauss_sf(prev.threshold, GEN_MU, GEN_SD) - 0.01);
}

// Document-free: FPIR = front FPIR x 1 (inside face) x finger, FNIR from its three factors.
static void test_document_free_factors(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    for (uint64_t n = 1000; n <= 100000000; n *= 100) {
        cw_sim_point_t df, front;
        assert_int_equal(
            cw_sim_evaluate(f->face, f->finger, &p, CW_SIM_DOCUMENT_FREE_FIXED, n, &df), 0);
        assert_true(df.front_target == cw_sim_decision_fpir(&p));
        double tf = cw_sim_threshold(f->finger, p.finger_fmr / p.fingers);
        double ti = cw_sim_threshold(f->face, p.inside_face_fmr);
        assert_true(df.finger_threshold == tf && df.inside_threshold == ti);
        double fr = cw_sim_any_of(cw_sim_fmr(f->face, df.threshold), (double)n);
        double fi = 1.0 - pow(1.0 - cw_sim_fmr(f->finger, tf), p.fingers);
        assert_true(fabs(df.fpir - fr * fi) <= 1e-12 * fr * fi);
        assert_true(df.hint_stranger == fr);
        // The front alone is the face-only rule at the front's target.
        cw_sim_params_t q = p;
        q.decision_fpir = df.front_target;
        assert_int_equal(cw_sim_evaluate(f->face, NULL, &q, CW_SIM_FACE_1N, n, &front), 0);
        double ok = (1.0 - front.fnir) * (1.0 - cw_sim_fnmr(f->face, ti)) *
                    (1.0 - cw_sim_fnmr(f->finger, tf));
        assert_true(fabs(df.fnir - (1.0 - ok)) < 1e-12);
        // The free front target is never worse than the fixed one when both meet the FPIR.
        cw_sim_point_t best;
        assert_int_equal(cw_sim_evaluate(f->face, f->finger, &p, CW_SIM_DOCUMENT_FREE, n, &best),
                         0);
        assert_true(best.n == n && best.mode == CW_SIM_DOCUMENT_FREE);
        assert_true(df.n == n && df.mode == CW_SIM_DOCUMENT_FREE_FIXED);
        assert_true(best.fpir_txn <= p.target_fpir);
        assert_true(best.fnir <= df.fnir + 1e-15);
        assert_true(best.front_target >= 1e-3 && best.front_target <= 0.5);
        assert_true(best.hint_stranger <= p.max_hint);
        assert_true(best.hint_wrong >= 0.0 && best.hint_wrong <= best.fnir + 1e-12);
    }
    // The finger factor is there: a looser finger threshold raises the flow's FPIR.
    cw_sim_point_t a, b;
    cw_sim_params_t q;
    cw_sim_params_default(&q);
    assert_int_equal(cw_sim_evaluate(f->face, f->finger, &q, CW_SIM_DOCUMENT_FREE_FIXED, 1000, &a),
                     0);
    q.finger_fmr = 1e-2;
    assert_int_equal(cw_sim_evaluate(f->face, f->finger, &q, CW_SIM_DOCUMENT_FREE_FIXED, 1000, &b),
                     0);
    assert_true(b.fpir > 10.0 * a.fpir);
}

/* The stranger's-hint bound limits the front's target: lifting it never gives a smaller one, and
 * with it the front never shows more strangers' hints than allowed. */
static void test_document_free_hint_bound(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p, q;
    cw_sim_params_default(&p);
    q = p;
    q.max_hint = 0.0; // no limit
    int looser = 0;
    for (uint64_t n = 1000; n <= 100000000; n *= 10) {
        cw_sim_point_t a, b;
        assert_int_equal(cw_sim_evaluate(f->face, f->finger, &p, CW_SIM_DOCUMENT_FREE, n, &a), 0);
        assert_int_equal(cw_sim_evaluate(f->face, f->finger, &q, CW_SIM_DOCUMENT_FREE, n, &b), 0);
        assert_true(a.hint_stranger <= p.max_hint);
        assert_true(b.front_target >= a.front_target);
        looser += b.front_target > a.front_target;
    }
    assert_true(looser > 0); // the bound binds somewhere on these scores
    p.max_hint = 1.0;
    cw_sim_point_t pt;
    assert_int_equal(cw_sim_evaluate(f->face, f->finger, &p, CW_SIM_DOCUMENT_FREE, 1000, &pt),
                     CW_EINVAL);
}

static void test_one_to_one_ignores_n(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    cw_sim_point_t a, b;
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1TO1, 1000, &a), 0);
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1TO1, 100000000, &b), 0);
    assert_true(a.threshold == b.threshold && a.fpir == b.fpir && a.fnir == b.fnir);
    assert_true(a.fpir <= p.face_fmr);
    assert_true(fabs(a.fpir_txn - (1.0 - pow(1.0 - a.fpir, 3))) < 1e-15);
    assert_true(fabs(a.fnir_txn_lo - pow(a.fnir, 3)) < 1e-15);
    // FNMR by counting.
    size_t n, below = 0;
    const float *gen = cw_sim_scores_genuine(f->face, &n);
    for (size_t i = 0; i < n; i++) {
        below += (double)gen[i] < a.threshold;
    }
    assert_true(a.fnir == (double)below / (double)n);
    uint64_t largest;
    int where;
    assert_int_equal(
        cw_sim_largest_n(f->face, NULL, &p, CW_SIM_FACE_1TO1, 1000, 100000000, &largest, &where),
        0);
    assert_int_equal(where, a.ok ? 1 : -1);
}

// An exponential tail given exactly, and every genuine score at s0 with margin 0: the mate is
// matched while t(N) <= s0 (then FNIR ~ FPIR), missed after, so the largest N is the last with
// FMR per comparison >= f* = p_u exp(-(s0 - u) / sigma): N* = log(1 - d) / log(1 - f*).
static void test_largest_n_analytic(void **state)
{
    (void)state;
    enum { NI = 1000, NG = 100 };
    float imp[NI], gen[NG];
    for (int i = 0; i < NI; i++) {
        imp[i] = 0.3f * (float)i / NI; // below u: never used with margin 0
    }
    cw_gallery_calibration_t tail = {.u = 0.3, .p_u = 1e-3, .xi = 0.0, .sigma = 0.05};
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    p.captures = 1;
    p.margin = 0.0;
    p.decision_fpir = 1e-3;
    const float levels[] = {0.9f, 0.95f, 0.8f};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < NG; i++) {
            gen[i] = levels[k];
        }
        cw_sim_scores_t *m;
        assert_int_equal(cw_sim_scores_create(gen, NG, imp, NI, 1e-3, &tail, &m, NULL, 0), 0);
        double fstar = tail.p_u * exp(-((double)levels[k] - tail.u) / tail.sigma);
        double nstar = log1p(-p.decision_fpir) / log1p(-fstar);
        uint64_t largest;
        int where;
        assert_int_equal(
            cw_sim_largest_n(m, NULL, &p, CW_SIM_FACE_1N, 1000, 100000000, &largest, &where), 0);
        assert_int_equal(where, 0);
        assert_true(fabs((double)largest - floor(nstar)) <= 1.0);
        cw_sim_scores_destroy(m);
    }
    // Out of range on both sides.
    for (int i = 0; i < NG; i++) {
        gen[i] = 0.6f; // t(1000) is about 0.64
    }
    cw_sim_scores_t *m;
    assert_int_equal(cw_sim_scores_create(gen, NG, imp, NI, 1e-3, &tail, &m, NULL, 0), 0);
    uint64_t largest;
    int where;
    assert_int_equal(
        cw_sim_largest_n(m, NULL, &p, CW_SIM_FACE_1N, 1000, 100000000, &largest, &where), 0);
    assert_int_equal(where, -1);
    cw_sim_scores_destroy(m);
    for (int i = 0; i < NG; i++) {
        gen[i] = 1.5f;
    }
    assert_int_equal(cw_sim_scores_create(gen, NG, imp, NI, 1e-3, &tail, &m, NULL, 0), 0);
    assert_int_equal(
        cw_sim_largest_n(m, NULL, &p, CW_SIM_FACE_1N, 1000, 100000000, &largest, &where), 0);
    assert_int_equal(where, 1);
    assert_true(largest == 100000000);
    cw_sim_scores_destroy(m);
}

// The O(1) sampler of the two best draws against drawing them all: the same distribution.
static void test_top2_sampler_matches_brute_force(void **state)
{
    (void)state;
    enum { M = 1000, TRIALS = 40000 };
    const uint64_t ns[] = {2, 7, 60};
    for (int k = 0; k < 3; k++) {
        double mean[2][2] = {{0}}, ties[2] = {0};
        for (int which = 0; which < 2; which++) {
            uint64_t st = 0xABCDEF0123456789ull + (uint64_t)k;
            for (int t = 0; t < TRIALS; t++) {
                size_t i1, i2;
                if (which == 0) {
                    cw__sim_top2(&st, M, ns[k], &i1, &i2);
                } else {
                    cw__sim_top2_brute(&st, M, ns[k], &i1, &i2);
                }
                assert_true(i1 < M && i2 < M && i2 <= i1);
                mean[which][0] += (double)i1 / TRIALS;
                mean[which][1] += (double)i2 / TRIALS;
                ties[which] += i1 == i2;
            }
        }
        // Means of the order statistics of n uniforms on [0, M): M n/(n+1), M (n-1)/(n+1).
        double n = (double)ns[k];
        for (int which = 0; which < 2; which++) {
            assert_true(fabs(mean[which][0] - M * n / (n + 1) - 0.5) < 3.0);
            assert_true(fabs(mean[which][1] - M * (n - 1) / (n + 1) - 0.5) < 3.0);
        }
        assert_true(fabs(ties[0] - ties[1]) < 0.01 * TRIALS);
    }
    size_t i1, i2;
    uint64_t st = 7;
    cw__sim_top2(&st, M, 1, &i1, &i2);
    assert_true(i2 == SIZE_MAX && i1 < M);
}

// The direct simulation through cw_gallery_decide agrees with the model where the threshold
// lies inside the data (per comparison FMR 5e-4, 500 impostor scores above it), and catches a
// wrong tail.
static void test_direct_simulation_agrees(void **state)
{
    fixture_t *f = *state;
    cw_sim_params_t p;
    cw_sim_params_default(&p);
    p.decision_fpir = 0.05;
    cw_sim_check_t c;
    assert_int_equal(cw_sim_check_face_1n(f->face, &p, 100, 40000, 42, &c), 0);
    assert_true(c.model_fpir >= c.fpir_lo && c.model_fpir <= c.fpir_hi);
    assert_true(c.model_fnir >= c.fnir_lo && c.model_fnir <= c.fnir_hi);
    assert_true(c.false_match <= c.passed);
    assert_true(c.fpir_hi - c.fpir_lo < 0.01);
    // The same at N = 1000 with a target inside the data.
    p.decision_fpir = 0.2;
    assert_int_equal(cw_sim_check_face_1n(f->face, &p, 1000, 20000, 43, &c), 0);
    assert_true(c.model_fpir >= c.fpir_lo && c.model_fpir <= c.fpir_hi);
    assert_true(c.model_fnir >= c.fnir_lo && c.model_fnir <= c.fnir_hi);
    // A tail 0.3 too heavy puts the threshold too high: the simulation sees it.
    cw_gallery_calibration_t wrong = *cw_sim_scores_tail(f->face);
    wrong.xi += 0.3;
    size_t ng, ni;
    const float *gen = cw_sim_scores_genuine(f->face, &ng);
    const float *imp = cw_sim_scores_impostor(f->face, &ni);
    cw_sim_scores_t *bad;
    assert_int_equal(cw_sim_scores_create(gen, ng, imp, ni, 1e-3, &wrong, &bad, NULL, 0), 0);
    p.decision_fpir = 0.05;
    assert_int_equal(cw_sim_check_face_1n(bad, &p, 100, 40000, 42, &c), 0);
    assert_false(c.model_fpir >= c.fpir_lo && c.model_fpir <= c.fpir_hi);
    cw_sim_scores_destroy(bad);
}

static void test_wilson(void **state)
{
    (void)state;
    double lo, hi;
    cw_sim_wilson(0, 1000, &lo, &hi);
    assert_true(lo == 0.0 && hi > 0.003 && hi < 0.004); // 3.8e-3
    cw_sim_wilson(1000, 1000, &lo, &hi);
    assert_true(hi == 1.0 && lo > 0.996 && lo < 0.997);
    cw_sim_wilson(500, 1000, &lo, &hi);
    assert_true(fabs(lo - 0.4691) < 1e-3 && fabs(hi - 0.5309) < 1e-3);
}

static void test_bad_input(void **state)
{
    fixture_t *f = *state;
    float gen[10] = {0.5f, 0.6f, 0.7f, 0.5f, 0.6f, 0.7f, 0.5f, 0.6f, 0.7f, 0.8f};
    float *imp = gauss_array(50000, 0.0, 0.1);
    cw_sim_scores_t *m = (cw_sim_scores_t *)1;
    char diag[200] = "";
    // Too few impostors for the tail fraction: says how many are needed.
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 50000, 1e-3, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    assert_null(m);
    assert_non_null(strstr(diag, "at least 100000"));
    assert_true(cw_sim_min_impostors(1e-3) == 100000);
    assert_true(cw_sim_min_impostors(0.03) == 3334);
    // Enough at a larger fraction.
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 50000, 1e-2, NULL, &m, diag, sizeof diag),
                     0);
    cw_sim_scores_destroy(m);
    assert_int_equal(cw_sim_scores_create(gen, 0, imp, 50000, 1e-2, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    assert_non_null(strstr(diag, "no genuine"));
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 0, 1e-2, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 50000, 1.5, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    imp[7] = NAN;
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 50000, 1e-2, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    assert_non_null(strstr(diag, "NaN"));
    // Every impostor score tied: no tail to fit.
    for (int i = 0; i < 50000; i++) {
        imp[i] = 0.25f;
    }
    assert_int_equal(cw_sim_scores_create(gen, 10, imp, 50000, 1e-2, NULL, &m, diag, sizeof diag),
                     CW_EINVAL);
    assert_non_null(strstr(diag, "could not be fitted"));
    free(imp);
    cw_sim_scores_destroy(NULL);

    cw_sim_params_t p;
    cw_sim_point_t pt;
    cw_sim_params_default(&p);
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_DOCUMENT_FREE, 1000, &pt),
                     CW_EINVAL);
    assert_int_equal(cw_sim_evaluate(NULL, NULL, &p, CW_SIM_FACE_1N, 1000, &pt), CW_EINVAL);
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_FACE_1N, 0, &pt), CW_EINVAL);
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &p, CW_SIM_N_MODES, 1000, &pt), CW_EINVAL);
    cw_sim_params_t q = p;
    q.target_fpir = 0.0;
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &q, CW_SIM_FACE_1N, 1000, &pt), CW_EINVAL);
    q = p;
    q.fingers = 0;
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &q, CW_SIM_FACE_1N, 1000, &pt), CW_EINVAL);
    q = p;
    q.margin = NAN;
    assert_int_equal(cw_sim_evaluate(f->face, NULL, &q, CW_SIM_FACE_1N, 1000, &pt), CW_EINVAL);
    uint64_t largest;
    int where;
    assert_int_equal(
        cw_sim_largest_n(f->face, NULL, &p, CW_SIM_FACE_1N, 1000, 10, &largest, &where), CW_EINVAL);
    cw_sim_check_t c;
    assert_int_equal(cw_sim_check_face_1n(f->face, &p, 1, 1000, 1, &c), CW_EINVAL);
    assert_int_equal(cw_sim_check_face_1n(f->face, &p, 1000, 0, 1, &c), CW_EINVAL);
    assert_true(isinf(cw_sim_threshold(f->face, 0.0)));
    assert_true(isinf(cw_sim_threshold_1n(f->face, 1000, 1.0)));
    assert_string_equal(cw_sim_mode_name(CW_SIM_DOCUMENT_FREE), "document_free");
    assert_string_equal(cw_sim_mode_name(CW_SIM_N_MODES), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_face_fpir_matches_gaussian),
        cmocka_unit_test(test_threshold_is_the_gallerys),
        cmocka_unit_test(test_threshold_and_fnir_grow_with_n),
        cmocka_unit_test(test_document_free_hint_bound),
        cmocka_unit_test(test_document_free_factors),
        cmocka_unit_test(test_one_to_one_ignores_n),
        cmocka_unit_test(test_largest_n_analytic),
        cmocka_unit_test(test_top2_sampler_matches_brute_force),
        cmocka_unit_test(test_direct_simulation_agrees),
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
