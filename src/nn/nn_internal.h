/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nn module's internal representation: a model is a list of tensors (constants with their
 * float32 data, or activations with declared shapes) and a list of nodes in execution order,
 * each an operator with parameters and tensor indices. Format loaders (tflite.c, onnx.c) build
 * it; plan.c infers shapes and lays out memory; ops.c runs it. Loaders convert every constant to
 * float32 (float16 and int8 dequantised) so kernels see one type, and every 4-D activation is
 * NHWC whatever the file's layout (onnx.c converts NCHW weights and parameters at load).
 */
#ifndef CW_NN_INTERNAL_H
#define CW_NN_INTERNAL_H

#include "clearway/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef enum cw_nn_op {
    /* Convolutions and FC take a 4th input, the PReLU slopes, when act is CW_NN_ACT_PRELU. */
    CW_NN_OP_CONV2D,           /* in: x, weights [Cout,KH,KW,Cin], bias [Cout] or -1 */
    CW_NN_OP_DEPTHWISE_CONV2D, /* in: x, weights [1,KH,KW,Cin*mult], bias or -1 */
    CW_NN_OP_FULLY_CONNECTED,  /* in: x (flattened to [rows, K]), weights [N,K], bias or -1 */
    CW_NN_OP_MAX_POOL2D,
    CW_NN_OP_AVG_POOL2D,
    CW_NN_OP_ADD, /* element-wise, with broadcasting (numpy rules) */
    CW_NN_OP_SUB,
    CW_NN_OP_MUL,
    CW_NN_OP_DIV,
    CW_NN_OP_MAXIMUM,
    CW_NN_OP_MINIMUM,
    CW_NN_OP_GREATER_EQUAL, /* outputs 1.0f / 0.0f */
    CW_NN_OP_LESS,
    CW_NN_OP_RELU,
    CW_NN_OP_RELU6,
    CW_NN_OP_LEAKY_RELU, /* alpha */
    CW_NN_OP_PRELU,      /* in: x, alpha (broadcast) */
    CW_NN_OP_ABS,
    CW_NN_OP_NEG,
    CW_NN_OP_EXP,
    CW_NN_OP_LOGISTIC,
    CW_NN_OP_TANH,
    CW_NN_OP_SQRT,
    CW_NN_OP_RSQRT,
    CW_NN_OP_CAST,       /* float -> float with truncation toward zero when to_int is set */
    CW_NN_OP_IDENTITY,   /* DEQUANTIZE of a constant is resolved at load; at run time a copy */
    CW_NN_OP_RESHAPE,    /* new shape from params (resolved at load) */
    CW_NN_OP_REDUCE_MAX, /* axes mask, keep_dims */
    CW_NN_OP_REDUCE_SUM,
    CW_NN_OP_REDUCE_MEAN,
    CW_NN_OP_SOFTMAX, /* beta, over the last axis */
    CW_NN_OP_CONCAT,  /* axis, up to CW_NN_MAX_NODE_INPUTS inputs */
    CW_NN_OP_PAD,     /* pads from params, constant zero */
    CW_NN_OP_STRIDED_SLICE,
    CW_NN_OP_L2_NORM, /* over the last axis */
    CW_NN_OP_COUNT_
} cw_nn_op_t;

typedef enum cw_nn_act {
    CW_NN_ACT_NONE = 0,
    CW_NN_ACT_RELU,
    CW_NN_ACT_RELU6,
    CW_NN_ACT_RELU_N1_TO_1,
    CW_NN_ACT_TANH,
    /*
     * Per-channel PReLU, set only by cw__nn_fuse on CONV2D, DEPTHWISE_CONV2D and
     * FULLY_CONNECTED: the slopes are the node's input 3, a constant of the output's channel count
     * (the last dimension). Never read from a file.
     */
    CW_NN_ACT_PRELU
} cw_nn_act_t;

/* EXPLICIT: the conv's pad_* fields give the zeros added on each side (ONNX pads). */
typedef enum cw_nn_padding {
    CW_NN_PAD_SAME = 0,
    CW_NN_PAD_VALID = 1,
    CW_NN_PAD_EXPLICIT = 2
} cw_nn_padding_t;

enum { CW_NN_MAX_NODE_INPUTS = 16, CW_NN_MAX_NODE_OUTPUTS = 4, CW_NN_NAME_MAX = 64 };

typedef struct cw_nn_tensor {
    cw_nn_shape_t shape; /* declared shape (constants: exact; activations: as stored) */
    float *data;         /* constants only: float32, owned by the model (cw_aligned_alloc) */
    int is_const;
    char name[CW_NN_NAME_MAX]; /* truncated copy, for diagnostics */
} cw_nn_tensor_t;

typedef struct cw_nn_node {
    cw_nn_op_t op;
    int n_in;
    int n_out;
    int in[CW_NN_MAX_NODE_INPUTS];   /* tensor indices; -1 for an absent optional input */
    int out[CW_NN_MAX_NODE_OUTPUTS]; /* tensor indices */
    cw_nn_act_t act;                 /* fused activation, where the op has one */
    union {
        struct {
            int stride_h, stride_w, dilation_h, dilation_w, depth_multiplier;
            cw_nn_padding_t padding;
            int pad_top, pad_left, pad_bottom, pad_right; /* CW_NN_PAD_EXPLICIT only */
        } conv;
        struct {
            int filter_h, filter_w, stride_h, stride_w;
            cw_nn_padding_t padding;
        } pool;
        struct {
            uint32_t axes; /* bit i set: reduce over axis i (of the input, after negatives) */
            int keep_dims;
        } reduce;
        struct {
            cw_nn_shape_t shape; /* -1 allowed in one dimension */
            /*
             * Set by onnx.c when a 4-D input is flattened: the values are taken in NCHW order
             * (the file's), so the NHWC activation is transposed while it is copied.
             */
            int from_nchw;
        } reshape;
        struct {
            float beta;
        } softmax;
        struct {
            float alpha;
        } leaky;
        struct {
            int axis; /* may be negative */
        } concat;
        struct {
            int32_t before[CW_NN_MAX_RANK], after[CW_NN_MAX_RANK];
        } pad;
        struct {
            int32_t begin[CW_NN_MAX_RANK], end[CW_NN_MAX_RANK], stride[CW_NN_MAX_RANK];
            uint32_t begin_mask, end_mask, shrink_axis_mask;
        } slice;
        struct {
            int keep_num_dims;
        } fc;
        struct {
            int to_int; /* truncate toward zero (float -> int32 -> float) */
        } cast;
    } p;
} cw_nn_node_t;

struct cw_nn_model {
    cw_nn_tensor_t *tensors;
    int n_tensors;
    cw_nn_node_t *nodes;
    int n_nodes;
    int inputs[CW_NN_MAX_NODE_INPUTS];
    int n_inputs;
    int outputs[CW_NN_MAX_NODE_OUTPUTS];
    int n_outputs;
};

/*
 * cw__nn_load_tflite: build *model (zeroed by the caller) from a TFLite flatbuffer. On failure
 * the caller frees whatever was filled in with cw__nn_model_free. Constants are copied out of
 * buf as float32 (float16 / int8 / uint8 dequantised; int32 constants used as shapes, axes or
 * pads are folded into node parameters and the tensor dropped from the inputs). DEQUANTIZE of a
 * constant becomes a constant; ops outside cw_nn_op_t return CW_EUNSUPPORTED with the op name.
 */
int cw__nn_load_tflite(const uint8_t *buf, size_t len, struct cw_nn_model *model, char *diag,
                       size_t diag_len);

/*
 * cw__nn_load_onnx: build *model (zeroed by the caller) from an ONNX ModelProto (protobuf), with
 * the same contract as cw__nn_load_tflite. NCHW tensors become NHWC: 4-D graph inputs and
 * outputs are declared and fed NHWC, Conv weights are transposed to the IR's layouts, and
 * constants that broadcast against 4-D activations are permuted to match (see onnx.c).
 */
int cw__nn_load_onnx(const uint8_t *buf, size_t len, struct cw_nn_model *model, char *diag,
                     size_t diag_len);

/*
 * cw__nn_fuse: rewrite a loaded model in place for speed without changing what it computes.
 * PReLU written as chains of element-wise ops (relu(x) + c * (x - |x|) in MobileFaceNet,
 * relu(x) + c * -relu(-x) in MTCNN) becomes one PRELU node, and a PRELU or LEAKY_RELU that is the
 * only reader of a convolution's or fully connected layer's output becomes that node's
 * CW_NN_ACT_PRELU epilogue. Tensors and nodes left unused are dropped, so indices change.
 * Returns 0, or CW_ENOMEM, after which the model is half rewritten and may only be freed.
 */
int cw__nn_fuse(struct cw_nn_model *model, char *diag, size_t diag_len);

/* Free the arrays of a model (not the struct itself). */
void cw__nn_model_free(struct cw_nn_model *model);

/* Name of an op for diagnostics. */
const char *cw__nn_op_name(cw_nn_op_t op);

#endif
