// SPDX-License-Identifier: Apache-2.0
// The cylinder comparison with AVX-512 VPOPCNTDQ: eight 64-bit words per instruction, so a
// 16 x 16 x 6 cylinder (24 words) takes three loads, masks and popcounts per side. Built with
// -mavx512f -mavx512vpopcntdq; chosen only on CPUs that have both. Same counts as ref.c.
#include "kernels.h"

#include <immintrin.h>

static int cyl_pair(const uint64_t *a, const uint64_t *ma, const uint64_t *ra, const uint64_t *b,
                    const uint64_t *mb, const uint64_t *rb, int min_cells, unsigned *pa,
                    unsigned *pb, unsigned *px)
{
    int common = 0;
    for (int w = 0; w < MSK_WORDS; w++) {
        common += (int)_mm_popcnt_u64(ma[w] & mb[w]);
    }
    if (common < min_cells) {
        return 1;
    }
    __m512i sa = _mm512_setzero_si512(), sb = sa, sx = sa;
    int w = 0;
    for (; w + 8 <= CYL_WORDS; w += 8) {
        __m512i x = _mm512_and_si512(_mm512_loadu_si512(a + w), _mm512_loadu_si512(rb + w));
        __m512i y = _mm512_and_si512(_mm512_loadu_si512(b + w), _mm512_loadu_si512(ra + w));
        sa = _mm512_add_epi64(sa, _mm512_popcnt_epi64(x));
        sb = _mm512_add_epi64(sb, _mm512_popcnt_epi64(y));
        sx = _mm512_add_epi64(sx, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    unsigned na = (unsigned)_mm512_reduce_add_epi64(sa);
    unsigned nb = (unsigned)_mm512_reduce_add_epi64(sb);
    unsigned nx = (unsigned)_mm512_reduce_add_epi64(sx);
    for (; w < CYL_WORDS; w++) {
        uint64_t x = a[w] & rb[w], y = b[w] & ra[w];
        na += (unsigned)_mm_popcnt_u64(x);
        nb += (unsigned)_mm_popcnt_u64(y);
        nx += (unsigned)_mm_popcnt_u64(x ^ y);
    }
    *pa = na;
    *pb = nb;
    *px = nx;
    return 0;
}

const cw__finger_kernels_t cw__finger_kernels_avx512 = {"avx512-vpopcntdq", cyl_pair};
