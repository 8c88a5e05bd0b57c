// SPDX-License-Identifier: Apache-2.0
// Tests of the identification figures (src/eval/identify.c) on hand-made search records:
// closed-set rank-1 and rank-10, the FPIR threshold (ties, searches with no candidate,
// unresolvable targets), FNIR at it, bootstrap intervals over probe subjects, bad arguments.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/eval.h"

#include <math.h>
#include <string.h>

static void add(cw_eval_scores_t *s, uint32_t subject, int mated, int rank, float mate,
                float nonmate)
{
    cw_eval_search_t r = {subject, (uint8_t)mated, (uint16_t)rank, mate, nonmate};
    assert_int_equal(cw_eval_scores_add_search(s, &r), 0);
}

static void test_hand_made(void **state)
{
    (void)state;
    cw_eval_scores_t s = {0};
    // Mated: rank 1 at 0.9, rank 1 at 0.6, rank 3, rank 12 (outside the top 10).
    add(&s, 0, 1, 1, 0.9f, 0.3f);
    add(&s, 1, 1, 1, 0.6f, 0.5f);
    add(&s, 2, 1, 3, 0.65f, 0.7f); // above the threshold, but not rank 1: a miss
    add(&s, 3, 1, 12, 0.1f, 0.8f);
    // Non-mated: best others 0.2, 0.55, 0.55, 0.7, and one with no candidate at all.
    add(&s, 4, 0, 0, NAN, 0.2f);
    add(&s, 5, 0, 0, NAN, 0.55f);
    add(&s, 6, 0, 0, NAN, 0.55f);
    add(&s, 7, 0, 0, NAN, 0.7f);
    add(&s, 8, 0, 0, NAN, NAN);
    const double t[] = {0.2, 0.4, 0.1};
    cw_eval_identify_t id;
    assert_int_equal(cw_eval_identification(&s, t, 3, 0, 1, &id), 0);
    assert_int_equal(id.n_mated, 4);
    assert_int_equal(id.n_nonmated, 5);
    assert_float_equal(id.rank1.value, 0.5, 1e-12);
    assert_float_equal(id.rank10.value, 0.75, 1e-12);
    // FPIR 0.2 of 5: one false positive allowed (0.7); the tie at 0.55 is not: t above 0.55.
    // Mated rank-1 at or above it: 0.9 and 0.6, so FNIR = 2/4.
    assert_true(id.threshold[0] == nextafterf(0.55f, 1.0f));
    assert_float_equal(id.fnir[0].value, 0.5, 1e-12);
    // FPIR 0.4: two allowed, still not the tie (it would make three): same threshold.
    assert_true(id.threshold[1] == nextafterf(0.55f, 1.0f));
    // FPIR 0.1 of 5 < 1 search: cannot be resolved.
    assert_true(isnan(id.threshold[2]) && isnan(id.fnir[2].value));
    cw_eval_scores_free(&s);
}

static void test_fnir_moves_with_target(void **state)
{
    (void)state;
    cw_eval_scores_t s = {0};
    for (uint32_t i = 0; i < 100; i++) {
        add(&s, i, 1, 1, 0.5f + 0.005f * (float)i, 0.1f);      // mates spread over 0.5 .. 0.995
        add(&s, 100 + i, 0, 0, NAN, 0.3f + 0.006f * (float)i); // non-mates 0.3 .. 0.894
    }
    const double t[] = {0.01, 0.1, 0.5};
    cw_eval_identify_t id;
    assert_int_equal(cw_eval_identification(&s, t, 3, 0, 1, &id), 0);
    assert_float_equal(id.rank1.value, 1.0, 0);
    // FPIR 1%: t above the second-highest non-mate 0.888: mates >= 0.89: i >= 78, FNIR 0.78.
    assert_float_equal(id.fnir[0].value, 0.78, 1e-9);
    assert_true(id.fnir[0].value > id.fnir[1].value && id.fnir[1].value > id.fnir[2].value);
    cw_eval_scores_free(&s);
}

static void test_bootstrap(void **state)
{
    (void)state;
    cw_eval_scores_t s = {0};
    // 400 probe subjects; 80% of the mated searches are rank 1.
    for (uint32_t i = 0; i < 400; i++) {
        add(&s, i, 1, (i % 5) == 0 ? 2 : 1, 0.8f, 0.3f);
        add(&s, 400 + i, 0, 0, NAN, 0.2f + 0.001f * (float)i);
    }
    const double t[] = {0.01};
    cw_eval_identify_t id;
    assert_int_equal(cw_eval_identification(&s, t, 1, 200, 3, &id), 0);
    assert_int_equal(id.replicates, 200);
    assert_float_equal(id.rank1.value, 0.8, 1e-12);
    assert_true(id.rank1.lo < 0.8 && 0.8 < id.rank1.hi);
    assert_true(id.rank1.hi - id.rank1.lo < 0.1);         // about +-0.04 for 400 searches
    assert_false(id.rank1.lo < 0.9 && 0.9 < id.rank1.hi); // and it can tell 0.9 apart
    assert_float_equal(id.rank10.lo, 1.0, 0);             // every mate is within the top 10
    cw_eval_scores_free(&s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cw_eval_scores_t s = {0};
    cw_eval_identify_t id;
    assert_int_equal(cw_eval_identification(&s, NULL, 0, 0, 1, &id), CW_EINVAL);
    add(&s, 0, 1, 1, 0.5f, 0.1f);
    const double bad[] = {1.5};
    assert_int_equal(cw_eval_identification(&s, bad, 1, 0, 1, &id), CW_EINVAL);
    assert_int_equal(cw_eval_identification(&s, NULL, 0, -2, 1, &id), CW_EINVAL);
    // Only mated searches: the FNIR target cannot be resolved, rank-1 can.
    const double t[] = {0.01};
    assert_int_equal(cw_eval_identification(&s, t, 1, 0, 1, &id), 0);
    assert_float_equal(id.rank1.value, 1.0, 0);
    assert_true(isnan(id.fnir[0].value));
    cw_eval_scores_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_made),
        cmocka_unit_test(test_fnir_moves_with_target),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
