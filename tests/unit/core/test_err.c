// SPDX-License-Identifier: Apache-2.0
// Tests of the error table: every code has its own name and message, unknown codes are handled,
// and the diagnostic buffer helper truncates safely.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"

#include <string.h>

static const int all_codes[] = {
#define CW__CODE(name, value, msg) CW_##name,
    CW_ERRNO_MAP(CW__CODE)
#undef CW__CODE
};
enum { N_CODES = sizeof(all_codes) / sizeof(all_codes[0]) };

static void test_codes_are_negative_and_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < N_CODES; i++) {
        assert_true(all_codes[i] < 0);
        for (int j = i + 1; j < N_CODES; j++) {
            assert_int_not_equal(all_codes[i], all_codes[j]);
            assert_string_not_equal(cw_strerror(all_codes[i]), cw_strerror(all_codes[j]));
            assert_string_not_equal(cw_err_name(all_codes[i]), cw_err_name(all_codes[j]));
        }
    }
}

static void test_known_messages(void **state)
{
    (void)state;
    assert_string_equal(cw_strerror(CW_OK), "success");
    assert_string_equal(cw_strerror(CW_ENOMEM), "out of memory");
    assert_string_equal(cw_err_name(CW_ENOMEM), "CW_ENOMEM");
    assert_string_equal(cw_err_name(CW_ECORRUPT), "CW_ECORRUPT");
    assert_string_equal(cw_err_name(CW_OK), "CW_OK");
}

static void test_unknown_codes(void **state)
{
    (void)state;
    assert_string_equal(cw_strerror(-9999), "unknown error");
    assert_string_equal(cw_strerror(42), "unknown error");
    assert_string_equal(cw_err_name(-9999), "CW_E?");
}

static void test_diag_set(void **state)
{
    (void)state;
    char buf[16];
    memset(buf, 'x', sizeof(buf));
    int rc = cw_diag_set(buf, sizeof(buf), CW_EFORMAT, "bad magic 0x%08x at %d", 0xdeadbeefu, 12);
    assert_int_equal(rc, CW_EFORMAT);
    assert_int_equal(strlen(buf), sizeof(buf) - 1); // truncated, terminated
    assert_memory_equal(buf, "bad magic 0xdea", 15);

    // No buffer: still returns the code, touches nothing.
    assert_int_equal(cw_diag_set(NULL, 100, CW_EIO, "x"), CW_EIO);
    buf[0] = 'q';
    assert_int_equal(cw_diag_set(buf, 0, CW_EIO, "x"), CW_EIO);
    assert_int_equal(buf[0], 'q');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_are_negative_and_distinct),
        cmocka_unit_test(test_known_messages),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_diag_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
