// SPDX-License-Identifier: Apache-2.0
// Tests of the ISO/IEC 19794-2:2005 reader and writer (iso.c): the byte layout of a known
// record, exact round trips both ways, extended data skipped, and malformed records (wrong
// lengths, counts, coordinates, magic) refused with a clear error.
#include "clearway/err.h"
#include "clearway/finger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void sample(cw_finger_template_t *t, int n)
{
    memset(t, 0, sizeof(*t));
    t->width = 388;
    t->height = 374;
    t->dpi = 500;
    t->quality = 77;
    t->finger = 2;
    t->n = (uint16_t)n;
    for (int i = 0; i < n; i++) {
        t->m[i].x = (uint16_t)(i * 37 % 388);
        t->m[i].y = (uint16_t)(i * 53 % 374);
        t->m[i].angle = (uint8_t)(i * 11);
        t->m[i].type = (uint8_t)(1 + i % 2);
        t->m[i].quality = (uint8_t)(i % 101);
    }
}

static void layout(void **state)
{
    (void)state;
    cw_finger_template_t t;
    sample(&t, 2);
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(cw_finger_iso_write(&t, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 24 + 4 + 2 * 6 + 2);
    static const uint8_t want[] = {
        'F',  'M', 'R',  0,    ' ',  '2',  '0', 0, 0, 0, 0, 42, // magic, version, length 42
        0,    0,   0x01, 0x84, 0x01, 0x76,                      // equipment, 388 x 374
        0,    197, 0,    197,  1,    0,                         // 197 px/cm, one view
        2,    0,   77,   2,                                     // finger 2, view 0, quality 77, 2
        0x40, 0,   0,    0,    0,    0,                         // ending at (0, 0)
        0x80, 37,  0,    53,   11,   1,                         // bifurcation at (37, 53)
        0,    0,                                                // no extended data
    };
    assert_memory_equal(buf, want, sizeof(want));
    // A buffer too small is refused, with the size needed.
    assert_int_equal(cw_finger_iso_write(&t, buf, 20, &len), CW_ETOOBIG);
    assert_int_equal(len, 42);
}

static void round_trip(void **state)
{
    (void)state;
    static uint8_t a[2000], b[2000];
    for (int n = 0; n <= 255; n += 51) {
        cw_finger_template_t t, r;
        sample(&t, n);
        size_t la, lb;
        assert_int_equal(cw_finger_iso_write(&t, a, sizeof(a), &la), 0);
        assert_int_equal(cw_finger_iso_read(a, la, &r, NULL, 0), 0);
        assert_memory_equal(&t, &r, sizeof(t)); // template -> bytes -> template
        assert_int_equal(cw_finger_iso_write(&r, b, sizeof(b), &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la); // bytes -> template -> bytes
    }
}

static void extended_data_skipped(void **state)
{
    (void)state;
    cw_finger_template_t t, r;
    sample(&t, 3);
    uint8_t buf[200];
    size_t len;
    assert_int_equal(cw_finger_iso_write(&t, buf, sizeof(buf), &len), 0);
    // Append a 6-byte extended data block (type 1, length 4... of opaque content).
    buf[len - 2] = 0;
    buf[len - 1] = 6;
    memcpy(buf + len, "\x00\x01\x00\x06\xab\xcd", 6);
    len += 6;
    buf[11] = (uint8_t)len;
    assert_int_equal(cw_finger_iso_read(buf, len, &r, NULL, 0), 0);
    assert_int_equal(r.n, 3);
    assert_memory_equal(r.m, t.m, 3 * sizeof(t.m[0]));
    // The same block claiming more bytes than the record has.
    buf[len - 5] = 9;
    buf[len - 6 - 1] = 40;
    char diag[200];
    assert_int_equal(cw_finger_iso_read(buf, len, &r, diag, sizeof(diag)), CW_EFORMAT);
    assert_non_null(strstr(diag, "extended data"));
}

static void expect(const uint8_t *buf, size_t len, int want, const char *needle)
{
    cw_finger_template_t r;
    char diag[200] = "";
    int rc = cw_finger_iso_read(buf, len, &r, diag, sizeof(diag));
    if (rc != want) {
        fail_msg("expected %s, got %s (%s)", cw_err_name(want), cw_err_name(rc), diag);
    }
    assert_int_equal(r.n, 0);
    if (strstr(diag, needle) == NULL) {
        fail_msg("diagnostic '%s' lacks '%s'", diag, needle);
    }
}

static void malformed(void **state)
{
    (void)state;
    cw_finger_template_t t;
    sample(&t, 10);
    uint8_t good[200], buf[200];
    size_t len;
    assert_int_equal(cw_finger_iso_write(&t, good, sizeof(good), &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        cw_finger_template_t r;
        assert_true(cw_finger_iso_read(good, cut, &r, NULL, 0) < 0);
    }
    memcpy(buf, good, len);
    buf[0] = 'X';
    expect(buf, len, CW_EUNSUPPORTED, "not an ISO");
    expect(good, 20, CW_EFORMAT, "header truncated");
    memcpy(buf, good, len);
    buf[11] = (uint8_t)(len + 1);
    expect(buf, len, CW_EFORMAT, "record length");
    memcpy(buf, good, len);
    buf[27] = 200; // 200 minutiae claimed, 10 present
    expect(buf, len, CW_EFORMAT, "claims 200 minutiae");
    memcpy(buf, good, len);
    buf[27] = 9; // one fewer: the bytes no longer add up
    expect(buf, len, CW_EFORMAT, "iso: ");
    memcpy(buf, good, len);
    buf[28 + 6] = 0x40 | 0x3f; // minutia 1 at x >= 16128, outside the 388-pixel-wide image
    expect(buf, len, CW_EFORMAT, "minutia 1");
    memcpy(buf, good, len);
    buf[18] = buf[19] = 0;
    expect(buf, len, CW_EFORMAT, "zero");
    memcpy(buf, good, len);
    buf[18] = 0xc5; // 0xc5c5: 50,629 px/cm
    expect(buf, len, CW_EFORMAT, "resolution 50629 px/cm");
    memcpy(buf, good, len);
    buf[22] = 2; // two views, only one present
    expect(buf, len, CW_EFORMAT, "view 1");
    // Too many minutiae or bad fields cannot be written.
    t.n = 256;
    assert_int_equal(cw_finger_iso_write(&t, buf, sizeof(buf), &len), CW_EINVAL);
    t.n = 1;
    t.dpi = 5000;
    assert_int_equal(cw_finger_iso_write(&t, buf, sizeof(buf), &len), CW_EINVAL);
    t.dpi = 500;
    t.m[0].quality = 101;
    assert_int_equal(cw_finger_iso_write(&t, buf, sizeof(buf), &len), CW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(extended_data_skipped),
        cmocka_unit_test(malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
