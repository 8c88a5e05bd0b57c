// SPDX-License-Identifier: Apache-2.0
// Identification figures from 1:N search records: closed-set rank-1 and rank-10 over the mated
// searches, and open-set FNIR at the threshold where the non-mated searches' FPIR meets each
// target. Intervals come from a bootstrap over probe subjects: a replicate redraws the subjects
// with replacement and weighs each search by its subject's draws. Search sets are small (one
// record per probe image), so every replicate simply walks the sorted records.
#include "eval_internal.h"

#include "clearway/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_REPLICATES = 100000 };

typedef struct nonmate {
    float score;
    uint32_t subject;
} nonmate_t;

static int cmp_nonmate(const void *a, const void *b)
{
    float x = ((const nonmate_t *)a)->score, y = ((const nonmate_t *)b)->score;
    return (x > y) - (x < y);
}

typedef struct ident_ctx {
    const cw_eval_scores_t *s;
    const nonmate_t *nm; // non-mated searches with a candidate, ascending score
    size_t n_nm;
    float *x;   // scratch: nm scores
    double *wx; // scratch: nm weights
    int n_targets;
    const double *targets;
} ident_ctx_t;

// The figures under subject weights w (NULL: every search counts once): res = [rank1, rank10,
// fnir_0 ..], thr = the thresholds.
static void figures(ident_ctx_t *c, const uint32_t *w, double *res, double *thr)
{
    const cw_eval_scores_t *s = c->s;
    double wm = 0.0, w1 = 0.0, w10 = 0.0, wn = 0.0;
    for (size_t i = 0; i < s->n_search; i++) {
        const cw_eval_search_t *r = &s->search[i];
        double wt = w ? (double)w[r->subject] : 1.0;
        if (r->mated) {
            wm += wt;
            w1 += r->mate_rank == 1 ? wt : 0.0;
            w10 += r->mate_rank >= 1 && r->mate_rank <= 10 ? wt : 0.0;
        } else {
            wn += wt; // a search with no candidate at all is never a false positive
        }
    }
    res[0] = wm > 0 ? w1 / wm : NAN;
    res[1] = wm > 0 ? w10 / wm : NAN;
    for (size_t i = 0; i < c->n_nm; i++) {
        c->x[i] = c->nm[i].score;
        c->wx[i] = w ? (double)w[c->nm[i].subject] : 1.0;
    }
    for (int k = 0; k < c->n_targets; k++) {
        res[2 + k] = thr[k] = NAN;
        if (wm <= 0 || c->targets[k] * wn < 1.0) {
            continue;
        }
        float t =
            c->n_nm > 0 ? cw__eval_threshold(c->x, c->wx, c->n_nm, wn, c->targets[k]) : -INFINITY;
        double hit = 0.0;
        for (size_t i = 0; i < s->n_search; i++) {
            const cw_eval_search_t *r = &s->search[i];
            if (r->mated && r->mate_rank == 1 && r->mate_score >= t) {
                hit += w ? (double)w[r->subject] : 1.0;
            }
        }
        thr[k] = t;
        res[2 + k] = 1.0 - hit / wm;
    }
}

int cw_eval_identification(const cw_eval_scores_t *s, const double *fpir_targets, int n_targets,
                           int replicates, uint64_t seed, cw_eval_identify_t *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (s == NULL || out == NULL || s->n_search == 0 || n_targets < 0 ||
        n_targets > CW_EVAL_MAX_TARGETS || (n_targets > 0 && fpir_targets == NULL) ||
        replicates < 0 || replicates > MAX_REPLICATES) {
        return CW_EINVAL;
    }
    uint32_t n_subj = 0;
    for (int k = 0; k < n_targets; k++) {
        if (!(fpir_targets[k] > 0.0 && fpir_targets[k] < 1.0)) {
            return CW_EINVAL;
        }
    }
    for (size_t i = 0; i < s->n_search; i++) {
        const cw_eval_search_t *r = &s->search[i];
        if (r->subject >= CW__EVAL_MAX_SUBJECTS || isinf(r->mate_score) ||
            isinf(r->nonmate_score)) {
            return CW_EINVAL;
        }
        n_subj = r->subject + 1 > n_subj ? r->subject + 1 : n_subj;
        out->n_mated += r->mated != 0;
        out->n_nonmated += r->mated == 0;
    }
    size_t n = s->n_search;
    nonmate_t *nm = malloc(n * sizeof(*nm));
    float *x = malloc(n * sizeof(*x));
    double *wx = malloc(n * sizeof(*wx));
    uint32_t *w = calloc(n_subj, sizeof(*w));
    uint32_t *active = malloc((size_t)n_subj * sizeof(*active));
    uint32_t *count = malloc((size_t)n_subj * sizeof(*count));
    uint8_t *seen = calloc(n_subj, 1);
    size_t n_res = (size_t)(2 + n_targets);
    double *res = malloc((size_t)(replicates ? replicates : 1) * n_res * sizeof(*res));
    double *col = malloc((size_t)(replicates ? replicates : 1) * sizeof(*col));
    int rc = CW_ENOMEM;
    if (nm == NULL || x == NULL || wx == NULL || w == NULL || active == NULL || count == NULL ||
        seen == NULL || res == NULL || col == NULL) {
        goto out;
    }
    size_t n_nm = 0;
    uint32_t n_active = 0;
    for (size_t i = 0; i < n; i++) {
        const cw_eval_search_t *r = &s->search[i];
        if (!r->mated && !isnan(r->nonmate_score)) {
            nm[n_nm++] = (nonmate_t){r->nonmate_score, r->subject};
        }
        if (!seen[r->subject]) {
            seen[r->subject] = 1;
            active[n_active++] = r->subject;
        }
    }
    qsort(nm, n_nm, sizeof(*nm), cmp_nonmate);
    ident_ctx_t c = {s, nm, n_nm, x, wx, n_targets, fpir_targets};
    double value[2 + CW_EVAL_MAX_TARGETS];
    figures(&c, NULL, value, out->threshold);
    out->n_targets = n_targets;
    out->replicates = replicates;
    for (int k = 0; k < n_targets; k++) {
        out->fpir_target[k] = fpir_targets[k];
    }
    double thr[CW_EVAL_MAX_TARGETS];
    for (int r = 0; r < replicates; r++) {
        cw__eval_resample(count, n_active, seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(r + 1)));
        for (uint32_t k = 0; k < n_active; k++) {
            w[active[k]] = count[k];
        }
        figures(&c, w, res + (size_t)r * n_res, thr);
    }
    for (size_t k = 0; k < n_res; k++) {
        cw_eval_ci_t *ci = k == 0 ? &out->rank1 : k == 1 ? &out->rank10 : &out->fnir[k - 2];
        ci->value = ci->lo = ci->hi = value[k];
        if (replicates > 0 && !isnan(value[k])) {
            for (int r = 0; r < replicates; r++) {
                col[r] = res[(size_t)r * n_res + k];
            }
            cw__eval_percentiles(col, (size_t)replicates, &ci->lo, &ci->hi);
        }
    }
    rc = 0;
out:
    free(nm);
    free(x);
    free(wx);
    free(w);
    free(active);
    free(count);
    free(seen);
    free(res);
    free(col);
    return rc;
}
