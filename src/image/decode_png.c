// SPDX-License-Identifier: Apache-2.0
// PNG decoding of untrusted bytes with libpng: the dimensions in IHDR are checked against the
// caps before libpng sees the data, every ancillary chunk is ignored (nothing we need lives
// there, and the text and ICC parsers are attack surface), palette, low bit depths, 16-bit
// samples, gray+alpha and interlacing are normalised to 8-bit gray or RGB with alpha dropped.
// libpng's errors longjmp back here and become CW_EFORMAT (or CW_ENOMEM), its warnings are
// swallowed, and its memory goes through cw_malloc and is wiped on release.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

// ---- libpng hooks (shared with the writer in image.c) ----------------------------------------

// Each block remembers its size just before the pointer libpng sees, so it can be wiped on free.
typedef union png_block_header {
    size_t size;
    max_align_t align;
} png_block_header;

png_voidp cw__png_malloc(png_structp png, png_alloc_size_t size)
{
    size_t total;
    png_block_header *h = NULL;
    if (cw_size_add(size, sizeof(png_block_header), &total) == 0) {
        h = cw_malloc(total);
    }
    if (h == NULL) {
        cw__png_msg_t *msg = png_get_mem_ptr(png);
        if (msg != NULL) {
            msg->nomem = 1;
        }
        return NULL;
    }
    h->size = size;
    return h + 1;
}

void cw__png_free(png_structp png, png_voidp ptr)
{
    (void)png;
    if (ptr == NULL) {
        return;
    }
    png_block_header *h = (png_block_header *)ptr - 1;
    cw_free_wipe(h, h->size + sizeof(png_block_header));
}

void cw__png_warning(png_structp png, png_const_charp msg)
{
    cw__png_msg_t *m = png_get_error_ptr(png);
    if (m != NULL && msg != NULL) {
        snprintf(m->text, sizeof(m->text), "%s", msg);
    }
}

void cw__png_error(png_structp png, png_const_charp msg)
{
    cw__png_warning(png, msg);
    // Returning would make libpng print the message and then longjmp itself.
    png_longjmp(png, 1);
}

// ---- reader ------------------------------------------------------------------------------------

// Ancillary chunks libpng would otherwise parse; we need none of them (alpha is dropped, so
// tRNS does not matter either) and skipping them keeps libpng's chunk parsers out of reach.
static const png_byte ignored_chunks[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0"
                                         "pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0tRNS\0zTXt";

typedef struct png_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int want;
    const cw__image_caps_t *caps;
    png_structp png;
    png_infop info;
    cw__png_msg_t msg;
    cw_image_t decoded; // what libpng writes into (RGB when the caller wants gray from colour)
    cw_image_t gray;    // the luma of decoded, when that conversion is needed
} png_reader;

static void read_bytes(png_structp png, png_bytep dst, size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    if (n > r->len - r->pos) {
        png_error(png, "truncated PNG");
    }
    memcpy(dst, r->buf + r->pos, n);
    r->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Everything that may longjmp runs here; the state is in *r, owned by the caller.
static int read_run(png_reader *r, char *diag, size_t diag_len)
{
    if (setjmp(png_jmpbuf(r->png))) {
        if (r->msg.nomem) {
            return cw_diag_set(diag, diag_len, CW_ENOMEM, "PNG: out of memory");
        }
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "PNG: %s", r->msg.text);
    }
    png_set_read_fn(r->png, r, read_bytes);
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks,
                                (int)(sizeof(ignored_chunks) / 5));
    png_set_user_limits(r->png, (png_uint_32)r->caps->max_side, (png_uint_32)r->caps->max_side);
    png_set_chunk_malloc_max(r->png, (png_alloc_size_t)1 << 20);
    png_read_info(r->png, r->info);

    png_uint_32 width;
    png_uint_32 height;
    int depth;
    int type;
    int interlace;
    png_get_IHDR(r->png, r->info, &width, &height, &depth, &type, &interlace, NULL, NULL);
    if (width == 0 || height == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "PNG: empty image");
    }
    if (!cw__image_within_caps(r->caps, width, height)) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "PNG: %lux%lu exceeds the caps",
                           (unsigned long)width, (unsigned long)height);
    }

    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(r->png);
    }
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) {
        png_set_expand_gray_1_2_4_to_8(r->png);
    }
    if (depth == 16) {
        png_set_scale_16(r->png); // rounds, where strip_16 would truncate
    }
    if ((type & PNG_COLOR_MASK_ALPHA) != 0) {
        png_set_strip_alpha(r->png);
    }
    int gray_source = (type & PNG_COLOR_MASK_COLOR) == 0;
    if (gray_source && r->want == 3) {
        png_set_gray_to_rgb(r->png);
    }
    int passes = png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);

    int channels = png_get_channels(r->png, r->info);
    if ((channels != 1 && channels != 3) || png_get_bit_depth(r->png, r->info) != 8) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "PNG: unexpected %d-channel output",
                           channels);
    }
    int rc = cw__image_alloc((int)width, (int)height, channels, 0, &r->decoded);
    if (rc != 0) {
        return cw_diag_set(diag, diag_len, rc, "PNG: cannot allocate %lux%lu", (unsigned long)width,
                           (unsigned long)height);
    }
    if (png_get_rowbytes(r->png, r->info) != r->decoded.stride) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "PNG: unexpected row size");
    }
    // Interlaced images need every pass to land in the same rows; png_read_row combines them.
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(r->png, r->decoded.data + (size_t)y * r->decoded.stride, NULL);
        }
    }
    if (channels == 3 && r->want == 1) {
        rc = cw__image_rgb_to_gray(&r->decoded, &r->gray);
        if (rc != 0) {
            return cw_diag_set(diag, diag_len, rc, "PNG: out of memory");
        }
    }
    return 0;
}

int cw__decode_png(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                   cw_image_t *out, char *diag, size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    // IHDR must be the first chunk: check its dimensions before libpng allocates anything, so
    // a forged header costs nothing.
    if (len >= 24 && memcmp(buf + 12, "IHDR", 4) == 0) {
        uint32_t w = be32(buf + 16);
        uint32_t h = be32(buf + 20);
        if (w > 0 && h > 0 && !cw__image_within_caps(caps, w, h)) {
            return cw_diag_set(diag, diag_len, CW_ETOOBIG, "PNG: %lux%lu exceeds the caps",
                               (unsigned long)w, (unsigned long)h);
        }
    }

    png_reader r;
    memset(&r, 0, sizeof(r));
    r.buf = buf;
    r.len = len;
    r.want = want;
    r.caps = caps;
    r.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &r.msg, cw__png_error, cw__png_warning,
                                     &r.msg, cw__png_malloc, cw__png_free);
    if (r.png == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "PNG: out of memory");
    }
    r.info = png_create_info_struct(r.png);
    if (r.info == NULL) {
        png_destroy_read_struct(&r.png, NULL, NULL);
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "PNG: out of memory");
    }
    int rc = read_run(&r, diag, diag_len);
    png_destroy_read_struct(&r.png, &r.info, NULL);
    if (rc != 0) {
        cw_image_free(&r.decoded);
        cw_image_free(&r.gray);
        return rc;
    }
    if (r.gray.data != NULL) {
        cw_image_free(&r.decoded);
        *out = r.gray;
    } else {
        *out = r.decoded;
    }
    return 0;
}
