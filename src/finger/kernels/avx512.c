// SPDX-License-Identifier: Apache-2.0
// The cylinder comparison with AVX-512 VPOPCNTDQ: eight 64-bit words per instruction, so a
// 16 x 16 x 6 cylinder (24 words) takes three loads, masks and popcounts per side; the three
// counts share one accumulator (16-bit fields of each 64-bit lane) and one reduction. Built
// with -mavx512f -mavx512vpopcntdq; chosen only on CPUs that have both. Same counts as ref.c.
#include "kernels.h"

#include <immintrin.h>
#include <stddef.h>

static int cyl_row(const uint64_t *a, const uint64_t *ma, const uint64_t *ra, const uint64_t *bcyl,
                   const uint64_t *bmsk, const uint64_t *brep, int j0, int nj, int min_cells,
                   int *jout, float *sim)
{
    unsigned pa[256], pb[256], px[256]; // nj <= 255 (CW_FINGER_MAX_MINUTIAE)
    int m = 0;
    for (int j = j0; j < j0 + nj; j++) {
        const uint64_t *b = bcyl + (size_t)j * CYL_WORDS, *mb = bmsk + (size_t)j * MSK_WORDS;
        const uint64_t *rb = brep + (size_t)j * CYL_WORDS;
        int common = 0;
        for (int w = 0; w < MSK_WORDS; w++) {
            common += (int)_mm_popcnt_u64(ma[w] & mb[w]);
        }
        if (common < min_cells) {
            continue;
        }
        // Per lane at most 64 bits per word and CYL_WORDS / 8 words: far below 2^16.
        __m512i acc = _mm512_setzero_si512();
        int w = 0;
        for (; w + 8 <= CYL_WORDS; w += 8) {
            __m512i x = _mm512_and_si512(_mm512_loadu_si512(a + w), _mm512_loadu_si512(rb + w));
            __m512i y = _mm512_and_si512(_mm512_loadu_si512(b + w), _mm512_loadu_si512(ra + w));
            __m512i cx = _mm512_popcnt_epi64(x);
            __m512i cy = _mm512_slli_epi64(_mm512_popcnt_epi64(y), 16);
            __m512i cd = _mm512_slli_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(x, y)), 32);
            acc = _mm512_add_epi64(acc, _mm512_add_epi64(cx, _mm512_add_epi64(cy, cd)));
        }
        uint64_t t = (uint64_t)_mm512_reduce_add_epi64(acc);
        unsigned na = (unsigned)(t & 0xffff), nb = (unsigned)(t >> 16 & 0xffff);
        unsigned nx = (unsigned)(t >> 32 & 0xffff);
        for (; w < CYL_WORDS; w++) {
            uint64_t x = a[w] & rb[w], y = b[w] & ra[w];
            na += (unsigned)_mm_popcnt_u64(x);
            nb += (unsigned)_mm_popcnt_u64(y);
            nx += (unsigned)_mm_popcnt_u64(x ^ y);
        }
        jout[m] = j;
        pa[m] = na;
        pb[m] = nb;
        px[m] = nx;
        m++;
    }
    // Similarities sixteen at a time (the last group masked): vsqrtps and vdivps round as sqrtf
    // and / do.
    for (int q = 0; q < m; q += 16) {
        __mmask16 lm = m - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (m - q)) - 1u);
        __m512 sa = _mm512_sqrt_ps(_mm512_cvtepu32_ps(_mm512_maskz_loadu_epi32(lm, pa + q)));
        __m512 sb = _mm512_sqrt_ps(_mm512_cvtepu32_ps(_mm512_maskz_loadu_epi32(lm, pb + q)));
        __m512 sx = _mm512_sqrt_ps(_mm512_cvtepu32_ps(_mm512_maskz_loadu_epi32(lm, px + q)));
        __m512 den = _mm512_add_ps(sa, sb);
        __mmask16 ok = _mm512_cmp_ps_mask(den, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 v = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_maskz_div_ps(ok, sx, den));
        _mm512_mask_storeu_ps(sim + q, lm, _mm512_maskz_mov_ps(ok, v));
    }
    return m;
}

const cw__finger_kernels_t cw__finger_kernels_avx512 = {"avx512-vpopcntdq", cyl_row};
