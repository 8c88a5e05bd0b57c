// SPDX-License-Identifier: Apache-2.0
// `clearway gallery build|add|search|info|bench`: 1:N galleries as snapshot files, for
// operators and scripts. `search` shows the top candidates and the open-set decision at the
// gallery's size; faces can be given as photos (embedded with the face pipeline) or vectors.
#include "cli.h"
#include "face_cli.h"

#include "clearway/clearway.h"
#include "clearway/gallery.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int run_gallery(int argc, char **argv);

const cw_cli_command_t cw_cmd_gallery = {
    "gallery",
    "Build, extend, search and inspect 1:N galleries (snapshot files)",
    "Usage: clearway gallery build --vectors FILE --out SNAP [--dim D]\n"
    "       clearway gallery add SNAP --id ID (--image IMG | --vector V1,V2,...)\n"
    "       clearway gallery search SNAP (--image IMG | --vector V1,...) [--k K] [--fpir F]\n"
    "                               [--margin M] [--max-n N] [--json]\n"
    "       clearway gallery info SNAP [--json]\n"
    "       clearway gallery bench [--n N] [--dim D] [--queries Q]\n"
    "\n"
    "build   a snapshot from a text file of templates. Two layouts are read: one template per\n"
    "        line as `ID V1 V2 ... VD`, or the per-photo file of `clearway eval face --dump`\n"
    "        (ids are then the line numbers). Progress on stderr.\n"
    "add     add one template (a photo's face, or a vector) under ID and save the snapshot\n"
    "search  the k best candidates and the decision: MATCH, NO_MATCH, AMBIGUOUS or\n"
    "        REQUIRES_SECOND_FACTOR, with the threshold used at this gallery size and the\n"
    "        predicted false-positive identification rate (docs/gallery-decisions.md)\n"
    "info    dimension, model, rows and memory of a snapshot\n"
    "bench   a quick synthetic timing (random unit vectors); bench/gallery_search is the full\n"
    "        benchmark\n"
    "\n"
    "Options:\n"
    "  --k K         candidates to show (default 5)\n"
    "  --fpir F      target false-positive identification rate (default 1e-3)\n"
    "  --margin M    AMBIGUOUS when the runner-up is within M of the best (default 0.05)\n"
    "  --max-n N     face-only 1:N allowed up to N rows (default: no limit)\n"
    "  --json        one JSON object on stdout\n"
    "\n"
    "Exit status: 0 done (whatever the decision), 1 failure, 2 bad command line.\n",
    run_gallery,
    NULL,
};

typedef struct gopts {
    const char *sub;
    const char *snap;
    const char *vectors;
    const char *out;
    const char *image;
    const char *vector;
    uint64_t id;
    int have_id;
    int dim;
    int k;
    double fpir;
    double margin;
    uint64_t max_n;
    long n;
    int queries;
    int json;
} gopts_t;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || s[0] == '-' || s[0] == '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, gopts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->k = 5;
    o->fpir = 1e-3;
    o->margin = 0.05;
    o->n = 100000;
    o->dim = 0;
    o->queries = 100;
    if (argc < 2) {
        return cw_cli_usage_error("gallery", "missing action (build, add, search, info, bench)");
    }
    o->sub = argv[1];
    static const char *const subs[] = {"build", "add", "search", "info", "bench"};
    int known = 0;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        known |= strcmp(o->sub, subs[i]) == 0;
    }
    if (!known) {
        return cw_cli_usage_error("gallery", "unknown action '%s'", o->sub);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->snap != NULL) {
                return cw_cli_usage_error("gallery", "unexpected argument '%s'", a);
            }
            o->snap = a;
            continue;
        }
        if (v == NULL) {
            return cw_cli_usage_error("gallery", "%s needs a value (or is unknown)", a);
        }
        i++;
        char *end;
        if (strcmp(a, "--vectors") == 0) {
            o->vectors = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--image") == 0) {
            o->image = v;
        } else if (strcmp(a, "--vector") == 0) {
            o->vector = v;
        } else if (strcmp(a, "--id") == 0) {
            if (parse_u64(v, &o->id) != 0) {
                return cw_cli_usage_error("gallery", "--id must be an unsigned 64-bit number");
            }
            o->have_id = 1;
        } else if (strcmp(a, "--dim") == 0) {
            long d = strtol(v, &end, 10);
            if (*end != '\0' || d < CW_GALLERY_MIN_DIM || d > CW_GALLERY_MAX_DIM) {
                return cw_cli_usage_error("gallery", "--dim must be %d..%d", CW_GALLERY_MIN_DIM,
                                          CW_GALLERY_MAX_DIM);
            }
            o->dim = (int)d;
        } else if (strcmp(a, "--k") == 0) {
            long k = strtol(v, &end, 10);
            if (*end != '\0' || k < 1 || k > CW_GALLERY_MAX_K) {
                return cw_cli_usage_error("gallery", "--k must be 1..%d", CW_GALLERY_MAX_K);
            }
            o->k = (int)k;
        } else if (strcmp(a, "--fpir") == 0) {
            o->fpir = strtod(v, &end);
            if (*end != '\0' || !(o->fpir > 0.0 && o->fpir < 1.0)) {
                return cw_cli_usage_error("gallery", "--fpir must be in (0, 1)");
            }
        } else if (strcmp(a, "--margin") == 0) {
            o->margin = strtod(v, &end);
            if (*end != '\0' || !(o->margin >= 0.0 && o->margin < 1.0)) {
                return cw_cli_usage_error("gallery", "--margin must be in [0, 1)");
            }
        } else if (strcmp(a, "--max-n") == 0) {
            if (parse_u64(v, &o->max_n) != 0) {
                return cw_cli_usage_error("gallery", "--max-n must be a count");
            }
        } else if (strcmp(a, "--n") == 0) {
            o->n = strtol(v, &end, 10);
            if (*end != '\0' || o->n < 1 || o->n > 50000000) {
                return cw_cli_usage_error("gallery", "--n must be 1..50000000");
            }
        } else if (strcmp(a, "--queries") == 0) {
            o->queries = (int)strtol(v, &end, 10);
            if (*end != '\0' || o->queries < 1 || o->queries > 100000) {
                return cw_cli_usage_error("gallery", "--queries must be 1..100000");
            }
        } else {
            return cw_cli_usage_error("gallery", "unknown option '%s'", a);
        }
    }
    int needs_snap =
        strcmp(o->sub, "add") == 0 || strcmp(o->sub, "search") == 0 || strcmp(o->sub, "info") == 0;
    if (needs_snap && o->snap == NULL) {
        return cw_cli_usage_error("gallery", "%s needs a snapshot file", o->sub);
    }
    if (strcmp(o->sub, "build") == 0 && (o->vectors == NULL || o->out == NULL)) {
        return cw_cli_usage_error("gallery", "build needs --vectors FILE and --out SNAP");
    }
    if ((strcmp(o->sub, "add") == 0 || strcmp(o->sub, "search") == 0) &&
        (o->image == NULL) == (o->vector == NULL)) {
        return cw_cli_usage_error("gallery", "%s needs exactly one of --image and --vector",
                                  o->sub);
    }
    if (strcmp(o->sub, "add") == 0 && !o->have_id) {
        return cw_cli_usage_error("gallery", "add needs --id ID");
    }
    return 0;
}

static void progress(const char *what, size_t done, size_t total, int tty)
{
    if (total == 0) {
        return;
    }
    int pct = (int)(100 * done / total);
    if (tty) {
        fprintf(stderr, "\r%s: %3d%% (%zu/%zu)", what, pct, done, total);
        if (done == total) {
            fputc('\n', stderr);
        }
    } else if (done == total || done % (total / 10 + 1) == 0) {
        fprintf(stderr, "%s: %d%% (%zu/%zu)\n", what, pct, done, total);
    }
}

// One template line: "ID V1 ... VD" or an eval dump line (name, number, found, box,
// landmarks, "D V1 ... VD"; tab-separated). Returns the dimension read, 0 to skip, -1 bad.
static int parse_line(char *line, size_t lineno, uint64_t *id, float *v)
{
    if (line[0] == '#' || line[0] == '\n' || line[0] == '\0') {
        return 0;
    }
    char *p = line;
    char *tab = strrchr(line, '\t');
    if (tab != NULL) {
        // The dump: the template is the last tab-separated field, prefixed by its dimension.
        p = tab + 1;
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d > CW_GALLERY_MAX_DIM) {
            return -1;
        }
        if (d == 0) {
            return 0; // no face in that photo
        }
        *id = lineno;
        p = end;
        for (long i = 0; i < d; i++) {
            v[i] = strtof(p, &end);
            if (end == p) {
                return -1;
            }
            p = end;
        }
        return (int)d;
    }
    char *end;
    errno = 0;
    *id = strtoull(p, &end, 10);
    if (end == p || errno != 0) {
        return -1;
    }
    p = end;
    int d = 0;
    for (;;) {
        float x = strtof(p, &end);
        if (end == p) {
            break;
        }
        if (d == CW_GALLERY_MAX_DIM) {
            return -1;
        }
        v[d++] = x;
        p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        p++;
    }
    return *p == '\0' ? d : -1;
}

static int do_build(const gopts_t *o)
{
    FILE *f = fopen(o->vectors, "r");
    if (f == NULL) {
        fprintf(stderr, "clearway gallery: cannot open %s: %s\n", o->vectors, strerror(errno));
        return CW_EXIT_FAIL;
    }
    // Count lines for the progress bar.
    size_t total = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        total += c == '\n';
    }
    rewind(f);
    size_t cap = 1 << 16;
    char *line = malloc(cap);
    float *v = malloc(CW_GALLERY_MAX_DIM * sizeof(float));
    cw_gallery_t *g = NULL;
    int ret = CW_EXIT_FAIL;
    size_t lineno = 0;
    size_t added = 0;
    int tty = isatty(2);
    while (line != NULL && v != NULL) {
        // Lines may be long (512 floats): read whole lines with a growing buffer.
        size_t len = 0;
        int got = 0;
        while ((c = fgetc(f)) != EOF) {
            got = 1;
            if (len + 2 >= cap) {
                char *nl = realloc(line, cap * 2);
                if (nl == NULL) {
                    break;
                }
                line = nl;
                cap *= 2;
            }
            line[len++] = (char)c;
            if (c == '\n') {
                break;
            }
        }
        if (!got) {
            ret = CW_EXIT_OK;
            break;
        }
        line[len] = '\0';
        lineno++;
        uint64_t id;
        int d = parse_line(line, lineno, &id, v);
        if (d < 0) {
            fprintf(stderr,
                    "clearway gallery: %s:%zu: expected `ID V1 ... VD` or an eval dump "
                    "line\n",
                    o->vectors, lineno);
            break;
        }
        if (d > 0) {
            if (g == NULL) {
                int dim = o->dim ? o->dim : d;
                cw_gallery_config_t cfg = {(uint32_t)dim, 1, CW_FACE_MODEL_MOBILEFACENET, 1, 0};
                int rc = cw_gallery_create(&cfg, &g);
                if (rc != 0) {
                    fprintf(stderr,
                            "clearway gallery: cannot create a gallery of dimension %d: "
                            "%s\n",
                            dim, cw_strerror(rc));
                    break;
                }
            }
            cw_gallery_config_t cfg;
            cw_gallery_config(g, &cfg);
            if ((uint32_t)d != cfg.dim) {
                fprintf(stderr, "clearway gallery: %s:%zu: %d values, the gallery has %u\n",
                        o->vectors, lineno, d, cfg.dim);
                break;
            }
            int rc = cw_gallery_add(g, id, v);
            if (rc != 0) {
                fprintf(stderr, "clearway gallery: %s:%zu: id %llu: %s\n", o->vectors, lineno,
                        (unsigned long long)id, cw_strerror(rc));
                break;
            }
            added++;
        }
        if (lineno % 1000 == 0 || lineno == total) {
            progress("building", lineno, total, tty);
        }
    }
    fclose(f);
    if (ret == CW_EXIT_OK && g == NULL) {
        fprintf(stderr, "clearway gallery: no templates in %s\n", o->vectors);
        ret = CW_EXIT_FAIL;
    }
    if (ret == CW_EXIT_OK) {
        char diag[512] = "";
        int rc = cw_gallery_save(g, o->out, diag, sizeof(diag));
        if (rc != 0) {
            fprintf(stderr, "clearway gallery: %s\n", diag);
            ret = CW_EXIT_FAIL;
        } else {
            printf("built %s: %zu templates\n", o->out, added);
        }
    }
    cw_gallery_destroy(g);
    free(line);
    cw_free_wipe(v, CW_GALLERY_MAX_DIM * sizeof(float));
    return ret;
}

static cw_gallery_t *load(const char *snap)
{
    cw_gallery_t *g;
    char diag[512] = "";
    int rc = cw_gallery_load(snap, &g, diag, sizeof(diag));
    if (rc != 0) {
        fprintf(stderr, "clearway gallery: %s: %s\n", cw_strerror(rc), diag);
        return NULL;
    }
    return g;
}

// The probe template: a photo's subject, or a comma-separated vector. Returns its dimension,
// or -1 after printing why.
static int probe(const gopts_t *o, float *v, uint32_t *flags)
{
    *flags = 0;
    if (o->vector != NULL) {
        const char *p = o->vector;
        int d = 0;
        while (*p != '\0') {
            char *end;
            float x = strtof(p, &end);
            if (end == p || d == CW_GALLERY_MAX_DIM || (*end != ',' && *end != '\0')) {
                fprintf(stderr, "clearway gallery: --vector must be comma-separated numbers\n");
                return -1;
            }
            v[d++] = x;
            p = *end == ',' ? end + 1 : end;
        }
        return d;
    }
    cw_face_config_t cfg = {0};
    cw_cli_face_t cf;
    if (cw_cli_face_open(&cfg, &cf) != 0) {
        return -1;
    }
    cw_cli_face_photo_t ph;
    int d = -1;
    if (cw_cli_face_photo(&cf, o->image, CW_FACE_SUBJECT_AUTO, &ph) == 0) {
        cw_face_template_t t;
        if (ph.subject < 0) {
            fprintf(stderr, "clearway gallery: no face found in %s\n", o->image);
        } else if (cw_face_embed(cf.session, &ph.img, &ph.faces[ph.subject], &t) == 0) {
            memcpy(v, t.v, t.dim * sizeof(float));
            d = (int)t.dim;
            *flags = t.flags;
            cw_memzero(&t, sizeof(t));
        }
        cw_cli_face_photo_free(&ph);
    }
    cw_cli_face_close(&cf);
    return d;
}

static int do_add(const gopts_t *o)
{
    cw_gallery_t *g = load(o->snap);
    if (g == NULL) {
        return CW_EXIT_FAIL;
    }
    float v[CW_GALLERY_MAX_DIM];
    uint32_t flags;
    cw_gallery_config_t cfg;
    cw_gallery_config(g, &cfg);
    int d = probe(o, v, &flags);
    int ret = CW_EXIT_FAIL;
    if (d >= 0 && (uint32_t)d != cfg.dim) {
        fprintf(stderr, "clearway gallery: the template has %d values, the gallery %u\n", d,
                cfg.dim);
    } else if (d >= 0) {
        int rc = cw_gallery_add(g, o->id, v);
        char diag[512] = "";
        if (rc != 0) {
            fprintf(stderr, "clearway gallery: cannot add id %llu: %s\n", (unsigned long long)o->id,
                    cw_strerror(rc));
        } else if ((rc = cw_gallery_save(g, o->snap, diag, sizeof(diag))) != 0) {
            fprintf(stderr, "clearway gallery: %s\n", diag);
        } else {
            printf("added %llu: %zu templates\n", (unsigned long long)o->id, cw_gallery_count(g));
            ret = CW_EXIT_OK;
        }
    }
    cw_memzero(v, sizeof(v));
    cw_gallery_destroy(g);
    return ret;
}

static const char *verdict_name(cw_gallery_verdict_t v)
{
    switch (v) {
    case CW_GALLERY_MATCH:
        return "MATCH";
    case CW_GALLERY_AMBIGUOUS:
        return "AMBIGUOUS";
    case CW_GALLERY_REQUIRES_SECOND_FACTOR:
        return "REQUIRES_SECOND_FACTOR";
    default:
        return "NO_MATCH";
    }
}

static int do_search(const gopts_t *o)
{
    cw_gallery_t *g = load(o->snap);
    if (g == NULL) {
        return CW_EXIT_FAIL;
    }
    cw_gallery_config_t cfg;
    cw_gallery_config(g, &cfg);
    float v[CW_GALLERY_MAX_DIM];
    uint32_t flags;
    int d = probe(o, v, &flags);
    int ret = CW_EXIT_FAIL;
    // The decision needs the runner-up whatever --k asks to show.
    const int k = o->k < 2 ? 2 : o->k;
    cw_gallery_hit_t *hits = malloc((size_t)k * sizeof(*hits));
    int n = 0;
    cw_gallery_calibration_t cal;
    // A vector given by hand is taken to come from the gallery's own model and pipeline.
    int rc_cal = cw_gallery_calibration_for(
        cfg.model_id, cfg.model_version, o->vector != NULL ? CW_FACE_TEMPLATE_FLIP_AVERAGED : flags,
        &cal);
    if (d < 0 || hits == NULL) {
        // reason printed
    } else if ((uint32_t)d != cfg.dim) {
        fprintf(stderr, "clearway gallery: the probe has %d values, the gallery %u\n", d, cfg.dim);
    } else if (rc_cal != 0) {
        fprintf(stderr,
                "clearway gallery: no calibration for model %u version %u: refusing to "
                "decide (fail closed)\n",
                cfg.model_id, cfg.model_version);
    } else {
        int rc = cw_gallery_search(g, v, k, NULL, hits, &n);
        cw_gallery_policy_t pol = {o->fpir, (float)o->margin, o->max_n};
        cw_gallery_decision_t dec;
        if (rc == 0) {
            rc = cw_gallery_decide(hits, n, cw_gallery_count(g), &cal, &pol, &dec);
        }
        const int shown = n < o->k ? n : o->k;
        if (rc != 0) {
            fprintf(stderr, "clearway gallery: search failed: %s\n", cw_strerror(rc));
        } else if (o->json) {
            json_t *arr = json_array();
            for (int i = 0; i < shown; i++) {
                json_array_append_new(arr, json_pack("{s:I,s:f}", "id", (json_int_t)hits[i].id,
                                                     "score", hits[i].score));
            }
            json_t *j = json_pack("{s:s,s:f,s:I,s:f,s:o}", "decision", verdict_name(dec.verdict),
                                  "threshold", dec.threshold, "n", (json_int_t)dec.n,
                                  "predicted_fpir", dec.predicted_fpir, "candidates", arr);
            if (dec.verdict == CW_GALLERY_MATCH) {
                json_object_set_new(j, "id", json_integer((json_int_t)dec.id));
            }
            char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(7));
            if (s != NULL) {
                puts(s);
                free(s);
            }
            json_decref(j);
            ret = CW_EXIT_OK;
        } else {
            for (int i = 0; i < shown; i++) {
                printf("%2d  id %-20llu score %.4f\n", i + 1, (unsigned long long)hits[i].id,
                       hits[i].score);
            }
            printf("decision %s", verdict_name(dec.verdict));
            if (dec.verdict == CW_GALLERY_MATCH) {
                printf(" id %llu", (unsigned long long)dec.id);
            }
            printf(" (threshold %.4f at N = %llu, predicted FPIR %.2g)\n", dec.threshold,
                   (unsigned long long)dec.n, dec.predicted_fpir);
            ret = CW_EXIT_OK;
        }
    }
    free(hits);
    cw_memzero(v, sizeof(v));
    cw_gallery_destroy(g);
    return ret;
}

static int do_info(const gopts_t *o)
{
    cw_gallery_t *g = load(o->snap);
    if (g == NULL) {
        return CW_EXIT_FAIL;
    }
    cw_gallery_config_t cfg;
    cw_gallery_config(g, &cfg);
    size_t scan;
    size_t fl;
    cw_gallery_memory(g, &scan, &fl);
    if (o->json) {
        json_t *j =
            json_pack("{s:s,s:i,s:i,s:i,s:i,s:I,s:I,s:I}", "snapshot", o->snap, "dim", (int)cfg.dim,
                      "modality", (int)cfg.modality, "model_id", (int)cfg.model_id, "model_version",
                      (int)cfg.model_version, "count", (json_int_t)cw_gallery_count(g),
                      "scan_bytes", (json_int_t)scan, "float_bytes", (json_int_t)fl);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s != NULL) {
            puts(s);
            free(s);
        }
        json_decref(j);
    } else {
        printf("%s: %zu templates of dimension %u, modality %u, model %u version %u\n", o->snap,
               cw_gallery_count(g), cfg.dim, cfg.modality, cfg.model_id, cfg.model_version);
        printf("memory: %.1f MiB scan copy, %.1f MiB float originals\n", scan / 1048576.0,
               fl / 1048576.0);
    }
    cw_gallery_destroy(g);
    return CW_EXIT_OK;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static int do_bench(const gopts_t *o)
{
    int dim = o->dim ? o->dim : 128;
    cw_gallery_config_t cfg = {(uint32_t)dim, 1, 0, 0, (size_t)o->n};
    cw_gallery_t *g;
    if (cw_gallery_create(&cfg, &g) != 0) {
        fprintf(stderr, "clearway gallery: out of memory for %ld x %d\n", o->n, dim);
        return CW_EXIT_FAIL;
    }
    float *v = malloc((size_t)dim * sizeof(float));
    uint64_t s = 0x9E3779B97F4A7C15ull;
    double t0 = now_ms();
    int tty = isatty(2);
    for (long i = 0; i < o->n; i++) {
        for (int j = 0; j < dim; j++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v[j] = (float)(s >> 40) / (float)(1 << 24) - 0.5f;
        }
        if (cw_gallery_add(g, (uint64_t)i, v) != 0) {
            fprintf(stderr, "clearway gallery: add failed\n");
            cw_gallery_destroy(g);
            free(v);
            return CW_EXIT_FAIL;
        }
        if ((i + 1) % 100000 == 0 || i + 1 == o->n) {
            progress("building", (size_t)(i + 1), (size_t)o->n, tty);
        }
    }
    double build = now_ms() - t0;
    cw_pool_t *pool;
    cw_pool_create(CW_POOL_AUTO, &pool);
    double *ms = malloc((size_t)o->queries * sizeof(double));
    cw_gallery_hit_t hits[10];
    int n;
    for (int q = 0; q < o->queries; q++) {
        for (int j = 0; j < dim; j++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v[j] = (float)(s >> 40) / (float)(1 << 24) - 0.5f;
        }
        double t = now_ms();
        cw_gallery_search(g, v, 10, pool, hits, &n);
        ms[q] = now_ms() - t;
    }
    qsort(ms, (size_t)o->queries, sizeof(double), cmp_double);
    printf("%ld x %d: build %.0f ms, top-10 search p50 %.2f ms p99 %.2f ms on %d threads\n", o->n,
           dim, build, ms[o->queries / 2], ms[(o->queries * 99) / 100], cw_pool_size(pool) + 1);
    free(ms);
    free(v);
    cw_pool_destroy(pool);
    cw_gallery_destroy(g);
    return CW_EXIT_OK;
}

static int run_gallery(int argc, char **argv)
{
    gopts_t o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(o.sub, "build") == 0) {
        return do_build(&o);
    }
    if (strcmp(o.sub, "add") == 0) {
        return do_add(&o);
    }
    if (strcmp(o.sub, "search") == 0) {
        return do_search(&o);
    }
    if (strcmp(o.sub, "info") == 0) {
        return do_info(&o);
    }
    return do_bench(&o);
}
