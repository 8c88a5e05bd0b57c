/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the face-related subcommands share: opening the face engine with a clear message when
 * the models are missing, and reading a photo into its faces and subject.
 */
#ifndef CLEARWAY_FACE_CLI_H
#define CLEARWAY_FACE_CLI_H

#include "clearway/face.h"

typedef struct cw_cli_face {
    cw_face_engine_t *engine;
    cw_face_session_t *session;
} cw_cli_face_t;

/* A decoded photo, its faces (sorted by score) and the chosen subject (-1: none). */
typedef struct cw_cli_face_photo {
    cw_image_t img;
    cw_face_t faces[CW_FACE_MAX_FACES];
    int n; /* faces found (may exceed CW_FACE_MAX_FACES) */
    int subject;
} cw_cli_face_photo_t;

/* Open engine and session from cfg (deps_dir filled in); prints the reason and returns -1. */
int cw_cli_face_open(cw_face_config_t *cfg, cw_cli_face_t *cf);
void cw_cli_face_close(cw_cli_face_t *cf);

/* Load, detect, pick; prints the reason and returns -1 on failure (no face is not one). */
int cw_cli_face_photo(cw_cli_face_t *cf, const char *path, cw_face_subject_policy_t policy,
                      cw_cli_face_photo_t *p);
void cw_cli_face_photo_free(cw_cli_face_photo_t *p);

/* "mobilefacenet", "fused" -> embedder; -1 if unknown. */
int cw_cli_face_embedder(const char *s, cw_face_embedder_t *out);

/* "auto", "largest", "central" -> policy; -1 if unknown. */
int cw_cli_face_policy(const char *s, cw_face_subject_policy_t *out);

#endif
