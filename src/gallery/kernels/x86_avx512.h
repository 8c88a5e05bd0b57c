/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Register shuffles the AVX-512 kernels share (avx512bw.c, avx512vnni.c; both build with at
 * least -mavx512f -mavx512bw): the batched horizontal sum of sixteen accumulators, and the
 * 16 x 16 transpose of 32-bit lanes.
 */
#ifndef CW_GALLERY_KERNELS_X86_AVX512_H
#define CW_GALLERY_KERNELS_X86_AVX512_H

#include "kernels.h"
#include "x86_common.h"

/*
 * The lane sums of a[0..15] as one vector (lane r = sum of a[r]'s sixteen lanes): 45 shuffles
 * and adds for sixteen sums, where sixteen separate reductions would take about 150.
 */
CW__GK_INLINE __m512i cw__gk_reduce16(const __m512i a[16])
{
    __m512i t[8], u[4], w[2];
#pragma GCC unroll 16
    // Pairs: within each 128-bit lane, two partial sums of a[2i] and two of a[2i+1].
    for (int i = 0; i < 8; i++) {
        t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]),
                                _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
    }
#pragma GCC unroll 16
    // Quads: within each 128-bit lane, one partial sum of each of a[4i..4i+3].
    for (int i = 0; i < 4; i++) {
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                                _mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    }
#pragma GCC unroll 16
    // Across 128-bit lanes: w[0] = [a0-3 (lanes 0+1), a0-3 (2+3), a4-7 (0+1), a4-7 (2+3)].
    for (int i = 0; i < 2; i++) {
        w[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2 * i], u[2 * i + 1], 0x88),
                                _mm512_shuffle_i32x4(u[2 * i], u[2 * i + 1], 0xdd));
    }
    return _mm512_add_epi32(_mm512_shuffle_i32x4(w[0], w[1], 0x88),
                            _mm512_shuffle_i32x4(w[0], w[1], 0xdd));
}

/* Transpose the 16 x 16 matrix of 32-bit values whose row i is r[i]: afterwards r[j] lane i is
 * what r[i] lane j was. 64 shuffles. */
CW__GK_INLINE void cw__gk_transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 16
    // u[4i + j], 128-bit lane L: column 4L + j of rows 4i..4i+3.
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
#pragma GCC unroll 16
    // A 4 x 4 transpose of 128-bit lanes for each j.
    for (int j = 0; j < 4; j++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
        __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xee);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xee);
        r[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[8 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* find_pass (kernels.h), sixteen lanes at a time. */
CW__GK_INLINE size_t cw__gk_find_pass_avx512(const int32_t *d, const float *scale, size_t n,
                                             float t)
{
    const __m512 tv = _mm512_set1_ps(t);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(d + i)),
                                 _mm512_loadu_ps(scale + i));
        __m512 b = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(d + i + 16)),
                                 _mm512_loadu_ps(scale + i + 16));
        __mmask16 ge =
            _mm512_cmp_ps_mask(a, tv, _CMP_GE_OQ) | _mm512_cmp_ps_mask(b, tv, _CMP_GE_OQ);
        if (ge != 0) {
            break;
        }
    }
    return cw__gallery_find_pass_from(d, scale, i, n, t);
}

#endif
