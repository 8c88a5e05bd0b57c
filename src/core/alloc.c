// SPDX-License-Identifier: Apache-2.0
// Allocation hooks, the counting allocator with failure injection, secure wiping and aligned
// blocks. The active allocator is a plain global copied at start-up (cw_alloc_set is documented
// as start-up only), so the hot path is one indirect call with no locking.
#include "clearway/alloc.h"
#include "clearway/err.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *libc_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void libc_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static const cw_allocator_t libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};
static cw_allocator_t active = {libc_malloc, libc_realloc, libc_free, NULL};

void cw_alloc_set(const cw_allocator_t *allocator)
{
    active = allocator != NULL ? *allocator : libc_allocator;
}

int cw_size_mul(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b) {
        return CW_EOVERFLOW;
    }
    *out = a * b;
    return 0;
}

int cw_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) {
        return CW_EOVERFLOW;
    }
    *out = a + b;
    return 0;
}

void *cw_malloc(size_t size)
{
    return active.malloc_fn(active.ctx, size);
}

void *cw_calloc(size_t count, size_t size)
{
    size_t total;
    if (cw_size_mul(count, size, &total) != 0) {
        return NULL;
    }
    void *p = active.malloc_fn(active.ctx, total);
    if (p != NULL) {
        memset(p, 0, total);
    }
    return p;
}

void *cw_realloc(void *ptr, size_t size)
{
    return active.realloc_fn(active.ctx, ptr, size);
}

void *cw_reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;
    if (cw_size_mul(count, size, &total) != 0) {
        return NULL;
    }
    return active.realloc_fn(active.ctx, ptr, total);
}

void cw_free(void *ptr)
{
    if (ptr != NULL) {
        active.free_fn(active.ctx, ptr);
    }
}

char *cw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cw_malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

// A volatile function pointer keeps the compiler from proving the stores dead.
static void *(*volatile memset_v)(void *, int, size_t) = memset;

void cw_memzero(void *ptr, size_t size)
{
    if (ptr != NULL && size > 0) {
        memset_v(ptr, 0, size);
    }
}

void cw_free_wipe(void *ptr, size_t size)
{
    if (ptr != NULL) {
        cw_memzero(ptr, size);
        cw_free(ptr);
    }
}

// Aligned blocks: over-allocate, round up, and keep the original pointer just below.
void *cw_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || alignment > 4096 || (alignment & (alignment - 1)) != 0) {
        return NULL;
    }
    size_t total;
    if (cw_size_add(size, alignment + sizeof(void *), &total) != 0) {
        return NULL;
    }
    unsigned char *raw = cw_malloc(total);
    if (raw == NULL) {
        return NULL;
    }
    uintptr_t base = (uintptr_t)(raw + sizeof(void *));
    uintptr_t aligned = (base + alignment - 1) & ~(uintptr_t)(alignment - 1);
    memcpy((void *)(aligned - sizeof(void *)), &raw, sizeof(void *));
    return (void *)aligned;
}

void cw_aligned_free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    void *raw;
    memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof(void *));
    cw_free(raw);
}

// ---- counting allocator ----------------------------------------------------------------------
// Each block carries a header with its size so frees can update live_bytes. The header is
// max_align_t-sized so the user pointer keeps malloc's alignment.

typedef union count_header {
    size_t size;
    max_align_t align;
} count_header;

static struct {
    atomic_uint_fast64_t allocations;
    atomic_uint_fast64_t frees;
    atomic_uint_fast64_t failures;
    atomic_size_t live_bytes;
    atomic_size_t peak_bytes;
    atomic_uint_fast64_t live_blocks;
    atomic_uint_fast64_t fail_countdown; // 0 = injection off
} counters;

// Returns 1 if this allocation must fail by injection.
static int count_should_fail(void)
{
    uint_fast64_t left = atomic_load(&counters.fail_countdown);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&counters.fail_countdown, &left, left - 1)) {
            return left == 1;
        }
    }
    return 0;
}

static void count_add_live(size_t size)
{
    size_t live = atomic_fetch_add(&counters.live_bytes, size) + size;
    size_t peak = atomic_load(&counters.peak_bytes);
    while (live > peak && !atomic_compare_exchange_weak(&counters.peak_bytes, &peak, live)) {
    }
    atomic_fetch_add(&counters.live_blocks, 1);
    atomic_fetch_add(&counters.allocations, 1);
}

static void *count_malloc(void *ctx, size_t size)
{
    (void)ctx;
    size_t total;
    if (count_should_fail() || cw_size_add(size, sizeof(count_header), &total) != 0) {
        atomic_fetch_add(&counters.failures, 1);
        return NULL;
    }
    count_header *h = malloc(total);
    if (h == NULL) {
        atomic_fetch_add(&counters.failures, 1);
        return NULL;
    }
    h->size = size;
    count_add_live(size);
    return h + 1;
}

static void count_free(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr == NULL) {
        return;
    }
    count_header *h = (count_header *)ptr - 1;
    atomic_fetch_sub(&counters.live_bytes, h->size);
    atomic_fetch_sub(&counters.live_blocks, 1);
    atomic_fetch_add(&counters.frees, 1);
    free(h);
}

static void *count_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL) {
        return count_malloc(ctx, size);
    }
    size_t total;
    if (count_should_fail() || cw_size_add(size, sizeof(count_header), &total) != 0) {
        atomic_fetch_add(&counters.failures, 1);
        return NULL;
    }
    count_header *old = (count_header *)ptr - 1;
    size_t old_size = old->size;
    count_header *h = realloc(old, total);
    if (h == NULL) {
        atomic_fetch_add(&counters.failures, 1);
        return NULL;
    }
    h->size = size;
    if (size >= old_size) {
        size_t live = atomic_fetch_add(&counters.live_bytes, size - old_size) + size - old_size;
        size_t peak = atomic_load(&counters.peak_bytes);
        while (live > peak && !atomic_compare_exchange_weak(&counters.peak_bytes, &peak, live)) {
        }
    } else {
        atomic_fetch_sub(&counters.live_bytes, old_size - size);
    }
    return h + 1;
}

void cw_alloc_counting_install(void)
{
    atomic_store(&counters.allocations, 0);
    atomic_store(&counters.frees, 0);
    atomic_store(&counters.failures, 0);
    atomic_store(&counters.live_bytes, 0);
    atomic_store(&counters.peak_bytes, 0);
    atomic_store(&counters.live_blocks, 0);
    atomic_store(&counters.fail_countdown, 0);
    static const cw_allocator_t counting = {count_malloc, count_realloc, count_free, NULL};
    cw_alloc_set(&counting);
}

void cw_alloc_counting_uninstall(void)
{
    atomic_store(&counters.fail_countdown, 0);
    cw_alloc_set(NULL);
}

void cw_alloc_counting_stats(cw_alloc_stats_t *out)
{
    out->allocations = atomic_load(&counters.allocations);
    out->frees = atomic_load(&counters.frees);
    out->failures = atomic_load(&counters.failures);
    out->live_bytes = atomic_load(&counters.live_bytes);
    out->peak_bytes = atomic_load(&counters.peak_bytes);
    out->live_blocks = atomic_load(&counters.live_blocks);
}

void cw_alloc_fail_nth(uint64_t nth)
{
    atomic_store(&counters.fail_countdown, nth);
}
