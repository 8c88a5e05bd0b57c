/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small neural-network runtime for Clearway's pretrained face models: load a model file
 * (TFLite flatbuffer or ONNX protobuf), plan an execution context for a given input size (every
 * intermediate buffer allocated once, at plan time), then run it as often as needed without
 * allocating. Images are NHWC whatever the file's layout: an ONNX model declared NCHW
 * [N,C,H,W] reports, and takes, its 4-D inputs and outputs as [N,H,W,C].
 *
 * Ownership: a model is immutable after loading and may be shared by any number of contexts on
 * any number of threads; a context belongs to one thread at a time. Destroy contexts before
 * their model.
 */
#ifndef CLEARWAY_NN_H
#define CLEARWAY_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_nn_model cw_nn_model_t;
typedef struct cw_nn_ctx cw_nn_ctx_t;

enum { CW_NN_MAX_RANK = 4 };

/* A tensor's shape: rank and dimensions (NHWC for images). */
typedef struct cw_nn_shape {
    int rank;
    int32_t dims[CW_NN_MAX_RANK];
} cw_nn_shape_t;

/*
 * cw_nn_model_load_file / _mem: parse and validate a TFLite or ONNX model, told apart by their
 * first bytes (every offset, size and count checked; unsupported operators refused by name; ONNX
 * models need fixed input shapes, opset 7 to 21). _mem copies what it needs: buf may be freed
 * after the call. Returns 0 and *out (free with cw_nn_model_destroy), or CW_EIO (file),
 * CW_EFORMAT / CW_ECORRUPT (malformed), CW_EUNSUPPORTED (operator or type), CW_EMODEL (NaN or
 * Inf weights), CW_ETOOBIG, CW_ENOMEM. Detail goes to diag when given.
 */
int cw_nn_model_load_file(const char *path, cw_nn_model_t **out, char *diag, size_t diag_len);
int cw_nn_model_load_mem(const uint8_t *buf, size_t len, cw_nn_model_t **out, char *diag,
                         size_t diag_len);
void cw_nn_model_destroy(cw_nn_model_t *model);

/* Inputs and outputs of a model and their declared shapes (as stored in the file). */
int cw_nn_model_n_inputs(const cw_nn_model_t *model);
int cw_nn_model_n_outputs(const cw_nn_model_t *model);
int cw_nn_model_input_shape(const cw_nn_model_t *model, int i, cw_nn_shape_t *out);
int cw_nn_model_output_shape(const cw_nn_model_t *model, int i, cw_nn_shape_t *out);

/*
 * cw_nn_ctx_create: plan an execution context for the given input shapes (one per model input;
 * NULL uses the declared shapes). Shapes of every tensor are inferred and memory for every
 * intermediate is allocated here. Returns 0 and *out, or CW_EINVAL (shape the graph cannot
 * take), CW_ETOOBIG (plan over the memory cap), CW_ENOMEM.
 */
int cw_nn_ctx_create(const cw_nn_model_t *model, const cw_nn_shape_t *input_shapes,
                     cw_nn_ctx_t **out, char *diag, size_t diag_len);
void cw_nn_ctx_destroy(cw_nn_ctx_t *ctx);

/*
 * Input and output buffers of a context (float32, row-major in the tensor's shape). Pointers
 * stay valid until the context is destroyed; outputs hold the last run's results.
 */
float *cw_nn_ctx_input(cw_nn_ctx_t *ctx, int i, cw_nn_shape_t *shape);
const float *cw_nn_ctx_output(const cw_nn_ctx_t *ctx, int i, cw_nn_shape_t *shape);

/* cw_nn_ctx_run: run the graph once on the current inputs. Allocates nothing. */
int cw_nn_ctx_run(cw_nn_ctx_t *ctx);

/* Bytes of activation memory the plan uses (for reporting and tests). */
size_t cw_nn_ctx_arena_bytes(const cw_nn_ctx_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
