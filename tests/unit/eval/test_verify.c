// SPDX-License-Identifier: Apache-2.0
// Tests of the verification figures (src/eval/verify.c): known answers on small hand-computed
// sets (FVC EER, the threshold at a target FMR with ties at it, unresolvable targets), large
// Gaussian sets against the analytic values, bootstrap intervals that contain the true value,
// narrow with more subjects and do not depend on the thread count, and bad arguments.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/eval.h"

#include "../../../src/eval/eval_internal.h"

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

static double normal(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static double phi(double x) // standard normal CDF
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static void set_of(cw_eval_scores_t *s, const float *gen, size_t ng, const float *imp, size_t ni)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < ng; i++) {
        assert_int_equal(cw_eval_scores_add(s, 1, gen[i], (uint32_t)i, (uint32_t)i), 0);
    }
    for (size_t i = 0; i < ni; i++) {
        assert_int_equal(cw_eval_scores_add(s, 0, imp[i], (uint32_t)i, (uint32_t)i + 1), 0);
    }
}

static void test_known_answers(void **state)
{
    (void)state;
    // Candidates 0.1 .. 0.9: at 0.5 FNMR 0 < FMR 1/4; at 0.6 FNMR 1/2 > FMR 1/4. FVC takes the
    // pair with the smaller sum: EER = (0 + 1/4) / 2 at threshold 0.5.
    const float gen[] = {0.9f, 0.5f};
    const float imp[] = {0.3f, 0.1f, 0.6f, 0.2f};
    cw_eval_scores_t s;
    set_of(&s, gen, 2, imp, 4);
    const double t[] = {0.25, 0.5, 0.1};
    cw_eval_verify_t v;
    assert_int_equal(cw_eval_verification(&s, t, 3, 0, 1, NULL, &v), 0);
    assert_int_equal(v.n_gen, 2);
    assert_int_equal(v.n_imp, 4);
    assert_float_equal(v.eer.value, 0.125, 1e-12);
    assert_float_equal(v.eer_threshold, 0.5, 1e-7);
    // FMR 1/4: one impostor (0.6) may be accepted, 0.3 must not: t just above 0.3.
    assert_true(v.threshold[0] > 0.3 && v.threshold[0] == nextafterf(0.3f, 1.0f));
    assert_float_equal(v.fnmr[0].value, 0.0, 0);
    assert_true(v.threshold[1] == nextafterf(0.2f, 1.0f));
    // 0.1 x 4 impostors < 1: the target cannot be resolved.
    assert_true(isnan(v.threshold[2]) && isnan(v.fnmr[2].value));
    assert_int_equal(v.replicates, 0);
    assert_true(v.eer.lo == v.eer.value && v.eer.hi == v.eer.value);
    cw_eval_scores_free(&s);

    // Well separated: EER 0.
    const float g2[] = {0.9f, 0.95f};
    const float i2[] = {0.1f, 0.2f};
    set_of(&s, g2, 2, i2, 2);
    assert_int_equal(cw_eval_verification(&s, NULL, 0, 0, 1, NULL, &v), 0);
    assert_float_equal(v.eer.value, 0.0, 0);
    cw_eval_scores_free(&s);

    // Where FNMR = FMR at a threshold, that is the EER: 1/4 at 0.6 (not the midpoint below).
    const float g3[] = {0.9f, 0.5f, 0.8f, 0.7f};
    set_of(&s, g3, 4, imp, 4);
    assert_int_equal(cw_eval_verification(&s, NULL, 0, 0, 1, NULL, &v), 0);
    assert_float_equal(v.eer.value, 0.25, 1e-12);
    assert_float_equal(v.eer_threshold, 0.6, 1e-7);
    cw_eval_scores_free(&s);

    // Fully inverted: EER 1.
    set_of(&s, i2, 2, g2, 2);
    assert_int_equal(cw_eval_verification(&s, NULL, 0, 0, 1, NULL, &v), 0);
    assert_float_equal(v.eer.value, 1.0, 0);
    cw_eval_scores_free(&s);
}

static void test_ties_at_threshold(void **state)
{
    (void)state;
    // Two impostors tie at 0.5. At FMR <= 1/2 both must be rejected (accepting one accepts
    // both): t just above 0.5, where genuine 0.4 and 0.5 are rejected. At 3/4 both may pass.
    const float gen[] = {0.4f, 0.5f, 0.95f, 0.99f};
    const float imp[] = {0.5f, 0.3f, 0.9f, 0.5f};
    cw_eval_scores_t s;
    set_of(&s, gen, 4, imp, 4);
    const double t[] = {0.5, 0.75};
    cw_eval_verify_t v;
    assert_int_equal(cw_eval_verification(&s, t, 2, 0, 1, NULL, &v), 0);
    assert_true(v.threshold[0] == nextafterf(0.5f, 1.0f));
    assert_float_equal(v.fnmr[0].value, 0.5, 1e-12);
    assert_true(v.threshold[1] == nextafterf(0.3f, 1.0f));
    assert_float_equal(v.fnmr[1].value, 0.0, 0);
    // The FMR actually reached never exceeds the target.
    size_t acc = 0;
    for (int i = 0; i < 4; i++) {
        acc += imp[i] >= v.threshold[0];
    }
    assert_true((double)acc / 4 <= 0.5);
    cw_eval_scores_free(&s);
}

static void test_threshold_helper_weights(void **state)
{
    (void)state;
    const float x[] = {0.1f, 0.2f, 0.2f, 0.7f};
    const double w[] = {1, 1, 1, 3};
    // Total 6, target 0.5: 3 may pass (the 0.7 of weight 3); the tie at 0.2 may not.
    assert_true(cw__eval_threshold(x, w, 4, 6.0, 0.5) == nextafterf(0.2f, 1.0f));
    // Target 0.4: 2.4 < 3, even the top score must be rejected.
    assert_true(cw__eval_threshold(x, w, 4, 6.0, 0.4) == nextafterf(0.7f, 1.0f));
    // Everything may pass: the lowest score.
    assert_true(cw__eval_threshold(x, w, 4, 6.0, 1.0) == 0.1f);
}

static void test_sort_floats(void **state)
{
    (void)state;
    enum { N = 10007 };
    float *x = malloc(N * sizeof(float));
    assert_non_null(x);
    rng = 99;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(normal() * 1e3);
    }
    x[0] = -0.0f;
    x[1] = 0.0f;
    assert_int_equal(cw__eval_sort_floats(x, N), 0);
    for (int i = 1; i < N; i++) {
        assert_true(x[i - 1] <= x[i]);
    }
    free(x);
}

// Gaussian scores: genuine N(d, 1), impostor N(0, 1), over n_subj subjects with per_subj
// genuine pairs each and imp_per_subj impostor pairs per subject (random partners).
static void gaussian_set(cw_eval_scores_t *s, uint32_t n_subj, int per_subj, int imp_per_subj,
                         double d, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    rng = seed;
    for (uint32_t a = 0; a < n_subj; a++) {
        for (int k = 0; k < per_subj; k++) {
            assert_int_equal(cw_eval_scores_add(s, 1, (float)(d + normal()), a, a), 0);
        }
        for (int k = 0; k < imp_per_subj; k++) {
            uint32_t b = (a + 1 + (uint32_t)(uniform01() * (n_subj - 1))) % n_subj;
            assert_int_equal(cw_eval_scores_add(s, 0, (float)normal(), a, b), 0);
        }
    }
}

static void test_gaussian_analytic(void **state)
{
    (void)state;
    cw_eval_scores_t s;
    gaussian_set(&s, 1000, 100, 2000, 2.0, 7); // 100k genuine, 2M impostor
    const double t[] = {1e-2, 1e-3};
    cw_eval_verify_t v;
    assert_int_equal(cw_eval_verification(&s, t, 2, 0, 1, NULL, &v), 0);
    // EER where the curves cross, at t = 1: Phi(-1).
    assert_float_equal(v.eer.value, phi(-1.0), 2e-3);
    assert_float_equal(v.eer_threshold, 1.0, 0.02);
    // Thresholds: the impostor quantiles 2.3263 and 3.0902; FNMR = Phi(thr - 2).
    assert_float_equal(v.threshold[0], 2.3263, 0.01);
    assert_float_equal(v.threshold[1], 3.0902, 0.03);
    assert_float_equal(v.fnmr[0].value, phi(2.3263 - 2.0), 0.006);
    assert_float_equal(v.fnmr[1].value, phi(3.0902 - 2.0), 0.012);
    cw_eval_scores_free(&s);
}

static void test_bootstrap_contains_truth(void **state)
{
    (void)state;
    cw_eval_scores_t s;
    gaussian_set(&s, 400, 10, 100, 2.0, 11);
    const double t[] = {1e-2};
    cw_eval_verify_t v;
    assert_int_equal(cw_eval_verification(&s, t, 1, 200, 5, NULL, &v), 0);
    assert_int_equal(v.replicates, 200);
    double true_eer = phi(-1.0), true_fnmr = phi(2.3263 - 2.0);
    assert_true(v.eer.lo < true_eer && true_eer < v.eer.hi);
    assert_true(v.fnmr[0].lo < true_fnmr && true_fnmr < v.fnmr[0].hi);
    assert_true(v.eer.lo <= v.eer.value && v.eer.value <= v.eer.hi);
    // And it can fail: a clearly different separation lies outside the interval.
    assert_false(v.eer.lo < phi(-0.8) && phi(-0.8) < v.eer.hi);
    cw_eval_scores_free(&s);
}

static void test_bootstrap_narrows(void **state)
{
    (void)state;
    cw_eval_scores_t small, big;
    gaussian_set(&small, 50, 10, 100, 2.0, 21);
    gaussian_set(&big, 800, 10, 100, 2.0, 22);
    cw_eval_verify_t vs, vb;
    assert_int_equal(cw_eval_verification(&small, NULL, 0, 200, 3, NULL, &vs), 0);
    assert_int_equal(cw_eval_verification(&big, NULL, 0, 200, 3, NULL, &vb), 0);
    double ws = vs.eer.hi - vs.eer.lo, wb = vb.eer.hi - vb.eer.lo;
    assert_true(ws > 0 && wb > 0);
    assert_true(wb < 0.5 * ws); // 16 times the subjects: about a quarter of the width
    cw_eval_scores_free(&small);
    cw_eval_scores_free(&big);
}

static void test_bootstrap_clusters_by_subject(void **state)
{
    (void)state;
    // The same scores, but each subject's genuine scores share a strong offset: resampling
    // subjects (not pairs) must see the wider spread.
    cw_eval_scores_t iid, clus;
    gaussian_set(&iid, 100, 20, 50, 2.0, 31);
    gaussian_set(&clus, 100, 20, 50, 2.0, 31);
    rng = 77;
    for (uint32_t a = 0; a < 100; a++) {
        float off = (float)(1.5 * normal());
        for (size_t i = 0; i < clus.n_gen; i++) {
            if (clus.gen[i].a == a) {
                clus.gen[i].score += off;
            }
        }
    }
    cw_eval_verify_t vi, vc;
    assert_int_equal(cw_eval_verification(&iid, NULL, 0, 200, 3, NULL, &vi), 0);
    assert_int_equal(cw_eval_verification(&clus, NULL, 0, 200, 3, NULL, &vc), 0);
    assert_true(vc.eer.hi - vc.eer.lo > 1.5 * (vi.eer.hi - vi.eer.lo));
    cw_eval_scores_free(&iid);
    cw_eval_scores_free(&clus);
}

static void test_bootstrap_same_with_threads(void **state)
{
    (void)state;
    cw_eval_scores_t s;
    gaussian_set(&s, 100, 5, 50, 1.5, 41);
    const double t[] = {1e-2, 1e-3};
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(3, &pool), 0);
    cw_eval_verify_t a, b;
    assert_int_equal(cw_eval_verification(&s, t, 2, 100, 9, NULL, &a), 0);
    assert_int_equal(cw_eval_verification(&s, t, 2, 100, 9, pool, &b), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    // A different seed gives different intervals (the seed is used).
    assert_int_equal(cw_eval_verification(&s, t, 2, 100, 10, pool, &b), 0);
    assert_true(a.eer.lo != b.eer.lo || a.eer.hi != b.eer.hi);
    cw_pool_destroy(pool);
    cw_eval_scores_free(&s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const float g[] = {0.9f};
    const float i[] = {0.1f};
    cw_eval_scores_t s;
    set_of(&s, g, 1, i, 1);
    cw_eval_verify_t v;
    double t9[9] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    assert_int_equal(cw_eval_verification(&s, t9, 9, 0, 1, NULL, &v), CW_EINVAL);
    const double zero[] = {0.0};
    assert_int_equal(cw_eval_verification(&s, zero, 1, 0, 1, NULL, &v), CW_EINVAL);
    assert_int_equal(cw_eval_verification(&s, NULL, 0, -1, 1, NULL, &v), CW_EINVAL);
    assert_int_equal(cw_eval_verification(NULL, NULL, 0, 0, 1, NULL, &v), CW_EINVAL);
    s.n_imp = 0;
    assert_int_equal(cw_eval_verification(&s, NULL, 0, 0, 1, NULL, &v), CW_EINVAL);
    s.n_imp = 1;
    s.imp[0].score = NAN;
    assert_int_equal(cw_eval_verification(&s, NULL, 0, 0, 1, NULL, &v), CW_EINVAL);
    cw_eval_scores_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_ties_at_threshold),
        cmocka_unit_test(test_threshold_helper_weights),
        cmocka_unit_test(test_sort_floats),
        cmocka_unit_test(test_gaussian_analytic),
        cmocka_unit_test(test_bootstrap_contains_truth),
        cmocka_unit_test(test_bootstrap_narrows),
        cmocka_unit_test(test_bootstrap_clusters_by_subject),
        cmocka_unit_test(test_bootstrap_same_with_threads),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
