/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the eval module's files (and its tests and fuzz target): the score-file
 * parser on a stream, the weighted threshold search, sorting and the bootstrap percentiles.
 */
#ifndef CW_EVAL_INTERNAL_H
#define CW_EVAL_INTERNAL_H

#include "clearway/eval.h"

#include <stdio.h>

/* Caps of the reader: longest line, most subjects, most pairs or searches of one kind. */
enum { CW__EVAL_MAX_LINE = 4096, CW__EVAL_MAX_NAME = 255 };
#define CW__EVAL_MAX_SUBJECTS ((uint32_t)1 << 22)
#define CW__EVAL_MAX_RECORDS ((size_t)1 << 31)

/* cw_eval_scores_read on an open stream (the fuzz target reads from memory); name for diag. */
int cw__eval_scores_read_stream(FILE *f, cw_eval_scores_t *out, char *diag, size_t diag_len);

/* Sort n floats ascending (radix sort; NaN must not occur). CW_ENOMEM. */
int cw__eval_sort_floats(float *x, size_t n);

/*
 * The smallest threshold t such that the weight of the scores >= t is at most target * total,
 * over x ascending with weights w (NULL: all 1). Returns the float just above the highest score
 * that must be rejected, or x[0] when every score may be accepted.
 */
float cw__eval_threshold(const float *x, const double *w, size_t n, double total, double target);

/* The 2.5% and 97.5% percentiles of the non-NaN values v (sorted in place); NaN if none. */
void cw__eval_percentiles(double *v, size_t n, double *lo, double *hi);

/* Counts of a multinomial draw of n among n items (seeded splitmix64 stream). */
void cw__eval_resample(uint32_t *count, uint32_t n, uint64_t seed);

#endif
