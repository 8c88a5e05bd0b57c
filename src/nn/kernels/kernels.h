/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nn module's vectorised inner loops (the fast paths of ops.c): convolution epilogues and the
 * depthwise convolution. They are plain C written for the compiler to vectorise, and kernels.c is
 * built once per instruction set (baseline x86-64, and AVX2 where the compiler can target it),
 * each build exporting one table; dispatch.c picks one once, by CPU detection. Floating-point
 * contraction stays off in every build, so all tables compute bit-identical results. ops.c keeps
 * the plain reference loops that CW_FORCE_SCALAR=1 runs.
 */
#ifndef CW_NN_KERNELS_H
#define CW_NN_KERNELS_H

#include "../nn_internal.h"

#include <stddef.h>

/* A depthwise convolution with depth multiplier 1, NHWC, weights [1, KH, KW, C]. */
typedef struct cw__nn_dw {
    const float *x;
    int n, h, w, c;  /* input shape */
    const float *wt; /* weights */
    int kh, kw;
    const float *bias; /* [c]; never NULL (zeros when the model has none) */
    cw_nn_act_t act;
    const float *alpha; /* CW_NN_ACT_PRELU: [c] slopes */
    float *y;
    int oh, ow; /* output height and width */
    int sh, sw, dh, dw, ph, pw;
} cw__nn_dw_t;

typedef struct cw__nn_kernels {
    const char *name; /* "generic", "avx2" */
    /*
     * y[r][c] = act(y[r][c] + bias[c]) over rows x channels; bias NULL adds nothing, alpha is
     * read for CW_NN_ACT_PRELU only.
     */
    void (*epilogue)(float *y, size_t rows, size_t channels, const float *bias, cw_nn_act_t act,
                     const float *alpha);
    /* The whole depthwise convolution, activation included. */
    void (*depthwise)(const cw__nn_dw_t *d);
} cw__nn_kernels_t;

extern const cw__nn_kernels_t cw__nn_kernels_generic;
#ifdef CW_NN_HAVE_AVX2
extern const cw__nn_kernels_t cw__nn_kernels_avx2;
#endif

/* cw__nn_kernels: the build for this CPU, chosen on first use (dispatch.c). Thread-safe. */
const cw__nn_kernels_t *cw__nn_kernels(void);

/*
 * cw__nn_kernels_all: every build this CPU can run (ignoring CW_FORCE_SCALAR), for tests that
 * compare them with plain loops. Fills at most max entries of out; returns how many.
 */
int cw__nn_kernels_all(const cw__nn_kernels_t **out, int max);

#endif
