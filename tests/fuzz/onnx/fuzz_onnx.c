// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the ONNX loader: whatever the bytes, no crash, no read outside the input, an
// error code the API documents, and, when a model does load, a graph the planner can trust
// (every index in range, constants with data, each node one output, nothing unreferenced) that
// also plans at its declared shapes and runs, since the loader infers those shapes with the
// planner's own rules.
#include "clearway/err.h"
#include "clearway/nn.h"

#include "../../../src/nn/nn_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Plan and run only graphs whose activations fit in this many floats, to keep runs fast.
enum { RUN_CAP = 1 << 20 };

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void check_model(const cw_nn_model_t *m)
{
    check(m->n_tensors >= 1 && m->n_inputs >= 1 && m->n_outputs >= 1);
    check(m->n_inputs <= CW_NN_MAX_NODE_INPUTS && m->n_outputs <= CW_NN_MAX_NODE_OUTPUTS);
    uint8_t *used = calloc((size_t)m->n_tensors, 1);
    if (used == NULL) {
        return;
    }
    uint64_t act = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const cw_nn_tensor_t *t = &m->tensors[i];
        check(t->shape.rank >= 0 && t->shape.rank <= CW_NN_MAX_RANK);
        check((t->is_const != 0) == (t->data != NULL));
        check(memchr(t->name, '\0', sizeof(t->name)) != NULL);
        uint64_t n = 1;
        for (int k = 0; k < t->shape.rank; k++) {
            int32_t d = t->shape.dims[k];
            check(d >= 1 && (d <= 65536 || !t->is_const));
            n *= (uint64_t)d;
        }
        check(n <= ((uint64_t)1 << 28)); // the loader's cap on any one tensor
        act += t->is_const ? 0 : n;
    }
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        check(nd->op >= 0 && nd->op < CW_NN_OP_COUNT_);
        check(nd->n_in >= 1 && nd->n_in <= CW_NN_MAX_NODE_INPUTS && nd->n_out == 1);
        for (int i = 0; i < nd->n_in; i++) {
            check(nd->in[i] >= -1 && nd->in[i] < m->n_tensors);
            if (nd->in[i] >= 0) {
                used[nd->in[i]] = 1;
            }
        }
        check(nd->out[0] >= 0 && nd->out[0] < m->n_tensors);
        check(!m->tensors[nd->out[0]].is_const);
        used[nd->out[0]] = 1;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        check(m->inputs[i] >= 0 && m->inputs[i] < m->n_tensors);
        used[m->inputs[i]] = 1;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        check(m->outputs[i] >= 0 && m->outputs[i] < m->n_tensors);
        used[m->outputs[i]] = 1;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        check(used[i]);
    }
    free(used);

    cw_nn_shape_t s;
    check(cw_nn_model_input_shape(m, 0, &s) == 0);
    check(cw_nn_model_output_shape(m, m->n_outputs, &s) == CW_EINVAL);
    if (act <= RUN_CAP) {
        cw_nn_ctx_t *ctx = NULL;
        int rc = cw_nn_ctx_create(m, NULL, &ctx, NULL, 0);
        check(rc == 0 || rc == CW_ENOMEM);
        if (rc == 0) {
            check(cw_nn_ctx_run(ctx) == 0);
            cw_nn_ctx_destroy(ctx);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_nn_model_t *m = NULL;
    char diag[256];
    int rc = cw_nn_model_load_mem(data, size, &m, diag, sizeof(diag));
    if (rc == 0) {
        check_model(m);
        cw_nn_model_destroy(m);
        return 0;
    }
    check(m == NULL && memchr(diag, '\0', sizeof(diag)) != NULL);
    check(rc == CW_EFORMAT || rc == CW_ECORRUPT || rc == CW_EUNSUPPORTED || rc == CW_EMODEL ||
          rc == CW_ETOOBIG || rc == CW_ENOMEM);
    return 0;
}
