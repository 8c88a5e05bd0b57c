// SPDX-License-Identifier: Apache-2.0
// The operators: shape inference and float32 execution in NHWC, as TFLite defines them. Each
// heavy operator has a plain reference loop (what CW_FORCE_SCALAR=1 runs, and what the tests
// compare against) and a fast path: convolutions and fully connected layers become GEMMs
// (im2col in tiles for k > 1) or, for one row, GEMVs through OpenBLAS, finished by the bias and
// activation epilogue of kernels/ (which also has the fast depthwise convolution); element-wise
// work is written so the compiler vectorises it.
#include "ops.h"

#include "kernels/kernels.h"

#include "clearway/cpu.h"
#include "clearway/err.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

// im2col is done for this many output pixels at a time, to bound scratch memory.
enum { IM2COL_TILE = 512 };

static int use_fast(void)
{
    return !cw_cpu_forced_scalar();
}

static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

void cw__nn_ops_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_single_thread);
}

// ---- shape helpers ---------------------------------------------------------------------------

// Output spatial size and leading padding of a window op, as TFLite computes them for SAME and
// VALID, and as ONNX does for explicit pads (`before` and `after`, ignored otherwise). Kernel
// sizes and dilations up to the loaders' caps multiply past 2^31, so the extent is computed in
// 64 bits and capped at 2^30, which keeps the kernels' int index arithmetic in range.
static int window_out(int in, int k, int stride, int dilation, cw_nn_padding_t pad, int before,
                      int after, int *out, int *pad_before)
{
    if (stride <= 0 || dilation <= 0 || k <= 0 || before < 0 || after < 0) {
        return CW_EINVAL;
    }
    int64_t ek = (int64_t)(k - 1) * dilation + 1;
    if (ek > ((int64_t)1 << 30)) {
        return CW_EINVAL;
    }
    int64_t o, lead = 0;
    if (pad == CW_NN_PAD_SAME) {
        o = ((int64_t)in + stride - 1) / stride;
        int64_t total = (o - 1) * stride + ek - in;
        lead = total > 0 ? total / 2 : 0;
    } else {
        int64_t span = (int64_t)in + (pad == CW_NN_PAD_EXPLICIT ? (int64_t)before + after : 0);
        if (span < ek) {
            return CW_EINVAL;
        }
        o = (span - ek) / stride + 1;
        lead = pad == CW_NN_PAD_EXPLICIT ? before : 0;
    }
    if (o < 1 || o > INT32_MAX) {
        return CW_EINVAL;
    }
    *pad_before = (int)lead;
    *out = (int)o;
    return 0;
}

static int broadcast_shape(const cw_nn_shape_t *a, const cw_nn_shape_t *b, cw_nn_shape_t *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank);
        int ib = i - (r - b->rank);
        int da = ia >= 0 ? a->dims[ia] : 1;
        int db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            return CW_EINVAL;
        }
        out->dims[i] = da > db ? da : db;
    }
    return 0;
}

static int reduce_mask(uint32_t axes, int rank)
{
    return (int)(axes & ((1u << rank) - 1));
}

// One axis of STRIDED_SLICE as TFLite resolves it: masks, negative indices counted from the
// end, clamping to the axis (to [0, n] going forward, [-1, n - 1] going backward). Gives the
// first index and the element count; shape inference and execution both use it.
static int slice_axis(const cw_nn_node_t *node, int i, int n, int *begin, int *len)
{
    int st = node->p.slice.stride[i];
    if (st == 0) {
        return CW_EINVAL;
    }
    int lo = st > 0 ? 0 : -1;
    int hi = st > 0 ? n : n - 1;
    int b = node->p.slice.begin[i];
    int e = node->p.slice.end[i];
    if (node->p.slice.begin_mask & (1u << i)) {
        b = st > 0 ? 0 : n - 1;
    } else {
        b = b < 0 ? b + n : b;
        b = b < lo ? lo : (b > hi ? hi : b);
    }
    if (node->p.slice.end_mask & (1u << i)) {
        e = st > 0 ? n : -1;
    } else {
        e = e < 0 ? e + n : e;
        e = e < lo ? lo : (e > hi ? hi : e);
    }
    int l = st > 0 ? (e - b + st - 1) / st : (b - e - st - 1) / (-st);
    if (node->p.slice.shrink_axis_mask & (1u << i)) {
        if (b < 0 || b >= n) {
            return CW_EINVAL;
        }
        l = 1;
    }
    *begin = b;
    *len = l < 0 ? 0 : l;
    return 0;
}

// ---- shape inference -------------------------------------------------------------------------

// A PReLU epilogue needs one constant slope per output channel (input 3, see nn_internal.h).
static int act_fits(const cw_nn_model_t *m, const cw_nn_node_t *node, const cw_nn_shape_t *shapes,
                    int channels)
{
    if (node->act != CW_NN_ACT_PRELU) {
        return 1;
    }
    int a = node->n_in > 3 ? node->in[3] : -1;
    return a >= 0 && m->tensors[a].is_const && cw__nn_numel(&shapes[a]) == (size_t)channels;
}

int cw__nn_infer(const cw_nn_model_t *m, const cw_nn_node_t *node, cw_nn_shape_t *shapes,
                 size_t *scratch_floats, char *diag, size_t diag_len)
{
    const cw_nn_shape_t *x = node->n_in > 0 && node->in[0] >= 0 ? &shapes[node->in[0]] : NULL;
    const cw_nn_shape_t *w = node->n_in > 1 && node->in[1] >= 0 ? &shapes[node->in[1]] : NULL;
    cw_nn_shape_t o = {0, {0}};
    *scratch_floats = 0;
    if (x == NULL || node->n_out < 1) {
        goto bad;
    }
    switch (node->op) {
    case CW_NN_OP_CONV2D:
    case CW_NN_OP_DEPTHWISE_CONV2D: {
        int oh, ow, ph, pw;
        if (w == NULL || x->rank != 4 || w->rank != 4) {
            goto bad;
        }
        int kh = w->dims[1], kw = w->dims[2];
        if (window_out(x->dims[1], kh, node->p.conv.stride_h, node->p.conv.dilation_h,
                       node->p.conv.padding, node->p.conv.pad_top, node->p.conv.pad_bottom, &oh,
                       &ph) != 0 ||
            window_out(x->dims[2], kw, node->p.conv.stride_w, node->p.conv.dilation_w,
                       node->p.conv.padding, node->p.conv.pad_left, node->p.conv.pad_right, &ow,
                       &pw) != 0) {
            goto bad;
        }
        int cout;
        if (node->op == CW_NN_OP_CONV2D) {
            if (w->dims[3] != x->dims[3]) {
                goto bad;
            }
            cout = w->dims[0];
            size_t k = (size_t)kh * (size_t)kw * (size_t)x->dims[3];
            if (!(kh == 1 && kw == 1 && node->p.conv.stride_h == 1 && node->p.conv.stride_w == 1)) {
                *scratch_floats = k * IM2COL_TILE;
            }
        } else {
            int mult = node->p.conv.depth_multiplier > 0 ? node->p.conv.depth_multiplier : 1;
            if (w->dims[0] != 1 || w->dims[3] != x->dims[3] * mult) {
                goto bad;
            }
            cout = w->dims[3];
            *scratch_floats = (size_t)cout; // zeros for an absent bias (the fast kernel's)
        }
        if ((node->n_in > 2 && node->in[2] >= 0 &&
             cw__nn_numel(&shapes[node->in[2]]) != (size_t)cout) ||
            !act_fits(m, node, shapes, cout)) {
            goto bad;
        }
        o.rank = 4;
        o.dims[0] = x->dims[0];
        o.dims[1] = oh;
        o.dims[2] = ow;
        o.dims[3] = cout;
        break;
    }
    case CW_NN_OP_FULLY_CONNECTED: {
        if (w == NULL || w->rank != 2) {
            goto bad;
        }
        size_t n = cw__nn_numel(x);
        size_t k = (size_t)w->dims[1];
        if (k == 0 || n % k != 0 || n / k > INT32_MAX) {
            goto bad;
        }
        if ((node->n_in > 2 && node->in[2] >= 0 &&
             cw__nn_numel(&shapes[node->in[2]]) != (size_t)w->dims[0]) ||
            !act_fits(m, node, shapes, w->dims[0])) {
            goto bad;
        }
        if (node->p.fc.keep_num_dims) {
            if (x->dims[x->rank - 1] != (int32_t)k) {
                goto bad;
            }
            o = *x;
            o.dims[o.rank - 1] = w->dims[0];
        } else {
            o.rank = 2;
            o.dims[0] = (int32_t)(n / k);
            o.dims[1] = w->dims[0];
        }
        break;
    }
    case CW_NN_OP_MAX_POOL2D:
    case CW_NN_OP_AVG_POOL2D: {
        int oh, ow, ph, pw;
        if (x->rank != 4 || node->p.pool.padding == CW_NN_PAD_EXPLICIT ||
            window_out(x->dims[1], node->p.pool.filter_h, node->p.pool.stride_h, 1,
                       node->p.pool.padding, 0, 0, &oh, &ph) != 0 ||
            window_out(x->dims[2], node->p.pool.filter_w, node->p.pool.stride_w, 1,
                       node->p.pool.padding, 0, 0, &ow, &pw) != 0) {
            goto bad;
        }
        o = *x;
        o.dims[1] = oh;
        o.dims[2] = ow;
        break;
    }
    case CW_NN_OP_ADD:
    case CW_NN_OP_SUB:
    case CW_NN_OP_MUL:
    case CW_NN_OP_DIV:
    case CW_NN_OP_MAXIMUM:
    case CW_NN_OP_MINIMUM:
    case CW_NN_OP_GREATER_EQUAL:
    case CW_NN_OP_LESS:
    case CW_NN_OP_PRELU:
        if (w == NULL || broadcast_shape(x, w, &o) != 0) {
            goto bad;
        }
        break;
    case CW_NN_OP_RELU:
    case CW_NN_OP_RELU6:
    case CW_NN_OP_LEAKY_RELU:
    case CW_NN_OP_ABS:
    case CW_NN_OP_NEG:
    case CW_NN_OP_EXP:
    case CW_NN_OP_LOGISTIC:
    case CW_NN_OP_TANH:
    case CW_NN_OP_SQRT:
    case CW_NN_OP_RSQRT:
    case CW_NN_OP_CAST:
    case CW_NN_OP_IDENTITY:
    case CW_NN_OP_SOFTMAX:
    case CW_NN_OP_L2_NORM:
        o = *x;
        break;
    case CW_NN_OP_RESHAPE: {
        cw_nn_shape_t s = node->p.reshape.shape;
        if (s.rank == 0) {
            s = m->tensors[node->out[0]].shape;
        }
        size_t total = cw__nn_numel(x);
        size_t known = 1;
        int unknown = -1;
        for (int i = 0; i < s.rank; i++) {
            if (s.dims[i] == -1 && unknown < 0) {
                unknown = i;
            } else if (s.dims[i] <= 0) {
                goto bad;
            } else {
                known *= (size_t)s.dims[i];
            }
        }
        if (unknown >= 0) {
            if (known == 0 || total % known != 0) {
                goto bad;
            }
            s.dims[unknown] = (int32_t)(total / known);
        } else if (known != total && x->dims[0] != 0) {
            // A stored shape with a fixed batch (MobileFaceNet stores [2, 192]) follows the
            // batch the context was planned for.
            if (s.rank >= 1 && x->rank >= 1 && total % (known / (size_t)s.dims[0]) == 0) {
                s.dims[0] = (int32_t)(total / (known / (size_t)s.dims[0]));
            } else {
                goto bad;
            }
        }
        if (cw__nn_numel(&s) != total) {
            goto bad;
        }
        o = s;
        break;
    }
    case CW_NN_OP_REDUCE_MAX:
    case CW_NN_OP_REDUCE_SUM:
    case CW_NN_OP_REDUCE_MEAN: {
        int mask = reduce_mask(node->p.reduce.axes, x->rank);
        o.rank = 0;
        for (int i = 0; i < x->rank; i++) {
            if (mask & (1 << i)) {
                if (node->p.reduce.keep_dims) {
                    o.dims[o.rank++] = 1;
                }
            } else {
                o.dims[o.rank++] = x->dims[i];
            }
        }
        if (o.rank == 0) {
            o.rank = 1;
            o.dims[0] = 1;
        }
        break;
    }
    case CW_NN_OP_CONCAT: {
        int axis = node->p.concat.axis < 0 ? node->p.concat.axis + x->rank : node->p.concat.axis;
        if (axis < 0 || axis >= x->rank) {
            goto bad;
        }
        o = *x;
        o.dims[axis] = 0;
        for (int j = 0; j < node->n_in; j++) {
            const cw_nn_shape_t *s = &shapes[node->in[j]];
            if (s->rank != x->rank) {
                goto bad;
            }
            for (int d = 0; d < s->rank; d++) {
                if (d != axis && s->dims[d] != x->dims[d]) {
                    goto bad;
                }
            }
            o.dims[axis] += s->dims[axis];
        }
        break;
    }
    case CW_NN_OP_PAD:
        o = *x;
        for (int i = 0; i < x->rank; i++) {
            if (node->p.pad.before[i] < 0 || node->p.pad.after[i] < 0 ||
                node->p.pad.before[i] > 65536 || node->p.pad.after[i] > 65536) {
                goto bad;
            }
            o.dims[i] += node->p.pad.before[i] + node->p.pad.after[i];
        }
        break;
    case CW_NN_OP_STRIDED_SLICE: {
        o.rank = 0;
        for (int i = 0; i < x->rank; i++) {
            int b, len;
            if (slice_axis(node, i, x->dims[i], &b, &len) != 0 || len == 0) {
                goto bad;
            }
            if (!(node->p.slice.shrink_axis_mask & (1u << i))) {
                o.dims[o.rank++] = len;
            }
        }
        if (o.rank == 0) {
            o.rank = 1;
            o.dims[0] = 1;
        }
        break;
    }
    default:
        goto bad;
    }
    shapes[node->out[0]] = o;
    return 0;

bad:
    return cw_diag_set(diag, diag_len, CW_EINVAL, "%s: input shapes do not fit (tensor '%s')",
                       cw__nn_op_name(node->op),
                       node->n_in > 0 && node->in[0] >= 0 ? m->tensors[node->in[0]].name : "?");
}

// ---- execution helpers -----------------------------------------------------------------------
//
// Kernels take restrict-qualified pointers wherever input and output cannot overlap (the plan
// gives every tensor alive at the same node its own memory), which is what lets the compiler
// vectorise their inner loops without run-time overlap checks.

// A node's activation over one row of `n` values; for PReLU the row is one pixel's channels and
// alpha holds their slopes.
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
        // Both sides computed whatever the sign, so the select vectorises (see kernels.c).
        for (size_t i = 0; i < n; i++) {
            float v = y[i], scaled = v * alpha[i];
            y[i] = v >= 0.0f ? v : scaled;
        }
        return;
    }
}

// The activation of a node whose output has n values and `channels` per pixel (the last axis).
static void apply_act(float *y, size_t n, size_t channels, cw_nn_act_t act, const float *alpha)
{
    if (act != CW_NN_ACT_PRELU) {
        act_row(y, n, act, NULL);
        return;
    }
    for (size_t i = 0; i < n; i += channels) {
        act_row(y + i, channels, act, alpha);
    }
}

// Reference convolution: direct loops over NHWC input and [O, KH, KW, I] weights.
static void conv_ref(const float *x, const cw_nn_shape_t *xs, const float *w,
                     const cw_nn_shape_t *ws, const float *bias, float *y, const cw_nn_shape_t *ys,
                     int sh, int sw, int dh, int dw, int ph, int pw)
{
    int N = xs->dims[0], H = xs->dims[1], W = xs->dims[2], C = xs->dims[3];
    int O = ws->dims[0], KH = ws->dims[1], KW = ws->dims[2];
    int OH = ys->dims[1], OW = ys->dims[2];
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float *out = y + (((size_t)n * OH + oy) * OW + ox) * O;
                for (int o = 0; o < O; o++) {
                    float acc = bias != NULL ? bias[o] : 0.0f;
                    for (int ky = 0; ky < KH; ky++) {
                        int iy = oy * sh - ph + ky * dh;
                        if (iy < 0 || iy >= H) {
                            continue;
                        }
                        for (int kx = 0; kx < KW; kx++) {
                            int ix = ox * sw - pw + kx * dw;
                            if (ix < 0 || ix >= W) {
                                continue;
                            }
                            const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
                            const float *wp = w + (((size_t)o * KH + ky) * KW + kx) * C;
                            for (int c = 0; c < C; c++) {
                                acc += xp[c] * wp[c];
                            }
                        }
                    }
                    out[o] = acc;
                }
            }
        }
    }
}

// One row of the im2col matrix: the KH x KW x C input values under output pixel (iy0, ix0), zero
// where the window hangs over the edge. Undilated, a kernel row is one contiguous run of KW * C
// floats, copied at once (per tap, pnet's first layer would copy 12 bytes at a time).
static void im2col_pixel(float *col, const float *xn, int H, int W, int C, int iy0, int ix0, int KH,
                         int KW, int dh, int dw)
{
    size_t run = (size_t)KW * C;
    for (int ky = 0; ky < KH; ky++) {
        int iy = iy0 + ky * dh;
        float *dst = col + ky * run;
        if (iy < 0 || iy >= H) {
            memset(dst, 0, run * sizeof(float));
            continue;
        }
        const float *src = xn + (size_t)iy * W * C;
        if (dw == 1 && ix0 >= 0 && ix0 + KW <= W) {
            memcpy(dst, src + (size_t)ix0 * C, run * sizeof(float));
            continue;
        }
        for (int kx = 0; kx < KW; kx++) {
            int ix = ix0 + kx * dw;
            if (ix < 0 || ix >= W) {
                memset(dst + (size_t)kx * C, 0, (size_t)C * sizeof(float));
            } else {
                memcpy(dst + (size_t)kx * C, src + (size_t)ix * C, (size_t)C * sizeof(float));
            }
        }
    }
}

// Fast convolution: GEMM of (output pixels x K) by weights^T, a tile of output pixels at a time
// (for 1x1 stride 1 the input rows are that matrix already; otherwise im2col fills scratch), each
// tile finished by the bias-and-activation epilogue while it is in cache.
static void conv_gemm(const float *x, const cw_nn_shape_t *xs, const float *w,
                      const cw_nn_shape_t *ws, const float *bias, cw_nn_act_t act,
                      const float *alpha, float *y, const cw_nn_shape_t *ys, int sh, int sw, int dh,
                      int dw, int ph, int pw, float *scratch)
{
    int N = xs->dims[0], H = xs->dims[1], W = xs->dims[2], C = xs->dims[3];
    int O = ws->dims[0], KH = ws->dims[1], KW = ws->dims[2];
    int OH = ys->dims[1], OW = ys->dims[2];
    int K = KH * KW * C;
    size_t P = (size_t)OH * OW;
    int direct = KH == 1 && KW == 1 && sh == 1 && sw == 1;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * H * W * C;
        float *yn = y + (size_t)n * P * O;
        for (size_t p0 = 0; p0 < P; p0 += IM2COL_TILE) {
            size_t rows = P - p0 < IM2COL_TILE ? P - p0 : IM2COL_TILE;
            const float *a = xn + p0 * K;
            if (!direct) {
                for (size_t r = 0; r < rows; r++) {
                    int oy = (int)((p0 + r) / OW), ox = (int)((p0 + r) % OW);
                    im2col_pixel(scratch + r * K, xn, H, W, C, oy * sh - ph, ox * sw - pw, KH, KW,
                                 dh, dw);
                }
                a = scratch;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, O, K, 1.0f, a, K, w, K,
                        0.0f, yn + p0 * O, O);
            cw__nn_kernels()->epilogue(yn + p0 * O, rows, (size_t)O, bias, act, alpha);
        }
    }
}

// Reference depthwise convolution; the channel loop is innermost and contiguous.
static void depthwise(const float *x, const cw_nn_shape_t *xs, const float *w,
                      const cw_nn_shape_t *ws, const float *bias, float *y, const cw_nn_shape_t *ys,
                      int mult, int sh, int sw, int dh, int dw, int ph, int pw)
{
    int N = xs->dims[0], H = xs->dims[1], W = xs->dims[2], C = xs->dims[3];
    int KH = ws->dims[1], KW = ws->dims[2];
    int OH = ys->dims[1], OW = ys->dims[2], OC = ys->dims[3];
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float *out = y + (((size_t)n * OH + oy) * OW + ox) * OC;
                for (int oc = 0; oc < OC; oc++) {
                    out[oc] = bias != NULL ? bias[oc] : 0.0f;
                }
                for (int ky = 0; ky < KH; ky++) {
                    int iy = oy * sh - ph + ky * dh;
                    if (iy < 0 || iy >= H) {
                        continue;
                    }
                    for (int kx = 0; kx < KW; kx++) {
                        int ix = ox * sw - pw + kx * dw;
                        if (ix < 0 || ix >= W) {
                            continue;
                        }
                        const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
                        const float *wp = w + ((size_t)ky * KW + kx) * OC;
                        if (mult == 1) {
                            for (int c = 0; c < C; c++) {
                                out[c] += xp[c] * wp[c];
                            }
                        } else {
                            for (int c = 0; c < C; c++) {
                                for (int j = 0; j < mult; j++) {
                                    out[c * mult + j] += xp[c] * wp[c * mult + j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

static void pool(const float *x, const cw_nn_shape_t *xs, float *y, const cw_nn_shape_t *ys,
                 const cw_nn_node_t *node, int is_max, int ph, int pw)
{
    int N = xs->dims[0], H = xs->dims[1], W = xs->dims[2], C = xs->dims[3];
    int OH = ys->dims[1], OW = ys->dims[2];
    int fh = node->p.pool.filter_h, fw = node->p.pool.filter_w;
    int sh = node->p.pool.stride_h, sw = node->p.pool.stride_w;
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float *out = y + (((size_t)n * OH + oy) * OW + ox) * C;
                int count = 0;
                for (int c = 0; c < C; c++) {
                    out[c] = is_max ? -FLT_MAX : 0.0f;
                }
                for (int ky = 0; ky < fh; ky++) {
                    int iy = oy * sh - ph + ky;
                    if (iy < 0 || iy >= H) {
                        continue;
                    }
                    for (int kx = 0; kx < fw; kx++) {
                        int ix = ox * sw - pw + kx;
                        if (ix < 0 || ix >= W) {
                            continue;
                        }
                        const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
                        count++;
                        if (is_max) {
                            for (int c = 0; c < C; c++) {
                                out[c] = xp[c] > out[c] ? xp[c] : out[c];
                            }
                        } else {
                            for (int c = 0; c < C; c++) {
                                out[c] += xp[c];
                            }
                        }
                    }
                }
                // TFLite averages over the valid (unpadded) elements only.
                if (!is_max && count > 0) {
                    float inv = 1.0f / (float)count;
                    for (int c = 0; c < C; c++) {
                        out[c] *= inv;
                    }
                }
            }
        }
    }
}

static inline float binop(cw_nn_op_t op, float a, float b)
{
    switch (op) {
    case CW_NN_OP_ADD:
        return a + b;
    case CW_NN_OP_SUB:
        return a - b;
    case CW_NN_OP_MUL:
        return a * b;
    case CW_NN_OP_DIV:
        return a / b;
    case CW_NN_OP_MAXIMUM:
        return a > b ? a : b;
    case CW_NN_OP_MINIMUM:
        return a < b ? a : b;
    case CW_NN_OP_GREATER_EQUAL:
        return a >= b ? 1.0f : 0.0f;
    case CW_NN_OP_LESS:
        return a < b ? 1.0f : 0.0f;
    case CW_NN_OP_PRELU:
        return a >= 0.0f ? a : a * b;
    default:
        return 0.0f;
    }
}

// The flat broadcast patterns: a and b are each either the whole tensor (rep 0) or a block of p
// values repeated along it (rep 1; p = 1 for a scalar, the channel count for a per-channel
// vector). Always inlined with op a constant, so each caller gets its own loops, free of the
// switch, that the compiler vectorises.
static inline __attribute__((always_inline)) void binary_flat(cw_nn_op_t op,
                                                              const float *restrict a, int a_rep,
                                                              const float *restrict b, int b_rep,
                                                              float *restrict y, size_t n, size_t p)
{
    if (!a_rep && !b_rep) {
        for (size_t i = 0; i < n; i++) {
            y[i] = binop(op, a[i], b[i]);
        }
    } else if (p == 1 && b_rep) {
        float s = b[0];
        for (size_t i = 0; i < n; i++) {
            y[i] = binop(op, a[i], s);
        }
    } else if (p == 1) {
        float s = a[0];
        for (size_t i = 0; i < n; i++) {
            y[i] = binop(op, s, b[i]);
        }
    } else {
        for (size_t i = 0; i < n; i += p) {
            const float *restrict ai = a_rep ? a : a + i;
            const float *restrict bi = b_rep ? b : b + i;
            float *restrict yi = y + i;
            for (size_t j = 0; j < p; j++) {
                yi[j] = binop(op, ai[j], bi[j]);
            }
        }
    }
}

// Element-wise binary op with numpy broadcasting. Common cases (same shape, scalar, a vector
// over the last axis) get flat loops; the general case walks a 4-D index with zero strides.
static void binary(cw_nn_op_t op, const float *a, const cw_nn_shape_t *as, const float *b,
                   const cw_nn_shape_t *bs, float *y, const cw_nn_shape_t *ys)
{
    size_t n = cw__nn_numel(ys);
    size_t na = cw__nn_numel(as), nb = cw__nn_numel(bs);
    int last = ys->dims[ys->rank - 1];
    int a_rep = na != n, b_rep = nb != n;
    size_t p = a_rep ? na : nb;
    int flat = (!a_rep && !b_rep) ||
               (!a_rep && (nb == 1 || (nb == (size_t)last && bs->dims[bs->rank - 1] == last))) ||
               (!b_rep && (na == 1 || (na == (size_t)last && as->dims[as->rank - 1] == last)));
    if (flat) {
        switch (op) {
        case CW_NN_OP_ADD:
            binary_flat(CW_NN_OP_ADD, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_SUB:
            binary_flat(CW_NN_OP_SUB, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_MUL:
            binary_flat(CW_NN_OP_MUL, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_DIV:
            binary_flat(CW_NN_OP_DIV, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_MAXIMUM:
            binary_flat(CW_NN_OP_MAXIMUM, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_MINIMUM:
            binary_flat(CW_NN_OP_MINIMUM, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_GREATER_EQUAL:
            binary_flat(CW_NN_OP_GREATER_EQUAL, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_LESS:
            binary_flat(CW_NN_OP_LESS, a, a_rep, b, b_rep, y, n, p);
            return;
        case CW_NN_OP_PRELU:
            binary_flat(CW_NN_OP_PRELU, a, a_rep, b, b_rep, y, n, p);
            return;
        default:
            return;
        }
    }
    // General: right-align both shapes to 4-D and use stride 0 on broadcast axes.
    int d[4], sa[4], sb[4];
    int r = ys->rank;
    for (int i = 0; i < 4; i++) {
        int yi = i - (4 - r);
        d[i] = yi >= 0 ? ys->dims[yi] : 1;
    }
    for (int pass = 0; pass < 2; pass++) {
        const cw_nn_shape_t *s = pass == 0 ? as : bs;
        int *st = pass == 0 ? sa : sb;
        int stride = 1;
        for (int i = 3; i >= 0; i--) {
            int si = i - (4 - s->rank);
            int dim = si >= 0 ? s->dims[si] : 1;
            st[i] = dim == 1 ? 0 : stride;
            stride *= dim;
        }
    }
    size_t k = 0;
    for (int i0 = 0; i0 < d[0]; i0++) {
        for (int i1 = 0; i1 < d[1]; i1++) {
            for (int i2 = 0; i2 < d[2]; i2++) {
                for (int i3 = 0; i3 < d[3]; i3++) {
                    size_t ia = (size_t)i0 * sa[0] + (size_t)i1 * sa[1] + (size_t)i2 * sa[2] +
                                (size_t)i3 * sa[3];
                    size_t ib = (size_t)i0 * sb[0] + (size_t)i1 * sb[1] + (size_t)i2 * sb[2] +
                                (size_t)i3 * sb[3];
                    y[k++] = binop(op, a[ia], b[ib]);
                }
            }
        }
    }
}

// Element-wise unary ops (input and output never overlap, see the plan).
static void unary(const cw_nn_node_t *node, const float *restrict x, float *restrict y, size_t n)
{
    switch (node->op) {
    case CW_NN_OP_RELU:
        for (size_t i = 0; i < n; i++) {
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        }
        return;
    case CW_NN_OP_RELU6:
        for (size_t i = 0; i < n; i++) {
            y[i] = x[i] < 0.0f ? 0.0f : (x[i] > 6.0f ? 6.0f : x[i]);
        }
        return;
    case CW_NN_OP_LEAKY_RELU: {
        float a = node->p.leaky.alpha;
        for (size_t i = 0; i < n; i++) {
            y[i] = x[i] >= 0.0f ? x[i] : x[i] * a;
        }
        return;
    }
    case CW_NN_OP_ABS:
        for (size_t i = 0; i < n; i++) {
            y[i] = fabsf(x[i]);
        }
        return;
    case CW_NN_OP_NEG:
        for (size_t i = 0; i < n; i++) {
            y[i] = -x[i];
        }
        return;
    case CW_NN_OP_EXP:
        for (size_t i = 0; i < n; i++) {
            y[i] = expf(x[i]);
        }
        return;
    case CW_NN_OP_LOGISTIC:
        for (size_t i = 0; i < n; i++) {
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        }
        return;
    case CW_NN_OP_TANH:
        for (size_t i = 0; i < n; i++) {
            y[i] = tanhf(x[i]);
        }
        return;
    case CW_NN_OP_SQRT:
        for (size_t i = 0; i < n; i++) {
            y[i] = sqrtf(x[i]);
        }
        return;
    case CW_NN_OP_RSQRT:
        for (size_t i = 0; i < n; i++) {
            y[i] = 1.0f / sqrtf(x[i]);
        }
        return;
    case CW_NN_OP_CAST:
        if (node->p.cast.to_int) {
            for (size_t i = 0; i < n; i++) {
                y[i] = truncf(x[i]);
            }
        } else {
            memcpy(y, x, n * sizeof(float));
        }
        return;
    default:
        return;
    }
}

static void reduce(cw_nn_op_t op, const float *x, const cw_nn_shape_t *xs, uint32_t axes, float *y)
{
    int mask = reduce_mask(axes, xs->rank);
    // Out index: collapse reduced axes; walk every input element once.
    int d[4] = {1, 1, 1, 1};
    int off = 4 - xs->rank;
    for (int i = 0; i < xs->rank; i++) {
        d[off + i] = xs->dims[i];
    }
    int red[4] = {0, 0, 0, 0};
    for (int i = 0; i < xs->rank; i++) {
        red[off + i] = (mask >> i) & 1;
    }
    int od[4];
    for (int i = 0; i < 4; i++) {
        od[i] = red[i] ? 1 : d[i];
    }
    size_t on = (size_t)od[0] * od[1] * od[2] * od[3];
    for (size_t i = 0; i < on; i++) {
        y[i] = op == CW_NN_OP_REDUCE_MAX ? -FLT_MAX : 0.0f;
    }
    size_t k = 0;
    for (int i0 = 0; i0 < d[0]; i0++) {
        for (int i1 = 0; i1 < d[1]; i1++) {
            for (int i2 = 0; i2 < d[2]; i2++) {
                for (int i3 = 0; i3 < d[3]; i3++) {
                    size_t o = (((size_t)(red[0] ? 0 : i0) * od[1] + (red[1] ? 0 : i1)) * od[2] +
                                (red[2] ? 0 : i2)) *
                                   od[3] +
                               (red[3] ? 0 : i3);
                    float v = x[k++];
                    if (op == CW_NN_OP_REDUCE_MAX) {
                        y[o] = v > y[o] ? v : y[o];
                    } else {
                        y[o] += v;
                    }
                }
            }
        }
    }
    if (op == CW_NN_OP_REDUCE_MEAN) {
        size_t cnt = cw__nn_numel(xs) / (on > 0 ? on : 1);
        for (size_t i = 0; i < on; i++) {
            y[i] /= (float)cnt;
        }
    }
}

static void concat(const cw_nn_ctx_t *ctx, const cw_nn_node_t *node, float *y,
                   const cw_nn_shape_t *ys)
{
    int axis = node->p.concat.axis < 0 ? node->p.concat.axis + ys->rank : node->p.concat.axis;
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) {
        outer *= (size_t)ys->dims[i];
    }
    for (int i = axis + 1; i < ys->rank; i++) {
        inner *= (size_t)ys->dims[i];
    }
    size_t out_row = (size_t)ys->dims[axis] * inner;
    size_t at = 0;
    for (int j = 0; j < node->n_in; j++) {
        const cw_nn_shape_t *s = &ctx->shapes[node->in[j]];
        const float *src = ctx->ptr[node->in[j]];
        size_t row = (size_t)s->dims[axis] * inner;
        for (size_t o = 0; o < outer; o++) {
            memcpy(y + o * out_row + at, src + o * row, row * sizeof(float));
        }
        at += row;
    }
}

static void pad4(const float *x, const cw_nn_shape_t *xs, float *y, const cw_nn_shape_t *ys,
                 const cw_nn_node_t *node)
{
    size_t n = cw__nn_numel(ys);
    memset(y, 0, n * sizeof(float));
    int d[4] = {1, 1, 1, 1}, od[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0};
    int off = 4 - xs->rank;
    for (int i = 0; i < xs->rank; i++) {
        d[off + i] = xs->dims[i];
        od[off + i] = ys->dims[i];
        b[off + i] = node->p.pad.before[i];
    }
    for (int i0 = 0; i0 < d[0]; i0++) {
        for (int i1 = 0; i1 < d[1]; i1++) {
            for (int i2 = 0; i2 < d[2]; i2++) {
                const float *src = x + (((size_t)i0 * d[1] + i1) * d[2] + i2) * d[3];
                float *dst =
                    y +
                    ((((size_t)(i0 + b[0]) * od[1] + (i1 + b[1])) * od[2] + (i2 + b[2])) * od[3] +
                     b[3]);
                memcpy(dst, src, (size_t)d[3] * sizeof(float));
            }
        }
    }
}

static void strided_slice(const float *x, const cw_nn_shape_t *xs, float *y,
                          const cw_nn_node_t *node)
{
    int beg[4] = {0, 0, 0, 0}, st[4] = {1, 1, 1, 1}, len[4] = {1, 1, 1, 1}, d[4] = {1, 1, 1, 1};
    int off = 4 - xs->rank;
    for (int i = 0; i < xs->rank; i++) {
        // Shapes were checked at plan time, so slice_axis cannot fail here.
        (void)slice_axis(node, i, xs->dims[i], &beg[off + i], &len[off + i]);
        d[off + i] = xs->dims[i];
        st[off + i] = node->p.slice.stride[i];
    }
    size_t k = 0;
    for (int i0 = 0; i0 < len[0]; i0++) {
        for (int i1 = 0; i1 < len[1]; i1++) {
            for (int i2 = 0; i2 < len[2]; i2++) {
                for (int i3 = 0; i3 < len[3]; i3++) {
                    size_t a = beg[0] + (size_t)i0 * st[0];
                    a = a * d[1] + beg[1] + (size_t)i1 * st[1];
                    a = a * d[2] + beg[2] + (size_t)i2 * st[2];
                    a = a * d[3] + beg[3] + (size_t)i3 * st[3];
                    y[k++] = x[a];
                }
            }
        }
    }
}

// An NHWC tensor's values in NCHW order: what an ONNX Flatten or Reshape of a 4-D tensor reads.
static void nhwc_to_nchw(const float *restrict x, const cw_nn_shape_t *xs, float *restrict y)
{
    size_t N = (size_t)xs->dims[0], H = (size_t)xs->dims[1], W = (size_t)xs->dims[2];
    size_t C = (size_t)xs->dims[3];
    for (size_t n = 0; n < N; n++) {
        const float *xn = x + n * H * W * C;
        float *yn = y + n * C * H * W;
        for (size_t p = 0; p < H * W; p++) {
            for (size_t c = 0; c < C; c++) {
                yn[c * H * W + p] = xn[p * C + c];
            }
        }
    }
}

// ---- execution -------------------------------------------------------------------------------

int cw__nn_exec(cw_nn_ctx_t *ctx, const cw_nn_node_t *node)
{
    const cw_nn_shape_t *xs = &ctx->shapes[node->in[0]];
    const float *x = ctx->ptr[node->in[0]];
    const cw_nn_shape_t *ys = &ctx->shapes[node->out[0]];
    float *y = ctx->ptr[node->out[0]];
    size_t n = cw__nn_numel(ys);
    const float *w = node->n_in > 1 && node->in[1] >= 0 ? ctx->ptr[node->in[1]] : NULL;
    const cw_nn_shape_t *ws = node->n_in > 1 && node->in[1] >= 0 ? &ctx->shapes[node->in[1]] : NULL;
    const float *bias = node->n_in > 2 && node->in[2] >= 0 ? ctx->ptr[node->in[2]] : NULL;
    const float *alpha = node->act == CW_NN_ACT_PRELU ? ctx->ptr[node->in[3]] : NULL;
    size_t channels = (size_t)ys->dims[ys->rank - 1];

    switch (node->op) {
    case CW_NN_OP_CONV2D:
    case CW_NN_OP_DEPTHWISE_CONV2D: {
        int oh = 0, ow = 0, ph = 0, pw = 0; // window_out cannot fail here: the plan checked it
        int sh = node->p.conv.stride_h, sw = node->p.conv.stride_w;
        int dh = node->p.conv.dilation_h, dw = node->p.conv.dilation_w;
        window_out(xs->dims[1], ws->dims[1], sh, dh, node->p.conv.padding, node->p.conv.pad_top,
                   node->p.conv.pad_bottom, &oh, &ph);
        window_out(xs->dims[2], ws->dims[2], sw, dw, node->p.conv.padding, node->p.conv.pad_left,
                   node->p.conv.pad_right, &ow, &pw);
        int mult = node->p.conv.depth_multiplier > 0 ? node->p.conv.depth_multiplier : 1;
        if (!use_fast()) {
            if (node->op == CW_NN_OP_DEPTHWISE_CONV2D) {
                depthwise(x, xs, w, ws, bias, y, ys, mult, sh, sw, dh, dw, ph, pw);
            } else {
                conv_ref(x, xs, w, ws, bias, y, ys, sh, sw, dh, dw, ph, pw);
            }
            apply_act(y, n, channels, node->act, alpha);
        } else if (node->op == CW_NN_OP_CONV2D) {
            conv_gemm(x, xs, w, ws, bias, node->act, alpha, y, ys, sh, sw, dh, dw, ph, pw,
                      ctx->scratch);
        } else if (mult == 1) {
            if (bias == NULL) {
                memset(ctx->scratch, 0, channels * sizeof(float));
                bias = ctx->scratch;
            }
            cw__nn_dw_t d = {.x = x,
                             .n = xs->dims[0],
                             .h = xs->dims[1],
                             .w = xs->dims[2],
                             .c = xs->dims[3],
                             .wt = w,
                             .kh = ws->dims[1],
                             .kw = ws->dims[2],
                             .bias = bias,
                             .act = node->act,
                             .alpha = alpha,
                             .y = y,
                             .oh = oh,
                             .ow = ow,
                             .sh = sh,
                             .sw = sw,
                             .dh = dh,
                             .dw = dw,
                             .ph = ph,
                             .pw = pw};
            cw__nn_kernels()->depthwise(&d);
        } else {
            depthwise(x, xs, w, ws, bias, y, ys, mult, sh, sw, dh, dw, ph, pw);
            apply_act(y, n, channels, node->act, alpha);
        }
        return 0;
    }
    case CW_NN_OP_FULLY_CONNECTED: {
        int N = ws->dims[0], K = ws->dims[1];
        int rows = (int)(cw__nn_numel(xs) / (size_t)K);
        if (use_fast()) {
            if (rows == 1) {
                // One input row (the MTCNN heads): a matrix-vector product, which OpenBLAS does
                // several times faster through gemv than through a 1-row gemm.
                cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1, 0.0f, y, 1);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0f, x, K, w, K,
                            0.0f, y, N);
            }
            cw__nn_kernels()->epilogue(y, (size_t)rows, (size_t)N, bias, node->act, alpha);
            return 0;
        }
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < N; j++) {
                float acc = 0.0f;
                for (int k = 0; k < K; k++) {
                    acc += x[(size_t)r * K + k] * w[(size_t)j * K + k];
                }
                y[(size_t)r * N + j] = (bias != NULL ? bias[j] : 0.0f) + acc;
            }
        }
        apply_act(y, n, channels, node->act, alpha);
        return 0;
    }
    case CW_NN_OP_MAX_POOL2D:
    case CW_NN_OP_AVG_POOL2D: {
        int oh = 0, ow = 0, ph = 0, pw = 0; // window_out cannot fail here: the plan checked it
        window_out(xs->dims[1], node->p.pool.filter_h, node->p.pool.stride_h, 1,
                   node->p.pool.padding, 0, 0, &oh, &ph);
        window_out(xs->dims[2], node->p.pool.filter_w, node->p.pool.stride_w, 1,
                   node->p.pool.padding, 0, 0, &ow, &pw);
        pool(x, xs, y, ys, node, node->op == CW_NN_OP_MAX_POOL2D, ph, pw);
        apply_act(y, n, channels, node->act, alpha);
        return 0;
    }
    case CW_NN_OP_ADD:
    case CW_NN_OP_SUB:
    case CW_NN_OP_MUL:
    case CW_NN_OP_DIV:
    case CW_NN_OP_MAXIMUM:
    case CW_NN_OP_MINIMUM:
    case CW_NN_OP_GREATER_EQUAL:
    case CW_NN_OP_LESS:
    case CW_NN_OP_PRELU:
        binary(node->op, x, xs, w, ws, y, ys);
        apply_act(y, n, channels, node->act, alpha);
        return 0;
    case CW_NN_OP_RELU:
    case CW_NN_OP_RELU6:
    case CW_NN_OP_LEAKY_RELU:
    case CW_NN_OP_ABS:
    case CW_NN_OP_NEG:
    case CW_NN_OP_EXP:
    case CW_NN_OP_LOGISTIC:
    case CW_NN_OP_TANH:
    case CW_NN_OP_SQRT:
    case CW_NN_OP_RSQRT:
    case CW_NN_OP_CAST:
        unary(node, x, y, n);
        return 0;
    case CW_NN_OP_RESHAPE:
        if (node->p.reshape.from_nchw && xs->rank == 4) {
            nhwc_to_nchw(x, xs, y);
            return 0;
        }
        if (y != x) {
            memcpy(y, x, n * sizeof(float));
        }
        return 0;
    case CW_NN_OP_IDENTITY:
        if (y != x) {
            memcpy(y, x, n * sizeof(float));
        }
        return 0;
    case CW_NN_OP_REDUCE_MAX:
    case CW_NN_OP_REDUCE_SUM:
    case CW_NN_OP_REDUCE_MEAN:
        reduce(node->op, x, xs, node->p.reduce.axes, y);
        return 0;
    case CW_NN_OP_SOFTMAX:
    case CW_NN_OP_L2_NORM: {
        size_t last = (size_t)ys->dims[ys->rank - 1];
        for (size_t r = 0; r < n; r += last) {
            const float *xr = x + r;
            float *yr = y + r;
            if (node->op == CW_NN_OP_SOFTMAX) {
                float mx = -FLT_MAX;
                for (size_t i = 0; i < last; i++) {
                    mx = xr[i] > mx ? xr[i] : mx;
                }
                float sum = 0.0f;
                for (size_t i = 0; i < last; i++) {
                    yr[i] = expf((xr[i] - mx) * node->p.softmax.beta);
                    sum += yr[i];
                }
                for (size_t i = 0; i < last; i++) {
                    yr[i] /= sum;
                }
            } else {
                double ss = 0.0;
                for (size_t i = 0; i < last; i++) {
                    ss += (double)xr[i] * xr[i];
                }
                float inv = ss > 1e-12 ? (float)(1.0 / sqrt(ss)) : 0.0f;
                for (size_t i = 0; i < last; i++) {
                    yr[i] = xr[i] * inv;
                }
            }
        }
        return 0;
    }
    case CW_NN_OP_CONCAT:
        concat(ctx, node, y, ys);
        apply_act(y, n, channels, node->act, alpha);
        return 0;
    case CW_NN_OP_PAD:
        pad4(x, xs, y, ys, node);
        return 0;
    case CW_NN_OP_STRIDED_SLICE:
        strided_slice(x, xs, y, node);
        return 0;
    default:
        return CW_EUNSUPPORTED;
    }
}
