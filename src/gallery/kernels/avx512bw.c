// SPDX-License-Identifier: Apache-2.0
// The scan kernels (kernels.h) for AVX-512BW without VNNI (built with -mavx512f -mavx512bw).
// vpmaddubsw multiplies u8 by s8 and adds pairs into int16 with saturation, so the operands are
// kept small enough never to saturate: |q| as u8 and the row with q's sign applied (a masked
// negate, as AVX-512 has no vpsignb), whose pairs reach at most 2 * 128 * 127 = 32512. That needs
// rows in [-127, 127] (kernels.h). vpmaddwd by ones widens the pairs to int32. Sixteen rows at a
// time, their accumulators reduced together; dotm is the blocked dot1.
#include "kernels.h"

#include "x86_avx512.h"

CW__GK_INLINE void dot1_body(const int8_t *q, const int8_t *rows, size_t n, size_t dpad,
                             int32_t *out)
{
    const size_t nk = dpad / 64;
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i zero = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const int8_t *r = rows + i * dpad;
        cw__gk_prefetch(rows, i * dpad + CW__GK_PREFETCH, (i + 16) * dpad + CW__GK_PREFETCH,
                        n * dpad);
        __m512i acc[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            acc[j] = _mm512_setzero_si512();
        }
        for (size_t k = 0; k < nk; k++) {
            const __m512i qk = _mm512_loadu_si512(q + 64 * k);
            const __m512i qa = _mm512_abs_epi8(qk);
            const __mmask64 neg = _mm512_movepi8_mask(qk);
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) {
                __m512i x = _mm512_loadu_si512(r + (size_t)j * dpad + 64 * k);
                x = _mm512_mask_sub_epi8(x, neg, zero, x);
                acc[j] =
                    _mm512_add_epi32(acc[j], _mm512_madd_epi16(_mm512_maddubs_epi16(qa, x), ones));
            }
        }
        _mm512_storeu_si512(out + i, cw__gk_reduce16(acc));
    }
    for (; i < n; i++) {
        const int8_t *r = rows + i * dpad;
        __m512i acc = _mm512_setzero_si512();
        for (size_t k = 0; k < nk; k++) {
            const __m512i qk = _mm512_loadu_si512(q + 64 * k);
            __m512i x = _mm512_loadu_si512(r + 64 * k);
            x = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(qk), zero, x);
            acc = _mm512_add_epi32(
                acc, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(qk), x), ones));
        }
        out[i] = _mm512_reduce_add_epi32(acc);
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
    return cw__gk_find_pass_avx512(d, scale, n, t);
}

const cw__gallery_kernels_t cw__gallery_kernels_avx512bw = {
    .name = "avx512bw",
    .dot1 = dot1,
    .dotm = dotm,
    .find_pass = find_pass,
};
