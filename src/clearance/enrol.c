// SPDX-License-Identifier: Apache-2.0
// Records through the service: enrolment (templates extracted here, a duplicate-identity check
// against every gallery, the record stored in one transaction, then the galleries updated),
// consent withdrawal and deletion (store first, then the galleries, so a withdrawn face can
// never be searched again), QR tokens and retention.
#include "clearance_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

enum { ISO_MAX = 8 + 16 + 6 * CW_FINGER_MAX_MINUTIAE + 16 };

int cw__finger_from_bytes(const uint8_t *buf, size_t len, int is_iso, cw_finger_template_t *out,
                          cw_reason_t *problem)
{
    *problem = CW_REASON_NONE;
    char diag[128];
    if (is_iso) {
        int err = cw_finger_iso_read(buf, len, out, diag, sizeof(diag));
        if (err == CW_ENOMEM) {
            return err;
        }
        if (err != 0) {
            *problem = CW_REASON_BAD_IMAGE;
        } else if (out->n < 8) {
            *problem = CW_REASON_FINGER_QUALITY;
        }
        return 0;
    }
    cw_image_t img;
    int dpi = 0;
    int err = cw_finger_tiff_decode(buf, len, &img, &dpi, diag, sizeof(diag));
    if (err == CW_EUNSUPPORTED) {
        cw_image_limits_t lim = {CW_FINGER_MAX_SIDE, CW_FINGER_MAX_PIXELS};
        err = cw_image_decode(buf, len, CW_IMAGE_GRAY, &lim, &img, diag, sizeof(diag));
    }
    if (err == 0 && dpi != 0 && dpi != CW_FINGER_DPI) {
        cw_image_t scaled;
        err = cw_finger_image_from_raw(img.data, img.width, img.height, img.stride, dpi, &scaled);
        cw_image_free(&img);
        img = scaled;
    }
    if (err == CW_ENOMEM) {
        return err;
    }
    if (err != 0) {
        *problem = CW_REASON_BAD_IMAGE;
        return 0;
    }
    cw_finger_quality_t q;
    err = cw_finger_extract(&img, out, &q, diag, sizeof(diag));
    cw_image_free(&img);
    if (err == CW_ENOMEM) {
        return err;
    }
    if (err != 0 || q.verdict != CW_FINGER_OK || out->n < 8) {
        *problem = CW_REASON_FINGER_QUALITY;
    }
    return 0;
}

typedef struct dup_hit {
    uint64_t id;
    float score;
} dup_hit_t;

/* The most similar enrolled face over every gallery. */
static int most_similar(cw_clearance_t *c, const float *v, dup_hit_t *best)
{
    best->id = 0;
    best->score = -2;
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cw_gallery_hit_t h;
        int n = 0;
        int err = cw_gallery_search(c->gallery[p], v, 1, c->search_pool, &h, &n);
        if (err != 0) {
            return err;
        }
        if (n == 1 && h.score > best->score) {
            best->id = h.id;
            best->score = h.score;
        }
    }
    return 0;
}

int cw_clearance_enrol(cw_clearance_t *c, cw_store_traveller_t *t,
                       const cw_clearance_enrolment_t *bio, int64_t now, const char *actor,
                       cw_clearance_enrol_result_t *res, char *diag, size_t diag_len)
{
    if (c == NULL || t == NULL || bio == NULL || res == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    memset(res, 0, sizeof(*res));
    if (t->n_templates != 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "templates are made by the service");
    }
    if (bio->n_fingers < 0 || bio->n_fingers > CW_STORE_MAX_TEMPLATES - 1) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "at most %d fingerprints",
                           CW_STORE_MAX_TEMPLATES - 1);
    }
    cw_face_template_t *face = cw_calloc(1, sizeof(*face));
    uint8_t *iso = cw_malloc((size_t)CW_STORE_MAX_TEMPLATES * ISO_MAX);
    cw_finger_template_t *ft = cw_malloc(sizeof(*ft));
    if (face == NULL || iso == NULL || ft == NULL) {
        cw_free(face);
        cw_free(iso);
        cw_free(ft);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    cw__worker_t *w = cw__worker_take(c);
    int err = 0, have_face = 0;
    if (bio->face != NULL && bio->face_len > 0) {
        cw_reason_t problem;
        err = cw__face_from_image(c, w, bio->face, bio->face_len, 1, 0, face, &problem, NULL);
        if (err == 0 && problem != CW_REASON_NONE) {
            res->face_problem = problem;
            err = cw_diag_set(diag, diag_len, CW_EINVAL, "the face photo cannot be used: %s",
                              cw_reason_instruction(problem));
        }
        if (err == 0) {
            have_face = 1;
            dup_hit_t best;
            err = most_similar(c, face->v, &best);
            double thr = cw_face_threshold(c->model_id, c->model_version, c->flags, 1e-4);
            if (err == 0 && best.id != 0 && best.score >= thr) {
                t->status = CW_STORE_REVIEW;
                t->review_of = best.id;
                res->duplicate_of = 1;
                res->resembles = best.id;
            }
            cw_store_template_t *b = &t->templates[t->n_templates++];
            memset(b, 0, sizeof(*b));
            b->modality = CW_MODALITY_FACE;
            b->model_id = c->model_id;
            b->model_version = c->model_version;
            b->quality = 1.0f;
            b->captured_at = now;
            snprintf(b->device, sizeof(b->device), "enrolment");
            b->data = face->v;
            b->len = c->dim * sizeof(float);
        }
    }
    for (int i = 0; err == 0 && i < bio->n_fingers; i++) {
        cw_reason_t problem;
        err = cw__finger_from_bytes(bio->fingers[i], bio->finger_lens[i], bio->finger_is_iso[i], ft,
                                    &problem);
        if (err == 0 && problem != CW_REASON_NONE) {
            res->finger_problems++;
            continue;
        }
        size_t len = 0;
        uint8_t *dst = iso + (size_t)i * ISO_MAX;
        if (err == 0) {
            err = cw_finger_iso_write(ft, dst, ISO_MAX, &len);
        }
        if (err == 0) {
            cw_store_template_t *b = &t->templates[t->n_templates++];
            memset(b, 0, sizeof(*b));
            b->modality = CW_MODALITY_FINGERPRINT;
            b->model_id = 1;
            b->model_version = CW_FINGER_MATCHER_VERSION;
            b->quality = (float)ft->quality / 100.0f;
            b->captured_at = now;
            snprintf(b->device, sizeof(b->device), "enrolment");
            b->data = dst;
            b->len = len;
        }
    }
    if (err == 0 && res->finger_problems > 0) {
        err = cw_diag_set(diag, diag_len, CW_EINVAL,
                          "%d fingerprint image(s) could not be used: capture them again",
                          res->finger_problems);
    }
    if (err == 0) {
        err = cw_store_enrol(w->st, t, now, actor, diag, diag_len);
    }
    cw__worker_give(c, w);
    if (err == 0 && have_face) {
        err = cw__galleries_add(c, t, face->v);
        if (err != 0) {
            (void)cw_diag_set(diag, diag_len, err,
                              "traveller %llu is stored but could not be added to the galleries "
                              "(restart the service to reload them)",
                              (unsigned long long)t->id);
        }
    }
    if (err == 0) {
        res->traveller = t->id;
        for (int i = 0; i < t->n_memberships; i++) {
            cw_programme_t p = t->memberships[i].programme;
            if (p >= CW_PROGRAMME_DOCUMENT_FREE && p <= CW_PROGRAMME_CLOSED_AREA) {
                (void)cw_store_eligibility(t, p, now, &res->eligibility[p]);
            }
        }
    }
    for (int i = 0; i < t->n_templates; i++) {
        t->templates[i].data = NULL; // borrowed buffers go now
    }
    cw_free_wipe(face, sizeof(*face));
    cw_free_wipe(iso, (size_t)CW_STORE_MAX_TEMPLATES * ISO_MAX);
    cw_free_wipe(ft, sizeof(*ft));
    return err;
}

int cw_clearance_consent_withdraw(cw_clearance_t *c, uint64_t traveller, cw_modality_t modality,
                                  int64_t now, const char *actor, char *diag, size_t diag_len)
{
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    uint64_t removed[CW_STORE_MAX_TEMPLATES];
    size_t n = 0;
    cw__worker_t *w = cw__worker_take(c);
    int err = cw_store_consent_withdraw(w->st, traveller, modality, now, actor, removed,
                                        CW_STORE_MAX_TEMPLATES, &n, diag, diag_len);
    cw__worker_give(c, w);
    if (err == 0 && modality == CW_MODALITY_FACE) {
        cw__galleries_remove(c, traveller);
    }
    return err;
}

int cw_clearance_traveller_delete(cw_clearance_t *c, uint64_t traveller, int64_t now,
                                  const char *actor, char *diag, size_t diag_len)
{
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    uint64_t removed[CW_STORE_MAX_TEMPLATES];
    size_t n = 0;
    cw__worker_t *w = cw__worker_take(c);
    int err = cw_store_traveller_delete(w->st, traveller, now, actor, removed,
                                        CW_STORE_MAX_TEMPLATES, &n, diag, diag_len);
    cw__worker_give(c, w);
    if (err == 0) {
        cw__galleries_remove(c, traveller);
    }
    return err;
}

int cw_clearance_token_issue(cw_clearance_t *c, uint64_t traveller, int64_t now, int64_t expires_at,
                             const char *actor, char qr[CW_TOKEN_TEXT_MAX], uint64_t *token_id,
                             char *diag, size_t diag_len)
{
    if (c == NULL || qr == NULL || token_id == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    if (expires_at <= now) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "the token would be expired already");
    }
    cw__worker_t *w = cw__worker_take(c);
    int err =
        cw_store_token_add(w->st, traveller, now, expires_at, actor, token_id, diag, diag_len);
    cw__worker_give(c, w);
    if (err == 0) {
        cw_token_t tok = {*token_id, traveller, now, expires_at};
        err = cw_token_encode(&tok, c->token_sk, qr, CW_TOKEN_TEXT_MAX);
    }
    return err;
}

int cw_clearance_purge(cw_clearance_t *c, int64_t now, const cw_store_retention_t *policy,
                       size_t *n_purged, char *diag, size_t diag_len)
{
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    cw_store_purge_report_t rep;
    memset(&rep, 0, sizeof(rep));
    cw__worker_t *w = cw__worker_take(c);
    int err = cw_store_purge(w->st, now, policy, 0, "retention", &rep, diag, diag_len);
    cw__worker_give(c, w);
    if (err == 0) {
        pthread_mutex_lock(&c->gallery_write);
        for (size_t i = 0; i < rep.n_items; i++) {
            const cw_store_purge_item_t *it = &rep.items[i];
            for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
                if (it->whole_record || it->programme == (cw_programme_t)p) {
                    (void)cw_gallery_remove(c->gallery[p], it->traveller);
                }
            }
        }
        pthread_mutex_unlock(&c->gallery_write);
        if (n_purged != NULL) {
            *n_purged = rep.n_items;
        }
    }
    cw_store_purge_report_free(&rep);
    return err;
}
