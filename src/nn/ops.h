/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operators of the nn runtime: shape inference (at plan time) and execution (at run time) for
 * every cw_nn_op_t, over an execution context's tensor pointers. Internal to the nn module.
 */
#ifndef CW_NN_OPS_H
#define CW_NN_OPS_H

#include "nn_internal.h"

struct cw_nn_ctx {
    const cw_nn_model_t *model;
    cw_nn_shape_t *shapes; /* per tensor, for this context's input sizes */
    float **ptr;           /* per tensor: constant data or a place in the arena */
    float *arena;
    size_t arena_bytes;
    float *scratch; /* shared by all nodes (im2col and the like) */
    size_t scratch_floats;
};

/* Number of elements of a valid shape (0 if invalid). */
size_t cw__nn_numel(const cw_nn_shape_t *s);

/*
 * cw__nn_infer: check node's input shapes (in shapes[]) and write its output shapes into
 * shapes[]; *scratch_floats gets the scratch space the node needs at run time.
 */
int cw__nn_infer(const cw_nn_model_t *m, const cw_nn_node_t *node, cw_nn_shape_t *shapes,
                 size_t *scratch_floats, char *diag, size_t diag_len);

/*
 * cw__nn_ops_init: once per process, before the first context runs: OpenBLAS single-threaded.
 * Callers parallelise across images; OpenBLAS's own threads on top of theirs only oversubscribe
 * the cores (and spin). Thread-safe.
 */
void cw__nn_ops_init(void);

/* cw__nn_exec: run one node of a planned context. */
int cw__nn_exec(cw_nn_ctx_t *ctx, const cw_nn_node_t *node);

#endif
