// SPDX-License-Identifier: Apache-2.0
// The thread pool. A parallel_for call puts a job (on the caller's stack) in a queue; workers
// and the caller claim item indices from it with one atomic counter, so there is no per-item
// allocation or locking. The caller waits until the job is out of the queue and no worker still
// holds it, which also guarantees every claimed item has finished.
#include "clearway/thread.h"
#include "clearway/alloc.h"
#include "clearway/cpu.h"
#include "clearway/err.h"

#include <pthread.h>
#include <stdatomic.h>

enum { MAX_THREADS = 256 };

typedef struct job {
    cw_pool_task_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next; // next unclaimed index
    atomic_int err;     // first error, 0 while none
    int holders;        // workers currently running items of this job (under pool->mu)
    int queued;         // still in the pool's queue (under pool->mu)
    struct job *link;
} job;

struct cw_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; // a job arrived, or stop
    pthread_cond_t idle; // a worker let go of a job
    job *head;
    job *tail;
    int stop;
    int nthreads;
    int started;
    pthread_t *threads;
};

typedef struct worker_arg {
    cw_pool_t *pool;
    int id;
} worker_arg;

static void run_items(job *j, int worker)
{
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) {
            return;
        }
        if (atomic_load(&j->err) != 0) {
            continue; // a task failed: claim the rest without running them
        }
        int rc = j->fn(j->ctx, i, worker);
        if (rc != 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&j->err, &expected, rc);
        }
    }
}

// Remove j from the queue (pool->mu held).
static void unqueue(cw_pool_t *pool, job *j)
{
    if (!j->queued) {
        return;
    }
    job **pp = &pool->head;
    job *prev = NULL;
    while (*pp != j) {
        prev = *pp;
        pp = &(*pp)->link;
    }
    *pp = j->link;
    if (pool->tail == j) {
        pool->tail = prev;
    }
    j->queued = 0;
}

// First job with unclaimed items (pool->mu held); exhausted jobs are dropped on the way.
static job *take_job(cw_pool_t *pool)
{
    while (pool->head != NULL) {
        job *j = pool->head;
        if (atomic_load(&j->next) < j->n) {
            return j;
        }
        unqueue(pool, j);
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    cw_pool_t *pool = wa->pool;
    int id = wa->id;
    cw_free(wa);
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        job *j = take_job(pool);
        if (j == NULL) {
            if (pool->stop) {
                break;
            }
            pthread_cond_wait(&pool->work, &pool->mu);
            continue;
        }
        j->holders++;
        pthread_mutex_unlock(&pool->mu);
        run_items(j, id);
        pthread_mutex_lock(&pool->mu);
        unqueue(pool, j);
        j->holders--;
        pthread_cond_broadcast(&pool->idle);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int cw_pool_create(int nthreads, cw_pool_t **out)
{
    *out = NULL;
    if (nthreads < CW_POOL_AUTO || nthreads > MAX_THREADS) {
        return CW_EINVAL;
    }
    if (nthreads == CW_POOL_AUTO) {
        nthreads = cw_cpu_count() - 1;
        if (nthreads > MAX_THREADS) {
            nthreads = MAX_THREADS;
        }
    }
    cw_pool_t *pool = cw_calloc(1, sizeof(*pool));
    if (pool == NULL) {
        return CW_ENOMEM;
    }
    pool->threads = cw_calloc(nthreads > 0 ? (size_t)nthreads : 1, sizeof(pthread_t));
    if (pool->threads == NULL) {
        cw_free(pool);
        return CW_ENOMEM;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->idle, NULL);
    pool->nthreads = nthreads;
    for (int i = 0; i < nthreads; i++) {
        worker_arg *wa = cw_malloc(sizeof(*wa));
        if (wa == NULL) {
            cw_pool_destroy(pool);
            return CW_ENOMEM;
        }
        wa->pool = pool;
        wa->id = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, wa) != 0) {
            cw_free(wa);
            cw_pool_destroy(pool);
            return CW_EIO;
        }
        pool->started++;
    }
    *out = pool;
    return 0;
}

void cw_pool_destroy(cw_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->started; i++) {
        pthread_join(pool->threads[i], NULL);
    }
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->mu);
    cw_free(pool->threads);
    cw_free(pool);
}

int cw_pool_size(const cw_pool_t *pool)
{
    return pool != NULL ? pool->nthreads : 0;
}

int cw_pool_parallel_for(cw_pool_t *pool, size_t n, cw_pool_task_fn fn, void *ctx)
{
    if (fn == NULL) {
        return CW_EINVAL;
    }
    job j;
    j.fn = fn;
    j.ctx = ctx;
    j.n = n;
    atomic_init(&j.next, 0);
    atomic_init(&j.err, 0);
    j.holders = 0;
    j.queued = 0;
    j.link = NULL;
    if (n == 0) {
        return 0;
    }
    if (pool == NULL || pool->nthreads == 0 || n == 1) {
        run_items(&j, cw_pool_size(pool));
        return atomic_load(&j.err);
    }

    pthread_mutex_lock(&pool->mu);
    j.queued = 1;
    if (pool->tail != NULL) {
        pool->tail->link = &j;
    } else {
        pool->head = &j;
    }
    pool->tail = &j;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->mu);

    run_items(&j, pool->nthreads);

    pthread_mutex_lock(&pool->mu);
    unqueue(pool, &j);
    while (j.holders > 0) {
        pthread_cond_wait(&pool->idle, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return atomic_load(&j.err);
}
