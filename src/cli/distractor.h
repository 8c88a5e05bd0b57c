/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Synthetic distractor templates for the face experiments (`clearway eval lookalike`,
 * `clearway sim direct`): a model fitted to real embeddings, and a sampler that draws rows from
 * it. The model is a Gaussian mixture with one covariance shared by its components (tied
 * covariance): with one component it is the plain Gaussian of the embeddings' mean and full
 * covariance; with k it puts the k-means centres of the data as component means and the pooled
 * within-cluster covariance around each. `scale` multiplies the random part (the covariance is
 * inflated by scale^2), and nu > 0 makes it a multivariate Student t with nu degrees of freedom
 * (each row's random part divided by sqrt(w / nu), w chi-square with nu degrees of freedom): rows
 * whose random part is small sit near the mean and resemble many faces, as real "hub" faces do,
 * which thickens the tail of the impostor scores. Both are for fitting that tail.
 *
 * Row i of a model's stream depends only on the model, its seed and i, so any split of the rows
 * into blocks or threads gives the same rows.
 */
#ifndef CLEARWAY_DISTRACTOR_H
#define CLEARWAY_DISTRACTOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct cw_cli_distractor {
    uint32_t dim;
    int k;         /* components */
    double *cdf;   /* k: cumulative component weights, cdf[k - 1] = 1 */
    float *mean;   /* k x dim: component means */
    double *cov;   /* dim x dim: the covariance (shared), lower triangle, before the ridge */
    float *chol_t; /* dim x dim: the transpose of its lower Cholesky factor (row c = column c) */
    double scale;  /* multiplies the random part; 1 after fitting */
    int nu;        /* Student t degrees of freedom (1..CW_CLI_DISTRACTOR_MAX_NU); 0 = Gaussian */
    uint64_t seed;
} cw_cli_distractor_t;

enum { CW_CLI_DISTRACTOR_MAX_DIM = 1024, CW_CLI_DISTRACTOR_MAX_NU = 1024 };

/* The ridge added to the covariance's diagonal, for the rank the data lack. */
#define CW_CLI_DISTRACTOR_RIDGE 1e-6

/*
 * cw_cli_distractor_fit: fit the model to n vectors v (n x dim floats, row-major) with k
 * components (1: the plain Gaussian; k > 1: k-means, 25 Lloyd rounds from a k-means++ start
 * drawn from seed). Needs n > k + 1 and dim <= CW_CLI_DISTRACTOR_MAX_DIM. Fills *out (free with
 * cw_cli_distractor_free). Returns 0, CW_EINVAL (too few vectors, k < 1, non-finite data) or
 * CW_ENOMEM.
 */
int cw_cli_distractor_fit(const float *v, size_t n, uint32_t dim, int k, uint64_t seed,
                          cw_cli_distractor_t *out);
void cw_cli_distractor_free(cw_cli_distractor_t *m);

/*
 * cw_cli_distractor_sample: rows first .. first + n - 1 of the model's stream into out
 * (n x dim floats), L2-normalised when normalise is set (as a gallery stores them). Pure: any
 * number of threads may sample one model at once.
 */
void cw_cli_distractor_sample(const cw_cli_distractor_t *m, uint64_t first, size_t n, float *out,
                              int normalise);

#endif
