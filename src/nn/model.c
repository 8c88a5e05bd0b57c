// SPDX-License-Identifier: Apache-2.0
// Loading and owning a model: reading the file (with a size cap, before anything is parsed),
// recognising the format, handing the bytes to the format's loader (tflite.c, onnx.c) and the
// result to the graph rewrites (fuse.c), and the accessors for the graph's inputs and outputs. A
// model is immutable once loaded, so the accessors need no locking.
#include "nn_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// The largest model file we read; the face models are a few MiB.
#define MAX_MODEL_BYTES ((size_t)512 << 20)

static const char *const op_names[CW_NN_OP_COUNT_] = {
    [CW_NN_OP_CONV2D] = "CONV2D",
    [CW_NN_OP_DEPTHWISE_CONV2D] = "DEPTHWISE_CONV2D",
    [CW_NN_OP_FULLY_CONNECTED] = "FULLY_CONNECTED",
    [CW_NN_OP_MAX_POOL2D] = "MAX_POOL2D",
    [CW_NN_OP_AVG_POOL2D] = "AVG_POOL2D",
    [CW_NN_OP_ADD] = "ADD",
    [CW_NN_OP_SUB] = "SUB",
    [CW_NN_OP_MUL] = "MUL",
    [CW_NN_OP_DIV] = "DIV",
    [CW_NN_OP_MAXIMUM] = "MAXIMUM",
    [CW_NN_OP_MINIMUM] = "MINIMUM",
    [CW_NN_OP_GREATER_EQUAL] = "GREATER_EQUAL",
    [CW_NN_OP_LESS] = "LESS",
    [CW_NN_OP_RELU] = "RELU",
    [CW_NN_OP_RELU6] = "RELU6",
    [CW_NN_OP_LEAKY_RELU] = "LEAKY_RELU",
    [CW_NN_OP_PRELU] = "PRELU",
    [CW_NN_OP_ABS] = "ABS",
    [CW_NN_OP_NEG] = "NEG",
    [CW_NN_OP_EXP] = "EXP",
    [CW_NN_OP_LOGISTIC] = "LOGISTIC",
    [CW_NN_OP_TANH] = "TANH",
    [CW_NN_OP_SQRT] = "SQRT",
    [CW_NN_OP_RSQRT] = "RSQRT",
    [CW_NN_OP_CAST] = "CAST",
    [CW_NN_OP_IDENTITY] = "IDENTITY",
    [CW_NN_OP_RESHAPE] = "RESHAPE",
    [CW_NN_OP_REDUCE_MAX] = "REDUCE_MAX",
    [CW_NN_OP_REDUCE_SUM] = "REDUCE_SUM",
    [CW_NN_OP_REDUCE_MEAN] = "REDUCE_MEAN",
    [CW_NN_OP_SOFTMAX] = "SOFTMAX",
    [CW_NN_OP_CONCAT] = "CONCAT",
    [CW_NN_OP_PAD] = "PAD",
    [CW_NN_OP_STRIDED_SLICE] = "STRIDED_SLICE",
    [CW_NN_OP_L2_NORM] = "L2_NORM",
};

const char *cw__nn_op_name(cw_nn_op_t op)
{
    if ((int)op < 0 || op >= CW_NN_OP_COUNT_ || op_names[op] == NULL) {
        return "?";
    }
    return op_names[op];
}

void cw__nn_model_free(struct cw_nn_model *model)
{
    if (model == NULL) {
        return;
    }
    for (int i = 0; i < model->n_tensors; i++) {
        cw_aligned_free(model->tensors[i].data);
    }
    cw_free(model->tensors);
    cw_free(model->nodes);
    memset(model, 0, sizeof(*model));
}

void cw_nn_model_destroy(cw_nn_model_t *model)
{
    if (model == NULL) {
        return;
    }
    cw__nn_model_free(model);
    cw_free(model);
}

int cw_nn_model_load_mem(const uint8_t *buf, size_t len, cw_nn_model_t **out, char *diag,
                         size_t diag_len)
{
    if (out == NULL || (buf == NULL && len > 0)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no buffer or no place for the model");
    }
    *out = NULL;
    if (len > MAX_MODEL_BYTES) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "model of %zu bytes, at most %zu", len,
                           MAX_MODEL_BYTES);
    }
    // TFLite flatbuffers carry their file identifier right after the root offset. ONNX files are
    // a protobuf ModelProto with no identifier; exporters write ir_version (field 1, a varint,
    // tag byte 0x08) first, and the protobuf reader decides the rest.
    int tflite = len >= 8 && memcmp(buf + 4, "TFL3", 4) == 0;
    if (!tflite && (len < 2 || buf[0] != 0x08)) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED, "not a TFLite model");
    }
    cw_nn_model_t *m = cw_calloc(1, sizeof(*m));
    if (m == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    int rc = tflite ? cw__nn_load_tflite(buf, len, m, diag, diag_len)
                    : cw__nn_load_onnx(buf, len, m, diag, diag_len);
    if (rc == 0) {
        rc = cw__nn_fuse(m, diag, diag_len);
    }
    if (rc != 0) {
        cw_nn_model_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int io_error(char *diag, size_t diag_len, const char *what, const char *path, int errnum)
{
    char msg[128];
    if (strerror_r(errnum, msg, sizeof(msg)) != 0) {
        snprintf(msg, sizeof(msg), "error %d", errnum);
    }
    return cw_diag_set(diag, diag_len, CW_EIO, "%s %s: %s", what, path, msg);
}

int cw_nn_model_load_file(const char *path, cw_nn_model_t **out, char *diag, size_t diag_len)
{
    if (path == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no path or no place for the model");
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return io_error(diag, diag_len, "cannot open", path, errno);
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return io_error(diag, diag_len, "cannot stat", path, e);
    }
    // Only regular files have a size to check before reading; a directory or a pipe has not.
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return io_error(diag, diag_len, "cannot read", path, S_ISDIR(st.st_mode) ? EISDIR : EINVAL);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > MAX_MODEL_BYTES) {
        fclose(f);
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "%s: %lld bytes, at most %zu", path,
                           (long long)st.st_size, MAX_MODEL_BYTES);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = cw_malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        fclose(f);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, len, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    if (got != len) {
        cw_free(buf);
        // A short read without an error means the file shrank while we read it.
        return e != 0 ? io_error(diag, diag_len, "cannot read", path, e)
                      : cw_diag_set(diag, diag_len, CW_EIO, "%s: changed while being read", path);
    }
    int rc = cw_nn_model_load_mem(buf, len, out, diag, diag_len);
    cw_free(buf);
    return rc;
}

int cw_nn_model_n_inputs(const cw_nn_model_t *model)
{
    return model != NULL ? model->n_inputs : CW_EINVAL;
}

int cw_nn_model_n_outputs(const cw_nn_model_t *model)
{
    return model != NULL ? model->n_outputs : CW_EINVAL;
}

int cw_nn_model_input_shape(const cw_nn_model_t *model, int i, cw_nn_shape_t *out)
{
    if (model == NULL || out == NULL || i < 0 || i >= model->n_inputs) {
        return CW_EINVAL;
    }
    *out = model->tensors[model->inputs[i]].shape;
    return 0;
}

int cw_nn_model_output_shape(const cw_nn_model_t *model, int i, cw_nn_shape_t *out)
{
    if (model == NULL || out == NULL || i < 0 || i >= model->n_outputs) {
        return CW_EINVAL;
    }
    *out = model->tensors[model->outputs[i]].shape;
    return 0;
}
