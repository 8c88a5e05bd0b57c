/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Face pictures for the integration tests, made at test time from the set-up's sample photos
 * (.deps/npm/face-api/demo/sample*.jpg, group photos): every face found is a "person"; a crop
 * around it at one scale is an enrolment photo, a crop at another scale and size a probe of
 * the same person. Also pictures that must be refused (no face, three faces side by side) and
 * synthetic fingerprints (cw_finger_synth).
 * No real traveller biometrics are stored in the repository.
 */
#ifndef CW_TEST_FACES_H
#define CW_TEST_FACES_H

#include "clearway/face.h"
#include "clearway/image.h"

#include <stddef.h>
#include <stdint.h>

enum { CW_IT_MAX_FACES = 64, CW_IT_PHOTOS = 6 };

typedef struct cw_it_face {
    int photo; /* 0..CW_IT_PHOTOS-1 */
    cw_face_t face;
    cw_face_template_t tmpl; /* of the enrolment crop */
    int usable;              /* the enrolment and probe crops pass the quality check */
    int probe_usable;        /* the probe crop does */
} cw_it_face_t;

typedef struct cw_it_faces {
    cw_face_engine_t *engine;
    cw_face_session_t *session;
    cw_image_t photos[CW_IT_PHOTOS];
    int n;
    cw_it_face_t faces[CW_IT_MAX_FACES];
} cw_it_faces_t;

/* Load the models and photos from deps and find every face; 0 or -1 with why. */
int cw_it_faces_open(cw_it_faces_t *f, const char *deps, char *why, size_t why_len);
void cw_it_faces_close(cw_it_faces_t *f);

/* A square crop around face i, scale times the box's larger side, resized to side x side
 * pixels, as JPEG (free). */
int cw_it_face_jpeg(cw_it_faces_t *f, int i, double scale, int side, uint8_t **jpeg, size_t *n);
/* The enrolment crop (scale 2.2, 400 px) and a probe crop (scale 1.7, 300 px). */
int cw_it_enrol_jpeg(cw_it_faces_t *f, int i, uint8_t **jpeg, size_t *n);
int cw_it_probe_jpeg(cw_it_faces_t *f, int i, uint8_t **jpeg, size_t *n);
/* A picture with no face (a smooth gradient) and one with three faces side by side. */
int cw_it_noface_jpeg(uint8_t **jpeg, size_t *n);
int cw_it_three_faces_jpeg(cw_it_faces_t *f, const int idx[3], uint8_t **jpeg, size_t *n);
/* Highest cosine score between face i and any of faces[set[0..n_set)]. */
float cw_it_best_score(const cw_it_faces_t *f, int i, const int *set, int n_set);

/* Encode an RGB or grey image as JPEG (free). */
int cw_it_encode_jpeg(const cw_image_t *img, uint8_t **jpeg, size_t *n);
/* Impression `impression` of synthetic finger `finger` (cw_finger_synth), 500 dpi, as JPEG. */
int cw_it_finger_jpeg(uint32_t finger, uint32_t impression, uint8_t **jpeg, size_t *n);

#endif
