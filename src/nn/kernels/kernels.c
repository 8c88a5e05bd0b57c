// SPDX-License-Identifier: Apache-2.0
// The vectorised kernels of kernels.h, in plain C. CMake compiles this file once per instruction
// set with CW_NN_KERNEL_ISA naming the build (generic, avx2) and exporting cw__nn_kernels_<ISA>;
// everything else here is static, so no code built for one instruction set can be linked in
// place of another's. Pointers are restrict-qualified wherever the plan guarantees no overlap:
// that, -O3 and -fno-trapping-math (see CMakeLists.txt) are what get the loops vectorised.
#include "kernels.h"

#include <math.h>
#include <string.h>

#ifndef CW_NN_KERNEL_ISA
#error "CW_NN_KERNEL_ISA must name the instruction set this build is for"
#endif
#define KERNEL_CAT2(a, b) a##b
#define KERNEL_CAT(a, b) KERNEL_CAT2(a, b)
#define KERNEL_STR2(a) #a
#define KERNEL_STR(a) KERNEL_STR2(a)

// One row of `n` values: one pixel's channels, so alpha[i] is channel i's slope.
static void act_row(float *restrict y, size_t n, cw_nn_act_t act, const float *restrict alpha)
{
    switch (act) {
    case CW_NN_ACT_NONE:
        return;
    case CW_NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        }
        return;
    case CW_NN_ACT_RELU6:
        for (size_t i = 0; i < n; i++) {
            y[i] = y[i] < 0.0f ? 0.0f : (y[i] > 6.0f ? 6.0f : y[i]);
        }
        return;
    case CW_NN_ACT_RELU_N1_TO_1:
        for (size_t i = 0; i < n; i++) {
            y[i] = y[i] < -1.0f ? -1.0f : (y[i] > 1.0f ? 1.0f : y[i]);
        }
        return;
    case CW_NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            y[i] = tanhf(y[i]);
        }
        return;
    case CW_NN_ACT_PRELU:
        // Both sides are computed whatever the sign, so the select vectorises without a branch
        // (real activations' signs defeat a branch predictor). GCC computes the product
        // unconditionally only under -fno-trapping-math: otherwise it could raise a
        // floating-point flag the branch would not have.
        for (size_t i = 0; i < n; i++) {
            float v = y[i], scaled = v * alpha[i];
            y[i] = v >= 0.0f ? v : scaled;
        }
        return;
    }
}

static void epilogue(float *y, size_t rows, size_t channels, const float *bias, cw_nn_act_t act,
                     const float *alpha)
{
    for (size_t r = 0; r < rows; r++) {
        float *restrict yr = y + r * channels;
        if (bias != NULL) {
            for (size_t c = 0; c < channels; c++) {
                yr[c] += bias[c];
            }
        }
        act_row(yr, channels, act, alpha);
    }
}

// One output pixel of a 3x3 depthwise convolution whose taps are all inside the image: r0, r1, r2
// are the input rows' first taps, `step` floats apart along a row. The sum runs in the reference's
// order (bias, then the taps row by row), so the result is the reference's, just vectorised.
static void dw3x3_pixel(float *restrict out, const float *restrict r0, const float *restrict r1,
                        const float *restrict r2, size_t step, const float *restrict w,
                        const float *restrict bias, size_t C)
{
    const float *restrict w0 = w, *restrict w1 = w + 3 * C, *restrict w2 = w + 6 * C;
    for (size_t c = 0; c < C; c++) {
        float acc = bias[c];
        acc += r0[c] * w0[c];
        acc += r0[c + step] * w0[c + C];
        acc += r0[c + 2 * step] * w0[c + 2 * C];
        acc += r1[c] * w1[c];
        acc += r1[c + step] * w1[c + C];
        acc += r1[c + 2 * step] * w1[c + 2 * C];
        acc += r2[c] * w2[c];
        acc += r2[c + step] * w2[c + C];
        acc += r2[c + 2 * step] * w2[c + 2 * C];
        out[c] = acc;
    }
}

// Any other output pixel (other kernel sizes, or a window over the edge): taps outside the image
// are skipped, as in the reference.
static void dw_pixel(float *restrict out, const cw__nn_dw_t *d, const float *restrict xn, int iy0,
                     int ix0)
{
    size_t C = (size_t)d->c;
    for (size_t c = 0; c < C; c++) {
        out[c] = d->bias[c];
    }
    for (int ky = 0; ky < d->kh; ky++) {
        int iy = iy0 + ky * d->dh;
        if (iy < 0 || iy >= d->h) {
            continue;
        }
        for (int kx = 0; kx < d->kw; kx++) {
            int ix = ix0 + kx * d->dw;
            if (ix < 0 || ix >= d->w) {
                continue;
            }
            const float *restrict xp = xn + ((size_t)iy * d->w + ix) * C;
            const float *restrict wp = d->wt + ((size_t)ky * d->kw + kx) * C;
            for (size_t c = 0; c < C; c++) {
                out[c] += xp[c] * wp[c];
            }
        }
    }
}

// A row of output pixels at a time, then the activation on the row while it is in cache.
static void depthwise(const cw__nn_dw_t *d)
{
    size_t C = (size_t)d->c;
    int k3 = d->kh == 3 && d->kw == 3;
    for (int n = 0; n < d->n; n++) {
        const float *xn = d->x + (size_t)n * d->h * d->w * C;
        for (int oy = 0; oy < d->oh; oy++) {
            float *row = d->y + ((size_t)n * d->oh + oy) * d->ow * C;
            int iy0 = oy * d->sh - d->ph;
            int rows_in = iy0 >= 0 && iy0 + (d->kh - 1) * d->dh < d->h;
            for (int ox = 0; ox < d->ow; ox++) {
                int ix0 = ox * d->sw - d->pw;
                float *out = row + (size_t)ox * C;
                if (k3 && rows_in && ix0 >= 0 && ix0 + 2 * d->dw < d->w) {
                    const float *r0 = xn + ((size_t)iy0 * d->w + ix0) * C;
                    size_t line = (size_t)d->dh * d->w * C;
                    dw3x3_pixel(out, r0, r0 + line, r0 + 2 * line, (size_t)d->dw * C, d->wt,
                                d->bias, C);
                } else {
                    dw_pixel(out, d, xn, iy0, ix0);
                }
            }
            epilogue(row, (size_t)d->ow, C, NULL, d->act, d->alpha);
        }
    }
}

const cw__nn_kernels_t KERNEL_CAT(cw__nn_kernels_, CW_NN_KERNEL_ISA) = {
    .name = KERNEL_STR(CW_NN_KERNEL_ISA),
    .epilogue = epilogue,
    .depthwise = depthwise,
};
