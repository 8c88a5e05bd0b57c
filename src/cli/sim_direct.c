// SPDX-License-Identifier: Apache-2.0
// `clearway sim direct`: the direct scale experiment (issue 9). The development faces, as
// embedded by `clearway eval face --dump`, are split into two halves of people by a stable hash
// of the name. Each person of the enrolled half has the first photo with a face enrolled; their
// other photos are the mated probes, and every photo of the other half is a non-mated probe.
// Around the enrolled rows, one gallery (the real exact search, gallery.h) grows with synthetic
// distractor templates drawn from a model fitted to the enrolled rows only (distractor.h) to
// each size asked for; at each size every probe is searched and decided with the threshold that
// follows the gallery size (cw_gallery_decide), giving measured FPIR and FNIR beside the
// predicted ones, and the search time. Before that, the distractor model is checked: the
// impostor scores of the non-mated probes against synthetic rows are compared with those against
// the real enrolled rows (thresholds at fixed FMR, Kolmogorov-Smirnov distance, GPD tail fits).
#include "cli.h"
#include "distractor.h"

#include "clearway/clearway.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char cw_cli_sim_direct_usage[] =
    "Usage: clearway sim direct --dump FILE [--root DIR] [--sizes LIST] [--model M] [options]\n"
    "\n"
    "The direct scale experiment: real faces enrolled among synthetic distractors, searched\n"
    "with the real gallery search at each gallery size; measured FPIR and FNIR.\n"
    "\n"
    "FILE: a dump of `clearway eval face --dump` (a '#' header, then per photo: name, number,\n"
    "found, box, landmarks, \"dim v1 .. vdim\", tab-separated). If FILE does not exist, the\n"
    "photos under DIR (default $CLEARWAY_DATA/faces/lfw-dev, CLEARWAY_DATA defaulting to\n"
    "../shared/data) are embedded by `clearway eval face` (which prints its report) into FILE.\n"
    "\n"
    "Protocol: people are split in two halves by a hash of their name. Enrolled half: each\n"
    "person's first photo with a face is enrolled, the other photos are mated probes. Every\n"
    "photo of the other half is a non-mated probe. The distractor model is fitted to the\n"
    "enrolled rows only (one per person): nothing of the non-mated probes leaks in.\n"
    "\n"
    "Distractor models (--model); samples are L2-normalised:\n"
    "  gaussian   the enrolled rows' mean and full covariance (Cholesky, ridge 1e-6)\n"
    "  mixture    k-means into --clusters (32) components around the centres, with the\n"
    "             pooled within-cluster covariance\n"
    "  inflated   the Gaussian, its covariance scaled so that the synthetic impostor scores\n"
    "             match the real ones at FMR 1e-3\n"
    "  t          a multivariate Student t (Gaussian mean and covariance), degrees of freedom\n"
    "             chosen to match the real thresholds at FMR 1e-3 .. 1e-5\n"
    "  auto       (default) all four are checked; the one whose thresholds at FMR 1e-3, 1e-4\n"
    "             and 1e-5 lie closest to the real ones is used\n"
    "The check: the non-mated probes' scores against the real enrolled rows and against\n"
    "10,000 synthetic rows (thresholds, Kolmogorov-Smirnov distance, GPD tail fits).\n"
    "\n"
    "Then one gallery of capacity max(LIST) grows: the enrolled rows, then synthetic rows up to\n"
    "each size (progress on stderr). At each size every probe is searched (batches of 64, top\n"
    "10) and decided by cw_gallery_decide. Per size: the threshold; mated MATCH right / wrong /\n"
    "AMBIGUOUS / NO_MATCH, FNIR = 1 - right share, rank-1, rank-10; non-mated false MATCH\n"
    "(FPIR) and AMBIGUOUS, 95% Wilson intervals; the predicted FPIR; the FPIR at the smallest\n"
    "size's threshold; the median best non-mated score; ms per probe (batched) and single p50;\n"
    "gallery memory and build time. A Markdown report on stdout.\n"
    "\n"
    "Options:\n"
    "  --sizes LIST        increasing sizes, k/M suffixes (default 10k,100k,1M,10M), each at\n"
    "                      least the enrolled count\n"
    "  --model M           gaussian, mixture, inflated, t or auto (default auto)\n"
    "  --clusters K        mixture components (default 32)\n"
    "  --target-fpir F     the decision's target FPIR (default 1e-3)\n"
    "  --margin M          the decision's ambiguity margin (default 0.05)\n"
    "  --calibration C     builtin (default; docs/gallery-decisions.md) or enrolled (fitted to\n"
    "                      the enrolled half's impostor pairs, tail 1e-3 or 150 scores)\n"
    "  --embedder E        mobilefacenet (default) or fused: the model that made the dump\n"
    "  --no-flip           the dump's templates are not flip-averaged\n"
    "  --threads N         search and generation threads (default 2)\n"
    "  --seed S            the distractor stream's seed (default 1)\n"
    "  --json OUT          the whole report as JSON\n"
    "  --scores OUT        per size, the non-mated probes' best scores, and the mated probes'\n"
    "                      mate scores (size, kind, probe, score)\n"
    "\n"
    "The gallery's memory (docs/gallery-search.md's per-row costs) is checked against\n"
    "MemAvailable first. Exit status: 0, 1 on failure (missing or malformed data, not enough\n"
    "memory), 2 bad command line.\n";

enum {
    K_HITS = 10,
    BATCH = 64,
    CHECK_ROWS = 10000,  /* synthetic rows the model check scores against */
    GEN_CHUNK = 1 << 16, /* rows generated per round before they are added */
    GEN_BLOCK = 1024,    /* rows per generation task */
    SINGLE_PROBES = 21,  /* single-query timings per size */
    SCORE_BINS = 200001, /* histogram of cosine scores over [-1, 1], 1e-5 wide */
    MAX_SIZES = 16,
    MAX_LISTED = 20, /* false matches listed per size */
};

/* Gallery ids: the enrolled rows are 1 .. E, the synthetic ones from here on. */
#define SYNTH_ID ((uint64_t)1 << 40)

static const double FMRS[] = {1e-2, 1e-3, 1e-4, 1e-5};
enum { N_FMRS = sizeof(FMRS) / sizeof(FMRS[0]) };

typedef enum model_kind {
    MODEL_GAUSSIAN,
    MODEL_MIXTURE,
    MODEL_INFLATED,
    MODEL_T,
    MODEL_AUTO
} model_kind_t;
static const char *const MODEL_NAMES[] = {"gaussian", "mixture", "inflated", "t", "auto"};
enum { N_MODELS = 4 };

typedef struct opts {
    const char *dump, *root, *json, *scores;
    size_t sizes[MAX_SIZES];
    int n_sizes;
    model_kind_t model;
    int clusters, threads, calib_enrolled, no_flip;
    cw_face_embedder_t embedder;
    double target, margin;
    uint64_t seed;
} opts_t;

typedef struct photo {
    int person;
    int number;
    int found;
    size_t line;
} photo_t;

typedef struct dump {
    char **names; /* per person, sorted */
    size_t n_people;
    photo_t *ph;
    float *vec; /* n x dim; zero rows for photos without a face */
    size_t n;
    uint32_t dim;
} dump_t;

/* One side of the model check: scores' histogram, thresholds, and the GPD tail. */
typedef struct dist {
    uint64_t *hist;
    size_t n;
    double thr[N_FMRS];
    cw_gallery_calibration_t gpd;
    int gpd_rc;
} dist_t;

typedef struct check {
    dist_t synth;
    double ks;
    double scale; /* the model's covariance scale */
    double err;   /* max |threshold difference| at FMR 1e-3 .. 1e-5 */
} check_t;

typedef struct result {
    size_t n;
    double threshold, predicted, build_s, search_ms, single_p50_ms;
    size_t right, wrong, ambig, none, rank1, rank10;
    size_t fp, fp_ambig, fp_fixed;
    size_t fp_synth, fixed_synth; /* of those, with a synthetic row as the best hit */
    double predicted_fixed;       /* the calibration's FPIR at the fixed threshold and this N */
    double median_nonmated;
    size_t scan_bytes, float_bytes;
    double mem_bytes; /* for N rows */
    struct {
        size_t probe; /* index into split_t.probes */
        uint64_t id;
        float score;
    } fm[MAX_LISTED]; /* the first false MATCHes of non-mated probes */
    size_t n_fm;
} result_t;

static int fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clearway sim direct: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CW_EXIT_FAIL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the command line ---- */

/* "10k", "1M", "2500" -> count; -1 if malformed. */
static long long parse_count(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !(v >= 1)) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        v *= 1e3, end++;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1e6, end++;
    }
    if (*end != '\0' || v > 1e9 || v != floor(v)) {
        return -1;
    }
    return (long long)v;
}

static int parse_sizes(const char *s, opts_t *o)
{
    char buf[256];
    if (strlen(s) >= sizeof(buf)) {
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", s);
    o->n_sizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        long long v = parse_count(tok);
        if (v < 0 || o->n_sizes == MAX_SIZES ||
            (o->n_sizes > 0 && (size_t)v <= o->sizes[o->n_sizes - 1])) {
            return -1;
        }
        o->sizes[o->n_sizes++] = (size_t)v;
    }
    return o->n_sizes > 0 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static char root[1100];
    const char *data = getenv("CLEARWAY_DATA");
    snprintf(root, sizeof(root), "%s/faces/lfw-dev", data != NULL ? data : "../shared/data");
    memset(o, 0, sizeof(*o));
    o->root = root;
    o->model = MODEL_AUTO;
    o->clusters = 32;
    o->threads = 2;
    o->target = 1e-3;
    o->margin = 0.05;
    o->seed = 1;
    parse_sizes("10k,100k,1M,10M", o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int flag = strcmp(a, "--no-flip") == 0;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!flag && v == NULL) {
            return cw_cli_usage_error("sim", "%s needs a value", a);
        }
        char *end = NULL;
        if (flag) {
            o->no_flip = 1;
            continue;
        }
        i++;
        if (strcmp(a, "--dump") == 0) {
            o->dump = v;
        } else if (strcmp(a, "--root") == 0) {
            o->root = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json = v;
        } else if (strcmp(a, "--scores") == 0) {
            o->scores = v;
        } else if (strcmp(a, "--sizes") == 0) {
            if (parse_sizes(v, o) != 0) {
                return cw_cli_usage_error("sim", "--sizes wants increasing counts like "
                                                 "10k,100k,1M (at most 16, each at most 1000M)");
            }
        } else if (strcmp(a, "--model") == 0) {
            o->model = MODEL_AUTO + 1;
            for (int m = 0; m <= MODEL_AUTO; m++) {
                if (strcmp(v, MODEL_NAMES[m]) == 0) {
                    o->model = (model_kind_t)m;
                }
            }
            if (o->model > MODEL_AUTO) {
                return cw_cli_usage_error("sim", "--model must be gaussian, mixture, inflated, t "
                                                 "or auto");
            }
        } else if (strcmp(a, "--clusters") == 0) {
            long n = 0;
            if (cw_cli_long_arg("sim", a, v, 2, 1024, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            o->clusters = (int)n;
        } else if (strcmp(a, "--threads") == 0) {
            long n = 0;
            if (cw_cli_long_arg("sim", a, v, 1, 64, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            o->threads = (int)n;
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = strtoull(v, &end, 10);
            if (*end != '\0') {
                return cw_cli_usage_error("sim", "--seed must be a number");
            }
        } else if (strcmp(a, "--target-fpir") == 0) {
            if (cw_cli_real_arg("sim", a, v, 0, 0.5, 1, &o->target) != 0) {
                return CW_EXIT_USAGE;
            }
        } else if (strcmp(a, "--margin") == 0) {
            o->margin = strtod(v, &end);
            if (*end != '\0' || !(o->margin >= 0 && o->margin < 2)) {
                return cw_cli_usage_error("sim", "--margin must be in [0, 2)");
            }
        } else if (strcmp(a, "--calibration") == 0) {
            if (strcmp(v, "builtin") != 0 && strcmp(v, "enrolled") != 0) {
                return cw_cli_usage_error("sim", "--calibration must be builtin or enrolled");
            }
            o->calib_enrolled = strcmp(v, "enrolled") == 0;
        } else if (strcmp(a, "--embedder") == 0) {
            if (strcmp(v, "mobilefacenet") == 0) {
                o->embedder = CW_FACE_EMBEDDER_MOBILEFACENET;
            } else if (strcmp(v, "fused") == 0) {
                o->embedder = CW_FACE_EMBEDDER_FUSED;
            } else {
                return cw_cli_usage_error("sim", "--embedder must be mobilefacenet or fused");
            }
        } else {
            return cw_cli_usage_error("sim", "unknown argument '%s'", a);
        }
    }
    if (o->dump == NULL) {
        return cw_cli_usage_error("sim", "--dump FILE is required (read if it exists, else "
                                         "written from the photos under --root)");
    }
    return 0;
}

/* ---- the dump ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump_free(dump_t *d)
{
    for (size_t i = 0; i < d->n_people; i++) {
        free(d->names[i]);
    }
    free(d->names);
    free(d->ph);
    if (d->vec != NULL) {
        cw_free_wipe(d->vec, d->n * d->dim * sizeof(float));
    }
    memset(d, 0, sizeof(*d));
}

/* The next tab-separated field of *s (NUL-terminated in place), or NULL at the end. */
static char *field(char **s)
{
    if (*s == NULL) {
        return NULL;
    }
    char *f = *s;
    char *tab = strchr(f, '\t');
    if (tab != NULL) {
        *tab = '\0';
        *s = tab + 1;
    } else {
        *s = NULL;
    }
    return f;
}

static int read_dump(const char *path, dump_t *d)
{
    memset(d, 0, sizeof(*d));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return fail("cannot open %s: %s", path, strerror(errno));
    }
    char *line = NULL, **names = NULL;
    size_t line_cap = 0, cap = 0, vcap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        char *s = line;
        char *name = field(&s), *num = field(&s), *found = field(&s);
        char *box = field(&s), *lm = field(&s), *vec = field(&s);
        char *end;
        long number = num != NULL ? strtol(num, &end, 10) : -1;
        if (vec == NULL || s != NULL || name[0] == '\0' || *end != '\0' || number < 0 ||
            (strcmp(found, "0") != 0 && strcmp(found, "1") != 0) || box == NULL || lm == NULL) {
            rc = fail("%s:%zu: expected name, number, found (0/1), box, landmarks and \"dim "
                      "v1 .. vdim\", tab-separated",
                      path, lineno);
            break;
        }
        long dim = strtol(vec, &end, 10);
        int ok = found[0] == '1';
        if (end == vec || (ok && (dim < CW_GALLERY_MIN_DIM || dim > CW_GALLERY_MAX_DIM)) ||
            (!ok && dim != 0)) {
            rc = fail("%s:%zu: template dimension %s (want 0 without a face, %d..%d with one)",
                      path, lineno, vec, CW_GALLERY_MIN_DIM, CW_GALLERY_MAX_DIM);
            break;
        }
        if (ok && d->dim != 0 && (uint32_t)dim != d->dim) {
            rc = fail("%s:%zu: dimension %ld differs from the earlier lines' %u", path, lineno, dim,
                      d->dim);
            break;
        }
        if (ok && d->dim == 0) {
            d->dim = (uint32_t)dim;
            // Earlier photos without a face get zero rows of this width.
            vcap = d->n + 1024;
            d->vec = cw_calloc(vcap, d->dim * sizeof(float));
            if (d->vec == NULL) {
                rc = fail("out of memory");
                break;
            }
        }
        if (d->n == cap) {
            cap = cap ? 2 * cap : 4096;
            photo_t *p = realloc(d->ph, cap * sizeof(*p));
            char **nm = realloc(names, cap * sizeof(*nm));
            if (p == NULL || nm == NULL) {
                free(p != NULL ? p : d->ph);
                d->ph = NULL;
                names = nm != NULL ? nm : names;
                rc = fail("out of memory");
                break;
            }
            d->ph = p;
            names = nm;
        }
        if (d->dim != 0 && d->n == vcap) {
            float *nv = cw_reallocarray(d->vec, 2 * vcap, d->dim * sizeof(float));
            if (nv == NULL) {
                rc = fail("out of memory");
                break;
            }
            memset(nv + vcap * d->dim, 0, vcap * d->dim * sizeof(float));
            d->vec = nv;
            vcap *= 2;
        }
        char *p = end;
        for (long k = 0; ok && k < dim; k++) {
            float x = strtof(p, &end);
            if (end == p || !isfinite(x)) {
                rc = fail("%s:%zu: template value %ld of %ld is missing or not a number", path,
                          lineno, k + 1, dim);
                break;
            }
            d->vec[d->n * d->dim + (size_t)k] = x;
            p = end;
        }
        while (rc == 0 && (*p == ' ' || *p == '\r')) {
            p++;
        }
        if (rc == 0 && *p != '\0') {
            rc = fail("%s:%zu: more than %ld template values", path, lineno, dim);
        }
        if (rc != 0) {
            break;
        }
        names[d->n] = strdup(name);
        d->ph[d->n] = (photo_t){-1, (int)number, ok, lineno};
        d->n++;
    }
    free(line);
    if (rc == 0 && ferror(f)) {
        rc = fail("cannot read %s", path);
    }
    fclose(f);
    if (rc == 0 && (d->n == 0 || d->dim == 0)) {
        rc = fail("%s holds no photo with a face", path);
    }
    if (rc == 0) {
        // People: the sorted distinct names.
        d->names = malloc(d->n * sizeof(char *));
        char **sorted = malloc(d->n * sizeof(char *));
        if (d->names == NULL || sorted == NULL) {
            free(sorted);
            rc = fail("out of memory");
        } else {
            memcpy(sorted, names, d->n * sizeof(char *));
            qsort(sorted, d->n, sizeof(char *), cmp_str);
            for (size_t i = 0; i < d->n; i++) {
                if (d->n_people == 0 || strcmp(sorted[i], d->names[d->n_people - 1]) != 0) {
                    d->names[d->n_people++] = strdup(sorted[i]);
                }
            }
            free(sorted);
            for (size_t i = 0; i < d->n; i++) {
                char **hit = bsearch(&names[i], d->names, d->n_people, sizeof(char *), cmp_str);
                d->ph[i].person = (int)(hit - d->names);
            }
        }
    }
    for (size_t i = 0; names != NULL && i < d->n; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The dump from the photos under root, by `clearway eval face` itself (no pairs to score). */
static int embed_root(const opts_t *o)
{
    struct stat sb;
    if (stat(o->root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return fail("no dump at %s and no photos at %s to make one from (set CLEARWAY_DATA or "
                    "--root; see ../shared/data/README.md)",
                    o->dump, o->root);
    }
    fprintf(stderr, "no dump at %s: embedding the photos under %s\n", o->dump, o->root);
    char threads[16];
    snprintf(threads, sizeof(threads), "%d", o->threads);
    char *argv[16] = {"eval",      "face",   "--root",        (char *)o->root, "--pairs",
                      "/dev/null", "--dump", (char *)o->dump, "--threads",     threads};
    int argc = 10;
    if (o->no_flip) {
        argv[argc++] = "--no-flip";
    }
    if (o->embedder == CW_FACE_EMBEDDER_FUSED) {
        argv[argc++] = "--embedder";
        argv[argc++] = "fused";
    }
    return cw_cmd_eval.run(argc, argv) == 0 ? 0
                                            : fail("embedding the photos under %s failed", o->root);
}

/* ---- the protocol ---- */

typedef struct split {
    size_t n_enrolled;
    float *enrolled;      /* n_enrolled x dim, normalised */
    int *enrolled_of;     /* per person: row index of their enrolled photo, or -1 */
    int *enrolled_person; /* per enrolled row: the person */
    size_t n_mated, n_nonmated, fta_mated, fta_nonmated;
    float *probes; /* (n_mated + n_nonmated) x dim, normalised; mated first */
    size_t *probe_photo;
    size_t n_half_photos; /* photos with a face of the enrolled half */
    float *half;          /* those, normalised (for --calibration enrolled) */
    int *half_person;
} split_t;

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, then a finaliser so one bit is enough
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void normalised(const float *v, uint32_t d, float *out)
{
    double ss = 0;
    for (uint32_t i = 0; i < d; i++) {
        ss += (double)v[i] * v[i];
    }
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (uint32_t i = 0; i < d; i++) {
        out[i] = v[i] * inv;
    }
}

static void split_free(split_t *s, uint32_t dim)
{
    cw_free_wipe(s->enrolled, s->n_enrolled * dim * sizeof(float));
    cw_free_wipe(s->probes, (s->n_mated + s->n_nonmated) * dim * sizeof(float));
    cw_free_wipe(s->half, s->n_half_photos * dim * sizeof(float));
    free(s->enrolled_of);
    free(s->enrolled_person);
    free(s->probe_photo);
    free(s->half_person);
    memset(s, 0, sizeof(*s));
}

static int make_split(const dump_t *d, split_t *s)
{
    memset(s, 0, sizeof(*s));
    uint32_t dim = d->dim;
    s->enrolled_of = malloc(d->n_people * sizeof(int));
    s->enrolled_person = malloc(d->n_people * sizeof(int));
    int *first = malloc(d->n_people * sizeof(int)); // the enrolled photo of each person
    char *half = malloc(d->n_people);
    s->enrolled = cw_calloc(d->n_people, dim * sizeof(float));
    s->probes = cw_calloc(d->n, dim * sizeof(float));
    s->probe_photo = malloc(d->n * sizeof(size_t));
    s->half = cw_calloc(d->n, dim * sizeof(float));
    s->half_person = malloc(d->n * sizeof(int));
    if (s->enrolled_of == NULL || s->enrolled_person == NULL || first == NULL || half == NULL ||
        s->enrolled == NULL || s->probes == NULL || s->probe_photo == NULL || s->half == NULL ||
        s->half_person == NULL) {
        free(first);
        free(half);
        return fail("out of memory");
    }
    for (size_t p = 0; p < d->n_people; p++) {
        half[p] = (char)(name_hash(d->names[p]) & 1);
        first[p] = -1;
        s->enrolled_of[p] = -1;
    }
    // The first photo (lowest number, then file order) with a face of each enrolled person.
    for (size_t i = 0; i < d->n; i++) {
        int p = d->ph[i].person;
        if (half[p] == 0 && d->ph[i].found &&
            (first[p] < 0 || d->ph[i].number < d->ph[first[p]].number)) {
            first[p] = (int)i;
        }
    }
    for (size_t p = 0; p < d->n_people; p++) {
        if (first[p] >= 0) {
            s->enrolled_of[p] = (int)s->n_enrolled;
            s->enrolled_person[s->n_enrolled] = (int)p;
            normalised(d->vec + (size_t)first[p] * dim, dim, s->enrolled + s->n_enrolled * dim);
            s->n_enrolled++;
        }
    }
    for (int pass = 0; pass < 2; pass++) { // mated probes first, then non-mated
        for (size_t i = 0; i < d->n; i++) {
            int p = d->ph[i].person;
            int mated = half[p] == 0;
            if (mated != (pass == 0) || (mated && (first[p] < 0 || first[p] == (int)i))) {
                continue;
            }
            if (!d->ph[i].found) {
                *(mated ? &s->fta_mated : &s->fta_nonmated) += 1;
                continue;
            }
            size_t q = s->n_mated + s->n_nonmated;
            normalised(d->vec + i * dim, dim, s->probes + q * dim);
            s->probe_photo[q] = i;
            *(mated ? &s->n_mated : &s->n_nonmated) += 1;
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        if (half[d->ph[i].person] == 0 && d->ph[i].found) {
            normalised(d->vec + i * dim, dim, s->half + s->n_half_photos * dim);
            s->half_person[s->n_half_photos++] = d->ph[i].person;
        }
    }
    free(first);
    free(half);
    if (s->n_enrolled < 3 || s->n_nonmated == 0) {
        return fail("too few people: %zu enrolled and %zu non-mated probes", s->n_enrolled,
                    s->n_nonmated);
    }
    return 0;
}

/* ---- scores ---- */

static float dot(const float *restrict a, const float *restrict b, size_t d)
{
    // Eight running sums, size_t indices: the compiler vectorises this without reordering any
    // one sum (with 32-bit indices it must allow for wrap-around and does not).
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        for (size_t l = 0; l < 8; l++) {
            acc[l] += a[i + l] * b[i + l];
        }
    }
    for (; i < d; i++) {
        acc[0] += a[i] * b[i];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

typedef struct score_job {
    const float *probes, *rows;
    size_t n_rows;
    uint32_t dim;
    float *out; /* n_probes x n_rows */
} score_job_t;

static int score_probe(void *ctx, size_t q, int worker)
{
    (void)worker;
    const score_job_t *j = ctx;
    const float *p = j->probes + q * j->dim;
    float *o = j->out + q * j->n_rows;
    for (size_t r = 0; r < j->n_rows; r++) {
        o[r] = dot(p, j->rows + r * j->dim, j->dim);
    }
    return 0;
}

static int bin_of(float s)
{
    long b = lround(((double)s + 1.0) * 1e5);
    return (int)(b < 0 ? 0 : b >= SCORE_BINS ? SCORE_BINS - 1 : b);
}

/* The distribution of n scores: histogram, thresholds at FMRS, GPD tail fit. */
static int describe(const float *scores, size_t n, dist_t *out, int fit_tail)
{
    memset(out, 0, sizeof(*out));
    out->hist = calloc(SCORE_BINS, sizeof(uint64_t));
    if (out->hist == NULL) {
        return CW_ENOMEM;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->hist[bin_of(scores[i])]++;
    }
    for (int f = 0; f < N_FMRS; f++) {
        // The lowest bin edge with at most FMR x n scores at or above it.
        uint64_t allowed = (uint64_t)(FMRS[f] * (double)n), above = 0;
        int b = SCORE_BINS - 1;
        while (b > 0 && above + out->hist[b] <= allowed) {
            above += out->hist[b--];
        }
        out->thr[f] = (b + 1) * 1e-5 - 1.0;
    }
    out->gpd_rc = fit_tail ? cw_gallery_calibrate(scores, n, 1e-3, &out->gpd) : CW_EINVAL;
    return 0;
}

static double ks_distance(const dist_t *a, const dist_t *b)
{
    double ca = 0, cb = 0, worst = 0;
    for (int i = 0; i < SCORE_BINS; i++) {
        ca += (double)a->hist[i] / (double)a->n;
        cb += (double)b->hist[i] / (double)b->n;
        worst = fabs(ca - cb) > worst ? fabs(ca - cb) : worst;
    }
    return worst;
}

/* ---- the run ---- */

typedef struct gen_job {
    const cw_cli_distractor_t *model;
    uint64_t first;
    size_t n;
    float *out;
} gen_job_t;

static int gen_block(void *ctx, size_t b, int worker)
{
    (void)worker;
    const gen_job_t *j = ctx;
    size_t r0 = b * GEN_BLOCK;
    size_t n = j->n - r0 < GEN_BLOCK ? j->n - r0 : GEN_BLOCK;
    cw_cli_distractor_sample(j->model, j->first + r0, n, j->out + r0 * j->model->dim, 1);
    return 0;
}

typedef struct ctx {
    opts_t o;
    dump_t d;
    split_t s;
    cw_pool_t *pool;
    uint32_t dim;
    float *nm_scores; /* non-mated probes x real enrolled rows */
    dist_t real;
    cw_cli_distractor_t models[N_MODELS];
    check_t checks[N_MODELS];
    int have[N_MODELS];
    int chosen;
    cw_gallery_calibration_t cal;
    const char *cal_source;
    result_t res[MAX_SIZES];
    double total_s;
} ctx_t;

/* Scores of the non-mated probes against `rows` synthetic rows of m. */
static int synth_scores(ctx_t *c, const cw_cli_distractor_t *m, size_t rows, float **out)
{
    float *r = cw_calloc(rows, c->dim * sizeof(float));
    float *sc = cw_calloc(c->s.n_nonmated, rows * sizeof(float));
    if (r == NULL || sc == NULL) {
        cw_free(r);
        cw_free(sc);
        return CW_ENOMEM;
    }
    gen_job_t g = {m, 0, rows, r};
    cw_pool_parallel_for(c->pool, (rows + GEN_BLOCK - 1) / GEN_BLOCK, gen_block, &g);
    score_job_t j = {c->s.probes + c->s.n_mated * c->dim, r, rows, c->dim, sc};
    cw_pool_parallel_for(c->pool, c->s.n_nonmated, score_probe, &j);
    cw_free(r);
    *out = sc;
    return 0;
}

static int check_model(ctx_t *c, int k)
{
    float *sc;
    int rc = synth_scores(c, &c->models[k], CHECK_ROWS, &sc);
    if (rc == 0) {
        rc = describe(sc, c->s.n_nonmated * CHECK_ROWS, &c->checks[k].synth, 1);
        cw_free(sc);
    }
    if (rc != 0) {
        return fail("checking the %s model: %s", MODEL_NAMES[k], cw_strerror(rc));
    }
    check_t *ch = &c->checks[k];
    ch->ks = ks_distance(&c->real, &ch->synth);
    ch->scale = c->models[k].scale;
    ch->err = 0;
    for (int f = 1; f < N_FMRS; f++) {
        double e = fabs(ch->synth.thr[f] - c->real.thr[f]);
        ch->err = e > ch->err ? e : ch->err;
    }
    return 0;
}

/* The thresholds at FMRS of m's synthetic scores against the probes (a smaller sample). */
static int synth_thresholds(ctx_t *c, const cw_cli_distractor_t *m, double *thr)
{
    float *sc;
    size_t rows = CHECK_ROWS / 2;
    int rc = synth_scores(c, m, rows, &sc);
    if (rc != 0) {
        return rc;
    }
    dist_t dd;
    rc = describe(sc, c->s.n_nonmated * rows, &dd, 0);
    cw_free(sc);
    memcpy(thr, dd.thr, sizeof(dd.thr));
    free(dd.hist);
    return rc;
}

static int fit_models(ctx_t *c)
{
    int want[N_MODELS];
    for (int k = 0; k < N_MODELS; k++) {
        want[k] = c->o.model == (model_kind_t)k || c->o.model == MODEL_AUTO;
    }
    for (int k = 0; k < N_MODELS; k++) {
        if (!want[k]) {
            continue;
        }
        int comps = k == MODEL_MIXTURE ? c->o.clusters : 1;
        if (k == MODEL_MIXTURE && c->s.n_enrolled <= (size_t)comps + 1) {
            fprintf(stderr, "too few enrolled rows (%zu) for %d clusters: no mixture\n",
                    c->s.n_enrolled, comps);
            continue;
        }
        int rc = cw_cli_distractor_fit(c->s.enrolled, c->s.n_enrolled, c->dim, comps, c->o.seed,
                                       &c->models[k]);
        if (rc != 0) {
            return fail("fitting the %s model: %s", MODEL_NAMES[k], cw_strerror(rc));
        }
        if (k == MODEL_INFLATED) {
            // The synthetic threshold at FMR 1e-3 need not be monotone in the scale (rows are
            // normalised, so the scale trades the shared mean against the spread): a grid over
            // 0.3 .. 2, then a finer one around the best point.
            double best = 1.0, best_err = INFINITY, step = 0.1;
            for (int pass = 0; pass < 2; pass++) {
                double centre = best;
                for (int i = pass == 0 ? 0 : -4; pass == 0 ? i <= 17 : i <= 4; i++) {
                    double sc = pass == 0 ? 0.3 + step * i : centre + step * i;
                    double t[N_FMRS];
                    c->models[k].scale = sc;
                    if ((rc = synth_thresholds(c, &c->models[k], t)) != 0) {
                        return fail("fitting the inflated model: %s", cw_strerror(rc));
                    }
                    if (fabs(t[1] - c->real.thr[1]) < best_err) {
                        best_err = fabs(t[1] - c->real.thr[1]);
                        best = sc;
                    }
                }
                step = 0.025;
            }
            c->models[k].scale = best;
            fprintf(stderr, "inflated model: covariance scale %.4f^2\n", c->models[k].scale);
        }
        if (k == MODEL_T) {
            // The degrees of freedom whose thresholds at FMR 1e-3 .. 1e-5 lie closest to the
            // real ones (a smaller sample than the check's).
            static const int NUS[] = {2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100};
            double best_err = INFINITY;
            int best = 100;
            for (size_t i = 0; i < sizeof(NUS) / sizeof(NUS[0]); i++) {
                double t[N_FMRS], e = 0;
                c->models[k].nu = NUS[i];
                if ((rc = synth_thresholds(c, &c->models[k], t)) != 0) {
                    return fail("fitting the t model: %s", cw_strerror(rc));
                }
                for (int f = 1; f < N_FMRS; f++) {
                    e = fabs(t[f] - c->real.thr[f]) > e ? fabs(t[f] - c->real.thr[f]) : e;
                }
                if (e < best_err) {
                    best_err = e;
                    best = NUS[i];
                }
            }
            c->models[k].nu = best;
            fprintf(stderr, "t model: %d degrees of freedom\n", best);
        }
        if (check_model(c, k) != 0) {
            return CW_EXIT_FAIL;
        }
        c->have[k] = 1;
    }
    c->chosen = -1;
    for (int k = 0; k < N_MODELS; k++) {
        if (c->have[k] && (c->chosen < 0 || c->checks[k].err < c->checks[c->chosen].err)) {
            c->chosen = k;
        }
    }
    return c->chosen >= 0 ? 0 : fail("no distractor model could be fitted");
}

static int calibrate(ctx_t *c)
{
    uint32_t model_id =
        c->o.embedder == CW_FACE_EMBEDDER_FUSED ? CW_FACE_MODEL_FUSED : CW_FACE_MODEL_MOBILEFACENET;
    uint32_t flags = c->o.no_flip ? 0 : CW_FACE_TEMPLATE_FLIP_AVERAGED;
    if (!c->o.calib_enrolled) {
        uint32_t want_dim = model_id == CW_FACE_MODEL_FUSED ? 704 : 192;
        if (c->dim != want_dim) {
            return fail("the dump's templates have %u dimensions, %s makes %u: name the embedder "
                        "(--embedder) or use --calibration enrolled",
                        c->dim, cw_face_model_name(model_id), want_dim);
        }
        if (cw_gallery_calibration_for(model_id, 1, flags, &c->cal) != 0) {
            return fail("no built-in calibration for %s version 1%s: use --calibration enrolled",
                        cw_face_model_name(model_id), flags ? " flip-averaged" : "");
        }
        c->cal_source = "builtin";
        return 0;
    }
    // The impostor pairs among the enrolled half's photos.
    size_t n = c->s.n_half_photos, m = 0;
    float *sc = cw_malloc((n * (n - 1) / 2 + 1) * sizeof(float));
    if (sc == NULL) {
        return fail("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (c->s.half_person[i] != c->s.half_person[j]) {
                sc[m++] = dot(c->s.half + i * c->dim, c->s.half + j * c->dim, c->dim);
            }
        }
    }
    double tail = m > 0 && 150.0 / (double)m > 1e-3 ? 150.0 / (double)m : 1e-3;
    int rc = cw_gallery_calibrate(sc, m, tail, &c->cal);
    cw_free(sc);
    if (rc != 0) {
        return fail("cannot fit a calibration to the %zu impostor pairs of the enrolled half: %s",
                    m, cw_strerror(rc));
    }
    c->cal.model_id = model_id;
    c->cal.model_version = 1;
    c->cal_source = "enrolled";
    return 0;
}

static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb * 1024.0;
}

/* Wilson score interval, 95%. */
static void wilson(size_t k, size_t n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0, *hi = 1;
        return;
    }
    double z = 1.959964, p = (double)k / (double)n, z2n = z * z / (double)n;
    double centre = (p + z2n / 2) / (1 + z2n);
    double half = z * sqrt(p * (1 - p) / (double)n + z2n / (4.0 * (double)n)) / (1 + z2n);
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
}

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

/* Search every probe at the gallery's current size and decide. */
static int measure(ctx_t *c, cw_gallery_t *g, result_t *r, double fixed_t, float *best_nm,
                   FILE *scores)
{
    size_t nq = c->s.n_mated + c->s.n_nonmated;
    cw_gallery_hit_t *hits = malloc((size_t)BATCH * K_HITS * sizeof(*hits));
    int n_hits[BATCH];
    if (hits == NULL) {
        return fail("out of memory");
    }
    cw_gallery_policy_t pol = {c->o.target, (float)c->o.margin, 0};
    r->threshold = cw_gallery_threshold(&c->cal, r->n, c->o.target);
    r->predicted_fixed = -expm1((double)r->n * log1p(-cw_gallery_fmr(&c->cal, fixed_t)));
    double t0 = now_s(), last = t0;
    size_t n_nm = 0;
    for (size_t q0 = 0; q0 < nq; q0 += BATCH) {
        int nb = nq - q0 < BATCH ? (int)(nq - q0) : BATCH;
        int rc = cw_gallery_search_batch(g, c->s.probes + q0 * c->dim, nb, K_HITS, c->pool, hits,
                                         n_hits);
        if (rc != 0) {
            free(hits);
            return fail("search: %s", cw_strerror(rc));
        }
        for (int b = 0; b < nb; b++) {
            size_t q = q0 + (size_t)b;
            const cw_gallery_hit_t *h = hits + (size_t)b * K_HITS;
            cw_gallery_decision_t dec;
            if (cw_gallery_decide(h, n_hits[b], r->n, &c->cal, &pol, &dec) != 0) {
                free(hits);
                return fail("decide: bad arguments");
            }
            r->predicted = dec.predicted_fpir;
            if (q < c->s.n_mated) {
                const photo_t *ph = &c->d.ph[c->s.probe_photo[q]];
                uint64_t mate = (uint64_t)c->s.enrolled_of[ph->person] + 1;
                r->rank1 += n_hits[b] > 0 && h[0].id == mate;
                for (int i = 0; i < n_hits[b]; i++) {
                    r->rank10 += h[i].id == mate;
                }
                if (dec.verdict == CW_GALLERY_MATCH) {
                    *(dec.id == mate ? &r->right : &r->wrong) += 1;
                } else if (dec.verdict == CW_GALLERY_AMBIGUOUS) {
                    r->ambig++;
                } else {
                    r->none++;
                }
            } else {
                int synth = n_hits[b] > 0 && h[0].id >= SYNTH_ID;
                int above = n_hits[b] > 0 && (double)h[0].score >= fixed_t;
                r->fp += dec.verdict == CW_GALLERY_MATCH;
                if (dec.verdict == CW_GALLERY_MATCH && r->n_fm < MAX_LISTED) {
                    r->fm[r->n_fm].probe = q;
                    r->fm[r->n_fm].id = dec.id;
                    r->fm[r->n_fm++].score = dec.score;
                }
                r->fp_synth += dec.verdict == CW_GALLERY_MATCH && synth;
                r->fp_ambig += dec.verdict == CW_GALLERY_AMBIGUOUS;
                r->fp_fixed += above;
                r->fixed_synth += above && synth;
                best_nm[n_nm++] = n_hits[b] > 0 ? h[0].score : -1.0f;
                if (scores != NULL) {
                    fprintf(scores, "%zu\tnonmated_best\t%zu\t%.6f\n", r->n, q - c->s.n_mated,
                            best_nm[n_nm - 1]);
                }
            }
        }
        double t = now_s();
        if (t - last > 2.0 || q0 + (size_t)nb == nq) {
            fprintf(stderr, "\rN = %zu: searched %zu/%zu probes, %.1f s", r->n, q0 + (size_t)nb, nq,
                    t - t0);
            last = t;
        }
    }
    fputc('\n', stderr);
    r->search_ms = 1e3 * (now_s() - t0) / (double)nq;
    qsort(best_nm, n_nm, sizeof(float), cmp_float);
    r->median_nonmated =
        n_nm % 2 ? best_nm[n_nm / 2] : 0.5 * ((double)best_nm[n_nm / 2 - 1] + best_nm[n_nm / 2]);
    // Single queries, spread over the probes.
    double ms[SINGLE_PROBES];
    for (int i = 0; i < SINGLE_PROBES; i++) {
        size_t q = (size_t)i * nq / SINGLE_PROBES;
        int nh;
        double ts = now_s();
        cw_gallery_search(g, c->s.probes + q * c->dim, K_HITS, c->pool, hits, &nh);
        ms[i] = 1e3 * (now_s() - ts);
    }
    qsort(ms, SINGLE_PROBES, sizeof(double), cmp_double);
    r->single_p50_ms = ms[SINGLE_PROBES / 2];
    cw_gallery_memory(g, &r->scan_bytes, &r->float_bytes);
    cw_gallery_config_t gc;
    cw_gallery_config(g, &gc);
    r->mem_bytes = (double)(r->scan_bytes + r->float_bytes) / (double)gc.capacity * (double)r->n;
    free(hits);
    return 0;
}

/* Bytes a gallery of n rows of dimension d needs (docs/gallery-search.md). */
static double gallery_bytes(size_t n, uint32_t d)
{
    double dpad = (double)((d + 63) / 64 * 64);
    return (double)n * (dpad + 4 + 8 + 6 + 4.0 * d) + (double)n / 1024 * 4;
}

/* Refuse up front a gallery that clearly does not fit in the memory available. */
static int check_memory(const ctx_t *c)
{
    size_t max_n = c->o.sizes[c->o.n_sizes - 1];
    double need = gallery_bytes(max_n, c->dim) + (double)GEN_CHUNK * c->dim * sizeof(float);
    double avail = mem_available();
    fprintf(stderr, "gallery of %zu rows at d = %u: about %.2f GiB (MemAvailable %.2f GiB)\n",
            max_n, c->dim, need / 1073741824.0, avail / 1073741824.0);
    if (avail > 0 && need > 0.9 * avail) {
        return fail("not enough memory: a gallery of %zu rows at d = %u needs about %.0f bytes "
                    "(%.2f GiB), and only %.0f bytes (%.2f GiB) are available",
                    max_n, c->dim, need, need / 1073741824.0, avail, avail / 1073741824.0);
    }
    return 0;
}

static int build_and_measure(ctx_t *c, FILE *scores)
{
    size_t max_n = c->o.sizes[c->o.n_sizes - 1];
    size_t E = c->s.n_enrolled;
    if (c->o.sizes[0] < E) {
        return fail("--sizes must each be at least the %zu enrolled people (got %zu)", E,
                    c->o.sizes[0]);
    }
    double need = gallery_bytes(max_n, c->dim);
    uint32_t model_id =
        c->o.embedder == CW_FACE_EMBEDDER_FUSED ? CW_FACE_MODEL_FUSED : CW_FACE_MODEL_MOBILEFACENET;
    cw_gallery_config_t gc = {c->dim, CW_MODALITY_FACE, model_id, 1, max_n};
    cw_gallery_t *g = NULL;
    int rc = cw_gallery_create(&gc, &g);
    if (rc == CW_ENOMEM) {
        return fail("not enough memory for a gallery of %zu rows at d = %u (about %.0f bytes)",
                    max_n, c->dim, need);
    }
    if (rc != 0) {
        return fail("cannot create the gallery: %s", cw_strerror(rc));
    }
    float *chunk = cw_malloc((size_t)GEN_CHUNK * c->dim * sizeof(float));
    float *best_nm = malloc(c->s.n_nonmated * sizeof(float));
    if (chunk == NULL || best_nm == NULL) {
        cw_gallery_destroy(g);
        cw_free(chunk);
        free(best_nm);
        return fail("out of memory");
    }
    for (size_t i = 0; rc == 0 && i < E; i++) {
        rc = cw_gallery_add(g, (uint64_t)i + 1, c->s.enrolled + i * c->dim);
    }
    // Mate scores do not depend on N.
    for (size_t q = 0; scores != NULL && q < c->s.n_mated; q++) {
        const photo_t *ph = &c->d.ph[c->s.probe_photo[q]];
        float s = dot(c->s.probes + q * c->dim,
                      c->s.enrolled + (size_t)c->s.enrolled_of[ph->person] * c->dim, c->dim);
        fprintf(scores, "0\tmated_mate\t%zu\t%.6f\n", q, s);
    }
    const cw_cli_distractor_t *m = &c->models[c->chosen];
    size_t synth = 0;
    double t_start = now_s(), build = 0, fixed_t = 0;
    for (int si = 0; rc == 0 && si < c->o.n_sizes; si++) {
        size_t target = c->o.sizes[si] - E;
        double tb = now_s(), last = tb;
        while (rc == 0 && synth < target) {
            size_t n = target - synth < GEN_CHUNK ? target - synth : GEN_CHUNK;
            gen_job_t j = {m, synth, n, chunk};
            cw_pool_parallel_for(c->pool, (n + GEN_BLOCK - 1) / GEN_BLOCK, gen_block, &j);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                rc = cw_gallery_add(g, SYNTH_ID + synth + i, chunk + i * c->dim);
            }
            synth += n;
            double t = now_s();
            if (t - last > 2.0 || synth == target) {
                double rate = (double)(synth + E) / (build + t - tb);
                fprintf(stderr, "\rbuilding: %zu/%zu rows, %.0f rows/s, ETA %.0f s to %zu ",
                        synth + E, c->o.sizes[si], rate,
                        (double)(c->o.sizes[si] - synth - E) / rate, c->o.sizes[si]);
                last = t;
            }
        }
        if (rc != 0) {
            break;
        }
        fputc('\n', stderr);
        build += now_s() - tb;
        result_t *r = &c->res[si];
        memset(r, 0, sizeof(*r));
        r->n = c->o.sizes[si];
        r->build_s = build;
        if (si == 0) {
            fixed_t = cw_gallery_threshold(&c->cal, r->n, c->o.target);
        }
        if (measure(c, g, r, fixed_t, best_nm, scores) != 0) {
            rc = CW_EINTERNAL;
        }
    }
    c->total_s = now_s() - t_start;
    if (rc != 0 && rc != CW_EINTERNAL) {
        fail("building the gallery: %s%s", cw_strerror(rc),
             rc == CW_ENOMEM ? " (the gallery needed more memory than estimated)" : "");
    }
    cw_gallery_destroy(g);
    cw_free_wipe(chunk, (size_t)GEN_CHUNK * c->dim * sizeof(float));
    free(best_nm);
    return rc == 0 ? 0 : CW_EXIT_FAIL;
}

/* ---- the report ---- */

/* "xi | sigma" of a tail fit, or why there is none. */
static const char *gpd_text(const dist_t *d, char *buf, size_t len)
{
    if (d->gpd_rc != 0) {
        snprintf(buf, len, "no fit (%s) | -", cw_strerror(d->gpd_rc));
    } else {
        snprintf(buf, len, "%.4f | %.5f", d->gpd.xi, d->gpd.sigma);
    }
    return buf;
}

static void print_report(const ctx_t *c)
{
    const split_t *s = &c->s;
    char gpd[96];
    printf("## Direct experiment\n\n");
    printf("%zu photos of %zu people, d = %u; enrolled %zu people; mated probes %zu (%zu "
           "without a face not counted), non-mated probes %zu (%zu without a face not counted)\n",
           c->d.n, c->d.n_people, c->dim, s->n_enrolled, s->n_mated, s->fta_mated, s->n_nonmated,
           s->fta_nonmated);
    printf("calibration: %s (u %.4f, p_u %.3g, xi %.4f, sigma %.5f); target FPIR %g, margin "
           "%g\n\n",
           c->cal_source, c->cal.u, c->cal.p_u, c->cal.xi, c->cal.sigma, c->o.target, c->o.margin);
    printf("### Distractor model check (non-mated probes: %zu x %zu real enrolled rows vs %zu x "
           "%d synthetic rows)\n\n",
           s->n_nonmated, s->n_enrolled, s->n_nonmated, CHECK_ROWS);
    printf("| scores | thr FMR 1e-2 | 1e-3 | 1e-4 | 1e-5 | KS | GPD xi | GPD sigma | max "
           "|thr diff| 1e-3..1e-5 |\n|---|---|---|---|---|---|---|---|---|\n");
    printf("| real | %.4f | %.4f | %.4f | %.4f | - | %s | - |\n", c->real.thr[0], c->real.thr[1],
           c->real.thr[2], c->real.thr[3], gpd_text(&c->real, gpd, sizeof(gpd)));
    for (int k = 0; k < N_MODELS; k++) {
        if (!c->have[k]) {
            continue;
        }
        const check_t *ch = &c->checks[k];
        char name[64];
        if (k == MODEL_INFLATED) {
            snprintf(name, sizeof(name), "inflated (x%.3f)", ch->scale);
        } else if (k == MODEL_T) {
            snprintf(name, sizeof(name), "t (nu = %d)", c->models[k].nu);
        } else if (k == MODEL_MIXTURE) {
            snprintf(name, sizeof(name), "mixture (k = %d)", c->models[k].k);
        } else {
            snprintf(name, sizeof(name), "gaussian");
        }
        printf("| %s%s | %.4f | %.4f | %.4f | %.4f | %.4f | %s | %.4f |\n", name,
               k == c->chosen ? " (used)" : "", ch->synth.thr[0], ch->synth.thr[1],
               ch->synth.thr[2], ch->synth.thr[3], ch->ks, gpd_text(&ch->synth, gpd, sizeof(gpd)),
               ch->err);
    }
    printf("\n### Results by gallery size (fixed threshold = the threshold at N = %zu)\n\n",
           c->res[0].n);
    printf("| N | threshold | FNIR (95%%) | mated right / wrong / ambiguous / no match | rank-1 "
           "| rank-10 | FPIR measured (95%%) | false MATCH real / synthetic row | FPIR predicted "
           "| non-mated ambiguous | FPIR at fixed threshold (synthetic best) | predicted at fixed "
           "threshold | median best non-mated | ms/probe batched | single p50 ms | memory GiB | "
           "build s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < c->o.n_sizes; i++) {
        const result_t *r = &c->res[i];
        double lo, hi, flo, fhi;
        wilson(s->n_mated - r->right, s->n_mated, &lo, &hi);
        wilson(r->fp, s->n_nonmated, &flo, &fhi);
        double nm = (double)s->n_nonmated, mt = (double)s->n_mated;
        printf("| %zu | %.4f | %.4f (%.4f-%.4f) | %zu / %zu / %zu / %zu | %.4f | %.4f | %.5f "
               "(%.5f-%.5f) | %zu / %zu | %.2g | %zu | %.5f (%zu) | %.3g | %.4f | %.3f | %.3f | "
               "%.2f | %.1f |\n",
               r->n, r->threshold, 1.0 - (double)r->right / mt, lo, hi, r->right, r->wrong,
               r->ambig, r->none, (double)r->rank1 / mt, (double)r->rank10 / mt, (double)r->fp / nm,
               flo, fhi, r->fp - r->fp_synth, r->fp_synth, r->predicted, r->fp_ambig,
               (double)r->fp_fixed / nm, r->fixed_synth, r->predicted_fixed, r->median_nonmated,
               r->search_ms, r->single_p50_ms, r->mem_bytes / 1073741824.0, r->build_s);
    }
    printf("\nmemory: the gallery's bytes per row (cw_gallery_memory over its capacity) times N; "
           "%.2f GiB allocated for %zu rows\n",
           (double)(c->res[0].scan_bytes + c->res[0].float_bytes) / 1073741824.0,
           c->o.sizes[c->o.n_sizes - 1]);
    printf("\n### False MATCHes of non-mated probes (the first %d per size)\n\n", MAX_LISTED);
    printf("| N | probe | matched | score |\n|---|---|---|---|\n");
    for (int i = 0; i < c->o.n_sizes; i++) {
        const result_t *r = &c->res[i];
        for (size_t f = 0; f < r->n_fm; f++) {
            const photo_t *ph = &c->d.ph[s->probe_photo[r->fm[f].probe]];
            char matched[300];
            if (r->fm[f].id >= SYNTH_ID) {
                snprintf(matched, sizeof(matched), "synthetic row %llu",
                         (unsigned long long)(r->fm[f].id - SYNTH_ID));
            } else {
                int p = s->enrolled_person[r->fm[f].id - 1];
                const photo_t *e = NULL;
                for (size_t k = 0; k < c->d.n && e == NULL; k++) {
                    // the enrolled photo: the person's lowest-numbered photo with a face
                    if (c->d.ph[k].person == p && c->d.ph[k].found) {
                        e = &c->d.ph[k];
                        for (size_t k2 = k; k2 < c->d.n; k2++) {
                            if (c->d.ph[k2].person == p && c->d.ph[k2].found &&
                                c->d.ph[k2].number < e->number) {
                                e = &c->d.ph[k2];
                            }
                        }
                    }
                }
                snprintf(matched, sizeof(matched), "%s %d (enrolled)", c->d.names[p],
                         e != NULL ? e->number : 0);
            }
            printf("| %zu | %s %d | %s | %.4f |\n", r->n, c->d.names[ph->person], ph->number,
                   matched, r->fm[f].score);
        }
    }
    printf("\nsearch + decide + build: %.1f s\n", c->total_s);
}

static json_t *dist_json(const dist_t *d)
{
    json_t *thr = json_object();
    for (int f = 0; f < N_FMRS; f++) {
        char k[16];
        snprintf(k, sizeof(k), "%g", FMRS[f]);
        json_object_set_new(thr, k, json_real(d->thr[f]));
    }
    return json_pack("{s:I,s:o,s:{s:b,s:f,s:f,s:f,s:f}}", "scores", (json_int_t)d->n, "thresholds",
                     thr, "gpd", "ok", d->gpd_rc == 0, "u", d->gpd.u, "p_u", d->gpd.p_u, "xi",
                     d->gpd.xi, "sigma", d->gpd.sigma);
}

static int write_json(const ctx_t *c)
{
    const split_t *s = &c->s;
    json_t *models = json_array();
    for (int k = 0; k < N_MODELS; k++) {
        if (c->have[k]) {
            json_t *m = dist_json(&c->checks[k].synth);
            json_object_set_new(m, "model", json_string(MODEL_NAMES[k]));
            json_object_set_new(m, "components", json_integer(c->models[k].k));
            json_object_set_new(m, "scale", json_real(c->checks[k].scale));
            json_object_set_new(m, "nu", json_integer(c->models[k].nu));
            json_object_set_new(m, "ks", json_real(c->checks[k].ks));
            json_object_set_new(m, "max_threshold_error", json_real(c->checks[k].err));
            json_object_set_new(m, "used", json_boolean(k == c->chosen));
            json_array_append_new(models, m);
        }
    }
    json_t *sizes = json_array();
    for (int i = 0; i < c->o.n_sizes; i++) {
        const result_t *r = &c->res[i];
        double lo, hi, flo, fhi;
        wilson(s->n_mated - r->right, s->n_mated, &lo, &hi);
        wilson(r->fp, s->n_nonmated, &flo, &fhi);
        json_t *e = json_pack(
            "{s:I,s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:[f,f]},s:{s:I,s:I,s:I,s:I,s:I,s:f,s:[f,f],"
            "s:f,s:f,s:f,s:f},s:f,s:f,s:I,s:I,s:f,s:f}",
            "n", (json_int_t)r->n, "threshold", r->threshold, "mated", "right",
            (json_int_t)r->right, "wrong", (json_int_t)r->wrong, "ambiguous", (json_int_t)r->ambig,
            "no_match", (json_int_t)r->none, "rank1", (json_int_t)r->rank1, "rank10",
            (json_int_t)r->rank10, "fnir", 1.0 - (double)r->right / (double)s->n_mated, "fnir_ci95",
            lo, hi, "nonmated", "false_match", (json_int_t)r->fp, "ambiguous",
            (json_int_t)r->fp_ambig, "false_match_synthetic", (json_int_t)r->fp_synth,
            "above_fixed_threshold", (json_int_t)r->fp_fixed, "above_fixed_threshold_synthetic",
            (json_int_t)r->fixed_synth, "fpir", (double)r->fp / (double)s->n_nonmated, "fpir_ci95",
            flo, fhi, "fpir_predicted", r->predicted, "fpir_at_fixed_threshold",
            (double)r->fp_fixed / (double)s->n_nonmated, "fpir_at_fixed_threshold_predicted",
            r->predicted_fixed, "median_best_score", r->median_nonmated,
            "search_ms_per_probe_batched", r->search_ms, "search_ms_single_p50", r->single_p50_ms,
            "scan_bytes", (json_int_t)r->scan_bytes, "float_bytes", (json_int_t)r->float_bytes,
            "build_seconds", r->build_s, "memory_bytes", r->mem_bytes);
        json_array_append_new(sizes, e);
    }
    json_t *j = json_pack(
        "{s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:I,s:I,s:{s:s,s:f,s:f,s:f,s:f},s:f,s:f,s:i,s:o,s:o,s:s,"
        "s:o,s:f}",
        "dump", c->o.dump, "photos", (json_int_t)c->d.n, "people", (json_int_t)c->d.n_people, "dim",
        (int)c->dim, "enrolled", (json_int_t)s->n_enrolled, "mated_probes", (json_int_t)s->n_mated,
        "nonmated_probes", (json_int_t)s->n_nonmated, "mated_without_face",
        (json_int_t)s->fta_mated, "nonmated_without_face", (json_int_t)s->fta_nonmated,
        "calibration", "source", c->cal_source, "u", c->cal.u, "p_u", c->cal.p_u, "xi", c->cal.xi,
        "sigma", c->cal.sigma, "target_fpir", c->o.target, "margin", c->o.margin, "threads",
        c->o.threads, "real_impostor", dist_json(&c->real), "models", models, "model_used",
        MODEL_NAMES[c->chosen], "sizes", sizes, "seconds", c->total_s);
    int rc = j != NULL ? json_dump_file(j, c->o.json, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) : -1;
    json_decref(j);
    return rc == 0 ? 0 : fail("cannot write %s", c->o.json);
}

static void ctx_free(ctx_t *c)
{
    for (int k = 0; k < N_MODELS; k++) {
        cw_cli_distractor_free(&c->models[k]);
        free(c->checks[k].synth.hist);
    }
    free(c->real.hist);
    cw_free(c->nm_scores);
    split_free(&c->s, c->dim);
    dump_free(&c->d);
    cw_pool_destroy(c->pool);
}

static int run(ctx_t *c)
{
    struct stat sb;
    if (stat(c->o.dump, &sb) != 0 && embed_root(&c->o) != 0) {
        return CW_EXIT_FAIL;
    }
    if (read_dump(c->o.dump, &c->d) != 0 || make_split(&c->d, &c->s) != 0) {
        return CW_EXIT_FAIL;
    }
    c->dim = c->d.dim;
    fprintf(stderr,
            "%zu photos of %zu people (d = %u): %zu enrolled, %zu mated and %zu "
            "non-mated probes\n",
            c->d.n, c->d.n_people, c->dim, c->s.n_enrolled, c->s.n_mated, c->s.n_nonmated);
    if (c->o.sizes[0] < c->s.n_enrolled) {
        return fail("--sizes must each be at least the %zu enrolled people (got %zu)",
                    c->s.n_enrolled, c->o.sizes[0]);
    }
    if (check_memory(c) != 0 || calibrate(c) != 0) {
        return CW_EXIT_FAIL;
    }
    if (cw_pool_create(c->o.threads - 1, &c->pool) != 0) {
        return fail("cannot start %d threads", c->o.threads);
    }
    // The real impostor scores: non-mated probes against the real enrolled rows.
    c->nm_scores = cw_calloc(c->s.n_nonmated, c->s.n_enrolled * sizeof(float));
    if (c->nm_scores == NULL) {
        return fail("out of memory");
    }
    score_job_t j = {c->s.probes + c->s.n_mated * c->dim, c->s.enrolled, c->s.n_enrolled, c->dim,
                     c->nm_scores};
    cw_pool_parallel_for(c->pool, c->s.n_nonmated, score_probe, &j);
    if (describe(c->nm_scores, c->s.n_nonmated * c->s.n_enrolled, &c->real, 1) != 0) {
        return fail("out of memory");
    }
    fprintf(stderr, "checking the distractor models\n");
    if (fit_models(c) != 0) {
        return CW_EXIT_FAIL;
    }
    fprintf(stderr, "distractor model: %s\n", MODEL_NAMES[c->chosen]);
    FILE *scores = NULL;
    if (c->o.scores != NULL && (scores = fopen(c->o.scores, "w")) == NULL) {
        return fail("cannot write %s: %s", c->o.scores, strerror(errno));
    }
    if (scores != NULL) {
        fprintf(scores, "# size\tkind\tprobe\tscore\n");
    }
    int rc = build_and_measure(c, scores);
    if (scores != NULL && fclose(scores) != 0 && rc == 0) {
        rc = fail("cannot write %s", c->o.scores);
    }
    if (rc != 0) {
        return rc;
    }
    print_report(c);
    if (c->o.json != NULL && write_json(c) != 0) {
        return CW_EXIT_FAIL;
    }
    return CW_EXIT_OK;
}

int cw_cli_sim_direct(int argc, char **argv)
{
    if (cw_cli_wants_help(argc, argv)) {
        fputs(cw_cli_sim_direct_usage, stdout);
        return CW_EXIT_OK;
    }
    static ctx_t c;
    memset(&c, 0, sizeof(c));
    int rc = parse_opts(argc, argv, &c.o);
    if (rc != 0) {
        return rc;
    }
    rc = run(&c);
    ctx_free(&c);
    return rc;
}
