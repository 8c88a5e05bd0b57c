// SPDX-License-Identifier: Apache-2.0
// Tests of the synthetic print generator (synth.c): reproducible from its seeds, impressions of
// one finger differ from each other, prints look like prints to the extractor (dark ridges,
// a usable quality verdict), and bad parameters are refused.
#include "clearway/err.h"
#include "clearway/finger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void reproducible(void **state)
{
    (void)state;
    cw_image_t a, b, c;
    assert_int_equal(cw_finger_synth(7, 1, NULL, &a), 0);
    assert_int_equal(cw_finger_synth(7, 1, NULL, &b), 0);
    assert_int_equal(cw_finger_synth(7, 2, NULL, &c), 0);
    assert_int_equal(a.width, 240);
    assert_int_equal(a.height, 280);
    assert_int_equal(a.channels, 1);
    assert_memory_equal(a.data, b.data, (size_t)a.height * a.stride);
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)a.height * a.stride; i++) {
        differ += a.data[i] != c.data[i];
    }
    assert_true(differ > (size_t)a.height * a.stride / 4);
    cw_image_free(&a);
    cw_image_free(&b);
    cw_image_free(&c);
}

static void looks_like_a_print(void **state)
{
    (void)state;
    for (uint32_t f = 0; f < 3; f++) {
        cw_image_t img;
        assert_int_equal(cw_finger_synth(f, 0, NULL, &img), 0);
        // Dark ridges on light background: the centre is half dark, the corner light.
        int dark = 0, n = 0;
        for (int y = img.height / 2 - 20; y < img.height / 2 + 20; y++) {
            for (int x = img.width / 2 - 20; x < img.width / 2 + 20; x++, n++) {
                dark += img.data[(size_t)y * img.stride + x] < 128;
            }
        }
        assert_true(dark > n / 5 && dark < 4 * n / 5);
        assert_true(img.data[2 * img.stride + 2] > 150);
        cw_finger_template_t t;
        cw_finger_quality_t q;
        assert_int_equal(cw_finger_extract(&img, &t, &q, NULL, 0), 0);
        assert_true(t.n >= 15 && t.n <= 120);
        assert_int_equal(q.verdict, CW_FINGER_OK);
        cw_image_free(&img);
    }
}

static void bad_parameters(void **state)
{
    (void)state;
    cw_image_t img;
    cw_finger_synth_params_t p = {32, 280, 15, 20, 3, 12, 0.1f, 0.75f};
    assert_int_equal(cw_finger_synth(1, 1, &p, &img), CW_EINVAL);
    assert_null(img.data);
    p.width = 240;
    p.contact = 2.0f;
    assert_int_equal(cw_finger_synth(1, 1, &p, &img), CW_EINVAL);
    assert_int_equal(cw_finger_synth(1, 1, NULL, NULL), CW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reproducible),
        cmocka_unit_test(looks_like_a_print),
        cmocka_unit_test(bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
