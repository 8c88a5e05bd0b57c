/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images: decoding of untrusted JPEG, PNG and JPEG 2000 bytes into 8-bit RGB or grayscale
 * pixels, with caps on dimensions and pixel count, EXIF orientation applied, and the geometric
 * operations the face and fingerprint pipelines share (resize, affine warp into a float tensor,
 * crop).
 * Shared by the face and finger modules, so it is a module of its own.
 *
 * Ownership: a cw_image_t owns its pixels; free with cw_image_free (pixels are wiped first,
 * since images of people are personal data). All functions are thread-safe on distinct images.
 */
#ifndef CLEARWAY_IMAGE_H
#define CLEARWAY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default caps: 8192 x 8192 and 40 megapixels; a header claiming more is refused unread. */
enum { CW_IMAGE_MAX_SIDE = 8192, CW_IMAGE_MAX_PIXELS = 40 * 1000 * 1000 };

typedef enum cw_image_format { CW_IMAGE_GRAY = 1, CW_IMAGE_RGB = 3 } cw_image_format_t;

typedef struct cw_image {
    int width;
    int height;
    int channels;  /* 1 (gray) or 3 (RGB, R first) */
    size_t stride; /* bytes per row (>= width * channels) */
    uint8_t *data; /* owned; rows top to bottom */
} cw_image_t;

typedef struct cw_image_limits {
    int max_side;    /* 0 = CW_IMAGE_MAX_SIDE */
    long max_pixels; /* 0 = CW_IMAGE_MAX_PIXELS */
} cw_image_limits_t;

/*
 * cw_image_decode: decode JPEG, PNG or JPEG 2000 (JP2 file or J2K codestream) bytes (format
 * sniffed from the signature) into *out, converted to `want` channels (CW_IMAGE_RGB: grayscale
 * is expanded, CMYK/YCCK JPEGs and sYCC JPEG 2000 converted, PNG alpha dropped, up to 16 bits
 * reduced to 8; CW_IMAGE_GRAY: luma), and rotated/flipped upright per the JPEG EXIF Orientation
 * tag. JPEG 2000 images must be gray or RGB without subsampling (else CW_EUNSUPPORTED).
 * limits may be NULL for the defaults.
 * Returns 0, or CW_EINVAL (bad arguments), CW_EUNSUPPORTED (another format), CW_EFORMAT
 * (corrupt or truncated data), CW_ETOOBIG (dimensions over the caps), CW_ENOMEM. On error *out
 * is zeroed and nothing is allocated. Never crashes, whatever the bytes.
 */
int cw_image_decode(const uint8_t *buf, size_t len, cw_image_format_t want,
                    const cw_image_limits_t *limits, cw_image_t *out, char *diag, size_t diag_len);

/* cw_image_load: read a file (at most 64 MiB) and decode it; CW_EIO if it cannot be read. */
int cw_image_load(const char *path, cw_image_format_t want, const cw_image_limits_t *limits,
                  cw_image_t *out, char *diag, size_t diag_len);

/* cw_image_alloc: a zeroed width x height image of `channels` channels (tight stride). */
int cw_image_alloc(int width, int height, int channels, cw_image_t *out);

/* cw_image_free: wipe and free the pixels; the struct is zeroed. NULL or empty is a no-op. */
void cw_image_free(cw_image_t *img);

/* cw_image_write_png: encode to a PNG file (for tools and for people to look at). */
int cw_image_write_png(const cw_image_t *img, const char *path, char *diag, size_t diag_len);

/*
 * cw_image_resize: bilinear resize of src into a new image of dst_w x dst_h, the same channels
 * (area-averaging when shrinking by more than 2x, so small faces from big frames stay clean).
 */
int cw_image_resize(const cw_image_t *src, int dst_w, int dst_h, cw_image_t *out);

/*
 * cw_image_warp_affine_f32: sample src through the 2x3 affine matrix m, which maps destination
 * pixel centres (x, y) to source coordinates (u = m[0]x + m[1]y + m[2], v = m[3]x + m[4]y +
 * m[5]), bilinearly, into dst: dst_h x dst_w x channels floats (HWC), each value
 * (pixel - mean) * scale. Samples outside src take the border value `border` (before
 * normalisation). With channels 3, swap_rb writes BGR instead of RGB.
 */
int cw_image_warp_affine_f32(const cw_image_t *src, const double m[6], int dst_w, int dst_h,
                             float mean, float scale, int border, int swap_rb, float *dst);

/*
 * cw_image_resize_f32: resize the rectangle [x0, x0 + w) x [y0, y0 + h) of src (may extend
 * outside the image: outside pixels are `border`) to dst_w x dst_h floats (HWC), normalised as
 * in cw_image_warp_affine_f32. The crop-and-resize MTCNN's refinement stages need.
 */
int cw_image_crop_resize_f32(const cw_image_t *src, double x0, double y0, double w, double h,
                             int dst_w, int dst_h, float mean, float scale, int border, float *dst);

#ifdef __cplusplus
}
#endif
#endif
