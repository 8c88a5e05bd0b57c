// SPDX-License-Identifier: Apache-2.0
// The image module's front door: argument and cap checks, format sniffing by signature and
// dispatch to the JPEG, PNG or JPEG 2000 (JP2 file or J2K codestream) decoder, EXIF orientation,
// reading files, the lifetime of cw_image_t (pixels are personal data, so they are wiped before
// they are freed) and the PNG writer tools use to show people what the pipeline saw.
#include "clearway/image.h"
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/file.h"
#include "image_internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

// Files bigger than this are refused: no legitimate capture comes near it, and it bounds what a
// mistaken path (a video, a disk image) can make us read.
#define MAX_FILE_BYTES ((size_t)64 << 20)

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_signature[3] = {0xff, 0xd8, 0xff};
static const uint8_t jp2_signature[12] = {0,   0,   0,    0x0c, 'j',  'P',
                                          ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};
static const uint8_t j2k_signature[4] = {0xff, 0x4f, 0xff, 0x51}; // SOC, then SIZ

int cw__image_within_caps(const cw__image_caps_t *caps, long long width, long long height)
{
    if (width > caps->max_side || height > caps->max_side) {
        return 0;
    }
    // Both sides are at most max_side (an int), so the product fits in long long.
    return width * height <= caps->max_pixels;
}

int cw__image_alloc(int width, int height, int channels, int zero, cw_image_t *out)
{
    if (out == NULL) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        return CW_EINVAL;
    }
    size_t stride;
    size_t total;
    if (cw_size_mul((size_t)width, (size_t)channels, &stride) != 0 ||
        cw_size_mul(stride, (size_t)height, &total) != 0) {
        return CW_EOVERFLOW;
    }
    uint8_t *data = zero ? cw_calloc(total, 1) : cw_malloc(total);
    if (data == NULL) {
        return CW_ENOMEM;
    }
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->stride = stride;
    out->data = data;
    return 0;
}

int cw_image_alloc(int width, int height, int channels, cw_image_t *out)
{
    return cw__image_alloc(width, height, channels, 1, out);
}

void cw_image_free(cw_image_t *img)
{
    if (img == NULL) {
        return;
    }
    if (img->data != NULL && img->height > 0) {
        size_t bytes;
        if (cw_size_mul(img->stride, (size_t)img->height, &bytes) != 0) {
            bytes = 0; // cannot come from our allocator; free without wiping rather than overrun
        }
        cw_memzero(img->data, bytes);
    }
    cw_free(img->data);
    memset(img, 0, sizeof(*img));
}

int cw__image_rgb_to_gray(const cw_image_t *src, cw_image_t *out)
{
    int rc = cw__image_alloc(src->width, src->height, 1, 0, out);
    if (rc != 0) {
        return rc;
    }
    for (int y = 0; y < src->height; y++) {
        const uint8_t *s = src->data + (size_t)y * src->stride;
        uint8_t *d = out->data + (size_t)y * out->stride;
        for (int x = 0; x < src->width; x++) {
            d[x] = cw__luma(s[3 * x], s[3 * x + 1], s[3 * x + 2]);
        }
    }
    return 0;
}

static int resolve_caps(const cw_image_limits_t *limits, cw__image_caps_t *caps)
{
    caps->max_side = CW_IMAGE_MAX_SIDE;
    caps->max_pixels = CW_IMAGE_MAX_PIXELS;
    if (limits == NULL) {
        return 0;
    }
    if (limits->max_side < 0 || limits->max_pixels < 0) {
        return CW_EINVAL;
    }
    if (limits->max_side > 0) {
        caps->max_side = limits->max_side;
    }
    if (limits->max_pixels > 0) {
        caps->max_pixels = limits->max_pixels;
    }
    return 0;
}

// 1 if the first n bytes agree with sig (n may be shorter than sig: a truncated signature).
static int prefix_matches(const uint8_t *buf, size_t n, const uint8_t *sig, size_t sig_len)
{
    return memcmp(buf, sig, n < sig_len ? n : sig_len) == 0;
}

int cw_image_decode(const uint8_t *buf, size_t len, cw_image_format_t want,
                    const cw_image_limits_t *limits, cw_image_t *out, char *diag, size_t diag_len)
{
    if (out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "image: no output image");
    }
    memset(out, 0, sizeof(*out));
    cw__image_caps_t caps;
    if ((buf == NULL && len > 0) || (want != CW_IMAGE_GRAY && want != CW_IMAGE_RGB) ||
        resolve_caps(limits, &caps) != 0) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "image: invalid arguments");
    }
    if (len == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "image: empty input");
    }

    int orientation = 1;
    int rc;
    if (len >= sizeof(jpeg_signature) && prefix_matches(buf, len, jpeg_signature, 3)) {
        rc = cw__decode_jpeg(buf, len, (int)want, &caps, out, &orientation, diag, diag_len);
    } else if (len >= sizeof(png_signature) && prefix_matches(buf, len, png_signature, 8)) {
        rc = cw__decode_png(buf, len, (int)want, &caps, out, diag, diag_len);
    } else if ((len >= sizeof(jp2_signature) && prefix_matches(buf, len, jp2_signature, 12)) ||
               (len >= sizeof(j2k_signature) && prefix_matches(buf, len, j2k_signature, 4))) {
        rc = cw__decode_jp2(buf, len, (int)want, &caps, out, diag, diag_len);
    } else if (prefix_matches(buf, len, jpeg_signature, 3) ||
               prefix_matches(buf, len, png_signature, 8) ||
               prefix_matches(buf, len, jp2_signature, 12) ||
               prefix_matches(buf, len, j2k_signature, 4)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "image: truncated signature");
    } else {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "image: neither JPEG, PNG nor JPEG 2000");
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    rc = cw__image_orient(out, orientation);
    if (rc != 0) {
        cw_image_free(out);
        return cw_diag_set(diag, diag_len, rc, "image: cannot apply EXIF orientation %d",
                           orientation);
    }
    return 0;
}

int cw_image_load(const char *path, cw_image_format_t want, const cw_image_limits_t *limits,
                  cw_image_t *out, char *diag, size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (path == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "image: invalid arguments");
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cw_file_read(path, MAX_FILE_BYTES, &data, &len, diag, diag_len);
    if (rc != 0) {
        return rc;
    }
    rc = cw_image_decode(data, len, want, limits, out, diag, diag_len);
    cw_free_wipe(data, len);
    return rc;
}

int cw__image_valid(const cw_image_t *img)
{
    if (img == NULL || img->data == NULL || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3)) {
        return 0;
    }
    size_t row;
    return cw_size_mul((size_t)img->width, (size_t)img->channels, &row) == 0 && img->stride >= row;
}

// State of one PNG write. It lives in the caller of write_run (the function that calls setjmp),
// so nothing libpng's longjmp skips over can leave it indeterminate.
typedef struct png_writer {
    const cw_image_t *img;
    FILE *file;
    png_structp png;
    png_infop info;
    cw__png_msg_t msg;
} png_writer;

static int write_run(png_writer *w)
{
    if (setjmp(png_jmpbuf(w->png))) {
        return w->msg.nomem ? CW_ENOMEM : CW_EIO;
    }
    png_init_io(w->png, w->file);
    int type = w->img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
    png_set_IHDR(w->png, w->info, (png_uint_32)w->img->width, (png_uint_32)w->img->height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    for (int y = 0; y < w->img->height; y++) {
        png_write_row(w->png, w->img->data + (size_t)y * w->img->stride);
    }
    png_write_end(w->png, NULL);
    return 0;
}

int cw_image_write_png(const cw_image_t *img, const char *path, char *diag, size_t diag_len)
{
    if (!cw__image_valid(img) || path == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "image: invalid arguments");
    }
    png_writer w;
    memset(&w, 0, sizeof(w));
    w.img = img;
    w.png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &w.msg, cw__png_error, cw__png_warning,
                                      &w.msg, cw__png_malloc, cw__png_free);
    if (w.png == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "image: out of memory");
    }
    w.info = png_create_info_struct(w.png);
    if (w.info == NULL) {
        png_destroy_write_struct(&w.png, NULL);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "image: out of memory");
    }
    w.file = fopen(path, "wb");
    if (w.file == NULL) {
        png_destroy_write_struct(&w.png, &w.info);
        return cw_diag_set(diag, diag_len, CW_EIO, "image: cannot create '%s' (errno %d)", path,
                           errno);
    }
    int rc = write_run(&w);
    png_destroy_write_struct(&w.png, &w.info);
    if (fclose(w.file) != 0 && rc == 0) {
        rc = CW_EIO;
        snprintf(w.msg.text, sizeof(w.msg.text), "close failed (errno %d)", errno);
    }
    if (rc != 0) {
        remove(path); // a half-written PNG is worse than none
        return cw_diag_set(diag, diag_len, rc, "image: cannot write '%s': %s", path,
                           w.msg.text[0] != '\0' ? w.msg.text : cw_strerror(rc));
    }
    return 0;
}
