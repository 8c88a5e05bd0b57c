// SPDX-License-Identifier: Apache-2.0
// Tests of the geometric operations: resize keeps flat areas flat, follows gradients and does
// not alias when shrinking; the affine warp reproduces pixels under the identity, moves them
// where a known rotation says, and fills outside with the border; crop-and-resize agrees with
// resize inside the image and fills the part of the crop outside it; channel order swaps.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int install(void **state)
{
    (void)state;
    cw_alloc_counting_install();
    return 0;
}

static int uninstall(void **state)
{
    (void)state;
    cw_alloc_stats_t s;
    cw_alloc_counting_stats(&s);
    cw_alloc_counting_uninstall();
    return s.live_blocks == 0 ? 0 : -1; // a leak fails the test
}

static uint8_t *at(const cw_image_t *img, int x, int y)
{
    return img->data + (size_t)y * img->stride + (size_t)x * img->channels;
}

static void fill(cw_image_t *img, int (*f)(int x, int y, int c))
{
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            for (int c = 0; c < img->channels; c++) {
                at(img, x, y)[c] = (uint8_t)f(x, y, c);
            }
        }
    }
}

static int flat(int x, int y, int c)
{
    (void)x;
    (void)y;
    return 90 + 40 * c;
}

static int ramp_x(int x, int y, int c)
{
    (void)y;
    (void)c;
    return 10 * x;
}

static int checker(int x, int y, int c)
{
    (void)c;
    return ((x + y) & 1) ? 255 : 0;
}

static int pattern(int x, int y, int c)
{
    return (x * 37 + y * 11 + c * 71) & 0xff;
}

static void test_resize_flat_stays_flat(void **state)
{
    (void)state;
    const int sizes[][2] = {{100, 77}, {5, 3}, {200, 4}, {1, 1}, {37, 23}, {12, 60}};
    for (int ch = 1; ch <= 3; ch += 2) {
        cw_image_t src;
        assert_int_equal(cw_image_alloc(37, 23, ch, &src), 0);
        fill(&src, flat);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            cw_image_t dst;
            assert_int_equal(cw_image_resize(&src, sizes[s][0], sizes[s][1], &dst), 0);
            assert_int_equal(dst.width, sizes[s][0]);
            assert_int_equal(dst.height, sizes[s][1]);
            assert_int_equal(dst.channels, ch);
            for (int y = 0; y < dst.height; y++) {
                for (int x = 0; x < dst.width; x++) {
                    for (int c = 0; c < ch; c++) {
                        assert_int_equal(at(&dst, x, y)[c], flat(x, y, c));
                    }
                }
            }
            cw_image_free(&dst);
        }
        cw_image_free(&src);
    }
}

static void test_resize_gradient(void **state)
{
    (void)state;
    cw_image_t src;
    assert_int_equal(cw_image_alloc(24, 4, 1, &src), 0);
    fill(&src, ramp_x);
    // Same size: identical.
    cw_image_t dst;
    assert_int_equal(cw_image_resize(&src, 24, 4, &dst), 0);
    assert_memory_equal(dst.data, src.data, 24 * 4);
    cw_image_free(&dst);
    // Enlarge 2x (bilinear, centres aligned): 10 * ((x + 0.5) / 2 - 0.5), clamped at the edges.
    assert_int_equal(cw_image_resize(&src, 48, 4, &dst), 0);
    for (int x = 0; x < 48; x++) {
        double u = (x + 0.5) / 2 - 0.5;
        u = u < 0 ? 0 : u > 23 ? 23 : u;
        assert_true(fabs(*at(&dst, x, 2) - 10 * u) <= 0.5 + 1e-9);
    }
    cw_image_free(&dst);
    // Shrink 1.5x (still bilinear).
    assert_int_equal(cw_image_resize(&src, 16, 4, &dst), 0);
    for (int x = 0; x < 16; x++) {
        double u = (x + 0.5) * 1.5 - 0.5;
        assert_true(fabs(*at(&dst, x, 1) - 10 * u) <= 0.5 + 1e-9);
    }
    cw_image_free(&dst);
    // Shrink 4x (area): the mean of each run of four, 10 * (4x + 1.5).
    assert_int_equal(cw_image_resize(&src, 6, 1, &dst), 0);
    for (int x = 0; x < 6; x++) {
        assert_true(fabs(*at(&dst, x, 0) - 10 * (4 * x + 1.5)) <= 0.5 + 1e-9);
    }
    cw_image_free(&dst);
    cw_image_free(&src);
}

// A one-pixel checkerboard shrunk 4x is mid-grey everywhere; point sampling would give 0 or 255.
static void test_resize_shrink_does_not_alias(void **state)
{
    (void)state;
    cw_image_t src;
    assert_int_equal(cw_image_alloc(64, 64, 3, &src), 0);
    fill(&src, checker);
    const int sizes[][2] = {{16, 16}, {13, 7}, {5, 21}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        cw_image_t dst;
        assert_int_equal(cw_image_resize(&src, sizes[s][0], sizes[s][1], &dst), 0);
        for (int y = 0; y < dst.height; y++) {
            for (int x = 0; x < dst.width; x++) {
                assert_true(abs(at(&dst, x, y)[0] - 128) <= 24);
            }
        }
        cw_image_free(&dst);
    }
    cw_image_free(&src);
}

static void test_resize_errors(void **state)
{
    (void)state;
    cw_image_t src;
    cw_image_t dst;
    assert_int_equal(cw_image_alloc(8, 8, 1, &src), 0);
    assert_int_equal(cw_image_resize(&src, 0, 4, &dst), CW_EINVAL);
    assert_null(dst.data);
    assert_int_equal(cw_image_resize(NULL, 4, 4, &dst), CW_EINVAL);
    assert_int_equal(cw_image_resize(&src, 4, 4, NULL), CW_EINVAL);
    assert_int_equal(cw_image_resize(&src, 4, 4, &src), CW_EINVAL);
    assert_int_equal(cw_image_resize(&src, CW_IMAGE_MAX_SIDE + 1, 4, &dst), CW_ETOOBIG);
    assert_int_equal(cw_image_resize(&src, 8000, 8000, &dst), CW_ETOOBIG);
    cw_alloc_fail_nth(1);
    assert_int_equal(cw_image_resize(&src, 4, 4, &dst), CW_ENOMEM);
    assert_null(dst.data);
    cw_image_t bad = src;
    bad.stride = 7; // shorter than a row
    assert_int_equal(cw_image_resize(&bad, 4, 4, &dst), CW_EINVAL);
    bad = src;
    bad.channels = 4;
    assert_int_equal(cw_image_resize(&bad, 4, 4, &dst), CW_EINVAL);
    cw_image_free(&src);
}

static void test_warp_identity(void **state)
{
    (void)state;
    const double id[6] = {1, 0, 0, 0, 1, 0};
    for (int ch = 1; ch <= 3; ch += 2) {
        cw_image_t src;
        assert_int_equal(cw_image_alloc(9, 7, ch, &src), 0);
        fill(&src, pattern);
        float *dst = malloc(sizeof(float) * 9 * 7 * 3);
        assert_non_null(dst);
        assert_int_equal(cw_image_warp_affine_f32(&src, id, 9, 7, 127.5f, 1.0f / 128, 0, 0, dst),
                         0);
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 9; x++) {
                for (int c = 0; c < ch; c++) {
                    float want = (at(&src, x, y)[c] - 127.5f) / 128;
                    assert_true(fabsf(dst[(y * 9 + x) * ch + c] - want) < 1e-6f);
                }
            }
        }
        free(dst);
        cw_image_free(&src);
    }
}

static void test_warp_rotation_and_border(void **state)
{
    (void)state;
    enum { N = 8 };
    cw_image_t src;
    assert_int_equal(cw_image_alloc(N, N, 1, &src), 0);
    *at(&src, 1, 0) = 200; // the mark, near the top-left corner
    // Destination (x, y) samples source (y, N-1-x): the picture turned 90 degrees clockwise,
    // so the mark at column 1 of the top row lands in the right-hand column, row 1.
    const double rot[6] = {0, 1, 0, -1, 0, N - 1};
    float dst[N * N];
    assert_int_equal(cw_image_warp_affine_f32(&src, rot, N, N, 0.0f, 1.0f, 0, 0, dst), 0);
    for (int y = 0; y < N; y++) {
        for (int x = 0; x < N; x++) {
            float want = (x == N - 1 && y == 1) ? 200.0f : 0.0f;
            assert_true(fabsf(dst[y * N + x] - want) < 1e-5f);
        }
    }
    // Half a pixel to the right: the mark is shared by its two neighbours.
    const double half[6] = {1, 0, 0.5, 0, 1, 0};
    assert_int_equal(cw_image_warp_affine_f32(&src, half, N, N, 0.0f, 1.0f, 0, 0, dst), 0);
    assert_true(fabsf(dst[0] - 100.0f) < 1e-4f);
    assert_true(fabsf(dst[1] - 100.0f) < 1e-4f);
    assert_true(fabsf(dst[2]) < 1e-4f);
    // Shifted far away: all border, normalised.
    const double away[6] = {1, 0, 1000, 0, 1, 0};
    assert_int_equal(cw_image_warp_affine_f32(&src, away, N, N, 10.0f, 0.5f, 50, 0, dst), 0);
    for (int i = 0; i < N * N; i++) {
        assert_true(fabsf(dst[i] - 20.0f) < 1e-5f);
    }
    // Half off the left edge: the edge column blends with the border.
    const double left[6] = {1, 0, -0.5, 0, 1, 0};
    assert_int_equal(cw_image_warp_affine_f32(&src, left, N, N, 0.0f, 1.0f, 100, 0, dst), 0);
    assert_true(fabsf(dst[N * 3] - 50.0f) < 1e-4f); // row 3: 0.5 * border + 0.5 * 0
    const double nan_m[6] = {NAN, 0, 0, 0, 1, 0};
    assert_int_equal(cw_image_warp_affine_f32(&src, nan_m, N, N, 0, 1, 0, 0, dst), CW_EINVAL);
    assert_int_equal(cw_image_warp_affine_f32(&src, rot, 0, N, 0, 1, 0, 0, dst), CW_EINVAL);
    assert_int_equal(cw_image_warp_affine_f32(&src, rot, N, N, 0, 1, 0, 0, NULL), CW_EINVAL);
    // Huge but finite coefficients: border everywhere, no undefined conversions (UBSan).
    const double huge[6] = {1e300, 1e300, 0, -1e300, 1e300, 0};
    assert_int_equal(cw_image_warp_affine_f32(&src, huge, N, N, 0, 1, 7, 0, dst), 0);
    assert_true(fabsf(dst[N * N - 1] - 7.0f) < 1e-5f);
    cw_image_free(&src);
}

static void test_swap_rb(void **state)
{
    (void)state;
    cw_image_t src;
    assert_int_equal(cw_image_alloc(2, 1, 3, &src), 0);
    const uint8_t px[6] = {10, 20, 30, 40, 50, 60};
    memcpy(src.data, px, 6);
    const double id[6] = {1, 0, 0, 0, 1, 0};
    float rgb[6];
    float bgr[6];
    assert_int_equal(cw_image_warp_affine_f32(&src, id, 2, 1, 0, 1, 0, 0, rgb), 0);
    assert_int_equal(cw_image_warp_affine_f32(&src, id, 2, 1, 0, 1, 0, 1, bgr), 0);
    const float want_rgb[6] = {10, 20, 30, 40, 50, 60};
    const float want_bgr[6] = {30, 20, 10, 60, 50, 40};
    for (int i = 0; i < 6; i++) {
        assert_true(fabsf(rgb[i] - want_rgb[i]) < 1e-5f);
        assert_true(fabsf(bgr[i] - want_bgr[i]) < 1e-5f);
    }
    // On a gray image swap_rb has nothing to swap.
    cw_image_t gray;
    assert_int_equal(cw_image_alloc(2, 1, 1, &gray), 0);
    gray.data[0] = 5;
    gray.data[1] = 6;
    assert_int_equal(cw_image_warp_affine_f32(&gray, id, 2, 1, 0, 1, 0, 1, rgb), 0);
    assert_true(fabsf(rgb[0] - 5) < 1e-5f && fabsf(rgb[1] - 6) < 1e-5f);
    cw_image_free(&gray);
    cw_image_free(&src);
}

static void test_crop_resize(void **state)
{
    (void)state;
    enum { N = 8 };
    cw_image_t src;
    assert_int_equal(cw_image_alloc(N, N, 1, &src), 0);
    memset(src.data, 100, N * N);
    float dst[64];
    // Crop hanging off the top-left by 4 pixels, same scale: a border L and the image inside.
    assert_int_equal(cw_image_crop_resize_f32(&src, -4, -4, 8, 8, 8, 8, 0, 1, 30, dst), 0);
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
            float want = (x < 4 || y < 4) ? 30.0f : 100.0f;
            assert_true(fabsf(dst[y * 8 + x] - want) < 1e-4f);
        }
    }
    // Shrinking 4x (area): cells fully outside, straddling, and inside.
    assert_int_equal(cw_image_crop_resize_f32(&src, -8, 0, 16, 8, 4, 1, 0, 1, 0, dst), 0);
    const float want_a[4] = {0, 0, 100, 100};
    for (int i = 0; i < 4; i++) {
        assert_true(fabsf(dst[i] - want_a[i]) < 1e-3f);
    }
    assert_int_equal(cw_image_crop_resize_f32(&src, -2, 0, 16, 8, 4, 1, 0, 1, 0, dst), 0);
    // Cells [-2,2) half outside, [2,6) inside, [6,10) half inside, [10,14) outside.
    const float want_b[4] = {50, 100, 50, 0};
    for (int i = 0; i < 4; i++) {
        assert_true(fabsf(dst[i] - want_b[i]) < 1e-3f);
    }
    // Completely outside: all border, normalised.
    assert_int_equal(cw_image_crop_resize_f32(&src, 500, 500, 10, 10, 3, 3, 20, 2, 60, dst), 0);
    for (int i = 0; i < 9; i++) {
        assert_true(fabsf(dst[i] - 80.0f) < 1e-4f);
    }
    assert_int_equal(cw_image_crop_resize_f32(&src, 0, 0, 0, 8, 4, 4, 0, 1, 0, dst), CW_EINVAL);
    assert_int_equal(cw_image_crop_resize_f32(&src, NAN, 0, 8, 8, 4, 4, 0, 1, 0, dst), CW_EINVAL);
    assert_int_equal(cw_image_crop_resize_f32(&src, 0, 0, INFINITY, 8, 4, 4, 0, 1, 0, dst),
                     CW_EINVAL);
    assert_int_equal(cw_image_crop_resize_f32(&src, 0, 0, 8, 8, 4, 4, 0, 1, 0, NULL), CW_EINVAL);
    cw_image_free(&src);
}

// A crop that is the whole image is a resize: the float result matches the 8-bit one.
static void test_crop_whole_image_matches_resize(void **state)
{
    (void)state;
    cw_image_t src;
    assert_int_equal(cw_image_alloc(40, 30, 3, &src), 0);
    fill(&src, pattern);
    const int sizes[][2] = {{40, 30}, {24, 24}, {9, 7}, {64, 50}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int w = sizes[s][0];
        int h = sizes[s][1];
        cw_image_t small;
        assert_int_equal(cw_image_resize(&src, w, h, &small), 0);
        float *f = malloc(sizeof(float) * (size_t)w * h * 3);
        assert_non_null(f);
        assert_int_equal(cw_image_crop_resize_f32(&src, 0, 0, 40, 30, w, h, 0, 1, 255, f), 0);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    assert_true(fabsf(f[(y * w + x) * 3 + c] - at(&small, x, y)[c]) <= 0.51f);
                }
            }
        }
        free(f);
        cw_image_free(&small);
    }
    cw_image_free(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resize_flat_stays_flat, install, uninstall),
        cmocka_unit_test_setup_teardown(test_resize_gradient, install, uninstall),
        cmocka_unit_test_setup_teardown(test_resize_shrink_does_not_alias, install, uninstall),
        cmocka_unit_test_setup_teardown(test_resize_errors, install, uninstall),
        cmocka_unit_test_setup_teardown(test_warp_identity, install, uninstall),
        cmocka_unit_test_setup_teardown(test_warp_rotation_and_border, install, uninstall),
        cmocka_unit_test_setup_teardown(test_swap_rb, install, uninstall),
        cmocka_unit_test_setup_teardown(test_crop_resize, install, uninstall),
        cmocka_unit_test_setup_teardown(test_crop_whole_image_matches_resize, install, uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
