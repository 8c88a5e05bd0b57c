// SPDX-License-Identifier: Apache-2.0
// Execution contexts: shape inference for every tensor given the input shapes, and the memory
// plan. Each activation lives from the node that writes it to the last node that reads it;
// tensors whose lifetimes do not overlap share arena space (greedy by size, first fit), so a
// context allocates one arena and one scratch block, once, and running it allocates nothing.
#include "nn_internal.h"
#include "ops.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <string.h>

// Activation memory cap per context: far above what the face models need at 1280x960.
enum { ARENA_CAP_BYTES = 1024 * 1024 * 1024 };

static int shape_numel(const cw_nn_shape_t *s, size_t *out)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i] <= 0 || cw_size_mul(n, (size_t)s->dims[i], &n) != 0) {
            return CW_EINVAL;
        }
    }
    *out = n;
    return 0;
}

size_t cw__nn_numel(const cw_nn_shape_t *s)
{
    size_t n;
    return shape_numel(s, &n) == 0 ? n : 0;
}

typedef struct interval {
    int tensor;
    int first; // node index that writes it (-1 for graph inputs)
    int last;  // last node index that reads it (n_nodes for graph outputs)
    size_t bytes;
    size_t offset;
} interval;

// Lay out intervals in an arena: biggest first, each at the lowest offset that does not overlap
// an already placed tensor alive at the same time. Returns the arena size.
static size_t pack_intervals(interval *iv, int n)
{
    // Sort by size descending (insertion sort: a few hundred tensors).
    for (int i = 1; i < n; i++) {
        interval t = iv[i];
        int j = i;
        while (j > 0 && iv[j - 1].bytes < t.bytes) {
            iv[j] = iv[j - 1];
            j--;
        }
        iv[j] = t;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        int moved = 1;
        while (moved) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                int live_overlap = iv[j].first <= iv[i].last && iv[i].first <= iv[j].last;
                int mem_overlap =
                    off < iv[j].offset + iv[j].bytes && iv[j].offset < off + iv[i].bytes;
                if (live_overlap && mem_overlap) {
                    off = iv[j].offset + iv[j].bytes;
                    moved = 1;
                }
            }
        }
        iv[i].offset = off;
        if (off + iv[i].bytes > total) {
            total = off + iv[i].bytes;
        }
    }
    return total;
}

void cw_nn_ctx_destroy(cw_nn_ctx_t *ctx)
{
    if (ctx == NULL) {
        return;
    }
    if (ctx->arena != NULL) {
        cw_memzero(ctx->arena, ctx->arena_bytes); // activations derive from faces
    }
    cw_aligned_free(ctx->arena);
    cw_aligned_free(ctx->scratch);
    cw_free(ctx->shapes);
    cw_free(ctx->ptr);
    cw_free(ctx);
}

int cw_nn_ctx_create(const cw_nn_model_t *m, const cw_nn_shape_t *input_shapes, cw_nn_ctx_t **out,
                     char *diag, size_t diag_len)
{
    *out = NULL;
    if (m == NULL) {
        return CW_EINVAL;
    }
    cw__nn_ops_init();
    cw_nn_ctx_t *ctx = cw_calloc(1, sizeof(*ctx));
    interval *iv = NULL;
    int *first = NULL;
    int *last = NULL;
    int rc = CW_ENOMEM;
    if (ctx == NULL) {
        return CW_ENOMEM;
    }
    ctx->model = m;
    ctx->shapes = cw_calloc((size_t)m->n_tensors, sizeof(*ctx->shapes));
    ctx->ptr = cw_calloc((size_t)m->n_tensors, sizeof(*ctx->ptr));
    first = cw_calloc((size_t)m->n_tensors, sizeof(*first));
    last = cw_calloc((size_t)m->n_tensors, sizeof(*last));
    iv = cw_calloc((size_t)m->n_tensors, sizeof(*iv));
    if (ctx->shapes == NULL || ctx->ptr == NULL || first == NULL || last == NULL || iv == NULL) {
        goto fail;
    }

    // Shapes: constants as stored, inputs as requested, the rest inferred node by node.
    for (int t = 0; t < m->n_tensors; t++) {
        ctx->shapes[t] = m->tensors[t].shape;
        first[t] = -2; // not produced
        last[t] = -2;  // not used
    }
    for (int i = 0; i < m->n_inputs; i++) {
        int t = m->inputs[i];
        cw_nn_shape_t s = input_shapes != NULL ? input_shapes[i] : m->tensors[t].shape;
        size_t n;
        if (s.rank < 1 || s.rank > CW_NN_MAX_RANK || shape_numel(&s, &n) != 0) {
            rc = cw_diag_set(diag, diag_len, CW_EINVAL, "input %d: invalid shape", i);
            goto fail;
        }
        ctx->shapes[t] = s;
        first[t] = -1;
        last[t] = -1;
    }
    size_t scratch = 0;
    for (int k = 0; k < m->n_nodes; k++) {
        const cw_nn_node_t *node = &m->nodes[k];
        size_t need = 0;
        rc = cw__nn_infer(m, node, ctx->shapes, &need, diag, diag_len);
        if (rc != 0) {
            goto fail;
        }
        if (need > scratch) {
            scratch = need;
        }
        for (int j = 0; j < node->n_in; j++) {
            int t = node->in[j];
            if (t >= 0 && !m->tensors[t].is_const) {
                if (first[t] == -2) {
                    rc = cw_diag_set(diag, diag_len, CW_EFORMAT,
                                     "node %d (%s) reads tensor '%s' before it is written", k,
                                     cw__nn_op_name(node->op), m->tensors[t].name);
                    goto fail;
                }
                last[t] = k;
            }
        }
        for (int j = 0; j < node->n_out; j++) {
            int t = node->out[j];
            if (m->tensors[t].is_const || first[t] != -2) {
                rc = cw_diag_set(diag, diag_len, CW_EFORMAT, "tensor '%s' written twice",
                                 m->tensors[t].name);
                goto fail;
            }
            first[t] = k;
            last[t] = k;
        }
    }
    for (int i = 0; i < m->n_outputs; i++) {
        int t = m->outputs[i];
        if (!m->tensors[t].is_const && first[t] == -2) {
            rc = cw_diag_set(diag, diag_len, CW_EFORMAT, "output '%s' is never written",
                             m->tensors[t].name);
            goto fail;
        }
        last[t] = m->n_nodes; // outputs outlive the run
    }

    int n_iv = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        if (m->tensors[t].is_const) {
            ctx->ptr[t] = m->tensors[t].data;
            continue;
        }
        if (first[t] == -2) {
            continue; // unused
        }
        size_t n;
        if (shape_numel(&ctx->shapes[t], &n) != 0 || cw_size_mul(n, sizeof(float), &n) != 0 ||
            n > ARENA_CAP_BYTES) {
            rc = cw_diag_set(diag, diag_len, CW_ETOOBIG, "tensor '%s' too large",
                             m->tensors[t].name);
            goto fail;
        }
        iv[n_iv].tensor = t;
        iv[n_iv].first = first[t];
        iv[n_iv].last = last[t];
        iv[n_iv].bytes = (n + 63) & ~(size_t)63;
        n_iv++;
    }
    size_t arena = pack_intervals(iv, n_iv);
    if (arena > ARENA_CAP_BYTES || scratch > ARENA_CAP_BYTES / sizeof(float)) {
        rc = cw_diag_set(diag, diag_len, CW_ETOOBIG, "plan needs %zu MiB, over the cap",
                         arena >> 20);
        goto fail;
    }
    ctx->arena_bytes = arena;
    ctx->arena = cw_aligned_alloc(64, arena > 0 ? arena : 64);
    ctx->scratch_floats = scratch;
    ctx->scratch = cw_aligned_alloc(64, (scratch > 0 ? scratch : 16) * sizeof(float));
    if (ctx->arena == NULL || ctx->scratch == NULL) {
        rc = CW_ENOMEM;
        goto fail;
    }
    memset(ctx->arena, 0, arena);
    for (int i = 0; i < n_iv; i++) {
        ctx->ptr[iv[i].tensor] = (float *)((unsigned char *)ctx->arena + iv[i].offset);
    }
    cw_free(iv);
    cw_free(first);
    cw_free(last);
    *out = ctx;
    return 0;

fail:
    cw_free(iv);
    cw_free(first);
    cw_free(last);
    cw_nn_ctx_destroy(ctx);
    return rc;
}

float *cw_nn_ctx_input(cw_nn_ctx_t *ctx, int i, cw_nn_shape_t *shape)
{
    if (ctx == NULL || i < 0 || i >= ctx->model->n_inputs) {
        return NULL;
    }
    int t = ctx->model->inputs[i];
    if (shape != NULL) {
        *shape = ctx->shapes[t];
    }
    return ctx->ptr[t];
}

const float *cw_nn_ctx_output(const cw_nn_ctx_t *ctx, int i, cw_nn_shape_t *shape)
{
    if (ctx == NULL || i < 0 || i >= ctx->model->n_outputs) {
        return NULL;
    }
    int t = ctx->model->outputs[i];
    if (shape != NULL) {
        *shape = ctx->shapes[t];
    }
    return ctx->ptr[t];
}

size_t cw_nn_ctx_arena_bytes(const cw_nn_ctx_t *ctx)
{
    return ctx != NULL ? ctx->arena_bytes : 0;
}

int cw_nn_ctx_run(cw_nn_ctx_t *ctx)
{
    if (ctx == NULL) {
        return CW_EINVAL;
    }
    const cw_nn_model_t *m = ctx->model;
    for (int k = 0; k < m->n_nodes; k++) {
        int rc = cw__nn_exec(ctx, &m->nodes[k]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
