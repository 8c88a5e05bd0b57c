// SPDX-License-Identifier: Apache-2.0
// Choosing the subject among detected faces, and aligning a face: the least-squares similarity
// transform (scale, rotation, translation) that takes its five landmarks onto the embedder's
// canonical 112 x 112 template.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "face_internal.h"

#include <math.h>
#include <stdlib.h>

// The five-point template of ArcFace-style 112 x 112 crops (OpenCV pixel-index coordinates),
// the one MobileFaceNet was trained on.
const double cw__face_template[CW_FACE_N_LANDMARKS][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366},
    {41.5493, 92.3655}, {70.7299, 92.2041},
};

int cw_face_align(const cw_face_t *face, double m[6])
{
    if (face == NULL || m == NULL) {
        return CW_EINVAL;
    }
    // Landmarks are continuous coordinates (pixel i covers [i, i+1)); the warp works in pixel
    // index space (pixel i's centre at i), hence the half-pixel shift.
    double src[CW_FACE_N_LANDMARKS][2];
    double ms[2] = {0.0, 0.0};
    double md[2] = {0.0, 0.0};
    for (int i = 0; i < CW_FACE_N_LANDMARKS; i++) {
        for (int k = 0; k < 2; k++) {
            src[i][k] = (double)face->lm[i][k] - 0.5;
            if (!isfinite(src[i][k])) {
                return CW_EINVAL;
            }
            ms[k] += src[i][k] / CW_FACE_N_LANDMARKS;
            md[k] += cw__face_template[i][k] / CW_FACE_N_LANDMARKS;
        }
    }
    // Fit image -> template: x = a*u - b*v + tx, y = b*u + a*v + ty, least squares in the
    // template's space (as the usual Umeyama estimate does).
    double num_a = 0.0;
    double num_b = 0.0;
    double den = 0.0;
    for (int i = 0; i < CW_FACE_N_LANDMARKS; i++) {
        double u = src[i][0] - ms[0];
        double v = src[i][1] - ms[1];
        double x = cw__face_template[i][0] - md[0];
        double y = cw__face_template[i][1] - md[1];
        num_a += u * x + v * y;
        num_b += u * y - v * x;
        den += u * u + v * v;
    }
    if (!(den > 1e-6)) {
        return CW_EINVAL; // all landmarks on one point
    }
    double a = num_a / den;
    double b = num_b / den;
    double s2 = a * a + b * b;
    if (!(s2 > 1e-12)) {
        return CW_EINVAL;
    }
    // Invert: [u v] = R^-1 ([x y] - t), R = [[a, -b], [b, a]], t = md - R ms.
    double tx = md[0] - (a * ms[0] - b * ms[1]);
    double ty = md[1] - (b * ms[0] + a * ms[1]);
    m[0] = a / s2;
    m[1] = b / s2;
    m[2] = -(a * tx + b * ty) / s2;
    m[3] = -b / s2;
    m[4] = a / s2;
    m[5] = (b * tx - a * ty) / s2;
    return 0;
}

int cw_face_aligned_image(const cw_image_t *img, const cw_face_t *face, cw_image_t *out)
{
    if (img == NULL || img->channels != 3 || out == NULL) {
        return CW_EINVAL;
    }
    double m[6];
    int rc = cw_face_align(face, m);
    if (rc != 0) {
        return rc;
    }
    enum { N = CW_FACE_ALIGNED_SIDE * CW_FACE_ALIGNED_SIDE * 3 };
    float *buf = cw_malloc(N * sizeof(float));
    if (buf == NULL) {
        return CW_ENOMEM;
    }
    rc = cw_image_warp_affine_f32(img, m, CW_FACE_ALIGNED_SIDE, CW_FACE_ALIGNED_SIDE, 0.0f, 1.0f, 0,
                                  0, buf);
    if (rc == 0) {
        rc = cw_image_alloc(CW_FACE_ALIGNED_SIDE, CW_FACE_ALIGNED_SIDE, 3, out);
    }
    if (rc == 0) {
        for (int y = 0; y < CW_FACE_ALIGNED_SIDE; y++) {
            uint8_t *row = out->data + (size_t)y * out->stride;
            for (int x = 0; x < CW_FACE_ALIGNED_SIDE * 3; x++) {
                float v = buf[y * CW_FACE_ALIGNED_SIDE * 3 + x] + 0.5f;
                row[x] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
            }
        }
    }
    cw_free_wipe(buf, N * sizeof(float));
    return rc;
}

static double face_area(const cw_face_t *f)
{
    double w = (double)f->x1 - f->x0;
    double h = (double)f->y1 - f->y0;
    return w > 0.0 && h > 0.0 ? w * h : 0.0;
}

static double centre_dist2(const cw_face_t *f, int w, int h)
{
    double dx = 0.5 * ((double)f->x0 + f->x1) - 0.5 * w;
    double dy = 0.5 * ((double)f->y0 + f->y1) - 0.5 * h;
    return dx * dx + dy * dy;
}

int cw_face_pick_subject(const cw_face_t *faces, int n, int w, int h,
                         cw_face_subject_policy_t policy)
{
    if (faces == NULL || n <= 0) {
        return -1;
    }
    double max_area = 0.0;
    for (int i = 0; i < n; i++) {
        max_area = fmax(max_area, face_area(&faces[i]));
    }
    int best = 0;
    for (int i = 1; i < n; i++) {
        const cw_face_t *f = &faces[i];
        const cw_face_t *b = &faces[best];
        int better;
        switch (policy) {
        case CW_FACE_SUBJECT_LARGEST:
            better = face_area(f) > face_area(b);
            break;
        case CW_FACE_SUBJECT_CENTRAL:
            better = centre_dist2(f, w, h) < centre_dist2(b, w, h);
            break;
        default:
            // The biggest face, but among faces at least half as big as the biggest, the most
            // central one: the person in front of the camera, not a bystander behind.
            if (face_area(f) < 0.5 * max_area) {
                better = 0;
            } else if (face_area(b) < 0.5 * max_area) {
                better = 1;
            } else {
                better = centre_dist2(f, w, h) < centre_dist2(b, w, h);
            }
            break;
        }
        if (better) {
            best = i;
        }
    }
    return best;
}
