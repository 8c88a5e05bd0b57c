/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory allocation for all Clearway modules. Every allocation goes through cw_malloc() and
 * friends so that a program (or a test) can install its own allocator, count what is live, and
 * make the Nth allocation fail to prove that every error path cleans up. Buffers that held
 * images, embeddings, templates or personal data are wiped with cw_memzero() / cw_free_wipe()
 * before they are released.
 */
#ifndef CLEARWAY_ALLOC_H
#define CLEARWAY_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An allocator: three functions and their context. realloc_fn(ctx, NULL, n) must behave as
 * malloc; free_fn(ctx, NULL) must be a no-op. Functions must be thread-safe.
 */
typedef struct cw_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} cw_allocator_t;

/*
 * cw_alloc_set: install an allocator for all later allocations (NULL restores the C library's).
 * The struct is copied. Not thread-safe: call at start-up, before any other Clearway call, and
 * never while memory from the previous allocator is live.
 */
void cw_alloc_set(const cw_allocator_t *allocator);

/* Allocation entry points. Sizes of 0 return a unique pointer or NULL, never an error. */
void *cw_malloc(size_t size);
/* Zeroed array of count * size bytes; NULL if the product overflows or memory is short. */
void *cw_calloc(size_t count, size_t size);
void *cw_realloc(void *ptr, size_t size);
/* realloc for count * size bytes, NULL (and ptr untouched) on overflow or shortage. */
void *cw_reallocarray(void *ptr, size_t count, size_t size);
/* Free; NULL is a no-op. */
void cw_free(void *ptr);
/* Copy of a NUL-terminated string, freed with cw_free(); NULL on shortage. */
char *cw_strdup(const char *s);

/* Overwrite size bytes with zeros in a way the compiler may not optimise away. */
void cw_memzero(void *ptr, size_t size);
/* cw_memzero(ptr, size) then cw_free(ptr); NULL is a no-op. */
void cw_free_wipe(void *ptr, size_t size);

/*
 * Aligned allocation (alignment a power of two, at most 4096) for SIMD data; free only with
 * cw_aligned_free(). NULL on shortage or bad alignment.
 */
void *cw_aligned_alloc(size_t alignment, size_t size);
void cw_aligned_free(void *ptr);

/* Overflow-checked size arithmetic: return 0 and store the result, or CW_EOVERFLOW. */
int cw_size_mul(size_t a, size_t b, size_t *out);
int cw_size_add(size_t a, size_t b, size_t *out);

/*
 * The counting allocator, for tests and for leak checks in long-running programs. It wraps the
 * C library, counts allocations and live bytes, and can fail the Nth allocation from now.
 */
typedef struct cw_alloc_stats {
    uint64_t allocations; /* successful malloc/realloc-from-NULL calls */
    uint64_t frees;       /* frees of non-NULL pointers */
    uint64_t failures;    /* allocations refused (injected or real) */
    size_t live_bytes;    /* bytes currently allocated */
    size_t peak_bytes;    /* high-water mark of live_bytes since install or reset */
    uint64_t live_blocks; /* blocks currently allocated */
} cw_alloc_stats_t;

/* Install the counting allocator (resets its statistics and the failure switch). */
void cw_alloc_counting_install(void);
/*
 * Restore the C library allocator. Call only when no block from the counting allocator is live
 * (check live_blocks == 0): its blocks carry a header and must be freed while it is installed.
 */
void cw_alloc_counting_uninstall(void);
/* Snapshot of the counters. Thread-safe. */
void cw_alloc_counting_stats(cw_alloc_stats_t *out);
/*
 * Make the nth allocation from now fail (1 = the next one); 0 turns injection off. Each call
 * to an allocation entry point counts as one allocation. Thread-safe.
 */
void cw_alloc_fail_nth(uint64_t nth);

#ifdef __cplusplus
}
#endif
#endif
