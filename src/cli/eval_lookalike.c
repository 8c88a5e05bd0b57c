// SPDX-License-Identifier: Apache-2.0
// `clearway eval lookalike`: the field's worst case, replayed. For the highest-scoring impostor
// pairs of the development faces (two different people who look most alike to our model), one
// person is enrolled and the other walks up to the gate: through the document-free channel
// (face 1:N over a realistic gallery, masked confirmation, then face and fingerprint 1:1
// against the chosen record) and through the closed-area flow (face 1:N alone). Everything runs
// through the real clearance service on a real SQLite store. The result must never be an open
// rear gate in the document-free channel; the closed-area count shows how face-only 1:N fares.
//
// The gallery around each pair: every other person of the set (one photo each, none of the
// pair people), and for the document-free channel synthetic distractor templates drawn from a
// Gaussian fitted to the set's embeddings (mean and full covariance), to reach a realistic N.
#include "cli.h"
#include "distractor.h"
#include "clearway/alloc.h"
#include "clearway/clearance.h"
#include "clearway/err.h"
#include "clearway/file.h"
#include "clearway/thread.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { N_FINGERS = 50 };

typedef struct photo {
    char path[1100];
    int person;
    int ok; /* passed the capture checks and was embedded */
    float v[CW_FACE_MAX_DIM];
} photo_t;

typedef struct look {
    const char *root, *work;
    int pairs, threads;
    size_t distractors;
    char **names;
    size_t n_people;
    photo_t *photos;
    size_t n_photos;
    uint32_t dim;
    cw_face_engine_t *engine;
    cw_face_session_t **sessions;
    size_t done;
} look_t;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan(look_t *L)
{
    DIR *d = opendir(L->root);
    if (d == NULL) {
        fprintf(stderr, "clearway eval lookalike: cannot open %s: %s\n", L->root, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (L->n_people == cap) {
            cap = cap ? cap * 2 : 1024;
            L->names = realloc(L->names, cap * sizeof(char *));
        }
        L->names[L->n_people++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(L->names, L->n_people, sizeof(char *), cmp_name);
    size_t pcap = 0;
    for (size_t p = 0; p < L->n_people; p++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", L->root, L->names[p]);
        DIR *pd = opendir(dir);
        if (pd == NULL) {
            continue;
        }
        char **files = NULL;
        size_t nf = 0, fcap = 0;
        while ((e = readdir(pd)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n > 4 && strcmp(e->d_name + n - 4, ".jpg") == 0) {
                if (nf == fcap) {
                    fcap = fcap ? fcap * 2 : 8;
                    files = realloc(files, fcap * sizeof(char *));
                }
                files[nf++] = strdup(e->d_name);
            }
        }
        closedir(pd);
        qsort(files, nf, sizeof(char *), cmp_name);
        for (size_t f = 0; f < nf; f++) {
            if (L->n_photos == pcap) {
                pcap = pcap ? pcap * 2 : 4096;
                L->photos = realloc(L->photos, pcap * sizeof(photo_t));
            }
            photo_t *ph = &L->photos[L->n_photos++];
            memset(ph, 0, sizeof(*ph));
            if (snprintf(ph->path, sizeof(ph->path), "%s/%s", dir, files[f]) >=
                (int)sizeof(ph->path)) {
                L->n_photos--; // a path this long is not one of ours
            }
            ph->person = (int)p;
            free(files[f]);
        }
        free(files);
    }
    if (L->n_photos == 0) {
        fprintf(stderr, "clearway eval lookalike: no photos under %s (expected PERSON/*.jpg)\n",
                L->root);
        return -1;
    }
    return 0;
}

/* The gate's own capture path: decode, detect, subject, quality verdict, embed. */
static int embed_one(void *ctx, size_t i, int worker)
{
    look_t *L = ctx;
    photo_t *ph = &L->photos[i];
    cw_image_t img;
    if (cw_image_load(ph->path, CW_IMAGE_RGB, NULL, &img, NULL, 0) == 0) {
        // The gate's own checks: a photo counts only if a gate would take it.
        cw_face_capture_opts_t opts = {1, 0, CW_FACE_SUBJECT_AUTO};
        cw_face_capture_t cap;
        if (cw_face_capture(L->sessions[worker], &img, &opts, &cap) == 0 &&
            cap.problem == CW_FACE_CAPTURE_OK) {
            memcpy(ph->v, cap.tpl.v, cap.tpl.dim * sizeof(float));
            ph->ok = 1;
        }
        cw_image_free(&img);
    }
    size_t done = __atomic_add_fetch(&L->done, 1, __ATOMIC_RELAXED);
    if (done % 250 == 0 || done == L->n_photos) {
        fprintf(stderr, "\rembedding photos: %zu/%zu", done, L->n_photos);
        if (done == L->n_photos) {
            fputc('\n', stderr);
        }
    }
    return 0;
}

typedef struct pair {
    size_t a, b;
    float score;
} pair_t;

static float dot(const float *a, const float *b, uint32_t d)
{
    float s = 0;
    for (uint32_t i = 0; i < d; i++) {
        s += a[i] * b[i];
    }
    return s;
}

/* The `want` highest-scoring impostor pairs (different people), best first. */
static size_t top_pairs(const look_t *L, pair_t *top, size_t want)
{
    size_t n = 0;
    for (size_t i = 0; i < L->n_photos; i++) {
        const photo_t *a = &L->photos[i];
        if (!a->ok) {
            continue;
        }
        for (size_t j = i + 1; j < L->n_photos; j++) {
            const photo_t *b = &L->photos[j];
            if (!b->ok || b->person == a->person) {
                continue;
            }
            float s = dot(a->v, b->v, L->dim);
            if (n == want && s <= top[n - 1].score) {
                continue;
            }
            size_t k = n < want ? n++ : want - 1;
            while (k > 0 && top[k - 1].score < s) {
                top[k] = top[k - 1];
                k--;
            }
            top[k] = (pair_t){i, j, s};
        }
    }
    return n;
}

/* Distractors: N rows from a Gaussian with the set's mean and covariance, as a snapshot. */
static int write_distractors(const look_t *L, const char *path, uint32_t model_id,
                             uint32_t model_version)
{
    uint32_t d = L->dim;
    size_t n = 0;
    float *rows = cw_calloc(L->n_photos, (size_t)d * sizeof(float));
    for (size_t i = 0; rows != NULL && i < L->n_photos; i++) {
        if (L->photos[i].ok) {
            memcpy(rows + n++ * d, L->photos[i].v, d * sizeof(float));
        }
    }
    cw_cli_distractor_t model;
    int err = rows == NULL ? CW_ENOMEM : cw_cli_distractor_fit(rows, n, d, 1, 1, &model);
    cw_free_wipe(rows, L->n_photos * d * sizeof(float));
    if (err != 0) {
        fprintf(stderr, "clearway eval lookalike: distractor model: %s\n", cw_err_name(err));
        return err;
    }
    cw_gallery_config_t gc = {d, CW_MODALITY_FACE, model_id, model_version, L->distractors};
    cw_gallery_t *g;
    err = cw_gallery_create(&gc, &g);
    float *v = calloc(d, sizeof(float));
    for (size_t i = 0; err == 0 && i < L->distractors; i++) {
        cw_cli_distractor_sample(&model, i, 1, v, 0);
        err = cw_gallery_add(g, ((uint64_t)1 << 40) + i, v);
        if ((i + 1) % 100000 == 0 || i + 1 == L->distractors) {
            fprintf(stderr, "\rdistractors: %zu/%zu", i + 1, L->distractors);
            if (i + 1 == L->distractors) {
                fputc('\n', stderr);
            }
        }
    }
    char diag[256] = "";
    if (err == 0) {
        err = cw_gallery_save(g, path, diag, sizeof(diag));
    }
    if (err != 0) {
        fprintf(stderr, "clearway eval lookalike: distractors: %s %s\n", cw_err_name(err), diag);
    }
    cw_gallery_destroy(g);
    cw_cli_distractor_free(&model);
    free(v);
    return err;
}

// A photo's bytes, as a gate would send them (NULL if it cannot be read; free with
// cw_free_wipe(p, len)).
static uint8_t *read_photo(const char *path, size_t *len)
{
    uint8_t *p = NULL;
    return cw_file_read(path, (size_t)64 << 20, &p, len, NULL, 0) == 0 ? p : NULL;
}

/* Synthetic fingers as ISO records: N_FINGERS to enrol, one more that nobody enrolled. */
typedef struct fingers {
    uint8_t iso[N_FINGERS + 1][2][2048];
    size_t len[N_FINGERS + 1][2];
} fingers_t;

static int make_fingers(fingers_t *F)
{
    for (int f = 0; f <= N_FINGERS; f++) {
        for (int imp = 0; imp < 2; imp++) {
            cw_image_t img;
            cw_finger_template_t t;
            int err = cw_finger_synth(9000 + (uint32_t)f, (uint32_t)imp, NULL, &img);
            if (err == 0) {
                err = cw_finger_extract(&img, &t, NULL, NULL, 0);
                cw_image_free(&img);
            }
            if (err == 0) {
                err = cw_finger_iso_write(&t, F->iso[f][imp], sizeof(F->iso[f][imp]),
                                          &F->len[f][imp]);
            }
            if (err != 0) {
                fprintf(stderr, "clearway eval lookalike: synthetic finger %d: %s\n", f,
                        cw_err_name(err));
                return err;
            }
        }
    }
    return 0;
}

static void fill_traveller(cw_store_traveller_t *t, size_t serial, int64_t now)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name_latin, sizeof(t->name_latin), "PERSON Number %zu", serial);
    snprintf(t->name_local, sizeof(t->name_local), "人%zu", serial);
    t->sex = CW_SEX_UNSPECIFIED;
    t->birth = (cw_date_t){1975, 1, 1};
    t->residence = CW_RESIDENCE_HONG_KONG;
    snprintf(t->nationality, sizeof(t->nationality), "CHN");
    cw_store_document_t *d = &t->documents[t->n_documents++];
    d->type = CW_DOC_HK_IDENTITY_CARD;
    snprintf(d->number, sizeof(d->number), "L%08zu", serial);
    d->issued = (cw_date_t){2015, 1, 1};
    d->expires = (cw_date_t){2045, 1, 1};
    d = &t->documents[t->n_documents++];
    d->type = CW_DOC_CLOSED_AREA_PERMIT;
    snprintf(d->number, sizeof(d->number), "CA%08zu", serial);
    d->issued = (cw_date_t){2015, 1, 1};
    d->expires = (cw_date_t){2045, 1, 1};
    t->memberships[t->n_memberships++] =
        (cw_store_membership_t){.programme = CW_PROGRAMME_DOCUMENT_FREE, .enrolled_at = now};
    cw_store_membership_t ca = {.programme = CW_PROGRAMME_CLOSED_AREA, .enrolled_at = now};
    snprintf(ca.area, sizeof(ca.area), "FRONTIER");
    t->memberships[t->n_memberships++] = ca;
    t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FACE, now - 10, 0};
    t->consents[t->n_consents++] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, now - 10, 0};
}

static int enrol_photo(cw_clearance_t *c, const photo_t *ph, size_t serial, const fingers_t *F,
                       int64_t now, uint64_t *id)
{
    size_t len = 0;
    uint8_t *jpeg = read_photo(ph->path, &len);
    if (jpeg == NULL) {
        return CW_EIO;
    }
    cw_store_traveller_t t;
    fill_traveller(&t, serial, now);
    cw_clearance_enrolment_t bio;
    memset(&bio, 0, sizeof(bio));
    bio.face = jpeg;
    bio.face_len = len;
    bio.fingers[0] = F->iso[serial % N_FINGERS][0];
    bio.finger_lens[0] = F->len[serial % N_FINGERS][0];
    bio.finger_is_iso[0] = 1;
    bio.n_fingers = 1;
    cw_clearance_enrol_result_t res;
    char diag[256] = "";
    int err = cw_clearance_enrol(c, &t, &bio, now, "eval lookalike", &res, diag, sizeof(diag));
    cw_free_wipe(jpeg, len);
    if (err != 0) {
        fprintf(stderr, "enrol %s: %s (%s)\n", ph->path, diag, cw_err_name(err));
    }
    *id = res.traveller;
    return err;
}

typedef struct tally {
    size_t by_reason[CW_REASON_N];
    size_t opened;    /* rear gate opened */
    size_t confirmed; /* document-free: the masked hint of the enrolled person was shown */
} tally_t;

/* Present the photo at gate (1:N) and follow the flow to its end. */
static int walk(cw_clearance_t *c, uint64_t gate, const photo_t *ph, const fingers_t *F,
                int64_t now, tally_t *t, cw_reason_t *outcome)
{
    size_t len = 0;
    uint8_t *jpeg = read_photo(ph->path, &len);
    if (jpeg == NULL) {
        return CW_EIO;
    }
    cw_clearance_reply_t r;
    char diag[256] = "";
    int err = cw_clearance_begin(c, gate, now, "eval", &r, diag, sizeof(diag));
    cw_clearance_event_t ev = {.type = CW_EV_FACE, .face = jpeg, .face_len = len};
    uint64_t txn = r.txn;
    if (err == 0) {
        err = cw_clearance_step(c, gate, txn, &ev, now, "eval", &r, diag, sizeof(diag));
    }
    if (err == 0 && r.action == CW_ACTION_SHOW_CONFIRMATION) {
        t->confirmed++;
        ev = (cw_clearance_event_t){.type = CW_EV_CONFIRM};
        err = cw_clearance_step(c, gate, txn, &ev, now, "eval", &r, diag, sizeof(diag));
        if (err == 0) {
            // Inside: the same person's face, and his own finger (one nobody enrolled).
            ev = (cw_clearance_event_t){.type = CW_EV_INSIDE,
                                        .face = jpeg,
                                        .face_len = len,
                                        .finger = F->iso[N_FINGERS][1],
                                        .finger_len = F->len[N_FINGERS][1],
                                        .finger_is_iso = 1};
            err = cw_clearance_step(c, gate, txn, &ev, now, "eval", &r, diag, sizeof(diag));
        }
    }
    cw_free_wipe(jpeg, len);
    if (err != 0) {
        fprintf(stderr, "clearway eval lookalike: %s: %s (%s)\n", ph->path, diag, cw_err_name(err));
        return err;
    }
    if (r.action == CW_ACTION_OPEN_REAR) {
        t->opened++;
    } else {
        t->by_reason[r.reason]++;
    }
    *outcome = r.action == CW_ACTION_OPEN_REAR ? CW_REASON_NONE : r.reason;
    return 0;
}

static void print_tally(const char *flow, const tally_t *t, size_t n)
{
    printf("%s (%zu impostors):\n", flow, n);
    printf("  rear gate opened: %zu\n", t->opened);
    if (t->confirmed > 0) {
        printf("  shown a masked hint and confirmed: %zu\n", t->confirmed);
    }
    for (int r = 0; r < CW_REASON_N; r++) {
        if (t->by_reason[r] > 0) {
            printf("  referred, %s: %zu\n", cw_reason_name((cw_reason_t)r), t->by_reason[r]);
        }
    }
}

static int run(look_t *L)
{
    if (scan(L) != 0) {
        return CW_EXIT_FAIL;
    }
    fprintf(stderr, "%zu people, %zu photos under %s\n", L->n_people, L->n_photos, L->root);
    cw_face_config_t fc = {0};
    fc.deps_dir = cw_cli_deps_dir();
    fc.min_face = 64; // as the service's gate engine, so the capture checks agree
    char diag[256] = "";
    if (cw_face_engine_create(&fc, &L->engine, diag, sizeof(diag)) != 0) {
        fprintf(stderr, "clearway eval lookalike: %s\n", diag);
        return CW_EXIT_FAIL;
    }
    uint32_t model_id, model_version;
    cw_face_engine_model(L->engine, &model_id, &model_version, &L->dim);
    cw_pool_t *pool = NULL;
    if (cw_pool_create(L->threads - 1, &pool) != 0) {
        return CW_EXIT_FAIL;
    }
    L->sessions = calloc((size_t)L->threads, sizeof(*L->sessions));
    for (int i = 0; i < L->threads; i++) {
        if (cw_face_session_create(L->engine, &L->sessions[i], diag, sizeof(diag)) != 0) {
            return CW_EXIT_FAIL;
        }
    }
    cw_pool_parallel_for(pool, L->n_photos, embed_one, L);
    size_t usable = 0;
    for (size_t i = 0; i < L->n_photos; i++) {
        usable += L->photos[i].ok;
    }
    fprintf(stderr, "%zu photos pass the gate's capture checks\n", usable);
    pair_t *top = calloc((size_t)L->pairs, sizeof(pair_t));
    size_t n_top = top_pairs(L, top, (size_t)L->pairs);

    mkdir(L->work, 0700);
    char db[1200], snap[1200];
    snprintf(db, sizeof(db), "%s/lookalike.db", L->work);
    snprintf(snap, sizeof(snap), "%s/distractors.cwg", L->work);
    unlink(db);
    char keyf[1300];
    snprintf(keyf, sizeof(keyf), "%s.key", db);
    unlink(keyf);
    if (L->distractors > 0 && write_distractors(L, snap, model_id, model_version) != 0) {
        return CW_EXIT_FAIL;
    }
    static fingers_t F;
    if (make_fingers(&F) != 0) {
        return CW_EXIT_FAIL;
    }
    int64_t now = (int64_t)time(NULL);
    cw_store_t *st;
    uint64_t port, gate_df, gate_ca;
    if (cw_store_open(db, NULL, &st, diag, sizeof(diag)) != 0 ||
        cw_store_port_add(st, "EVAL", "lookalike check", &port, diag, sizeof(diag)) != 0 ||
        cw_store_gate_add(st, port, "DF", CW_PROGRAMME_DOCUMENT_FREE, &gate_df, diag,
                          sizeof(diag)) != 0 ||
        cw_store_gate_add(st, port, "CA", CW_PROGRAMME_CLOSED_AREA, &gate_ca, diag, sizeof(diag)) !=
            0) {
        fprintf(stderr, "clearway eval lookalike: store: %s\n", diag);
        return CW_EXIT_FAIL;
    }
    cw_store_close(st);
    cw_clearance_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = db;
    cfg.face.deps_dir = cw_cli_deps_dir();
    cfg.workers = 2;
    cfg.search_threads = L->threads;
    cfg.distractors = L->distractors > 0 ? snap : NULL;
    cw_clearance_t *c;
    if (cw_clearance_create(&cfg, &c, diag, sizeof(diag)) != 0) {
        fprintf(stderr, "clearway eval lookalike: service: %s\n", diag);
        return CW_EXIT_FAIL;
    }
    // The population around the pairs: one photo of every person not in any pair.
    char *in_pair = calloc(L->n_people, 1);
    for (size_t i = 0; i < n_top; i++) {
        in_pair[L->photos[top[i].a].person] = 1;
        in_pair[L->photos[top[i].b].person] = 1;
    }
    char *enrolled = calloc(L->n_people, 1);
    size_t serial = 0, base = 0;
    for (size_t i = 0; i < L->n_photos; i++) {
        const photo_t *ph = &L->photos[i];
        if (!ph->ok || in_pair[ph->person] || enrolled[ph->person]) {
            continue;
        }
        uint64_t id;
        if (enrol_photo(c, ph, ++serial, &F, now, &id) == 0) {
            enrolled[ph->person] = 1;
            base++;
        }
        if (base % 200 == 0) {
            fprintf(stderr, "\renrolling the population: %zu", base);
        }
    }
    cw_clearance_stats_t stats;
    cw_clearance_stats(c, &stats);
    fprintf(stderr,
            "\renrolled %zu people; document-free gallery %llu + %zu distractors, closed "
            "area %llu\n",
            base, (unsigned long long)stats.gallery_n[CW_PROGRAMME_DOCUMENT_FREE], L->distractors,
            (unsigned long long)stats.gallery_n[CW_PROGRAMME_CLOSED_AREA]);

    tally_t df = {0}, ca = {0}, control = {0};
    int rc = CW_EXIT_OK;
    printf("rank\tscore\tenrolled\tpresented\tdocument_free\tclosed_area\n");
    for (size_t i = 0; i < n_top; i++) {
        const photo_t *a = &L->photos[top[i].a], *b = &L->photos[top[i].b];
        uint64_t id;
        if (enrol_photo(c, a, ++serial, &F, now, &id) != 0) {
            rc = CW_EXIT_FAIL;
            break;
        }
        cw_reason_t o_df, o_ca, o_ctl;
        int err = walk(c, gate_df, b, &F, now, &df, &o_df);
        if (err == 0) {
            err = walk(c, gate_ca, b, &F, now, &ca, &o_ca);
        }
        // Control: the enrolled photo itself at the closed-area gate must open it.
        if (err == 0) {
            err = walk(c, gate_ca, a, &F, now, &control, &o_ctl);
        }
        if (err == 0) {
            err = cw_clearance_traveller_delete(c, id, now, "eval lookalike", diag, sizeof(diag));
        }
        if (err != 0) {
            rc = CW_EXIT_FAIL;
            break;
        }
        printf("%zu\t%.4f\t%s\t%s\t%s\t%s\n", i + 1, top[i].score, strrchr(a->path, '/') + 1,
               strrchr(b->path, '/') + 1,
               o_df == CW_REASON_NONE ? "OPEN_REAR" : cw_reason_name(o_df),
               o_ca == CW_REASON_NONE ? "OPEN_REAR" : cw_reason_name(o_ca));
    }
    printf("\n");
    print_tally("document-free channel", &df, n_top);
    print_tally("closed-area flow", &ca, n_top);
    print_tally("control (the enrolled photo itself, closed area)", &control, n_top);
    if (df.opened > 0) {
        printf("FAIL: a lookalike opened the document-free channel's rear gate\n");
        rc = CW_EXIT_FAIL;
    }
    cw_clearance_destroy(c);
    free(in_pair);
    free(enrolled);
    free(top);
    for (int i = 0; i < L->threads; i++) {
        cw_face_session_destroy(L->sessions[i]);
    }
    free(L->sessions);
    cw_pool_destroy(pool);
    cw_face_engine_destroy(L->engine);
    return rc;
}

int cw_cli_eval_lookalike(int argc, char **argv)
{
    look_t L;
    memset(&L, 0, sizeof(L));
    const char *data = getenv("CLEARWAY_DATA");
    static char root[1024];
    snprintf(root, sizeof(root), "%s/faces/lfw-dev", data != NULL ? data : "../shared/data");
    L.root = root;
    L.work = "build/lookalike";
    L.pairs = 100;
    L.threads = 2;
    L.distractors = 100000;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            return cw_cli_usage_error("eval", "unknown argument '%s'", a);
        }
        if (strcmp(a, "--root") == 0) {
            L.root = argv[++i];
        } else if (strcmp(a, "--work") == 0) {
            L.work = argv[++i];
        } else if (strcmp(a, "--pairs") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, argv[++i], 1, 10000, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            L.pairs = (int)n;
        } else if (strcmp(a, "--distractors") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, argv[++i], 0, 100000000, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            L.distractors = (size_t)n;
        } else if (strcmp(a, "--threads") == 0) {
            long n = 0;
            if (cw_cli_long_arg("eval", a, argv[++i], 1, 64, &n) != 0) {
                return CW_EXIT_USAGE;
            }
            L.threads = (int)n;
        } else {
            return cw_cli_usage_error("eval", "unknown argument '%s'", a);
        }
    }
    struct stat sb;
    if (stat(L.root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr,
                "clearway eval lookalike: %s is not a folder of faces (set CLEARWAY_DATA or "
                "--root; see ../shared/data/README.md)\n",
                L.root);
        return CW_EXIT_FAIL;
    }
    int rc = run(&L);
    for (size_t i = 0; i < L.n_people; i++) {
        free(L.names[i]);
    }
    free(L.names);
    free(L.photos);
    return rc;
}
