// SPDX-License-Identifier: Apache-2.0
// The capture path: from an image to the subject's template, with the checks a gate makes on
// the way (include/clearway/face.h, cw_face_capture). The clearance service, the evaluation
// tools and the tests all take a face this way, so they judge a photo alike.
#include "clearway/err.h"
#include "clearway/face.h"

#include <string.h>

int cw_face_capture(cw_face_session_t *session, const cw_image_t *img,
                    const cw_face_capture_opts_t *opts, cw_face_capture_t *out)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->problem = CW_FACE_CAPTURE_NO_FACE;
    if (session == NULL || img == NULL || opts == NULL) {
        return CW_EINVAL;
    }
    cw_face_t faces[CW_FACE_CAPTURE_MAX_FACES];
    int n = 0;
    int err = cw_face_detect(session, img, faces, CW_FACE_CAPTURE_MAX_FACES, &n);
    if (err != 0) {
        return err;
    }
    int kept = n < CW_FACE_CAPTURE_MAX_FACES ? n : CW_FACE_CAPTURE_MAX_FACES;
    out->n_faces = kept;
    int subject = cw_face_pick_subject(faces, kept, img->width, img->height, opts->subject);
    if (subject < 0) {
        return 0;
    }
    out->face = faces[subject];
    if (opts->check_quality) {
        err = cw_face_quality(img, faces, kept, subject, &out->quality);
        if (err != 0) {
            return err;
        }
        if (out->quality.verdict != CW_FACE_QUALITY_OK) {
            out->problem = CW_FACE_CAPTURE_QUALITY;
            return 0;
        }
    }
    if (opts->pad_max > 0) {
        err = cw_face_pad(session, img, &out->face, &out->attack);
        if (err != 0) {
            return err;
        }
        if (out->attack > opts->pad_max) {
            out->problem = CW_FACE_CAPTURE_ATTACK;
            return 0;
        }
    }
    err = cw_face_embed(session, img, &out->face, &out->tpl);
    if (err == 0) {
        out->problem = CW_FACE_CAPTURE_OK;
    }
    return err;
}
