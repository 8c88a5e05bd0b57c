// SPDX-License-Identifier: Apache-2.0
// Tests of the matcher (match.c) on synthetic prints: impressions of the same finger score
// above every impostor pair by a stated margin, scores are symmetric and in [0, 1], 1:N search
// on a thread pool equals 1:1 comparison, calibrated thresholds separate the two, and empty or
// oversized templates are handled.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/finger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { FINGERS = 5, IMPS = 3, N = FINGERS * IMPS };

static cw_finger_template_t *g_tpl;
static cw_finger_prepared_t g_prep[N];

static int setup(void **state)
{
    (void)state;
    g_tpl = calloc(N, sizeof(*g_tpl));
    for (int i = 0; i < N; i++) {
        cw_image_t img;
        if (cw_finger_synth((uint32_t)(100 + i / IMPS), (uint32_t)(i % IMPS), NULL, &img) != 0 ||
            cw_finger_extract(&img, &g_tpl[i], NULL, NULL, 0) != 0 ||
            cw_finger_prepare(&g_tpl[i], &g_prep[i]) != 0) {
            return -1;
        }
        cw_image_free(&img);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        cw_finger_prepared_free(&g_prep[i]);
    }
    free(g_tpl);
    return 0;
}

// The margin the synthetic set must show between the lowest genuine and highest impostor score
// (scores of version 1: impostors stay under about 0.04, genuine pairs mostly above 0.1).
#define MARGIN 0.05f

static void genuine_above_impostor(void **state)
{
    (void)state;
    float min_gen = 1.0f, max_imp = 0.0f;
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            float s = cw_finger_compare(&g_prep[i], &g_prep[j]);
            assert_true(s >= 0.0f && s <= 1.0f);
            if (i / IMPS == j / IMPS) {
                min_gen = s < min_gen ? s : min_gen;
            } else {
                max_imp = s > max_imp ? s : max_imp;
            }
        }
    }
    print_message("lowest genuine %.4f, highest impostor %.4f\n", min_gen, max_imp);
    assert_true(min_gen > max_imp + MARGIN);
    // Every genuine pair is a match at the strictest calibrated threshold.
    assert_true(min_gen >= cw_finger_threshold(1e-5));
    assert_true(cw_finger_threshold(1e-5) > cw_finger_threshold(1e-4));
    assert_true(cw_finger_threshold(1e-4) > cw_finger_threshold(1e-3));
}

static void symmetric_and_self(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            float a = cw_finger_compare(&g_prep[i], &g_prep[j]);
            float b = cw_finger_compare(&g_prep[j], &g_prep[i]);
            assert_memory_equal(&a, &b, sizeof(a)); // exactly, not nearly
        }
        assert_true(cw_finger_compare(&g_prep[i], &g_prep[i]) > 0.5f);
    }
}

static void search_matches_compare(void **state)
{
    (void)state;
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(2, &pool), 0);
    float scores[N];
    assert_int_equal(cw_finger_search(pool, &g_prep[0], g_prep, N, scores), 0);
    for (int i = 0; i < N; i++) {
        float s = cw_finger_compare(&g_prep[0], &g_prep[i]);
        assert_memory_equal(&s, &scores[i], sizeof(s));
    }
    // The best other match of impression 0 is another impression of the same finger.
    int best = 1;
    for (int i = 2; i < N; i++) {
        best = scores[i] > scores[best] ? i : best;
    }
    assert_true(best < IMPS);
    assert_int_equal(cw_finger_search(NULL, &g_prep[0], g_prep, 0, scores), 0);
    assert_int_equal(cw_finger_search(pool, NULL, g_prep, N, scores), CW_EINVAL);
    cw_pool_destroy(pool);
}

static void edge_templates(void **state)
{
    (void)state;
    cw_finger_template_t *t = calloc(1, sizeof(*t));
    t->width = t->height = 300;
    t->dpi = 500;
    cw_finger_prepared_t p;
    assert_int_equal(cw_finger_prepare(t, &p), 0); // 0 minutiae: valid, matches nothing
    assert_true(cw_finger_compare(&p, &g_prep[0]) == 0.0f);
    cw_finger_prepared_free(&p);
    cw_finger_prepared_free(&p); // idempotent
    t->n = 256;
    assert_int_equal(cw_finger_prepare(t, &p), CW_EINVAL);
    assert_null(p.impl);
    // 255 minutiae on a grid: accepted, compares with itself.
    t->n = 255;
    for (int i = 0; i < 255; i++) {
        t->m[i] = (cw_minutia_t){(uint16_t)(10 + (i % 16) * 17), (uint16_t)(10 + (i / 16) * 17),
                                 (uint8_t)(i * 37), 1, 50};
    }
    assert_int_equal(cw_finger_prepare(t, &p), 0);
    float s = cw_finger_compare(&p, &p);
    assert_true(s > 0.5f && s <= 1.0f);
    cw_finger_prepared_free(&p);
    assert_true(cw_finger_compare(NULL, &g_prep[0]) == 0.0f);
    float sc;
    assert_int_equal(cw_finger_compare_templates(&g_tpl[0], &g_tpl[1], &sc), 0);
    assert_true(sc == cw_finger_compare(&g_prep[0], &g_prep[1]));
    // Allocation failure during preparation leaves nothing behind.
    cw_alloc_counting_install();
    cw_alloc_fail_nth(1);
    assert_int_equal(cw_finger_prepare(&g_tpl[0], &p), CW_ENOMEM);
    cw_alloc_stats_t st;
    cw_alloc_counting_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    cw_alloc_fail_nth(0);
    cw_alloc_counting_uninstall();
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genuine_above_impostor),
        cmocka_unit_test(symmetric_and_self),
        cmocka_unit_test(search_matches_compare),
        cmocka_unit_test(edge_templates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
