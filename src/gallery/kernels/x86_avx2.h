/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The batched horizontal sum the 256-bit kernels share (avx2.c, avxvnni.c; both build with at
 * least -mavx2).
 */
#ifndef CW_GALLERY_KERNELS_X86_AVX2_H
#define CW_GALLERY_KERNELS_X86_AVX2_H

#include "kernels.h"
#include "x86_common.h"

/* The lane sums of a[0..7] as one vector (lane r = sum of a[r]'s eight lanes): 21 shuffles and
 * adds for eight sums. */
CW__GK_INLINE __m256i cw__gk_reduce8(const __m256i a[8])
{
    __m256i t[4], u[2];
    // Pairs: within each 128-bit lane, two partial sums of a[2i] and two of a[2i+1].
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(a[2 * i], a[2 * i + 1]),
                                _mm256_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
    }
    // Quads: within each 128-bit lane, one partial sum of each of a[4i..4i+3].
#pragma GCC unroll 8
    for (int i = 0; i < 2; i++) {
        u[i] = _mm256_add_epi32(_mm256_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                                _mm256_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    }
    return _mm256_add_epi32(_mm256_permute2x128_si256(u[0], u[1], 0x20),
                            _mm256_permute2x128_si256(u[0], u[1], 0x31));
}

/* The sum of a's eight lanes. */
CW__GK_INLINE int32_t cw__gk_hsum8(__m256i a)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* find_pass (kernels.h), eight lanes at a time. */
CW__GK_INLINE size_t cw__gk_find_pass_avx2(const int32_t *d, const float *scale, size_t n, float t)
{
    const __m256 tv = _mm256_set1_ps(t);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(d + i))),
                                 _mm256_loadu_ps(scale + i));
        __m256 b =
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(d + i + 8))),
                          _mm256_loadu_ps(scale + i + 8));
        __m256 ge =
            _mm256_or_ps(_mm256_cmp_ps(a, tv, _CMP_GE_OQ), _mm256_cmp_ps(b, tv, _CMP_GE_OQ));
        if (_mm256_movemask_ps(ge) != 0) {
            break;
        }
    }
    return cw__gallery_find_pass_from(d, scale, i, n, t);
}

#endif
