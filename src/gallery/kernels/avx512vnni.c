// SPDX-License-Identifier: Apache-2.0
// The scan kernels (kernels.h) for AVX-512 VNNI (built with -mavx512f -mavx512bw -mavx512vnni).
// vpdpbusd multiplies u8 by s8 and adds groups of four products into int32 lanes without
// saturating, so the sums are exact:
// - dot1 feeds the row as u8 (x + 128, one xor) and the query as s8, and subtracts
//   128 * sum(q) once per query: no extra memory traffic, which is what a scan bound by memory
//   bandwidth needs. Sixteen rows at a time, their accumulators reduced together.
// - dotm (m >= DOTM_PACKED_MIN) turns the problem around: the queries, packed as u8 (q + 128)
//   sixteen to a register, four bytes of each, meet one row's four bytes broadcast from memory,
//   so one instruction makes 64 products for 16 queries and no horizontal sums are needed. The
//   accumulators start at -128 * sum(row i) (the correction for the +128), and sixteen rows'
//   results are transposed into out. Rows stream from memory once per call, prefetched one
//   group ahead. The row sums come from the rows themselves, one vpdpbusd with a vector of ones
//   per 64 bytes of each sixteen-row group (about 1/16 of the group's products for 16 queries),
//   so the gallery stores nothing but the rows. With fewer than DOTM_PACKED_MIN queries the unused
//   lanes cost more than the blocked dot1.
#include "kernels.h"

#include "clearway/alloc.h"
#include "x86_avx512.h"

#include <string.h>

// Fewer queries than this go through the blocked dot1: with m of 16 lanes busy the packed kernel
// makes about 21 m G products/s on one Zen 5 core, the blocked dot1 about 105 G (rows in cache).
enum { DOTM_PACKED_MIN = 6 };

// One 64-byte step of a row for dot1: x + 128 as u8 times q as s8.
CW__GK_INLINE __m512i step(__m512i acc, const int8_t *x, __m512i q)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    return _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(x), flip), q);
}

CW__GK_INLINE void dot1_body(const int8_t *q, const int8_t *rows, size_t n, size_t dpad,
                             int32_t *out)
{
    const size_t nk = dpad / 64;
    __m512i qs = _mm512_setzero_si512();
    for (size_t k = 0; k < nk; k++) {
        qs = _mm512_dpbusd_epi32(qs, _mm512_set1_epi8(1), _mm512_loadu_si512(q + 64 * k));
    }
    const int32_t corr = 128 * _mm512_reduce_add_epi32(qs);
    const __m512i vcorr = _mm512_set1_epi32(corr);
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
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) {
                acc[j] = step(acc[j], r + (size_t)j * dpad + 64 * k, qk);
            }
        }
        _mm512_storeu_si512(out + i, _mm512_sub_epi32(cw__gk_reduce16(acc), vcorr));
    }
    for (; i < n; i++) {
        const int8_t *r = rows + i * dpad;
        __m512i acc = _mm512_setzero_si512();
        for (size_t k = 0; k < nk; k++) {
            acc = step(acc, r + 64 * k, _mm512_loadu_si512(q + 64 * k));
        }
        out[i] = _mm512_reduce_add_epi32(acc) - corr;
    }
}

// The common widths get their own copies, with the row offsets as constants.
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

// ---- dotm ----

enum { MAX_K4 = CW__GALLERY_DPAD_MAX / 4, MAX_GROUPS = CW__GALLERY_DOTM_MAX / 16 };

// qp[g * nk4 + k4] lane l = bytes 4 k4 .. 4 k4 + 3 of query 16 g + l, as u8 (q + 128); zeros
// for lanes past m (they produce results nobody stores).
static void pack_queries(const int8_t *q, int m, size_t dpad, __m512i *qp)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const size_t nk4 = dpad / 4;
    for (int g = 0; g * 16 < m; g++) {
        for (size_t c = 0; c < dpad / 64; c++) {
            __m512i t[16];
#pragma GCC unroll 16
            for (int l = 0; l < 16; l++) {
                int qi = 16 * g + l;
                t[l] = qi < m ? _mm512_xor_si512(_mm512_loadu_si512(q + (size_t)qi * dpad + 64 * c),
                                                 flip)
                              : _mm512_setzero_si512();
            }
            cw__gk_transpose16(t);
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) {
                qp[(size_t)g * nk4 + 16 * c + (size_t)j] = t[j];
            }
        }
    }
}

// acc[j] lane l = dot(query 16 g + l, row j) for sixteen rows from r (sums: their row sums):
// the accumulators start at -128 * sum(row j), which the u8 queries' +128 adds back. One
// pointer walks the rows' columns, so with dpad a constant every load is pointer + immediate.
// Measured on Zen 5 (two vpdpbusd per cycle at best): this loop alone, unrolled twice, about
// 94% of that (79% with a run-time dpad); the whole dotm, transposes and stores included,
// 75-85% with the rows in cache.
CW__GK_INLINE void tile16(const int8_t *r, const int32_t *sums, size_t dpad, const __m512i *qpg,
                          __m512i acc[16])
{
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        acc[j] = _mm512_set1_epi32((int)(0u - (uint32_t)sums[j] * 128u)); // wraps like the sums
    }
    const int8_t *p = r;
#pragma GCC unroll 2
    for (size_t k4 = 0; k4 < dpad / 4; k4++, p += 4) {
        const __m512i b = qpg[k4];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            int32_t x;
            memcpy(&x, p + (size_t)j * dpad, sizeof(x));
            acc[j] = _mm512_dpbusd_epi32(acc[j], b, _mm512_set1_epi32(x));
        }
    }
}

// Sixteen rows (r, sums; nr of them are real) against every query group; results to
// out[qi * n + i0 + j] for j < nr.
CW__GK_INLINE void group16(const int8_t *r, const int32_t *sums, size_t nr, size_t dpad,
                           const __m512i *qp, int m, size_t n, size_t i0, int32_t *out)
{
    const __mmask16 keep = (__mmask16)((1u << nr) - 1u);
    for (int g = 0; g * 16 < m; g++) {
        __m512i acc[16];
        tile16(r, sums, dpad, qp + (size_t)g * (dpad / 4), acc);
        cw__gk_transpose16(acc);
        // A constant trip count keeps acc[] in registers (a run-time index would put it on the
        // stack).
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) {
            if (16 * g + l >= m) {
                break;
            }
            int32_t *o = out + (size_t)(16 * g + l) * n + i0;
            if (nr == 16) {
                _mm512_storeu_si512(o, acc[l]);
            } else {
                _mm512_mask_storeu_epi32(o, keep, acc[l]);
            }
        }
    }
}

// sums[j] = the sum of row j's dpad values, for sixteen rows from r: ones (u8) times the rows (s8).
CW__GK_INLINE void sums16(const int8_t *r, size_t dpad, int32_t sums[16])
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        acc[j] = _mm512_setzero_si512();
    }
    for (size_t k = 0; k < dpad / 64; k++) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            acc[j] = _mm512_dpbusd_epi32(acc[j], ones,
                                         _mm512_loadu_si512(r + (size_t)j * dpad + 64 * k));
        }
    }
    _mm512_storeu_si512(sums, cw__gk_reduce16(acc));
}

CW__GK_INLINE void dotm_body(const __m512i *qp, int m, const int8_t *rows, size_t n, size_t dpad,
                             int32_t *out)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        cw__gk_prefetch(rows, (i + 16) * dpad + CW__GK_PREFETCH, (i + 32) * dpad + CW__GK_PREFETCH,
                        n * dpad);
        _Alignas(64) int32_t sums[16];
        sums16(rows + i * dpad, dpad, sums);
        group16(rows + i * dpad, sums, 16, dpad, qp, m, n, i, out);
    }
    if (i < n) {
        // The last rows, copied with zero rows after them so that no load passes the end.
        _Alignas(64) int8_t tail[16 * CW__GALLERY_DPAD_MAX];
        _Alignas(64) int32_t sums[16] = {0};
        size_t nr = n - i;
        memset(tail, 0, 16 * dpad);
        memcpy(tail, rows + i * dpad, nr * dpad);
        sums16(tail, dpad, sums);
        group16(tail, sums, nr, dpad, qp, m, n, i, out);
        cw_memzero(tail, nr * dpad);
    }
}

static void dotm(const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad, int32_t *out)
{
    if (m < DOTM_PACKED_MIN || dpad % 64 != 0 || dpad > CW__GALLERY_DPAD_MAX) {
        // (The last two are outside the contract, kernels.h; the blocked dot1 stays exact.)
        cw__gallery_dotm_blocked(dot1, q, m, rows, n, dpad, out);
        return;
    }
    if (m > CW__GALLERY_DOTM_MAX) { // outside the contract too: in batches that fit qp
        for (int q0 = 0; q0 < m; q0 += CW__GALLERY_DOTM_MAX) {
            int mq = m - q0 < CW__GALLERY_DOTM_MAX ? m - q0 : CW__GALLERY_DOTM_MAX;
            dotm(q + (size_t)q0 * dpad, mq, rows, n, dpad, out + (size_t)q0 * n);
        }
        return;
    }
    _Alignas(64) __m512i qp[MAX_GROUPS * MAX_K4];
    pack_queries(q, m, dpad, qp);
    // Every width gets its own copy (16 of them), so that tile16's loads are pointer + constant.
    switch (dpad) {
#define CASE(d)                                                                                    \
    case d:                                                                                        \
        dotm_body(qp, m, rows, n, d, out);                                                         \
        break;
        CASE(64)
        CASE(128)
        CASE(192)
        CASE(256)
        CASE(320)
        CASE(384)
        CASE(448)
        CASE(512)
        CASE(576)
        CASE(640)
        CASE(704)
        CASE(768)
        CASE(832)
        CASE(896)
        CASE(960)
        CASE(1024)
#undef CASE
    default: // not reached (dpad checked above)
        dotm_body(qp, m, rows, n, dpad, out);
        break;
    }
    // The packed queries are biometric data.
    cw_memzero(qp, (size_t)(m + 15) / 16 * (dpad / 4) * sizeof(__m512i));
}

static size_t find_pass(const int32_t *d, const float *scale, size_t n, float t)
{
    return cw__gk_find_pass_avx512(d, scale, n, t);
}

const cw__gallery_kernels_t cw__gallery_kernels_avx512vnni = {
    .name = "avx512vnni",
    .dot1 = dot1,
    .dotm = dotm,
    .find_pass = find_pass,
};
