// SPDX-License-Identifier: Apache-2.0
// Tests of the TIFF reader and the image input (tiff.c, input.c): both byte orders, strip
// layouts, WhiteIsZero, the resolution tag, resampling to 500 dpi, and bad files (truncated,
// compressed, 16-bit, empty, huge) that must give a clear error and allocate nothing.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/finger.h"

#include "tiff_builder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

static uint8_t *pattern(uint32_t w, uint32_t h)
{
    uint8_t *p = malloc((size_t)w * h);
    for (uint32_t i = 0; i < w * h; i++) {
        p[i] = (uint8_t)(i * 7 + i / w);
    }
    return p;
}

static void decodes_layouts(void **state)
{
    (void)state;
    const uint32_t w = 37, h = 23;
    uint8_t *pix = pattern(w, h);
    for (int big = 0; big < 2; big++) {
        for (uint32_t rps = 1; rps <= h + 5; rps += 4) {
            tb_opts_t o = {big, w, h, rps, 8, 1, 1, 0};
            size_t len;
            uint8_t *f = tb_build(&o, pix, &len);
            cw_image_t img;
            int dpi = -1;
            assert_int_equal(cw_finger_tiff_decode(f, len, &img, &dpi, NULL, 0), 0);
            assert_int_equal(img.width, (int)w);
            assert_int_equal(img.height, (int)h);
            assert_int_equal(img.channels, 1);
            assert_int_equal(dpi, 0);
            for (uint32_t y = 0; y < h; y++) {
                assert_memory_equal(img.data + y * img.stride, pix + y * w, w);
            }
            cw_image_free(&img);
            free(f);
        }
    }
    free(pix);
}

static void white_is_zero_and_dpi(void **state)
{
    (void)state;
    uint8_t pix[4 * 3] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255};
    tb_opts_t o = {1, 4, 3, 0, 8, 1, 0, 1000};
    size_t len;
    uint8_t *f = tb_build(&o, pix, &len);
    cw_image_t img;
    int dpi = 0;
    assert_int_equal(cw_finger_tiff_decode(f, len, &img, &dpi, NULL, 0), 0);
    assert_int_equal(dpi, 1000);
    assert_int_equal(img.data[0], 255);
    assert_int_equal(img.data[img.stride * 2 + 3], 0);
    cw_image_free(&img);
    // Loading the file resamples 1000 dpi to 500: half the size.
    char path[] = "/tmp/cw_test_tiff_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    o.width = 64;
    o.height = 48;
    free(f);
    uint8_t *big = pattern(64, 48);
    f = tb_build(&o, big, &len);
    assert_int_equal(write(fd, f, len), (ssize_t)len);
    close(fd);
    assert_int_equal(cw_finger_image_load(path, 0, &img, NULL, 0), 0);
    assert_int_equal(img.width, 32);
    assert_int_equal(img.height, 24);
    cw_image_free(&img);
    unlink(path);
    free(big);
    free(f);
}

static void expect_error(const uint8_t *f, size_t len, int want, const char *needle)
{
    cw_image_t img;
    char diag[200] = "";
    int rc = cw_finger_tiff_decode(f, len, &img, NULL, diag, sizeof(diag));
    if (rc != want) {
        fail_msg("expected %s, got %s (%s)", cw_err_name(want), cw_err_name(rc), diag);
    }
    assert_null(img.data);
    assert_int_equal(img.width, 0);
    if (needle != NULL && strstr(diag, needle) == NULL) {
        fail_msg("diagnostic '%s' lacks '%s'", diag, needle);
    }
}

static void rejects_bad_files(void **state)
{
    (void)state;
    uint8_t *pix = pattern(40, 30);
    size_t len;
    tb_opts_t o = {0, 40, 30, 7, 8, 1, 1, 0};
    uint8_t *f = tb_build(&o, pix, &len);
    // Every truncation fails cleanly (the strips are at the end).
    for (size_t cut = 0; cut < len; cut++) {
        cw_image_t img;
        int rc = cw_finger_tiff_decode(f, cut, &img, NULL, NULL, 0);
        assert_true(rc < 0);
        assert_null(img.data);
    }
    expect_error(f, len - 1, CW_EFORMAT, "strip");
    free(f);
    o.compression = 5;
    f = tb_build(&o, pix, &len);
    expect_error(f, len, CW_EUNSUPPORTED, "compression 5");
    free(f);
    o.compression = 1;
    o.bits = 16;
    f = tb_build(&o, pix, &len);
    expect_error(f, len, CW_EUNSUPPORTED, "16 bits");
    free(f);
    o.bits = 8;
    o.photometric = 2;
    f = tb_build(&o, pix, &len);
    expect_error(f, len, CW_EUNSUPPORTED, "photometric");
    free(f);
    tb_opts_t e = {0, 0, 0, 1, 8, 1, 1, 0};
    f = tb_build(&e, NULL, &len);
    expect_error(f, len, CW_EFORMAT, "empty");
    free(f);
    // A header claiming 100000 x 100000 is refused before allocating 10 GB.
    tb_opts_t huge = {0, 100000, 100000, 1, 8, 1, 1, 0};
    tb_opts_t small = huge;
    small.width = small.height = 4;
    f = tb_build(&small, NULL, &len);
    f[8 + 2 + 8] = (uint8_t)(huge.width & 255);
    f[8 + 2 + 9] = (uint8_t)(huge.width >> 8 & 255);
    f[8 + 2 + 10] = (uint8_t)(huge.width >> 16 & 255);
    f[8 + 2 + 12 + 8] = f[8 + 2 + 8];
    f[8 + 2 + 12 + 9] = f[8 + 2 + 9];
    f[8 + 2 + 12 + 10] = f[8 + 2 + 10];
    expect_error(f, len, CW_ETOOBIG, "cap");
    free(f);
    expect_error((const uint8_t *)"GIF89a..", 8, CW_EUNSUPPORTED, "not a TIFF");
    // A directory offset past the end.
    uint8_t hdr[8] = {'I', 'I', 42, 0, 0xff, 0xff, 0, 0};
    expect_error(hdr, sizeof(hdr), CW_EFORMAT, "directory");
    free(pix);
}

static void raw_input(void **state)
{
    (void)state;
    uint8_t *pix = pattern(100, 80);
    cw_image_t img;
    assert_int_equal(cw_finger_image_from_raw(pix, 100, 80, 100, 500, &img), 0);
    assert_int_equal(img.width, 100);
    assert_memory_equal(img.data, pix, 100);
    cw_image_free(&img);
    assert_int_equal(cw_finger_image_from_raw(pix, 100, 80, 100, 250, &img), 0);
    assert_int_equal(img.width, 200);
    assert_int_equal(img.height, 160);
    cw_image_free(&img);
    assert_int_equal(cw_finger_image_from_raw(pix, 100, 80, 99, 500, &img), CW_EINVAL);
    assert_int_equal(cw_finger_image_from_raw(pix, 100, 80, 100, 50, &img), CW_EINVAL);
    assert_int_equal(cw_finger_image_from_raw(pix, 5000, 80, 5000, 500, &img), CW_ETOOBIG);
    assert_int_equal(cw_finger_image_load("/no/such/file.tif", 0, &img, NULL, 0), CW_EIO);
    free(pix);
}

static void allocation_failures(void **state)
{
    (void)state;
    uint8_t *pix = pattern(40, 30);
    size_t len;
    tb_opts_t o = {0, 40, 30, 7, 8, 1, 1, 0};
    uint8_t *f = tb_build(&o, pix, &len);
    cw_alloc_counting_install();
    cw_alloc_fail_nth(1);
    cw_image_t img;
    assert_int_equal(cw_finger_tiff_decode(f, len, &img, NULL, NULL, 0), CW_ENOMEM);
    cw_alloc_stats_t st;
    cw_alloc_counting_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    cw_alloc_fail_nth(0);
    cw_alloc_counting_uninstall();
    free(f);
    free(pix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_layouts),     cmocka_unit_test(white_is_zero_and_dpi),
        cmocka_unit_test(rejects_bad_files),   cmocka_unit_test(raw_input),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
