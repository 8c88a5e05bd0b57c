/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim: the population model. From measured genuine and impostor scores of one modality (face,
 * fingerprint), the error rates of every clearance mode's decision rule for a population of N:
 * face-only 1:N with the threshold that follows N (closed area, Flight Token), the
 * document-free flow (face 1:N at the front, then face 1:1 and fingerprint 1:1 against the
 * chosen record) and the 1:1 modes (Contactless e-Channel, Smart Departure); the largest N at
 * which a mode meets an FPIR and FNIR target; and a direct simulation that checks the model
 * where N is small. docs/gallery-decisions.md has the method the 1:N rule follows.
 *
 * The model of one modality (cw_sim_scores_t):
 * - A comparison accepts when score >= threshold (as in eval.h and the gallery).
 * - Impostor tail: FMR(t) is the empirical share of impostor scores >= t for t <= u, and the
 *   generalised Pareto fit of cw_gallery_calibrate above u (u the (1 - tail_fraction) quantile).
 *   The fit and cw_gallery_fmr make no assumption on the score range; cw_gallery_threshold
 *   does (it refuses thresholds above 1, the cosine limit), so thresholds are inverted here on
 *   the same fit without that cap, which also serves fingerprint scores.
 * - Genuine scores: empirical (FNMR(t) is the share < t); no tail model.
 * - Comparisons are independent: one search of N rows is N independent impostor draws
 *   (docs/gallery-decisions.md section 1 says why that overstates the FPIR).
 *
 * Everything is a pure function of its arguments: thread-safe on distinct or const objects.
 * Errors are CW_* codes (clearway/err.h).
 */
#ifndef CLEARWAY_SIM_H
#define CLEARWAY_SIM_H

#include "clearway/gallery.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The fewest excesses over u a tail fit accepts (as cw_gallery_calibrate). */
enum { CW_SIM_MIN_EXCESSES = 100 };

typedef struct cw_sim_scores cw_sim_scores_t;

/*
 * cw_sim_scores_create: the model of one modality from n_gen genuine and n_imp impostor scores
 * (copied; the caller keeps its arrays). tail: a calibration to use as the impostor tail above
 * tail->u (e.g. a built-in one, or a known tail in tests), or NULL to fit one with
 * cw_gallery_calibrate(imp, n_imp, tail_fraction). Errors: CW_EINVAL (no genuine scores, a NaN
 * or infinite score, tail_fraction outside (0, 1), too few impostor scores to fit a tail: see
 * cw_sim_min_impostors; diag says which), CW_ENOMEM. Destroy with cw_sim_scores_destroy (NULL
 * is a no-op).
 */
int cw_sim_scores_create(const float *gen, size_t n_gen, const float *imp, size_t n_imp,
                         double tail_fraction, const cw_gallery_calibration_t *tail,
                         cw_sim_scores_t **out, char *diag, size_t diag_len);
void cw_sim_scores_destroy(cw_sim_scores_t *m);

/* The fewest impostor scores that leave CW_SIM_MIN_EXCESSES above u at this tail fraction. */
uint64_t cw_sim_min_impostors(double tail_fraction);

/* The impostor tail in use (fitted or given). Borrowed: lives as long as m. */
const cw_gallery_calibration_t *cw_sim_scores_tail(const cw_sim_scores_t *m);

/* Sorted copies of the scores (ascending), borrowed: live as long as m. */
const float *cw_sim_scores_genuine(const cw_sim_scores_t *m, size_t *n);
const float *cw_sim_scores_impostor(const cw_sim_scores_t *m, size_t *n);

/* FMR(t) = P(impostor >= t) under the model; FNMR(t) = P(genuine < t), empirical. */
double cw_sim_fmr(const cw_sim_scores_t *m, double t);
double cw_sim_fnmr(const cw_sim_scores_t *m, double t);

/*
 * cw_sim_threshold: the smallest t with FMR(t) <= fmr (1:1 at a target FMR): the empirical
 * quantile where fmr >= p_u, the fitted tail's inverse above u. INFINITY when fmr is not in
 * (0, 1) or the tail cannot reach it (nothing passes: FMR 0, FNMR 1).
 */
double cw_sim_threshold(const cw_sim_scores_t *m, double fmr);

/*
 * cw_sim_threshold_1n: the 1:N threshold of cw_gallery_threshold (the smallest t >= u with
 * 1 - (1 - FMR(t))^n <= target_fpir), without its cap at 1: equal to it wherever that is <= 1.
 */
double cw_sim_threshold_1n(const cw_sim_scores_t *m, uint64_t n, double target_fpir);

/* 1 - (1 - p)^k without cancellation (p in [0, 1]). */
double cw_sim_any_of(double p, double k);

/* ---- the modes ---- */

typedef enum cw_sim_mode {
    CW_SIM_FACE_1N = 0,         /* face-only 1:N: closed area, Flight Token */
    CW_SIM_DOCUMENT_FREE,       /* document-free, the front's target chosen for each N */
    CW_SIM_DOCUMENT_FREE_FIXED, /* document-free, the front at the face-only 1:N target */
    CW_SIM_FACE_1TO1,           /* face 1:1: Contactless e-Channel, Smart Departure */
    CW_SIM_N_MODES
} cw_sim_mode_t;

/* "face_1n", "document_free", "document_free_fixed", "face_1to1"; "?" when unknown. */
const char *cw_sim_mode_name(cw_sim_mode_t mode);

typedef struct cw_sim_params {
    double target_fpir;     /* per transaction (e.g. 1e-3) */
    double max_fnir;        /* per transaction, conservative (e.g. 0.05) */
    double decision_fpir;   /* per-attempt target of the face-only 1:N decision; 0: the
                               target_fpir spread over the captures, 1 - (1 - target)^(1/k) */
    double margin;          /* ambiguity margin of the 1:N decisions (e.g. 0.05) */
    double face_fmr;        /* face 1:1 modes (e.g. 1e-4) */
    double inside_face_fmr; /* document-free inside face 1:1 (e.g. 1e-3) */
    double finger_fmr;      /* document-free fingerprint, split over the fingers (e.g. 1e-4) */
    int fingers;            /* enrolled fingers the probe finger is compared with (e.g. 2) */
    int captures;           /* attempts per transaction (e.g. 3) */
    double max_hint;        /* document-free: the largest front FPIR per attempt, i.e. share of
                               non-enrolled travellers shown a stranger's masked hint, that the
                               front's target may be chosen at (e.g. 1e-2); 0: no limit */
} cw_sim_params_t;

/* The defaults of cw_clearance_policy_default and src/clearance/steps.c (see sim.c). */
void cw_sim_params_default(cw_sim_params_t *p);

/* The per-attempt target of the face-only 1:N decision under p (decision_fpir or derived). */
double cw_sim_decision_fpir(const cw_sim_params_t *p);

/*
 * One mode at one N. Rates per attempt, and per transaction of p->captures attempts: an
 * impostor's independent retries (the attacker's best case) give fpir_txn = 1 - (1 - fpir)^k; a
 * genuine traveller's FNIR per transaction lies between fnir^k (independent retries) and fnir
 * (fully correlated ones, the conservative bound used by the criterion).
 */
typedef struct cw_sim_point {
    cw_sim_mode_t mode;
    uint64_t n;
    double threshold;        /* face threshold (1:N modes at n; document-free: the front's) */
    double fpir, fnir;       /* per attempt */
    double fpir_txn;         /* per transaction */
    double fnir_txn_lo;      /* fnir^k; the upper bound is fnir */
    int ok;                  /* fpir_txn <= target_fpir and fnir <= max_fnir */
    double front_target;     /* document-free: the front's per-attempt target FPIR */
    double hint_stranger;    /* document-free: a non-enrolled traveller is shown a stranger's
                                masked hint (the front's FPIR) */
    double hint_wrong;       /* document-free: an enrolled traveller's mate is not rank 1 and the
                                rank 1 passes the front threshold (upper bound on a wrong hint) */
    double finger_threshold; /* document-free: at finger_fmr / fingers */
    double inside_threshold; /* document-free: inside face at inside_face_fmr; 1:1: face_fmr */
} cw_sim_point_t;

/*
 * cw_sim_evaluate: mode at population n (n >= 1) from the face model and, for the
 * document-free modes, the finger model (NULL otherwise allowed). Errors: CW_EINVAL (NULL face,
 * a missing finger model for a document-free mode, bad parameters).
 */
int cw_sim_evaluate(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                    const cw_sim_params_t *p, cw_sim_mode_t mode, uint64_t n, cw_sim_point_t *out);

/*
 * cw_sim_largest_n: the largest N in [lo, hi] at which cw_sim_evaluate says ok: a log grid of
 * 20 points per decade, then bisection between the last grid point that is ok and the next.
 * *where: 0 found (*out), -1 not even at lo, +1 ok at hi (*out = hi). Errors as above.
 */
int cw_sim_largest_n(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                     const cw_sim_params_t *p, cw_sim_mode_t mode, uint64_t lo, uint64_t hi,
                     uint64_t *out, int *where);

/* ---- the direct simulation ---- */

typedef struct cw_sim_check {
    uint64_t n, trials;            /* gallery size; trials of each kind (mated, non-mated) */
    double threshold;              /* cw_gallery_threshold at n and the decision FPIR */
    double model_fpir, model_fnir; /* per attempt, from cw_sim_evaluate */
    uint64_t passed;               /* non-mated: best passes the threshold */
    uint64_t false_match;          /* non-mated: MATCH */
    uint64_t missed;               /* mated: anything but MATCH of the mate */
    double fpir, fpir_lo, fpir_hi; /* passed / trials, Wilson 95% interval */
    double fnir, fnir_lo, fnir_hi; /* missed / trials, idem */
} cw_sim_check_t;

/*
 * cw_sim_check_face_1n: face-only 1:N simulated directly at gallery size n. Each non-mated
 * trial draws n impostor scores from the EMPIRICAL impostor scores (with replacement); each
 * mated trial one genuine score (empirical) and n - 1 impostor ones. The real
 * cw_gallery_decide decides on the top two hits with the model's tail as its calibration, at
 * the decision FPIR and margin of p (no population cap). Only the top two of the draws matter:
 * they are drawn as the two largest of n uniforms (exactly distributed as drawing all n and
 * keeping the best two), so a trial costs the same at any n. Seeded xorshift: reproducible.
 * Errors: CW_EINVAL (n < 2, no trials, bad parameters).
 */
int cw_sim_check_face_1n(const cw_sim_scores_t *face, const cw_sim_params_t *p, uint64_t n,
                         uint64_t trials, uint64_t seed, cw_sim_check_t *out);

/* The Wilson score 95% interval of k successes in n trials (lo = hi = 0 when n is 0). */
void cw_sim_wilson(uint64_t k, uint64_t n, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif
