/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the face module's files: the engine (loaded models) and the session
 * (per-thread contexts and scratch buffers, grown when a new frame size is seen and reused).
 */
#ifndef CW_FACE_INTERNAL_H
#define CW_FACE_INTERNAL_H

#include "clearway/face.h"
#include "clearway/nn.h"

#include <stddef.h>

/* Pyramid levels whose P-Net contexts a session keeps (a few frame sizes' worth). */
enum { CW__PNET_CACHE = 32 };

struct cw_face_engine {
    cw_nn_model_t *pnet;
    cw_nn_model_t *rnet;
    cw_nn_model_t *onet;
    cw_nn_model_t *embed;
    cw_nn_model_t *embed2; /* fr_feature.onnx for the fused embedder, else NULL */
    cw_nn_model_t *pad;    /* NULL unless loaded */
    int min_face;
    float thresholds[3];
    int flip_average;
    uint32_t model_id;
    uint32_t model_version;
    uint32_t dim;
};

typedef struct cw__pnet_level {
    int w, h;
    unsigned long last_use;
    cw_nn_ctx_t *ctx;
} cw__pnet_level_t;

/* A detection candidate as it moves through the three MTCNN stages. */
typedef struct cw__cand {
    float x0, y0, x1, y1;
    float score;
    float reg[4];
    float lm[10]; /* planar: x1..x5, y1..y5 */
} cw__cand_t;

struct cw_face_session {
    const cw_face_engine_t *engine;
    cw__pnet_level_t pnet[CW__PNET_CACHE];
    unsigned long tick;
    cw_nn_ctx_t *rnet;
    cw_nn_ctx_t *onet;
    cw_nn_ctx_t *embed;
    cw_nn_ctx_t *embed2;
    cw_nn_ctx_t *pad;
    float *scratch; /* HWC floats: a pyramid level, a crop, an aligned face */
    size_t scratch_cap;
    cw__cand_t *cand; /* candidates of all levels */
    size_t cand_cap;
    cw__cand_t *level; /* candidates of one level */
    size_t level_cap;
};

/* Grow-only scratch buffers: 0 or CW_ENOMEM / CW_EOVERFLOW. */
int cw__face_scratch(cw_face_session_t *s, size_t floats);
int cw__face_cand_reserve(cw__cand_t **buf, size_t *cap, size_t n);

/* Copy an HWC float image into a transposed [W][H][C] tensor (the MTCNN layout). */
void cw__face_transpose_hwc(const float *hwc, int w, int h, int c, float *whc);

#endif
