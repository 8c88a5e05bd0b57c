// SPDX-License-Identifier: Apache-2.0
// gallery decisions: the open-set half of 1:N search. A model's impostor score tail is
// calibrated once on labelled data (a generalised Pareto fit of the scores above a high
// quantile); from it each gallery size N gets its own threshold, the smallest one at which the
// false-positive identification rate 1 - (1 - FMR(t))^N stays within the policy's target; and
// the top hits of a search become MATCH, NO_MATCH, AMBIGUOUS or REQUIRES_SECOND_FACTOR.
// docs/gallery-decisions.md explains the method and has the measurements behind the built-in
// calibration. Everything here is a pure function of its arguments: thread-safe.
#include "clearway/gallery.h"

#include "clearway/err.h"
#include "clearway/face.h"

#include "gallery_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { GPD_AUTO = 0, GPD_MLE = 1, GPD_PWM = 2, GPD_EXPONENTIAL = 3 };

// Fewer excesses than this and a tail fit says more about the sample than the tail.
enum { MIN_EXCESSES = 100 };

// The threshold that nothing passes (cosine scores are at most 1): returned when a target
// cannot be met, so the decision fails closed.
#define NEVER_THRESHOLD 2.0

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void swap_float(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

// The k-th smallest (0-based) of a[0..n), n >= 1, no NaN; leaves a partitioned around it
// (a[0..k) <= a[k] <= a[k+1..n)). Quickselect with a median-of-three pivot; if it has not
// finished after a generous number of rounds (adversarial input) the remaining range is sorted,
// so the worst case is O(n log n), the usual one O(n).
static float select_kth(float *a, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    int budget = 16;
    for (size_t m = n; m > 1; m >>= 1) {
        budget += 4;
    }
    while (hi > lo) {
        if (budget-- == 0) {
            qsort(a + lo, (size_t)(hi - lo + 1), sizeof *a, cmp_float);
            return a[kk];
        }
        ptrdiff_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) {
            swap_float(&a[mid], &a[lo]);
        }
        if (a[hi] < a[lo]) {
            swap_float(&a[hi], &a[lo]);
        }
        if (a[hi] < a[mid]) {
            swap_float(&a[hi], &a[mid]);
        }
        float pivot = a[mid];
        ptrdiff_t i = lo, j = hi;
        // a[lo] <= pivot <= a[hi] keeps both scans inside [lo, hi].
        while (i <= j) {
            while (a[i] < pivot) {
                i++;
            }
            while (a[j] > pivot) {
                j--;
            }
            if (i <= j) {
                swap_float(&a[i], &a[j]);
                i++;
                j--;
            }
        }
        // Now a[lo..j] <= pivot <= a[i..hi], and whatever lies between equals the pivot.
        if (kk <= j) {
            hi = j;
        } else if (kk >= i) {
            lo = i;
        } else {
            return a[kk];
        }
    }
    return a[kk];
}

// ---- generalised Pareto fit ----

// Negative profile log-likelihood per excess at theta = xi / sigma (Grimshaw 1993): for fixed
// theta the likelihood is maximised by xi = mean(log(1 + theta y)), sigma = xi / theta, and
// -log L / k = log(sigma) + 1 + xi. theta = 0 is the exponential limit (xi = 0, sigma = mean y).
// Returns +inf outside the support (1 + theta y <= 0 for some y).
static double profile_nll(const double *y, size_t k, double theta, double *xi, double *sigma)
{
    if (theta == 0.0) {
        double s = 0.0;
        for (size_t i = 0; i < k; i++) {
            s += y[i];
        }
        *xi = 0.0;
        *sigma = s / (double)k;
        return log(*sigma) + 1.0;
    }
    double s = 0.0;
    for (size_t i = 0; i < k; i++) {
        double z = theta * y[i];
        if (!(z > -1.0)) {
            return INFINITY;
        }
        s += log1p(z);
    }
    double m = s / (double)k;
    *xi = m;
    *sigma = m / theta; // same sign as theta, so positive
    if (!(*sigma > 0.0) || !isfinite(*sigma)) {
        return INFINITY;
    }
    return log(*sigma) + 1.0 + m;
}

// The grid of tau = theta * max(y) the profile is first scanned over: tau > -1 is the support
// (for xi < 0 the upper endpoint sigma / -xi must lie beyond the largest excess). Dense near -1
// (very short tails), near 0 (the exponential), log-spaced up to very heavy tails.
enum { GRID_MAX = 512 };

static size_t tau_grid(double *g)
{
    size_t n = 0;
    g[n++] = 0.0;
    for (int e = -80; e <= 60; e++) { // 1e-8 .. 1e6
        g[n++] = pow(10.0, e / 10.0);
    }
    for (int e = -80; e <= -3; e++) { // -1e-8 .. -0.5
        g[n++] = -pow(10.0, e / 10.0);
    }
    for (int e = -120; e <= -3; e++) { // -1 + 1e-12 .. -0.5
        g[n++] = -1.0 + pow(10.0, e / 10.0);
    }
    for (int i = 1; i < 50; i++) { // -0.98 .. -0.02, evenly
        g[n++] = -0.02 * i;
    }
    qsort(g, n, sizeof *g, cmp_double);
    return n;
}

static int gpd_mle(const double *y, size_t k, double *xi, double *sigma)
{
    double ymax = y[k - 1];
    double g[GRID_MAX], v[GRID_MAX];
    size_t ng = tau_grid(g);
    size_t first_valid = ng, best = ng;
    for (size_t i = 0; i < ng; i++) {
        double x, s;
        v[i] = profile_nll(y, k, g[i] / ymax, &x, &s);
        // xi <= -1: the likelihood is unbounded towards the endpoint; no MLE lives there.
        if (!isfinite(v[i]) || !(x > -1.0)) {
            v[i] = INFINITY;
            continue;
        }
        if (first_valid == ng) {
            first_valid = i;
        }
        if (best == ng || v[i] < v[best]) {
            best = i;
        }
    }
    // A minimum on the edge of the grid is no interior maximum of the likelihood: either the
    // tail is shorter than xi = -1 allows or heavier than any sensible score tail.
    if (best == ng || best == first_valid || best == ng - 1) {
        return CW_EINVAL;
    }
    // Golden-section refinement inside the bracket of the grid minimum.
    const double r = 0.6180339887498949;
    double a = g[best - 1], b = g[best + 1];
    double c = b - r * (b - a), d = a + r * (b - a);
    double x, s;
    double fc = profile_nll(y, k, c / ymax, &x, &s);
    double fd = profile_nll(y, k, d / ymax, &x, &s);
    int it = 0;
    for (; it < 300 && (b - a) > 1e-14 * (1.0 + fabs(a) + fabs(b)); it++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = profile_nll(y, k, c / ymax, &x, &s);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = profile_nll(y, k, d / ymax, &x, &s);
        }
    }
    double tau = 0.5 * (a + b);
    double f = profile_nll(y, k, tau / ymax, &x, &s);
    // Converged to a point no worse than the grid's best, with a proper GPD inside its support.
    if (it == 300 || !isfinite(f) || f > v[best] + 1e-12 * (1.0 + fabs(v[best])) || !(x > -1.0) ||
        !isfinite(x) || !(s > 0.0) || !isfinite(s)) {
        return CW_EINVAL;
    }
    *xi = x;
    *sigma = s;
    return 0;
}

// Probability-weighted moments (Hosking and Wallis 1987), for when the likelihood has no
// interior maximum. Needs y ascending. Rejects a fit whose upper endpoint would fall below the
// largest excess: that would call observed impostor scores impossible.
static int gpd_pwm(const double *y, size_t k, double *xi, double *sigma)
{
    double a0 = 0.0, a1 = 0.0;
    for (size_t i = 0; i < k; i++) {
        double p = ((double)i + 0.65) / (double)k; // (rank - 0.35) / k, rank = i + 1
        a0 += y[i];
        a1 += (1.0 - p) * y[i];
    }
    a0 /= (double)k;
    a1 /= (double)k;
    double den = a0 - 2.0 * a1;
    if (!(den > 0.0) || !(a1 > 0.0)) {
        return CW_EINVAL;
    }
    double x = 2.0 - a0 / den, s = 2.0 * a0 * a1 / den;
    if (!isfinite(x) || !(s > 0.0) || !isfinite(s)) {
        return CW_EINVAL;
    }
    if (x < 0.0 && s / -x < y[k - 1]) {
        return CW_EINVAL;
    }
    *xi = x;
    *sigma = s;
    return 0;
}

int cw__gallery_gpd_fit(const double *excess, size_t k, int method, double *xi, double *sigma)
{
    if (!excess || !xi || !sigma || k < 2 || method < GPD_AUTO || method > GPD_PWM) {
        return CW_EINVAL;
    }
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(excess[i]) || !(excess[i] > 0.0) || (i > 0 && excess[i] < excess[i - 1])) {
            return CW_EINVAL;
        }
    }
    if (excess[k - 1] == excess[0]) {
        return CW_EINVAL; // no spread: nothing to fit
    }
    if (method != GPD_PWM && gpd_mle(excess, k, xi, sigma) == 0) {
        return GPD_MLE;
    }
    if (method != GPD_MLE && gpd_pwm(excess, k, xi, sigma) == 0) {
        return GPD_PWM;
    }
    if (method != GPD_AUTO) {
        return CW_EINVAL;
    }
    // Both estimators saw a tail too short to describe (xi at or below -1, or an end point
    // inside the data). The exponential, whose tail is heavier than any bounded one, over-states
    // such a tail's FMR: thresholds come out higher, never lower.
    double mean = 0.0;
    for (size_t i = 0; i < k; i++) {
        mean += excess[i];
    }
    *xi = 0.0;
    *sigma = mean / (double)k;
    return GPD_EXPONENTIAL;
}

int cw_gallery_calibrate(const float *scores, size_t n, double tail_fraction,
                         cw_gallery_calibration_t *out)
{
    if (!scores || !out || n == 0 || !(tail_fraction > 0.0 && tail_fraction < 1.0)) {
        return CW_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(scores[i])) {
            return CW_EINVAL;
        }
    }
    double kd = floor(tail_fraction * (double)n);
    if (kd < MIN_EXCESSES || kd >= (double)n || n > SIZE_MAX / sizeof(float)) {
        return CW_EINVAL;
    }
    size_t k = (size_t)kd;
    float *a = malloc(n * sizeof *a);
    if (!a) {
        return CW_ENOMEM;
    }
    memcpy(a, scores, n * sizeof *a);
    // u: the (n - k)-th smallest score, so that k scores lie above it (fewer if it is tied).
    size_t iu = n - k - 1;
    float u = select_kth(a, n, iu);
    size_t m = 0;
    for (size_t i = iu + 1; i < n; i++) {
        m += a[i] > u;
    }
    if (m < MIN_EXCESSES) {
        free(a);
        return CW_EINVAL;
    }
    double *y = malloc(m * sizeof *y);
    if (!y) {
        free(a);
        return CW_ENOMEM;
    }
    size_t j = 0;
    for (size_t i = iu + 1; i < n; i++) {
        if (a[i] > u) {
            y[j++] = (double)a[i] - (double)u;
        }
    }
    free(a);
    qsort(y, m, sizeof *y, cmp_double);
    double xi, sigma;
    int rc = cw__gallery_gpd_fit(y, m, GPD_AUTO, &xi, &sigma);
    free(y);
    if (rc < 0) {
        return rc;
    }
    // model_id and model_version are the caller's: left as they are.
    out->u = (double)u;
    out->p_u = (double)m / (double)n;
    out->xi = xi;
    out->sigma = sigma;
    out->n_impostor = (uint64_t)n;
    return 0;
}

// ---- using a calibration ----

static int calibration_ok(const cw_gallery_calibration_t *cal)
{
    return cal && isfinite(cal->u) && cal->p_u > 0.0 && cal->p_u <= 1.0 && isfinite(cal->xi) &&
           cal->sigma > 0.0 && isfinite(cal->sigma);
}

double cw_gallery_fmr(const cw_gallery_calibration_t *cal, double t)
{
    if (!calibration_ok(cal) || isnan(t)) {
        return 1.0; // no model: assume the worst
    }
    // Below u the calibration says nothing more than "at least p_u"; thresholds never go there.
    if (t <= cal->u) {
        return cal->p_u;
    }
    double z = (t - cal->u) / cal->sigma;
    if (cal->xi == 0.0) {
        return cal->p_u * exp(-z);
    }
    double w = cal->xi * z;
    if (w <= -1.0) {
        return 0.0; // beyond the upper end point of a bounded tail
    }
    // (1 + w)^(-1/xi), written so that xi close to 0 tends smoothly to exp(-z).
    return cal->p_u * exp(-log1p(w) / cal->xi);
}

// 1 - (1 - x)^n without the cancellation of the direct form when x is small.
static double fpir_of(double fmr, uint64_t n)
{
    if (n == 0 || fmr <= 0.0) {
        return 0.0;
    }
    if (fmr >= 1.0) {
        return 1.0;
    }
    return -expm1((double)n * log1p(-fmr));
}

double cw_gallery_threshold(const cw_gallery_calibration_t *cal, uint64_t n, double target_fpir)
{
    if (!calibration_ok(cal) || !(target_fpir > 0.0 && target_fpir < 1.0)) {
        return NEVER_THRESHOLD;
    }
    if (n == 0) {
        n = 1; // an empty gallery matches nobody; give it the threshold of the smallest one
    }
    // The per-comparison FMR that gives exactly target_fpir over n comparisons.
    double f = -expm1(log1p(-target_fpir) / (double)n);
    if (!(f > 0.0)) {
        return NEVER_THRESHOLD;
    }
    if (f >= cal->p_u) {
        return cal->u; // the target allows more than the tail describes: stay at u
    }
    double r = log(f / cal->p_u); // < 0
    double z = cal->xi == 0.0 ? -r : expm1(-cal->xi * r) / cal->xi;
    double t = cal->u + cal->sigma * z;
    if (!isfinite(t) || t > 1.0) {
        return NEVER_THRESHOLD;
    }
    // The inversion is exact up to rounding; step up until the forward model agrees.
    double step = 0.0;
    for (int i = 0; i < 200 && fpir_of(cw_gallery_fmr(cal, t), n) > target_fpir; i++) {
        step = step == 0.0 ? nextafter(t, INFINITY) - t : 2.0 * step;
        t += step;
    }
    if (fpir_of(cw_gallery_fmr(cal, t), n) > target_fpir || t > 1.0) {
        return NEVER_THRESHOLD;
    }
    return t;
}

int cw_gallery_decide(const cw_gallery_hit_t *hits, int n_hits, uint64_t n,
                      const cw_gallery_calibration_t *cal, const cw_gallery_policy_t *policy,
                      cw_gallery_decision_t *out)
{
    if (!out) {
        return CW_EINVAL;
    }
    // Whatever goes wrong below, the caller holds a NO_MATCH that nothing could pass.
    memset(out, 0, sizeof *out);
    out->verdict = CW_GALLERY_NO_MATCH;
    out->threshold = NEVER_THRESHOLD;
    out->n = n;
    if (!calibration_ok(cal) || !policy || n_hits < 0 || (n_hits > 0 && !hits)) {
        return CW_EINVAL;
    }
    if (!(policy->target_fpir > 0.0 && policy->target_fpir < 1.0) || !(policy->margin >= 0.0f) ||
        !isfinite(policy->margin)) {
        return CW_EINVAL;
    }
    // A search over n rows returns at most n hits; and with two or more rows the guard below
    // needs the runner-up, so a caller that asked for the top 1 only gets an error, not a MATCH
    // nobody checked.
    if ((uint64_t)n_hits > n || (n >= 2 && n_hits == 1)) {
        return CW_EINVAL;
    }
    for (int i = 0; i < n_hits; i++) {
        if (!isfinite(hits[i].score) || (i > 0 && hits[i].score > hits[i - 1].score)) {
            return CW_EINVAL;
        }
    }

    double t = cw_gallery_threshold(cal, n, policy->target_fpir);
    out->threshold = t;
    out->predicted_fpir = fpir_of(cw_gallery_fmr(cal, t), n);
    out->score = n_hits > 0 ? hits[0].score : 0.0f;
    if (policy->max_n > 0 && n > policy->max_n) {
        out->verdict = CW_GALLERY_REQUIRES_SECOND_FACTOR;
        return 0;
    }
    if (n_hits == 0 || (double)hits[0].score < t) {
        out->verdict = CW_GALLERY_NO_MATCH;
        return 0;
    }
    // The runner-up is the best hit of another id (the best is unique per id in a gallery, but
    // a caller merging several searches could repeat one). Hits are sorted, so if it does not
    // pass the threshold no other id does.
    for (int i = 1; i < n_hits; i++) {
        if (hits[i].id != hits[0].id) {
            double second = hits[i].score;
            if (second >= t || (double)hits[0].score - second <= (double)policy->margin) {
                out->verdict = CW_GALLERY_AMBIGUOUS;
                return 0;
            }
            break;
        }
    }
    out->verdict = CW_GALLERY_MATCH;
    out->id = hits[0].id;
    return 0;
}

// ---- built-in calibrations ----

// MobileFaceNet v1, flip-averaged templates (the default face pipeline): every impostor pair of
// lfw-dev as labelled (21,021,550 pairs of 6,495 photos of 2,869 people), u at tail fraction
// 1e-3, GPD by maximum likelihood on the 21,021 excesses. Remake with (docs/gallery-decisions.md
// has the run, its validation and what the thresholds accept):
//   build/release/src/cli/clearway eval face --root ../shared/data/faces/lfw-dev
//       --pairs ../shared/data/faces/lfw-dev-pairs.tsv --dump /tmp/lfw_dump_mfn.tsv
//   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -o build/calibrate_face
//       tools/calibrate/calibrate_face.c src/gallery/decide.c src/core/err.c -lm
//   build/calibrate_face /tmp/lfw_dump_mfn.tsv
// (each command on one line)
// and paste its "Constants for decide.c" line here. A calibration belongs to one model, one
// version and one way of making templates: re-measure when any of them changes.
static const struct {
    uint32_t model_id, model_version, flags;
    cw_gallery_calibration_t cal;
} CALIBRATIONS[] = {
    {CW_FACE_MODEL_MOBILEFACENET,
     1,
     CW_FACE_TEMPLATE_FLIP_AVERAGED,
     {CW_FACE_MODEL_MOBILEFACENET, 1, 0.45883578062057495, 0.00099997383637267481,
      -0.045911558992976685, 0.037595342411944545, 21021550}},
};

int cw_gallery_calibration_for(uint32_t model_id, uint32_t model_version, uint32_t flags,
                               cw_gallery_calibration_t *out)
{
    if (!out) {
        return CW_EINVAL;
    }
    for (size_t i = 0; i < sizeof(CALIBRATIONS) / sizeof(CALIBRATIONS[0]); i++) {
        if (CALIBRATIONS[i].model_id == model_id &&
            CALIBRATIONS[i].model_version == model_version && CALIBRATIONS[i].flags == flags) {
            *out = CALIBRATIONS[i].cal;
            return 0;
        }
    }
    return CW_ENOENT;
}
