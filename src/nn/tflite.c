// SPDX-License-Identifier: Apache-2.0
// TFLite model loader: a hand-written FlatBuffers reader for the TFLite schema (version 3) that
// turns the one subgraph of a .tflite file into the nn module's representation (nn_internal.h).
// The file is untrusted: every offset, vtable, vector and string is checked against the buffer
// with 64-bit arithmetic before it is read, counts and dimensions are capped, and constants are
// copied out (float16 and int8/uint8 dequantised to float32) so that the model never points
// into the caller's buffer. Integer constants that only parameterise an operator (shapes, axes,
// paddings, slice bounds) are folded into the node, DEQUANTIZE of a constant is done here, and
// tensors that no node, input or output refers to are dropped, so the planner sees only tensors
// it has to place.
#include "nn_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

// Caps on what a model may declare: counts, per-axis size, and the float32 constant memory.
enum { MAX_TENSORS = 100000, MAX_OPS = 100000, MAX_DIM = 65536, MAX_AXES = 8 };
#define MAX_CONST_BYTES ((uint64_t)512 << 20)

// Values from TFLite's schema.fbs.
enum { SCHEMA_VERSION = 3, OP_DEQUANTIZE = 6, OP_CUSTOM = 32 };
enum {
    T_FLOAT32 = 0,
    T_FLOAT16 = 1,
    T_INT32 = 2,
    T_UINT8 = 3,
    T_INT64 = 4,
    T_BOOL = 6,
    T_INT8 = 9,
};
enum {
    OPT_NONE = 0,
    OPT_CONV2D = 1,
    OPT_DEPTHWISE = 2,
    OPT_POOL2D = 5,
    OPT_FC = 8,
    OPT_SOFTMAX = 9,
    OPT_CONCAT = 10,
    OPT_ADD = 11,
    OPT_L2NORM = 12,
    OPT_RESHAPE = 17,
    OPT_MUL = 21,
    OPT_REDUCER = 27,
    OPT_SUB = 28,
    OPT_DIV = 29,
    OPT_STRIDED_SLICE = 32,
    OPT_LEAKY_RELU = 75,
};

// Builtin operator names in code order, for messages about operators the runtime does not have;
// one string, looked up only on that error path.
static const char builtin_names[] =
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE "
    "EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D "
    "LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 "
    "RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS "
    "SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER "
    "BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE "
    "UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT "
    "LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS "
    "NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE "
    "TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT "
    "REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN "
    "FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR "
    "LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND "
    "COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH "
    "IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY "
    "SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO "
    "RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT "
    "HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE "
    "BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU "
    "DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX "
    "UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN";

// The name of builtin operator `code` into out, or "" when the table does not know it.
static void builtin_name(int32_t code, char *out, size_t cap)
{
    const char *p = builtin_names;
    for (int32_t i = 0; i < code && *p != '\0'; p++) {
        i += *p == ' ';
    }
    size_t n = code >= 0 ? strcspn(p, " ") : 0;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

// The builtin operators the runtime has, the op they become and the options table they carry.
typedef struct opmap {
    int32_t code;
    cw_nn_op_t op;
    uint8_t options; // BuiltinOptions union type, OPT_NONE when nothing is read from it
} opmap_t;

static const opmap_t opmap[] = {
    {0, CW_NN_OP_ADD, OPT_ADD},
    {1, CW_NN_OP_AVG_POOL2D, OPT_POOL2D},
    {2, CW_NN_OP_CONCAT, OPT_CONCAT},
    {3, CW_NN_OP_CONV2D, OPT_CONV2D},
    {4, CW_NN_OP_DEPTHWISE_CONV2D, OPT_DEPTHWISE},
    {OP_DEQUANTIZE, CW_NN_OP_IDENTITY, OPT_NONE},
    {9, CW_NN_OP_FULLY_CONNECTED, OPT_FC},
    {11, CW_NN_OP_L2_NORM, OPT_L2NORM},
    {14, CW_NN_OP_LOGISTIC, OPT_NONE},
    {17, CW_NN_OP_MAX_POOL2D, OPT_POOL2D},
    {18, CW_NN_OP_MUL, OPT_MUL},
    {19, CW_NN_OP_RELU, OPT_NONE},
    {21, CW_NN_OP_RELU6, OPT_NONE},
    {22, CW_NN_OP_RESHAPE, OPT_RESHAPE},
    {25, CW_NN_OP_SOFTMAX, OPT_SOFTMAX},
    {28, CW_NN_OP_TANH, OPT_NONE},
    {34, CW_NN_OP_PAD, OPT_NONE},
    {40, CW_NN_OP_REDUCE_MEAN, OPT_REDUCER},
    {41, CW_NN_OP_SUB, OPT_SUB},
    {42, CW_NN_OP_DIV, OPT_DIV},
    {45, CW_NN_OP_STRIDED_SLICE, OPT_STRIDED_SLICE},
    {47, CW_NN_OP_EXP, OPT_NONE},
    {53, CW_NN_OP_CAST, OPT_NONE},
    {54, CW_NN_OP_PRELU, OPT_NONE},
    {55, CW_NN_OP_MAXIMUM, OPT_NONE},
    {57, CW_NN_OP_MINIMUM, OPT_NONE},
    {58, CW_NN_OP_LESS, OPT_NONE},
    {59, CW_NN_OP_NEG, OPT_NONE},
    {62, CW_NN_OP_GREATER_EQUAL, OPT_NONE},
    {74, CW_NN_OP_REDUCE_SUM, OPT_REDUCER},
    {75, CW_NN_OP_SQRT, OPT_NONE},
    {76, CW_NN_OP_RSQRT, OPT_NONE},
    {82, CW_NN_OP_REDUCE_MAX, OPT_REDUCER},
    {98, CW_NN_OP_LEAKY_RELU, OPT_LEAKY_RELU},
    {101, CW_NN_OP_ABS, OPT_NONE},
};

// ---- FlatBuffers reader ----------------------------------------------------------------------

typedef struct tbl {
    uint64_t pos; // where the table starts (its soffset to the vtable)
    uint64_t vt;  // where its vtable starts
    uint32_t vt_len, t_len;
} tbl_t;

typedef struct vec {
    uint64_t start; // first element
    uint32_t n;
} vec_t;

typedef struct tinfo {
    uint64_t data;    // the tensor's buffer bytes in the file
    uint32_t bytes;   // 0: no buffer (an activation)
    int32_t fold_src; // folded DEQUANTIZE: the file constant this tensor's value comes from
    int32_t new_index;
    int8_t type;
    bool is_input, ready, kept, has_quant;
    tbl_t quant;
} tinfo_t;

typedef struct ld {
    const uint8_t *p;
    uint64_t len;
    char *diag;
    size_t diag_len;
    vec_t opcodes, buffers;
    uint32_t n_tensors;
    tinfo_t *ti;
    int32_t *node_op; // source operator index of each node, for messages
    struct cw_nn_model *m;
} ld_t;

// Little-endian read of n <= 8 bytes; callers have checked the bounds.
static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static int32_t to_i32(uint64_t u)
{
    u &= 0xffffffffu;
    return u < 0x80000000u ? (int32_t)u : (int32_t)((int64_t)u - 0x100000000);
}

static int8_t to_i8(uint64_t u)
{
    u &= 0xffu;
    return u < 0x80u ? (int8_t)u : (int8_t)((int)u - 256);
}

static int64_t to_i64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static float to_f32(uint64_t u)
{
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}

static bool in_file(const ld_t *L, uint64_t pos, uint64_t n)
{
    return pos <= L->len && n <= L->len - pos;
}

static int fb_bad(ld_t *L, const char *what, uint64_t pos)
{
    return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "malformed flatbuffer: %s (byte %llu)",
                       what, (unsigned long long)pos);
}

static int tbl_open(ld_t *L, uint64_t pos, tbl_t *t)
{
    if (!in_file(L, pos, 4)) {
        return fb_bad(L, "table outside the file", pos);
    }
    uint64_t u = le(L->p + pos, 4);
    int64_t soff = u < 0x80000000u ? (int64_t)u : (int64_t)u - 0x100000000;
    int64_t vt = (int64_t)pos - soff;
    if (vt < 0 || !in_file(L, (uint64_t)vt, 4)) {
        return fb_bad(L, "vtable outside the file", pos);
    }
    t->vt_len = (uint32_t)le(L->p + vt, 2);
    t->t_len = (uint32_t)le(L->p + vt + 2, 2);
    if (t->vt_len < 4 || t->vt_len % 2 != 0 || !in_file(L, (uint64_t)vt, t->vt_len)) {
        return fb_bad(L, "bad vtable", (uint64_t)vt);
    }
    if (t->t_len < 4 || !in_file(L, pos, t->t_len)) {
        return fb_bad(L, "table runs past the end of the file", pos);
    }
    t->pos = pos;
    t->vt = (uint64_t)vt;
    return 0;
}

// Where field `id` (size bytes) of table t lies, or 0 when the field is absent (t NULL: absent).
static int tbl_field(ld_t *L, const tbl_t *t, unsigned id, unsigned size, uint64_t *pos)
{
    *pos = 0;
    uint64_t slot = 4 + 2 * (uint64_t)id;
    if (t == NULL || slot + 2 > t->vt_len) {
        return 0;
    }
    uint32_t off = (uint32_t)le(L->p + t->vt + slot, 2);
    if (off == 0) {
        return 0;
    }
    // Inside the table's declared size, which itself was checked against the file.
    if (off < 4 || off + size > t->t_len) {
        return fb_bad(L, "field outside its table", t->pos);
    }
    *pos = t->pos + off;
    return 0;
}

static int get_raw(ld_t *L, const tbl_t *t, unsigned id, unsigned size, uint64_t def, uint64_t *out)
{
    uint64_t pos;
    int rc = tbl_field(L, t, id, size, &pos);
    *out = pos != 0 ? le(L->p + pos, size) : def;
    return rc;
}

static int get_i32(ld_t *L, const tbl_t *t, unsigned id, int32_t def, int32_t *out)
{
    uint64_t raw;
    int rc = get_raw(L, t, id, 4, (uint32_t)def, &raw);
    *out = to_i32(raw);
    return rc;
}

static int get_i8(ld_t *L, const tbl_t *t, unsigned id, int8_t def, int8_t *out)
{
    uint64_t raw;
    int rc = get_raw(L, t, id, 1, (uint8_t)def, &raw);
    *out = to_i8(raw);
    return rc;
}

static int get_f32(ld_t *L, const tbl_t *t, unsigned id, float def, float *out)
{
    uint32_t bits;
    memcpy(&bits, &def, sizeof(bits));
    uint64_t raw;
    int rc = get_raw(L, t, id, 4, bits, &raw);
    *out = to_f32(raw);
    return rc;
}

// Follow the uoffset in field `id`; *target is 0 when the field is absent.
static int get_ref(ld_t *L, const tbl_t *t, unsigned id, uint64_t *target)
{
    uint64_t pos;
    *target = 0;
    int rc = tbl_field(L, t, id, 4, &pos);
    if (rc != 0 || pos == 0) {
        return rc;
    }
    uint64_t to = pos + le(L->p + pos, 4);
    if (!in_file(L, to, 4)) {
        return fb_bad(L, "offset points outside the file", pos);
    }
    *target = to;
    return 0;
}

static int get_vec(ld_t *L, const tbl_t *t, unsigned id, unsigned elem_size, vec_t *v)
{
    uint64_t at;
    v->start = 0;
    v->n = 0;
    int rc = get_ref(L, t, id, &at);
    if (rc != 0 || at == 0) {
        return rc;
    }
    uint32_t n = (uint32_t)le(L->p + at, 4);
    if (!in_file(L, at + 4, (uint64_t)n * elem_size)) {
        return fb_bad(L, "vector runs past the end of the file", at);
    }
    v->start = at + 4;
    v->n = n;
    return 0;
}

static int get_table(ld_t *L, const tbl_t *t, unsigned id, tbl_t *out, bool *present)
{
    uint64_t at;
    *present = false;
    int rc = get_ref(L, t, id, &at);
    if (rc != 0 || at == 0) {
        return rc;
    }
    rc = tbl_open(L, at, out);
    *present = rc == 0;
    return rc;
}

// Element i (< v->n, so inside the file) of a vector of tables.
static int vec_table(ld_t *L, const vec_t *v, uint32_t i, tbl_t *out)
{
    uint64_t pos = v->start + 4 * (uint64_t)i;
    return tbl_open(L, pos + le(L->p + pos, 4), out);
}

static int32_t vec_i32(const ld_t *L, const vec_t *v, uint32_t i)
{
    return to_i32(le(L->p + v->start + 4 * (uint64_t)i, 4));
}

// ---- tensors ---------------------------------------------------------------------------------

// Names end up in diagnostics and logs: keep printable ASCII only, so a crafted name cannot
// inject line breaks or invalid UTF-8 (a truncated multi-byte sequence) into them.
static void copy_name(char *dst, size_t cap, const uint8_t *src, uint32_t n)
{
    size_t k = 0;
    for (; k < n && k + 1 < cap && src[k] != 0; k++) {
        dst[k] = src[k] >= 0x20 && src[k] < 0x7f ? (char)src[k] : '?';
    }
    dst[k] = '\0';
}

static const char *tname(const ld_t *L, int32_t i)
{
    return L->m->tensors[i].name;
}

static bool has_data(const ld_t *L, int32_t i)
{
    return L->ti[i].bytes > 0 || L->ti[i].fold_src >= 0;
}

// Elements of a shape whose dimensions are all >= 1, saturating once past any cap we enforce.
static uint64_t n_elems(const cw_nn_shape_t *s)
{
    uint64_t n = 1;
    for (int k = 0; k < s->rank; k++) {
        n *= (uint64_t)s->dims[k];
        if (n > MAX_CONST_BYTES) {
            return UINT64_MAX;
        }
    }
    return n;
}

static int load_tensor(ld_t *L, uint32_t i, const tbl_t *t)
{
    cw_nn_tensor_t *dst = &L->m->tensors[i];
    tinfo_t *ti = &L->ti[i];
    vec_t name, shape;
    int rc = get_vec(L, t, 3, 1, &name);
    if (rc != 0) {
        return rc;
    }
    copy_name(dst->name, sizeof(dst->name), L->p + name.start, name.n);

    uint64_t raw;
    int8_t type;
    bool sparse;
    tbl_t scratch;
    if ((rc = get_vec(L, t, 0, 4, &shape)) != 0 || (rc = get_i8(L, t, 1, 0, &type)) != 0 ||
        (rc = get_raw(L, t, 2, 4, 0, &raw)) != 0 ||
        (rc = get_table(L, t, 4, &ti->quant, &ti->has_quant)) != 0) {
        return rc;
    }
    ti->type = type;
    uint32_t buffer = (uint32_t)raw;
    if ((rc = get_raw(L, t, 5, 1, 0, &raw)) != 0 ||
        (rc = get_table(L, t, 6, &scratch, &sparse)) != 0) {
        return rc;
    }
    if (raw != 0 || sparse) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "tensor %u (%s): %s tensors are not supported", i, dst->name,
                           raw != 0 ? "variable" : "sparse");
    }

    if (shape.n > CW_NN_MAX_RANK) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "tensor %u (%s): rank %u, at most %d is supported", i, dst->name,
                           shape.n, CW_NN_MAX_RANK);
    }
    dst->shape.rank = (int)shape.n;
    for (uint32_t k = 0; k < shape.n; k++) {
        int32_t d = vec_i32(L, &shape, k);
        // A graph input may leave its batch and spatial sizes open (-1); channels stay fixed.
        bool open_ok = ti->is_input && (k == 0 || k + 1 < shape.n);
        if (d == -1 && open_ok) {
            dst->shape.dims[k] = -1;
            continue;
        }
        if (d < 1) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "tensor %u (%s): dimension %u is %d", i, dst->name, k, d);
        }
        if (d > MAX_DIM) {
            return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG,
                               "tensor %u (%s): dimension %u is %d, at most %d is supported", i,
                               dst->name, k, d, MAX_DIM);
        }
        dst->shape.dims[k] = d;
    }

    // Buffer 0 is by convention the empty sentinel, but like TFLite we only look at the data.
    if (buffer == 0 && L->buffers.n == 0) {
        return 0;
    }
    if (buffer >= L->buffers.n) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "tensor %u (%s): buffer %u out of range (%u buffers)", i, dst->name,
                           buffer, L->buffers.n);
    }
    tbl_t b;
    vec_t data;
    if ((rc = vec_table(L, &L->buffers, buffer, &b)) != 0 ||
        (rc = get_vec(L, &b, 0, 1, &data)) != 0 || (rc = get_raw(L, &b, 1, 8, 0, &raw)) != 0) {
        return rc;
    }
    // Buffer.offset/size address data appended after the flatbuffer (models over 2 GiB);
    // TFLite treats offset 1 as "none".
    if (raw > 1) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "tensor %u (%s): data stored outside the flatbuffer (models over "
                           "2 GiB) is not supported",
                           i, dst->name);
    }
    ti->data = data.start;
    ti->bytes = data.n;
    if (ti->bytes > 0 && ti->is_input) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "tensor %u (%s): a graph input cannot be a constant", i, dst->name);
    }
    return 0;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (e == 0 && mant == 0) {
        bits = sign;
    } else if (e == 0) {
        // Subnormal half: shift the mantissa up until it is normal, adjusting the exponent.
        e = 127 - 15 + 1;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    } else if (e == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((e + 127 - 15) << 23) | (mant << 13);
    }
    return to_f32(bits);
}

// Dequantise an int8/uint8 constant: scale * (q - zero_point), per tensor or per channel.
static int dequantize(ld_t *L, int32_t dst_i, int32_t src_i, float *out, uint64_t n)
{
    const tinfo_t *s = &L->ti[src_i];
    const cw_nn_shape_t *shape = &L->m->tensors[src_i].shape;
    const char *name = tname(L, dst_i);
    vec_t scale = {0, 0}, zp = {0, 0};
    int32_t qdim = 0;
    int8_t details = 0;
    const tbl_t *q = s->has_quant ? &s->quant : NULL;
    int rc;
    if ((rc = get_vec(L, q, 2, 4, &scale)) != 0 || (rc = get_vec(L, q, 3, 8, &zp)) != 0 ||
        (rc = get_i8(L, q, 4, 0, &details)) != 0 || (rc = get_i32(L, q, 6, 0, &qdim)) != 0) {
        return rc;
    }
    if (details != 0 || scale.n == 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "tensor %d (%s): 8-bit constant without a scale and zero point", dst_i,
                           name);
    }
    uint64_t inner = 1, channels = 1;
    if (scale.n > 1) {
        if (qdim < 0 || qdim >= shape->rank || (uint32_t)shape->dims[qdim] != scale.n) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "tensor %d (%s): %u scales do not match quantized dimension %d",
                               dst_i, name, scale.n, qdim);
        }
        channels = scale.n;
        for (int k = qdim + 1; k < shape->rank; k++) {
            inner *= (uint64_t)shape->dims[k];
        }
    }
    if (zp.n != 0 && zp.n != scale.n) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "tensor %d (%s): %u zero points for %u scales", dst_i, name, zp.n,
                           scale.n);
    }
    const uint8_t *p = L->p + s->data;
    for (uint64_t e = 0; e < n; e++) {
        uint32_t c = (uint32_t)((e / inner) % channels);
        double sc = to_f32(le(L->p + scale.start + 4 * (uint64_t)c, 4));
        double z = zp.n != 0 ? (double)to_i64(le(L->p + zp.start + 8 * (uint64_t)c, 8)) : 0.0;
        double qv = s->type == T_INT8 ? (double)to_i8(p[e]) : (double)p[e];
        out[e] = (float)(sc * (qv - z));
    }
    return 0;
}

// Check that the file constant src_i holds exactly n elements of a type we convert, for
// tensor dst_i (itself or a folded DEQUANTIZE output of the same shape). Done before anything
// is allocated, so a forged shape cannot make a small file claim a large block.
static int check_const(ld_t *L, int32_t dst_i, int32_t src_i, uint64_t n, unsigned *size_out)
{
    const tinfo_t *s = &L->ti[src_i];
    unsigned size;
    switch (s->type) {
    case T_FLOAT32:
    case T_INT32:
        size = 4;
        break;
    case T_FLOAT16:
        size = 2;
        break;
    case T_INT64:
        size = 8;
        break;
    case T_INT8:
    case T_UINT8:
    case T_BOOL:
        size = 1;
        break;
    default:
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "tensor %d (%s): constants of type %d are not supported", dst_i,
                           tname(L, dst_i), s->type);
    }
    if (n == UINT64_MAX || (uint64_t)s->bytes != n * size) {
        return cw_diag_set(L->diag, L->diag_len, CW_ECORRUPT,
                           "tensor %d (%s): %u bytes of data do not match its shape", dst_i,
                           tname(L, dst_i), s->bytes);
    }
    *size_out = size;
    return 0;
}

// Fill out[n] (float32) from the file constant src_i, for tensor dst_i.
static int convert_const(ld_t *L, int32_t dst_i, int32_t src_i, float *out, uint64_t n)
{
    const tinfo_t *s = &L->ti[src_i];
    const uint8_t *p = L->p + s->data;
    unsigned size;
    int rc = check_const(L, dst_i, src_i, n, &size);
    if (rc != 0) {
        return rc;
    }
    for (uint64_t e = 0; e < n && s->type != T_INT8 && s->type != T_UINT8; e++) {
        uint64_t raw = le(p + e * size, size);
        switch (s->type) {
        case T_FLOAT32:
            out[e] = to_f32(raw);
            break;
        case T_FLOAT16:
            out[e] = half_to_float((uint16_t)raw);
            break;
        case T_INT32:
            out[e] = (float)to_i32(raw);
            break;
        case T_INT64:
            out[e] = (float)to_i64(raw);
            break;
        default: // T_BOOL
            out[e] = raw != 0 ? 1.0f : 0.0f;
            break;
        }
    }
    if (s->type == T_INT8 || s->type == T_UINT8) {
        rc = dequantize(L, dst_i, src_i, out, n);
    }
    for (uint64_t e = 0; rc == 0 && e < n; e++) {
        if (!isfinite(out[e])) {
            return cw_diag_set(L->diag, L->diag_len, CW_EMODEL,
                               "tensor %d (%s): constant holds NaN or Inf at element %llu", dst_i,
                               tname(L, dst_i), (unsigned long long)e);
        }
    }
    return rc;
}

// ---- operators -------------------------------------------------------------------------------

typedef struct opctx {
    uint32_t k;       // operator index in the file
    const char *name; // builtin name
    int32_t in[CW_NN_MAX_NODE_INPUTS];
    uint32_t n_in;
    int32_t out;
    const tbl_t *opt; // options table, NULL when absent (schema defaults apply)
} opctx_t;

static int op_err(ld_t *L, const opctx_t *o, int err, const char *what)
{
    return cw_diag_set(L->diag, L->diag_len, err, "operator %u (%s): %s", o->k, o->name, what);
}

static int need_inputs(ld_t *L, const opctx_t *o, uint32_t lo, uint32_t hi, uint32_t required)
{
    if (o->n_in < lo || o->n_in > hi) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "operator %u (%s): %u inputs, expected %u to %u", o->k, o->name, o->n_in,
                           lo, hi);
    }
    for (uint32_t i = 0; i < required && i < o->n_in; i++) {
        if (o->in[i] < 0) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "operator %u (%s): input %u is missing", o->k, o->name, i);
        }
    }
    return 0;
}

static int map_act(ld_t *L, const opctx_t *o, int8_t a, cw_nn_act_t *out)
{
    static const cw_nn_act_t acts[] = {CW_NN_ACT_NONE, CW_NN_ACT_RELU, CW_NN_ACT_RELU_N1_TO_1,
                                       CW_NN_ACT_RELU6, CW_NN_ACT_TANH};
    if (a < 0 || a >= (int)(sizeof(acts) / sizeof(acts[0]))) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "operator %u (%s): fused activation %d is not supported", o->k, o->name,
                           a);
    }
    *out = acts[a];
    return 0;
}

static int read_act(ld_t *L, const opctx_t *o, unsigned id, cw_nn_act_t *out)
{
    int8_t a;
    int rc = get_i8(L, o->opt, id, 0, &a);
    return rc != 0 ? rc : map_act(L, o, a, out);
}

static int read_padding(ld_t *L, const opctx_t *o, cw_nn_padding_t *out)
{
    int8_t pad;
    int rc = get_i8(L, o->opt, 0, 0, &pad);
    if (rc != 0) {
        return rc;
    }
    if (pad != 0 && pad != 1) {
        return op_err(L, o, CW_EFORMAT, "padding is neither SAME nor VALID");
    }
    *out = pad == 0 ? CW_NN_PAD_SAME : CW_NN_PAD_VALID;
    return 0;
}

// A stride, filter size or dilation: absent fields take the schema default, which for strides
// and filter sizes is 0 and therefore refused here.
static int read_size(ld_t *L, const opctx_t *o, unsigned id, int32_t def, const char *what,
                     int *out)
{
    int32_t v;
    int rc = get_i32(L, o->opt, id, def, &v);
    if (rc != 0) {
        return rc;
    }
    if (v < 1 || v > MAX_DIM) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "operator %u (%s): %s is %d", o->k,
                           o->name, what, v);
    }
    *out = v;
    return 0;
}

// The values of an integer constant that parameterises an operator (shape, axes, paddings,
// slice bounds): at most max values, from a file constant of type INT32 or INT64.
static int read_ints(ld_t *L, const opctx_t *o, int32_t t, int max_rank, int64_t *vals,
                     uint32_t max, uint32_t *n)
{
    if (t < 0 || L->ti[t].bytes == 0) {
        return op_err(L, o, CW_EUNSUPPORTED, "parameter tensor is computed at run time");
    }
    const tinfo_t *ti = &L->ti[t];
    const cw_nn_shape_t *s = &L->m->tensors[t].shape;
    unsigned size = ti->type == T_INT32 ? 4 : ti->type == T_INT64 ? 8 : 0;
    if (size == 0) {
        return op_err(L, o, CW_EUNSUPPORTED, "parameter tensor is not int32 or int64");
    }
    uint64_t count = n_elems(s);
    if (s->rank > max_rank || count > max) {
        return op_err(L, o, CW_EFORMAT, "parameter tensor has the wrong shape");
    }
    if ((uint64_t)ti->bytes != count * size) {
        return op_err(L, o, CW_ECORRUPT, "parameter tensor size does not match its shape");
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t raw = le(L->p + ti->data + i * size, size);
        vals[i] = size == 4 ? to_i32(raw) : to_i64(raw);
    }
    *n = (uint32_t)count;
    return 0;
}

static int op_conv(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    bool dw = nd->op == CW_NN_OP_DEPTHWISE_CONV2D;
    int rc = need_inputs(L, o, 2, 3, 2);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 3;
    nd->in[0] = o->in[0];
    nd->in[1] = o->in[1];
    nd->in[2] = o->n_in == 3 ? o->in[2] : -1;
    // Field ids shift by one after stride_h in depthwise (depth_multiplier comes first).
    unsigned d = dw ? 1 : 0;
    int32_t mult = 1;
    if ((rc = read_padding(L, o, &nd->p.conv.padding)) != 0 ||
        (rc = read_size(L, o, 1, 0, "stride_w", &nd->p.conv.stride_w)) != 0 ||
        (rc = read_size(L, o, 2, 0, "stride_h", &nd->p.conv.stride_h)) != 0 ||
        (dw && (rc = get_i32(L, o->opt, 3, 0, &mult)) != 0) ||
        (rc = read_act(L, o, 3 + d, &nd->act)) != 0 ||
        (rc = read_size(L, o, 4 + d, 1, "dilation_w", &nd->p.conv.dilation_w)) != 0 ||
        (rc = read_size(L, o, 5 + d, 1, "dilation_h", &nd->p.conv.dilation_h)) != 0) {
        return rc;
    }
    if (mult < 0 || mult > MAX_DIM) {
        return op_err(L, o, CW_EFORMAT, "bad depth_multiplier");
    }
    // Newer converters leave depth_multiplier at 0 and TFLite infers it from the shapes; do
    // the same when both channel counts are known, else leave 0 for the planner.
    const cw_nn_shape_t *x = &L->m->tensors[nd->in[0]].shape;
    const cw_nn_shape_t *w = &L->m->tensors[nd->in[1]].shape;
    if (dw && mult == 0 && x->rank == 4 && w->rank == 4 && x->dims[3] > 0 &&
        w->dims[3] % x->dims[3] == 0) {
        mult = w->dims[3] / x->dims[3];
    }
    nd->p.conv.depth_multiplier = mult;
    return 0;
}

static int op_fc(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 2, 3, 2);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 3;
    nd->in[0] = o->in[0];
    nd->in[1] = o->in[1];
    nd->in[2] = o->n_in == 3 ? o->in[2] : -1;
    int8_t format, keep;
    if ((rc = read_act(L, o, 0, &nd->act)) != 0 || (rc = get_i8(L, o->opt, 1, 0, &format)) != 0 ||
        (rc = get_i8(L, o->opt, 2, 0, &keep)) != 0) {
        return rc;
    }
    if (format != 0) {
        return op_err(L, o, CW_EUNSUPPORTED, "shuffled weights format is not supported");
    }
    nd->p.fc.keep_num_dims = keep != 0;
    return 0;
}

static int op_pool(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 1, 1, 1);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    if ((rc = read_padding(L, o, &nd->p.pool.padding)) != 0 ||
        (rc = read_size(L, o, 1, 0, "stride_w", &nd->p.pool.stride_w)) != 0 ||
        (rc = read_size(L, o, 2, 0, "stride_h", &nd->p.pool.stride_h)) != 0 ||
        (rc = read_size(L, o, 3, 0, "filter_width", &nd->p.pool.filter_w)) != 0 ||
        (rc = read_size(L, o, 4, 0, "filter_height", &nd->p.pool.filter_h)) != 0) {
        return rc;
    }
    return read_act(L, o, 5, &nd->act);
}

static int op_reshape(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 1, 2, 1);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    int64_t v[CW_NN_MAX_RANK];
    uint32_t n = 0;
    // Like TFLite, a shape tensor takes precedence over the new_shape option.
    if (o->n_in == 2 && o->in[1] >= 0) {
        rc = read_ints(L, o, o->in[1], 1, v, CW_NN_MAX_RANK, &n);
        if (rc != 0) {
            return rc;
        }
    } else {
        vec_t ns;
        if ((rc = get_vec(L, o->opt, 0, 4, &ns)) != 0) {
            return rc;
        }
        if (ns.start == 0) {
            return op_err(L, o, CW_EFORMAT, "no target shape");
        }
        if (ns.n > CW_NN_MAX_RANK) {
            return op_err(L, o, CW_EUNSUPPORTED, "target rank above 4");
        }
        n = ns.n;
        for (uint32_t i = 0; i < n; i++) {
            v[i] = vec_i32(L, &ns, i);
        }
    }
    int open = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i] == -1) {
            open++;
        } else if (v[i] < 1 || v[i] > MAX_DIM) {
            return op_err(L, o, CW_EFORMAT, "bad target dimension");
        }
        nd->p.reshape.shape.dims[i] = (int32_t)v[i];
    }
    if (open > 1) {
        return op_err(L, o, CW_EFORMAT, "more than one open (-1) target dimension");
    }
    nd->p.reshape.shape.rank = (int)n;
    return 0;
}

static int op_reduce(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 2, 2, 2);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    int64_t axes[MAX_AXES];
    uint32_t n;
    int8_t keep;
    if ((rc = read_ints(L, o, o->in[1], 1, axes, MAX_AXES, &n)) != 0 ||
        (rc = get_i8(L, o->opt, 0, 0, &keep)) != 0) {
        return rc;
    }
    int rank = L->m->tensors[o->in[0]].shape.rank;
    uint32_t mask = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank) {
            return op_err(L, o, CW_EFORMAT, "axis out of range for the input's rank");
        }
        mask |= 1u << a;
    }
    nd->p.reduce.axes = mask;
    nd->p.reduce.keep_dims = keep != 0;
    return 0;
}

static int op_pad(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 2, 2, 2);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    int64_t v[2 * CW_NN_MAX_RANK];
    uint32_t n;
    if ((rc = read_ints(L, o, o->in[1], 2, v, 2 * CW_NN_MAX_RANK, &n)) != 0) {
        return rc;
    }
    const cw_nn_shape_t *ps = &L->m->tensors[o->in[1]].shape;
    int rank = L->m->tensors[o->in[0]].shape.rank;
    if (ps->rank != 2 || ps->dims[1] != 2 || (rank > 0 && ps->dims[0] != rank)) {
        return op_err(L, o, CW_EFORMAT, "paddings are not [rank, 2]");
    }
    for (uint32_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] > MAX_DIM) {
            return op_err(L, o, CW_EFORMAT, "padding out of range");
        }
    }
    for (uint32_t i = 0; i < n / 2; i++) {
        nd->p.pad.before[i] = (int32_t)v[2 * i];
        nd->p.pad.after[i] = (int32_t)v[2 * i + 1];
    }
    return 0;
}

static int op_slice(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 4, 4, 4);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    int64_t v[3][CW_NN_MAX_RANK];
    uint32_t n[3];
    for (int j = 0; j < 3; j++) {
        if ((rc = read_ints(L, o, o->in[1 + j], 1, v[j], CW_NN_MAX_RANK, &n[j])) != 0) {
            return rc;
        }
    }
    int rank = L->m->tensors[o->in[0]].shape.rank;
    if (n[0] != n[1] || n[0] != n[2] || n[0] == 0 || (rank > 0 && n[0] > (uint32_t)rank)) {
        return op_err(L, o, CW_EFORMAT, "begin, end and strides do not match the input's rank");
    }
    int32_t m[5];
    int8_t offset;
    for (unsigned id = 0; id < 5; id++) {
        if ((rc = get_i32(L, o->opt, id, 0, &m[id])) != 0) {
            return rc;
        }
    }
    if ((rc = get_i8(L, o->opt, 5, 0, &offset)) != 0) {
        return rc;
    }
    if (m[2] != 0 || m[3] != 0 || offset != 0) {
        return op_err(L, o, CW_EUNSUPPORTED, "ellipsis, new-axis and offset slicing");
    }
    uint32_t used = (1u << n[0]) - 1;
    for (int j = 0; j < 5; j++) {
        if ((uint32_t)m[j] & ~used) {
            return op_err(L, o, CW_EFORMAT, "mask names an axis that is not sliced");
        }
    }
    for (uint32_t i = 0; i < CW_NN_MAX_RANK; i++) {
        if (i >= n[0]) {
            // Axes past the given bounds are taken whole, as TFLite does.
            nd->p.slice.begin[i] = 0;
            nd->p.slice.end[i] = 0;
            nd->p.slice.stride[i] = 1;
            m[0] |= (int32_t)(1u << i);
            m[1] |= (int32_t)(1u << i);
            continue;
        }
        for (int j = 0; j < 3; j++) {
            if (v[j][i] < INT32_MIN || v[j][i] > INT32_MAX) {
                return op_err(L, o, CW_EFORMAT, "slice bound out of range");
            }
        }
        if (v[2][i] == 0) {
            return op_err(L, o, CW_EFORMAT, "zero slice stride");
        }
        nd->p.slice.begin[i] = (int32_t)v[0][i];
        nd->p.slice.end[i] = (int32_t)v[1][i];
        nd->p.slice.stride[i] = (int32_t)v[2][i];
    }
    nd->p.slice.begin_mask = (uint32_t)m[0];
    nd->p.slice.end_mask = (uint32_t)m[1];
    nd->p.slice.shrink_axis_mask = (uint32_t)m[4];
    return 0;
}

static bool is_float_type(int8_t t)
{
    return t == T_FLOAT32 || t == T_FLOAT16 || t == 10 /* FLOAT64 */;
}

static int op_cast(ld_t *L, const opctx_t *o, cw_nn_node_t *nd)
{
    int rc = need_inputs(L, o, 1, 1, 1);
    if (rc != 0) {
        return rc;
    }
    nd->n_in = 1;
    nd->in[0] = o->in[0];
    int8_t from = L->ti[o->in[0]].type;
    int8_t to = L->ti[o->out].type;
    if (to == T_BOOL && from != T_BOOL) {
        return op_err(L, o, CW_EUNSUPPORTED, "cast to bool");
    }
    nd->p.cast.to_int = is_float_type(from) && !is_float_type(to);
    return 0;
}

static int op_dequantize(ld_t *L, const opctx_t *o, cw_nn_node_t *nd, bool *emit)
{
    int rc = need_inputs(L, o, 1, 1, 1);
    if (rc != 0) {
        return rc;
    }
    int32_t x = o->in[0];
    if (!has_data(L, x)) {
        if (!is_float_type(L->ti[x].type)) {
            return op_err(L, o, CW_EUNSUPPORTED, "dequantizing a quantized activation");
        }
        nd->n_in = 1;
        nd->in[0] = x;
        return 0;
    }
    // A constant in: the output becomes that constant, dequantised when it is materialised.
    const cw_nn_shape_t *a = &L->m->tensors[x].shape;
    const cw_nn_shape_t *b = &L->m->tensors[o->out].shape;
    if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof(a->dims[0]) * (size_t)a->rank)) {
        return op_err(L, o, CW_EFORMAT, "output shape differs from the constant's");
    }
    if (has_data(L, o->out)) {
        return op_err(L, o, CW_EFORMAT, "output is already a constant");
    }
    L->ti[o->out].fold_src = L->ti[x].fold_src >= 0 ? L->ti[x].fold_src : x;
    *emit = false;
    return 0;
}

static int load_op(ld_t *L, uint32_t k, const tbl_t *t)
{
    uint64_t raw;
    int rc = get_raw(L, t, 0, 4, 0, &raw);
    if (rc != 0) {
        return rc;
    }
    if (raw >= L->opcodes.n) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "operator %u: operator code %llu out of range", k,
                           (unsigned long long)raw);
    }
    tbl_t oc;
    int8_t dep;
    int32_t code;
    if ((rc = vec_table(L, &L->opcodes, (uint32_t)raw, &oc)) != 0 ||
        (rc = get_i8(L, &oc, 0, 0, &dep)) != 0 || (rc = get_i32(L, &oc, 3, 0, &code)) != 0) {
        return rc;
    }
    // Old files only set the 8-bit code, newer ones the 32-bit one (with the 8-bit capped at
    // 127); the larger is the real one.
    if (dep > code) {
        code = dep;
    }
    if (code == OP_CUSTOM) {
        vec_t cc;
        char cname[48];
        if ((rc = get_vec(L, &oc, 1, 1, &cc)) != 0) {
            return rc;
        }
        copy_name(cname, sizeof(cname), L->p + cc.start, cc.n);
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "operator %u: custom operator '%s' is not supported", k, cname);
    }
    const opmap_t *map = NULL;
    for (size_t i = 0; i < sizeof(opmap) / sizeof(opmap[0]); i++) {
        if (opmap[i].code == code) {
            map = &opmap[i];
        }
    }
    char name[40];
    builtin_name(code, name, sizeof(name));
    if (map == NULL) {
        if (name[0] != '\0') {
            return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                               "operator %u: %s is not supported", k, name);
        }
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "operator %u: builtin operator %d is not supported", k, code);
    }

    opctx_t o = {.k = k, .name = name, .opt = NULL};
    vec_t vin, vout;
    if ((rc = get_vec(L, t, 1, 4, &vin)) != 0 || (rc = get_vec(L, t, 2, 4, &vout)) != 0) {
        return rc;
    }
    if (vin.n > CW_NN_MAX_NODE_INPUTS) {
        return op_err(L, &o, CW_EUNSUPPORTED, "more than 16 inputs");
    }
    if (vout.n != 1) {
        return op_err(L, &o, CW_EFORMAT, "expected exactly one output");
    }
    o.n_in = vin.n;
    for (uint32_t i = 0; i < vin.n; i++) {
        o.in[i] = vec_i32(L, &vin, i);
        if (o.in[i] < -1 || o.in[i] >= (int64_t)L->n_tensors) {
            return op_err(L, &o, CW_EFORMAT, "input tensor index out of range");
        }
    }
    o.out = vec_i32(L, &vout, 0);
    if (o.out < 0 || o.out >= (int64_t)L->n_tensors) {
        return op_err(L, &o, CW_EFORMAT, "output tensor index out of range");
    }

    // Options of another type than the operator's are a malformed file; none means defaults.
    tbl_t opt;
    bool has_opt = false;
    if (map->options != OPT_NONE) {
        if ((rc = get_raw(L, t, 3, 1, 0, &raw)) != 0) {
            return rc;
        }
        if (raw != OPT_NONE && raw != map->options) {
            return op_err(L, &o, CW_EFORMAT, "options table of the wrong type");
        }
        if (raw == map->options && (rc = get_table(L, t, 4, &opt, &has_opt)) != 0) {
            return rc;
        }
    }
    o.opt = has_opt ? &opt : NULL;

    cw_nn_node_t *nd = &L->m->nodes[L->m->n_nodes];
    memset(nd, 0, sizeof(*nd));
    nd->op = map->op;
    nd->n_out = 1;
    nd->out[0] = o.out;
    nd->act = CW_NN_ACT_NONE;
    bool emit = true;
    switch (map->op) {
    case CW_NN_OP_CONV2D:
    case CW_NN_OP_DEPTHWISE_CONV2D:
        rc = op_conv(L, &o, nd);
        break;
    case CW_NN_OP_FULLY_CONNECTED:
        rc = op_fc(L, &o, nd);
        break;
    case CW_NN_OP_MAX_POOL2D:
    case CW_NN_OP_AVG_POOL2D:
        rc = op_pool(L, &o, nd);
        break;
    case CW_NN_OP_ADD:
    case CW_NN_OP_SUB:
    case CW_NN_OP_MUL:
    case CW_NN_OP_DIV:
        if ((rc = need_inputs(L, &o, 2, 2, 2)) == 0) {
            rc = read_act(L, &o, 0, &nd->act);
        }
        nd->n_in = 2;
        memcpy(nd->in, o.in, 2 * sizeof(o.in[0]));
        break;
    case CW_NN_OP_MAXIMUM:
    case CW_NN_OP_MINIMUM:
    case CW_NN_OP_GREATER_EQUAL:
    case CW_NN_OP_LESS:
    case CW_NN_OP_PRELU:
        rc = need_inputs(L, &o, 2, 2, 2);
        nd->n_in = 2;
        memcpy(nd->in, o.in, 2 * sizeof(o.in[0]));
        break;
    case CW_NN_OP_RESHAPE:
        rc = op_reshape(L, &o, nd);
        break;
    case CW_NN_OP_REDUCE_MAX:
    case CW_NN_OP_REDUCE_SUM:
    case CW_NN_OP_REDUCE_MEAN:
        rc = op_reduce(L, &o, nd);
        break;
    case CW_NN_OP_PAD:
        rc = op_pad(L, &o, nd);
        break;
    case CW_NN_OP_STRIDED_SLICE:
        rc = op_slice(L, &o, nd);
        break;
    case CW_NN_OP_CONCAT:
        if ((rc = need_inputs(L, &o, 1, CW_NN_MAX_NODE_INPUTS, CW_NN_MAX_NODE_INPUTS)) == 0 &&
            (rc = get_i32(L, o.opt, 0, 0, &nd->p.concat.axis)) == 0 &&
            (rc = read_act(L, &o, 1, &nd->act)) == 0 &&
            (nd->p.concat.axis < -CW_NN_MAX_RANK || nd->p.concat.axis >= CW_NN_MAX_RANK)) {
            rc = op_err(L, &o, CW_EFORMAT, "axis out of range");
        }
        nd->n_in = (int)o.n_in;
        memcpy(nd->in, o.in, o.n_in * sizeof(o.in[0]));
        break;
    case CW_NN_OP_SOFTMAX:
        // The schema's default beta is 0 (a flat softmax): taken as written, like TFLite.
        if ((rc = need_inputs(L, &o, 1, 1, 1)) == 0 &&
            (rc = get_f32(L, o.opt, 0, 0.0f, &nd->p.softmax.beta)) == 0 &&
            !isfinite(nd->p.softmax.beta)) {
            rc = op_err(L, &o, CW_EMODEL, "beta is NaN or Inf");
        }
        nd->n_in = 1;
        nd->in[0] = o.in[0];
        break;
    case CW_NN_OP_LEAKY_RELU:
        if ((rc = need_inputs(L, &o, 1, 1, 1)) == 0 &&
            (rc = get_f32(L, o.opt, 0, 0.0f, &nd->p.leaky.alpha)) == 0 &&
            !isfinite(nd->p.leaky.alpha)) {
            rc = op_err(L, &o, CW_EMODEL, "alpha is NaN or Inf");
        }
        nd->n_in = 1;
        nd->in[0] = o.in[0];
        break;
    case CW_NN_OP_L2_NORM:
        if ((rc = need_inputs(L, &o, 1, 1, 1)) == 0) {
            rc = read_act(L, &o, 0, &nd->act);
        }
        nd->n_in = 1;
        nd->in[0] = o.in[0];
        break;
    case CW_NN_OP_CAST:
        rc = op_cast(L, &o, nd);
        break;
    case CW_NN_OP_IDENTITY:
        rc = op_dequantize(L, &o, nd, &emit);
        break;
    default: // the element-wise unary operators
        rc = need_inputs(L, &o, 1, 1, 1);
        nd->n_in = 1;
        nd->in[0] = o.in[0];
        break;
    }
    if (rc == 0 && emit) {
        L->node_op[L->m->n_nodes] = (int32_t)k;
        L->m->n_nodes++;
    }
    return rc;
}

// ---- the graph -------------------------------------------------------------------------------

static int load_io(ld_t *L, const tbl_t *sg, unsigned id, int *dst, int cap, int *n_out)
{
    vec_t v;
    int rc = get_vec(L, sg, id, 4, &v);
    if (rc != 0) {
        return rc;
    }
    const char *what = id == 1 ? "inputs" : "outputs";
    if (v.n > (uint32_t)cap) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "%u graph %s, at most %d supported", v.n, what, cap);
    }
    if (v.n == 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "the graph has no %s", what);
    }
    for (uint32_t i = 0; i < v.n; i++) {
        int32_t t = vec_i32(L, &v, i);
        if (t < 0 || (uint32_t)t >= L->n_tensors) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "graph %s: tensor index %d out of range", what, t);
        }
        dst[i] = t;
        if (id == 1) {
            L->ti[t].is_input = true;
        }
    }
    *n_out = (int)v.n;
    return 0;
}

// Execution order, single assignment and types: every node reads tensors that are constants,
// graph inputs or written by an earlier node, writes a tensor nothing else writes, and every
// tensor that exists at run time has a type the float runtime can stand in for.
static int check_graph(ld_t *L)
{
    cw_nn_model_t *m = L->m;
    for (uint32_t t = 0; t < L->n_tensors; t++) {
        L->ti[t].ready = has_data(L, (int32_t)t) || L->ti[t].is_input;
    }
    for (int j = 0; j < m->n_nodes; j++) {
        const cw_nn_node_t *nd = &m->nodes[j];
        const char *name = cw__nn_op_name(nd->op);
        for (int i = 0; i < nd->n_in; i++) {
            int32_t t = nd->in[i];
            if (t >= 0 && !L->ti[t].ready) {
                return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                                   "operator %d (%s) reads tensor %d (%s) before it is written",
                                   L->node_op[j], name, t, tname(L, t));
            }
            if (t >= 0) {
                L->ti[t].kept = true;
            }
        }
        int32_t w = nd->out[0];
        if (L->ti[w].ready) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "operator %d (%s) writes tensor %d (%s), which is a constant, an "
                               "input or written before",
                               L->node_op[j], name, w, tname(L, w));
        }
        L->ti[w].ready = true;
        L->ti[w].kept = true;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        L->ti[m->inputs[i]].kept = true;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        int32_t t = m->outputs[i];
        if (!L->ti[t].ready) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                               "graph output %d (%s) is never written", t, tname(L, t));
        }
        L->ti[t].kept = true;
    }
    uint64_t const_bytes = 0;
    for (uint32_t t = 0; t < L->n_tensors; t++) {
        const tinfo_t *ti = &L->ti[t];
        if (!ti->kept) {
            continue;
        }
        if (has_data(L, (int32_t)t)) {
            uint64_t n = n_elems(&m->tensors[t].shape);
            const_bytes += n == UINT64_MAX ? MAX_CONST_BYTES + 1 : n * sizeof(float);
            if (const_bytes > MAX_CONST_BYTES) {
                return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG,
                                   "constants need more than %llu MiB as float32",
                                   (unsigned long long)(MAX_CONST_BYTES >> 20));
            }
            unsigned size;
            int32_t src = ti->fold_src >= 0 ? ti->fold_src : (int32_t)t;
            int rc = check_const(L, (int32_t)t, src, n, &size);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        // Quantized activations would need integer kernels; bool and integer results of
        // comparisons and casts are carried as floats.
        int8_t ty = ti->type;
        if (ty != T_FLOAT32 && ty != T_FLOAT16 && ty != T_INT32 && ty != T_INT64 && ty != T_BOOL) {
            return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                               "tensor %u (%s): activations of type %d are not supported", t,
                               tname(L, (int32_t)t), ty);
        }
    }
    return 0;
}

// Convert the constants that stay, then drop the tensors nothing refers to. Nothing after the
// conversions can fail, so on error every data pointer is still in its tensor's own slot.
static int finish(ld_t *L)
{
    cw_nn_model_t *m = L->m;
    for (uint32_t t = 0; t < L->n_tensors; t++) {
        if (!L->ti[t].kept || !has_data(L, (int32_t)t)) {
            continue;
        }
        uint64_t n = n_elems(&m->tensors[t].shape);
        float *data = cw_aligned_alloc(64, (size_t)n * sizeof(float));
        if (data == NULL) {
            return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for constants");
        }
        m->tensors[t].data = data;
        m->tensors[t].is_const = 1;
        int32_t src = L->ti[t].fold_src >= 0 ? L->ti[t].fold_src : (int32_t)t;
        int rc = convert_const(L, (int32_t)t, src, data, n);
        if (rc != 0) {
            return rc;
        }
    }
    int32_t kept = 0;
    for (uint32_t t = 0; t < L->n_tensors; t++) {
        L->ti[t].new_index = L->ti[t].kept ? kept++ : -1;
        if (L->ti[t].kept && (uint32_t)L->ti[t].new_index != t) {
            m->tensors[L->ti[t].new_index] = m->tensors[t];
        }
    }
    memset(&m->tensors[kept], 0, (L->n_tensors - (uint32_t)kept) * sizeof(m->tensors[0]));
    m->n_tensors = kept;
    for (int j = 0; j < m->n_nodes; j++) {
        cw_nn_node_t *nd = &m->nodes[j];
        for (int i = 0; i < nd->n_in; i++) {
            nd->in[i] = nd->in[i] < 0 ? -1 : L->ti[nd->in[i]].new_index;
        }
        nd->out[0] = L->ti[nd->out[0]].new_index;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        m->inputs[i] = L->ti[m->inputs[i]].new_index;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        m->outputs[i] = L->ti[m->outputs[i]].new_index;
    }
    return 0;
}

static int load(ld_t *L)
{
    cw_nn_model_t *m = L->m;
    if (L->len < 8 || memcmp(L->p + 4, "TFL3", 4) != 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED, "not a TFLite model");
    }
    tbl_t root, sg;
    vec_t subgraphs, tensors, ops;
    uint64_t version;
    int rc;
    if ((rc = tbl_open(L, le(L->p, 4), &root)) != 0 ||
        (rc = get_raw(L, &root, 0, 4, 0, &version)) != 0) {
        return rc;
    }
    if (version != SCHEMA_VERSION) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "TFLite schema version %llu, only 3 is supported",
                           (unsigned long long)version);
    }
    if ((rc = get_vec(L, &root, 1, 4, &L->opcodes)) != 0 ||
        (rc = get_vec(L, &root, 2, 4, &subgraphs)) != 0 ||
        (rc = get_vec(L, &root, 4, 4, &L->buffers)) != 0) {
        return rc;
    }
    if (subgraphs.n != 1) {
        return cw_diag_set(L->diag, L->diag_len, subgraphs.n == 0 ? CW_EFORMAT : CW_EUNSUPPORTED,
                           "%u subgraphs, exactly one is supported", subgraphs.n);
    }
    if ((rc = vec_table(L, &subgraphs, 0, &sg)) != 0 ||
        (rc = get_vec(L, &sg, 0, 4, &tensors)) != 0 || (rc = get_vec(L, &sg, 3, 4, &ops)) != 0) {
        return rc;
    }
    if (tensors.n == 0 || tensors.n > MAX_TENSORS || ops.n > MAX_OPS) {
        return cw_diag_set(L->diag, L->diag_len, tensors.n == 0 ? CW_EFORMAT : CW_ETOOBIG,
                           "%u tensors and %u operators (at most %d each)", tensors.n, ops.n,
                           MAX_TENSORS);
    }
    L->n_tensors = tensors.n;
    L->ti = cw_calloc(tensors.n, sizeof(*L->ti));
    m->tensors = cw_calloc(tensors.n, sizeof(*m->tensors));
    m->nodes = cw_calloc(ops.n > 0 ? ops.n : 1, sizeof(*m->nodes));
    L->node_op = cw_calloc(ops.n > 0 ? ops.n : 1, sizeof(*L->node_op));
    if (L->ti == NULL || m->tensors == NULL || m->nodes == NULL || L->node_op == NULL) {
        return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for the graph");
    }
    m->n_tensors = (int)tensors.n;
    for (uint32_t t = 0; t < tensors.n; t++) {
        L->ti[t].fold_src = -1;
    }
    // Inputs first: whether a tensor is one decides which of its dimensions may be open.
    if ((rc = load_io(L, &sg, 1, m->inputs, CW_NN_MAX_NODE_INPUTS, &m->n_inputs)) != 0 ||
        (rc = load_io(L, &sg, 2, m->outputs, CW_NN_MAX_NODE_OUTPUTS, &m->n_outputs)) != 0) {
        return rc;
    }
    for (uint32_t t = 0; t < tensors.n; t++) {
        tbl_t tt;
        if ((rc = vec_table(L, &tensors, t, &tt)) != 0 || (rc = load_tensor(L, t, &tt)) != 0) {
            return rc;
        }
    }
    for (uint32_t k = 0; k < ops.n; k++) {
        tbl_t ot;
        if ((rc = vec_table(L, &ops, k, &ot)) != 0 || (rc = load_op(L, k, &ot)) != 0) {
            return rc;
        }
    }
    if ((rc = check_graph(L)) != 0) {
        return rc;
    }
    return finish(L);
}

int cw__nn_load_tflite(const uint8_t *buf, size_t len, struct cw_nn_model *model, char *diag,
                       size_t diag_len)
{
    ld_t L = {.p = buf, .len = len, .diag = diag, .diag_len = diag_len, .m = model};
    int rc = load(&L);
    cw_free(L.ti);
    cw_free(L.node_op);
    return rc;
}
