// SPDX-License-Identifier: Apache-2.0
// The nn module's vectorised kernels (src/nn/kernels) against plain loops written here, for every
// build of them this CPU can run (baseline and AVX2). Floating-point contraction is off in every
// build and the kernels add in the plain loops' order, so the stated error budget is zero: the
// results must be bit-identical, over random shapes with odd channel counts (vector tails),
// pointers off the vector alignment, every activation, strides, dilations and padding.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../src/nn/kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int rand_int(int lo, int hi)
{
    return lo + (int)(next() % (uint32_t)(hi - lo + 1));
}

static float rand_float(void)
{
    return (float)(next() >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

// n floats, one float past a 64-byte boundary so that no vector load is aligned.
static float *alloc_misaligned(size_t n, float **block)
{
    *block = aligned_alloc(64, ((n + 1) * sizeof(float) + 63) / 64 * 64);
    assert_non_null(*block);
    for (size_t i = 0; i <= n; i++) {
        (*block)[i] = rand_float();
    }
    return *block + 1;
}

static float act_ref(float v, cw_nn_act_t act, float alpha)
{
    switch (act) {
    case CW_NN_ACT_RELU:
        return v > 0.0f ? v : 0.0f;
    case CW_NN_ACT_RELU6:
        return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case CW_NN_ACT_RELU_N1_TO_1:
        return v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
    case CW_NN_ACT_TANH:
        return tanhf(v);
    case CW_NN_ACT_PRELU:
        return v >= 0.0f ? v : v * alpha;
    default:
        return v;
    }
}

static const cw_nn_act_t acts[] = {CW_NN_ACT_NONE,         CW_NN_ACT_RELU, CW_NN_ACT_RELU6,
                                   CW_NN_ACT_RELU_N1_TO_1, CW_NN_ACT_TANH, CW_NN_ACT_PRELU};

static void test_epilogue(void **state)
{
    (void)state;
    const cw__nn_kernels_t *k[4];
    int nk = cw__nn_kernels_all(k, 4);
    assert_true(nk >= 1);
    for (int iter = 0; iter < 400; iter++) {
        size_t rows = (size_t)rand_int(1, 6), ch = (size_t)rand_int(1, 71);
        cw_nn_act_t act = acts[iter % 6];
        int with_bias = iter % 5 != 0;
        float *yb, *bb, *ab, *eb;
        float *y0 = alloc_misaligned(rows * ch, &yb);
        float *bias = alloc_misaligned(ch, &bb);
        float *alpha = alloc_misaligned(ch, &ab);
        float *expect = alloc_misaligned(rows * ch, &eb);
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < ch; c++) {
                float v = y0[r * ch + c] * 4.0f; // past RELU6's and RELU_N1_TO_1's clamps too
                y0[r * ch + c] = v;
                expect[r * ch + c] = act_ref(with_bias ? v + bias[c] : v, act, alpha[c]);
            }
        }
        for (int j = 0; j < nk; j++) {
            float *yb2;
            float *y = alloc_misaligned(rows * ch, &yb2);
            memcpy(y, y0, rows * ch * sizeof(float));
            k[j]->epilogue(y, rows, ch, with_bias ? bias : NULL, act, alpha);
            if (memcmp(y, expect, rows * ch * sizeof(float)) != 0) {
                fail_msg("%s epilogue: rows %zu channels %zu act %d bias %d", k[j]->name, rows, ch,
                         (int)act, with_bias);
            }
            free(yb2);
        }
        free(yb);
        free(bb);
        free(ab);
        free(eb);
    }
}

typedef struct dw_case {
    cw__nn_dw_t d;
    float *blocks[5];
} dw_case_t;

// Output size and leading padding as TFLite computes them (SAME or VALID).
static int window(int in, int k, int stride, int dil, int same, int *pad)
{
    int ek = (k - 1) * dil + 1;
    int o = same ? (in + stride - 1) / stride : (in - ek) / stride + 1;
    int total = (o - 1) * stride + ek - in;
    *pad = same && total > 0 ? total / 2 : 0;
    return o;
}

static int make_case(dw_case_t *t)
{
    cw__nn_dw_t *d = &t->d;
    memset(t, 0, sizeof(*t));
    d->n = rand_int(1, 2);
    d->h = rand_int(1, 9);
    d->w = rand_int(1, 9);
    d->c = rand_int(1, 37);
    int k3 = next() % 4 != 0; // mostly the 3x3 the fast path is for
    d->kh = k3 ? 3 : rand_int(1, 5);
    d->kw = k3 ? 3 : rand_int(1, 5);
    d->sh = rand_int(1, 2);
    d->sw = rand_int(1, 2);
    d->dh = next() % 4 == 0 ? 2 : 1;
    d->dw = next() % 4 == 0 ? 2 : 1;
    int same = next() % 2;
    if (!same && (d->h < (d->kh - 1) * d->dh + 1 || d->w < (d->kw - 1) * d->dw + 1)) {
        return 0;
    }
    d->oh = window(d->h, d->kh, d->sh, d->dh, same, &d->ph);
    d->ow = window(d->w, d->kw, d->sw, d->dw, same, &d->pw);
    if (d->oh < 1 || d->ow < 1) {
        return 0;
    }
    d->act = acts[next() % 6];
    d->x = alloc_misaligned((size_t)d->n * d->h * d->w * d->c, &t->blocks[0]);
    d->wt = alloc_misaligned((size_t)d->kh * d->kw * d->c, &t->blocks[1]);
    d->bias = alloc_misaligned((size_t)d->c, &t->blocks[2]);
    d->alpha = alloc_misaligned((size_t)d->c, &t->blocks[3]);
    d->y = alloc_misaligned((size_t)d->n * d->oh * d->ow * d->c, &t->blocks[4]);
    return 1;
}

static void free_case(dw_case_t *t)
{
    for (int i = 0; i < 5; i++) {
        free(t->blocks[i]);
    }
}

// The plain loops: bias, then the taps inside the image in row order, then the activation.
static void depthwise_ref(const cw__nn_dw_t *d, float *y)
{
    for (int n = 0; n < d->n; n++) {
        for (int oy = 0; oy < d->oh; oy++) {
            for (int ox = 0; ox < d->ow; ox++) {
                for (int c = 0; c < d->c; c++) {
                    float acc = d->bias[c];
                    for (int ky = 0; ky < d->kh; ky++) {
                        int iy = oy * d->sh - d->ph + ky * d->dh;
                        for (int kx = 0; kx < d->kw; kx++) {
                            int ix = ox * d->sw - d->pw + kx * d->dw;
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) {
                                continue;
                            }
                            acc += d->x[(((size_t)n * d->h + iy) * d->w + ix) * d->c + c] *
                                   d->wt[((size_t)ky * d->kw + kx) * d->c + c];
                        }
                    }
                    y[(((size_t)n * d->oh + oy) * d->ow + ox) * d->c + c] =
                        act_ref(acc, d->act, d->alpha[c]);
                }
            }
        }
    }
}

static void test_depthwise(void **state)
{
    (void)state;
    const cw__nn_kernels_t *k[4];
    int nk = cw__nn_kernels_all(k, 4);
    int runs = 0;
    while (runs < 400) {
        dw_case_t t;
        if (!make_case(&t)) {
            continue;
        }
        runs++;
        const cw__nn_dw_t *d = &t.d;
        size_t ny = (size_t)d->n * d->oh * d->ow * d->c;
        float *expect = malloc(ny * sizeof(float));
        assert_non_null(expect);
        depthwise_ref(d, expect);
        for (int j = 0; j < nk; j++) {
            memset(d->y, 0xff, ny * sizeof(float)); // NaNs where the kernel failed to write
            k[j]->depthwise(d);
            if (memcmp(d->y, expect, ny * sizeof(float)) != 0) {
                fail_msg("%s depthwise: %dx%dx%dx%d k %dx%d s %d,%d d %d,%d p %d,%d act %d",
                         k[j]->name, d->n, d->h, d->w, d->c, d->kh, d->kw, d->sh, d->sw, d->dh,
                         d->dw, d->ph, d->pw, (int)d->act);
            }
        }
        free(expect);
        free_case(&t);
    }
}

// The comparison can fail: the same case with one weight changed gives other bits.
static void test_comparison_can_fail(void **state)
{
    (void)state;
    dw_case_t t;
    while (!make_case(&t)) {
    }
    cw__nn_dw_t *d = &t.d;
    d->act = CW_NN_ACT_NONE;
    size_t ny = (size_t)d->n * d->oh * d->ow * d->c;
    float *expect = malloc(ny * sizeof(float));
    assert_non_null(expect);
    depthwise_ref(d, expect);
    t.blocks[2][1] += 1.0f; // bias[0]: the block starts one float early
    cw__nn_kernels()->depthwise(d);
    assert_true(memcmp(d->y, expect, ny * sizeof(float)) != 0);
    free(expect);
    free_case(&t);
}

int main(void)
{
    const cw__nn_kernels_t *k[4];
    int nk = cw__nn_kernels_all(k, 4);
    for (int j = 0; j < nk; j++) {
        print_message("kernels: %s%s\n", k[j]->name, k[j] == cw__nn_kernels() ? " (chosen)" : "");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epilogue),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_comparison_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
