// SPDX-License-Identifier: Apache-2.0
// ONNX model loader: a hand-written protobuf reader for the parts of onnx.proto a float32
// inference graph uses (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto), turning the graph into the nn module's representation (nn_internal.h). The
// file is untrusted: every varint, length and count is checked against its enclosing message with
// 64-bit arithmetic before it is used, ranks, dimensions and counts are capped, constants are
// copied out (NaN and Inf refused) so that the model never points into the caller's buffer, and
// nodes may only read names defined before them, which keeps the graph acyclic and in order.
//
// Layout. ONNX images are NCHW; the IR and its kernels are NHWC. The conversion is done once, at
// load, so that nothing is transposed at run time: every 4-D activation, graph inputs and
// outputs included, is NHWC in the IR (a file input declared [1,3,112,112] is declared, and must
// be fed, as [1,112,112,3]: callers hand over interleaved pixels as they are); Conv weights
// [O,I,KH,KW] become [O,KH,KW,I], depthwise ones (group = channels) [M,1,KH,KW] become
// [1,KH,KW,M]; a constant that broadcasts against a 4-D result (PRelu slopes [C,1,1], an Add's
// [1,C,H,W]) is right-aligned to 4-D and permuted the same way; axes of 4-D tensors (Concat) are
// mapped; and a Flatten or Reshape of a 4-D activation reads it in NCHW order (the reshape's
// from_nchw flag). Tensors of other ranks keep the file's layout, and Reshape to 4-D, whose
// result would be NCHW, is refused.
//
// Shapes are static (every graph input must declare fixed dimensions): they are inferred node by
// node with the planner's rules as the graph is read, which is what the layout decisions above
// need, and declared output shapes are checked against them. Operators outside the table below
// are refused with CW_EUNSUPPORTED naming them, and so is any attribute an operator does not
// know, so that a semantics-changing attribute is never silently ignored.
#include "nn_internal.h"
#include "ops.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// Caps on what a model may declare: counts (of nodes, initializers, inputs and outputs each),
// per-axis size of inputs and constants, the float32 constant memory, and the elements of any one
// activation (1 GiB as float32, the planner's cap). A name sits at most MAX_PROBE slots from its
// hash's in the name table, so that names crafted to collide cost a refusal, not quadratic time.
enum { MAX_COUNT = 100000, MAX_DIM = 65536, MAX_ATTRS = 32, MAX_INTS = 8 };
#define MAX_CONST_BYTES ((uint64_t)512 << 20)
#define MAX_ACT_ELEMS ((uint64_t)1 << 28)
enum { MAX_PROBE = 64 };

// The opsets whose definitions of the supported operators were checked: from 7 (numpy-style
// broadcasting in Add and PRelu, Reshape's shape input) to 21.
enum { MIN_OPSET = 7, MAX_OPSET = 21, MIN_IR_VERSION = 3 };

// Field numbers and enum values from onnx.proto.
enum { MODEL_IR_VERSION = 1, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum {
    GRAPH_NODE = 1,
    GRAPH_INITIALIZER = 5,
    GRAPH_INPUT = 11,
    GRAPH_OUTPUT = 12,
    GRAPH_SPARSE_INITIALIZER = 15
};
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5, NODE_DOMAIN = 7 };
enum {
    ATTR_NAME = 1,
    ATTR_F = 2,
    ATTR_I = 3,
    ATTR_S = 4,
    ATTR_FLOATS = 7,
    ATTR_INTS = 8,
    ATTR_TYPE = 20
};
enum { AT_NONE = 0, AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_FLOATS = 6, AT_INTS = 7 };
enum {
    TENSOR_DIMS = 1,
    TENSOR_DATA_TYPE = 2,
    TENSOR_SEGMENT = 3,
    TENSOR_FLOAT_DATA = 4,
    TENSOR_INT32_DATA = 5,
    TENSOR_STRING_DATA = 6,
    TENSOR_INT64_DATA = 7,
    TENSOR_NAME = 8,
    TENSOR_RAW_DATA = 9,
    TENSOR_DOUBLE_DATA = 10,
    TENSOR_UINT64_DATA = 11,
    TENSOR_EXTERNAL_DATA = 13,
    TENSOR_DATA_LOCATION = 14
};
enum { DT_FLOAT = 1, DT_INT64 = 7 };
enum { VI_NAME = 1, VI_TYPE = 2, TYPE_TENSOR = 1, TT_ELEM_TYPE = 1, TT_SHAPE = 2, SHAPE_DIM = 1 };
enum { DIM_VALUE = 1, DIM_PARAM = 2 };
enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

// How an initializer is laid out as an IR constant: as stored; right-aligned to 4-D and permuted
// NCHW -> NHWC (data broadcast against 4-D results, and Conv weights, whose [O,I,KH,KW] ->
// [O,KH,KW,I] is the same permutation); depthwise weights [M,1,KH,KW] -> [1,KH,KW,M]; and a
// transposed matrix (Gemm's B without transB).
typedef enum role { R_PLAIN, R_NCHW, R_DW, R_T2D, ROLE_COUNT } role_t;

// ---- protobuf reader -------------------------------------------------------------------------

typedef struct span {
    uint64_t at, len; // a byte range of the file
} span_t;

typedef struct pbr {
    uint64_t pos, end; // the unread rest of one message
} pbr_t;

typedef struct pbf {
    uint32_t num;
    unsigned wire;
    uint64_t v;  // varint, fixed32 or fixed64 value
    span_t s;    // length-delimited payload
    uint64_t at; // where the field's tag is, for messages
} pbf_t;

typedef struct init {
    span_t name, msg, raw;
    int32_t dtype;
    int rank; // > CW_NN_MAX_RANK: refused when used (dims then hold the first four)
    int32_t dims[CW_NN_MAX_RANK];
    uint32_t typed_field; // the *_data field holding the values, 0 when none
    uint64_t n_typed;     // how many values it holds, once counted (counted true)
    bool has_raw, external, segment, counted;
    int32_t ir[ROLE_COUNT]; // the IR constant made from it in each layout, -1 until needed
} init_t;

// A name of the graph: an initializer, or an activation (graph input or node output).
typedef struct value {
    span_t name;
    int32_t init;   // >= 0: an initializer
    int32_t tensor; // >= 0: the activation's IR tensor
} value_t;

typedef struct ld {
    const uint8_t *p;
    uint64_t len;
    char *diag;
    size_t diag_len;
    struct cw_nn_model *m;
    int cap_tensors;
    cw_nn_shape_t *shapes; // per IR tensor, as inferred (parallel to m->tensors)
    init_t *inits;
    uint32_t n_inits;
    span_t *node_msg, *input_msg, *output_msg;
    uint32_t n_nodes, n_input_msgs, n_output_msgs;
    value_t *values;
    uint32_t n_values, cap_values;
    int32_t *table; // open addressing over values, -1 empty
    uint32_t table_mask;
    uint64_t const_bytes;
} ld_t;

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static float to_f32(uint64_t u)
{
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}

static int64_t to_i64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static int pb_bad(ld_t *L, const char *what, uint64_t pos)
{
    return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "malformed protobuf: %s (byte %llu)", what,
                       (unsigned long long)pos);
}

static int rd_varint(ld_t *L, uint64_t *pos, uint64_t end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= end) {
            return pb_bad(L, "varint runs past its message", *pos);
        }
        uint8_t b = L->p[(*pos)++];
        if (i == 9 && b > 1) {
            return pb_bad(L, "varint longer than 64 bits", *pos - 1);
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return pb_bad(L, "varint longer than 64 bits", *pos); // not reached: byte 10 ends it
}

static pbr_t pb_open(span_t s)
{
    pbr_t r = {s.at, s.at + s.len};
    return r;
}

// The next field of r into *f; *more is false at the end of the message.
static int pb_next(ld_t *L, pbr_t *r, pbf_t *f, bool *more)
{
    *more = false;
    if (r->pos >= r->end) {
        return 0;
    }
    f->at = r->pos;
    uint64_t tag, n;
    int rc = rd_varint(L, &r->pos, r->end, &tag);
    if (rc != 0) {
        return rc;
    }
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
        return pb_bad(L, "bad field number", f->at);
    }
    f->num = (uint32_t)(tag >> 3);
    f->wire = (unsigned)(tag & 7);
    f->v = 0;
    f->s.at = f->s.len = 0;
    switch (f->wire) {
    case WIRE_VARINT:
        rc = rd_varint(L, &r->pos, r->end, &f->v);
        break;
    case WIRE_I64:
    case WIRE_I32:
        n = f->wire == WIRE_I64 ? 8 : 4;
        if (r->end - r->pos < n) {
            return pb_bad(L, "fixed-size value runs past its message", f->at);
        }
        f->v = le(L->p + r->pos, (unsigned)n);
        r->pos += n;
        break;
    case WIRE_LEN:
        if ((rc = rd_varint(L, &r->pos, r->end, &n)) != 0) {
            return rc;
        }
        if (n > r->end - r->pos) {
            return pb_bad(L, "length runs past its message", f->at);
        }
        f->s.at = r->pos;
        f->s.len = n;
        r->pos += n;
        break;
    default:
        return pb_bad(L, "unsupported wire type", f->at);
    }
    *more = rc == 0;
    return rc;
}

static int want_wire(ld_t *L, const pbf_t *f, unsigned wire)
{
    return f->wire == wire ? 0 : pb_bad(L, "field of the wrong wire type", f->at);
}

// ---- names -----------------------------------------------------------------------------------

// Names end up in diagnostics and logs: keep printable ASCII only, so a crafted name cannot
// inject line breaks or invalid UTF-8 into them.
static void copy_name(char *dst, size_t cap, const uint8_t *src, uint64_t n)
{
    size_t k = 0;
    for (; k < n && k + 1 < cap && src[k] != 0; k++) {
        dst[k] = src[k] >= 0x20 && src[k] < 0x7f ? (char)src[k] : '?';
    }
    dst[k] = '\0';
}

static bool span_is(const ld_t *L, span_t s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && memcmp(L->p + s.at, str, n) == 0;
}

static uint32_t name_hash(const ld_t *L, span_t s)
{
    uint32_t h = 2166136261u; // FNV-1a, then murmur3's finaliser to spread it into the low bits
    for (uint64_t i = 0; i < s.len; i++) {
        h = (h ^ L->p[s.at + i]) * 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

// Every name lies within MAX_PROBE slots of its hash's (define refuses more), so a search ends
// there too.
static value_t *lookup(ld_t *L, span_t name)
{
    uint32_t h = name_hash(L, name) & L->table_mask;
    for (int k = 0; k <= MAX_PROBE; k++, h = (h + 1) & L->table_mask) {
        int32_t v = L->table[h];
        if (v < 0) {
            return NULL;
        }
        span_t s = L->values[v].name;
        if (s.len == name.len && memcmp(L->p + s.at, L->p + name.at, name.len) == 0) {
            return &L->values[v];
        }
    }
    return NULL;
}

// Define a name; a second definition (a name written twice, or an initializer's name reused) is
// a malformed graph. The table has room for every value counted in advance.
static int define(ld_t *L, span_t name, int32_t init, int32_t tensor)
{
    char nm[CW_NN_NAME_MAX];
    copy_name(nm, sizeof(nm), L->p + name.at, name.len);
    if (name.len == 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "a value has an empty name");
    }
    if (lookup(L, name) != NULL) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "'%s' is defined twice", nm);
    }
    if (L->n_values >= L->cap_values) {
        return cw_diag_set(L->diag, L->diag_len, CW_EINTERNAL, "more values than counted");
    }
    uint32_t h = name_hash(L, name) & L->table_mask;
    for (int k = 0; L->table[h] >= 0; k++, h = (h + 1) & L->table_mask) {
        if (k == MAX_PROBE) {
            return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG, "'%s': too many names hash alike",
                               nm);
        }
    }
    L->table[h] = (int32_t)L->n_values;
    L->values[L->n_values++] = (value_t){.name = name, .init = init, .tensor = tensor};
    return 0;
}

// ---- IR tensors ------------------------------------------------------------------------------

static uint64_t numel(const cw_nn_shape_t *s)
{
    uint64_t n = 1;
    for (int k = 0; k < s->rank; k++) {
        n *= (uint64_t)(s->dims[k] > 0 ? s->dims[k] : 0);
        if (n > MAX_ACT_ELEMS) {
            return UINT64_MAX;
        }
    }
    return n;
}

// Append a tensor; data (a cw_aligned_alloc block, or NULL for an activation) becomes the
// model's even when this fails, so that it is freed with the model.
static int add_tensor(ld_t *L, const cw_nn_shape_t *shape, span_t name, float *data, int32_t *out)
{
    cw_nn_model_t *m = L->m;
    if (m->n_tensors == L->cap_tensors) {
        int cap = L->cap_tensors > 0 ? 2 * L->cap_tensors : 64;
        cw_nn_tensor_t *t = cw_reallocarray(m->tensors, (size_t)cap, sizeof(*t));
        if (t != NULL) {
            m->tensors = t;
        }
        cw_nn_shape_t *s = t != NULL ? cw_reallocarray(L->shapes, (size_t)cap, sizeof(*s)) : NULL;
        if (s == NULL) {
            cw_aligned_free(data);
            return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for the graph");
        }
        L->shapes = s;
        L->cap_tensors = cap;
    }
    int32_t t = m->n_tensors++;
    cw_nn_tensor_t *dst = &m->tensors[t];
    memset(dst, 0, sizeof(*dst));
    dst->shape = *shape;
    dst->data = data;
    dst->is_const = data != NULL;
    copy_name(dst->name, sizeof(dst->name), L->p + name.at, name.len);
    L->shapes[t] = *shape;
    *out = t;
    return 0;
}

// The dimensions of an IR shape in the file's order: 4-D NHWC back to NCHW.
static void file_dims(const cw_nn_shape_t *s, int32_t *d)
{
    if (s->rank == 4) {
        d[0] = s->dims[0];
        d[1] = s->dims[3];
        d[2] = s->dims[1];
        d[3] = s->dims[2];
        return;
    }
    memcpy(d, s->dims, sizeof(s->dims[0]) * (size_t)s->rank);
}

// dst = the file's values, (rank-4) axes permuted: dst's axis i is the source's axis perm[i]. The
// source is raw_data in place (raw) or values decoded from a typed field (vals).
static void permute4(const uint8_t *raw, const float *vals, const int32_t sd[4], const int perm[4],
                     float *dst)
{
    size_t st[4] = {0, 0, 0, 1};
    for (int i = 2; i >= 0; i--) {
        st[i] = st[i + 1] * (size_t)sd[i + 1];
    }
    int32_t d[4];
    size_t s[4];
    for (int i = 0; i < 4; i++) {
        d[i] = sd[perm[i]];
        s[i] = st[perm[i]];
    }
    size_t k = 0;
    for (int32_t a = 0; a < d[0]; a++) {
        for (int32_t b = 0; b < d[1]; b++) {
            for (int32_t c = 0; c < d[2]; c++) {
                for (int32_t e = 0; e < d[3]; e++) {
                    size_t at = a * s[0] + b * s[1] + c * s[2] + e * s[3];
                    dst[k++] = raw != NULL ? to_f32(le(raw + 4 * at, 4)) : vals[at];
                }
            }
        }
    }
}

// ---- nodes and attributes --------------------------------------------------------------------

typedef struct attr {
    span_t name;
    int32_t type; // AttributeType; AT_NONE when the file leaves it out (IR version 1)
    bool has_f, has_i, has_s, other, used;
    float f;
    int64_t i;
    span_t s;
    uint32_t n_ints, n_floats; // may exceed MAX_INTS; only the first MAX_INTS are kept
    int64_t ints[MAX_INTS];
    float floats[MAX_INTS];
} attr_t;

typedef struct onode {
    uint32_t k;
    char op[40];
    span_t in[CW_NN_MAX_NODE_INPUTS];
    uint32_t n_in;
    span_t out;
    attr_t attr[MAX_ATTRS];
    uint32_t n_attr;
} onode_t;

static int node_err(ld_t *L, const onode_t *nd, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int node_err(ld_t *L, const onode_t *nd, int err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cw_diag_set(L->diag, L->diag_len, err, "node %u (%s): %s", nd->k, nd->op, msg);
}

static int parse_attr(ld_t *L, span_t msg, attr_t *a)
{
    memset(a, 0, sizeof(*a));
    pbr_t r = pb_open(msg);
    pbf_t f;
    bool more;
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        switch (f.num) {
        case ATTR_NAME:
            rc = want_wire(L, &f, WIRE_LEN);
            a->name = f.s;
            break;
        case ATTR_TYPE:
            rc = want_wire(L, &f, WIRE_VARINT);
            a->type = (int32_t)f.v;
            break;
        case ATTR_F:
            rc = want_wire(L, &f, WIRE_I32);
            a->f = to_f32(f.v);
            a->has_f = true;
            break;
        case ATTR_I:
            rc = want_wire(L, &f, WIRE_VARINT);
            a->i = to_i64(f.v);
            a->has_i = true;
            break;
        case ATTR_S:
            rc = want_wire(L, &f, WIRE_LEN);
            a->s = f.s;
            a->has_s = true;
            break;
        case ATTR_INTS:
            // Repeated scalars come one per field or packed into one; both are valid protobuf.
            if (f.wire == WIRE_VARINT) {
                if (a->n_ints < MAX_INTS) {
                    a->ints[a->n_ints] = to_i64(f.v);
                }
                a->n_ints++;
            } else if ((rc = want_wire(L, &f, WIRE_LEN)) == 0) {
                for (uint64_t pos = f.s.at; rc == 0 && pos < f.s.at + f.s.len; a->n_ints++) {
                    uint64_t v;
                    rc = rd_varint(L, &pos, f.s.at + f.s.len, &v);
                    if (rc == 0 && a->n_ints < MAX_INTS) {
                        a->ints[a->n_ints] = to_i64(v);
                    }
                }
            }
            break;
        case ATTR_FLOATS:
            if (f.wire == WIRE_I32) {
                if (a->n_floats < MAX_INTS) {
                    a->floats[a->n_floats] = to_f32(f.v);
                }
                a->n_floats++;
            } else if ((rc = want_wire(L, &f, WIRE_LEN)) == 0) {
                if (f.s.len % 4 != 0) {
                    return pb_bad(L, "packed floats of a length not a multiple of 4", f.at);
                }
                for (uint64_t j = 0; j < f.s.len / 4; j++, a->n_floats++) {
                    if (a->n_floats < MAX_INTS) {
                        a->floats[a->n_floats] = to_f32(le(L->p + f.s.at + 4 * j, 4));
                    }
                }
            }
            break;
        case 5:  // t
        case 6:  // g
        case 9:  // strings
        case 10: // tensors
        case 11: // graphs
        case 21: // ref_attr_name
        case 22: // sparse_tensor
        case 23: // sparse_tensors
            a->other = true;
            break;
        default: // doc_string and fields of later versions
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return rc;
}

static int parse_node(ld_t *L, uint32_t k, onode_t *nd)
{
    memset(nd, 0, offsetof(onode_t, attr));
    nd->n_attr = 0;
    nd->k = k;
    snprintf(nd->op, sizeof(nd->op), "?");
    span_t op = {0, 0}, domain = {0, 0};
    uint32_t n_out = 0;
    pbr_t r = pb_open(L->node_msg[k]);
    pbf_t f;
    bool more;
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        switch (f.num) {
        case NODE_INPUT:
            if ((rc = want_wire(L, &f, WIRE_LEN)) == 0) {
                if (nd->n_in == CW_NN_MAX_NODE_INPUTS) {
                    return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                                       "node %u: more than %d inputs", k, CW_NN_MAX_NODE_INPUTS);
                }
                nd->in[nd->n_in++] = f.s;
            }
            break;
        case NODE_OUTPUT:
            if ((rc = want_wire(L, &f, WIRE_LEN)) == 0) {
                nd->out = f.s;
                n_out++;
            }
            break;
        case NODE_OP_TYPE:
            rc = want_wire(L, &f, WIRE_LEN);
            op = f.s;
            break;
        case NODE_DOMAIN:
            rc = want_wire(L, &f, WIRE_LEN);
            domain = f.s;
            break;
        case NODE_ATTRIBUTE:
            if ((rc = want_wire(L, &f, WIRE_LEN)) == 0) {
                if (nd->n_attr == MAX_ATTRS) {
                    return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                                       "node %u: more than %d attributes", k, MAX_ATTRS);
                }
                rc = parse_attr(L, f.s, &nd->attr[nd->n_attr++]);
            }
            break;
        default: // name, doc_string
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (rc != 0) {
        return rc;
    }
    copy_name(nd->op, sizeof(nd->op), L->p + op.at, op.len);
    if (op.len == 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "node %u has no operator type", k);
    }
    if (domain.len != 0 && !span_is(L, domain, "ai.onnx")) {
        char d[CW_NN_NAME_MAX];
        copy_name(d, sizeof(d), L->p + domain.at, domain.len);
        return node_err(L, nd, CW_EUNSUPPORTED, "operators of domain '%s' are not supported", d);
    }
    if (n_out != 1) {
        return node_err(L, nd, n_out == 0 ? CW_EFORMAT : CW_EUNSUPPORTED,
                        "%u outputs, exactly one is supported", n_out);
    }
    for (uint32_t i = 0; i < nd->n_attr; i++) {
        for (uint32_t j = 0; j < i; j++) {
            const attr_t *a = &nd->attr[i], *b = &nd->attr[j];
            if (a->name.len == b->name.len &&
                memcmp(L->p + a->name.at, L->p + b->name.at, a->name.len) == 0) {
                return node_err(L, nd, CW_EFORMAT, "an attribute appears twice");
            }
        }
    }
    return 0;
}

static attr_t *find_attr(ld_t *L, onode_t *nd, const char *name)
{
    for (uint32_t i = 0; i < nd->n_attr; i++) {
        if (span_is(L, nd->attr[i].name, name)) {
            nd->attr[i].used = true;
            return &nd->attr[i];
        }
    }
    return NULL;
}

// An attribute of the expected kind: the type field names it, or (IR version 1, no type) the
// field that carries it is present.
static int attr_kind(ld_t *L, const onode_t *nd, const attr_t *a, int32_t type, bool present,
                     const char *name)
{
    if (a->type == type || (a->type == AT_NONE && present && !a->other)) {
        return 0;
    }
    return node_err(L, nd, CW_EFORMAT, "attribute %s is not of the expected type", name);
}

static int attr_int(ld_t *L, onode_t *nd, const char *name, int64_t def, int64_t *out)
{
    attr_t *a = find_attr(L, nd, name);
    *out = def;
    if (a == NULL) {
        return 0;
    }
    int rc = attr_kind(L, nd, a, AT_INT, a->has_i, name);
    if (rc == 0) {
        *out = a->i;
    }
    return rc;
}

static int attr_float(ld_t *L, onode_t *nd, const char *name, float def, float *out)
{
    attr_t *a = find_attr(L, nd, name);
    *out = def;
    if (a == NULL) {
        return 0;
    }
    int rc = attr_kind(L, nd, a, AT_FLOAT, a->has_f, name);
    if (rc == 0) {
        *out = a->f;
    }
    if (rc == 0 && !isfinite(*out)) {
        rc = node_err(L, nd, CW_EMODEL, "attribute %s is NaN or Inf", name);
    }
    return rc;
}

// Exactly n integers in [lo, hi], or *present false (and vals untouched) when absent.
static int attr_ints(ld_t *L, onode_t *nd, const char *name, uint32_t n, int64_t lo, int64_t hi,
                     int64_t *vals, bool *present)
{
    attr_t *a = find_attr(L, nd, name);
    *present = a != NULL;
    if (a == NULL) {
        return 0;
    }
    int rc = attr_kind(L, nd, a, AT_INTS, a->n_ints > 0, name);
    if (rc != 0) {
        return rc;
    }
    if (a->n_ints != n) {
        return node_err(L, nd, CW_EUNSUPPORTED, "attribute %s has %u values, %u expected", name,
                        a->n_ints, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi) {
            return node_err(L, nd, CW_EFORMAT, "attribute %s: value %lld out of range", name,
                            (long long)a->ints[i]);
        }
        vals[i] = a->ints[i];
    }
    return 0;
}

// ---- constants -------------------------------------------------------------------------------

static const char *init_name(const ld_t *L, const init_t *in, char *buf, size_t cap)
{
    copy_name(buf, cap, L->p + in->name.at, in->name.len);
    return buf;
}

// Walk the typed values of an initializer (float_data or int64_data, packed or one per field):
// count them, and store the first n when f32 or i64 is given.
static int typed_values(ld_t *L, const init_t *in, float *f32, int64_t *i64, uint64_t n,
                        uint64_t *count)
{
    pbr_t r = pb_open(in->msg);
    pbf_t f;
    bool more;
    int rc;
    uint64_t c = 0;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        if (f.num != in->typed_field) {
            continue;
        }
        if (in->typed_field == TENSOR_FLOAT_DATA) {
            if (f.wire == WIRE_I32) {
                if (f32 != NULL && c < n) {
                    f32[c] = to_f32(f.v);
                }
                c++;
            } else if (f.wire == WIRE_LEN && f.s.len % 4 == 0) {
                for (uint64_t j = 0; j < f.s.len / 4; j++, c++) {
                    if (f32 != NULL && c < n) {
                        f32[c] = to_f32(le(L->p + f.s.at + 4 * j, 4));
                    }
                }
            } else {
                return pb_bad(L, "bad float_data", f.at);
            }
        } else if (f.wire == WIRE_VARINT) { // int64_data
            if (i64 != NULL && c < n) {
                i64[c] = to_i64(f.v);
            }
            c++;
        } else if (f.wire == WIRE_LEN) {
            for (uint64_t pos = f.s.at; pos < f.s.at + f.s.len; c++) {
                uint64_t v;
                if ((rc = rd_varint(L, &pos, f.s.at + f.s.len, &v)) != 0) {
                    return rc;
                }
                if (i64 != NULL && c < n) {
                    i64[c] = to_i64(v);
                }
            }
        } else {
            return pb_bad(L, "bad int64_data", f.at);
        }
    }
    *count = c;
    return rc;
}

// Check that initializer ii can be read as dtype (float32 or int64) and holds exactly as many
// values as its shape says; *n gets that count. Done before anything is allocated, so a forged
// shape cannot make a small file claim a large block.
static int check_init(ld_t *L, int32_t ii, int32_t dtype, uint64_t *n)
{
    init_t *in = &L->inits[ii];
    char nm[CW_NN_NAME_MAX];
    init_name(L, in, nm, sizeof(nm));
    if (in->external || in->segment) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "initializer '%s': %s data is not supported", nm,
                           in->external ? "external" : "segmented");
    }
    if (in->rank > CW_NN_MAX_RANK) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "initializer '%s': rank %d, at most %d is supported", nm, in->rank,
                           CW_NN_MAX_RANK);
    }
    if (in->dtype != dtype) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "initializer '%s': data type %d where %s is needed", nm, in->dtype,
                           dtype == DT_FLOAT ? "FLOAT" : "INT64");
    }
    uint64_t count = 1;
    for (int k = 0; k < in->rank; k++) {
        count *= (uint64_t)in->dims[k];
        if (count > MAX_CONST_BYTES) {
            return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG,
                               "initializer '%s': too many elements", nm);
        }
    }
    uint64_t size = dtype == DT_FLOAT ? 4 : 8;
    uint32_t field = dtype == DT_FLOAT ? TENSOR_FLOAT_DATA : TENSOR_INT64_DATA;
    if (in->has_raw && in->typed_field != 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "initializer '%s': both raw_data and typed data", nm);
    }
    if (in->typed_field != 0 && in->typed_field != field) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "initializer '%s': values in a field of another type", nm);
    }
    uint64_t got = 0;
    if (in->has_raw) {
        got = in->raw.len % size == 0 ? in->raw.len / size : UINT64_MAX;
    } else if (in->typed_field != 0) {
        // Counted once: a large initializer read by many nodes is not walked again each time.
        int rc = in->counted ? 0 : typed_values(L, in, NULL, NULL, 0, &in->n_typed);
        if (rc != 0) {
            return rc;
        }
        in->counted = true;
        got = in->n_typed;
    }
    if (got != count) {
        return cw_diag_set(L->diag, L->diag_len, CW_ECORRUPT,
                           "initializer '%s': the data does not match its shape", nm);
    }
    *n = count;
    return 0;
}

// The values of an INT64 initializer that parameterises an operator (a Reshape target): at most
// max of them, in a tensor of rank at most 1.
static int read_i64s(ld_t *L, const onode_t *nd, int32_t ii, int64_t *vals, uint32_t max,
                     uint32_t *n)
{
    uint64_t count;
    int rc = check_init(L, ii, DT_INT64, &count);
    if (rc != 0) {
        return rc;
    }
    const init_t *in = &L->inits[ii];
    if (in->rank > 1 || count > max) {
        return node_err(L, nd, CW_EUNSUPPORTED, "parameter tensor of rank %d with %llu values",
                        in->rank, (unsigned long long)count);
    }
    if (in->has_raw) {
        for (uint64_t i = 0; i < count; i++) {
            vals[i] = to_i64(le(L->p + in->raw.at + 8 * i, 8));
        }
    } else if ((rc = typed_values(L, in, NULL, vals, count, &count)) != 0) {
        return rc;
    }
    *n = (uint32_t)count;
    return 0;
}

// The IR constant for initializer ii in layout `role`, made on first use.
static int const_tensor(ld_t *L, int32_t ii, role_t role, int32_t *out)
{
    init_t *in = &L->inits[ii];
    if (in->ir[role] >= 0) {
        *out = in->ir[role];
        return 0;
    }
    uint64_t n;
    int rc = check_init(L, ii, DT_FLOAT, &n);
    if (rc != 0) {
        return rc;
    }
    char nm[CW_NN_NAME_MAX];
    init_name(L, in, nm, sizeof(nm));
    L->const_bytes += n * sizeof(float);
    if (L->const_bytes > MAX_CONST_BYTES) {
        return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG,
                           "constants need more than %llu MiB as float32",
                           (unsigned long long)(MAX_CONST_BYTES >> 20));
    }
    // The values in the file's order: raw_data is read in place, a typed field decoded first.
    const uint8_t *raw = in->has_raw ? L->p + in->raw.at : NULL;
    float *vals = NULL;
    if (raw == NULL) {
        vals = cw_malloc((size_t)n * sizeof(float));
        if (vals == NULL) {
            return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for constants");
        }
        uint64_t got;
        rc = typed_values(L, in, vals, NULL, n, &got);
    }
    for (uint64_t e = 0; rc == 0 && e < n; e++) {
        if (!isfinite(raw != NULL ? to_f32(le(raw + 4 * e, 4)) : vals[e])) {
            rc = cw_diag_set(L->diag, L->diag_len, CW_EMODEL,
                             "initializer '%s': constant holds NaN or Inf at element %llu", nm,
                             (unsigned long long)e);
        }
    }
    // The IR shape, and the permutation that takes the file's layout (right-aligned to 4-D) to
    // it.
    static const int perms[ROLE_COUNT][4] = {
        {0, 1, 2, 3}, // R_PLAIN
        {0, 2, 3, 1}, // R_NCHW: N,C,H,W -> N,H,W,C (and O,I,KH,KW -> O,KH,KW,I)
        {1, 2, 3, 0}, // R_DW: M,1,KH,KW -> 1,KH,KW,M
        {0, 1, 3, 2}, // R_T2D: 1,1,K,N -> 1,1,N,K
    };
    int32_t sd[4] = {1, 1, 1, 1};
    for (int k = 0; k < in->rank; k++) {
        sd[4 - in->rank + k] = in->dims[k];
    }
    cw_nn_shape_t shape = {in->rank, {0}};
    memcpy(shape.dims, in->dims, sizeof(in->dims[0]) * (size_t)in->rank);
    if (role != R_PLAIN) {
        shape.rank = role == R_T2D ? 2 : 4;
        for (int k = 0; k < shape.rank; k++) {
            shape.dims[k] = sd[perms[role][4 - shape.rank + k]];
        }
    }
    float *data = NULL;
    if (rc == 0 && (data = cw_aligned_alloc(64, (size_t)n * sizeof(float))) == NULL) {
        rc = cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for constants");
    }
    if (rc == 0) {
        permute4(raw, vals, sd, perms[role], data);
    }
    cw_free(vals);
    if (rc != 0) {
        return rc;
    }
    if ((rc = add_tensor(L, &shape, in->name, data, out)) != 0) {
        return rc;
    }
    in->ir[role] = *out;
    return 0;
}

// ---- operators -------------------------------------------------------------------------------

static int need_inputs(ld_t *L, const onode_t *nd, uint32_t lo, uint32_t hi)
{
    if (nd->n_in < lo || nd->n_in > hi) {
        return node_err(L, nd, CW_EFORMAT, "%u inputs, expected %u to %u", nd->n_in, lo, hi);
    }
    return 0;
}

// Input i, which must be present (an empty name marks an optional input as absent).
static int input(ld_t *L, const onode_t *nd, uint32_t i, value_t **v)
{
    *v = NULL;
    if (i >= nd->n_in || nd->in[i].len == 0) {
        return node_err(L, nd, CW_EFORMAT, "input %u is missing", i);
    }
    *v = lookup(L, nd->in[i]);
    if (*v == NULL) {
        char nm[CW_NN_NAME_MAX];
        copy_name(nm, sizeof(nm), L->p + nd->in[i].at, nd->in[i].len);
        return node_err(L, nd, CW_EFORMAT,
                        "reads '%s', which is no input, initializer or earlier node's output", nm);
    }
    return 0;
}

static int value_rank(const ld_t *L, const value_t *v)
{
    return v->init >= 0 ? L->inits[v->init].rank : L->shapes[v->tensor].rank;
}

// Input i as data of an operator whose result has out_rank dimensions: an activation as it is,
// an initializer as a float constant in the layout such a result has.
static int data_input(ld_t *L, const onode_t *nd, uint32_t i, int out_rank, int32_t *t)
{
    value_t *v;
    int rc = input(L, nd, i, &v);
    if (rc != 0) {
        return rc;
    }
    if (v->init < 0) {
        *t = v->tensor;
        return 0;
    }
    if (out_rank == 4 && L->inits[v->init].rank > 4) {
        return node_err(L, nd, CW_EUNSUPPORTED, "input %u has rank above 4", i);
    }
    return const_tensor(L, v->init, out_rank == 4 ? R_NCHW : R_PLAIN, t);
}

// A weight or bias: an initializer, since the IR's kernels take their constants prepared.
static int const_input(ld_t *L, const onode_t *nd, uint32_t i, int32_t *ii)
{
    value_t *v;
    int rc = input(L, nd, i, &v);
    if (rc != 0) {
        return rc;
    }
    if (v->init < 0) {
        return node_err(L, nd, CW_EUNSUPPORTED, "input %u is computed at run time, not a constant",
                        i);
    }
    *ii = v->init;
    return 0;
}

static int act_input(ld_t *L, const onode_t *nd, uint32_t i, int rank, int32_t *t)
{
    value_t *v;
    int rc = input(L, nd, i, &v);
    if (rc != 0) {
        return rc;
    }
    if (v->init >= 0) {
        return node_err(L, nd, CW_EUNSUPPORTED, "input %u is a constant", i);
    }
    if (rank > 0 && L->shapes[v->tensor].rank != rank) {
        return node_err(L, nd, CW_EUNSUPPORTED, "input %u has rank %d, %d is supported", i,
                        L->shapes[v->tensor].rank, rank);
    }
    *t = v->tensor;
    return 0;
}

static bool optional_present(const onode_t *nd, uint32_t i)
{
    return i < nd->n_in && nd->in[i].len > 0;
}

static int op_conv(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    int32_t x = -1, wi = -1, w = -1, b = -1;
    int rc;
    if ((rc = need_inputs(L, nd, 2, 3)) != 0 || (rc = act_input(L, nd, 0, 4, &x)) != 0 ||
        (rc = const_input(L, nd, 1, &wi)) != 0) {
        return rc;
    }
    const init_t *win = &L->inits[wi];
    if (win->rank != 4) {
        return node_err(L, nd, CW_EUNSUPPORTED, "weights of rank %d; only 2-D convolutions",
                        win->rank);
    }
    int64_t group, strides[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, ks[2];
    bool has_pads, present;
    if ((rc = attr_int(L, nd, "group", 1, &group)) != 0 ||
        (rc = attr_ints(L, nd, "strides", 2, 1, MAX_DIM, strides, &present)) != 0 ||
        (rc = attr_ints(L, nd, "dilations", 2, 1, MAX_DIM, dil, &present)) != 0 ||
        (rc = attr_ints(L, nd, "pads", 4, 0, MAX_DIM, pads, &has_pads)) != 0 ||
        (rc = attr_ints(L, nd, "kernel_shape", 2, 1, MAX_DIM, ks, &present)) != 0) {
        return rc;
    }
    if (present && (ks[0] != win->dims[2] || ks[1] != win->dims[3])) {
        return node_err(L, nd, CW_EFORMAT, "kernel_shape differs from the weights'");
    }
    ir->p.conv.padding = CW_NN_PAD_EXPLICIT;
    attr_t *ap = find_attr(L, nd, "auto_pad");
    if (ap != NULL) {
        if ((rc = attr_kind(L, nd, ap, AT_STRING, ap->has_s, "auto_pad")) != 0) {
            return rc;
        }
        bool zero = pads[0] == 0 && pads[1] == 0 && pads[2] == 0 && pads[3] == 0;
        if (span_is(L, ap->s, "SAME_UPPER") && zero) {
            ir->p.conv.padding = CW_NN_PAD_SAME; // TFLite's SAME: any odd pixel goes at the end
        } else if (span_is(L, ap->s, "VALID") && zero) {
            ir->p.conv.padding = CW_NN_PAD_VALID;
        } else if (!span_is(L, ap->s, "NOTSET")) {
            return node_err(L, nd, CW_EUNSUPPORTED, "this auto_pad is not supported");
        }
    }
    int32_t c = L->shapes[x].dims[3];
    int32_t o = win->dims[0];
    role_t role = R_NCHW;
    if (group == 1) {
        ir->op = CW_NN_OP_CONV2D;
    } else if (group == c && win->dims[1] == 1 && o % c == 0) {
        ir->op = CW_NN_OP_DEPTHWISE_CONV2D;
        ir->p.conv.depth_multiplier = o / c;
        role = R_DW;
    } else if (group < 1) {
        return node_err(L, nd, CW_EFORMAT, "group %lld", (long long)group);
    } else {
        return node_err(L, nd, CW_EUNSUPPORTED, "grouped convolution (group %lld of %d channels)",
                        (long long)group, c);
    }
    if ((rc = const_tensor(L, wi, role, &w)) != 0) {
        return rc;
    }
    if (optional_present(nd, 2)) {
        int32_t bi;
        if ((rc = const_input(L, nd, 2, &bi)) != 0) {
            return rc;
        }
        if (L->inits[bi].rank != 1) {
            return node_err(L, nd, CW_EFORMAT, "bias of rank %d", L->inits[bi].rank);
        }
        if ((rc = const_tensor(L, bi, R_PLAIN, &b)) != 0) {
            return rc;
        }
    }
    ir->n_in = 3;
    ir->in[0] = x;
    ir->in[1] = w;
    ir->in[2] = b;
    ir->p.conv.stride_h = (int)strides[0];
    ir->p.conv.stride_w = (int)strides[1];
    ir->p.conv.dilation_h = (int)dil[0];
    ir->p.conv.dilation_w = (int)dil[1];
    ir->p.conv.pad_top = (int)pads[0];
    ir->p.conv.pad_left = (int)pads[1];
    ir->p.conv.pad_bottom = (int)pads[2];
    ir->p.conv.pad_right = (int)pads[3];
    return 0;
}

// Element-wise with numpy broadcasting (Add, Sub, Mul, Div; PRelu broadcasts its slope the same
// way). A 4-D result is NHWC, so constants are permuted to it; an activation of another rank
// can only join it as a single value.
static int op_binary(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    value_t *a, *b;
    int rc;
    if ((rc = need_inputs(L, nd, 2, 2)) != 0 || (rc = input(L, nd, 0, &a)) != 0 ||
        (rc = input(L, nd, 1, &b)) != 0) {
        return rc;
    }
    int ra = value_rank(L, a), rb = value_rank(L, b);
    int out_rank = ra > rb ? ra : rb;
    const value_t *v[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (out_rank == 4 && v[i]->init < 0 && L->shapes[v[i]->tensor].rank != 4 &&
            numel(&L->shapes[v[i]->tensor]) != 1) {
            return node_err(L, nd, CW_EUNSUPPORTED,
                            "broadcasting a %d-D activation against a 4-D one",
                            L->shapes[v[i]->tensor].rank);
        }
    }
    ir->n_in = 2;
    if ((rc = data_input(L, nd, 0, out_rank, &ir->in[0])) != 0 ||
        (rc = data_input(L, nd, 1, out_rank, &ir->in[1])) != 0) {
        return rc;
    }
    return 0;
}

static int op_unary(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    value_t *x;
    int rc;
    if ((rc = need_inputs(L, nd, 1, 1)) != 0 || (rc = input(L, nd, 0, &x)) != 0) {
        return rc;
    }
    ir->n_in = 1;
    if (ir->op == CW_NN_OP_LEAKY_RELU &&
        (rc = attr_float(L, nd, "alpha", 0.01f, &ir->p.leaky.alpha)) != 0) {
        return rc;
    }
    return data_input(L, nd, 0, value_rank(L, x), &ir->in[0]);
}

// The file-order dimensions of input i (for Reshape's 0 and Flatten's axis).
static void input_file_dims(const ld_t *L, const value_t *v, int32_t *d, int *rank)
{
    if (v->init >= 0) {
        const init_t *in = &L->inits[v->init];
        *rank = in->rank;
        memcpy(d, in->dims, sizeof(in->dims[0]) * (size_t)(in->rank < 4 ? in->rank : 4));
        return;
    }
    *rank = L->shapes[v->tensor].rank;
    file_dims(&L->shapes[v->tensor], d);
}

// Reshape and Flatten: a RESHAPE node to a fixed shape of rank 1 to 3. A 4-D activation is read
// in NCHW order; a constant is given in the file's layout, which already is that order.
static int reshape_node(ld_t *L, onode_t *nd, cw_nn_node_t *ir, const value_t *x,
                        const int64_t *target, uint32_t n)
{
    if (n == 0 || n >= 4) {
        return node_err(L, nd, CW_EUNSUPPORTED, "reshaping to rank %u, 1 to 3 are supported", n);
    }
    int rc;
    ir->n_in = 1;
    if (x->init >= 0) {
        if (L->inits[x->init].rank > 4) {
            return node_err(L, nd, CW_EUNSUPPORTED, "input of rank above 4");
        }
        rc = const_tensor(L, x->init, R_PLAIN, &ir->in[0]);
    } else {
        ir->in[0] = x->tensor;
        ir->p.reshape.from_nchw = L->shapes[x->tensor].rank == 4;
        rc = 0;
    }
    ir->p.reshape.shape.rank = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        ir->p.reshape.shape.dims[i] = (int32_t)target[i];
    }
    return rc;
}

static int op_reshape(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    value_t *x;
    int32_t si = -1;
    int64_t allowzero, t[CW_NN_MAX_RANK];
    uint32_t n = 0;
    int rc;
    if ((rc = need_inputs(L, nd, 2, 2)) != 0 || (rc = input(L, nd, 0, &x)) != 0 ||
        (rc = const_input(L, nd, 1, &si)) != 0 ||
        (rc = attr_int(L, nd, "allowzero", 0, &allowzero)) != 0 ||
        (rc = read_i64s(L, nd, si, t, CW_NN_MAX_RANK, &n)) != 0) {
        return rc;
    }
    int32_t d[CW_NN_MAX_RANK];
    int rank;
    input_file_dims(L, x, d, &rank);
    int open = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (t[i] == 0 && allowzero == 0 && (int)i < rank && rank <= 4) {
            t[i] = d[i]; // 0 copies the input's dimension
        }
        if (t[i] == -1) {
            open++;
        } else if (t[i] < 1 || t[i] > INT32_MAX) {
            return node_err(L, nd, t[i] == 0 ? CW_EUNSUPPORTED : CW_EFORMAT,
                            "target dimension %lld", (long long)t[i]);
        }
    }
    if (open > 1) {
        return node_err(L, nd, CW_EFORMAT, "more than one open (-1) target dimension");
    }
    return reshape_node(L, nd, ir, x, t, n);
}

static int op_flatten(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    value_t *x;
    int64_t axis;
    int rc;
    if ((rc = need_inputs(L, nd, 1, 1)) != 0 || (rc = input(L, nd, 0, &x)) != 0 ||
        (rc = attr_int(L, nd, "axis", 1, &axis)) != 0) {
        return rc;
    }
    int32_t d[CW_NN_MAX_RANK];
    int rank;
    input_file_dims(L, x, d, &rank);
    if (rank > 4) {
        return node_err(L, nd, CW_EUNSUPPORTED, "input of rank above 4");
    }
    if (axis < -rank || axis > rank) {
        return node_err(L, nd, CW_EFORMAT, "axis %lld out of range", (long long)axis);
    }
    axis = axis < 0 ? axis + rank : axis;
    int64_t t[2] = {1, 1};
    for (int i = 0; i < rank; i++) {
        t[i < axis ? 0 : 1] *= d[i]; // at most 2^28 elements (numel-capped shapes)
    }
    return reshape_node(L, nd, ir, x, t, 2);
}

static int op_concat(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    int64_t axis;
    int rc;
    if ((rc = need_inputs(L, nd, 1, CW_NN_MAX_NODE_INPUTS)) != 0 ||
        (rc = attr_int(L, nd, "axis", INT64_MIN, &axis)) != 0) {
        return rc;
    }
    if (axis == INT64_MIN) {
        return node_err(L, nd, CW_EFORMAT, "no axis");
    }
    int rank = -1;
    for (uint32_t i = 0; i < nd->n_in; i++) {
        value_t *v;
        if ((rc = input(L, nd, i, &v)) != 0) {
            return rc;
        }
        int r = value_rank(L, v);
        if (rank >= 0 && r != rank) {
            return node_err(L, nd, CW_EFORMAT, "inputs of different ranks");
        }
        rank = r;
    }
    if (rank < 1 || axis < -rank || axis >= rank) {
        return node_err(L, nd, CW_EFORMAT, "axis %lld out of range", (long long)axis);
    }
    axis = axis < 0 ? axis + rank : axis;
    static const int nhwc_axis[4] = {0, 3, 1, 2};
    ir->p.concat.axis = rank == 4 ? nhwc_axis[axis] : (int)axis;
    ir->n_in = (int)nd->n_in;
    for (uint32_t i = 0; i < nd->n_in; i++) {
        if ((rc = data_input(L, nd, i, rank, &ir->in[i])) != 0) {
            return rc;
        }
    }
    return 0;
}

static int op_global_avg_pool(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    int rc;
    if ((rc = need_inputs(L, nd, 1, 1)) != 0 || (rc = act_input(L, nd, 0, 4, &ir->in[0])) != 0) {
        return rc;
    }
    ir->n_in = 1;
    ir->p.reduce.axes = (1u << 1) | (1u << 2); // H and W of NHWC
    ir->p.reduce.keep_dims = 1;
    return 0;
}

// Gemm as a fully connected layer: Y = A B' + C with A [M,K] an activation, B a constant
// ([N,K] with transB, else [K,N], transposed here) and C a constant of N values, or absent.
static int op_gemm(ld_t *L, onode_t *nd, cw_nn_node_t *ir)
{
    int32_t bi = -1;
    int64_t ta, tb;
    float alpha, beta;
    int rc;
    if ((rc = need_inputs(L, nd, 2, 3)) != 0 || (rc = act_input(L, nd, 0, 2, &ir->in[0])) != 0 ||
        (rc = const_input(L, nd, 1, &bi)) != 0 || (rc = attr_int(L, nd, "transA", 0, &ta)) != 0 ||
        (rc = attr_int(L, nd, "transB", 0, &tb)) != 0 ||
        (rc = attr_float(L, nd, "alpha", 1.0f, &alpha)) != 0 ||
        (rc = attr_float(L, nd, "beta", 1.0f, &beta)) != 0) {
        return rc;
    }
    const init_t *b = &L->inits[bi];
    bool has_c = optional_present(nd, 2);
    if (ta != 0 || (tb != 0 && tb != 1) || alpha != 1.0f || (has_c && beta != 1.0f)) {
        return node_err(L, nd, CW_EUNSUPPORTED, "only transA 0, alpha 1 and beta 1");
    }
    if (b->rank != 2) {
        return node_err(L, nd, CW_EFORMAT, "B of rank %d", b->rank);
    }
    int32_t k = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (L->shapes[ir->in[0]].dims[1] != k) {
        return node_err(L, nd, CW_EFORMAT, "A and B do not fit");
    }
    if ((rc = const_tensor(L, bi, tb ? R_PLAIN : R_T2D, &ir->in[1])) != 0) {
        return rc;
    }
    ir->n_in = 3;
    ir->in[2] = -1;
    if (has_c) {
        int32_t ci;
        if ((rc = const_input(L, nd, 2, &ci)) != 0) {
            return rc;
        }
        const init_t *c = &L->inits[ci];
        bool row = (c->rank == 1 && c->dims[0] == n) ||
                   (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == n);
        if (!row) {
            return node_err(L, nd, CW_EUNSUPPORTED, "C must be [N] or [1,N]");
        }
        if ((rc = const_tensor(L, ci, R_PLAIN, &ir->in[2])) != 0) {
            return rc;
        }
    }
    return 0;
}

typedef int (*op_fn)(ld_t *L, onode_t *nd, cw_nn_node_t *ir);

static const struct {
    const char *name;
    cw_nn_op_t op;
    op_fn fn;
} optable[] = {
    {"Conv", CW_NN_OP_CONV2D, op_conv},
    {"PRelu", CW_NN_OP_PRELU, op_binary},
    {"Add", CW_NN_OP_ADD, op_binary},
    {"Sub", CW_NN_OP_SUB, op_binary},
    {"Mul", CW_NN_OP_MUL, op_binary},
    {"Div", CW_NN_OP_DIV, op_binary},
    {"Relu", CW_NN_OP_RELU, op_unary},
    {"LeakyRelu", CW_NN_OP_LEAKY_RELU, op_unary},
    {"Sigmoid", CW_NN_OP_LOGISTIC, op_unary},
    {"Tanh", CW_NN_OP_TANH, op_unary},
    {"Exp", CW_NN_OP_EXP, op_unary},
    {"Abs", CW_NN_OP_ABS, op_unary},
    {"Neg", CW_NN_OP_NEG, op_unary},
    {"Sqrt", CW_NN_OP_SQRT, op_unary},
    {"Identity", CW_NN_OP_IDENTITY, op_unary},
    {"Reshape", CW_NN_OP_RESHAPE, op_reshape},
    {"Flatten", CW_NN_OP_RESHAPE, op_flatten},
    {"Concat", CW_NN_OP_CONCAT, op_concat},
    {"GlobalAveragePool", CW_NN_OP_REDUCE_MEAN, op_global_avg_pool},
    {"Gemm", CW_NN_OP_FULLY_CONNECTED, op_gemm},
};

static void shape_str(const cw_nn_shape_t *s, char *buf, size_t cap)
{
    int32_t d[CW_NN_MAX_RANK];
    file_dims(s, d);
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->rank && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s%d", i ? "," : "", d[i]);
    }
}

static int load_node(ld_t *L, uint32_t k, onode_t *nd)
{
    int rc = parse_node(L, k, nd);
    if (rc != 0) {
        return rc;
    }
    size_t which = sizeof(optable) / sizeof(optable[0]);
    for (size_t i = 0; i < sizeof(optable) / sizeof(optable[0]); i++) {
        if (strcmp(nd->op, optable[i].name) == 0) {
            which = i;
        }
    }
    if (which == sizeof(optable) / sizeof(optable[0])) {
        return node_err(L, nd, CW_EUNSUPPORTED, "operator %s is not supported", nd->op);
    }
    cw_nn_model_t *m = L->m;
    cw_nn_node_t *ir = &m->nodes[m->n_nodes];
    memset(ir, 0, sizeof(*ir));
    ir->op = optable[which].op;
    ir->act = CW_NN_ACT_NONE;
    ir->n_out = 1;
    if ((rc = optable[which].fn(L, nd, ir)) != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < nd->n_attr; i++) {
        if (!nd->attr[i].used) {
            char nm[CW_NN_NAME_MAX];
            copy_name(nm, sizeof(nm), L->p + nd->attr[i].name.at, nd->attr[i].name.len);
            return node_err(L, nd, CW_EUNSUPPORTED, "attribute '%s' is not supported", nm);
        }
    }
    if (lookup(L, nd->out) != NULL || nd->out.len == 0) {
        return define(L, nd->out, -1, -1); // reports the duplicate or empty name
    }
    cw_nn_shape_t none = {0, {0}};
    if ((rc = add_tensor(L, &none, nd->out, NULL, &ir->out[0])) != 0) {
        return rc;
    }
    // Shapes with the planner's rules, so that what loads also plans at the declared size.
    char why[128] = "";
    size_t scratch;
    if (cw__nn_infer(m, ir, L->shapes, &scratch, why, sizeof(why)) != 0) {
        return node_err(L, nd, CW_EFORMAT, "input shapes do not fit (%s)", why);
    }
    const cw_nn_shape_t *out = &L->shapes[ir->out[0]];
    if (numel(out) > MAX_ACT_ELEMS) {
        return node_err(L, nd, CW_ETOOBIG, "result of more than %llu elements",
                        (unsigned long long)MAX_ACT_ELEMS);
    }
    const cw_nn_shape_t *x = &L->shapes[ir->in[0]];
    // The planner lets a reshape's first dimension follow another batch size; here the target
    // must fit exactly, as ONNX says.
    for (int i = 0; ir->op == CW_NN_OP_RESHAPE && i < ir->p.reshape.shape.rank; i++) {
        int32_t t = ir->p.reshape.shape.dims[i];
        if (t != -1 && t != out->dims[i]) {
            return node_err(L, nd, CW_EFORMAT, "the target shape does not fit the input");
        }
    }
    if (ir->op == CW_NN_OP_PRELU &&
        (out->rank != x->rank ||
         memcmp(out->dims, x->dims, sizeof(x->dims[0]) * (size_t)x->rank))) {
        return node_err(L, nd, CW_EFORMAT, "the slope does not broadcast to the input");
    }
    m->tensors[ir->out[0]].shape = *out;
    if ((rc = define(L, nd->out, -1, ir->out[0])) != 0) {
        return rc;
    }
    m->n_nodes++;
    return 0;
}

// ---- the graph -------------------------------------------------------------------------------

static int parse_init(ld_t *L, span_t msg, init_t *in)
{
    memset(in, 0, sizeof(*in));
    in->msg = msg;
    for (int r = 0; r < ROLE_COUNT; r++) {
        in->ir[r] = -1;
    }
    pbr_t r = pb_open(msg);
    pbf_t f;
    bool more;
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        switch (f.num) {
        case TENSOR_DIMS: {
            uint64_t pos = f.s.at, end = f.s.at + f.s.len;
            if (f.wire != WIRE_VARINT && (rc = want_wire(L, &f, WIRE_LEN)) != 0) {
                return rc;
            }
            for (bool one = f.wire == WIRE_VARINT; one || pos < end; one = false) {
                uint64_t v = f.v;
                if (!one && (rc = rd_varint(L, &pos, end, &v)) != 0) {
                    return rc;
                }
                int64_t d = to_i64(v);
                if (d < 1 || d > MAX_DIM) {
                    char nm[CW_NN_NAME_MAX];
                    init_name(L, in, nm, sizeof(nm));
                    return cw_diag_set(L->diag, L->diag_len, d < 1 ? CW_EFORMAT : CW_ETOOBIG,
                                       "initializer %s: dimension %lld", nm, (long long)d);
                }
                if (in->rank < CW_NN_MAX_RANK) {
                    in->dims[in->rank] = (int32_t)d;
                }
                in->rank += in->rank <= CW_NN_MAX_RANK;
            }
            break;
        }
        case TENSOR_DATA_TYPE:
            rc = want_wire(L, &f, WIRE_VARINT);
            in->dtype = (int32_t)f.v;
            break;
        case TENSOR_SEGMENT:
            in->segment = true;
            break;
        case TENSOR_FLOAT_DATA:
        case TENSOR_INT32_DATA:
        case TENSOR_STRING_DATA:
        case TENSOR_INT64_DATA:
        case TENSOR_DOUBLE_DATA:
        case TENSOR_UINT64_DATA:
            if (in->typed_field != 0 && in->typed_field != f.num) {
                return pb_bad(L, "values in two typed fields", f.at);
            }
            in->typed_field = f.num;
            break;
        case TENSOR_NAME:
            rc = want_wire(L, &f, WIRE_LEN);
            in->name = f.s;
            break;
        case TENSOR_RAW_DATA:
            rc = want_wire(L, &f, WIRE_LEN);
            in->raw = f.s;
            in->has_raw = true;
            break;
        case TENSOR_EXTERNAL_DATA:
            in->external = true;
            break;
        case TENSOR_DATA_LOCATION:
            rc = want_wire(L, &f, WIRE_VARINT);
            in->external = in->external || f.v != 0;
            break;
        default:
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return rc;
}

typedef struct vinfo {
    span_t name;
    bool has_type, tensor, has_shape, open; // open: a dimension without a value
    int32_t elem;
    int rank;
    int64_t dims[CW_NN_MAX_RANK];
} vinfo_t;

static int parse_dims(ld_t *L, span_t msg, vinfo_t *vi)
{
    pbr_t r = pb_open(msg);
    pbf_t f;
    bool more;
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        if (f.num != SHAPE_DIM) {
            continue;
        }
        if ((rc = want_wire(L, &f, WIRE_LEN)) != 0) {
            return rc;
        }
        bool has_value = false;
        int64_t d = 0;
        pbr_t dr = pb_open(f.s);
        pbf_t g;
        while ((rc = pb_next(L, &dr, &g, &more)) == 0 && more) {
            if (g.num == DIM_VALUE) {
                if ((rc = want_wire(L, &g, WIRE_VARINT)) != 0) {
                    return rc;
                }
                d = to_i64(g.v);
                has_value = true;
            } else if (g.num == DIM_PARAM) {
                has_value = false;
            }
        }
        if (rc != 0) {
            return rc;
        }
        if (vi->rank < CW_NN_MAX_RANK) {
            vi->dims[vi->rank] = d;
        }
        vi->open = vi->open || !has_value;
        vi->rank += vi->rank <= CW_NN_MAX_RANK;
    }
    return rc;
}

// ValueInfoProto: name, and the element type and shape of a tensor type.
static int parse_vinfo(ld_t *L, span_t msg, vinfo_t *vi)
{
    memset(vi, 0, sizeof(*vi));
    pbr_t r = pb_open(msg);
    pbf_t f;
    bool more;
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        if (f.num == VI_NAME) {
            rc = want_wire(L, &f, WIRE_LEN);
            vi->name = f.s;
        } else if (f.num == VI_TYPE && (rc = want_wire(L, &f, WIRE_LEN)) == 0) {
            vi->has_type = true;
            pbr_t tr = pb_open(f.s);
            pbf_t g;
            while ((rc = pb_next(L, &tr, &g, &more)) == 0 && more) {
                if (g.num != TYPE_TENSOR) {
                    continue; // denotation, or another kind of type: tensor stays false
                }
                if ((rc = want_wire(L, &g, WIRE_LEN)) != 0) {
                    return rc;
                }
                vi->tensor = true;
                pbr_t ttr = pb_open(g.s);
                pbf_t h;
                while ((rc = pb_next(L, &ttr, &h, &more)) == 0 && more) {
                    if (h.num == TT_ELEM_TYPE) {
                        rc = want_wire(L, &h, WIRE_VARINT);
                        vi->elem = (int32_t)h.v;
                    } else if (h.num == TT_SHAPE && (rc = want_wire(L, &h, WIRE_LEN)) == 0) {
                        vi->has_shape = true;
                        vi->rank = 0;
                        vi->open = false;
                        rc = parse_dims(L, h.s, vi);
                    }
                    if (rc != 0) {
                        return rc;
                    }
                }
                if (rc != 0) {
                    return rc;
                }
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    return rc;
}

static int load_input(ld_t *L, uint32_t i)
{
    vinfo_t vi;
    int rc = parse_vinfo(L, L->input_msg[i], &vi);
    if (rc != 0) {
        return rc;
    }
    value_t *v = lookup(L, vi.name);
    if (v != NULL && v->init >= 0) {
        return 0; // an initializer listed as an input too (IR version 3): a constant here
    }
    if (v != NULL || vi.name.len == 0) {
        return define(L, vi.name, -1, -1); // reports the duplicate or empty name
    }
    char nm[CW_NN_NAME_MAX];
    copy_name(nm, sizeof(nm), L->p + vi.name.at, vi.name.len);
    if (!vi.tensor || vi.elem != DT_FLOAT) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "input '%s': only float32 tensors are supported", nm);
    }
    if (!vi.has_shape || vi.open) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "input '%s': only fixed shapes are supported", nm);
    }
    if (vi.rank < 1 || vi.rank > CW_NN_MAX_RANK) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "input '%s': rank %d, 1 to %d are supported", nm, vi.rank,
                           CW_NN_MAX_RANK);
    }
    cw_nn_shape_t s = {vi.rank, {0}};
    for (int k = 0; k < vi.rank; k++) {
        if (vi.dims[k] < 1 || vi.dims[k] > MAX_DIM) {
            return cw_diag_set(L->diag, L->diag_len, vi.dims[k] < 1 ? CW_EFORMAT : CW_ETOOBIG,
                               "input '%s': dimension %d is %lld", nm, k, (long long)vi.dims[k]);
        }
        s.dims[k] = (int32_t)vi.dims[k];
    }
    if (vi.rank == 4) { // NCHW in the file, NHWC here
        s.dims[1] = (int32_t)vi.dims[2];
        s.dims[2] = (int32_t)vi.dims[3];
        s.dims[3] = (int32_t)vi.dims[1];
    }
    if (numel(&s) > MAX_ACT_ELEMS) {
        return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG, "input '%s' is too large", nm);
    }
    cw_nn_model_t *m = L->m;
    if (m->n_inputs == CW_NN_MAX_NODE_INPUTS) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED, "more than %d graph inputs",
                           CW_NN_MAX_NODE_INPUTS);
    }
    int32_t t;
    if ((rc = add_tensor(L, &s, vi.name, NULL, &t)) != 0 || (rc = define(L, vi.name, -1, t)) != 0) {
        return rc;
    }
    m->inputs[m->n_inputs++] = t;
    return 0;
}

static int load_output(ld_t *L, uint32_t i)
{
    vinfo_t vi;
    int rc = parse_vinfo(L, L->output_msg[i], &vi);
    if (rc != 0) {
        return rc;
    }
    char nm[CW_NN_NAME_MAX];
    copy_name(nm, sizeof(nm), L->p + vi.name.at, vi.name.len);
    value_t *v = lookup(L, vi.name);
    if (v == NULL || v->init >= 0) {
        return cw_diag_set(L->diag, L->diag_len, v == NULL ? CW_EFORMAT : CW_EUNSUPPORTED,
                           "graph output '%s' is %s", nm,
                           v == NULL ? "never written" : "a constant");
    }
    if (vi.has_type && (!vi.tensor || (vi.elem != 0 && vi.elem != DT_FLOAT))) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "output '%s': only float32 tensors are supported", nm);
    }
    // A declared shape must be what the graph computes (in the file's order).
    const cw_nn_shape_t *s = &L->shapes[v->tensor];
    int32_t d[CW_NN_MAX_RANK];
    file_dims(s, d);
    bool same = !vi.has_shape || vi.rank == s->rank;
    for (int k = 0; same && vi.has_shape && k < vi.rank; k++) {
        same = vi.dims[k] == d[k] || vi.dims[k] == 0; // 0: a dimension without a value
    }
    if (!same) {
        char got[64];
        shape_str(s, got, sizeof(got));
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT,
                           "output '%s': declared shape differs from the computed [%s]", nm, got);
    }
    cw_nn_model_t *m = L->m;
    if (m->n_outputs == CW_NN_MAX_NODE_OUTPUTS) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED, "more than %d graph outputs",
                           CW_NN_MAX_NODE_OUTPUTS);
    }
    m->outputs[m->n_outputs++] = v->tensor;
    return 0;
}

// Count, then record, the graph's repeated fields; every other field is skipped.
static int scan_graph(ld_t *L, span_t g)
{
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n[4] = {0, 0, 0, 0}; // nodes, initializers, inputs, outputs
        pbr_t r = pb_open(g);
        pbf_t f;
        bool more;
        int rc;
        while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
            int which = f.num == GRAPH_NODE          ? 0
                        : f.num == GRAPH_INITIALIZER ? 1
                        : f.num == GRAPH_INPUT       ? 2
                        : f.num == GRAPH_OUTPUT      ? 3
                                                     : -1;
            if (f.num == GRAPH_SPARSE_INITIALIZER) {
                return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                                   "sparse initializers are not supported");
            }
            if (which < 0) {
                continue;
            }
            if ((rc = want_wire(L, &f, WIRE_LEN)) != 0) {
                return rc;
            }
            if (pass == 0) {
                if (n[which] == MAX_COUNT) {
                    return cw_diag_set(L->diag, L->diag_len, CW_ETOOBIG,
                                       "more than %d nodes, initializers, inputs or outputs",
                                       MAX_COUNT);
                }
            } else if (which == 0) {
                L->node_msg[n[0]] = f.s;
            } else if (which == 1) {
                L->inits[n[1]].msg = f.s;
            } else {
                (which == 2 ? L->input_msg : L->output_msg)[n[which]] = f.s;
            }
            n[which]++;
        }
        if (rc != 0) {
            return rc;
        }
        if (pass == 1) {
            break;
        }
        L->n_nodes = n[0];
        L->n_inits = n[1];
        L->n_input_msgs = n[2];
        L->n_output_msgs = n[3];
        if (n[3] == 0) {
            return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "the graph has no outputs");
        }
        L->node_msg = cw_calloc(n[0] + 1, sizeof(*L->node_msg));
        L->inits = cw_calloc(n[1] + 1, sizeof(*L->inits));
        L->input_msg = cw_calloc(n[2] + 1, sizeof(*L->input_msg));
        L->output_msg = cw_calloc(n[3], sizeof(*L->output_msg));
        L->m->nodes = cw_calloc(n[0] + 1, sizeof(*L->m->nodes));
        // Every name: initializers, inputs and one output per node; the table at most half full.
        L->cap_values = n[0] + n[1] + n[2];
        uint32_t size = 16;
        while (size < 2 * L->cap_values) {
            size *= 2;
        }
        L->table_mask = size - 1;
        L->values = cw_calloc(L->cap_values + 1, sizeof(*L->values));
        L->table = cw_malloc(size * sizeof(*L->table));
        if (L->node_msg == NULL || L->inits == NULL || L->input_msg == NULL ||
            L->output_msg == NULL || L->m->nodes == NULL || L->values == NULL || L->table == NULL) {
            return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for the graph");
        }
        memset(L->table, 0xff, size * sizeof(*L->table));
    }
    return 0;
}

static int load_graph(ld_t *L, span_t g)
{
    int rc = scan_graph(L, g);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < L->n_inits; i++) {
        if ((rc = parse_init(L, L->inits[i].msg, &L->inits[i])) != 0 ||
            (rc = define(L, L->inits[i].name, (int32_t)i, -1)) != 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < L->n_input_msgs; i++) {
        if ((rc = load_input(L, i)) != 0) {
            return rc;
        }
    }
    if (L->m->n_inputs == 0) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "the graph has no inputs");
    }
    onode_t *nd = cw_malloc(sizeof(*nd));
    if (nd == NULL) {
        return cw_diag_set(L->diag, L->diag_len, CW_ENOMEM, "out of memory for the graph");
    }
    for (uint32_t k = 0; rc == 0 && k < L->n_nodes; k++) {
        rc = load_node(L, k, nd);
    }
    cw_free(nd);
    for (uint32_t i = 0; rc == 0 && i < L->n_output_msgs; i++) {
        rc = load_output(L, i);
    }
    return rc;
}

static int load(ld_t *L)
{
    pbr_t r = {0, L->len};
    pbf_t f;
    bool more, has_ir = false, has_graph = false;
    int64_t ir_version = 0, opset = -1;
    span_t graph = {0, 0};
    int rc;
    while ((rc = pb_next(L, &r, &f, &more)) == 0 && more) {
        if (f.num == MODEL_IR_VERSION) {
            rc = want_wire(L, &f, WIRE_VARINT);
            ir_version = to_i64(f.v);
            has_ir = true;
        } else if (f.num == MODEL_GRAPH) {
            if ((rc = want_wire(L, &f, WIRE_LEN)) == 0 && has_graph) {
                return pb_bad(L, "a second graph", f.at);
            }
            graph = f.s;
            has_graph = true;
        } else if (f.num == MODEL_OPSET_IMPORT && (rc = want_wire(L, &f, WIRE_LEN)) == 0) {
            span_t domain = {0, 0};
            int64_t version = -1;
            pbr_t o = pb_open(f.s);
            pbf_t g;
            while ((rc = pb_next(L, &o, &g, &more)) == 0 && more) {
                if (g.num == OPSET_DOMAIN) {
                    rc = want_wire(L, &g, WIRE_LEN);
                    domain = g.s;
                } else if (g.num == OPSET_VERSION) {
                    rc = want_wire(L, &g, WIRE_VARINT);
                    version = to_i64(g.v);
                }
                if (rc != 0) {
                    return rc;
                }
            }
            if (rc == 0 && (domain.len == 0 || span_is(L, domain, "ai.onnx"))) {
                opset = version;
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (rc != 0) {
        return rc;
    }
    if (!has_ir || !has_graph) {
        return cw_diag_set(L->diag, L->diag_len, CW_EFORMAT, "not an ONNX model (no %s)",
                           has_ir ? "graph" : "ir_version");
    }
    if (ir_version < MIN_IR_VERSION) {
        return cw_diag_set(L->diag, L->diag_len, CW_EUNSUPPORTED,
                           "ONNX IR version %lld, at least %d is supported", (long long)ir_version,
                           MIN_IR_VERSION);
    }
    if (opset < MIN_OPSET || opset > MAX_OPSET) {
        return cw_diag_set(L->diag, L->diag_len, opset < 0 ? CW_EFORMAT : CW_EUNSUPPORTED,
                           "ONNX opset %lld, %d to %d are supported", (long long)opset, MIN_OPSET,
                           MAX_OPSET);
    }
    return load_graph(L, graph);
}

int cw__nn_load_onnx(const uint8_t *buf, size_t len, struct cw_nn_model *model, char *diag,
                     size_t diag_len)
{
    ld_t L = {.p = buf, .len = len, .diag = diag, .diag_len = diag_len, .m = model};
    int rc = load(&L);
    cw_free(L.shapes);
    cw_free(L.inits);
    cw_free(L.node_msg);
    cw_free(L.input_msg);
    cw_free(L.output_msg);
    cw_free(L.values);
    cw_free(L.table);
    return rc;
}
