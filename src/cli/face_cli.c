// SPDX-License-Identifier: Apache-2.0
// Helpers shared by `clearway face` and `clearway eval face` (see face_cli.h).
#include "face_cli.h"
#include "cli.h"

#include "clearway/clearway.h"

#include <stdio.h>
#include <string.h>

int cw_cli_face_open(cw_face_config_t *cfg, cw_cli_face_t *cf)
{
    char diag[512] = "";
    memset(cf, 0, sizeof(*cf));
    cfg->deps_dir = cw_cli_deps_dir();
    int rc = cw_face_engine_create(cfg, &cf->engine, diag, sizeof(diag));
    if (rc == 0) {
        rc = cw_face_session_create(cf->engine, &cf->session, diag, sizeof(diag));
    }
    if (rc != 0) {
        fprintf(stderr, "clearway: cannot load the face models: %s%s%s\n", cw_strerror(rc),
                diag[0] ? ": " : "", diag);
        cw_cli_face_close(cf);
        return -1;
    }
    return 0;
}

void cw_cli_face_close(cw_cli_face_t *cf)
{
    cw_face_session_destroy(cf->session);
    cw_face_engine_destroy(cf->engine);
    memset(cf, 0, sizeof(*cf));
}

int cw_cli_face_photo(cw_cli_face_t *cf, const char *path, cw_face_subject_policy_t policy,
                      cw_cli_face_photo_t *p)
{
    char diag[256] = "";
    memset(p, 0, sizeof(*p));
    p->subject = -1;
    int rc = cw_image_load(path, CW_IMAGE_RGB, NULL, &p->img, diag, sizeof(diag));
    if (rc != 0) {
        fprintf(stderr, "clearway: cannot read image %s: %s%s%s\n", path, cw_strerror(rc),
                diag[0] ? ": " : "", diag);
        return -1;
    }
    rc = cw_face_detect(cf->session, &p->img, p->faces, CW_FACE_MAX_FACES, &p->n);
    if (rc != 0) {
        fprintf(stderr, "clearway: face detection failed on %s: %s\n", path, cw_strerror(rc));
        cw_image_free(&p->img);
        return -1;
    }
    int kept = p->n < CW_FACE_MAX_FACES ? p->n : CW_FACE_MAX_FACES;
    p->subject = cw_face_pick_subject(p->faces, kept, p->img.width, p->img.height, policy);
    return 0;
}

void cw_cli_face_photo_free(cw_cli_face_photo_t *p)
{
    cw_image_free(&p->img);
    cw_memzero(p, sizeof(*p));
}

int cw_cli_face_policy(const char *s, cw_face_subject_policy_t *out)
{
    if (strcmp(s, "auto") == 0) {
        *out = CW_FACE_SUBJECT_AUTO;
    } else if (strcmp(s, "largest") == 0) {
        *out = CW_FACE_SUBJECT_LARGEST;
    } else if (strcmp(s, "central") == 0) {
        *out = CW_FACE_SUBJECT_CENTRAL;
    } else {
        return -1;
    }
    return 0;
}

int cw_cli_face_embedder(const char *s, cw_face_embedder_t *out)
{
    if (strcmp(s, "mobilefacenet") == 0) {
        *out = CW_FACE_EMBEDDER_MOBILEFACENET;
    } else if (strcmp(s, "fused") == 0) {
        *out = CW_FACE_EMBEDDER_FUSED;
    } else {
        return -1;
    }
    return 0;
}
