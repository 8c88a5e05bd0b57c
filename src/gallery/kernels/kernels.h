/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The int8 scan kernels of 1:N search: exact int32 dot products of one query, or of up to 64
 * queries at once, with every row of a block of gallery rows. ref.c is the plain-C reference;
 * avx2.c, avxvnni.c, avx512bw.c and avx512vnni.c are the same functions for one instruction set
 * each (compiled with per-file flags, CMakeLists.txt), and dispatch.c picks one once, by CPU
 * detection. Every variant returns bit-identical results: the sums are exact in int32.
 *
 * Data contract (what gallery.c guarantees):
 * - dpad is a multiple of 64 in [64, 1024]; a row or query is dpad int8 values, zero padded
 *   past the dimension. Rows are contiguous: row i at rows + i * dpad.
 * - Values lie in [-127, 127] (the quantiser clamps there). The AVX2 and AVX-512BW kernels rely
 *   on it for rows (their u8 x s8 products would saturate with a row value of -128); the
 *   reference and the VNNI kernels are exact for all of [-128, 127].
 * - Outside this contract (dpad not a multiple of 64 or above 1024, m above 64) every variant
 *   still returns exact sums, through slower paths; only values of -128 in rows can break the
 *   AVX2 and AVX-512BW kernels.
 * - Pointers need no particular alignment (gallery.c aligns the rows block to 64 bytes, which is
 *   faster); out does not overlap the inputs.
 * No kernel allocates (the AVX-512 VNNI dotm uses up to 80 KB of stack for the packed queries
 * and a zero-padded copy of the last rows, and wipes both); all are thread-safe (no shared
 * state).
 */
#ifndef CW_GALLERY_KERNELS_H
#define CW_GALLERY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum {
    CW__GALLERY_DPAD_ALIGN = 64, /* dpad is a multiple of this */
    CW__GALLERY_DPAD_MAX = 1024,
    CW__GALLERY_DOTM_MAX = 64, /* most queries one dotm call takes */
};

typedef struct cw__gallery_kernels {
    const char *name; /* "scalar", "avx2", "avxvnni", "avx512bw", "avx512vnni" */
    /* out[i] = sum_j q[j] * rows[i * dpad + j] for i < n: exact int32. */
    void (*dot1)(const int8_t *q, const int8_t *rows, size_t n, size_t dpad, int32_t *out);
    /*
     * m queries (query qi at q + qi * dpad), 1 <= m <= CW__GALLERY_DOTM_MAX:
     * out[qi * n + i] = dot(query qi, row i). Each row is read from memory once for all m
     * queries. out holds m * n int32, so callers pass blocks of about a thousand rows to keep
     * it in cache.
     */
    void (*dotm)(const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad, int32_t *out);
    /*
     * The first i < n with (float)d[i] * scale[i] >= t, or n when there is none: how the scan
     * skips, sixteen rows per instruction, the rows whose int8 score cannot reach the kept set
     * (t > 0 is that set's weakest score over the query's scale, lowered by a margin). The
     * int32 to float conversion is exact (|d| < 2^24) and the product is one IEEE rounding, so
     * every variant returns the same index.
     */
    size_t (*find_pass)(const int32_t *d, const float *scale, size_t n, float t);
} cw__gallery_kernels_t;

/* find_pass's plain loop from index i: the reference itself, and the vector variants' tails. */
static inline size_t cw__gallery_find_pass_from(const int32_t *d, const float *scale, size_t i,
                                                size_t n, float t)
{
    while (i < n && !((float)d[i] * scale[i] >= t)) {
        i++;
    }
    return i;
}

/* Every variant; only the ones this build compiled exist (dispatch.c checks the CW_GALLERY_HAVE_*
 * definitions before naming one). */
extern const cw__gallery_kernels_t cw__gallery_kernels_scalar;
extern const cw__gallery_kernels_t cw__gallery_kernels_avx2;
extern const cw__gallery_kernels_t cw__gallery_kernels_avxvnni;
extern const cw__gallery_kernels_t cw__gallery_kernels_avx512bw;
extern const cw__gallery_kernels_t cw__gallery_kernels_avx512vnni;

/*
 * cw__gallery_kernels: the variant for this CPU, chosen on first use (the scalar reference when
 * CW_FORCE_SCALAR is set). Thread-safe.
 */
const cw__gallery_kernels_t *cw__gallery_kernels(void);

/* cw__gallery_kernels_ref: the scalar reference. */
const cw__gallery_kernels_t *cw__gallery_kernels_ref(void);

/*
 * cw__gallery_kernels_all: every variant this CPU can run (ignoring CW_FORCE_SCALAR), the
 * reference first, for tests and benchmarks. Fills at most max entries of out; returns how many.
 */
int cw__gallery_kernels_all(const cw__gallery_kernels_t **out, int max);

/*
 * cw__gallery_dotm_blocked: dotm built on a dot1: the rows in blocks of about 32 KB, each block
 * passed over by the m queries while it is in L1. For variants whose dot1 is already cheaper per
 * query and row than a batched kernel (the non-VNNI ones), and for small m.
 */
void cw__gallery_dotm_blocked(void (*dot1)(const int8_t *, const int8_t *, size_t, size_t,
                                           int32_t *),
                              const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad,
                              int32_t *out);

#endif
