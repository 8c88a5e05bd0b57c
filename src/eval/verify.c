// SPDX-License-Identifier: Apache-2.0
// Verification figures: EER (the FVC definition), the threshold at a target FMR and the FNMR
// there, computed exactly on sorted scores; and their 95% intervals from a bootstrap over
// subjects. A replicate redraws the subjects with replacement; a pair then counts as often as
// the product of its subjects' draws. To make 200 replicates over tens of millions of impostor
// pairs affordable, the pairs are sorted once into fine score bins (1e-5 wide for cosines, or
// 200,000 over the data's range) and each replicate only sums integer weights bin by bin.
#include "eval_internal.h"

#include "clearway/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_BINS = 200001, MAX_REPLICATES = 100000 };

// ---- shared helpers ----

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void cw__eval_resample(uint32_t *count, uint32_t n, uint64_t seed)
{
    memset(count, 0, (size_t)n * sizeof(*count));
    uint64_t x = seed;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(&x) >> 32;
        count[(r * n) >> 32]++;
    }
}

static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

int cw__eval_sort_floats(float *x, size_t n)
{
    if (n < 2) {
        return 0;
    }
    uint32_t *a = malloc(n * sizeof(*a));
    uint32_t *b = malloc(n * sizeof(*b));
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return CW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = float_key(x[i]);
    }
    for (int shift = 0; shift < 32; shift += 8) { // LSD radix, 4 passes of 8 bits
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++) {
            cnt[((a[i] >> shift) & 0xff) + 1]++;
        }
        for (int k = 0; k < 256; k++) {
            cnt[k + 1] += cnt[k];
        }
        for (size_t i = 0; i < n; i++) {
            b[cnt[(a[i] >> shift) & 0xff]++] = a[i];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (a[i] & 0x80000000u) ? a[i] & 0x7fffffffu : ~a[i];
        memcpy(&x[i], &u, sizeof(u));
    }
    free(a);
    free(b);
    return 0;
}

float cw__eval_threshold(const float *x, const double *w, size_t n, double total, double target)
{
    double allowed = target * total;
    double acc = 0.0;
    size_t i = n;
    while (i > 0) {
        size_t j = i; // the group of scores equal to x[i - 1]: [j, i)
        double gw = 0.0;
        while (j > 0 && x[j - 1] == x[i - 1]) {
            gw += w ? w[j - 1] : 1.0;
            j--;
        }
        if (acc + gw > allowed * (1.0 + 1e-12)) {
            return nextafterf(x[i - 1], INFINITY);
        }
        acc += gw;
        i = j;
    }
    return n > 0 ? x[0] : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void cw__eval_percentiles(double *v, size_t n, double *lo, double *hi)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(v[i])) {
            v[m++] = v[i];
        }
    }
    if (m == 0) {
        *lo = *hi = NAN;
        return;
    }
    qsort(v, m, sizeof(double), cmp_double);
    // Nearest rank: the smallest value with at least p of the replicates at or below it.
    size_t ilo = (size_t)ceil(0.025 * (double)m);
    size_t ihi = (size_t)ceil(0.975 * (double)m);
    *lo = v[ilo > 0 ? ilo - 1 : 0];
    *hi = v[ihi > 0 ? ihi - 1 : 0];
}

// ---- exact figures on sorted scores ----

static size_t count_below(const float *x, size_t n, float t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// FVC EER: t1 the last candidate with FNMR <= FMR, t2 the first with FNMR >= FMR; when they
// differ, the midpoint of (FNMR, FMR) at whichever of the two has the smaller sum.
static void eer_exact(const float *gen, size_t ng, const float *imp, size_t ni, double *eer,
                      double *thr)
{
    size_t i = 0, j = 0;
    double pfn = 0.0, pfm = 1.0;
    float pt = 0.0f;
    int have_prev = 0;
    for (;;) {
        float t;
        if (i < ng || j < ni) {
            t = i >= ng ? imp[j] : j >= ni ? gen[i] : (gen[i] < imp[j] ? gen[i] : imp[j]);
        } else {
            t = nextafterf(gen[ng - 1] > imp[ni - 1] ? gen[ng - 1] : imp[ni - 1], INFINITY);
        }
        double fn = (double)i / (double)ng;
        double fm = (double)(ni - j) / (double)ni;
        if (fn >= fm) {
            if (have_prev && fn > fm && pfn + pfm <= fn + fm) {
                *eer = 0.5 * (pfn + pfm);
                *thr = pt;
            } else {
                *eer = 0.5 * (fn + fm);
                *thr = t;
            }
            return;
        }
        pfn = fn;
        pfm = fm;
        pt = t;
        have_prev = 1;
        while (i < ng && gen[i] == t) {
            i++;
        }
        while (j < ni && imp[j] == t) {
            j++;
        }
    }
}

// ---- bootstrap on binned pairs ----

typedef struct binned {
    double lo, scale;
    int nb;
    size_t *gen_off, *imp_off; // nb + 1 offsets into the subject arrays
    uint32_t *gen_subj;        // a of each genuine pair, in bin order
    uint32_t *imp_subj;        // a, b of each impostor pair, in bin order
} binned_t;

static int bin_of(const binned_t *bn, float s)
{
    double x = ((double)s - bn->lo) * bn->scale;
    long b = lround(x);
    return b < 0 ? 0 : b >= bn->nb ? bn->nb - 1 : (int)b;
}

static int bin_pairs(binned_t *bn, const cw_eval_pair_t *p, size_t n, size_t **off_out,
                     uint32_t **subj_out, int both)
{
    size_t *off = calloc((size_t)bn->nb + 1, sizeof(*off));
    uint32_t *subj = malloc((n ? n : 1) * (both ? 2 : 1) * sizeof(*subj));
    if (off == NULL || subj == NULL) {
        free(off);
        free(subj);
        return CW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        off[bin_of(bn, p[i].score) + 1]++;
    }
    for (int b = 0; b < bn->nb; b++) {
        off[b + 1] += off[b];
    }
    size_t *pos = malloc((size_t)bn->nb * sizeof(*pos));
    if (pos == NULL) {
        free(off);
        free(subj);
        return CW_ENOMEM;
    }
    memcpy(pos, off, (size_t)bn->nb * sizeof(*pos));
    for (size_t i = 0; i < n; i++) {
        size_t k = pos[bin_of(bn, p[i].score)]++;
        if (both) {
            subj[2 * k] = p[i].a;
            subj[2 * k + 1] = p[i].b;
        } else {
            subj[k] = p[i].a;
        }
    }
    free(pos);
    *off_out = off;
    *subj_out = subj;
    return 0;
}

typedef struct boot_job {
    const cw_eval_scores_t *s;
    const binned_t *bn;
    const uint32_t *active; // subjects that appear in some pair
    uint32_t n_active;
    uint32_t n_subj; // 1 + the highest subject index
    uint64_t seed;
    int n_targets;
    const double *targets;
    double *results;  // replicate r: [eer, fnmr_0 .. fnmr_{n_targets-1}]
    uint32_t **w;     // per worker: n_subj weights
    uint32_t **count; // per worker: n_active draw counts
    double **g, **im; // per worker: nb weighted counts
} boot_job_t;

static int boot_one(void *ctx, size_t r, int worker)
{
    boot_job_t *j = ctx;
    const binned_t *bn = j->bn;
    uint32_t *w = j->w[worker];
    uint32_t *count = j->count[worker];
    double *g = j->g[worker];
    double *im = j->im[worker];
    uint64_t seed = j->seed ^ (0xd1b54a32d192ed03ull * (r + 1));
    cw__eval_resample(count, j->n_active, seed);
    for (uint32_t k = 0; k < j->n_active; k++) {
        w[j->active[k]] = count[k];
    }
    double sg = 0.0, si = 0.0;
    for (int b = 0; b < bn->nb; b++) {
        uint64_t acc = 0;
        for (size_t k = bn->gen_off[b]; k < bn->gen_off[b + 1]; k++) {
            acc += w[bn->gen_subj[k]];
        }
        g[b] = (double)acc;
        sg += g[b];
        acc = 0;
        for (size_t k = bn->imp_off[b]; k < bn->imp_off[b + 1]; k++) {
            acc += (uint64_t)w[bn->imp_subj[2 * k]] * w[bn->imp_subj[2 * k + 1]];
        }
        im[b] = (double)acc;
        si += im[b];
    }
    for (uint32_t k = 0; k < j->n_active; k++) {
        w[j->active[k]] = 0;
    }
    double *res = j->results + r * (size_t)(1 + j->n_targets);
    for (int k = 0; k <= j->n_targets; k++) {
        res[k] = NAN;
    }
    if (sg <= 0.0 || si <= 0.0) {
        return 0;
    }
    // EER over bin edges (accept bins >= b), as eer_exact does over distinct scores.
    double rej = 0.0, acc_i = si, pfn = 0.0, pfm = 1.0;
    for (int b = 0; b <= bn->nb; b++) {
        double fn = rej / sg, fm = acc_i / si;
        if (fn >= fm) {
            res[0] = b > 0 && fn > fm && pfn + pfm <= fn + fm ? 0.5 * (pfn + pfm) : 0.5 * (fn + fm);
            break;
        }
        pfn = fn;
        pfm = fm;
        if (b < bn->nb) {
            rej += g[b];
            acc_i -= im[b];
        }
    }
    for (int k = 0; k < j->n_targets; k++) {
        double allowed = j->targets[k] * si;
        if (allowed < 1.0) {
            continue;
        }
        double acc = 0.0;
        int b = bn->nb - 1;
        for (; b >= 0; b--) {
            if (acc + im[b] > allowed * (1.0 + 1e-12)) {
                break;
            }
            acc += im[b];
        }
        double rejected = 0.0; // genuine pairs in bins <= b are rejected
        for (int c = 0; c <= b; c++) {
            rejected += g[c];
        }
        res[1 + k] = rejected / sg;
    }
    return 0;
}

static void free_workers(boot_job_t *j, int n)
{
    for (int k = 0; k < n; k++) {
        if (j->w != NULL) {
            free(j->w[k]);
        }
        if (j->count != NULL) {
            free(j->count[k]);
        }
        if (j->g != NULL) {
            free(j->g[k]);
        }
        if (j->im != NULL) {
            free(j->im[k]);
        }
    }
    free(j->w);
    free(j->count);
    free(j->g);
    free(j->im);
}

static int bootstrap(const cw_eval_scores_t *s, const double *targets, int n_targets,
                     int replicates, uint64_t seed, cw_pool_t *pool, cw_eval_verify_t *out)
{
    float lo = INFINITY, hi = -INFINITY;
    uint32_t n_subj = 0;
    for (int pass = 0; pass < 2; pass++) {
        const cw_eval_pair_t *p = pass ? s->imp : s->gen;
        size_t n = pass ? s->n_imp : s->n_gen;
        for (size_t i = 0; i < n; i++) {
            lo = p[i].score < lo ? p[i].score : lo;
            hi = p[i].score > hi ? p[i].score : hi;
            uint32_t m = (p[i].a > p[i].b ? p[i].a : p[i].b) + 1;
            n_subj = m > n_subj ? m : n_subj;
        }
    }
    binned_t bn = {0};
    if (lo >= -1.0f && hi <= 1.0f) {
        bn.lo = -1.0;
        bn.nb = N_BINS;
        bn.scale = 0.5 * (N_BINS - 1);
    } else {
        bn.lo = lo;
        bn.nb = hi > lo ? N_BINS : 1;
        bn.scale = hi > lo ? (N_BINS - 1) / ((double)hi - lo) : 0.0;
    }
    int workers = (pool ? cw_pool_size(pool) : 0) + 1;
    boot_job_t j = {0};
    double *results = NULL;
    double *col = NULL;
    uint32_t *active = NULL;
    uint8_t *seen = calloc(n_subj, 1);
    int rc = CW_ENOMEM;
    if (seen == NULL || bin_pairs(&bn, s->gen, s->n_gen, &bn.gen_off, &bn.gen_subj, 0) != 0 ||
        bin_pairs(&bn, s->imp, s->n_imp, &bn.imp_off, &bn.imp_subj, 1) != 0) {
        goto out;
    }
    uint32_t n_active = 0;
    for (int pass = 0; pass < 2; pass++) {
        const cw_eval_pair_t *p = pass ? s->imp : s->gen;
        size_t n = pass ? s->n_imp : s->n_gen;
        for (size_t i = 0; i < n; i++) {
            n_active += !seen[p[i].a] + (p[i].b != p[i].a && !seen[p[i].b]);
            seen[p[i].a] = seen[p[i].b] = 1;
        }
    }
    active = malloc((size_t)n_active * sizeof(*active));
    results = malloc((size_t)replicates * (size_t)(1 + n_targets) * sizeof(*results));
    col = malloc((size_t)replicates * sizeof(*col));
    j.w = calloc((size_t)workers, sizeof(*j.w));
    j.count = calloc((size_t)workers, sizeof(*j.count));
    j.g = calloc((size_t)workers, sizeof(*j.g));
    j.im = calloc((size_t)workers, sizeof(*j.im));
    if (active == NULL || results == NULL || col == NULL || j.w == NULL || j.count == NULL ||
        j.g == NULL || j.im == NULL) {
        goto out;
    }
    for (uint32_t i = 0, k = 0; i < n_subj; i++) {
        if (seen[i]) {
            active[k++] = i;
        }
    }
    for (int k = 0; k < workers; k++) {
        j.w[k] = calloc(n_subj, sizeof(uint32_t));
        j.count[k] = malloc((size_t)(n_active ? n_active : 1) * sizeof(uint32_t));
        j.g[k] = malloc((size_t)bn.nb * sizeof(double));
        j.im[k] = malloc((size_t)bn.nb * sizeof(double));
        if (j.w[k] == NULL || j.count[k] == NULL || j.g[k] == NULL || j.im[k] == NULL) {
            goto out;
        }
    }
    j.s = s;
    j.bn = &bn;
    j.active = active;
    j.n_active = n_active;
    j.n_subj = n_subj;
    j.seed = seed;
    j.n_targets = n_targets;
    j.targets = targets;
    j.results = results;
    rc = cw_pool_parallel_for(pool, (size_t)replicates, boot_one, &j);
    if (rc != 0) {
        goto out;
    }
    for (int k = 0; k <= n_targets; k++) {
        for (int r = 0; r < replicates; r++) {
            col[r] = results[(size_t)r * (size_t)(1 + n_targets) + (size_t)k];
        }
        cw_eval_ci_t *ci = k == 0 ? &out->eer : &out->fnmr[k - 1];
        if (isnan(ci->value)) {
            ci->lo = ci->hi = NAN;
        } else {
            cw__eval_percentiles(col, (size_t)replicates, &ci->lo, &ci->hi);
        }
    }
    rc = 0;
out:
    free_workers(&j, workers);
    free(seen);
    free(active);
    free(results);
    free(col);
    free(bn.gen_off);
    free(bn.imp_off);
    free(bn.gen_subj);
    free(bn.imp_subj);
    return rc;
}

// ---- the public entry ----

static int sorted_scores(const cw_eval_pair_t *p, size_t n, float **out)
{
    float *x = malloc(n * sizeof(*x));
    if (x == NULL) {
        return CW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = p[i].score;
    }
    int rc = cw__eval_sort_floats(x, n);
    if (rc != 0) {
        free(x);
        return rc;
    }
    *out = x;
    return 0;
}

int cw_eval_verification(const cw_eval_scores_t *s, const double *fmr_targets, int n_targets,
                         int replicates, uint64_t seed, cw_pool_t *pool, cw_eval_verify_t *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (s == NULL || out == NULL || s->n_gen == 0 || s->n_imp == 0 || n_targets < 0 ||
        n_targets > CW_EVAL_MAX_TARGETS || (n_targets > 0 && fmr_targets == NULL) ||
        replicates < 0 || replicates > MAX_REPLICATES) {
        return CW_EINVAL;
    }
    for (int k = 0; k < n_targets; k++) {
        if (!(fmr_targets[k] > 0.0 && fmr_targets[k] < 1.0)) {
            return CW_EINVAL;
        }
    }
    for (size_t i = 0; i < s->n_gen + s->n_imp; i++) {
        const cw_eval_pair_t *p = i < s->n_gen ? &s->gen[i] : &s->imp[i - s->n_gen];
        if (!isfinite(p->score) || p->a >= CW__EVAL_MAX_SUBJECTS || p->b >= CW__EVAL_MAX_SUBJECTS) {
            return CW_EINVAL;
        }
    }
    float *gen = NULL, *imp = NULL;
    int rc = sorted_scores(s->gen, s->n_gen, &gen);
    if (rc == 0) {
        rc = sorted_scores(s->imp, s->n_imp, &imp);
    }
    if (rc != 0) {
        free(gen);
        return rc;
    }
    out->n_gen = s->n_gen;
    out->n_imp = s->n_imp;
    out->fta_rate = s->n_samples ? (double)s->n_fta / (double)s->n_samples : 0.0;
    eer_exact(gen, s->n_gen, imp, s->n_imp, &out->eer.value, &out->eer_threshold);
    out->n_targets = n_targets;
    for (int k = 0; k < n_targets; k++) {
        out->fmr_target[k] = fmr_targets[k];
        if (fmr_targets[k] * (double)s->n_imp < 1.0) {
            out->threshold[k] = NAN;
            out->fnmr[k].value = NAN;
            continue;
        }
        float t = cw__eval_threshold(imp, NULL, s->n_imp, (double)s->n_imp, fmr_targets[k]);
        out->threshold[k] = t;
        out->fnmr[k].value = (double)count_below(gen, s->n_gen, t) / (double)s->n_gen;
    }
    free(gen);
    free(imp);
    out->eer.lo = out->eer.hi = out->eer.value;
    for (int k = 0; k < n_targets; k++) {
        out->fnmr[k].lo = out->fnmr[k].hi = out->fnmr[k].value;
    }
    out->replicates = replicates;
    if (replicates > 0) {
        rc = bootstrap(s, fmr_targets, n_targets, replicates, seed, pool, out);
    }
    return rc;
}
