// SPDX-License-Identifier: Apache-2.0
// Tests of the thread pool: every item runs exactly once whatever the pool size, worker ids
// stay in range, the first error stops the job, and several threads can share one pool.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/thread.h"

#include <pthread.h>
#include <stdatomic.h>

enum { N_ITEMS = 100000 };

typedef struct count_ctx {
    atomic_uchar hits[N_ITEMS];
    atomic_long sum;
    int max_worker;
    atomic_int bad_worker;
} count_ctx;

static int count_task(void *ctx, size_t i, int worker)
{
    count_ctx *c = ctx;
    atomic_fetch_add(&c->hits[i], 1);
    atomic_fetch_add(&c->sum, (long)i);
    if (worker < 0 || worker > c->max_worker) {
        atomic_store(&c->bad_worker, 1);
    }
    return 0;
}

static void check_exactly_once(cw_pool_t *pool, size_t n)
{
    count_ctx *c = cw_calloc(1, sizeof(*c));
    assert_non_null(c);
    c->max_worker = cw_pool_size(pool);
    assert_int_equal(cw_pool_parallel_for(pool, n, count_task, c), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(atomic_load(&c->hits[i]), 1);
    }
    assert_int_equal(atomic_load(&c->sum), (long)(n * (n ? n - 1 : 0) / 2));
    assert_int_equal(atomic_load(&c->bad_worker), 0);
    cw_free(c);
}

static void test_each_item_once(void **state)
{
    (void)state;
    check_exactly_once(NULL, N_ITEMS); // no pool: runs on the caller
    int sizes[] = {0, 1, 3, 8, CW_POOL_AUTO};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        cw_pool_t *pool;
        assert_int_equal(cw_pool_create(sizes[s], &pool), 0);
        if (sizes[s] >= 0) {
            assert_int_equal(cw_pool_size(pool), sizes[s]);
        }
        check_exactly_once(pool, 0);
        check_exactly_once(pool, 1);
        check_exactly_once(pool, 7);
        check_exactly_once(pool, N_ITEMS);
        cw_pool_destroy(pool);
    }
    cw_pool_destroy(NULL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cw_pool_t *pool = (cw_pool_t *)1;
    assert_int_equal(cw_pool_create(-2, &pool), CW_EINVAL);
    assert_null(pool);
    assert_int_equal(cw_pool_create(100000, &pool), CW_EINVAL);
    assert_int_equal(cw_pool_parallel_for(NULL, 10, NULL, NULL), CW_EINVAL);
}

typedef struct fail_ctx {
    atomic_long ran;
} fail_ctx;

static int fail_at_100(void *ctx, size_t i, int worker)
{
    (void)worker;
    fail_ctx *c = ctx;
    atomic_fetch_add(&c->ran, 1);
    return i == 100 ? CW_EIO : 0;
}

static void test_first_error_stops_the_job(void **state)
{
    (void)state;
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(2, &pool), 0);
    fail_ctx c = {0};
    assert_int_equal(cw_pool_parallel_for(pool, N_ITEMS, fail_at_100, &c), CW_EIO);
    // Items already claimed finish, but the job does not run to the end.
    assert_true(atomic_load(&c.ran) < N_ITEMS);
    // The pool is still usable afterwards.
    check_exactly_once(pool, 1000);
    cw_pool_destroy(pool);
}

typedef struct caller_arg {
    cw_pool_t *pool;
    int failures;
} caller_arg;

static void *caller_main(void *p)
{
    caller_arg *a = p;
    for (int round = 0; round < 50; round++) {
        count_ctx *c = cw_calloc(1, sizeof(*c));
        if (c == NULL) {
            a->failures++;
            continue;
        }
        c->max_worker = cw_pool_size(a->pool);
        size_t n = 500 + (size_t)round * 37;
        if (cw_pool_parallel_for(a->pool, n, count_task, c) != 0) {
            a->failures++;
        }
        for (size_t i = 0; i < n; i++) {
            if (atomic_load(&c->hits[i]) != 1) {
                a->failures++;
                break;
            }
        }
        cw_free(c);
    }
    return NULL;
}

static void test_concurrent_callers(void **state)
{
    (void)state;
    cw_pool_t *pool;
    assert_int_equal(cw_pool_create(3, &pool), 0);
    pthread_t t[4];
    caller_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].pool = pool;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    cw_pool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_item_once),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_first_error_stops_the_job),
        cmocka_unit_test(test_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
