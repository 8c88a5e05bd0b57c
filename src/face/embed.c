// SPDX-License-Identifier: Apache-2.0
// Embedding (align, run the embedder on the crop and on its mirror image, average, L2-normalise),
// comparison of templates, and the presentation-attack score.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "face_internal.h"

#include <math.h>
#include <string.h>

#define EMBED_MEAN 127.5f
#define EMBED_SCALE (1.0f / 128.0f)
#define MOBILEFACENET_DIM 192u

// Mirror an HWC float image left to right.
static void mirror_hwc(const float *src, int w, int h, int c, float *dst)
{
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w * c;
        float *d = dst + (size_t)y * w * c;
        for (int x = 0; x < w; x++) {
            memcpy(d + (size_t)(w - 1 - x) * c, s + (size_t)x * c, (size_t)c * sizeof(float));
        }
    }
}

// dst[0..n) = the L2-normalised a (or mean of a and b) times scale; CW_EMODEL if it has no
// direction (a broken or NaN model).
static int normalise_into(const float *a, const float *b, uint32_t n, float scale, float *dst)
{
    double norm = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        float x = b != NULL ? 0.5f * (a[i] + b[i]) : a[i];
        dst[i] = x;
        norm += (double)x * x;
    }
    if (!(norm > 1e-20) || !isfinite(norm)) {
        return CW_EMODEL;
    }
    float inv = (float)(scale / sqrt(norm));
    for (uint32_t i = 0; i < n; i++) {
        dst[i] *= inv;
    }
    return 0;
}

int cw_face_embed(cw_face_session_t *s, const cw_image_t *img, const cw_face_t *face,
                  cw_face_template_t *out)
{
    if (s == NULL || img == NULL || img->channels != 3 || face == NULL || out == NULL) {
        return CW_EINVAL;
    }
    const cw_face_engine_t *e = s->engine;
    double m[6];
    int rc = cw_face_align(face, m);
    if (rc != 0) {
        return rc;
    }
    cw_nn_shape_t in_shape;
    float *in = cw_nn_ctx_input(s->embed, 0, &in_shape);
    if (in == NULL) {
        return CW_EINTERNAL;
    }
    const int side = CW_FACE_ALIGNED_SIDE;
    const size_t plane = (size_t)side * side * 3;
    rc = cw_image_warp_affine_f32(img, m, side, side, EMBED_MEAN, EMBED_SCALE, 0, 0, in);
    if (rc != 0) {
        return rc;
    }
    const int batch = in_shape.dims[0];
    if (batch == 2) {
        mirror_hwc(in, side, side, 3, in + plane);
    }
    rc = cw_nn_ctx_run(s->embed);
    if (rc != 0) {
        return rc;
    }
    cw_nn_shape_t os;
    const float *v = cw_nn_ctx_output(s->embed, 0, &os);
    const uint32_t d1 = e->embed2 != NULL ? MOBILEFACENET_DIM : e->dim;
    if (v == NULL || os.rank != 2 || os.dims[0] != batch || (uint32_t)os.dims[1] != d1) {
        return CW_EMODEL;
    }
    memset(out, 0, sizeof(*out));
    out->model_id = e->model_id;
    out->model_version = e->model_version;
    out->dim = e->dim;
    out->flags = batch == 2 ? CW_FACE_TEMPLATE_FLIP_AVERAGED : 0;
    // Fused templates hold each model's unit vector scaled by 1/sqrt(2): their dot product is
    // the mean of the two cosines.
    const float part = e->embed2 != NULL ? (float)0.70710678118654752440 : 1.0f;
    rc = normalise_into(v, batch == 2 ? v + d1 : NULL, d1, part, out->v);
    // Wipe the aligned face from the input tensor: it is biometric data.
    cw_memzero(in, plane * (size_t)batch * sizeof(float));
    if (rc == 0 && e->embed2 != NULL) {
        float *in2 = cw_nn_ctx_input(s->embed2, 0, &in_shape);
        rc = in2 == NULL ? CW_EINTERNAL : 0;
        if (rc == 0) {
            // fr_feature's own normalisation: (v - 127) / 128, RGB, NHWC as loaded.
            rc = cw_image_warp_affine_f32(img, m, side, side, 127.0f, 1.0f / 128.0f, 0, 0, in2);
        }
        if (rc == 0) {
            rc = cw_nn_ctx_run(s->embed2);
        }
        cw_memzero(in2, plane * sizeof(float));
        const float *v2 = rc == 0 ? cw_nn_ctx_output(s->embed2, 0, &os) : NULL;
        if (rc == 0 && (v2 == NULL || os.rank != 2 || os.dims[0] != 1 ||
                        (uint32_t)os.dims[1] != e->dim - d1)) {
            rc = CW_EMODEL;
        }
        if (rc == 0) {
            rc = normalise_into(v2, NULL, e->dim - d1, part, out->v + d1);
        }
    }
    if (rc != 0) {
        cw_memzero(out, sizeof(*out));
    }
    return rc;
}

int cw_face_compare(const cw_face_template_t *a, const cw_face_template_t *b, float *score)
{
    if (a == NULL || b == NULL || score == NULL || a->dim == 0 || a->dim > CW_FACE_MAX_DIM ||
        b->dim == 0 || b->dim > CW_FACE_MAX_DIM) {
        return CW_EINVAL;
    }
    if (a->model_id != b->model_id || a->model_version != b->model_version || a->dim != b->dim) {
        return CW_EMISMATCH;
    }
    double dot = 0.0;
    for (uint32_t i = 0; i < a->dim; i++) {
        dot += (double)a->v[i] * b->v[i];
    }
    if (!isfinite(dot)) {
        return CW_EINVAL;
    }
    *score = (float)(dot > 1.0 ? 1.0 : dot < -1.0 ? -1.0 : dot);
    return 0;
}

static int one_hot(const float *v, int n)
{
    int ones = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] == 1.0f) {
            ones++;
        } else if (v[i] != 0.0f) {
            return 0;
        }
    }
    return ones == 1;
}

int cw_face_pad(cw_face_session_t *s, const cw_image_t *img, const cw_face_t *face, float *score)
{
    if (s == NULL || img == NULL || img->channels != 3 || face == NULL || score == NULL) {
        return CW_EINVAL;
    }
    if (s->pad == NULL) {
        return CW_EUNSUPPORTED;
    }
    // The model wants the face with context: the detector box grown 1.5x about its centre (on
    // the development photos this gave the fewest live faces flagged; docs/models.md).
    double w = (double)face->x1 - face->x0;
    double h = (double)face->y1 - face->y0;
    double side = 1.5 * (w > h ? w : h);
    double cx = 0.5 * ((double)face->x0 + face->x1);
    double cy = 0.5 * ((double)face->y0 + face->y1);
    cw_nn_shape_t in_shape;
    float *in = cw_nn_ctx_input(s->pad, 0, &in_shape);
    if (in == NULL) {
        return CW_EINTERNAL;
    }
    int rc = cw_image_crop_resize_f32(img, cx - 0.5 * side, cy - 0.5 * side, side, side, 256, 256,
                                      0.0f, 1.0f / 255.0f, 0, in);
    if (rc != 0) {
        return rc;
    }
    rc = cw_nn_ctx_run(s->pad);
    cw_memzero(in, (size_t)256 * 256 * 3 * sizeof(float));
    if (rc != 0) {
        return rc;
    }
    // Outputs: the 8 leaf scores and a one-hot mask of the leaf reached; the score is the
    // reached leaf's |score| (the package's own rule, docs/model-study.md section 2.5).
    cw_nn_shape_t s0;
    cw_nn_shape_t s1;
    const float *leaf = cw_nn_ctx_output(s->pad, 0, &s0);
    const float *mask = cw_nn_ctx_output(s->pad, 1, &s1);
    if (leaf == NULL || mask == NULL || s0.rank != 2 || s1.rank != 2 || s0.dims[1] != 8 ||
        s1.dims[1] != 8) {
        return CW_EMODEL;
    }
    // Which output is the mask is found by looking: the one that is one-hot.
    if (!one_hot(mask, 8) && one_hot(leaf, 8)) {
        const float *t = leaf;
        leaf = mask;
        mask = t;
    }
    double sc = 0.0;
    for (int i = 0; i < 8; i++) {
        sc += fabs((double)leaf[i]) * mask[i];
    }
    if (!isfinite(sc)) {
        return CW_EMODEL;
    }
    *score = (float)(sc > 1.0 ? 1.0 : sc);
    return 0;
}

const char *cw_face_model_name(uint32_t model_id)
{
    switch (model_id) {
    case CW_FACE_MODEL_MOBILEFACENET:
        return "mobilefacenet";
    case CW_FACE_MODEL_FUSED:
        return "mobilefacenet+fr_feature";
    default:
        return "unknown";
    }
}

// Thresholds at FMR 1e-3 and 1e-4 measured by `clearway eval face` over all 21 million impostor
// pairs of lfw-dev (docs/models.md has the runs). Re-measure when the model or the pipeline
// changes: a threshold belongs to a model, a version and a way of making templates.
static const struct {
    uint32_t model_id, model_version, flags;
    double at_1e3, at_1e4;
} THRESHOLDS[] = {
    {CW_FACE_MODEL_MOBILEFACENET, 1, CW_FACE_TEMPLATE_FLIP_AVERAGED, 0.4588, 0.5402},
    {CW_FACE_MODEL_MOBILEFACENET, 1, 0, 0.4574, 0.5389},
    {CW_FACE_MODEL_FUSED, 1, CW_FACE_TEMPLATE_FLIP_AVERAGED, 0.3827, 0.4589},
};

double cw_face_threshold(uint32_t model_id, uint32_t model_version, uint32_t flags, double fmr)
{
    for (size_t i = 0; i < sizeof(THRESHOLDS) / sizeof(THRESHOLDS[0]); i++) {
        if (THRESHOLDS[i].model_id == model_id && THRESHOLDS[i].model_version == model_version &&
            THRESHOLDS[i].flags == flags) {
            return fmr >= 3e-4 ? THRESHOLDS[i].at_1e3 : THRESHOLDS[i].at_1e4;
        }
    }
    return 2.0;
}
