// SPDX-License-Identifier: Apache-2.0
// Capture quality: geometry from the landmarks (size, pose, position), image measures on the
// aligned crop (sharpness, exposure), and one verdict with the instruction a traveller can act
// on. The thresholds are for a gate camera; docs/models.md gives the distributions measured on
// the development photos they were chosen from.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "face_internal.h"

#include <math.h>
#include <string.h>

#define RAD2DEG (180.0 / 3.14159265358979323846)

// Depth of the nose tip in front of the eye-mouth plane, in inter-eye distances, and the
// eye-to-mouth height: average adult proportions used to turn landmark offsets into angles.
#define NOSE_DEPTH 0.55
#define EYE_MOUTH 1.16
// Where the nose tip sits between the eye line and the mouth line in a frontal face (the
// alignment template's proportion).
#define NOSE_T0 0.494

static const struct {
    float min_inter_eye;     // pixels; the aligned crop has 35
    float max_face_fraction; // face box height / image height
    float max_centre_offset; // / image diagonal
    float max_yaw, max_pitch, max_roll;
    float min_face_score;
    float min_brightness, max_brightness, max_clipped;
    float min_sharpness;
} LIMITS = {32.0f, 0.9f, 0.3f, 25.0f, 25.0f, 20.0f, 0.9f, 50.0f, 205.0f, 0.25f, 40.0f};

static const struct {
    const char *name;
    const char *instruction;
} VERDICTS[] = {
    [CW_FACE_QUALITY_OK] = {"ok", "hold still"},
    [CW_FACE_QUALITY_NO_FACE] = {"no_face", "look at the camera"},
    [CW_FACE_QUALITY_TOO_SMALL] = {"too_small", "move closer"},
    [CW_FACE_QUALITY_TOO_CLOSE] = {"too_close", "step back"},
    [CW_FACE_QUALITY_OFF_CENTRE] = {"off_centre", "stand in the middle"},
    [CW_FACE_QUALITY_POSE] = {"pose", "look straight at the camera"},
    [CW_FACE_QUALITY_BLUR] = {"blur", "hold still"},
    [CW_FACE_QUALITY_DARK] = {"dark", "face the light"},
    [CW_FACE_QUALITY_BRIGHT] = {"bright", "move out of the strong light"},
    [CW_FACE_QUALITY_OCCLUDED] = {"occluded", "remove sunglasses or mask"},
    [CW_FACE_QUALITY_MANY_FACES] = {"many_faces", "one person at a time"},
};

const char *cw_face_quality_name(cw_face_quality_verdict_t v)
{
    if ((unsigned)v >= sizeof(VERDICTS) / sizeof(VERDICTS[0])) {
        return "unknown";
    }
    return VERDICTS[v].name;
}

const char *cw_face_quality_instruction(cw_face_quality_verdict_t v)
{
    if ((unsigned)v >= sizeof(VERDICTS) / sizeof(VERDICTS[0])) {
        return "see an officer";
    }
    return VERDICTS[v].instruction;
}

// Yaw, pitch and roll (degrees) from the five landmarks.
static void pose(const cw_face_t *f, float *yaw, float *pitch, float *roll)
{
    double ex = 0.5 * (f->lm[0][0] + f->lm[1][0]);
    double ey = 0.5 * (f->lm[0][1] + f->lm[1][1]);
    double mx = 0.5 * (f->lm[3][0] + f->lm[4][0]);
    double my = 0.5 * (f->lm[3][1] + f->lm[4][1]);
    double dx = (double)f->lm[1][0] - f->lm[0][0];
    double dy = (double)f->lm[1][1] - f->lm[0][1];
    double ied = sqrt(dx * dx + dy * dy);
    double r = atan2(dy, dx);
    *roll = (float)(r * RAD2DEG);
    if (!(ied > 1e-6)) {
        *yaw = *pitch = 90.0f;
        return;
    }
    // Undo the roll: coordinates along the eye line (u) and across it (v).
    double c = cos(r);
    double s = sin(r);
    double nu = ((double)f->lm[2][0] - ex) * c + ((double)f->lm[2][1] - ey) * s;
    double nv = -((double)f->lm[2][0] - ex) * s + ((double)f->lm[2][1] - ey) * c;
    double mv = -(mx - ex) * s + (my - ey) * c;
    *yaw = (float)(atan(nu / ied / NOSE_DEPTH) * RAD2DEG);
    if (!(mv > 1e-6)) {
        *pitch = 90.0f;
        return;
    }
    double t = nv / mv;
    *pitch = (float)(atan((NOSE_T0 - t) * EYE_MOUTH / NOSE_DEPTH) * RAD2DEG);
}

static double face_area(const cw_face_t *f)
{
    double w = (double)f->x1 - f->x0;
    double h = (double)f->y1 - f->y0;
    return w > 0.0 && h > 0.0 ? w * h : 0.0;
}

// Sharpness and exposure of the aligned grey crop.
static int crop_measures(const cw_image_t *img, const cw_face_t *f, cw_face_quality_t *q)
{
    enum { S = CW_FACE_ALIGNED_SIDE };
    double m[6];
    int rc = cw_face_align(f, m);
    if (rc != 0) {
        return rc;
    }
    float *rgb = cw_malloc(sizeof(float) * S * S * 3);
    if (rgb == NULL) {
        return CW_ENOMEM;
    }
    rc = cw_image_warp_affine_f32(img, m, S, S, 0.0f, 1.0f, 0, 0, rgb);
    if (rc != 0) {
        cw_free_wipe(rgb, sizeof(float) * S * S * 3);
        return rc;
    }
    // Grey in place (first S*S floats), Rec. 601 weights.
    double sum = 0.0;
    size_t clipped = 0;
    for (int i = 0; i < S * S; i++) {
        float g = 0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2];
        rgb[i] = g;
        sum += g;
        clipped += g <= 5.0f || g >= 250.0f;
    }
    q->brightness = (float)(sum / (S * S));
    q->clipped = (float)clipped / (S * S);
    // Variance of the 4-neighbour Laplacian over the inner face (rows and columns 16..95, which
    // leaves out the background the template's corners hold).
    double ls = 0.0;
    double ls2 = 0.0;
    int n = 0;
    for (int y = 16; y < S - 16; y++) {
        for (int x = 16; x < S - 16; x++) {
            const float *p = rgb + y * S + x;
            double l = (double)p[-1] + p[1] + p[-S] + p[S] - 4.0 * p[0];
            ls += l;
            ls2 += l * l;
            n++;
        }
    }
    double mean = ls / n;
    q->sharpness = (float)(ls2 / n - mean * mean);
    cw_free_wipe(rgb, sizeof(float) * S * S * 3);
    return 0;
}

int cw_face_quality(const cw_image_t *img, const cw_face_t *faces, int n, int subject,
                    cw_face_quality_t *q)
{
    if (img == NULL || img->channels != 3 || img->width <= 0 || img->height <= 0 || q == NULL ||
        n < 0 || (n > 0 && faces == NULL) || (n > 0 && (subject < 0 || subject >= n))) {
        return CW_EINVAL;
    }
    memset(q, 0, sizeof(*q));
    if (n == 0) {
        q->verdict = CW_FACE_QUALITY_NO_FACE;
        return 0;
    }
    const cw_face_t *f = &faces[subject];
    double dx = (double)f->lm[1][0] - f->lm[0][0];
    double dy = (double)f->lm[1][1] - f->lm[0][1];
    q->inter_eye = (float)sqrt(dx * dx + dy * dy);
    pose(f, &q->yaw, &q->pitch, &q->roll);
    q->face_score = f->score;
    double cx = 0.5 * ((double)f->x0 + f->x1) - 0.5 * img->width;
    double cy = 0.5 * ((double)f->y0 + f->y1) - 0.5 * img->height;
    double diag = sqrt((double)img->width * img->width + (double)img->height * img->height);
    q->centre_offset = (float)(sqrt(cx * cx + cy * cy) / diag);
    q->face_fraction = (float)(((double)f->y1 - f->y0) / img->height);
    int rc = crop_measures(img, f, q);
    if (rc != 0) {
        return rc;
    }
    int rivals = 0;
    for (int i = 0; i < n; i++) {
        rivals += i != subject && face_area(&faces[i]) >= 0.25 * face_area(f);
    }
    cw_face_quality_verdict_t v = CW_FACE_QUALITY_OK;
    if (rivals > 0) {
        v = CW_FACE_QUALITY_MANY_FACES;
    } else if (q->inter_eye < LIMITS.min_inter_eye) {
        v = CW_FACE_QUALITY_TOO_SMALL;
    } else if (q->face_fraction > LIMITS.max_face_fraction) {
        v = CW_FACE_QUALITY_TOO_CLOSE;
    } else if (q->centre_offset > LIMITS.max_centre_offset) {
        v = CW_FACE_QUALITY_OFF_CENTRE;
    } else if (fabsf(q->yaw) > LIMITS.max_yaw || fabsf(q->pitch) > LIMITS.max_pitch ||
               fabsf(q->roll) > LIMITS.max_roll) {
        v = CW_FACE_QUALITY_POSE;
    } else if (q->face_score < LIMITS.min_face_score) {
        v = CW_FACE_QUALITY_OCCLUDED;
    } else if (q->brightness < LIMITS.min_brightness) {
        v = CW_FACE_QUALITY_DARK;
    } else if (q->brightness > LIMITS.max_brightness || q->clipped > LIMITS.max_clipped) {
        v = CW_FACE_QUALITY_BRIGHT;
    } else if (q->sharpness < LIMITS.min_sharpness) {
        v = CW_FACE_QUALITY_BLUR;
    }
    q->verdict = v;
    return 0;
}
