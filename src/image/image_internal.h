/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the files of the image module: the decoders image.c dispatches to, the
 * EXIF reader, the orientation and colour helpers, and the libpng memory and message hooks that
 * both the PNG reader and the PNG writer install. Not a public interface.
 */
#ifndef CLEARWAY_IMAGE_INTERNAL_H
#define CLEARWAY_IMAGE_INTERNAL_H

#include "clearway/image.h"

#include <png.h>
#include <stddef.h>
#include <stdint.h>

/* Caps with the defaults filled in, so decoders compare against plain numbers. */
typedef struct cw__image_caps {
    long long max_side;
    long long max_pixels;
} cw__image_caps_t;

/* 1 if width x height is within the caps (both already known positive). */
int cw__image_within_caps(const cw__image_caps_t *caps, long long width, long long height);

/*
 * Allocate width x height x channels pixels with a tight stride; zero selects zeroed memory.
 * Returns 0, CW_EINVAL, CW_EOVERFLOW or CW_ENOMEM; *out is zeroed on error.
 */
int cw__image_alloc(int width, int height, int channels, int zero, cw_image_t *out);

/* BT.601 luma with libjpeg's fixed-point weights, so PNG and JPEG grays agree. */
static inline uint8_t cw__luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
}

/* A new 1-channel image holding the luma of a 3-channel one. */
int cw__image_rgb_to_gray(const cw_image_t *src, cw_image_t *out);

/*
 * Decoders: buf/len start with the format's signature. want is 1 or 3 channels. On success *out
 * holds the pixels as stored (not yet oriented); on error *out is zeroed, nothing is left
 * allocated, and diag says why. The JPEG decoder also reports the EXIF orientation (1..8).
 */
int cw__decode_jpeg(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                    cw_image_t *out, int *orientation, char *diag, size_t diag_len);
int cw__decode_png(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                   cw_image_t *out, char *diag, size_t diag_len);
/* JPEG 2000: a JP2 file or a raw J2K codestream (told apart by the signature). */
int cw__decode_jp2(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                   cw_image_t *out, char *diag, size_t diag_len);

/*
 * The Orientation tag (1..8) of a TIFF structure (an EXIF APP1 payload after "Exif\0\0"); 1 when
 * absent or when anything about the structure is out of bounds or malformed.
 */
int cw__exif_orientation(const uint8_t *tiff, size_t len);

/* Rotate/flip img upright for EXIF orientation 2..8 (1 and unknown values: unchanged). */
int cw__image_orient(cw_image_t *img, int orientation);

/*
 * libpng hooks: allocation through cw_malloc with a size header so that libpng's row and zlib
 * buffers (which hold pixels) are wiped when freed; a warning handler that stays silent. The
 * error pointer given to png_create_*_struct_2 must point to a cw__png_msg_t.
 */
typedef struct cw__png_msg {
    char text[128]; /* last error or warning */
    int nomem;      /* an allocation failed: report CW_ENOMEM, not CW_EFORMAT */
} cw__png_msg_t;

png_voidp cw__png_malloc(png_structp png, png_alloc_size_t size);
void cw__png_free(png_structp png, png_voidp ptr);
void cw__png_warning(png_structp png, png_const_charp msg);
/* Records the message and longjmps to png_jmpbuf; never returns to libpng. */
PNG_NORETURN void cw__png_error(png_structp png, png_const_charp msg);

/* A well-formed image: pixels present, sizes positive, 1 or 3 channels, stride wide enough. */
int cw__image_valid(const cw_image_t *img);

#endif
