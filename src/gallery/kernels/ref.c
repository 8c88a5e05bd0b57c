// SPDX-License-Identifier: Apache-2.0
// The scalar reference of the scan kernels (kernels.h): the plain loops every other variant must
// match bit for bit, what CW_FORCE_SCALAR=1 runs, and the row-blocked dotm the vector variants
// share. Built for the baseline instruction set on every platform.
#include "kernels.h"

static void dot1_ref(const int8_t *q, const int8_t *rows, size_t n, size_t dpad, int32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const int8_t *r = rows + i * dpad;
        int32_t s = 0;
        for (size_t j = 0; j < dpad; j++) {
            s += (int32_t)q[j] * (int32_t)r[j];
        }
        out[i] = s;
    }
}

// About 32 KB of rows per block (at least 16 rows, a whole number of 16-row groups, which is
// what the vector dot1s take at a time): the block stays in L1 while the queries pass over it.
static size_t block_rows(size_t dpad)
{
    size_t b = (32768 / dpad) & ~(size_t)15;
    return b < 16 ? 16 : b;
}

void cw__gallery_dotm_blocked(void (*dot1)(const int8_t *, const int8_t *, size_t, size_t,
                                           int32_t *),
                              const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad,
                              int32_t *out)
{
    size_t step = block_rows(dpad);
    for (size_t b = 0; b < n; b += step) {
        size_t nb = n - b < step ? n - b : step;
        for (int qi = 0; qi < m; qi++) {
            dot1(q + (size_t)qi * dpad, rows + b * dpad, nb, dpad, out + (size_t)qi * n + b);
        }
    }
}

static void dotm_ref(const int8_t *q, int m, const int8_t *rows, size_t n, size_t dpad,
                     int32_t *out)
{
    cw__gallery_dotm_blocked(dot1_ref, q, m, rows, n, dpad, out);
}

static size_t find_pass_ref(const int32_t *d, const float *scale, size_t n, float t)
{
    return cw__gallery_find_pass_from(d, scale, 0, n, t);
}

const cw__gallery_kernels_t cw__gallery_kernels_scalar = {
    .name = "scalar",
    .dot1 = dot1_ref,
    .dotm = dotm_ref,
    .find_pass = find_pass_ref,
};
