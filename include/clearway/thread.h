/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small fixed-size thread pool with one primitive: parallel_for, which runs fn(ctx, i) for
 * i in [0, n) across the workers and the calling thread, and returns when all are done. Several
 * threads may call parallel_for on one pool at once; their jobs share the workers. Workers
 * never allocate per task, so search and inference loops stay allocation-free.
 */
#ifndef CLEARWAY_THREAD_H
#define CLEARWAY_THREAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_pool cw_pool_t;

/*
 * A task: runs item i of a job. Returns 0, or a negative CW_E* code; after the first failure
 * the job starts no further items and parallel_for returns that code. worker is in
 * [0, cw_pool_size(pool)] (the caller counts as one) for per-worker scratch buffers.
 */
typedef int (*cw_pool_task_fn)(void *ctx, size_t i, int worker);

/* Ask cw_pool_create for one worker per online CPU, less the calling thread. */
enum { CW_POOL_AUTO = -1 };

/*
 * cw_pool_create: a pool of nthreads worker threads (0: none, every item runs on the calling
 * thread; CW_POOL_AUTO: one per online CPU minus the caller). At most 256 threads.
 * Returns 0 and stores the pool in *out (destroy with cw_pool_destroy), or CW_EINVAL,
 * CW_ENOMEM, or CW_EIO if a thread cannot be started.
 */
int cw_pool_create(int nthreads, cw_pool_t **out);

/* cw_pool_destroy: stop and join the workers. No job may be running. NULL is a no-op. */
void cw_pool_destroy(cw_pool_t *pool);

/* cw_pool_size: the number of worker threads (not counting callers). */
int cw_pool_size(const cw_pool_t *pool);

/*
 * cw_pool_parallel_for: run fn(ctx, i, worker) for every i in [0, n), in any order and on any
 * thread, the caller included, and wait for all. pool may be NULL (everything runs on the
 * caller). Returns 0, or the first error a task returned. Thread-safe. Must not be called from
 * inside a task of the same pool.
 */
int cw_pool_parallel_for(cw_pool_t *pool, size_t n, cw_pool_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
