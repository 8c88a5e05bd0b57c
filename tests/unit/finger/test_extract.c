// SPDX-License-Identifier: Apache-2.0
// Tests of extraction and quality (extract.c): minutiae of a synthetic print lie on the print
// and agree across impressions; blank, saturated, faint, off-centre and noise images get the
// verdict a traveller should hear; bad arguments and allocation failures give errors.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/finger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static cw_finger_quality_t quality_of(const cw_image_t *img, int *n)
{
    cw_finger_template_t *t = malloc(sizeof(*t));
    cw_finger_quality_t q;
    assert_int_equal(cw_finger_extract(img, t, &q, NULL, 0), 0);
    *n = t->n;
    free(t);
    return q;
}

static void minutiae_on_the_print(void **state)
{
    (void)state;
    cw_image_t img;
    assert_int_equal(cw_finger_synth(42, 0, NULL, &img), 0);
    cw_finger_template_t *t = malloc(sizeof(*t));
    cw_finger_quality_t q;
    assert_int_equal(cw_finger_extract(&img, t, &q, NULL, 0), 0);
    assert_int_equal(t->width, img.width);
    assert_int_equal(t->dpi, 500);
    assert_true(t->n >= 15);
    assert_true(q.score > 40);
    for (int i = 0; i < t->n; i++) {
        // Inside the image, away from its edge, with a type and a quality.
        assert_true(t->m[i].x >= 8 && t->m[i].x < img.width - 8);
        assert_true(t->m[i].y >= 8 && t->m[i].y < img.height - 8);
        assert_true(t->m[i].type == CW_MINUTIA_ENDING || t->m[i].type == CW_MINUTIA_BIFURCATION);
        assert_true(t->m[i].quality <= 100);
    }
    free(t);
    cw_image_free(&img);
}

static void fill(cw_image_t *img, int w, int h, int v)
{
    assert_int_equal(cw_image_alloc(w, h, 1, img), 0);
    memset(img->data, v, (size_t)h * img->stride);
}

static void verdicts(void **state)
{
    (void)state;
    cw_image_t img;
    int n;
    fill(&img, 200, 200, 255); // blank (saturated white)
    cw_finger_quality_t q = quality_of(&img, &n);
    assert_int_equal(q.verdict, CW_FINGER_NO_FINGER);
    assert_int_equal(n, 0);
    memset(img.data, 0, (size_t)img.height * img.stride); // black
    q = quality_of(&img, &n);
    assert_int_equal(q.verdict, CW_FINGER_NO_FINGER);
    // Random noise is not a fingerprint.
    uint32_t s = 1;
    for (size_t i = 0; i < (size_t)img.height * img.stride; i++) {
        s = s * 1664525u + 1013904223u;
        img.data[i] = (uint8_t)(s >> 24);
    }
    q = quality_of(&img, &n);
    assert_true(q.verdict != CW_FINGER_OK);
    cw_image_free(&img);
    // A faint print (contrast squeezed into 16 grey levels): press firmer.
    assert_int_equal(cw_finger_synth(5, 0, NULL, &img), 0);
    for (size_t i = 0; i < (size_t)img.height * img.stride; i++) {
        img.data[i] = (uint8_t)(200 + img.data[i] / 16);
    }
    q = quality_of(&img, &n);
    assert_int_equal(q.verdict, CW_FINGER_PRESS_FIRMER);
    cw_image_free(&img);
    // Ridges drowned in grime (a dirty platen): clean the sensor.
    cw_finger_synth_params_t dirty = {240, 280, 15, 20, 3, 70, 0.1f, 0.75f};
    assert_int_equal(cw_finger_synth(5, 0, &dirty, &img), 0);
    q = quality_of(&img, &n);
    assert_int_equal(q.verdict, CW_FINGER_CLEAN_SENSOR);
    assert_true(q.score < 50);
    cw_image_free(&img);
    // The same print, clean: good, and a better score.
    assert_int_equal(cw_finger_synth(5, 0, NULL, &img), 0);
    q = quality_of(&img, &n);
    assert_int_equal(q.verdict, CW_FINGER_OK);
    assert_true(q.score >= 50);
    cw_image_free(&img);
    // Only the edge of the finger on the sensor: a small print in a corner.
    cw_image_t part;
    assert_int_equal(cw_finger_synth(5, 0, NULL, &img), 0);
    fill(&part, 400, 400, 215);
    for (int y = 0; y < 90; y++) {
        memcpy(part.data + (size_t)(y + 300) * part.stride + 300,
               img.data + (size_t)(y + 100) * img.stride + 80, 90);
    }
    q = quality_of(&part, &n);
    assert_int_equal(q.verdict, CW_FINGER_PLACE_CENTRE);
    cw_image_free(&part);
    cw_image_free(&img);
}

static void bad_arguments(void **state)
{
    (void)state;
    cw_image_t img;
    cw_finger_template_t *t = malloc(sizeof(*t));
    char diag[128];
    fill(&img, 20, 20, 128);
    assert_int_equal(cw_finger_extract(&img, t, NULL, diag, sizeof(diag)), CW_EINVAL);
    assert_non_null(strstr(diag, "smaller"));
    cw_image_free(&img);
    assert_int_equal(cw_image_alloc(64, 64, 3, &img), 0);
    assert_int_equal(cw_finger_extract(&img, t, NULL, NULL, 0), CW_EINVAL);
    cw_image_free(&img);
    assert_int_equal(cw_finger_extract(NULL, t, NULL, NULL, 0), CW_EINVAL);
    free(t);
}

static void allocation_failures(void **state)
{
    (void)state;
    cw_image_t img;
    assert_int_equal(cw_finger_synth(9, 0, NULL, &img), 0);
    cw_finger_template_t *t = malloc(sizeof(*t));
    assert_int_equal(cw_finger_extract(&img, t, NULL, NULL, 0), 0); // builds the Gabor bank
    cw_alloc_counting_install();
    int failures = 0;
    for (uint64_t nth = 1; nth < 200; nth++) {
        cw_alloc_fail_nth(nth);
        int rc = cw_finger_extract(&img, t, NULL, NULL, 0);
        cw_alloc_fail_nth(0);
        cw_alloc_stats_t st;
        cw_alloc_counting_stats(&st);
        assert_int_equal(st.live_blocks, 0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, CW_ENOMEM);
        failures++;
    }
    assert_true(failures > 5);
    cw_alloc_counting_uninstall();
    free(t);
    cw_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minutiae_on_the_print),
        cmocka_unit_test(verdicts),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
