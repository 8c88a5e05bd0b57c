// SPDX-License-Identifier: Apache-2.0
// The population model (include/clearway/sim.h): error rates of each clearance mode's decision
// rule for a population of N, from one modality's measured scores with the impostor tail fitted
// by the gallery's own cw_gallery_calibrate; the largest N at which a mode meets its targets;
// and a direct simulation through the real cw_gallery_decide to check the model where the
// empirical scores can still speak. Assumptions are stated where they are made, and the header
// lists the ones every mode shares. Pure functions: thread-safe.
#include "clearway/sim.h"

#include "clearway/err.h"
#include "clearway/gallery.h"

#include "sim_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cw_sim_scores {
    float *gen; // ascending
    size_t n_gen;
    float *imp; // ascending
    size_t n_imp;
    cw_gallery_calibration_t tail;
};

static void say(char *diag, size_t diag_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void say(char *diag, size_t diag_len, const char *fmt, ...)
{
    if (diag == NULL || diag_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag, diag_len, fmt, ap);
    va_end(ap);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// The first index i of a[0..n) (ascending) with a[i] >= t: how many scores lie below t.
static size_t lower_bound(const float *a, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)a[mid] < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static float *sorted_copy(const float *s, size_t n)
{
    if (n > SIZE_MAX / sizeof(float)) {
        return NULL;
    }
    float *a = malloc((n > 0 ? n : 1) * sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(a, s, n * sizeof *a);
        qsort(a, n, sizeof *a, cmp_float);
    }
    return a;
}

static int all_finite(const float *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(s[i])) {
            return 0;
        }
    }
    return 1;
}

uint64_t cw_sim_min_impostors(double tail_fraction)
{
    if (!(tail_fraction > 0.0 && tail_fraction < 1.0)) {
        return UINT64_MAX;
    }
    // cw_gallery_calibrate keeps floor(q n) scores above u and wants CW_SIM_MIN_EXCESSES.
    double n = ceil(CW_SIM_MIN_EXCESSES / tail_fraction);
    while (floor(tail_fraction * n) < CW_SIM_MIN_EXCESSES) {
        n += 1.0;
    }
    return n < 1.8e19 ? (uint64_t)n : UINT64_MAX;
}

int cw_sim_scores_create(const float *gen, size_t n_gen, const float *imp, size_t n_imp,
                         double tail_fraction, const cw_gallery_calibration_t *tail,
                         cw_sim_scores_t **out, char *diag, size_t diag_len)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    *out = NULL;
    if (gen == NULL || n_gen == 0) {
        say(diag, diag_len, "no genuine scores");
        return CW_EINVAL;
    }
    if (imp == NULL || n_imp == 0) {
        say(diag, diag_len, "no impostor scores");
        return CW_EINVAL;
    }
    if (!all_finite(gen, n_gen) || !all_finite(imp, n_imp)) {
        say(diag, diag_len, "a score is NaN or infinite");
        return CW_EINVAL;
    }
    if (tail == NULL && !(tail_fraction > 0.0 && tail_fraction < 1.0)) {
        say(diag, diag_len, "tail fraction %g is not in (0, 1)", tail_fraction);
        return CW_EINVAL;
    }
    uint64_t need = cw_sim_min_impostors(tail_fraction);
    if (tail == NULL && (uint64_t)n_imp < need) {
        say(diag, diag_len,
            "%zu impostor scores are too few to fit a tail at tail fraction %g: it needs at "
            "least %llu (%d above the threshold u)",
            n_imp, tail_fraction, (unsigned long long)need, CW_SIM_MIN_EXCESSES);
        return CW_EINVAL;
    }
    cw_sim_scores_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return CW_ENOMEM;
    }
    m->gen = sorted_copy(gen, n_gen);
    m->imp = sorted_copy(imp, n_imp);
    if (m->gen == NULL || m->imp == NULL) {
        cw_sim_scores_destroy(m);
        return CW_ENOMEM;
    }
    m->n_gen = n_gen;
    m->n_imp = n_imp;
    if (tail != NULL) {
        m->tail = *tail;
    } else {
        int rc = cw_gallery_calibrate(imp, n_imp, tail_fraction, &m->tail);
        if (rc != 0) {
            say(diag, diag_len,
                rc == CW_ENOMEM ? "out of memory fitting the impostor tail"
                                : "the impostor tail could not be fitted at tail fraction %g "
                                  "(fewer than %d distinct scores above u?)",
                tail_fraction, CW_SIM_MIN_EXCESSES);
            cw_sim_scores_destroy(m);
            return rc;
        }
    }
    if (!(m->tail.p_u > 0.0 && m->tail.p_u <= 1.0) || !(m->tail.sigma > 0.0) ||
        !isfinite(m->tail.u) || !isfinite(m->tail.xi) || !isfinite(m->tail.sigma)) {
        say(diag, diag_len, "malformed impostor tail");
        cw_sim_scores_destroy(m);
        return CW_EINVAL;
    }
    *out = m;
    return 0;
}

void cw_sim_scores_destroy(cw_sim_scores_t *m)
{
    if (m == NULL) {
        return;
    }
    free(m->gen);
    free(m->imp);
    free(m);
}

const cw_gallery_calibration_t *cw_sim_scores_tail(const cw_sim_scores_t *m)
{
    return m != NULL ? &m->tail : NULL;
}

const float *cw_sim_scores_genuine(const cw_sim_scores_t *m, size_t *n)
{
    *n = m->n_gen;
    return m->gen;
}

const float *cw_sim_scores_impostor(const cw_sim_scores_t *m, size_t *n)
{
    *n = m->n_imp;
    return m->imp;
}

double cw_sim_any_of(double p, double k)
{
    if (!(p > 0.0) || !(k > 0.0)) {
        return 0.0;
    }
    if (p >= 1.0) {
        return 1.0;
    }
    return -expm1(k * log1p(-p));
}

// (1 - p)^k
static double none_of(double p, double k)
{
    if (!(p > 0.0) || !(k > 0.0)) {
        return 1.0;
    }
    if (p >= 1.0) {
        return 0.0;
    }
    return exp(k * log1p(-p));
}

double cw_sim_fmr(const cw_sim_scores_t *m, double t)
{
    if (isnan(t)) {
        return 1.0;
    }
    if (t > m->tail.u) {
        return cw_gallery_fmr(&m->tail, t);
    }
    // Below u the data speak: the empirical share of impostor scores >= t.
    return (double)(m->n_imp - lower_bound(m->imp, m->n_imp, t)) / (double)m->n_imp;
}

double cw_sim_fnmr(const cw_sim_scores_t *m, double t)
{
    if (isnan(t)) {
        return 1.0;
    }
    return (double)lower_bound(m->gen, m->n_gen, t) / (double)m->n_gen;
}

// The smallest t > u with the tail's FMR(t) <= f (f < p_u): the GPD inverted analytically as
// cw_gallery_threshold does, then stepped up by ulps if rounding left it a hair short; no cap
// at 1, so it serves any score range. INFINITY when the tail cannot reach f.
static double tail_inverse_raw(const cw_gallery_calibration_t *c, double f)
{
    if (!(f > 0.0)) {
        return INFINITY;
    }
    double r = log(f / c->p_u); // < 0
    double z = c->xi == 0.0 ? -r : expm1(-c->xi * r) / c->xi;
    double t = c->u + c->sigma * z;
    return isfinite(t) ? t : INFINITY;
}

static double tail_inverse(const cw_gallery_calibration_t *c, double f)
{
    double t = tail_inverse_raw(c, f);
    if (!isfinite(t)) {
        return INFINITY;
    }
    double step = 0.0;
    for (int i = 0; i < 200 && cw_gallery_fmr(c, t) > f; i++) {
        step = step == 0.0 ? nextafter(t, INFINITY) - t : 2.0 * step;
        t += step;
    }
    return cw_gallery_fmr(c, t) > f ? INFINITY : t;
}

double cw_sim_threshold(const cw_sim_scores_t *m, double fmr)
{
    if (!(fmr > 0.0 && fmr < 1.0)) {
        return INFINITY;
    }
    if (fmr < m->tail.p_u) {
        return tail_inverse(&m->tail, fmr);
    }
    // The empirical quantile: at most floor(fmr n) scores may reach t, so t lies just above the
    // score with that many at or above it.
    size_t allowed = (size_t)floor(fmr * (double)m->n_imp);
    if (allowed >= m->n_imp) {
        return -INFINITY;
    }
    return (double)nextafterf(m->imp[m->n_imp - allowed - 1], INFINITY);
}

double cw_sim_threshold_1n(const cw_sim_scores_t *m, uint64_t n, double target_fpir)
{
    if (!(target_fpir > 0.0 && target_fpir < 1.0)) {
        return INFINITY;
    }
    if (n == 0) {
        n = 1;
    }
    double f = -expm1(log1p(-target_fpir) / (double)n);
    if (!(f > 0.0)) {
        return INFINITY;
    }
    // As the gallery: never below u, where the tail model ends.
    if (f >= m->tail.p_u) {
        return m->tail.u;
    }
    // Stepped on the FPIR itself, exactly as cw_gallery_threshold, so the two agree.
    double t = tail_inverse_raw(&m->tail, f);
    double step = 0.0;
    for (int i = 0; i < 200 && isfinite(t) &&
                    cw_sim_any_of(cw_gallery_fmr(&m->tail, t), (double)n) > target_fpir;
         i++) {
        step = step == 0.0 ? nextafter(t, INFINITY) - t : 2.0 * step;
        t += step;
    }
    return t;
}

// ---- the modes ----

const char *cw_sim_mode_name(cw_sim_mode_t mode)
{
    switch (mode) {
    case CW_SIM_FACE_1N:
        return "face_1n";
    case CW_SIM_DOCUMENT_FREE:
        return "document_free";
    case CW_SIM_DOCUMENT_FREE_FIXED:
        return "document_free_fixed";
    case CW_SIM_FACE_1TO1:
        return "face_1to1";
    default:
        return "?";
    }
}

void cw_sim_params_default(cw_sim_params_t *p)
{
    memset(p, 0, sizeof *p);
    // The criterion of issue 9: FPIR <= 1e-3 with FNIR <= 5%.
    p->target_fpir = 1e-3;
    p->max_fnir = 0.05;
    // cw_clearance_policy_default (src/clearance/machine.c): margin 0.05; face 1:1 at FMR 1e-4
    // (contactless, smart departure), 1e-3 inside the document-free channel; fingerprint at
    // 1e-4, which src/clearance/steps.c divides by the number of enrolled fingers; 3 captures.
    p->decision_fpir = 0.0;
    p->margin = 0.05;
    p->face_fmr = 1e-4;
    p->inside_face_fmr = 1e-3;
    p->finger_fmr = 1e-4;
    p->fingers = 2;
    p->captures = 3;
    // A stranger's masked hint is personal data shown to the wrong person: at most 1 in 100
    // non-enrolled travellers may see one (the field incident began with such a hint).
    p->max_hint = 1e-2;
}

double cw_sim_decision_fpir(const cw_sim_params_t *p)
{
    if (p->decision_fpir > 0.0) {
        return p->decision_fpir;
    }
    // Spread over the attempts, so that independent retries meet the target per transaction.
    return -expm1(log1p(-p->target_fpir) / (double)(p->captures > 0 ? p->captures : 1));
}

static int params_ok(const cw_sim_params_t *p)
{
    return p != NULL && p->target_fpir > 0.0 && p->target_fpir < 1.0 && p->max_fnir >= 0.0 &&
           p->max_fnir <= 1.0 &&
           (p->decision_fpir == 0.0 || (p->decision_fpir > 0.0 && p->decision_fpir < 1.0)) &&
           p->margin >= 0.0 && p->margin < 1e3 && p->face_fmr > 0.0 && p->face_fmr < 1.0 &&
           p->inside_face_fmr > 0.0 && p->inside_face_fmr < 1.0 && p->finger_fmr > 0.0 &&
           p->finger_fmr < 1.0 && p->fingers >= 1 && p->fingers <= 10 && p->captures >= 1 &&
           p->captures <= 100 && p->max_hint >= 0.0 && p->max_hint < 1.0;
}

// The margin as cw_gallery_decide sees it (a float in the policy).
static double decide_margin(const cw_sim_params_t *p)
{
    return (double)(float)p->margin;
}

// Face 1:N at threshold t over n rows: the share of enrolled travellers whose search is not a
// MATCH of their own record. For a genuine score s the mate is matched when s >= t and none of
// the n - 1 other rows reaches min(t, s - margin): a higher one would outrank the mate, one
// within the margin or passing t makes the decision AMBIGUOUS (docs/gallery-decisions.md
// section 7). The other rows are independent impostor draws.
static double fnir_1n(const cw_sim_scores_t *m, double t, uint64_t n, double margin)
{
    if (!isfinite(t)) {
        return 1.0;
    }
    double acc = 0.0;
    for (size_t i = lower_bound(m->gen, m->n_gen, t); i < m->n_gen; i++) {
        double s = m->gen[i];
        double x = s - margin < t ? s - margin : t;
        acc += none_of(cw_sim_fmr(m, x), (double)(n - 1));
    }
    return 1.0 - acc / (double)m->n_gen;
}

// The share of enrolled travellers for whom another row ranks first and passes t: an upper
// bound on a stranger's hint shown to them (the ambiguity guard turns some into AMBIGUOUS).
static double wrong_rank1(const cw_sim_scores_t *m, double t, uint64_t n)
{
    if (!isfinite(t) || n < 2) {
        return 0.0;
    }
    double acc = 0.0;
    for (size_t i = 0; i < m->n_gen; i++) {
        double s = m->gen[i];
        acc += cw_sim_any_of(cw_sim_fmr(m, s > t ? s : t), (double)(n - 1));
    }
    return acc / (double)m->n_gen;
}

static void finish(const cw_sim_params_t *p, cw_sim_point_t *o)
{
    o->fpir_txn = cw_sim_any_of(o->fpir, p->captures);
    o->fnir_txn_lo = pow(o->fnir, p->captures);
    // Conservative: an impostor's retries independent, a genuine traveller's fully correlated.
    o->ok = o->fpir_txn <= p->target_fpir && o->fnir <= p->max_fnir;
}

// The document-free flow at front target tau. Front: face 1:N. Confirmation: assumed always
// given by an impostor (worst case). Inside: face 1:1 against the chosen record, assumed
// always passed by an impostor whose face already passed the front (P = 1: the same face that
// matched there will match again), and the fingerprint 1:1 against the same record's fingers
// at finger_fmr / fingers, passed if any of the fingers comparisons passes. A genuine
// traveller's inside captures are taken as independent of the front's (conservative when they
// correlate positively).
static void document_free(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                          const cw_sim_params_t *p, uint64_t n, double tau, cw_sim_point_t *o)
{
    double margin = decide_margin(p);
    memset(o, 0, sizeof *o);
    o->mode = CW_SIM_DOCUMENT_FREE_FIXED;
    o->n = n;
    o->front_target = tau;
    o->threshold = cw_sim_threshold_1n(face, n, tau);
    o->finger_threshold = cw_sim_threshold(finger, p->finger_fmr / p->fingers);
    o->inside_threshold = cw_sim_threshold(face, p->inside_face_fmr);
    double front = cw_sim_any_of(cw_sim_fmr(face, o->threshold), (double)n);
    double finger_imp = cw_sim_any_of(cw_sim_fmr(finger, o->finger_threshold), p->fingers);
    o->hint_stranger = front;
    o->fpir = front * 1.0 * finger_imp;
    double front_ok = 1.0 - fnir_1n(face, o->threshold, n, margin);
    double inside_ok = 1.0 - cw_sim_fnmr(face, o->inside_threshold);
    double finger_ok = 1.0 - cw_sim_fnmr(finger, o->finger_threshold);
    o->fnir = 1.0 - front_ok * inside_ok * finger_ok;
    o->hint_wrong = wrong_rank1(face, o->threshold, n);
    finish(p, o);
}

// The front targets the document-free flow chooses from: 5 per decade, 1e-3 to 0.5.
enum { FRONT_GRID = 15 };

static double front_grid(int i)
{
    return i == FRONT_GRID - 1 ? 0.5 : 1e-3 * pow(10.0, i / 5.0);
}

int cw_sim_evaluate(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                    const cw_sim_params_t *p, cw_sim_mode_t mode, uint64_t n, cw_sim_point_t *out)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof *out);
    out->mode = mode;
    out->n = n;
    if (face == NULL || !params_ok(p) || n == 0 || (int)mode < 0 || mode >= CW_SIM_N_MODES) {
        return CW_EINVAL;
    }
    if ((mode == CW_SIM_DOCUMENT_FREE || mode == CW_SIM_DOCUMENT_FREE_FIXED) && finger == NULL) {
        return CW_EINVAL;
    }
    switch (mode) {
    case CW_SIM_FACE_1N: {
        double tau = cw_sim_decision_fpir(p);
        out->front_target = tau;
        out->threshold = cw_sim_threshold_1n(face, n, tau);
        out->fpir = cw_sim_any_of(cw_sim_fmr(face, out->threshold), (double)n);
        out->fnir = fnir_1n(face, out->threshold, n, decide_margin(p));
        finish(p, out);
        break;
    }
    case CW_SIM_FACE_1TO1:
        // One comparison against the claimed record: no N anywhere.
        out->threshold = out->inside_threshold = cw_sim_threshold(face, p->face_fmr);
        out->fpir = cw_sim_fmr(face, out->threshold);
        out->fnir = cw_sim_fnmr(face, out->threshold);
        finish(p, out);
        break;
    case CW_SIM_DOCUMENT_FREE_FIXED:
        document_free(face, finger, p, n, cw_sim_decision_fpir(p), out);
        break;
    case CW_SIM_DOCUMENT_FREE: {
        // The front target is free: among those that keep the flow's FPIR on target, the one
        // with the lowest FNIR. Not simply the largest: past a point the ambiguity guard (a
        // second row passing the front threshold) costs more matches than the lower threshold
        // wins. The front's FPIR is also the share of non-enrolled travellers shown a stranger's
        // masked hint, which p->max_hint bounds. If none meets both, the smallest.
        cw_sim_point_t best, cur;
        document_free(face, finger, p, n, front_grid(0), &best);
        for (int i = 1; i < FRONT_GRID; i++) {
            document_free(face, finger, p, n, front_grid(i), &cur);
            int hint_ok = p->max_hint <= 0.0 || cur.hint_stranger <= p->max_hint;
            if (hint_ok && cur.fpir_txn <= p->target_fpir &&
                (best.fpir_txn > p->target_fpir || cur.fnir <= best.fnir)) {
                best = cur;
            }
        }
        *out = best;
        out->mode = mode;
        break;
    }
    default:
        return CW_EINVAL;
    }
    return 0;
}

static int ok_at(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                 const cw_sim_params_t *p, cw_sim_mode_t mode, uint64_t n, int *ok)
{
    cw_sim_point_t pt;
    int rc = cw_sim_evaluate(face, finger, p, mode, n, &pt);
    *ok = rc == 0 && pt.ok;
    return rc;
}

int cw_sim_largest_n(const cw_sim_scores_t *face, const cw_sim_scores_t *finger,
                     const cw_sim_params_t *p, cw_sim_mode_t mode, uint64_t lo, uint64_t hi,
                     uint64_t *out, int *where)
{
    if (out == NULL || where == NULL || lo == 0 || hi < lo) {
        return CW_EINVAL;
    }
    *out = 0;
    *where = -1;
    // A log grid of 20 points per decade from lo to hi (hi itself the last point).
    double decades = log10((double)hi / (double)lo);
    int points = (int)ceil(decades * 20.0 - 1e-9) + 1;
    uint64_t good = 0, bad = 0;
    for (int i = 0; i < points; i++) {
        uint64_t n = i == points - 1 ? hi : (uint64_t)llround((double)lo * pow(10.0, i / 20.0));
        if (n < lo) {
            n = lo;
        }
        int ok;
        int rc = ok_at(face, finger, p, mode, n, &ok);
        if (rc != 0) {
            return rc;
        }
        if (ok) {
            good = n;
            bad = 0;
        } else if (good != 0 && bad == 0) {
            bad = n;
        }
    }
    if (good == 0) {
        return 0;
    }
    if (good == hi) {
        *out = hi;
        *where = 1;
        return 0;
    }
    // good is ok, bad (the next grid point) is not: bisect the integers between them.
    while (bad - good > 1) {
        uint64_t mid = good + (bad - good) / 2;
        int ok;
        int rc = ok_at(face, finger, p, mode, mid, &ok);
        if (rc != 0) {
            return rc;
        }
        if (ok) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    *out = good;
    *where = 0;
    return 0;
}

// ---- the direct simulation ----

double cw__sim_uniform(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return ((double)(x >> 11) + 0.5) / 9007199254740992.0;
}

static size_t index_of(double v, size_t m)
{
    size_t i = (size_t)(v * (double)m);
    return i < m ? i : m - 1;
}

void cw__sim_top2(uint64_t *state, size_t m, uint64_t n, size_t *i1, size_t *i2)
{
    // The largest of n uniforms is U^(1/n); given it, the others are uniform below it, so the
    // second is that times the largest of n - 1 uniforms. A uniform picks a sorted index as
    // floor(V m), which keeps the order: the best two draws are the two largest V's indices.
    double v1 = exp(log(cw__sim_uniform(state)) / (double)n);
    *i1 = index_of(v1, m);
    if (n < 2) {
        *i2 = SIZE_MAX;
        return;
    }
    double v2 = v1 * exp(log(cw__sim_uniform(state)) / (double)(n - 1));
    *i2 = index_of(v2, m);
}

void cw__sim_top2_brute(uint64_t *state, size_t m, uint64_t n, size_t *i1, size_t *i2)
{
    size_t a = 0, b = SIZE_MAX;
    for (uint64_t k = 0; k < n; k++) {
        size_t i = index_of(cw__sim_uniform(state), m);
        if (k == 0) {
            a = i;
        } else if (i >= a) {
            b = a;
            a = i;
        } else if (b == SIZE_MAX || i > b) {
            b = i;
        }
    }
    *i1 = a;
    *i2 = b;
}

void cw_sim_wilson(uint64_t k, uint64_t n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = *hi = 0.0;
        return;
    }
    const double z = 1.959963984540054;
    double nn = (double)n, ph = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double centre = (ph + z2 / (2.0 * nn)) / den;
    double half = z * sqrt(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn)) / den;
    // The ends are exact at k = 0 and k = n (rounding would leave 1e-19 or so).
    *lo = k == 0 || centre - half < 0.0 ? 0.0 : centre - half;
    *hi = k == n || centre + half > 1.0 ? 1.0 : centre + half;
}

int cw_sim_check_face_1n(const cw_sim_scores_t *face, const cw_sim_params_t *p, uint64_t n,
                         uint64_t trials, uint64_t seed, cw_sim_check_t *out)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (face == NULL || !params_ok(p) || n < 2 || trials == 0) {
        return CW_EINVAL;
    }
    cw_sim_point_t model;
    int rc = cw_sim_evaluate(face, NULL, p, CW_SIM_FACE_1N, n, &model);
    if (rc != 0) {
        return rc;
    }
    out->n = n;
    out->trials = trials;
    out->model_fpir = model.fpir;
    out->model_fnir = model.fnir;
    cw_gallery_policy_t pol = {
        .target_fpir = cw_sim_decision_fpir(p), .margin = (float)p->margin, .max_n = 0};
    const cw_gallery_calibration_t *cal = &face->tail;
    out->threshold = cw_gallery_threshold(cal, n, pol.target_fpir);
    uint64_t state = seed != 0 ? seed : 0x9E3779B97F4A7C15ull;
    const float *imp = face->imp;
    for (uint64_t k = 0; k < trials; k++) {
        cw_gallery_hit_t hits[3];
        cw_gallery_decision_t d;
        size_t i1, i2;
        // Non-mated: a person not enrolled searches n rows.
        cw__sim_top2(&state, face->n_imp, n, &i1, &i2);
        hits[0] = (cw_gallery_hit_t){1, imp[i1]};
        hits[1] = (cw_gallery_hit_t){2, imp[i2]};
        rc = cw_gallery_decide(hits, 2, n, cal, &pol, &d);
        if (rc != 0) {
            return rc;
        }
        out->passed += (double)imp[i1] >= d.threshold;
        out->false_match += d.verdict == CW_GALLERY_MATCH;
        // Mated: the mate (id 0) and n - 1 others; the top two of the three, best first (a tie
        // goes to the smaller id, as the search breaks ties).
        float g = face->gen[index_of(cw__sim_uniform(&state), face->n_gen)];
        cw__sim_top2(&state, face->n_imp, n - 1, &i1, &i2);
        cw_gallery_hit_t c[3] = {{0, g}, {1, imp[i1]}, {2, i2 == SIZE_MAX ? -INFINITY : imp[i2]}};
        for (int a = 1; a < 3; a++) {
            for (int b = a; b > 0 && c[b].score > c[b - 1].score; b--) {
                cw_gallery_hit_t t = c[b];
                c[b] = c[b - 1];
                c[b - 1] = t;
            }
        }
        rc = cw_gallery_decide(c, 2, n, cal, &pol, &d);
        if (rc != 0) {
            return rc;
        }
        out->missed += !(d.verdict == CW_GALLERY_MATCH && d.id == 0);
    }
    out->fpir = (double)out->passed / (double)trials;
    out->fnir = (double)out->missed / (double)trials;
    cw_sim_wilson(out->passed, trials, &out->fpir_lo, &out->fpir_hi);
    cw_sim_wilson(out->missed, trials, &out->fnir_lo, &out->fnir_hi);
    return 0;
}
