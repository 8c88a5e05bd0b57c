// SPDX-License-Identifier: Apache-2.0
// Load-time graph rewrites that make a model cheaper to run without changing what it computes.
// Converters often spell PReLU as a chain of element-wise ops (MobileFaceNet:
// relu(x) + c * (x - |x|); the MTCNN nets: relu(x) + c * -relu(-x)), five or six passes over
// memory where one would do. A chain is found by its shape in the graph, then proven a PReLU by
// evaluating it, channel by channel, at a few points; it becomes one PRELU node. A PRELU (or a
// LEAKY_RELU) that alone reads a convolution's or fully connected layer's output then becomes
// that node's epilogue, applied while the output is still in cache. Unused tensors and nodes are
// dropped at the end, so the model keeps the loader's invariant that everything it holds is used.
#include "nn_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <math.h>
#include <string.h>

// A PReLU chain is a handful of nodes; a larger cone is something else, and the walk is cut off.
enum { MAX_CONE = 8, MAX_FRONTIER = 2 * MAX_CONE + 2 };

typedef struct fuse {
    cw_nn_model_t *m;
    int cap;             // entries of producer and uses: tensors the model may grow to
    int *producer;       // per tensor: the node that writes it, or -1
    int *uses;           // per tensor: node inputs that read it, plus one if it is a model output
    unsigned char *dead; // per node: removed by a rewrite, dropped by compact()
} fuse_t;

// A candidate chain: the nodes between one non-constant source x and the final ADD.
typedef struct cone {
    int node[MAX_CONE]; // ascending, so in execution order; the root last
    int n;
    int x;
    int channels; // x's last dimension, the axis per-channel constants run along
} cone_t;

static size_t tensor_numel(const cw_nn_tensor_t *t)
{
    size_t n = 1;
    for (int i = 0; i < t->shape.rank; i++) {
        n *= t->shape.dims[i] > 0 ? (size_t)t->shape.dims[i] : 0;
    }
    return n;
}

// Does constant t broadcast as one value, or one value per channel of the last axis, against a
// tensor of rank `rank` and `channels` channels, without changing that tensor's shape?
static int per_channel_const(const cw_nn_tensor_t *t, int channels, int rank)
{
    if (!t->is_const || t->shape.rank > rank) {
        return 0;
    }
    size_t n = tensor_numel(t);
    if (n == 1) {
        return 1;
    }
    return n == (size_t)channels && t->shape.dims[t->shape.rank - 1] == channels;
}

// The ops a chain may be built from. Each keeps the chain positively homogeneous
// (f(t x) = t f(x) for t > 0), which is what lets a few evaluations prove it a PReLU: so ADD and
// SUB must combine two values derived from x (adding a constant would move the kink off 0) and
// MUL must scale one by a constant (x * x is not piecewise linear).
static int chain_op(const cw_nn_model_t *m, const cw_nn_node_t *nd)
{
    if (nd->act != CW_NN_ACT_NONE || nd->n_out != 1) {
        return 0;
    }
    for (int j = 0; j < nd->n_in; j++) {
        if (nd->in[j] < 0) {
            return 0;
        }
    }
    switch (nd->op) {
    case CW_NN_OP_RELU:
    case CW_NN_OP_ABS:
    case CW_NN_OP_NEG:
        return nd->n_in == 1 && !m->tensors[nd->in[0]].is_const;
    case CW_NN_OP_ADD:
    case CW_NN_OP_SUB:
        return nd->n_in == 2 && !m->tensors[nd->in[0]].is_const && !m->tensors[nd->in[1]].is_const;
    case CW_NN_OP_MUL:
        return nd->n_in == 2 && m->tensors[nd->in[0]].is_const != m->tensors[nd->in[1]].is_const;
    default:
        return 0;
    }
}

static int reads_in_cone(const cw_nn_model_t *m, const cone_t *c, int t)
{
    int n = 0;
    for (int i = 0; i < c->n; i++) {
        const cw_nn_node_t *nd = &m->nodes[c->node[i]];
        for (int j = 0; j < nd->n_in; j++) {
            n += nd->in[j] == t;
        }
    }
    return n;
}

static void cone_insert(cone_t *c, int k)
{
    int i = c->n++;
    while (i > 0 && c->node[i - 1] > k) {
        c->node[i] = c->node[i - 1];
        i--;
    }
    c->node[i] = k;
}

// Walk back from the ADD node `root` through chain ops until the values read come down to one
// non-constant tensor x. Every tensor in between must be read only inside the cone (so the
// rewrite cannot change what any other node sees) and not be a model output. Returns 1 with *c
// filled when the structure fits; the values are checked by cone_slopes.
static int find_cone(const fuse_t *f, int root, cone_t *c)
{
    const cw_nn_model_t *m = f->m;
    int front[MAX_FRONTIER];
    int nf = 0;
    c->n = 0;
    int k = root;
    for (;;) {
        const cw_nn_node_t *nd = &m->nodes[k];
        if (c->n == MAX_CONE || !chain_op(m, nd)) {
            return 0;
        }
        cone_insert(c, k);
        for (int j = 0; j < nd->n_in; j++) {
            int t = nd->in[j];
            int seen = m->tensors[t].is_const;
            for (int i = 0; i < nf && !seen; i++) {
                seen = front[i] == t;
            }
            if (!seen) {
                if (nf == MAX_FRONTIER) {
                    return 0;
                }
                front[nf++] = t;
            }
        }
        if (nf == 1) {
            break;
        }
        // Expand the most recently written tensor first: every cone node that runs after its
        // writer is then already in the cone, so its readers there are all known.
        int best = 0;
        for (int i = 1; i < nf; i++) {
            if (f->producer[front[i]] > f->producer[front[best]]) {
                best = i;
            }
        }
        int t = front[best];
        k = f->producer[t];
        if (k < 0 || reads_in_cone(m, c, t) != f->uses[t]) {
            return 0;
        }
        front[best] = front[--nf];
    }
    c->x = front[0];
    const cw_nn_shape_t *xs = &m->tensors[c->x].shape;
    if (xs->rank < 1 || xs->dims[xs->rank - 1] < 1) {
        return 0;
    }
    c->channels = xs->dims[xs->rank - 1];
    for (int i = 0; i < c->n; i++) {
        const cw_nn_node_t *nd = &m->nodes[c->node[i]];
        for (int j = 0; j < nd->n_in; j++) {
            const cw_nn_tensor_t *t = &m->tensors[nd->in[j]];
            if (t->is_const && !per_channel_const(t, c->channels, xs->rank)) {
                return 0;
            }
        }
    }
    return 1;
}

// A value a cone node reads, for channel ch when x = v; val holds the cone's results so far.
static float operand(const cw_nn_model_t *m, const cone_t *c, const float *val, int t, int ch,
                     float v)
{
    if (t == c->x) {
        return v;
    }
    const cw_nn_tensor_t *tt = &m->tensors[t];
    if (tt->is_const) {
        return tt->data[tensor_numel(tt) == 1 ? 0 : ch];
    }
    for (int i = 0; i < c->n; i++) {
        if (m->nodes[c->node[i]].out[0] == t) {
            return val[i];
        }
    }
    return NAN; // not reached: find_cone saw every operand come from x, a constant or the cone
}

// The chain's output for channel ch when every element of x is v, computed as the kernels would.
static float cone_eval(const cw_nn_model_t *m, const cone_t *c, int ch, float v)
{
    float val[MAX_CONE];
    for (int i = 0; i < c->n; i++) {
        val[i] = NAN; // a graph out of order would read a result not yet computed: refuse it
    }
    for (int i = 0; i < c->n; i++) {
        const cw_nn_node_t *nd = &m->nodes[c->node[i]];
        float a = operand(m, c, val, nd->in[0], ch, v);
        float b = nd->n_in > 1 ? operand(m, c, val, nd->in[1], ch, v) : 0.0f;
        switch (nd->op) {
        case CW_NN_OP_RELU:
            val[i] = a > 0.0f ? a : 0.0f;
            break;
        case CW_NN_OP_ABS:
            val[i] = fabsf(a);
            break;
        case CW_NN_OP_NEG:
            val[i] = -a;
            break;
        case CW_NN_OP_ADD:
            val[i] = a + b;
            break;
        case CW_NN_OP_SUB:
            val[i] = a - b;
            break;
        case CW_NN_OP_MUL:
            val[i] = a * b;
            break;
        default:
            val[i] = NAN; // not reached: chain_op admits only the ops above
            break;
        }
    }
    return val[c->n - 1];
}

static int close_to(float a, float b)
{
    return fabsf(a - b) <= 1e-6f * (1.0f + fabsf(b));
}

// Is the cone a PReLU in every channel? If so, alpha gets the slopes. A positively homogeneous
// f is f(1) x for x > 0 and f(-1) |x| for x < 0, so f(1) = 1 makes it PReLU with slope -f(-1).
// The points 3 and -3 are checked too, so that a chain outside that reasoning is refused rather
// than mis-compiled.
static int cone_slopes(const cw_nn_model_t *m, const cone_t *c, float *alpha)
{
    for (int ch = 0; ch < c->channels; ch++) {
        float p1 = cone_eval(m, c, ch, 1.0f), p3 = cone_eval(m, c, ch, 3.0f);
        float n1 = cone_eval(m, c, ch, -1.0f), n3 = cone_eval(m, c, ch, -3.0f);
        if (!close_to(p1, 1.0f) || !close_to(p3, 3.0f) || !close_to(n3, 3.0f * n1)) {
            return 0;
        }
        alpha[ch] = -n1;
    }
    return 1;
}

// Append a constant [channels] tensor that takes ownership of data (a cw_aligned_alloc block),
// named after tensor name_of (the activation the slopes belong to, for diagnostics).
static int add_const(fuse_t *f, float *data, int channels, int name_of, int *out)
{
    cw_nn_model_t *m = f->m;
    if (m->n_tensors >= f->cap) {
        return CW_EINVAL; // not reached: each rewrite adds at most one tensor and removes a node
    }
    cw_nn_tensor_t *grown = cw_reallocarray(m->tensors, (size_t)m->n_tensors + 1, sizeof(*grown));
    if (grown == NULL) {
        return CW_ENOMEM;
    }
    m->tensors = grown;
    int t = m->n_tensors++;
    cw_nn_tensor_t *tt = &m->tensors[t];
    memset(tt, 0, sizeof(*tt));
    tt->shape.rank = 1;
    tt->shape.dims[0] = channels;
    tt->data = data;
    tt->is_const = 1;
    memcpy(tt->name, m->tensors[name_of].name, sizeof(tt->name)); // after the realloc
    f->producer[t] = -1;
    f->uses[t] = 0;
    *out = t;
    return 0;
}

// Replace every PReLU chain by a PRELU node in the chain's last (ADD) node.
static int fuse_chains(fuse_t *f)
{
    cw_nn_model_t *m = f->m;
    for (int k = 0; k < m->n_nodes; k++) {
        cone_t c;
        if (f->dead[k] || m->nodes[k].op != CW_NN_OP_ADD || !find_cone(f, k, &c)) {
            continue;
        }
        float *alpha = cw_aligned_alloc(64, (size_t)c.channels * sizeof(float));
        if (alpha == NULL) {
            return CW_ENOMEM;
        }
        if (!cone_slopes(m, &c, alpha)) {
            cw_aligned_free(alpha);
            continue;
        }
        cw_nn_node_t *nd = &m->nodes[k];
        int a;
        int rc = add_const(f, alpha, c.channels, nd->out[0], &a);
        if (rc != 0) {
            cw_aligned_free(alpha);
            return rc;
        }
        for (int i = 0; i < c.n; i++) {
            const cw_nn_node_t *cn = &m->nodes[c.node[i]];
            for (int j = 0; j < cn->n_in; j++) {
                f->uses[cn->in[j]]--;
            }
            f->dead[c.node[i]] = c.node[i] != k;
        }
        nd->op = CW_NN_OP_PRELU;
        nd->n_in = 2;
        nd->in[0] = c.x;
        nd->in[1] = a;
        memset(&nd->p, 0, sizeof(nd->p));
        f->uses[c.x]++;
        f->uses[a]++;
    }
    return 0;
}

// Output channels of a convolution or fully connected node, or 0 if it has none we can use.
static int node_channels(const cw_nn_model_t *m, const cw_nn_node_t *nd)
{
    if (nd->n_in < 2 || nd->in[1] < 0) {
        return 0;
    }
    const cw_nn_shape_t *ws = &m->tensors[nd->in[1]].shape;
    switch (nd->op) {
    case CW_NN_OP_CONV2D:
        return ws->rank == 4 ? ws->dims[0] : 0;
    case CW_NN_OP_DEPTHWISE_CONV2D:
        return ws->rank == 4 ? ws->dims[3] : 0;
    case CW_NN_OP_FULLY_CONNECTED:
        return ws->rank == 2 ? ws->dims[0] : 0;
    default:
        return 0;
    }
}

// Move PRELU and LEAKY_RELU nodes into the convolution or fully connected node they follow,
// when that node's output is read by nothing else.
static int fuse_epilogues(fuse_t *f)
{
    cw_nn_model_t *m = f->m;
    for (int k = 0; k < m->n_nodes; k++) {
        cw_nn_node_t *nd = &m->nodes[k];
        if (f->dead[k] || (nd->op != CW_NN_OP_PRELU && nd->op != CW_NN_OP_LEAKY_RELU) ||
            nd->act != CW_NN_ACT_NONE || nd->n_in < 1 || nd->in[0] < 0) {
            continue;
        }
        int x = nd->in[0];
        int q = f->producer[x];
        if (q < 0 || f->uses[x] != 1) {
            continue;
        }
        cw_nn_node_t *qn = &m->nodes[q];
        int channels = node_channels(m, qn);
        if (channels < 1 || qn->act != CW_NN_ACT_NONE || qn->n_out != 1 || qn->n_in > 3) {
            continue;
        }
        int a;
        if (nd->op == CW_NN_OP_PRELU) {
            // The slopes must run along the output's channels and not widen its rank.
            const cw_nn_shape_t *xs = &m->tensors[x].shape;
            int rank = xs->rank > 1 ? xs->rank : 1;
            if (nd->n_in != 2 || nd->in[1] < 0 ||
                !per_channel_const(&m->tensors[nd->in[1]], channels, rank) ||
                tensor_numel(&m->tensors[nd->in[1]]) != (size_t)channels) {
                continue;
            }
            a = nd->in[1];
        } else {
            float *alpha = cw_aligned_alloc(64, (size_t)channels * sizeof(float));
            if (alpha == NULL) {
                return CW_ENOMEM;
            }
            for (int c = 0; c < channels; c++) {
                alpha[c] = nd->p.leaky.alpha;
            }
            int rc = add_const(f, alpha, channels, nd->out[0], &a);
            if (rc != 0) {
                cw_aligned_free(alpha);
                return rc;
            }
            f->uses[a]++;
        }
        if (qn->n_in < 3) {
            qn->in[2] = -1;
        }
        qn->in[3] = a;
        qn->n_in = 4;
        qn->act = CW_NN_ACT_PRELU;
        qn->out[0] = nd->out[0];
        f->producer[nd->out[0]] = q;
        f->uses[x] = 0;
        f->dead[k] = 1;
    }
    return 0;
}

// Drop dead nodes and the tensors nothing refers to any more, renumbering the rest.
static void compact(fuse_t *f)
{
    cw_nn_model_t *m = f->m;
    int n = 0;
    for (int k = 0; k < m->n_nodes; k++) {
        if (!f->dead[k]) {
            m->nodes[n++] = m->nodes[k];
        }
    }
    m->n_nodes = n;
    int *keep = f->uses; // reused: per tensor, 1 if referenced, then its new index
    memset(keep, 0, (size_t)m->n_tensors * sizeof(*keep));
    for (int k = 0; k < m->n_nodes; k++) {
        const cw_nn_node_t *nd = &m->nodes[k];
        for (int j = 0; j < nd->n_in; j++) {
            if (nd->in[j] >= 0) {
                keep[nd->in[j]] = 1;
            }
        }
        for (int j = 0; j < nd->n_out; j++) {
            keep[nd->out[j]] = 1;
        }
    }
    for (int i = 0; i < m->n_inputs; i++) {
        keep[m->inputs[i]] = 1;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        keep[m->outputs[i]] = 1;
    }
    n = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        if (keep[t]) {
            m->tensors[n] = m->tensors[t];
            keep[t] = n++;
        } else {
            cw_aligned_free(m->tensors[t].data);
            keep[t] = -1;
        }
    }
    m->n_tensors = n;
    for (int k = 0; k < m->n_nodes; k++) {
        cw_nn_node_t *nd = &m->nodes[k];
        for (int j = 0; j < nd->n_in; j++) {
            nd->in[j] = nd->in[j] >= 0 ? keep[nd->in[j]] : -1;
        }
        for (int j = 0; j < nd->n_out; j++) {
            nd->out[j] = keep[nd->out[j]];
        }
    }
    for (int i = 0; i < m->n_inputs; i++) {
        m->inputs[i] = keep[m->inputs[i]];
    }
    for (int i = 0; i < m->n_outputs; i++) {
        m->outputs[i] = keep[m->outputs[i]];
    }
}

int cw__nn_fuse(struct cw_nn_model *m, char *diag, size_t diag_len)
{
    fuse_t f = {.m = m, .cap = m->n_tensors + m->n_nodes};
    f.producer = cw_calloc((size_t)f.cap, sizeof(*f.producer));
    f.uses = cw_calloc((size_t)f.cap, sizeof(*f.uses));
    f.dead = cw_calloc((size_t)m->n_nodes + 1, 1);
    int rc = CW_ENOMEM;
    if (f.producer == NULL || f.uses == NULL || f.dead == NULL) {
        goto done;
    }
    for (int t = 0; t < m->n_tensors; t++) {
        f.producer[t] = -1;
    }
    for (int k = 0; k < m->n_nodes; k++) {
        const cw_nn_node_t *nd = &m->nodes[k];
        for (int j = 0; j < nd->n_in; j++) {
            if (nd->in[j] >= 0) {
                f.uses[nd->in[j]]++;
            }
        }
        for (int j = 0; j < nd->n_out; j++) {
            f.producer[nd->out[j]] = k;
        }
    }
    for (int i = 0; i < m->n_outputs; i++) {
        f.uses[m->outputs[i]]++;
    }
    rc = fuse_chains(&f);
    if (rc == 0) {
        rc = fuse_epilogues(&f);
    }
    if (rc == 0) {
        compact(&f);
    }
done:
    cw_free(f.producer);
    cw_free(f.uses);
    cw_free(f.dead);
    return rc == 0 ? 0 : cw_diag_set(diag, diag_len, rc, "out of memory fusing operators");
}
