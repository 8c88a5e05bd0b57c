// SPDX-License-Identifier: Apache-2.0
// Face pictures made at test time from the sample photos (see faces.h).
#include "faces.h"

#include "clearway/finger.h"

#include <stdio.h> // before jpeglib.h, which uses FILE

#include <jpeglib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cw_it_encode_jpeg(const cw_image_t *img, uint8_t **jpeg, size_t *n)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = img->channels;
    c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, img->channels == 1 ? 97 : 92, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->data + (size_t)c.next_scanline * img->stride;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *jpeg = buf;
    *n = len;
    return 0;
}

// A side x side square crop of photo centred at (cx, cy), grey outside the photo.
static int crop(const cw_image_t *src, double cx, double cy, int side, cw_image_t *out)
{
    if (cw_image_alloc(side, side, 3, out) != 0) {
        return -1;
    }
    int x0 = (int)(cx - side / 2.0), y0 = (int)(cy - side / 2.0);
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++) {
            int sx = x0 + x, sy = y0 + y;
            uint8_t *d = out->data + (size_t)y * out->stride + (size_t)x * 3;
            if (sx < 0 || sy < 0 || sx >= src->width || sy >= src->height) {
                d[0] = d[1] = d[2] = 128;
            } else {
                memcpy(d, src->data + (size_t)sy * src->stride + (size_t)sx * 3, 3);
            }
        }
    }
    return 0;
}

static int face_image(cw_it_faces_t *f, int i, double scale, int side, cw_image_t *out)
{
    const cw_it_face_t *p = &f->faces[i];
    double w = p->face.x1 - p->face.x0, h = p->face.y1 - p->face.y0;
    double s = scale * (w > h ? w : h);
    cw_image_t big;
    if (crop(&f->photos[p->photo], (p->face.x0 + p->face.x1) / 2, (p->face.y0 + p->face.y1) / 2,
             (int)s, &big) != 0) {
        return -1;
    }
    int rc = cw_image_resize(&big, side, side, out);
    cw_image_free(&big);
    return rc;
}

int cw_it_face_jpeg(cw_it_faces_t *f, int i, double scale, int side, uint8_t **jpeg, size_t *n)
{
    cw_image_t img;
    if (face_image(f, i, scale, side, &img) != 0) {
        return -1;
    }
    int rc = cw_it_encode_jpeg(&img, jpeg, n);
    cw_image_free(&img);
    return rc;
}

// The crop encoded as it is sent, then decoded again.
static int as_sent(cw_it_faces_t *f, int i, double scale, int side, cw_image_t *out)
{
    uint8_t *jpeg = NULL;
    size_t n = 0;
    int rc = cw_it_face_jpeg(f, i, scale, side, &jpeg, &n);
    if (rc == 0) {
        rc = cw_image_decode(jpeg, n, CW_IMAGE_RGB, NULL, out, NULL, 0) == 0 ? 0 : -1;
    }
    free(jpeg);
    return rc;
}

int cw_it_enrol_jpeg(cw_it_faces_t *f, int i, uint8_t **jpeg, size_t *n)
{
    return cw_it_face_jpeg(f, i, 2.2, 400, jpeg, n);
}

int cw_it_probe_jpeg(cw_it_faces_t *f, int i, uint8_t **jpeg, size_t *n)
{
    return cw_it_face_jpeg(f, i, 1.7, 300, jpeg, n);
}

// The subject of an image: its template and quality verdict; -1 if none.
static int subject(cw_it_faces_t *f, const cw_image_t *img, cw_face_template_t *t,
                   cw_face_quality_verdict_t *verdict)
{
    cw_face_capture_opts_t opts = {1, 0, CW_FACE_SUBJECT_AUTO};
    cw_face_capture_t cap;
    if (cw_face_capture(f->session, img, &opts, &cap) != 0 ||
        cap.problem == CW_FACE_CAPTURE_NO_FACE) {
        return -1;
    }
    const cw_face_quality_t *q = &cap.quality;
    // A small margin below the limits (25, 25, 20 degrees): a face right at one could tip over.
    int margin = fabsf(q->yaw) <= 23 && fabsf(q->pitch) <= 23 && fabsf(q->roll) <= 18;
    *verdict = q->verdict == CW_FACE_QUALITY_OK && !margin ? CW_FACE_QUALITY_POSE : q->verdict;
    if (cap.problem != CW_FACE_CAPTURE_OK) {
        return -1;
    }
    *t = cap.tpl;
    return 0;
}

int cw_it_faces_open(cw_it_faces_t *f, const char *deps, char *why, size_t why_len)
{
    memset(f, 0, sizeof(*f));
    // As the clearance service's engine (its default smallest face is 64 px).
    cw_face_config_t cfg = {.deps_dir = deps, .min_face = 64};
    char diag[256] = "";
    if (cw_face_engine_create(&cfg, &f->engine, diag, sizeof(diag)) != 0 ||
        cw_face_session_create(f->engine, &f->session, diag, sizeof(diag)) != 0) {
        snprintf(why, why_len, "face models: %s", diag);
        return -1;
    }
    for (int p = 0; p < CW_IT_PHOTOS; p++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/npm/face-api/demo/sample%d.jpg", deps, p + 1);
        if (cw_image_load(path, CW_IMAGE_RGB, NULL, &f->photos[p], diag, sizeof(diag)) != 0) {
            snprintf(why, why_len, "%s: %s", path, diag);
            return -1;
        }
        cw_face_t faces[16];
        int n = 0;
        if (cw_face_detect(f->session, &f->photos[p], faces, 16, &n) != 0) {
            snprintf(why, why_len, "detect failed on %s", path);
            return -1;
        }
        for (int k = 0; k < n && k < 16 && f->n < CW_IT_MAX_FACES; k++) {
            if (faces[k].score < 0.95f || faces[k].x1 - faces[k].x0 < 120) {
                continue;
            }
            cw_it_face_t *p1 = &f->faces[f->n];
            p1->photo = p;
            p1->face = faces[k];
            // Usable when both crops show one good face.
            cw_image_t img;
            cw_face_template_t probe;
            cw_face_quality_verdict_t v1 = CW_FACE_QUALITY_NO_FACE, v2 = CW_FACE_QUALITY_NO_FACE;
            int idx = f->n;
            // Judged on the JPEG the server will decode, as the server judges it.
            if (as_sent(f, idx, 2.2, 400, &img) == 0) {
                subject(f, &img, &p1->tmpl, &v1);
                cw_image_free(&img);
            }
            if (as_sent(f, idx, 1.7, 300, &img) == 0) {
                subject(f, &img, &probe, &v2);
                cw_image_free(&img);
            }
            p1->usable = v1 == CW_FACE_QUALITY_OK && v2 == CW_FACE_QUALITY_OK;
            p1->probe_usable = v2 == CW_FACE_QUALITY_OK;
            f->n++;
        }
    }
    return 0;
}

void cw_it_faces_close(cw_it_faces_t *f)
{
    for (int p = 0; p < CW_IT_PHOTOS; p++) {
        cw_image_free(&f->photos[p]);
    }
    cw_face_session_destroy(f->session);
    cw_face_engine_destroy(f->engine);
    memset(f, 0, sizeof(*f));
}

int cw_it_noface_jpeg(uint8_t **jpeg, size_t *n)
{
    cw_image_t img;
    if (cw_image_alloc(400, 400, 3, &img) != 0) {
        return -1;
    }
    for (int y = 0; y < 400; y++) {
        for (int x = 0; x < 400; x++) {
            uint8_t *d = img.data + (size_t)y * img.stride + (size_t)x * 3;
            d[0] = (uint8_t)(60 + x / 4);
            d[1] = (uint8_t)(90 + y / 4);
            d[2] = 140;
        }
    }
    int rc = cw_it_encode_jpeg(&img, jpeg, n);
    cw_image_free(&img);
    return rc;
}

int cw_it_three_faces_jpeg(cw_it_faces_t *f, const int idx[3], uint8_t **jpeg, size_t *n)
{
    cw_image_t all;
    if (cw_image_alloc(900, 300, 3, &all) != 0) {
        return -1;
    }
    for (int k = 0; k < 3; k++) {
        cw_image_t one;
        if (face_image(f, idx[k], 1.8, 300, &one) != 0) {
            cw_image_free(&all);
            return -1;
        }
        for (int y = 0; y < 300; y++) {
            memcpy(all.data + (size_t)y * all.stride + (size_t)k * 900, one.data + y * one.stride,
                   900);
        }
        cw_image_free(&one);
    }
    int rc = cw_it_encode_jpeg(&all, jpeg, n);
    cw_image_free(&all);
    return rc;
}

float cw_it_best_score(const cw_it_faces_t *f, int i, const int *set, int n_set)
{
    float best = -1;
    for (int k = 0; k < n_set; k++) {
        float s = -1;
        if (set[k] != i && cw_face_compare(&f->faces[i].tmpl, &f->faces[set[k]].tmpl, &s) == 0 &&
            s > best) {
            best = s;
        }
    }
    return best;
}

int cw_it_finger_jpeg(uint32_t finger, uint32_t impression, uint8_t **jpeg, size_t *n)
{
    cw_image_t img;
    if (cw_finger_synth(finger, impression, NULL, &img) != 0) {
        return -1;
    }
    int rc = cw_it_encode_jpeg(&img, jpeg, n);
    cw_image_free(&img);
    return rc;
}
