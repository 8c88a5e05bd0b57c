// SPDX-License-Identifier: Apache-2.0
// calibrate_face: makes and checks the built-in face calibration of src/gallery/decide.c from a
// template dump of labelled photos (`clearway eval face --dump`, one line per photo: name,
// number, found, box, landmarks, "dim v1 .. vdim"). It scores every pair of photos, fits the
// impostor tail with the library's own cw_gallery_calibrate at several tail fractions, prints
// the constants to paste into decide.c, then validates: GPD-predicted against empirical FMR on
// the same pairs and on held-out identities, the open-set FPIR of a real gallery against
// 1 - (1 - FMR)^N, and the threshold for each gallery size with the genuine pairs it accepts.
// Output is Markdown, for docs/gallery-decisions.md. Build and run (about a minute, 2 cores):
//
//   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -o build/calibrate_face
//       tools/calibrate/calibrate_face.c src/gallery/decide.c src/core/err.c -lm
//   build/calibrate_face /tmp/lfw_dump_mfn.tsv
#include "clearway/err.h"
#include "clearway/gallery.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cw__gallery_gpd_fit(const double *excess, size_t k, int method, double *xi, double *sigma);

enum { MAX_DIM = 1024 };

typedef struct photo {
    int person; // index of the person, in order of first appearance
    int found;
    const char *name, *number; // point into the dump's text
    float *v;
} photo_t;

typedef struct scores {
    float *s; // ascending once sorted
    size_t n, cap;
} scores_t;

static void die(const char *msg)
{
    fprintf(stderr, "calibrate_face: %s\n", msg);
    exit(1);
}

static void push(scores_t *a, float x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1 << 20;
        a->s = realloc(a->s, a->cap * sizeof *a->s);
        if (!a->s) {
            die("out of memory");
        }
    }
    a->s[a->n++] = x;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void sort_scores(scores_t *a)
{
    qsort(a->s, a->n, sizeof *a->s, cmp_float);
}

// Scores strictly above t in an ascending array.
static size_t count_above(const scores_t *a, double t)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)a->s[mid] > t) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return a->n - lo;
}

// Scores at or above t.
static size_t count_at_or_above(const scores_t *a, double t)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)a->s[mid] >= t) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return a->n - lo;
}

// A threshold with exactly c scores above it: halfway between the c-th and (c+1)-th largest.
static double threshold_with_count(const scores_t *a, size_t c)
{
    double hi = a->s[a->n - c], lo = a->s[a->n - c - 1];
    return 0.5 * (hi + lo);
}

// Poisson 95% interval for an observed count (Wilson-Hilferty approximation of Garwood's).
static void poisson_ci(double c, double *lo, double *hi)
{
    if (c <= 0) {
        *lo = 0.0;
    } else {
        double q = 1.0 - 1.0 / (9.0 * c) - 1.96 / (3.0 * sqrt(c));
        *lo = c * q * q * q;
    }
    double c1 = c + 1.0;
    double q = 1.0 - 1.0 / (9.0 * c1) + 1.96 / (3.0 * sqrt(c1));
    *hi = c1 * q * q * q;
}

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

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("cannot open the dump");
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        die("cannot read the dump");
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

static photo_t *parse(char *text, int *n_photos, int *n_people, int *dim)
{
    int cap = 8192, n = 0, people = 0;
    photo_t *p = calloc((size_t)cap, sizeof *p);
    char prev_name[512] = "";
    char **names = NULL;
    int names_cap = 0;
    *dim = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || line[0] == 0) {
            continue;
        }
        char *field[6];
        int nf = 0;
        for (char *c = line; nf < 6;) {
            field[nf++] = c;
            c = strchr(c, '\t');
            if (!c) {
                break;
            }
            *c++ = 0;
        }
        if (nf < 6) {
            die("a line with fewer than 6 fields");
        }
        if (n == cap) {
            cap *= 2;
            p = realloc(p, (size_t)cap * sizeof *p);
        }
        if (strcmp(field[0], prev_name) != 0) {
            // Photos of one person must be consecutive, or identities would be split.
            for (int i = 0; i < people; i++) {
                if (strcmp(names[i], field[0]) == 0) {
                    die("photos of one person are not consecutive");
                }
            }
            if (people == names_cap) {
                names_cap = names_cap ? 2 * names_cap : 4096;
                names = realloc(names, (size_t)names_cap * sizeof *names);
            }
            names[people++] = field[0]; // points into the text, which outlives the parse
            snprintf(prev_name, sizeof prev_name, "%s", field[0]);
        }
        p[n].person = people - 1;
        p[n].found = atoi(field[2]);
        p[n].name = field[0];
        p[n].number = field[1];
        char *end;
        long d = strtol(field[5], &end, 10);
        if (!p[n].found) { // no face: no template (dimension 0)
            p[n].v = NULL;
            n++;
            continue;
        }
        if (d <= 0 || d > MAX_DIM || (*dim && d != *dim)) {
            die("bad template dimension");
        }
        *dim = (int)d;
        p[n].v = malloc((size_t)d * sizeof(float));
        double v[MAX_DIM], norm = 0.0;
        for (int k = 0; k < d; k++) {
            v[k] = strtod(end, &end);
            norm += v[k] * v[k];
        }
        norm = sqrt(norm);
        // The dump has 6 decimals: normalise again, as the gallery does on the way in.
        for (int k = 0; k < d; k++) {
            p[n].v[k] = norm > 0 ? (float)(v[k] / norm) : 0.0f;
        }
        if (!(norm > 0)) {
            die("a zero template");
        }
        n++;
    }
    free(names);
    *n_photos = n;
    *n_people = people;
    return p;
}

static float dot(const float *a, const float *b, int d)
{
    double s = 0.0;
    for (int k = 0; k < d; k++) {
        s += (double)a[k] * b[k];
    }
    return (float)s;
}

// ---- label errors ----

// Pairs labelled as two people that show one person, found by looking at the highest impostor
// scores (docs/gallery-decisions.md shows them). number 0 = every photo of that name. They stay
// in the data the calibration is fitted on (as labelled, which only thickens the tail); the
// validation also counts without them, since they are not impostor comparisons at all.
static const struct {
    const char *a;
    int a_number;
    const char *b;
    int b_number;
} LABEL_ERRORS[] = {
    {"Carlos_Beltran", 1, "Raul_Ibanez", 1},      // the same photo under two names
    {"Carlos_Ruckauf", 1, "Eduardo_Duhalde", 0},  // this "Ruckauf" photo shows Duhalde
    {"Chyung_Dai-chul", 0, "Dai_Chul_Chyung", 0}, // one man, two spellings
    {"Talisa_Bratt", 0, "Talisa_Soto", 0},        // one woman, married and maiden name
};
enum { N_LABEL_ERRORS = sizeof LABEL_ERRORS / sizeof LABEL_ERRORS[0] };

// Bit 2r: the photo is on side a of rule r; bit 2r + 1: side b.
static unsigned label_mask(const photo_t *p)
{
    unsigned m = 0;
    int num = atoi(p->number);
    for (int r = 0; r < N_LABEL_ERRORS; r++) {
        if (strcmp(p->name, LABEL_ERRORS[r].a) == 0 &&
            (LABEL_ERRORS[r].a_number == 0 || LABEL_ERRORS[r].a_number == num)) {
            m |= 1u << (2 * r);
        }
        if (strcmp(p->name, LABEL_ERRORS[r].b) == 0 &&
            (LABEL_ERRORS[r].b_number == 0 || LABEL_ERRORS[r].b_number == num)) {
            m |= 2u << (2 * r);
        }
    }
    return m;
}

static int same_person_mislabelled(unsigned mi, unsigned mj)
{
    const unsigned side_a = 0x55555555u;
    return (((mi & side_a) << 1) & mj) || (((mj & side_a) << 1) & mi);
}

// ---- reports ----

static void print_cal(const char *what, double tail, const cw_gallery_calibration_t *c)
{
    double end = c->xi < 0 ? c->u + c->sigma / -c->xi : INFINITY;
    printf("| %s | %g | %.4f | %.4g (%llu) | %+.4f | %.5f | %.3f |\n", what, tail, c->u, c->p_u,
           (unsigned long long)llround(c->p_u * (double)c->n_impostor), c->xi, c->sigma, end);
}

// Predicted against empirical FMR on a test set, at thresholds where the test set (as labelled)
// has empirical FMR 1e-3 .. 1e-7, and at its highest score; the pairs above are counted as
// labelled and without the label errors.
static void validate(const char *title, const cw_gallery_calibration_t *cal, const scores_t *test,
                     const scores_t *clean)
{
    static const double levels[] = {1e-3, 1e-4, 1e-5, 1e-6, 1e-7};
    printf("\n%s: %zu test pairs (%zu without label errors)\n\n", title, test->n, clean->n);
    printf("| empirical FMR | threshold | pairs above | predicted | predicted / empirical | "
           "pairs above, label errors removed | predicted / empirical |\n"
           "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        size_t c = (size_t)llround(levels[i] * (double)test->n);
        if (c < 1) {
            printf("| %.0e | | (less than one pair) | | | | |\n", levels[i]);
            continue;
        }
        double t = threshold_with_count(test, c);
        size_t cc = count_above(clean, t);
        double pred = cw_gallery_fmr(cal, t) * (double)test->n;
        double pred_c = cw_gallery_fmr(cal, t) * (double)clean->n;
        printf("| %.0e | %.4f | %zu | %.1f | %.2f | %zu | ", levels[i], t, c, pred,
               pred / (double)c, cc);
        if (cc > 0) {
            printf("%.2f |\n", pred_c / (double)cc);
        } else {
            printf("(none above) |\n");
        }
    }
    double t = test->s[test->n - 1], tc = clean->s[clean->n - 1];
    printf("| highest | %.4f | 0 | %.3f | | highest %.4f: %.3f predicted above | |\n", t,
           cw_gallery_fmr(cal, t) * (double)test->n, tc,
           cw_gallery_fmr(cal, tc) * (double)clean->n);
}

// P(impostor score >= x): the fit above u, the empirical distribution below it.
static double fmr_hybrid(const cw_gallery_calibration_t *cal, const scores_t *imp, double x)
{
    if (x > cal->u) {
        return cw_gallery_fmr(cal, x);
    }
    return (double)count_at_or_above(imp, x) / (double)imp->n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The q-quantile of v[0..n) by nearest rank (sorts v); no interpolation, so a threshold that
// is "never" (2.0) is never averaged with a real one.
static double quantile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[(int)lround(q * (n - 1))];
}

// A threshold for a table: "never" above a cosine of 1.
static const char *thr(char *buf, size_t len, double t)
{
    if (t > 1.0) {
        snprintf(buf, len, "never");
    } else {
        snprintf(buf, len, "%.4f", t);
    }
    return buf;
}

enum { N_SIZES = 6, N_TARGETS = 2, BOOT = 200 };
static const double TARGETS[N_TARGETS] = {1e-3, 1e-2};

static uint64_t gallery_size(int e)
{
    uint64_t bn = 1;
    for (int k = 0; k < e + 2; k++) {
        bn *= 10;
    }
    return bn;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: calibrate_face DUMP.tsv [BOOTSTRAP_REPLICATES]\n");
        return 2;
    }
    int n_boot = argc > 2 ? atoi(argv[2]) : BOOT;
    char *text = read_file(argv[1]);
    int n, people, d;
    photo_t *p = parse(text, &n, &people, &d); // p points into text: freed at the end
    unsigned *mask = calloc((size_t)n, sizeof *mask);
    for (int i = 0; i < n; i++) {
        mask[i] = label_mask(&p[i]);
    }

    // Every pair once (kept in order for the bootstrap). Identities split for the held-out
    // checks: even/odd person index, and one quarter (index % 4 == 0) against the other three.
    size_t n_pairs = (size_t)n * (size_t)(n - 1) / 2, k = 0;
    float *pair = malloc(n_pairs * sizeof *pair);
    scores_t all = {0}, allc = {0}, gen = {0}, even = {0}, evenc = {0}, odd = {0}, oddc = {0};
    scores_t q0 = {0}, q123 = {0}, q123c = {0};
    size_t missing = 0;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            int same = p[i].person == p[j].person;
            float s = -2.0f; // a failure to acquire rejects the pair
            if (!p[i].found || !p[j].found) {
                missing++;
            } else {
                s = dot(p[i].v, p[j].v, d);
            }
            pair[k++] = s;
            if (same) {
                push(&gen, s);
                continue;
            }
            if (s < -1.5f) {
                continue;
            }
            int err = same_person_mislabelled(mask[i], mask[j]);
            int a = p[i].person, b = p[j].person;
            push(&all, s);
            if (!err) {
                push(&allc, s);
            }
            if (a % 2 == 0 && b % 2 == 0) {
                push(&even, s);
                if (!err) {
                    push(&evenc, s);
                }
            } else if (a % 2 == 1 && b % 2 == 1) {
                push(&odd, s);
                if (!err) {
                    push(&oddc, s);
                }
            }
            if (a % 4 == 0 && b % 4 == 0) {
                push(&q0, s);
            } else if (a % 4 != 0 && b % 4 != 0) {
                push(&q123, s);
                if (!err) {
                    push(&q123c, s);
                }
            }
        }
    }
    printf("# calibrate_face %s\n\n%d photos of %d people, %d-d; %zu impostor pairs (%zu of them "
           "label errors), %zu genuine pairs; %zu pairs with a photo without a face\n",
           argv[1], n, people, d, all.n, all.n - allc.n, gen.n, missing);

    // ---- fits at several tail fractions ----
    static const double tails[] = {1e-2, 3e-3, 1e-3, 3e-4, 1e-4};
    enum { N_TAILS = sizeof tails / sizeof tails[0], BUILTIN_TAIL = 2 };
    cw_gallery_calibration_t fits[N_TAILS];
    printf("\n## Fits\n\n| impostor pairs | tail fraction | u | p_u (excesses) | xi | sigma | "
           "upper end point |\n|---|---|---|---|---|---|---|\n");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N_TAILS; i++) {
            cw_gallery_calibration_t c;
            const scores_t *set = pass == 0 ? &all : &allc;
            int rc = cw_gallery_calibrate(set->s, set->n, tails[i], &c);
            if (rc) {
                printf("| %s | %g | fit failed: %s |\n", pass ? "no label errors" : "all", tails[i],
                       cw_err_name(rc));
                die("a fit failed");
            }
            print_cal(pass == 0 ? "as labelled" : "label errors removed", tails[i], &c);
            if (pass == 0) {
                fits[i] = c;
            }
        }
    }
    cw_gallery_calibration_t cal = fits[BUILTIN_TAIL];
    cal.model_id = 1;
    cal.model_version = 1;
    printf("\nConstants for decide.c (impostor pairs as labelled, tail fraction %g):\n\n```c\n"
           "{CW_FACE_MODEL_MOBILEFACENET, 1, %.17g, %.17g, %.17g, %.17g, %llu}\n```\n",
           tails[BUILTIN_TAIL], cal.u, cal.p_u, cal.xi, cal.sigma,
           (unsigned long long)cal.n_impostor);
    cw_gallery_calibration_t builtin;
    if (cw_gallery_calibration_for(1, 1, 1, &builtin) == 0 && builtin.sigma > 0) {
        int same = builtin.u == cal.u && builtin.p_u == cal.p_u && builtin.xi == cal.xi &&
                   builtin.sigma == cal.sigma && builtin.n_impostor == cal.n_impostor;
        printf("\nThe built-in calibration of decide.c %s this run.\n",
               same ? "is identical to" : "DIFFERS FROM");
    } else {
        builtin = cal;
        printf("\ndecide.c has no built-in calibration yet: the tables below use this run.\n");
    }

    // Which estimator did the work: each one alone on the same excesses. PWM is computed here
    // too without the library's support check, to show what it would have said.
    sort_scores(&all);
    sort_scores(&allc);
    {
        size_t m = count_above(&all, cal.u);
        double *y = malloc(m * sizeof *y), a0 = 0, a1 = 0;
        for (size_t i = 0; i < m; i++) {
            y[i] = (double)all.s[all.n - m + i] - cal.u;
            a0 += y[i];
            a1 += (1.0 - ((double)i + 0.65) / (double)m) * y[i];
        }
        a0 /= (double)m;
        a1 /= (double)m;
        double xm = 0, sm = 0, xp = 2.0 - a0 / (a0 - 2 * a1), sp = 2 * a0 * a1 / (a0 - 2 * a1);
        int rm = cw__gallery_gpd_fit(y, m, 1, &xm, &sm);
        int rp = cw__gallery_gpd_fit(y, m, 2, &(double){0}, &(double){0});
        printf("\nSame %zu excesses, each estimator alone: maximum likelihood %s (xi %+.4f, sigma "
               "%.5f); probability-weighted moments xi %+.4f, sigma %.5f, upper end point u + "
               "%.3f against a largest excess of %.3f: %s.\n",
               m, rm > 0 ? "converged" : "FAILED", xm, sm, xp, sp, xp < 0 ? sp / -xp : INFINITY,
               y[m - 1], rp > 0 ? "accepted" : "rejected by the support check");
        free(y);
    }

    // ---- the highest impostor pairs ----
    {
        enum { TOP = 30 };
        double floor_score = all.s[all.n - TOP];
        struct {
            float s;
            int i, j;
        } top[TOP + 8];
        int nt = 0;
        k = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++, k++) {
                if (p[i].person != p[j].person && (double)pair[k] >= floor_score && nt < TOP + 8) {
                    top[nt].s = pair[k];
                    top[nt].i = i;
                    top[nt++].j = j;
                }
            }
        }
        for (int a = 1; a < nt; a++) { // insertion sort, best first
            for (int b = a; b > 0 && top[b].s > top[b - 1].s; b--) {
                float ts = top[b].s;
                int ti = top[b].i, tj = top[b].j;
                top[b].s = top[b - 1].s;
                top[b].i = top[b - 1].i;
                top[b].j = top[b - 1].j;
                top[b - 1].s = ts;
                top[b - 1].i = ti;
                top[b - 1].j = tj;
            }
        }
        printf("\n## The %d highest impostor pairs\n\n| score | photo | photo | label error | "
               "FMR of the fit at this score |\n|---|---|---|---|---|\n",
               nt);
        for (int a = 0; a < nt; a++) {
            printf("| %.4f | %s %s | %s %s | %s | %.2g |\n", (double)top[a].s, p[top[a].i].name,
                   p[top[a].i].number, p[top[a].j].name, p[top[a].j].number,
                   same_person_mislabelled(mask[top[a].i], mask[top[a].j]) ? "yes" : "",
                   cw_gallery_fmr(&cal, top[a].s));
        }
    }

    // ---- in-sample and held-out validation ----
    sort_scores(&gen);
    sort_scores(&even);
    sort_scores(&evenc);
    sort_scores(&odd);
    sort_scores(&oddc);
    sort_scores(&q0);
    sort_scores(&q123);
    sort_scores(&q123c);
    printf("\n## Validation: predicted against empirical FMR\n");
    for (int i = 0; i < N_TAILS; i++) {
        char title[128];
        snprintf(title, sizeof title, "### In sample: fit on all pairs, tail fraction %g",
                 tails[i]);
        validate(title, &fits[i], &all, &allc);
    }
    struct {
        const char *fit_name, *test_name;
        scores_t *fit, *test, *test_clean;
    } splits[] = {
        {"of even index", "of odd index", &even, &odd, &oddc},
        {"of odd index", "of even index", &odd, &even, &evenc},
        {"with index % 4 == 0", "of the other three quarters", &q0, &q123, &q123c},
    };
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        cw_gallery_calibration_t c;
        if (cw_gallery_calibrate(splits[s].fit->s, splits[s].fit->n, 1e-3, &c) != 0) {
            die("a held-out fit failed");
        }
        char title[256];
        snprintf(title, sizeof title,
                 "### Held out: fit on the %zu pairs of people %s (tail fraction 1e-3: u %.4f, xi "
                 "%+.4f, sigma %.5f), test on people %s",
                 splits[s].fit->n, splits[s].fit_name, c.u, c.xi, c.sigma, splits[s].test_name);
        validate(title, &c, splits[s].test, splits[s].test_clean);
    }

    // ---- open-set FPIR of a real gallery: each photo against the first photo of everyone
    // else (N = people - 1); a false positive when the best of them passes the threshold ----
    {
        int *first = malloc((size_t)people * sizeof *first);
        for (int i = n - 1; i >= 0; i--) {
            first[p[i].person] = i;
        }
        float *best = malloc((size_t)n * sizeof *best), *bestc = malloc((size_t)n * sizeof *bestc);
        for (int i = 0; i < n; i++) {
            float b = -2.0f, bc = -2.0f;
            for (int q = 0; q < people && p[i].found; q++) {
                if (q != p[i].person && p[first[q]].found) {
                    float s = dot(p[i].v, p[first[q]].v, d);
                    b = s > b ? s : b;
                    if (!same_person_mislabelled(mask[i], mask[first[q]])) {
                        bc = s > bc ? s : bc;
                    }
                }
            }
            best[i] = b;
            bestc[i] = bc;
        }
        uint64_t big_n = (uint64_t)people - 1;
        printf("\n## Open-set check: %d probes, each against a gallery of the other %llu people's "
               "first photos\n\n| target FPIR | threshold | predicted FPIR | probes with a false "
               "positive | empirical FPIR (95%% interval) | label errors removed |\n"
               "|---|---|---|---|---|---|\n",
               n, (unsigned long long)big_n);
        static const double targets[] = {0.3, 0.1, 0.03, 1e-2, 3e-3, 1e-3};
        for (size_t t_i = 0; t_i < sizeof targets / sizeof targets[0]; t_i++) {
            double t = cw_gallery_threshold(&builtin, big_n, targets[t_i]);
            size_t fp = 0, fpc = 0;
            for (int i = 0; i < n; i++) {
                fp += (double)best[i] >= t;
                fpc += (double)bestc[i] >= t;
            }
            double lo, hi, loc, hic;
            poisson_ci((double)fp, &lo, &hi);
            poisson_ci((double)fpc, &loc, &hic);
            printf("| %g | %.4f | %.3g | %zu | %.2g (%.2g .. %.2g) | %zu: %.2g (%.2g .. %.2g) |\n",
                   targets[t_i], t, fpir_of(cw_gallery_fmr(&builtin, t), big_n), fp, (double)fp / n,
                   lo / n, hi / n, fpc, (double)fpc / n, loc / n, hic / n);
        }
        free(best);
        free(bestc);
        free(first);
    }

    // ---- end to end through cw_gallery_decide: each person's first photo enrolled (id = the
    // person), every other photo searched (mated), and every photo searched against the others'
    // first photos (non-mated, as in the open-set check), top 2 ----
    {
        int *first = malloc((size_t)people * sizeof *first);
        for (int i = n - 1; i >= 0; i--) {
            first[p[i].person] = i;
        }
        static const double margins_e2e[] = {0.0, 0.03, 0.05, 0.1};
        enum { N_M = sizeof margins_e2e / sizeof margins_e2e[0] };
        // [target][margin][verdict]; verdict 4 = MATCH of the wrong person
        size_t mated[N_TARGETS][N_M][5], nonmated[N_TARGETS][N_M][5];
        memset(mated, 0, sizeof mated);
        memset(nonmated, 0, sizeof nonmated);
        size_t n_mated = 0, n_nonmated = 0;
        for (int i = 0; i < n; i++) {
            if (!p[i].found) {
                continue;
            }
            for (int pass = 0; pass < 2; pass++) {
                int is_mated = pass == 0;
                if (is_mated && first[p[i].person] == i) {
                    continue; // the enrolled photo itself
                }
                cw_gallery_hit_t h[2] = {{0, -2.0f}, {0, -2.0f}};
                for (int q = 0; q < people; q++) {
                    if ((!is_mated && q == p[i].person) || !p[first[q]].found) {
                        continue;
                    }
                    float sc = dot(p[i].v, p[first[q]].v, d);
                    if (sc > h[0].score) {
                        h[1] = h[0];
                        h[0].id = (uint64_t)q;
                        h[0].score = sc;
                    } else if (sc > h[1].score) {
                        h[1].id = (uint64_t)q;
                        h[1].score = sc;
                    }
                }
                uint64_t gn = (uint64_t)people - (is_mated ? 0 : 1);
                is_mated ? n_mated++ : n_nonmated++;
                for (int ti = 0; ti < N_TARGETS; ti++) {
                    for (int mi = 0; mi < N_M; mi++) {
                        cw_gallery_policy_t pol = {TARGETS[ti], (float)margins_e2e[mi], 0};
                        cw_gallery_decision_t dec;
                        if (cw_gallery_decide(h, 2, gn, &builtin, &pol, &dec) != 0) {
                            die("cw_gallery_decide failed");
                        }
                        int v = (int)dec.verdict;
                        if (dec.verdict == CW_GALLERY_MATCH && dec.id != (uint64_t)p[i].person) {
                            v = 4;
                        }
                        (is_mated ? mated : nonmated)[ti][mi][v]++;
                    }
                }
            }
        }
        printf("\n## End to end through cw_gallery_decide (top 2 of a gallery of each person's "
               "first photo)\n\nMated: %zu searches by the other photos of people with two or "
               "more (N = %d). Non-mated: %zu searches by every photo against the other people "
               "(N = %d).\n\n| target FPIR | margin | mated: MATCH right / wrong | AMBIGUOUS | "
               "NO_MATCH | non-mated: MATCH (false positive) | AMBIGUOUS | NO_MATCH |\n"
               "|---|---|---|---|---|---|---|---|\n",
               n_mated, people, n_nonmated, people - 1);
        for (int ti = 0; ti < N_TARGETS; ti++) {
            for (int mi = 0; mi < N_M; mi++) {
                const size_t *m = mated[ti][mi], *x = nonmated[ti][mi];
                printf("| %g | %g | %.2f%% / %zu | %.2f%% | %.2f%% | %zu (%.2g) | %zu | %zu |\n",
                       TARGETS[ti], margins_e2e[mi], 100.0 * (double)m[1] / (double)n_mated, m[4],
                       100.0 * (double)m[2] / (double)n_mated,
                       100.0 * (double)m[0] / (double)n_mated, x[4],
                       (double)x[4] / (double)n_nonmated, x[2], x[0]);
            }
        }
        free(first);
    }

    // ---- bootstrap over people: how much the thresholds move with the people sampled ----
    double *boot_xi = malloc((size_t)n_boot * sizeof *boot_xi);
    double *boot_t = malloc((size_t)n_boot * N_TARGETS * N_SIZES * sizeof *boot_t);
    if (n_boot > 0) {
        int *w = malloc((size_t)people * sizeof *w);
        scores_t rep = {0};
        for (int b = 0; b < n_boot; b++) {
            memset(w, 0, (size_t)people * sizeof *w);
            for (int q = 0; q < people; q++) {
                w[xorshift64() % (uint64_t)people]++;
            }
            rep.n = 0;
            k = 0;
            for (int i = 0; i < n; i++) {
                int wi = w[p[i].person];
                for (int j = i + 1; j < n; j++, k++) {
                    // A pair of two people drawn wi and wj times stands for wi * wj pairs.
                    if (wi && p[i].person != p[j].person && pair[k] > -1.5f) {
                        for (int r = wi * w[p[j].person]; r > 0; r--) {
                            push(&rep, pair[k]);
                        }
                    }
                }
            }
            cw_gallery_calibration_t c;
            if (cw_gallery_calibrate(rep.s, rep.n, 1e-3, &c) != 0) {
                die("a bootstrap fit failed");
            }
            boot_xi[b] = c.xi;
            for (int ti = 0; ti < N_TARGETS; ti++) {
                for (int e = 0; e < N_SIZES; e++) {
                    boot_t[((size_t)ti * N_SIZES + e) * n_boot + b] =
                        cw_gallery_threshold(&c, gallery_size(e), TARGETS[ti]);
                }
            }
        }
        free(rep.s);
        free(w);
        printf("\n## Bootstrap over people (%d replicates, tail fraction 1e-3)\n\nxi: 5%% %+.4f, "
               "median %+.4f, 95%% %+.4f\n",
               n_boot, quantile(boot_xi, n_boot, 0.05), quantile(boot_xi, n_boot, 0.5),
               quantile(boot_xi, n_boot, 0.95));
    }

    // ---- thresholds by gallery size, and what they accept ----
    static const double margins[] = {0.0, 0.03, 0.05};
    for (int ti = 0; ti < N_TARGETS; ti++) {
        printf("\n## Target FPIR %g\n\n| N | threshold | FMR per comparison | bootstrap 90%% "
               "interval | impostor pairs above (label errors removed) | genuine pairs accepted "
               "(of %zu) | at the bootstrap 95%% threshold | enrolled traveller gets MATCH, "
               "margin 0 / 0.03 / 0.05 |\n|---|---|---|---|---|---|---|---|\n",
               TARGETS[ti], gen.n);
        for (int e = 0; e < N_SIZES; e++) {
            uint64_t bn = gallery_size(e);
            double t = cw_gallery_threshold(&builtin, bn, TARGETS[ti]);
            double lo = NAN, hi = NAN;
            if (n_boot > 0) {
                double *col = boot_t + ((size_t)ti * N_SIZES + e) * n_boot;
                lo = quantile(col, n_boot, 0.05);
                hi = quantile(col, n_boot, 0.95);
            }
            size_t ia = count_at_or_above(&all, t), iac = count_at_or_above(&allc, t);
            size_t ga = count_at_or_above(&gen, t), gah = count_at_or_above(&gen, hi);
            // An enrolled traveller with genuine score s gets MATCH when s passes and none of the
            // other N - 1 rows reaches min(t, s - margin): under the independence the FPIR
            // formula assumes, (1 - F(min(t, s - margin)))^(N - 1), F the impostor tail.
            double match[3] = {0, 0, 0};
            for (size_t g = gen.n - ga; g < gen.n; g++) {
                double s = gen.s[g];
                for (int mi = 0; mi < 3; mi++) {
                    double x = s - margins[mi] < t ? s - margins[mi] : t;
                    match[mi] += 1.0 - fpir_of(fmr_hybrid(&builtin, &all, x), bn - 1);
                }
            }
            char b1[32], b2[32], b3[32];
            printf("| 10^%d | %s | %.3g | %s .. %s | %zu (%zu) | %.2f%% (%zu) | %.2f%% | "
                   "%.2f%% / %.2f%% / %.2f%% |\n",
                   e + 2, thr(b1, sizeof b1, t), cw_gallery_fmr(&builtin, t),
                   thr(b2, sizeof b2, lo), thr(b3, sizeof b3, hi), ia, iac,
                   100.0 * (double)ga / (double)gen.n, ga, 100.0 * (double)gah / (double)gen.n,
                   100.0 * match[0] / (double)gen.n, 100.0 * match[1] / (double)gen.n,
                   100.0 * match[2] / (double)gen.n);
        }
    }
    for (int i = 0; i < n; i++) {
        free(p[i].v);
    }
    free(boot_xi);
    free(boot_t);
    free(p);
    free(mask);
    free(pair);
    free(text);
    scores_t *sets[] = {&all, &allc, &gen, &even, &evenc, &odd, &oddc, &q0, &q123, &q123c};
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        free(sets[s]->s);
    }
    return 0;
}
