/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval: biometric performance figures in the vocabulary of ISO/IEC 19795-1, from comparison
 * scores that any modality produced, and the population-scale model built on them.
 *
 * - Score sets: genuine and impostor comparisons (each naming its two subjects, so that
 *   uncertainty can be resampled over people), failures to acquire, and 1:N search outcomes.
 *   They are saved to and read from a text file ("clearway-scores 1") so that a run can be
 *   re-analysed, or several systems drawn on one chart, without measuring again.
 * - Verification: FMR and FNMR at a threshold, EER, FNMR at fixed FMR, with 95% intervals from
 *   a bootstrap over subjects.
 * - Identification: closed-set rank-1 and rank-10, open-set FNIR at fixed FPIR (non-mated
 *   probes are of people who are not enrolled).
 * - Plots: DET curves (log-log FNMR against FMR, several systems on one chart) and score
 *   histograms, as SVG; PNG when Debian's rsvg-convert is installed.
 * - The population model (sim.c): the error rates of every mode's decision rule for a
 *   population of N, from measured score distributions and a fitted impostor tail.
 *
 * A score s accepts at threshold t when s >= t: FMR(t) is the share of impostor scores >= t,
 * FNMR(t) the share of genuine scores < t (failures to acquire counted separately).
 * Functions are thread-safe on distinct objects; errors are CW_* codes (clearway/err.h).
 */
#ifndef CLEARWAY_EVAL_H
#define CLEARWAY_EVAL_H

#include "clearway/thread.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== score sets ==== */

/* One comparison: its score and the subjects (indices into cw_eval_scores_t.subject). */
typedef struct cw_eval_pair {
    float score;
    uint32_t a, b;
} cw_eval_pair_t;

/*
 * One 1:N search by a probe: whether the probe's subject is enrolled (mated), the rank of its
 * mate among the hits (1 = best; 0 when not mated or not in the hits), the mate's score (NaN
 * when none) and the best score of any *other* subject (NaN when the gallery held no other).
 */
typedef struct cw_eval_search {
    uint32_t subject;
    uint8_t mated;
    uint16_t mate_rank;
    float mate_score;
    float nonmate_score;
} cw_eval_search_t;

typedef struct cw_eval_scores {
    char system[96];   /* e.g. "MobileFaceNet v1, flip-averaged" */
    char modality[16]; /* "face", "finger" */
    cw_eval_pair_t *gen;
    size_t n_gen;
    cw_eval_pair_t *imp;
    size_t n_imp;
    cw_eval_search_t *search;
    size_t n_search;
    uint64_t n_samples; /* samples presented */
    uint64_t n_fta;     /* of which no template could be made (failure to acquire) */
    uint32_t n_subjects;
    char **subject; /* n_subjects names (an entry may be NULL) */
} cw_eval_scores_t;

/*
 * The file: a first line "clearway-scores 1", then tab-separated lines:
 *   system <TAB> NAME          modality <TAB> face|finger
 *   samples <TAB> N            fta <TAB> N
 *   subject <TAB> INDEX <TAB> NAME
 *   g <TAB> SCORE <TAB> A <TAB> B          (genuine; A, B subject indices)
 *   i <TAB> SCORE <TAB> A <TAB> B          (impostor)
 *   s <TAB> SUBJECT <TAB> MATED <TAB> RANK <TAB> MATE_SCORE <TAB> NONMATE_SCORE  ("nan" allowed)
 * '#' starts a comment line. Reading refuses anything else with CW_EFORMAT and the line number
 * in diag ("line N: ..."); it never crashes on any input. Scores are written with %.6f.
 * The reader's rules: pair scores are finite decimals (no "inf", no hex); system, modality,
 * samples and fta appear at most once (modality a lower-case word such as face or finger);
 * fta <= samples; subject indices are below 2^22 and each named at most once (names 1..255
 * bytes); a non-mated search has rank 0 and mate score nan; lines are at most 4096 bytes, no
 * blank lines, no CR. Subjects that records use but no line names are NULL in out->subject.
 * cw_eval_scores_read fills *out (free with cw_eval_scores_free; on error *out is empty) and
 * returns 0, CW_EFORMAT, CW_ENOENT (no such file), CW_EIO, CW_ENOMEM or CW_ETOOBIG (over 2^31
 * records of a kind). It reads in 1 MiB blocks without allocating per line (about 1.7 s for
 * 10 million pair lines, 210 MB). cw_eval_scores_write: CW_EIO; tabs and control bytes in
 * names are written as spaces.
 */
int cw_eval_scores_write(const cw_eval_scores_t *s, const char *path);
int cw_eval_scores_read(const char *path, cw_eval_scores_t *out, char *diag, size_t diag_len);
/*
 * Appending (grows the arrays by half as needed); CW_ENOMEM. The arrays must have been grown by
 * these functions or the reader (or be empty): their capacity is derived from the count.
 */
int cw_eval_scores_add(cw_eval_scores_t *s, int genuine, float score, uint32_t a, uint32_t b);
int cw_eval_scores_add_search(cw_eval_scores_t *s, const cw_eval_search_t *r);
void cw_eval_scores_free(cw_eval_scores_t *s); /* frees the arrays and zeroes *s */

/* ==== verification ==== */

/* An interval: the figure on all data, and the 2.5% and 97.5% bootstrap percentiles. */
typedef struct cw_eval_ci {
    double value, lo, hi;
} cw_eval_ci_t;

enum { CW_EVAL_MAX_TARGETS = 8 };

typedef struct cw_eval_verify {
    size_t n_gen, n_imp;
    double fta_rate;  /* n_fta / n_samples (0 when n_samples is 0) */
    cw_eval_ci_t eer; /* equal error rate */
    double eer_threshold;
    int n_targets;
    double fmr_target[CW_EVAL_MAX_TARGETS];
    double threshold[CW_EVAL_MAX_TARGETS];  /* smallest t with FMR(t) <= target; NaN if the
                                               impostors are too few to resolve the target */
    cw_eval_ci_t fnmr[CW_EVAL_MAX_TARGETS]; /* FNMR at that threshold (NaN when unresolved) */
    int replicates; /* bootstrap replicates used (0: no intervals, lo = hi = value) */
} cw_eval_verify_t;

/*
 * cw_eval_verification: the figures of s at the given FMR targets. Intervals come from
 * `replicates` resamplings of the subjects with replacement (a pair of subjects drawn x and y
 * times counts x*y times; a genuine pair of a subject drawn x times counts x times), seeded by
 * seed; pool may be NULL. Errors: CW_EINVAL (no genuine or no impostor scores, too many
 * targets), CW_ENOMEM.
 */
int cw_eval_verification(const cw_eval_scores_t *s, const double *fmr_targets, int n_targets,
                         int replicates, uint64_t seed, cw_pool_t *pool, cw_eval_verify_t *out);

/* ==== identification ==== */

typedef struct cw_eval_identify {
    size_t n_mated, n_nonmated;
    cw_eval_ci_t rank1, rank10; /* closed set: share of mated searches with the mate in rank <= k */
    int n_targets;
    double fpir_target[CW_EVAL_MAX_TARGETS];
    double threshold[CW_EVAL_MAX_TARGETS];  /* smallest t with FPIR(t) <= target (NaN when the
                                               non-mated searches are too few) */
    cw_eval_ci_t fnir[CW_EVAL_MAX_TARGETS]; /* mated searches whose mate is not rank 1 with a
                                               score >= t */
    int replicates;
} cw_eval_identify_t;

/* Open-set figures of s->search; the bootstrap resamples probe subjects. Errors as above. */
int cw_eval_identification(const cw_eval_scores_t *s, const double *fpir_targets, int n_targets,
                           int replicates, uint64_t seed, cw_eval_identify_t *out);

/* ==== plots ==== */

/*
 * cw_eval_det_svg: DET curves of n systems on one chart (log FMR 1e-7..1, log FNMR 1e-4..1,
 * one colour and legend entry per system, named by its `system`), written to path.
 * cw_eval_hist_svg: the genuine and impostor score histograms of one system (densities, log
 * scale optional). cw_eval_svg_to_png: convert with rsvg-convert; CW_ENOENT if the tool is not
 * installed. Errors: CW_EIO (cannot write), CW_EINVAL.
 */
int cw_eval_det_svg(const char *path, const cw_eval_scores_t *const *sets, int n,
                    const char *title);
int cw_eval_hist_svg(const char *path, const cw_eval_scores_t *s, int log_y, const char *title);
int cw_eval_svg_to_png(const char *svg_path, const char *png_path);

#ifdef __cplusplus
}
#endif

#endif
