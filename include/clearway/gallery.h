/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gallery: exact 1:N search over many templates of one modality and model version, and the
 * open-set decision that knows the gallery size.
 *
 * Rows are stored twice: an int8 copy (per-vector scale) that SIMD kernels scan, and the
 * float32 original that re-ranks the best candidates, so every returned score is the float
 * cosine similarity and the top-k is exact (the int8 scan keeps a proven error bound per block
 * of rows; when the bound cannot prove the answer, the search widens until it can). In RAM the
 * scan side costs the int8 row (dim rounded up to 64 bytes) plus 12 bytes of scale and id and
 * about 6 bytes of id index per row (1.14x the int8 templates at d = 128), beside the floats.
 *
 * Concurrency: any number of threads may search at once while one thread adds, updates or
 * removes; a search sees each row either before or after a write, never half-written. Writers
 * must be serialised by the caller (one writer at a time).
 */
#ifndef CLEARWAY_GALLERY_H
#define CLEARWAY_GALLERY_H

#include "clearway/thread.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_gallery cw_gallery_t;

enum { CW_GALLERY_MIN_DIM = 64, CW_GALLERY_MAX_DIM = 1024, CW_GALLERY_MAX_K = 1024 };

typedef struct cw_gallery_config {
    uint32_t dim;           /* 64..1024 */
    uint32_t modality;      /* 1 = face, 2 = fingerprint (templates of one kind per gallery) */
    uint32_t model_id;      /* as in the templates (cw_face_template_t.model_id) */
    uint32_t model_version; /* idem */
    size_t capacity;        /* rows to reserve exactly (the gallery grows by half as needed) */
} cw_gallery_config_t;

/*
 * cw_gallery_create: an empty gallery. Errors: CW_EINVAL (dimension out of range), CW_ENOMEM.
 * Destroy with cw_gallery_destroy (NULL is a no-op); it wipes the templates.
 */
int cw_gallery_create(const cw_gallery_config_t *cfg, cw_gallery_t **out);
void cw_gallery_destroy(cw_gallery_t *g);

/* The configuration the gallery was made with. */
void cw_gallery_config(const cw_gallery_t *g, cw_gallery_config_t *out);

/*
 * cw_gallery_add: add template v (dim floats; need not be normalised: it is L2-normalised on
 * the way in) under id. Errors: CW_EEXIST (id present), CW_EINVAL (NaN/Inf or zero vector),
 * CW_ENOMEM. cw_gallery_update replaces the template of an existing id (CW_ENOENT if absent);
 * cw_gallery_remove removes it (CW_ENOENT if absent).
 */
int cw_gallery_add(cw_gallery_t *g, uint64_t id, const float *v);
int cw_gallery_update(cw_gallery_t *g, uint64_t id, const float *v);
int cw_gallery_remove(cw_gallery_t *g, uint64_t id);

/* Live rows (added and not removed). */
size_t cw_gallery_count(const cw_gallery_t *g);

/*
 * cw_gallery_compact: reclaim the slots of removed rows. A writer operation (serialise it with
 * the other writers), meant for a background thread: searches go on while it copies the live
 * rows into new arrays and wait only for the final swap. It needs room for that second copy
 * while it runs. Errors: CW_ENOMEM (the gallery is unchanged).
 */
int cw_gallery_compact(cw_gallery_t *g);

typedef struct cw_gallery_hit {
    uint64_t id;
    float score; /* float cosine similarity */
} cw_gallery_hit_t;

/*
 * cw_gallery_search: the k best rows for query (dim floats, normalised on the way in), best
 * first, ties broken by smaller id. Writes min(k, count) hits to hits[] and that number to
 * *n_hits. pool may be NULL (the calling thread scans alone). Errors: CW_EINVAL (k outside
 * 1..CW_GALLERY_MAX_K, NaN or zero query), CW_ENOMEM.
 */
int cw_gallery_search(const cw_gallery_t *g, const float *query, int k, cw_pool_t *pool,
                      cw_gallery_hit_t *hits, int *n_hits);

/*
 * cw_gallery_search_batch: n_queries queries (n_queries x dim floats, row-major) answered in one
 * pass over memory. hits is n_queries x k (query q's hits at hits + q * k), n_hits[q] how many.
 */
int cw_gallery_search_batch(const cw_gallery_t *g, const float *queries, int n_queries, int k,
                            cw_pool_t *pool, cw_gallery_hit_t *hits, int *n_hits);

/* Bytes of RAM the gallery uses: the int8 scan copy (and its per-row data), the floats. */
void cw_gallery_memory(const cw_gallery_t *g, size_t *scan_bytes, size_t *float_bytes);

/*
 * cw_gallery_save / cw_gallery_load: a snapshot file (magic, format version, dimension, model,
 * count, checksum). Load refuses a corrupt or truncated file with CW_ECORRUPT / CW_EFORMAT and a
 * detail in diag; it never crashes on any input.
 */
int cw_gallery_save(const cw_gallery_t *g, const char *path, char *diag, size_t diag_len);
int cw_gallery_load(const char *path, cw_gallery_t **out, char *diag, size_t diag_len);

/* ---- open-set decisions ---- */

/*
 * Calibration of one model's impostor score tail: the score above which a fraction p_u of
 * impostor comparisons lie (u), and a generalised Pareto fit of the excesses above u (shape xi,
 * scale sigma), from labelled data. FMR(t) = p_u (1 + xi (t - u) / sigma)^(-1/xi) for t >= u.
 */
typedef struct cw_gallery_calibration {
    uint32_t model_id, model_version;
    double u, p_u, xi, sigma;
    uint64_t n_impostor; /* comparisons the fit was made from */
} cw_gallery_calibration_t;

typedef struct cw_gallery_policy {
    double target_fpir; /* e.g. 1e-3: false-positive identification rate allowed */
    float margin;       /* AMBIGUOUS if the runner-up is within this of the best */
    uint64_t max_n;     /* beyond this gallery size face-only 1:N is not allowed (0: none) */
} cw_gallery_policy_t;

typedef enum cw_gallery_verdict {
    CW_GALLERY_NO_MATCH = 0,
    CW_GALLERY_MATCH,
    CW_GALLERY_AMBIGUOUS,
    CW_GALLERY_REQUIRES_SECOND_FACTOR,
} cw_gallery_verdict_t;

typedef struct cw_gallery_decision {
    cw_gallery_verdict_t verdict;
    uint64_t id;           /* MATCH: the candidate */
    float score;           /* best score */
    double threshold;      /* the threshold used at this N */
    uint64_t n;            /* gallery size the decision was made for */
    double predicted_fpir; /* 1 - (1 - FMR(threshold))^n */
} cw_gallery_decision_t;

/*
 * cw_gallery_calibrate: fit the tail of n impostor scores: u is the (1 - tail_fraction)
 * quantile (tail_fraction e.g. 1e-3; at least 100 scores must lie above u), the GPD by maximum
 * likelihood (or a stated robust method) on the excesses. The caller fills model_id/version.
 * Errors: CW_EINVAL (too few scores, NaN), CW_ENOMEM.
 */
int cw_gallery_calibrate(const float *scores, size_t n, double tail_fraction,
                         cw_gallery_calibration_t *out);

/*
 * cw_gallery_calibration_for: the built-in calibration of a model (measured on the development
 * data, docs/gallery-decisions.md). CW_ENOENT for a model without one: callers must fail closed.
 * flags as in cw_face_template_t.flags.
 */
int cw_gallery_calibration_for(uint32_t model_id, uint32_t model_version, uint32_t flags,
                               cw_gallery_calibration_t *out);

/* FMR(t) under the calibration (empirical fraction above u handled by the fit). */
double cw_gallery_fmr(const cw_gallery_calibration_t *cal, double t);

/* The smallest threshold t with 1 - (1 - FMR(t))^n <= target_fpir. */
double cw_gallery_threshold(const cw_gallery_calibration_t *cal, uint64_t n, double target_fpir);

/*
 * cw_gallery_decide: the decision from the top hits (best first) of a search over a gallery of
 * n rows. Results, not errors: NO_MATCH, MATCH, AMBIGUOUS (runner-up within margin of the best
 * while the best passes, or two different ids pass), REQUIRES_SECOND_FACTOR (n > max_n).
 * CW_EINVAL on bad arguments.
 */
int cw_gallery_decide(const cw_gallery_hit_t *hits, int n_hits, uint64_t n,
                      const cw_gallery_calibration_t *cal, const cw_gallery_policy_t *policy,
                      cw_gallery_decision_t *out);

#ifdef __cplusplus
}
#endif
#endif
