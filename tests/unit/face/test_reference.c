// SPDX-License-Identifier: Apache-2.0
// Agreement of the face pipeline with an independent implementation of the same models
// (tools/reference/face_reference.js: its own resampling, NMS and alignment, every network run
// by the TFLite reference interpreter), on the real sample photos of the face-api package.
// Fixture: tests/fixtures/face/reference.txt. Bars from issue 3: every face found by both,
// boxes IoU >= 0.95, landmarks within 1.5 px, alignment within 0.05 px on the template, and the
// embedding of the same aligned crop at cosine >= 0.999. Faces whose final NMS was a near tie
// list the boxes they beat ("rivals"); C may match either.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/face.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CW_TEST_DEPS_DIR
#define CW_TEST_DEPS_DIR ".deps"
#endif
#ifndef CW_TEST_FIXTURES
#define CW_TEST_FIXTURES "tests/fixtures"
#endif

enum { MAX_REC = 16, DIM = 192 };

typedef struct rec {
    cw_face_t face;
    double m[6];
    float emb[DIM];
    int is_rival;
} rec_t;

typedef struct photo {
    char file[64];
    int n_faces;
    int subject;
    rec_t rec[MAX_REC];
    int n_rec;
} photo_t;

static const char *deps_dir(void)
{
    const char *d = getenv("CLEARWAY_DEPS");
    return d != NULL && d[0] != '\0' ? d : CW_TEST_DEPS_DIR;
}

static int next_token(FILE *f, char *buf, size_t len)
{
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) {
                c = fgetc(f);
            }
        }
        if (c == EOF) {
            return 0;
        }
        if (c != ' ' && c != '\n' && c != '\t') {
            break;
        }
    }
    size_t n = 0;
    while (c != EOF && c != ' ' && c != '\n' && c != '\t') {
        if (n + 1 < len) {
            buf[n++] = (char)c;
        }
        c = fgetc(f);
    }
    buf[n] = '\0';
    return 1;
}

static double num(FILE *f)
{
    char t[64];
    assert_true(next_token(f, t, sizeof(t)));
    char *end;
    double v = strtod(t, &end);
    assert_true(*end == '\0');
    return v;
}

static void expect_word(FILE *f, const char *w)
{
    char t[64];
    assert_true(next_token(f, t, sizeof(t)));
    if (strcmp(t, w) != 0) {
        fail_msg("fixture: expected '%s', got '%s'", w, t);
    }
}

// A face or rival record after its keyword and index.
static void read_record(FILE *f, rec_t *r, int *rivals)
{
    r->face.x0 = (float)num(f);
    r->face.y0 = (float)num(f);
    r->face.x1 = (float)num(f);
    r->face.y1 = (float)num(f);
    r->face.score = (float)num(f);
    for (int j = 0; j < 5; j++) {
        r->face.lm[j][0] = (float)num(f);
        r->face.lm[j][1] = (float)num(f);
    }
    if (rivals != NULL) {
        expect_word(f, "rivals");
        *rivals = (int)num(f);
    }
    expect_word(f, "align");
    for (int k = 0; k < 6; k++) {
        r->m[k] = num(f);
    }
    expect_word(f, "embedding");
    assert_int_equal((int)num(f), DIM);
    for (int k = 0; k < DIM; k++) {
        r->emb[k] = (float)num(f);
    }
}

static int read_fixture(photo_t *photos, int max)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/face/reference.txt", CW_TEST_FIXTURES);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char t[128];
    int n = -1;
    while (next_token(f, t, sizeof(t))) {
        if (strcmp(t, "image") == 0) {
            assert_true(n + 1 < max);
            photo_t *p = &photos[++n];
            memset(p, 0, sizeof(*p));
            assert_true(next_token(f, p->file, sizeof(p->file)));
            assert_true(next_token(f, t, sizeof(t))); // sha256
            num(f);
            num(f);
            expect_word(f, "faces");
            p->n_faces = (int)num(f);
            expect_word(f, "subject");
            p->subject = (int)num(f);
        } else if (strcmp(t, "face") == 0 || strcmp(t, "rival") == 0) {
            assert_true(n >= 0);
            photo_t *p = &photos[n];
            assert_true(p->n_rec < MAX_REC);
            rec_t *r = &p->rec[p->n_rec++];
            r->is_rival = t[0] == 'r';
            num(f); // index
            int rivals = 0;
            read_record(f, r, r->is_rival ? NULL : &rivals);
        }
        // model / config lines: their values are skipped token by token
    }
    fclose(f);
    return n + 1;
}

static double iou(const cw_face_t *a, const cw_face_t *b)
{
    double iw = fmin(a->x1, b->x1) - fmax(a->x0, b->x0);
    double ih = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    if (iw <= 0 || ih <= 0) {
        return 0.0;
    }
    double ua =
        (double)(a->x1 - a->x0) * (a->y1 - a->y0) + (double)(b->x1 - b->x0) * (b->y1 - b->y0);
    return iw * ih / (ua - iw * ih);
}

static void test_agrees_with_reference(void **state)
{
    (void)state;
    static photo_t photos[8];
    int n_photos = read_fixture(photos, 8);
    assert_int_equal(n_photos, 6);
    cw_face_config_t cfg = {0};
    cfg.deps_dir = deps_dir();
    cw_face_engine_t *e;
    cw_face_session_t *s;
    char diag[512] = "";
    if (cw_face_engine_create(&cfg, &e, diag, sizeof(diag)) != 0) {
        fail_msg("face models: %s (run `make setup`)", diag);
    }
    assert_int_equal(cw_face_session_create(e, &s, diag, sizeof(diag)), 0);
    double worst_iou = 1.0;
    double worst_lm = 0.0;
    double worst_cos = 1.0;
    int checked = 0;
    for (int i = 0; i < n_photos; i++) {
        photo_t *p = &photos[i];
        char path[4096];
        int len = snprintf(path, sizeof(path), "%s/npm/face-api/demo/%s", deps_dir(), p->file);
        assert_true(len > 0 && (size_t)len < sizeof(path));
        cw_image_t img;
        assert_int_equal(cw_image_load(path, CW_IMAGE_RGB, NULL, &img, diag, sizeof(diag)), 0);
        cw_face_t faces[CW_FACE_MAX_FACES];
        int n = 0;
        assert_int_equal(cw_face_detect(s, &img, faces, CW_FACE_MAX_FACES, &n), 0);
        if (n != p->n_faces) {
            fail_msg("%s: %d faces, the reference found %d", p->file, n, p->n_faces);
        }
        int used[MAX_REC] = {0};
        for (int k = 0; k < n; k++) {
            int best = -1;
            double best_iou = 0.0;
            for (int r = 0; r < p->n_rec; r++) {
                double v = iou(&faces[k], &p->rec[r].face);
                if (v > best_iou) {
                    best_iou = v;
                    best = r;
                }
            }
            assert_true(best >= 0 && !used[best]);
            used[best] = 1;
            const rec_t *r = &p->rec[best];
            if (best_iou < 0.95) {
                fail_msg("%s face %d: IoU %.4f with the reference", p->file, k, best_iou);
            }
            worst_iou = fmin(worst_iou, best_iou);
            for (int j = 0; j < 5; j++) {
                double d = hypot(faces[k].lm[j][0] - r->face.lm[j][0],
                                 faces[k].lm[j][1] - r->face.lm[j][1]);
                if (d > 1.5) {
                    fail_msg("%s face %d landmark %d: %.2f px from the reference", p->file, k, j,
                             d);
                }
                worst_lm = fmax(worst_lm, d);
            }
            // Same landmarks -> same alignment (on the template's corners) and embedding.
            double m[6];
            assert_int_equal(cw_face_align(&r->face, m), 0);
            for (int c = 0; c < 4; c++) {
                double x = (c & 1) ? 111.0 : 0.0;
                double y = (c & 2) ? 111.0 : 0.0;
                double du = (m[0] - r->m[0]) * x + (m[1] - r->m[1]) * y + (m[2] - r->m[2]);
                double dv = (m[3] - r->m[3]) * x + (m[4] - r->m[4]) * y + (m[5] - r->m[5]);
                assert_true(hypot(du, dv) < 0.05);
            }
            cw_face_template_t t;
            assert_int_equal(cw_face_embed(s, &img, &r->face, &t), 0);
            double dot = 0.0;
            double nr = 0.0;
            for (int d = 0; d < DIM; d++) {
                dot += (double)t.v[d] * r->emb[d];
                nr += (double)r->emb[d] * r->emb[d];
            }
            double cosv = dot / sqrt(nr);
            if (cosv < 0.999) {
                fail_msg("%s face %d: embedding cosine %.5f with the reference", p->file, k, cosv);
            }
            worst_cos = fmin(worst_cos, cosv);
            checked++;
        }
        cw_image_free(&img);
    }
    printf("agreement over %d faces: worst IoU %.4f, landmarks %.3f px, cosine %.5f\n", checked,
           worst_iou, worst_lm, worst_cos);
    assert_true(checked >= 20);
    cw_face_session_destroy(s);
    cw_face_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
