// SPDX-License-Identifier: Apache-2.0
// Tests of CPU feature detection. ctest runs this twice: plainly, and with CW_FORCE_SCALAR=1,
// where dispatch must see no features while the hardware view stays as detected.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/cpu.h"

#include <stdlib.h>
#include <string.h>

static int forced_by_env(void)
{
    const char *e = getenv("CW_FORCE_SCALAR");
    return e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
}

static void test_override(void **state)
{
    (void)state;
    if (forced_by_env()) {
        assert_true(cw_cpu_forced_scalar());
        assert_int_equal(cw_cpu_features(), 0);
        assert_false(cw_cpu_has(CW_CPU_SSE2));
    } else {
        assert_false(cw_cpu_forced_scalar());
        assert_int_equal(cw_cpu_features(), cw_cpu_features_hw());
    }
    assert_true(cw_cpu_has(0)); // the empty set is always available
}

static void test_features_are_consistent(void **state)
{
    (void)state;
    unsigned f = cw_cpu_features_hw();
#if defined(__x86_64__)
    assert_true(f & CW_CPU_SSE2); // every x86-64 CPU has it
#endif
    // Feature implications the dispatch code relies on.
    if (f & CW_CPU_AVX2) {
        assert_true(f & CW_CPU_AVX);
    }
    if (f & CW_CPU_FMA) {
        assert_true(f & CW_CPU_AVX);
    }
    if (f & (CW_CPU_AVX512BW | CW_CPU_AVX512VL | CW_CPU_AVX512VNNI | CW_CPU_AVX512DQ)) {
        assert_true(f & CW_CPU_AVX512F);
    }
    // Stable across calls.
    assert_int_equal(f, cw_cpu_features_hw());
}

static void test_describe(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(cw_cpu_describe(0, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "none");
    cw_cpu_describe(CW_CPU_AVX2 | CW_CPU_FMA, buf, sizeof(buf));
    assert_string_equal(buf, "fma avx2");
    // Truncation keeps the buffer terminated and reports the needed length.
    char small[6];
    int need = cw_cpu_describe(CW_CPU_AVX2 | CW_CPU_FMA, small, sizeof(small));
    assert_int_equal(need, 8);
    assert_string_equal(small, "fma a");
    assert_true(strlen(cw_cpu_model_name()) > 0);
    assert_true(cw_cpu_count() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_features_are_consistent),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
