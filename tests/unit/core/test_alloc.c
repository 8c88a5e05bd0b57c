// SPDX-License-Identifier: Apache-2.0
// Tests of the allocation hooks: the counting allocator's figures, failure injection (proved on
// a real allocating function, the thread pool), overflow checks, wiping and aligned blocks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/thread.h"

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

static void test_counts_and_peak(void **state)
{
    (void)state;
    cw_alloc_stats_t s;
    void *a = cw_malloc(100);
    void *b = cw_calloc(10, 30);
    assert_non_null(a);
    assert_non_null(b);
    cw_alloc_counting_stats(&s);
    assert_int_equal(s.allocations, 2);
    assert_int_equal(s.live_blocks, 2);
    assert_int_equal(s.live_bytes, 400);
    a = cw_realloc(a, 1000);
    assert_non_null(a);
    cw_alloc_counting_stats(&s);
    assert_int_equal(s.live_bytes, 1300);
    assert_int_equal(s.peak_bytes, 1300);
    cw_free(a);
    cw_free(b);
    cw_free(NULL);
    cw_alloc_counting_stats(&s);
    assert_int_equal(s.live_bytes, 0);
    assert_int_equal(s.live_blocks, 0);
    assert_int_equal(s.frees, 2);
    assert_int_equal(s.peak_bytes, 1300);
}

static void test_fail_nth(void **state)
{
    (void)state;
    cw_alloc_fail_nth(3);
    void *a = cw_malloc(8);
    void *b = cw_malloc(8);
    void *c = cw_malloc(8); // the third fails
    void *d = cw_malloc(8); // injection is one-shot
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    cw_alloc_stats_t s;
    cw_alloc_counting_stats(&s);
    assert_int_equal(s.failures, 1);
    // A failed realloc leaves the old block intact.
    memset(a, 0x5a, 8);
    cw_alloc_fail_nth(1);
    assert_null(cw_realloc(a, 4096));
    assert_int_equal(((unsigned char *)a)[7], 0x5a);
    cw_free(a);
    cw_free(b);
    cw_free(d);
}

static void test_overflow_is_refused(void **state)
{
    (void)state;
    assert_null(cw_calloc(SIZE_MAX / 2, 3));
    assert_null(cw_reallocarray(NULL, SIZE_MAX / 8, 16));
    size_t out = 7;
    assert_int_equal(cw_size_mul(SIZE_MAX, 2, &out), CW_EOVERFLOW);
    assert_int_equal(out, 7);
    assert_int_equal(cw_size_mul(1u << 20, 1u << 10, &out), 0);
    assert_int_equal(out, (size_t)1 << 30);
    assert_int_equal(cw_size_add(SIZE_MAX, 1, &out), CW_EOVERFLOW);
    assert_int_equal(cw_size_add(2, 3, &out), 0);
    assert_int_equal(out, 5);
}

static void test_wipe_and_strdup(void **state)
{
    (void)state;
    unsigned char buf[64];
    memset(buf, 0xab, sizeof(buf));
    cw_memzero(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    char *s = cw_strdup("CHAN Tai Man");
    assert_string_equal(s, "CHAN Tai Man");
    cw_free_wipe(s, strlen(s) + 1);
    cw_free_wipe(NULL, 10);
}

static void test_aligned(void **state)
{
    (void)state;
    for (size_t align = 8; align <= 4096; align *= 2) {
        unsigned char *p = cw_aligned_alloc(align, 1000);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        memset(p, 1, 1000); // ASan checks the whole block is ours
        cw_aligned_free(p);
    }
    assert_null(cw_aligned_alloc(48, 10));   // not a power of two
    assert_null(cw_aligned_alloc(8192, 10)); // too large
    cw_aligned_free(NULL);
}

// Failure injection on a real allocating function: fail each allocation in turn until creation
// succeeds; every failure must return CW_ENOMEM and leave nothing allocated.
static void test_pool_create_survives_every_failure(void **state)
{
    (void)state;
    int succeeded = 0;
    for (uint64_t nth = 1; nth < 64 && !succeeded; nth++) {
        cw_alloc_fail_nth(nth);
        cw_pool_t *pool = NULL;
        int rc = cw_pool_create(3, &pool);
        cw_alloc_fail_nth(0);
        if (rc == 0) {
            succeeded = 1;
            cw_pool_destroy(pool);
        } else {
            assert_int_equal(rc, CW_ENOMEM);
            assert_null(pool);
        }
        cw_alloc_stats_t s;
        cw_alloc_counting_stats(&s);
        assert_int_equal(s.live_blocks, 0);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_and_peak, install, uninstall),
        cmocka_unit_test_setup_teardown(test_fail_nth, install, uninstall),
        cmocka_unit_test_setup_teardown(test_overflow_is_refused, install, uninstall),
        cmocka_unit_test_setup_teardown(test_wipe_and_strdup, install, uninstall),
        cmocka_unit_test_setup_teardown(test_aligned, install, uninstall),
        cmocka_unit_test_setup_teardown(test_pool_create_survives_every_failure, install,
                                        uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
