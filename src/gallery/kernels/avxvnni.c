// SPDX-License-Identifier: Apache-2.0
// The scan kernels (kernels.h) for AVX-VNNI, the 256-bit VEX form of vpdpbusd (built with -mavx2
// -mavxvnni; Alder Lake and later Intel cores, Zen 5). As in avx512vnni.c's dot1: the row fed as
// u8 (x + 128, one xor), the query as s8, exact int32 sums without saturation, and 128 * sum(q)
// subtracted once per query. Eight rows at a time, their accumulators reduced together; dotm is
// the blocked dot1.
#include "kernels.h"

#include "x86_avx2.h"

CW__GK_INLINE __m256i step(__m256i acc, const int8_t *x, __m256i qk)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    return _mm256_dpbusd_avx_epi32(
        acc, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x), flip), qk);
}

CW__GK_INLINE void dot1_body(const int8_t *q, const int8_t *rows, size_t n, size_t dpad,
                             int32_t *out)
{
    const size_t nk = dpad / 32;
    __m256i qs = _mm256_setzero_si256();
    for (size_t k = 0; k < nk; k++) {
        qs = _mm256_dpbusd_avx_epi32(qs, _mm256_set1_epi8(1),
                                     _mm256_loadu_si256((const __m256i *)(q + 32 * k)));
    }
    const int32_t corr = 128 * cw__gk_hsum8(qs);
    const __m256i vcorr = _mm256_set1_epi32(corr);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int8_t *r = rows + i * dpad;
        cw__gk_prefetch(rows, i * dpad + CW__GK_PREFETCH, (i + 8) * dpad + CW__GK_PREFETCH,
                        n * dpad);
        __m256i acc[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            acc[j] = _mm256_setzero_si256();
        }
        for (size_t k = 0; k < nk; k++) {
            const __m256i qk = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                acc[j] = step(acc[j], r + (size_t)j * dpad + 32 * k, qk);
            }
        }
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_sub_epi32(cw__gk_reduce8(acc), vcorr));
    }
    for (; i < n; i++) {
        const int8_t *r = rows + i * dpad;
        __m256i acc = _mm256_setzero_si256();
        for (size_t k = 0; k < nk; k++) {
            acc = step(acc, r + 32 * k, _mm256_loadu_si256((const __m256i *)(q + 32 * k)));
        }
        out[i] = cw__gk_hsum8(acc) - corr;
    }
}

static void dot1(const int8_t *q, const int8_t *rows, size_t n, size_t dpad, int32_t *out)
{
    if (dpad % 64 != 0) { // outside the contract (kernels.h): still exact
        cw__gallery_kernels_scalar.dot1(q, rows, n, dpad, out);
        return;
    }
    switch (dpad) {
    case 128:
        dot1_body(q, rows, n, 128, out);
        break;
    case 256:
        dot1_body(q, rows, n, 256, out);
        break;
    case 512:
        dot1_body(q, rows, n, 512, out);
        break;
    default:
        dot1_body(q, rows, n, dpad, out);
        break;
    }
}

static void dotm(const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad, int32_t *out)
{
    cw__gallery_dotm_blocked(dot1, q, m, rows, n, dpad, out);
}

static size_t find_pass(const int32_t *d, const float *scale, size_t n, float t)
{
    return cw__gk_find_pass_avx2(d, scale, n, t);
}

const cw__gallery_kernels_t cw__gallery_kernels_avxvnni = {
    .name = "avxvnni",
    .dot1 = dot1,
    .dotm = dotm,
    .find_pass = find_pass,
};
