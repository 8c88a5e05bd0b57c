// SPDX-License-Identifier: Apache-2.0
// Geometry shared by the face and fingerprint pipelines: resize (bilinear, or area averaging
// when shrinking by more than 2x so that small faces cut from big frames do not alias), the
// affine warp that produces an aligned face as a normalised float tensor, MTCNN's
// crop-and-resize, and the rotations and flips that put an EXIF-oriented picture upright.
//
// One sampling model serves all of them: pixel (i, j) covers [i, i+1) x [j, j+1) of the source
// plane, and everything outside the image has the border value. Each destination pixel is a
// separable weighted sum of source pixels ("taps") along x and y; taps outside the image add
// their weight times the border. Sampling touches each source pixel about once per output, so
// even area averaging stays linear in the source size without per-call tables or allocation.
#include "clearway/image.h"
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "image_internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

// Crop rectangles beyond this are nonsense, and bounding them keeps every coordinate exact
// enough in a double.
#define MAX_COORD 1e9

// How one destination axis maps onto the source axis.
typedef struct axis {
    double origin; // source coordinate of the destination's first pixel edge
    double step;   // source pixels per destination pixel
    double lo, hi; // bilinear sample positions (index space) are clamped to [lo, hi]
    int n;         // source pixels along this axis
    int area;      // average over the covered interval instead of bilinear sampling
} axis_t;

// The source pixels that contribute to one destination coordinate. Weights are recomputed from
// the parameters as needed (tap_weight), only the inside taps are listed, and `inside` is the
// total weight they carry; the rest belongs to the border.
typedef struct taps {
    int first;
    int count;
    int area;
    double a, b, inv; // area: covered interval [a, b), 1 / its length
    int j0;           // bilinear: left neighbour
    float f;          // bilinear: weight of the right neighbour
    float inside;
} taps_t;

// Bilinear taps at index-space position u (pixel k's centre is at u = k).
static void bilinear_taps(double u, int n, taps_t *t)
{
    memset(t, 0, sizeof(*t));
    if (!(u > -1.0 && u < (double)n)) {
        return; // both neighbours outside; also catches NaN
    }
    double fl = floor(u);
    t->j0 = (int)fl;
    t->f = (float)(u - fl);
    int first = t->j0 < 0 ? 0 : t->j0;
    int last = t->j0 + 1 < n ? t->j0 + 1 : n - 1;
    t->first = first;
    t->count = last - first + 1;
    t->inside = (t->j0 >= 0 ? 1.0f - t->f : 0.0f) + (t->j0 + 1 < n ? t->f : 0.0f);
}

static void axis_taps(const axis_t *ax, int i, taps_t *t)
{
    if (!ax->area) {
        double u = ax->origin + (i + 0.5) * ax->step - 0.5;
        u = u < ax->lo ? ax->lo : u;
        u = u > ax->hi ? ax->hi : u;
        bilinear_taps(u, ax->n, t);
        return;
    }
    memset(t, 0, sizeof(*t));
    t->area = 1;
    t->a = ax->origin + i * ax->step;
    t->b = t->a + ax->step;
    t->inv = 1.0 / ax->step;
    double lo = t->a > 0.0 ? t->a : 0.0;
    double hi = t->b < (double)ax->n ? t->b : (double)ax->n;
    if (!(hi > lo)) {
        return;
    }
    t->first = (int)floor(lo);
    t->count = (int)ceil(hi) - t->first;
    t->inside = (float)((hi - lo) * t->inv);
}

static float tap_weight(const taps_t *t, int k)
{
    if (t->area) {
        double l = t->a > k ? t->a : (double)k;
        double h = t->b < k + 1.0 ? t->b : k + 1.0;
        return (float)((h - l) * t->inv);
    }
    return k == t->j0 ? 1.0f - t->f : t->f;
}

// Horizontal weights of one destination pixel are the same for every source row it covers:
// computed once per pixel (up to this many taps; wider spans use the slower per-tap path).
enum { MAX_CACHED_TAPS = 64 };

// One destination pixel: acc[c] for each of src's channels. The weights and the order of the
// additions are the same on both paths, so the result does not depend on which one ran.
static void sample(const cw_image_t *src, const taps_t *tx, const taps_t *ty, float border,
                   float acc[3])
{
    const int ch = src->channels;
    acc[0] = acc[1] = acc[2] = 0.0f;
    if (tx->count <= MAX_CACHED_TAPS) {
        float wx[MAX_CACHED_TAPS];
        for (int k = 0; k < tx->count; k++) {
            wx[k] = tap_weight(tx, tx->first + k);
        }
        for (int j = ty->first; j < ty->first + ty->count; j++) {
            const float wy = tap_weight(ty, j);
            const uint8_t *p = src->data + (size_t)j * src->stride + (size_t)tx->first * ch;
            if (ch == 3) {
                for (int k = 0; k < tx->count; k++, p += 3) {
                    const float w = wy * wx[k];
                    acc[0] += w * p[0];
                    acc[1] += w * p[1];
                    acc[2] += w * p[2];
                }
            } else {
                for (int k = 0; k < tx->count; k++, p += ch) {
                    const float w = wy * wx[k];
                    for (int c = 0; c < ch; c++) {
                        acc[c] += w * p[c];
                    }
                }
            }
        }
    } else {
        for (int j = ty->first; j < ty->first + ty->count; j++) {
            float wy = tap_weight(ty, j);
            const uint8_t *row = src->data + (size_t)j * src->stride;
            for (int k = tx->first; k < tx->first + tx->count; k++) {
                float w = wy * tap_weight(tx, k);
                const uint8_t *p = row + (size_t)k * (size_t)ch;
                for (int c = 0; c < ch; c++) {
                    acc[c] += w * p[c];
                }
            }
        }
    }
    float outside = 1.0f - tx->inside * ty->inside;
    if (outside != 0.0f) {
        for (int c = 0; c < ch; c++) {
            acc[c] += outside * border;
        }
    }
}

static uint8_t to_u8(float v)
{
    if (!(v > 0.0f)) {
        return 0;
    }
    return v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

// Floats for dst_w x dst_h x channels, checked for overflow; 0 or an error.
static int check_f32_dst(int dst_w, int dst_h, int channels, const float *dst)
{
    size_t n;
    if (dst == NULL || dst_w <= 0 || dst_h <= 0) {
        return CW_EINVAL;
    }
    if (cw_size_mul((size_t)dst_w, (size_t)dst_h, &n) != 0 ||
        cw_size_mul(n, (size_t)channels, &n) != 0 || cw_size_mul(n, sizeof(float), &n) != 0) {
        return CW_EOVERFLOW;
    }
    return 0;
}

int cw_image_resize(const cw_image_t *src, int dst_w, int dst_h, cw_image_t *out)
{
    if (out == NULL || out == src) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (!cw__image_valid(src) || dst_w <= 0 || dst_h <= 0) {
        return CW_EINVAL;
    }
    if (dst_w > CW_IMAGE_MAX_SIDE || dst_h > CW_IMAGE_MAX_SIDE ||
        (long long)dst_w * dst_h > CW_IMAGE_MAX_PIXELS) {
        return CW_ETOOBIG;
    }
    int rc = cw__image_alloc(dst_w, dst_h, src->channels, 0, out);
    if (rc != 0) {
        return rc;
    }
    axis_t ax = {0.0, (double)src->width / dst_w, 0.0, src->width - 1.0, src->width, 0};
    axis_t ay = {0.0, (double)src->height / dst_h, 0.0, src->height - 1.0, src->height, 0};
    ax.area = ax.step > 2.0;
    ay.area = ay.step > 2.0;
    const int ch = src->channels;
    for (int y = 0; y < dst_h; y++) {
        taps_t ty;
        axis_taps(&ay, y, &ty);
        uint8_t *row = out->data + (size_t)y * out->stride;
        for (int x = 0; x < dst_w; x++) {
            taps_t tx;
            float acc[3];
            axis_taps(&ax, x, &tx);
            sample(src, &tx, &ty, 0.0f, acc);
            for (int c = 0; c < ch; c++) {
                row[(size_t)x * ch + c] = to_u8(acc[c]);
            }
        }
    }
    return 0;
}

int cw_image_warp_affine_f32(const cw_image_t *src, const double m[6], int dst_w, int dst_h,
                             float mean, float scale, int border, int swap_rb, float *dst)
{
    if (!cw__image_valid(src) || m == NULL) {
        return CW_EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        if (!isfinite(m[i])) {
            return CW_EINVAL;
        }
    }
    int rc = check_f32_dst(dst_w, dst_h, src->channels, dst);
    if (rc != 0) {
        return rc;
    }
    const int ch = src->channels;
    const int swap = ch == 3 && swap_rb;
    for (int y = 0; y < dst_h; y++) {
        float *row = dst + (size_t)y * dst_w * ch;
        for (int x = 0; x < dst_w; x++) {
            taps_t tx;
            taps_t ty;
            float acc[3];
            bilinear_taps(m[0] * x + m[1] * y + m[2], src->width, &tx);
            bilinear_taps(m[3] * x + m[4] * y + m[5], src->height, &ty);
            sample(src, &tx, &ty, (float)border, acc);
            float *p = row + (size_t)x * ch;
            for (int c = 0; c < ch; c++) {
                p[swap ? 2 - c : c] = (acc[c] - mean) * scale;
            }
        }
    }
    return 0;
}

static int valid_span(double start, double len)
{
    return isfinite(start) && isfinite(len) && len > 0.0 && fabs(start) <= MAX_COORD &&
           len <= MAX_COORD;
}

// The crop axis: bilinear samples stay within the crop's own pixels, so a crop that lies inside
// the image is an ordinary resize and only pixels of the crop outside the image are border.
static void crop_axis(double start, double len, int dst_n, int src_n, axis_t *ax)
{
    ax->origin = start;
    ax->step = len / dst_n;
    ax->lo = start;
    ax->hi = start + len - 1.0;
    if (ax->hi < ax->lo) { // a crop narrower than a pixel: sample its centre
        ax->lo = ax->hi = start + 0.5 * len - 0.5;
    }
    ax->n = src_n;
    ax->area = ax->step > 2.0;
}

int cw_image_crop_resize_f32(const cw_image_t *src, double x0, double y0, double w, double h,
                             int dst_w, int dst_h, float mean, float scale, int border, float *dst)
{
    if (!cw__image_valid(src) || !valid_span(x0, w) || !valid_span(y0, h)) {
        return CW_EINVAL;
    }
    int rc = check_f32_dst(dst_w, dst_h, src->channels, dst);
    if (rc != 0) {
        return rc;
    }
    axis_t ax;
    axis_t ay;
    crop_axis(x0, w, dst_w, src->width, &ax);
    crop_axis(y0, h, dst_h, src->height, &ay);
    const int ch = src->channels;
    for (int y = 0; y < dst_h; y++) {
        taps_t ty;
        axis_taps(&ay, y, &ty);
        float *row = dst + (size_t)y * dst_w * ch;
        for (int x = 0; x < dst_w; x++) {
            taps_t tx;
            float acc[3];
            axis_taps(&ax, x, &tx);
            sample(src, &tx, &ty, (float)border, acc);
            for (int c = 0; c < ch; c++) {
                row[(size_t)x * ch + c] = (acc[c] - mean) * scale;
            }
        }
    }
    return 0;
}

int cw__image_orient(cw_image_t *img, int orientation)
{
    if (orientation < 2 || orientation > 8) {
        return 0;
    }
    const ptrdiff_t ch = img->channels;
    const ptrdiff_t stride = (ptrdiff_t)img->stride;
    const ptrdiff_t last_col = (img->width - 1) * ch;
    const ptrdiff_t last_row = (img->height - 1) * stride;
    const int transpose = orientation >= 5;
    cw_image_t out;
    int rc = cw__image_alloc(transpose ? img->height : img->width,
                             transpose ? img->width : img->height, img->channels, 0, &out);
    if (rc != 0) {
        return rc;
    }
    // Output pixel (x, y) comes from source byte offset base + x * step_x + y * step_y; the
    // tables follow the EXIF definitions of where row 0 and column 0 of the stored image belong.
    ptrdiff_t base;
    ptrdiff_t step_x;
    ptrdiff_t step_y;
    switch (orientation) {
    case 2: // mirrored: flip left-right
        base = last_col, step_x = -ch, step_y = stride;
        break;
    case 3: // upside down: rotate 180
        base = last_row + last_col, step_x = -ch, step_y = -stride;
        break;
    case 4: // flip top-bottom
        base = last_row, step_x = ch, step_y = -stride;
        break;
    case 5: // transpose
        base = 0, step_x = stride, step_y = ch;
        break;
    case 6: // rotate 90 clockwise (the usual portrait phone photo)
        base = last_row, step_x = -stride, step_y = ch;
        break;
    case 7: // transverse
        base = last_row + last_col, step_x = -stride, step_y = -ch;
        break;
    default: // 8: rotate 90 counter-clockwise
        base = last_col, step_x = stride, step_y = -ch;
        break;
    }
    for (int y = 0; y < out.height; y++) {
        // Offsets rather than a walking pointer: a pointer stepped past either end is undefined.
        ptrdiff_t off = base + y * step_y;
        uint8_t *d = out.data + (size_t)y * out.stride;
        for (int x = 0; x < out.width; x++, off += step_x, d += ch) {
            memcpy(d, img->data + off, (size_t)ch);
        }
    }
    cw_image_free(img);
    *img = out;
    return 0;
}
