// SPDX-License-Identifier: Apache-2.0
// Tests of the ONNX loader. A small protobuf writer below encodes models described in C, so the
// IR the loader builds (layouts, folded parameters, fused PReLU) is checked without model files,
// and every model is also run and compared with a plain NCHW evaluator of the same description
// written here, independent of the loader: that is what proves the NCHW -> NHWC conversion.
// The models are then corrupted byte by byte and truncated at every length (whatever loads must
// also plan and run), loaded with each allocation failing in turn, and written with the other
// legal encodings (packed or not, raw or typed data). With the set-up's faceplugin models, the
// real fr_feature.onnx is loaded, checked and run fused and unfused. Run with --write-corpus DIR
// to (re)write the fuzz corpus of tests/fuzz/onnx from the writer.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/nn.h"

#include "../../../src/nn/nn_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CW_TEST_DEPS_DIR
#define CW_TEST_DEPS_DIR ".deps"
#endif

static char diag[256];

// ---- a tiny protobuf writer ------------------------------------------------------------------

typedef struct buf {
    uint8_t *b;
    size_t len, cap;
} buf_t;

static void put(buf_t *o, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void put_varint(buf_t *o, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        b |= v != 0 ? 0x80 : 0;
        put(o, &b, 1);
    } while (v != 0);
}

enum { VARINT = 0, LEN = 2, I32 = 5 };

static void put_tag(buf_t *o, uint32_t field, unsigned wire)
{
    put_varint(o, (uint64_t)field << 3 | wire);
}

static void put_int(buf_t *o, uint32_t field, int64_t v)
{
    put_tag(o, field, VARINT);
    put_varint(o, (uint64_t)v);
}

static void put_len(buf_t *o, uint32_t field, const void *p, size_t n)
{
    put_tag(o, field, LEN);
    put_varint(o, n);
    put(o, p, n);
}

static void put_str(buf_t *o, uint32_t field, const char *s)
{
    put_len(o, field, s, strlen(s));
}

static void put_msg(buf_t *o, uint32_t field, buf_t *sub)
{
    put_len(o, field, sub->b, sub->len);
    free(sub->b);
    memset(sub, 0, sizeof(*sub));
}

static void put_f32(buf_t *o, uint32_t field, float f)
{
    put_tag(o, field, I32);
    put(o, &f, 4); // little-endian hosts only, which is all the project builds for
}

// Repeated int64: packed into one field, or one field per value (both legal protobuf).
static void put_ints(buf_t *o, uint32_t field, const int64_t *v, int n, bool packed)
{
    if (!packed) {
        for (int i = 0; i < n; i++) {
            put_int(o, field, v[i]);
        }
        return;
    }
    buf_t p = {0};
    for (int i = 0; i < n; i++) {
        put_varint(&p, (uint64_t)v[i]);
    }
    put_len(o, field, p.b, p.len);
    free(p.b);
}

// ---- model descriptions ----------------------------------------------------------------------

enum { FLOAT = 1, INT32 = 6, INT64 = 7 };
enum { RAW = 0, PACKED = 1, UNPACKED = 2 }; // how an initializer's values are written

typedef struct ti {
    const char *name;
    int rank;
    int64_t dims[6];
    int dtype;
    const float *f;   // FLOAT values
    const int64_t *i; // INT64 values
    int how;
    int nvals; // values written, when not the shape's count
    bool external;
} ti_t;

typedef struct ta {
    const char *name;
    char kind; // 'i' int, 'f' float, 'v' ints, 's' string, 't' type field only
    int64_t i;
    float f;
    int64_t v[8];
    int n;
    const char *s;
} ta_t;

typedef struct tn {
    const char *op;
    const char *domain;
    const char *in[6];
    int nin;
    const char *out;
    int nattr;
    ta_t attr[8];
} tn_t;

typedef struct tio {
    const char *name;
    int rank;
    int64_t dims[6];
    int elem;      // 0 means FLOAT
    bool no_shape; // leave the shape out
    int param_dim; // 1 + index of a dimension written as dim_param
} tio_t;

typedef struct omodel {
    int64_t ir, opset; // 0 means 7 and 9
    bool ir3_inputs;   // also list every initializer as a graph input (IR version 3 style)
    bool packed;       // packed dims and ints
    int nin, nout, ninit, nnode;
    tio_t in[4], out[4];
    ti_t init[24];
    tn_t node[24];
} omodel_t;

static void tensor_proto(buf_t *t, const ti_t *in, bool packed)
{
    put_ints(t, 1, in->dims, in->rank, packed);
    put_int(t, 2, in->dtype);
    put_str(t, 8, in->name);
    int64_t n = 1;
    for (int k = 0; k < in->rank; k++) {
        n *= in->dims[k];
    }
    n = in->nvals != 0 ? in->nvals : n;
    if (in->external) {
        put_int(t, 14, 1); // data_location EXTERNAL
        return;
    }
    size_t size = in->dtype == INT64 ? 8 : 4;
    const void *data = in->dtype == INT64 ? (const void *)in->i : (const void *)in->f;
    if (data == NULL) {
        return;
    }
    if (in->how == RAW) {
        put_len(t, 9, data, (size_t)n * size);
    } else if (in->dtype == INT64) {
        put_ints(t, 7, in->i, (int)n, in->how == PACKED);
    } else if (in->how == PACKED) {
        put_len(t, in->dtype == FLOAT ? 4 : 5, data, (size_t)n * size);
    } else {
        for (int64_t e = 0; e < n; e++) {
            put_f32(t, 4, in->f[e]);
        }
    }
}

static void value_info(buf_t *g, uint32_t field, const tio_t *io)
{
    buf_t vi = {0}, type = {0}, tt = {0}, shape = {0};
    put_int(&tt, 1, io->elem != 0 ? io->elem : FLOAT);
    if (!io->no_shape) {
        for (int k = 0; k < io->rank; k++) {
            buf_t d = {0};
            if (io->param_dim == k + 1) {
                put_str(&d, 2, "batch");
            } else {
                put_int(&d, 1, io->dims[k]);
            }
            put_msg(&shape, 1, &d);
        }
        put_msg(&tt, 2, &shape);
    }
    put_msg(&type, 1, &tt);
    put_str(&vi, 1, io->name);
    put_msg(&vi, 2, &type);
    put_msg(g, field, &vi);
}

static void attribute(buf_t *n, const ta_t *a, bool packed)
{
    buf_t at = {0};
    put_str(&at, 1, a->name);
    switch (a->kind) {
    case 'i':
        put_int(&at, 3, a->i);
        put_int(&at, 20, 2);
        break;
    case 'f':
        put_f32(&at, 2, a->f);
        put_int(&at, 20, 1);
        break;
    case 'v':
        put_ints(&at, 8, a->v, a->n, packed);
        put_int(&at, 20, 7);
        break;
    case 's':
        put_str(&at, 4, a->s);
        put_int(&at, 20, 3);
        break;
    default: // 'F': floats, to check that they are read and refused as unknown
        for (int i = 0; i < a->n; i++) {
            put_f32(&at, 7, (float)a->v[i]);
        }
        put_int(&at, 20, 6);
        break;
    }
    put_msg(n, 5, &at);
}

static uint8_t *build(const omodel_t *d, size_t *len)
{
    buf_t g = {0};
    for (int k = 0; k < d->nnode; k++) {
        const tn_t *nd = &d->node[k];
        buf_t n = {0};
        for (int i = 0; i < nd->nin; i++) {
            put_str(&n, 1, nd->in[i]);
        }
        put_str(&n, 2, nd->out);
        put_str(&n, 3, nd->out); // a node name, which the loader ignores
        put_str(&n, 4, nd->op);
        if (nd->domain != NULL) {
            put_str(&n, 7, nd->domain);
        }
        for (int i = 0; i < nd->nattr; i++) {
            attribute(&n, &nd->attr[i], d->packed);
        }
        put_msg(&g, 1, &n);
    }
    put_str(&g, 2, "test");
    for (int i = 0; i < d->ninit; i++) {
        buf_t t = {0};
        tensor_proto(&t, &d->init[i], d->packed);
        put_msg(&g, 5, &t);
    }
    for (int i = 0; i < d->nin; i++) {
        value_info(&g, 11, &d->in[i]);
    }
    for (int i = 0; d->ir3_inputs && i < d->ninit; i++) {
        tio_t io = {.name = d->init[i].name, .rank = d->init[i].rank, .elem = d->init[i].dtype};
        memcpy(io.dims, d->init[i].dims, sizeof(io.dims));
        value_info(&g, 11, &io);
    }
    for (int i = 0; i < d->nout; i++) {
        value_info(&g, 12, &d->out[i]);
    }
    buf_t m = {0}, op = {0};
    put_int(&m, 1, d->ir != 0 ? d->ir : 7);
    put_str(&m, 2, "clearway-test");
    put_str(&op, 1, "");
    put_int(&op, 2, d->opset != 0 ? d->opset : 9);
    put_msg(&m, 8, &op);
    put_msg(&m, 7, &g);
    *len = m.len;
    return m.b;
}

// Deterministic values in [-1, 1) (xorshift32).
static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.0f;
    }
}

// Weights live in static arrays, so a description stays valid after its constructor returns.
static float w_stem[4 * 3 * 3 * 3], b_stem[4], slope[4], w_dw[8 * 1 * 3 * 3], b_dw[8];
static float w_pw[8 * 8], b_pw[8], w_fc[5 * 120], b_fc[5], c_add[8], w_fc2[8 * 6];
static const int64_t shape_keep[3] = {0, 4, -1};

static ti_t fl(const char *name, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
               const float *v)
{
    ti_t t = {.name = name, .rank = rank, .dims = {d0, d1, d2, d3}, .dtype = FLOAT, .f = v};
    return t;
}

static ta_t ints(const char *name, int n, int64_t a, int64_t b, int64_t c, int64_t e)
{
    ta_t t = {.name = name, .kind = 'v', .n = n, .v = {a, b, c, e}};
    return t;
}

static ta_t int1(const char *name, int64_t v)
{
    ta_t t = {.name = name, .kind = 'i', .i = v};
    return t;
}

// The shape of fr_feature on a small scale: a dense 3x3 stride-2 conv with PReLU [C,1,1], a
// depthwise conv with multiplier 2, a 1x1 conv, a residual Add, then Flatten of a 4-D map (so
// the NCHW order matters) into a Gemm.
static omodel_t model_conv(void)
{
    fill(w_stem, sizeof(w_stem) / 4, 1);
    fill(b_stem, 4, 2);
    fill(slope, 4, 3);
    fill(w_dw, sizeof(w_dw) / 4, 4);
    fill(b_dw, 8, 5);
    fill(w_pw, sizeof(w_pw) / 4, 6);
    fill(b_pw, 8, 7);
    fill(w_fc, sizeof(w_fc) / 4, 8);
    fill(b_fc, 5, 9);
    omodel_t d = {
        .nin = 1,
        .in = {{.name = "input", .rank = 4, .dims = {1, 3, 9, 7}}},
        .nout = 1,
        .out = {{.name = "output", .rank = 2, .dims = {1, 5}}},
        .ninit = 9,
        .init =
            {
                fl("w_stem", 4, 4, 3, 3, 3, w_stem),
                fl("b_stem", 1, 4, 0, 0, 0, b_stem),
                fl("slope", 3, 4, 1, 1, 0, slope),
                fl("w_dw", 4, 8, 1, 3, 3, w_dw),
                fl("b_dw", 1, 8, 0, 0, 0, b_dw),
                fl("w_pw", 4, 8, 8, 1, 1, w_pw),
                fl("b_pw", 1, 8, 0, 0, 0, b_pw),
                fl("w_fc", 2, 5, 120, 0, 0, w_fc),
                fl("b_fc", 1, 5, 0, 0, 0, b_fc),
            },
        .nnode = 7,
        .node =
            {
                {"Conv",
                 NULL,
                 {"input", "w_stem", "b_stem"},
                 3,
                 "c1",
                 5,
                 {ints("kernel_shape", 2, 3, 3, 0, 0), ints("strides", 2, 2, 2, 0, 0),
                  ints("pads", 4, 1, 0, 1, 1), ints("dilations", 2, 1, 1, 0, 0), int1("group", 1)}},
                {"PRelu", NULL, {"c1", "slope"}, 2, "p1", 0, {{0}}},
                {"Conv",
                 NULL,
                 {"p1", "w_dw", "b_dw"},
                 3,
                 "c2",
                 3,
                 {ints("pads", 4, 1, 1, 1, 1), int1("group", 4), ints("strides", 2, 1, 1, 0, 0)}},
                {"Conv", NULL, {"c2", "w_pw", "b_pw"}, 3, "c3", 0, {{0}}},
                {"Add", NULL, {"c2", "c3"}, 2, "sum", 0, {{0}}},
                {"Flatten", NULL, {"sum"}, 1, "flat", 1, {int1("axis", 1)}},
                {"Gemm", NULL, {"flat", "w_fc", "b_fc"}, 3, "output", 1, {int1("transB", 1)}},
            },
    };
    return d;
}

// The other supported operators: element-wise ones with constants broadcast against 4-D maps,
// Concat along channels, GlobalAveragePool, Reshape with 0 and -1, Gemm without transB,
// SAME_UPPER padding, a dilated conv, and Identity.
static omodel_t model_ops(void)
{
    fill(c_add, 8, 10);
    fill(w_stem, sizeof(w_stem) / 4, 11);
    fill(w_dw, 4 * 9, 12);
    fill(w_fc2, sizeof(w_fc2) / 4, 13);
    fill(b_fc, 5, 14);
    omodel_t d = {
        .nin = 2,
        .in = {{.name = "x", .rank = 4, .dims = {1, 3, 6, 5}},
               {.name = "s", .rank = 1, .dims = {1}}},
        .nout = 2,
        .out = {{.name = "y", .rank = 2, .dims = {1, 6}},
                {.name = "z", .rank = 3, .dims = {1, 4, 9}}},
        .ninit = 7,
        .init =
            {
                fl("w", 4, 4, 3, 3, 3, w_stem),
                fl("c", 3, 4, 1, 1, 0, c_add),
                fl("cfull", 4, 1, 4, 3, 3, w_dw),
                fl("wd", 4, 4, 1, 3, 3, w_dw),
                fl("b2", 2, 8, 6, 0, 0, w_fc2),
                {.name = "shp", .rank = 1, .dims = {3}, .dtype = INT64, .i = shape_keep},
                fl("scal", 0, 0, 0, 0, 0, b_fc),
            },
        .nnode = 19,
        .node =
            {
                {"Conv",
                 NULL,
                 {"x", "w"},
                 2,
                 "a",
                 2,
                 {{.name = "auto_pad", .kind = 's', .s = "SAME_UPPER"},
                  ints("strides", 2, 2, 2, 0, 0)}},
                {"Sub", NULL, {"a", "c"}, 2, "b", 0, {{0}}},
                {"Mul", NULL, {"c", "b"}, 2, "b1", 0, {{0}}},
                {"Div", NULL, {"b1", "s"}, 2, "b2x", 0, {{0}}},
                {"LeakyRelu",
                 NULL,
                 {"b2x"},
                 1,
                 "l",
                 1,
                 {{.name = "alpha", .kind = 'f', .f = 0.2f}}},
                {"Tanh", NULL, {"l"}, 1, "t", 0, {{0}}},
                {"Sigmoid", NULL, {"b2x"}, 1, "sg", 0, {{0}}},
                {"Concat", NULL, {"t", "sg"}, 2, "cat", 1, {int1("axis", 1)}},
                {"Conv",
                 NULL,
                 {"x", "w"},
                 2,
                 "dil",
                 3,
                 {ints("dilations", 2, 2, 1, 0, 0), ints("pads", 4, 2, 1, 1, 1),
                  ints("strides", 2, 2, 2, 0, 0)}},
                {"Abs", NULL, {"dil"}, 1, "ab", 0, {{0}}},
                {"Sqrt", NULL, {"ab"}, 1, "sq", 0, {{0}}},
                {"Neg", NULL, {"sq"}, 1, "ng", 0, {{0}}},
                {"Exp", NULL, {"ng"}, 1, "ex", 0, {{0}}},
                {"Add", NULL, {"cfull", "ex"}, 2, "ad", 0, {{0}}},
                {"Relu", NULL, {"ad"}, 1, "r", 0, {{0}}},
                {"Reshape", NULL, {"r", "shp"}, 2, "z", 0, {{0}}},
                {"GlobalAveragePool", NULL, {"cat"}, 1, "gap", 0, {{0}}},
                {"Flatten", NULL, {"gap"}, 1, "gf", 0, {{0}}},
                {"Gemm", NULL, {"gf", "b2"}, 2, "y0", 0, {{0}}},
            },
    };
    // y = Identity(y0) keeps the graph output the last node's.
    d.node[d.nnode++] = (tn_t){"Identity", NULL, {"y0"}, 1, "y", 0, {{0}}};
    return d;
}

// The smallest model: y = Relu(x).
static omodel_t model_relu(void)
{
    omodel_t d = {
        .nin = 1,
        .in = {{.name = "x", .rank = 2, .dims = {1, 4}}},
        .nout = 1,
        .out = {{.name = "y", .rank = 2, .dims = {1, 4}}},
        .nnode = 1,
        .node = {{"Relu", NULL, {"x"}, 1, "y", 0, {{0}}}},
    };
    return d;
}

// ---- a plain NCHW evaluator of a description -------------------------------------------------

typedef struct val {
    const char *name;
    int rank;
    int64_t d[4];
    float *v;
} val_t;

typedef struct ev {
    val_t v[64];
    int n;
} ev_t;

static int64_t count(const val_t *a)
{
    int64_t n = 1;
    for (int k = 0; k < a->rank; k++) {
        n *= a->d[k];
    }
    return n;
}

static val_t *ev_get(ev_t *e, const char *name)
{
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->v[i].name, name) == 0) {
            return &e->v[i];
        }
    }
    fail_msg("evaluator: no value %s", name);
    return NULL;
}

static val_t *ev_new(ev_t *e, const char *name, int rank, const int64_t *d)
{
    assert_true(e->n < 64);
    val_t *v = &e->v[e->n++];
    v->name = name;
    v->rank = rank;
    memcpy(v->d, d, sizeof(v->d[0]) * (size_t)rank);
    v->v = calloc((size_t)count(v) + 1, sizeof(float));
    assert_non_null(v->v);
    return v;
}

static const ta_t *ev_attr(const tn_t *nd, const char *name)
{
    for (int i = 0; i < nd->nattr; i++) {
        if (nd->attr[i].name != NULL && strcmp(nd->attr[i].name, name) == 0) {
            return &nd->attr[i];
        }
    }
    return NULL;
}

static void ev_conv(ev_t *e, const tn_t *nd)
{
    const val_t *x = ev_get(e, nd->in[0]), *w = ev_get(e, nd->in[1]);
    const val_t *b = nd->nin > 2 ? ev_get(e, nd->in[2]) : NULL;
    const ta_t *a;
    int64_t g = (a = ev_attr(nd, "group")) ? a->i : 1;
    int64_t s[2] = {1, 1}, dl[2] = {1, 1}, p[4] = {0, 0, 0, 0};
    if ((a = ev_attr(nd, "strides")) != NULL) {
        s[0] = a->v[0], s[1] = a->v[1];
    }
    if ((a = ev_attr(nd, "dilations")) != NULL) {
        dl[0] = a->v[0], dl[1] = a->v[1];
    }
    if ((a = ev_attr(nd, "pads")) != NULL) {
        memcpy(p, a->v, sizeof(p));
    }
    int64_t N = x->d[0], C = x->d[1], H = x->d[2], W = x->d[3];
    int64_t O = w->d[0], CG = w->d[1], KH = w->d[2], KW = w->d[3];
    int64_t ekh = (KH - 1) * dl[0] + 1, ekw = (KW - 1) * dl[1] + 1;
    if ((a = ev_attr(nd, "auto_pad")) != NULL && strcmp(a->s, "SAME_UPPER") == 0) {
        int64_t oh = (H + s[0] - 1) / s[0], ow = (W + s[1] - 1) / s[1];
        int64_t th = (oh - 1) * s[0] + ekh - H, tw = (ow - 1) * s[1] + ekw - W;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        p[0] = th / 2, p[2] = th - th / 2, p[1] = tw / 2, p[3] = tw - tw / 2;
    }
    int64_t OH = (H + p[0] + p[2] - ekh) / s[0] + 1, OW = (W + p[1] + p[3] - ekw) / s[1] + 1;
    int64_t od[4] = {N, O, OH, OW};
    val_t *y = ev_new(e, nd->out, 4, od);
    int64_t opg = O / g;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t o = 0; o < O; o++) {
            int64_t grp = o / opg;
            for (int64_t oy = 0; oy < OH; oy++) {
                for (int64_t ox = 0; ox < OW; ox++) {
                    double acc = b != NULL ? b->v[o] : 0.0;
                    for (int64_t ci = 0; ci < CG; ci++) {
                        int64_t c = grp * CG + ci;
                        for (int64_t ky = 0; ky < KH; ky++) {
                            for (int64_t kx = 0; kx < KW; kx++) {
                                int64_t iy = oy * s[0] - p[0] + ky * dl[0];
                                int64_t ix = ox * s[1] - p[1] + kx * dl[1];
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                                    continue;
                                }
                                acc += (double)x->v[((n * C + c) * H + iy) * W + ix] *
                                       w->v[((o * CG + ci) * KH + ky) * KW + kx];
                            }
                        }
                    }
                    y->v[((n * O + o) * OH + oy) * OW + ox] = (float)acc;
                }
            }
        }
    }
}

static float ev_binop(const char *op, float a, float b)
{
    if (strcmp(op, "Add") == 0) {
        return a + b;
    }
    if (strcmp(op, "Sub") == 0) {
        return a - b;
    }
    if (strcmp(op, "Mul") == 0) {
        return a * b;
    }
    if (strcmp(op, "Div") == 0) {
        return a / b;
    }
    return a < 0 ? a * b : a; // PRelu
}

// numpy broadcasting, right-aligned over 4 axes.
static void ev_binary(ev_t *e, const tn_t *nd)
{
    const val_t *a = ev_get(e, nd->in[0]), *b = ev_get(e, nd->in[1]);
    int r = a->rank > b->rank ? a->rank : b->rank;
    int64_t da[4] = {1, 1, 1, 1}, db[4] = {1, 1, 1, 1}, dy[4];
    for (int k = 0; k < a->rank; k++) {
        da[4 - a->rank + k] = a->d[k];
    }
    for (int k = 0; k < b->rank; k++) {
        db[4 - b->rank + k] = b->d[k];
    }
    for (int k = 0; k < 4; k++) {
        dy[k] = da[k] > db[k] ? da[k] : db[k];
    }
    val_t *y = ev_new(e, nd->out, r, dy + 4 - r);
    int64_t k = 0;
    for (int64_t i0 = 0; i0 < dy[0]; i0++) {
        for (int64_t i1 = 0; i1 < dy[1]; i1++) {
            for (int64_t i2 = 0; i2 < dy[2]; i2++) {
                for (int64_t i3 = 0; i3 < dy[3]; i3++) {
                    int64_t ia = (((da[0] > 1 ? i0 : 0) * da[1] + (da[1] > 1 ? i1 : 0)) * da[2] +
                                  (da[2] > 1 ? i2 : 0)) *
                                     da[3] +
                                 (da[3] > 1 ? i3 : 0);
                    int64_t ib = (((db[0] > 1 ? i0 : 0) * db[1] + (db[1] > 1 ? i1 : 0)) * db[2] +
                                  (db[2] > 1 ? i2 : 0)) *
                                     db[3] +
                                 (db[3] > 1 ? i3 : 0);
                    y->v[k++] = ev_binop(nd->op, a->v[ia], b->v[ib]);
                }
            }
        }
    }
}

static void ev_unary(ev_t *e, const tn_t *nd)
{
    const val_t *x = ev_get(e, nd->in[0]);
    val_t *y = ev_new(e, nd->out, x->rank, x->d);
    const ta_t *a = ev_attr(nd, "alpha");
    float alpha = a != NULL ? a->f : 0.01f;
    for (int64_t i = 0; i < count(x); i++) {
        float v = x->v[i];
        const char *op = nd->op;
        y->v[i] = strcmp(op, "Relu") == 0        ? (v > 0 ? v : 0)
                  : strcmp(op, "LeakyRelu") == 0 ? (v < 0 ? v * alpha : v)
                  : strcmp(op, "Sigmoid") == 0   ? 1.0f / (1.0f + expf(-v))
                  : strcmp(op, "Tanh") == 0      ? tanhf(v)
                  : strcmp(op, "Exp") == 0       ? expf(v)
                  : strcmp(op, "Abs") == 0       ? fabsf(v)
                  : strcmp(op, "Neg") == 0       ? -v
                  : strcmp(op, "Sqrt") == 0      ? sqrtf(v)
                                                 : v; // Identity
    }
}

static void ev_run(const omodel_t *d, ev_t *e, const float *const *inputs)
{
    memset(e, 0, sizeof(*e));
    for (int i = 0; i < d->ninit; i++) {
        const ti_t *t = &d->init[i];
        val_t *v = ev_new(e, t->name, t->rank, t->dims);
        for (int64_t k = 0; k < count(v); k++) {
            v->v[k] = t->dtype == INT64 ? (float)t->i[k] : t->f[k];
        }
    }
    for (int i = 0; i < d->nin; i++) {
        val_t *v = ev_new(e, d->in[i].name, d->in[i].rank, d->in[i].dims);
        memcpy(v->v, inputs[i], (size_t)count(v) * sizeof(float));
    }
    for (int k = 0; k < d->nnode; k++) {
        const tn_t *nd = &d->node[k];
        const char *op = nd->op;
        if (strcmp(op, "Conv") == 0) {
            ev_conv(e, nd);
        } else if (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 ||
                   strcmp(op, "Div") == 0 || strcmp(op, "PRelu") == 0) {
            ev_binary(e, nd);
        } else if (strcmp(op, "Flatten") == 0 || strcmp(op, "Reshape") == 0) {
            const val_t *x = ev_get(e, nd->in[0]);
            int64_t axis = ev_attr(nd, "axis") != NULL ? ev_attr(nd, "axis")->i : 1;
            int64_t dims[4] = {1, 1, 1, 1};
            int rank = 2;
            if (op[0] == 'F') {
                for (int j = 0; j < x->rank; j++) {
                    dims[j < axis ? 0 : 1] *= x->d[j];
                }
            } else {
                const val_t *s = ev_get(e, nd->in[1]);
                rank = (int)count(s);
                int64_t known = 1, open = -1;
                for (int j = 0; j < rank; j++) {
                    dims[j] = s->v[j] == 0 ? x->d[j] : (int64_t)s->v[j];
                    if (dims[j] == -1) {
                        open = j;
                    } else {
                        known *= dims[j];
                    }
                }
                if (open >= 0) {
                    dims[open] = count(x) / known;
                }
            }
            val_t *y = ev_new(e, nd->out, rank, dims);
            memcpy(y->v, x->v, (size_t)count(x) * sizeof(float));
        } else if (strcmp(op, "Concat") == 0) { // axis 1 of 4-D maps
            const val_t *a = ev_get(e, nd->in[0]), *b = ev_get(e, nd->in[1]);
            int64_t dims[4] = {a->d[0], a->d[1] + b->d[1], a->d[2], a->d[3]};
            val_t *y = ev_new(e, nd->out, 4, dims);
            int64_t hw = a->d[2] * a->d[3];
            for (int64_t n = 0; n < a->d[0]; n++) {
                memcpy(y->v + n * dims[1] * hw, a->v + n * a->d[1] * hw,
                       (size_t)(a->d[1] * hw) * sizeof(float));
                memcpy(y->v + (n * dims[1] + a->d[1]) * hw, b->v + n * b->d[1] * hw,
                       (size_t)(b->d[1] * hw) * sizeof(float));
            }
        } else if (strcmp(op, "GlobalAveragePool") == 0) {
            const val_t *x = ev_get(e, nd->in[0]);
            int64_t dims[4] = {x->d[0], x->d[1], 1, 1};
            val_t *y = ev_new(e, nd->out, 4, dims);
            int64_t hw = x->d[2] * x->d[3];
            for (int64_t i = 0; i < x->d[0] * x->d[1]; i++) {
                double s = 0;
                for (int64_t j = 0; j < hw; j++) {
                    s += x->v[i * hw + j];
                }
                y->v[i] = (float)(s / (double)hw);
            }
        } else if (strcmp(op, "Gemm") == 0) {
            const val_t *a = ev_get(e, nd->in[0]), *b = ev_get(e, nd->in[1]);
            const val_t *c = nd->nin > 2 ? ev_get(e, nd->in[2]) : NULL;
            bool tb = ev_attr(nd, "transB") != NULL && ev_attr(nd, "transB")->i != 0;
            int64_t M = a->d[0], K = a->d[1], N = tb ? b->d[0] : b->d[1];
            int64_t dims[2] = {M, N};
            val_t *y = ev_new(e, nd->out, 2, dims);
            for (int64_t m = 0; m < M; m++) {
                for (int64_t n = 0; n < N; n++) {
                    double s = c != NULL ? c->v[n] : 0.0;
                    for (int64_t k2 = 0; k2 < K; k2++) {
                        s += (double)a->v[m * K + k2] * b->v[tb ? n * K + k2 : k2 * N + n];
                    }
                    y->v[m * N + n] = (float)s;
                }
            }
        } else {
            ev_unary(e, nd);
        }
    }
}

static void ev_free(ev_t *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->v[i].v);
    }
}

// ---- checks ----------------------------------------------------------------------------------

// The invariants the planner relies on (the fuzz target checks the same).
static void check_ir(const cw_nn_model_t *m)
{
    assert_true(m->n_tensors >= 1 && m->n_inputs >= 1 && m->n_outputs >= 1);
    for (int i = 0; i < m->n_tensors; i++) {
        const cw_nn_tensor_t *t = &m->tensors[i];
        assert_true(t->shape.rank >= 0 && t->shape.rank <= CW_NN_MAX_RANK);
        assert_true((t->is_const != 0) == (t->data != NULL));
        assert_non_null(memchr(t->name, '\0', sizeof(t->name)));
    }
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        assert_true(nd->n_in >= 1 && nd->n_in <= CW_NN_MAX_NODE_INPUTS && nd->n_out == 1);
        for (int i = 0; i < nd->n_in; i++) {
            assert_true(nd->in[i] >= -1 && nd->in[i] < m->n_tensors);
        }
        assert_true(nd->out[0] >= 0 && nd->out[0] < m->n_tensors);
        assert_false(m->tensors[nd->out[0]].is_const);
    }
}

// Plan at the declared shapes and run on zeros: whatever loads must run, since the loader infers
// those shapes with the planner's rules (unless a corrupted dimension made it too big to bother).
static void plan_and_run(const cw_nn_model_t *m)
{
    size_t elems = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const cw_nn_shape_t *s = &m->tensors[i].shape;
        size_t n = 1;
        for (int k = 0; k < s->rank; k++) {
            n *= (size_t)s->dims[k];
        }
        elems += m->tensors[i].is_const ? 0 : n;
    }
    if (elems > (1u << 20)) {
        return;
    }
    cw_nn_ctx_t *ctx = NULL;
    int rc = cw_nn_ctx_create(m, NULL, &ctx, diag, sizeof(diag));
    if (rc != 0) {
        fail_msg("a loaded model does not plan: %s: %s", cw_err_name(rc), diag);
    }
    assert_int_equal(cw_nn_ctx_run(ctx), 0);
    cw_nn_ctx_destroy(ctx);
}

static cw_nn_model_t *load_ok(const omodel_t *d)
{
    size_t len;
    uint8_t *buf = build(d, &len);
    cw_nn_model_t *m = NULL;
    int rc = cw_nn_model_load_mem(buf, len, &m, diag, sizeof(diag));
    free(buf);
    if (rc != 0) {
        fail_msg("load: %s: %s", cw_err_name(rc), diag);
    }
    check_ir(m);
    return m;
}

static int load_rc(const omodel_t *d)
{
    size_t len;
    uint8_t *buf = build(d, &len);
    cw_nn_model_t *m = NULL;
    diag[0] = '\0';
    int rc = cw_nn_model_load_mem(buf, len, &m, diag, sizeof(diag));
    free(buf);
    if (rc == 0) {
        cw_nn_model_destroy(m);
    } else {
        assert_null(m);
    }
    return rc;
}

static void expect(const omodel_t *d, int err, const char *words)
{
    int rc = load_rc(d);
    if (rc != err || strstr(diag, words) == NULL) {
        fail_msg("expected %s with \"%s\", got %s: %s", cw_err_name(err), words, cw_err_name(rc),
                 diag);
    }
}

// Runs the model file built from d in the runtime and the description ref in the evaluator, on
// the same inputs (NHWC for the runtime, NCHW for the evaluator), and returns the largest error
// relative to the output's largest value.
static double compare_runs(const omodel_t *d, const omodel_t *ref, uint32_t seed)
{
    cw_nn_model_t *m = load_ok(d);
    cw_nn_ctx_t *ctx = NULL;
    assert_int_equal(cw_nn_ctx_create(m, NULL, &ctx, diag, sizeof(diag)), 0);
    float *nchw[4] = {0};
    for (int i = 0; i < d->nin; i++) {
        const tio_t *io = &d->in[i];
        int64_t n = 1;
        for (int k = 0; k < io->rank; k++) {
            n *= io->dims[k];
        }
        nchw[i] = malloc((size_t)n * sizeof(float));
        assert_non_null(nchw[i]);
        fill(nchw[i], (size_t)n, seed + (uint32_t)i);
        if (io->rank == 1) {
            nchw[i][0] = 0.5f + fabsf(nchw[i][0]); // a divisor
        }
        cw_nn_shape_t s;
        float *x = cw_nn_ctx_input(ctx, i, &s);
        assert_non_null(x);
        if (io->rank == 4) {
            int64_t C = io->dims[1], HW = io->dims[2] * io->dims[3];
            assert_int_equal(s.dims[3], C);
            for (int64_t b = 0; b < io->dims[0]; b++) {
                for (int64_t c = 0; c < C; c++) {
                    for (int64_t p = 0; p < HW; p++) {
                        x[(b * HW + p) * C + c] = nchw[i][(b * C + c) * HW + p];
                    }
                }
            }
        } else {
            memcpy(x, nchw[i], (size_t)n * sizeof(float));
        }
    }
    assert_int_equal(cw_nn_ctx_run(ctx), 0);
    ev_t *e = malloc(sizeof(*e));
    assert_non_null(e);
    ev_run(ref, e, (const float *const *)nchw);
    double worst = 0;
    for (int o = 0; o < d->nout; o++) {
        const val_t *want = ev_get(e, d->out[o].name);
        cw_nn_shape_t s;
        const float *y = cw_nn_ctx_output(ctx, o, &s);
        assert_int_equal(s.rank, want->rank);
        double peak = 1e-6;
        for (int64_t i = 0; i < count(want); i++) {
            peak = fmax(peak, fabs(want->v[i]));
        }
        for (int64_t i = 0; i < count(want); i++) {
            worst = fmax(worst, fabs(y[i] - want->v[i]) / peak);
        }
    }
    ev_free(e);
    free(e);
    for (int i = 0; i < d->nin; i++) {
        free(nchw[i]);
    }
    cw_nn_ctx_destroy(ctx);
    cw_nn_model_destroy(m);
    return worst;
}

static int count_op(const cw_nn_model_t *m, cw_nn_op_t op)
{
    int n = 0;
    for (int j = 0; j < m->n_nodes; j++) {
        n += m->nodes[j].op == op;
    }
    return n;
}

static int find_tensor(const cw_nn_model_t *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++) {
        if (strcmp(m->tensors[i].name, name) == 0) {
            return i;
        }
    }
    fail_msg("no tensor %s", name);
    return -1;
}

// ---- the IR ----------------------------------------------------------------------------------

static void test_conv_ir(void **state)
{
    (void)state;
    omodel_t d = model_conv();
    cw_nn_model_t *m = load_ok(&d);
    cw_nn_shape_t s;
    assert_int_equal(cw_nn_model_input_shape(m, 0, &s), 0);
    assert_int_equal(s.rank, 4); // declared [1,3,9,7]: NHWC here
    assert_int_equal(s.dims[1], 9);
    assert_int_equal(s.dims[2], 7);
    assert_int_equal(s.dims[3], 3);
    assert_int_equal(cw_nn_model_output_shape(m, 0, &s), 0);
    assert_int_equal(s.rank, 2);
    assert_int_equal(s.dims[1], 5);

    // Conv + PRelu became one node with the PReLU epilogue; the 1x1 conv read by Add stays plain.
    assert_int_equal(m->n_nodes, 6);
    const cw_nn_node_t *c1 = &m->nodes[0];
    assert_int_equal(c1->op, CW_NN_OP_CONV2D);
    assert_int_equal(c1->act, CW_NN_ACT_PRELU);
    assert_int_equal(c1->p.conv.padding, CW_NN_PAD_EXPLICIT);
    assert_int_equal(c1->p.conv.pad_top, 1);
    assert_int_equal(c1->p.conv.pad_left, 0);
    assert_int_equal(c1->p.conv.pad_bottom, 1);
    assert_int_equal(c1->p.conv.pad_right, 1);
    assert_int_equal(c1->p.conv.stride_h, 2);
    // Weights [O,I,KH,KW] -> [O,KH,KW,I]: element (o=3, i=2, ky=1, kx=0).
    const cw_nn_tensor_t *w = &m->tensors[c1->in[1]];
    assert_int_equal(w->shape.dims[0], 4);
    assert_int_equal(w->shape.dims[1], 3);
    assert_int_equal(w->shape.dims[3], 3);
    assert_true(w->data[((3 * 3 + 1) * 3 + 0) * 3 + 2] == w_stem[((3 * 3 + 2) * 3 + 1) * 3 + 0]);
    // Slopes [4,1,1] -> [1,1,1,4].
    const cw_nn_tensor_t *a = &m->tensors[c1->in[3]];
    assert_int_equal(a->shape.rank, 4);
    assert_int_equal(a->shape.dims[3], 4);
    assert_memory_equal(a->data, slope, sizeof(slope));

    // Depthwise with multiplier 2: [8,1,3,3] -> [1,3,3,8].
    const cw_nn_node_t *c2 = &m->nodes[1];
    assert_int_equal(c2->op, CW_NN_OP_DEPTHWISE_CONV2D);
    assert_int_equal(c2->p.conv.depth_multiplier, 2);
    const cw_nn_tensor_t *wd = &m->tensors[c2->in[1]];
    assert_int_equal(wd->shape.dims[0], 1);
    assert_int_equal(wd->shape.dims[3], 8);
    assert_true(wd->data[(2 * 3 + 1) * 8 + 5] == w_dw[(5 * 3 + 2) * 3 + 1]);

    // Flatten of a 4-D map reads it in NCHW order; Gemm with transB keeps B as [N,K].
    const cw_nn_node_t *fl2 = &m->nodes[4];
    assert_int_equal(fl2->op, CW_NN_OP_RESHAPE);
    assert_int_equal(fl2->p.reshape.from_nchw, 1);
    assert_int_equal(fl2->p.reshape.shape.dims[1], 120);
    assert_int_equal(m->nodes[5].op, CW_NN_OP_FULLY_CONNECTED);
    assert_memory_equal(m->tensors[m->nodes[5].in[1]].data, w_fc, sizeof(w_fc));
    cw_nn_model_destroy(m);
}

static void test_ops_ir(void **state)
{
    (void)state;
    omodel_t d = model_ops();
    cw_nn_model_t *m = load_ok(&d);
    assert_int_equal(m->n_inputs, 2);
    assert_int_equal(m->n_outputs, 2);
    const cw_nn_node_t *c = &m->nodes[0];
    assert_int_equal(c->p.conv.padding, CW_NN_PAD_SAME);
    assert_int_equal(c->in[2], -1);
    // Sub's constant [4,1,1] broadcast against the 4-D map: [1,1,1,4].
    const cw_nn_node_t *sub = &m->nodes[1];
    assert_int_equal(sub->op, CW_NN_OP_SUB);
    assert_int_equal(m->tensors[sub->in[1]].shape.rank, 4);
    assert_int_equal(m->tensors[sub->in[1]].shape.dims[3], 4);
    // Mul reads the same constant in the same layout: one tensor.
    assert_int_equal(m->nodes[2].in[0], sub->in[1]);
    // The [1,4,3,3] constant is permuted to [1,3,3,4]: element (c=2, h=1, w=0).
    int cf = find_tensor(m, "cfull");
    assert_int_equal(m->tensors[cf].shape.dims[3], 4);
    assert_true(m->tensors[cf].data[(1 * 3 + 0) * 4 + 2] == w_dw[(2 * 3 + 1) * 3 + 0]);
    assert_int_equal(count_op(m, CW_NN_OP_CONCAT), 1);
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        if (nd->op == CW_NN_OP_CONCAT) {
            assert_int_equal(nd->p.concat.axis, 3); // NCHW channels
        } else if (nd->op == CW_NN_OP_REDUCE_MEAN) {
            assert_int_equal(nd->p.reduce.axes, 6u);
            assert_int_equal(nd->p.reduce.keep_dims, 1);
        } else if (nd->op == CW_NN_OP_LEAKY_RELU) {
            assert_true(nd->p.leaky.alpha == 0.2f);
        } else if (nd->op == CW_NN_OP_RESHAPE && nd->p.reshape.shape.rank == 3) {
            assert_int_equal(nd->p.reshape.shape.dims[0], 1); // 0 copied the batch
            assert_int_equal(nd->p.reshape.shape.dims[2], -1);
            assert_int_equal(nd->p.reshape.from_nchw, 1);
        } else if (nd->op == CW_NN_OP_FULLY_CONNECTED) {
            const cw_nn_tensor_t *b = &m->tensors[nd->in[1]]; // [8,6] transposed to [6,8]
            assert_int_equal(b->shape.dims[0], 6);
            assert_true(b->data[2 * 8 + 5] == w_fc2[5 * 6 + 2]);
        }
    }
    cw_nn_model_destroy(m);
}

// The runtime against the plain NCHW evaluator.
static void test_agreement(void **state)
{
    (void)state;
    omodel_t d = model_conv();
    double e1 = compare_runs(&d, &d, 100);
    omodel_t o = model_ops();
    double e2 = compare_runs(&o, &o, 200);
    print_message("largest error relative to the output's peak: %.2e and %.2e\n", e1, e2);
    assert_true(e1 < 1e-5);
    assert_true(e2 < 1e-5);
    // The comparison can fail: the evaluator given other slopes than the file holds.
    static float other[4];
    for (int i = 0; i < 4; i++) {
        other[i] = slope[i] + 0.25f;
    }
    omodel_t ref = d;
    ref.init[2].f = other;
    assert_true(compare_runs(&d, &ref, 100) > 1e-3);
}

// Every legal encoding of the same model loads to the same results.
static void test_encodings(void **state)
{
    (void)state;
    omodel_t d = model_conv();
    double base = compare_runs(&d, &d, 7);
    d.packed = true;
    for (int i = 0; i < d.ninit; i++) {
        d.init[i].how = i % 2 == 0 ? PACKED : UNPACKED;
    }
    assert_true(compare_runs(&d, &d, 7) == base);
    d.ir = 3;
    d.ir3_inputs = true; // initializers listed as inputs too: still constants
    cw_nn_model_t *m = load_ok(&d);
    assert_int_equal(m->n_inputs, 1);
    cw_nn_model_destroy(m);
    assert_true(compare_runs(&d, &d, 7) == base);

    omodel_t o = model_ops();
    o.init[5].how = UNPACKED; // the Reshape target as int64_data
    o.packed = true;
    assert_true(compare_runs(&o, &o, 8) < 1e-5);
    o.init[5].how = PACKED;
    assert_true(compare_runs(&o, &o, 8) < 1e-5);
}

// ---- refusals --------------------------------------------------------------------------------

static void test_unsupported(void **state)
{
    (void)state;
    omodel_t d = model_relu();
    d.node[0].op = "Softmax";
    expect(&d, CW_EUNSUPPORTED, "operator Softmax is not supported");
    d = model_relu();
    d.node[0].domain = "com.microsoft";
    expect(&d, CW_EUNSUPPORTED, "domain 'com.microsoft'");
    d = model_relu();
    d.node[0].nattr = 1;
    d.node[0].attr[0] = int1("consumed_inputs", 1);
    expect(&d, CW_EUNSUPPORTED, "attribute 'consumed_inputs' is not supported");
    d.node[0].attr[0] = (ta_t){.name = "scales", .kind = 'F', .n = 2, .v = {1, 2}};
    expect(&d, CW_EUNSUPPORTED, "attribute 'scales'");
    d = model_relu();
    d.opset = 6;
    expect(&d, CW_EUNSUPPORTED, "opset 6");
    d.opset = 22;
    expect(&d, CW_EUNSUPPORTED, "opset 22");
    d = model_relu();
    d.ir = 2;
    expect(&d, CW_EUNSUPPORTED, "IR version 2");
    d = model_relu();
    d.in[0].param_dim = 1;
    expect(&d, CW_EUNSUPPORTED, "only fixed shapes");
    d = model_relu();
    d.in[0].no_shape = true;
    expect(&d, CW_EUNSUPPORTED, "only fixed shapes");
    d = model_relu();
    d.in[0].elem = INT64;
    expect(&d, CW_EUNSUPPORTED, "only float32");
    d = model_relu();
    d.in[0].rank = 5;
    d.in[0].dims[2] = d.in[0].dims[3] = d.in[0].dims[4] = 1;
    expect(&d, CW_EUNSUPPORTED, "rank 5");

    d = model_conv();
    d.node[2].attr[1] = int1("group", 2); // 2 groups of 2 channels
    d.init[3].dims[1] = 2;
    d.init[3].dims[0] = 4;
    expect(&d, CW_EUNSUPPORTED, "grouped convolution");
    d = model_conv();
    d.node[0].attr[2] = (ta_t){.name = "auto_pad", .kind = 's', .s = "SAME_LOWER"};
    expect(&d, CW_EUNSUPPORTED, "auto_pad");
    d = model_conv();
    d.init[0].external = true;
    expect(&d, CW_EUNSUPPORTED, "external");
    d = model_conv();
    d.init[0].dtype = INT32;
    expect(&d, CW_EUNSUPPORTED, "data type 6");
    d = model_conv();
    d.node[0].nin = 2; // Conv weights must be constants
    d.node[0].in[1] = "input";
    expect(&d, CW_EUNSUPPORTED, "computed at run time");
    // Reshape to 4-D would give an NCHW result.
    d = model_ops();
    static const int64_t four[4] = {1, 4, 8, 1};
    d.init[5].rank = 1;
    d.init[5].dims[0] = 4;
    d.init[5].i = four;
    expect(&d, CW_EUNSUPPORTED, "reshaping to rank 4");
    // A 2-D activation broadcast against a 4-D one.
    d = model_relu();
    d.nin = 2;
    d.in[1] = (tio_t){.name = "map", .rank = 4, .dims = {1, 2, 3, 4}};
    d.node[0] = (tn_t){"Add", NULL, {"map", "x"}, 2, "y", 0, {{0}}};
    expect(&d, CW_EUNSUPPORTED, "broadcasting a 2-D activation");
    d = model_conv();
    d.node[6].attr[0] = int1("transA", 1);
    expect(&d, CW_EUNSUPPORTED, "transA");
}

static void test_nan_weights(void **state)
{
    (void)state;
    static float bad[4];
    for (int how = RAW; how <= UNPACKED; how++) {
        for (int k = 0; k < 2; k++) {
            omodel_t d = model_conv();
            memcpy(bad, b_stem, sizeof(bad));
            bad[2] = k == 0 ? NAN : -INFINITY;
            d.init[1].f = bad;
            d.init[1].how = how;
            expect(&d, CW_EMODEL, "NaN or Inf");
        }
    }
    omodel_t d = model_ops();
    d.node[4].attr[0].f = NAN;
    expect(&d, CW_EMODEL, "alpha is NaN or Inf");
}

static void test_graph_rules(void **state)
{
    (void)state;
    omodel_t d = model_conv();
    d.node[4].in[1] = "later"; // a name nothing defines
    expect(&d, CW_EFORMAT, "reads 'later'");
    d = model_conv();
    d.node[4].in[1] = "flat"; // defined, but by a later node
    expect(&d, CW_EFORMAT, "reads 'flat'");
    d = model_conv();
    d.node[3].out = "c1"; // written twice
    expect(&d, CW_EFORMAT, "'c1' is defined twice");
    d = model_conv();
    d.node[0].out = "w_stem"; // an initializer's name
    expect(&d, CW_EFORMAT, "defined twice");
    d = model_conv();
    d.in[1] = d.in[0];
    d.nin = 2;
    expect(&d, CW_EFORMAT, "defined twice");
    d = model_conv();
    d.out[0].name = "nowhere";
    expect(&d, CW_EFORMAT, "never written");
    d = model_conv();
    d.out[0].name = "b_fc";
    expect(&d, CW_EUNSUPPORTED, "a constant");
    d = model_conv();
    d.out[0].dims[1] = 6;
    expect(&d, CW_EFORMAT, "declared shape differs from the computed [1,5]");
    d = model_conv();
    d.init[5].dims[1] = 4; // the 1x1 conv's weights expect 4 input channels, 8 arrive
    d.init[5].dims[0] = 16;
    expect(&d, CW_EFORMAT, "input shapes do not fit");
    d = model_conv();
    d.node[6].in[1] = "w_pw"; // Gemm B of rank 4
    expect(&d, CW_EFORMAT, "B of rank 4");
    d = model_conv();
    d.node[0].attr[0] = ints("kernel_shape", 2, 5, 5, 0, 0);
    expect(&d, CW_EFORMAT, "kernel_shape");
    d.node[0].attr[0] = ints("kernel_shape", 3, 3, 3, 3, 0);
    expect(&d, CW_EUNSUPPORTED, "kernel_shape has 3 values");
    d.node[0].attr[0] = int1("kernel_shape", 3);
    expect(&d, CW_EFORMAT, "not of the expected type");
    d = model_conv();
    d.node[0].attr[1] = ints("strides", 2, 0, 1, 0, 0);
    expect(&d, CW_EFORMAT, "strides: value 0");
    d = model_conv();
    d.node[0].nattr = 6;
    d.node[0].attr[5] = int1("group", 1);
    expect(&d, CW_EFORMAT, "an attribute appears twice");
    d = model_conv();
    d.node[1].nin = 1;
    expect(&d, CW_EFORMAT, "1 inputs, expected 2 to 2");
    d = model_conv();
    d.node[0].in[1] = "";
    expect(&d, CW_EFORMAT, "input 1 is missing");
    d = model_conv();
    d.node[1].in[1] = "b_fc"; // 5 slopes for 4 channels
    expect(&d, CW_EFORMAT, "input shapes do not fit");
    d = model_conv();
    d.init[4].nvals = 7; // an 8-value bias with 7 values
    expect(&d, CW_ECORRUPT, "does not match its shape");
    d.init[4].how = PACKED;
    expect(&d, CW_ECORRUPT, "does not match its shape");
    d.init[4].how = UNPACKED;
    expect(&d, CW_ECORRUPT, "does not match its shape");
    d = model_conv();
    d.init[1].f = NULL; // no data at all
    expect(&d, CW_ECORRUPT, "does not match its shape");
    d = model_conv();
    d.init[2].nvals = 4;
    d.init[2].dims[1] = 0;
    expect(&d, CW_EFORMAT, "dimension 0");
    d.init[2].dims[1] = 70000;
    expect(&d, CW_ETOOBIG, "dimension 70000");
    d = model_relu();
    d.in[0].dims[1] = 1 << 15;
    d.in[0].dims[0] = 1 << 15;
    expect(&d, CW_ETOOBIG, "too large");
    d = model_relu();
    d.nout = 0;
    expect(&d, CW_EFORMAT, "no outputs");
    d = model_relu();
    d.nin = 0;
    d.node[0].in[0] = "k";
    d.ninit = 1;
    d.init[0] = fl("k", 1, 4, 0, 0, 0, b_pw);
    expect(&d, CW_EFORMAT, "no inputs");
    d = model_relu();
    d.node[0].op = "";
    expect(&d, CW_EFORMAT, "no operator type");
    // A Reshape target of another element count (which the planner would take as another batch).
    d = model_ops();
    static const int64_t twice[3] = {2, 4, 9};
    d.init[5].i = twice;
    expect(&d, CW_EFORMAT, "target shape does not fit");
}

static void test_not_onnx(void **state)
{
    (void)state;
    cw_nn_model_t *m = NULL;
    static const uint8_t ir_only[] = {0x08, 0x07};
    assert_int_equal(cw_nn_model_load_mem(ir_only, sizeof(ir_only), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_non_null(strstr(diag, "no graph"));
    static const uint8_t group[] = {0x08, 0x07, 0x0b, 0x0c}; // a group start (wire type 3)
    assert_int_equal(cw_nn_model_load_mem(group, sizeof(group), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_non_null(strstr(diag, "wire type"));
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(cw_nn_model_load_mem(long_varint, sizeof(long_varint), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_non_null(strstr(diag, "longer than 64 bits"));
    static const uint8_t huge_len[] = {0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(cw_nn_model_load_mem(huge_len, sizeof(huge_len), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_non_null(strstr(diag, "length runs past"));
    static const uint8_t field0[] = {0x08, 0x07, 0x00, 0x00};
    assert_int_equal(cw_nn_model_load_mem(field0, sizeof(field0), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    static const uint8_t wrong_wire[] = {0x08, 0x07, 0x38, 0x01}; // graph as a varint
    assert_int_equal(cw_nn_model_load_mem(wrong_wire, sizeof(wrong_wire), &m, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_non_null(strstr(diag, "wrong wire type"));
    // Two graphs.
    omodel_t d = model_relu();
    size_t len;
    uint8_t *buf = build(&d, &len);
    buf_t two = {0};
    put(&two, buf, len);
    put_len(&two, 7, "", 0);
    free(buf);
    assert_int_equal(cw_nn_model_load_mem(two.b, two.len, &m, diag, sizeof(diag)), CW_EFORMAT);
    assert_non_null(strstr(diag, "a second graph"));
    free(two.b);
    assert_null(m);
}

// ---- corruption ------------------------------------------------------------------------------

static bool allowed_error(int rc)
{
    return rc == CW_EFORMAT || rc == CW_ECORRUPT || rc == CW_EUNSUPPORTED || rc == CW_EMODEL ||
           rc == CW_ETOOBIG;
}

// Load exactly len bytes from their own block, so a read past the end is an ASan report.
static int load_exact(const uint8_t *src, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, src, len);
    cw_nn_model_t *m = NULL;
    int rc = cw_nn_model_load_mem(copy, len, &m, diag, sizeof(diag));
    free(copy);
    if (rc == 0) {
        check_ir(m);
        plan_and_run(m);
        cw_nn_model_destroy(m);
    } else {
        assert_null(m);
        if (!allowed_error(rc)) {
            fail_msg("unexpected %s: %s", cw_err_name(rc), diag);
        }
    }
    return rc;
}

static void corrupt_all(const omodel_t *d)
{
    size_t len;
    uint8_t *buf = build(d, &len);
    assert_int_equal(load_exact(buf, len), 0);
    static const uint8_t masks[] = {0xff, 0x01, 0x80};
    int failures = 0;
    for (size_t k = 0; k < sizeof(masks); k++) {
        for (size_t i = 0; i < len; i++) {
            buf[i] ^= masks[k];
            failures += load_exact(buf, len) != 0;
            buf[i] ^= masks[k];
        }
    }
    assert_true(failures > 0); // the loader does notice
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(load_exact(buf, n), 0); // no prefix is a whole model
    }
    free(buf);
}

static void test_corrupt_every_byte(void **state)
{
    (void)state;
    omodel_t d = model_conv();
    for (int i = 0; i < d.ninit; i++) {
        d.init[i].how = PACKED; // the weights are most of the file; keep the structure dense
    }
    d.packed = true;
    corrupt_all(&d);
    d = model_ops();
    corrupt_all(&d);
    d = model_relu();
    corrupt_all(&d);
}

// ---- allocation failures ---------------------------------------------------------------------

static void fail_each_allocation(const uint8_t *buf, size_t len)
{
    cw_alloc_counting_install();
    int rc = -1;
    uint64_t n = 1;
    for (; rc != 0; n++) {
        assert_true(n < 100000);
        cw_alloc_fail_nth(n);
        cw_nn_model_t *m = NULL;
        rc = cw_nn_model_load_mem(buf, len, &m, diag, sizeof(diag));
        cw_alloc_fail_nth(0);
        if (rc == 0) {
            check_ir(m);
            cw_nn_model_destroy(m);
        } else {
            assert_int_equal(rc, CW_ENOMEM);
            assert_null(m);
        }
        cw_alloc_stats_t s;
        cw_alloc_counting_stats(&s);
        assert_int_equal(s.live_blocks, 0);
    }
    cw_alloc_counting_uninstall();
    assert_true(n > 10); // the loop did fail allocations
}

static void test_allocation_failures(void **state)
{
    (void)state;
    omodel_t models[2] = {model_conv(), model_ops()};
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *buf = build(&models[i], &len);
        fail_each_allocation(buf, len);
        free(buf);
    }
}

// ---- the real model --------------------------------------------------------------------------

static uint8_t *read_fr_feature(size_t *len)
{
    const char *deps = getenv("CLEARWAY_DEPS");
    char path[1200];
    snprintf(path, sizeof(path), "%s/npm/faceplugin/model/fr_feature.onnx",
             deps != NULL && deps[0] != '\0' ? deps : CW_TEST_DEPS_DIR);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_message("%s missing (run tools/setup/setup.sh)\n", path);
        return NULL;
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void run_once(const cw_nn_model_t *m, float *out)
{
    cw_nn_ctx_t *ctx = NULL;
    assert_int_equal(cw_nn_ctx_create(m, NULL, &ctx, diag, sizeof(diag)), 0);
    cw_nn_shape_t s;
    float *x = cw_nn_ctx_input(ctx, 0, &s);
    fill(x, 112 * 112 * 3, 42);
    assert_int_equal(cw_nn_ctx_run(ctx), 0);
    memcpy(out, cw_nn_ctx_output(ctx, 0, &s), 512 * sizeof(float));
    cw_nn_ctx_destroy(ctx);
}

static void test_real_fr_feature(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_fr_feature(&len);
    if (buf == NULL) {
        skip();
    }
    cw_nn_model_t *m = NULL;
    int rc = cw_nn_model_load_mem(buf, len, &m, diag, sizeof(diag));
    if (rc != 0) {
        fail_msg("fr_feature: %s: %s", cw_err_name(rc), diag);
    }
    check_ir(m);
    cw_nn_shape_t s;
    assert_int_equal(cw_nn_model_input_shape(m, 0, &s), 0);
    assert_int_equal(s.rank, 4);
    assert_int_equal(s.dims[1], 112);
    assert_int_equal(s.dims[3], 3);
    assert_int_equal(cw_nn_model_output_shape(m, 0, &s), 0);
    assert_int_equal(s.rank, 2);
    assert_int_equal(s.dims[1], 512);
    // Conv 50 (17 of them depthwise), PRelu 33 (all fused into the convs), Add 12, Reshape 1.
    assert_int_equal(m->n_nodes, 63);
    assert_int_equal(count_op(m, CW_NN_OP_CONV2D), 33);
    assert_int_equal(count_op(m, CW_NN_OP_DEPTHWISE_CONV2D), 17);
    assert_int_equal(count_op(m, CW_NN_OP_ADD), 12);
    assert_int_equal(count_op(m, CW_NN_OP_RESHAPE), 1);
    int prelu = 0;
    for (int j = 0; j < m->n_nodes; j++) {
        prelu += m->nodes[j].act == CW_NN_ACT_PRELU;
    }
    assert_int_equal(prelu, 33);

    // The fused graph computes what the loader's graph does, bit for bit.
    cw_nn_model_t *raw = cw_calloc(1, sizeof(*raw));
    assert_non_null(raw);
    assert_int_equal(cw__nn_load_onnx(buf, len, raw, diag, sizeof(diag)), 0);
    assert_int_equal(count_op(raw, CW_NN_OP_PRELU), 33);
    static float a[512], b[512];
    run_once(m, a);
    run_once(raw, b);
    assert_memory_equal(a, b, sizeof(a));
    cw_nn_model_destroy(raw);
    cw_nn_model_destroy(m);
    free(buf);
}

static void test_real_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_fr_feature(&len);
    if (buf == NULL) {
        skip();
    }
    // Cut inside the weights, inside the graph's tail, and one byte short.
    size_t cuts[] = {len / 3, len / 2, len - 4096, len - 100, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_int_equal(load_exact(buf, cuts[i]), CW_EFORMAT);
    }
    free(buf);
}

// ---- corpus ----------------------------------------------------------------------------------

static int write_corpus(const char *dir)
{
    omodel_t files[5] = {model_conv(), model_ops(), model_relu(), model_conv(), model_ops()};
    const char *names[5] = {"conv.onnx", "ops.onnx", "relu.onnx", "conv_typed.onnx",
                            "ops_ir3.onnx"};
    files[3].packed = true;
    for (int i = 0; i < files[3].ninit; i++) {
        files[3].init[i].how = i % 2 == 0 ? PACKED : UNPACKED;
    }
    files[4].ir = 3;
    files[4].ir3_inputs = true;
    for (size_t i = 0; i < 5; i++) {
        size_t len;
        uint8_t *buf = build(&files[i], &len);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        free(buf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) {
        return write_corpus(argv[2]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_ir),
        cmocka_unit_test(test_ops_ir),
        cmocka_unit_test(test_agreement),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_nan_weights),
        cmocka_unit_test(test_graph_rules),
        cmocka_unit_test(test_not_onnx),
        cmocka_unit_test(test_corrupt_every_byte),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_real_fr_feature),
        cmocka_unit_test(test_real_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
