// SPDX-License-Identifier: Apache-2.0
// JPEG decoding of untrusted bytes with libjpeg(-turbo): an error manager that longjmps back
// instead of calling exit() and never prints, warnings that mean lost pixels (truncation,
// corrupt entropy data) turned into CW_EFORMAT so a damaged capture is refused rather than
// matched half-gray, the caps checked on the header before libjpeg allocates its frame buffers,
// a cap on progressive scans (each one costs a pass over the whole image), CMYK/YCCK converted
// to RGB (Adobe's inverted CMYK included), and the EXIF APP1 segment kept for the orientation.
// libjpeg allocates its own working memory with malloc; only our buffers go through cw_malloc.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "image_internal.h"

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// jpeglib.h first: jerror.h depends on the configuration it pulls in.
#include <jpeglib.h>

#include <jerror.h>

// Real encoders write a dozen scans at most; thousands of tiny scans are a known way to make a
// small file cost minutes of CPU.
#define MAX_SCANS 200

typedef struct jpeg_reader {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    int err; // what a longjmp means: CW_EFORMAT or CW_ENOMEM
    char msg[JMSG_LENGTH_MAX];
    const uint8_t *buf;
    size_t len;
    int want;
    const cw__image_caps_t *caps;
    cw_image_t img; // the result, owned here until handed to the caller
    uint8_t *row;   // CMYK scanline buffer
    size_t row_len;
} jpeg_reader;

static void fail(j_common_ptr cinfo, int err)
{
    jpeg_reader *r = cinfo->client_data;
    r->err = err;
    (*cinfo->err->format_message)(cinfo, r->msg);
    longjmp(r->jb, 1);
}

static void on_error(j_common_ptr cinfo)
{
    fail(cinfo, cinfo->err->msg_code == JERR_OUT_OF_MEMORY ? CW_ENOMEM : CW_EFORMAT);
}

// Warnings (level -1) that mean the pixels are incomplete or wrong fail the decode; the rest
// (an odd JFIF version, bytes between markers, a bad ICC marker) leave the image intact.
static void on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) {
        return; // trace messages
    }
    cinfo->err->num_warnings++;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE:
#endif
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        fail(cinfo, CW_EFORMAT);
        break;
    default:
        break;
    }
}

static void on_output(j_common_ptr cinfo)
{
    (void)cinfo; // library code never prints
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_reader *r = cinfo->client_data;
        r->err = CW_EFORMAT;
        snprintf(r->msg, sizeof(r->msg), "more than %d scans", MAX_SCANS);
        longjmp(r->jb, 1);
    }
}

static int exif_orientation(j_decompress_ptr cinfo)
{
    static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= sizeof(exif_id) &&
            memcmp(m->data, exif_id, sizeof(exif_id)) == 0) {
            // The first EXIF segment is the one cameras write; a second would be an oddity.
            return cw__exif_orientation(m->data + sizeof(exif_id),
                                        m->data_length - sizeof(exif_id));
        }
    }
    return 1;
}

// One CMYK scanline to RGB or gray. Adobe writes CMYK inverted (0 = full ink), and nearly every
// CMYK JPEG comes from Adobe software; without its marker the values are taken as plain ink.
static void cmyk_row(const uint8_t *src, int width, int inverted, int channels, uint8_t *dst)
{
    for (int x = 0; x < width; x++) {
        unsigned c = src[4 * x];
        unsigned m = src[4 * x + 1];
        unsigned y = src[4 * x + 2];
        unsigned k = src[4 * x + 3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        unsigned r = (c * k + 127) / 255;
        unsigned g = (m * k + 127) / 255;
        unsigned b = (y * k + 127) / 255;
        if (channels == 3) {
            dst[3 * x] = (uint8_t)r;
            dst[3 * x + 1] = (uint8_t)g;
            dst[3 * x + 2] = (uint8_t)b;
        } else {
            dst[x] = cw__luma(r, g, b);
        }
    }
}

// Everything that may longjmp runs here; the state is in *r, owned by the caller.
static int read_run(jpeg_reader *r, int *orientation, char *diag, size_t diag_len)
{
    if (setjmp(r->jb)) {
        return cw_diag_set(diag, diag_len, r->err, "JPEG: %s", r->msg);
    }
    j_decompress_ptr cinfo = &r->cinfo;
    jpeg_create_decompress(cinfo);
    cinfo->client_data = r;
    r->progress.progress_monitor = on_progress;
    cinfo->progress = &r->progress;
    jpeg_mem_src(cinfo, r->buf, (unsigned long)r->len);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(cinfo, TRUE);

    long long width = cinfo->image_width;
    long long height = cinfo->image_height;
    if (width <= 0 || height <= 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "JPEG: empty image");
    }
    // Before jpeg_start_decompress, which allocates buffers sized by the header's claims.
    if (!cw__image_within_caps(r->caps, width, height)) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "JPEG: %lldx%lld exceeds the caps", width,
                           height);
    }
    *orientation = exif_orientation(cinfo);

    int cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        // libjpeg converts these itself; for gray it takes Y, the luma we would compute.
        cinfo->out_color_space = r->want == 3 ? JCS_RGB : JCS_GRAYSCALE;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK; // libjpeg undoes YCCK; CMYK to RGB is ours
        cmyk = 1;
        break;
    default:
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "JPEG: unsupported colour space (%d components)", cinfo->num_components);
    }
    jpeg_start_decompress(cinfo);
    int expect = cmyk ? 4 : r->want;
    if (cinfo->output_components != expect || cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height) {
        return cw_diag_set(diag, diag_len, CW_EINTERNAL, "JPEG: unexpected output layout");
    }
    int rc = cw__image_alloc((int)width, (int)height, r->want, 0, &r->img);
    if (rc != 0) {
        return cw_diag_set(diag, diag_len, rc, "JPEG: cannot allocate %lldx%lld", width, height);
    }
    if (cmyk) {
        if (cw_size_mul((size_t)width, 4, &r->row_len) != 0) {
            return cw_diag_set(diag, diag_len, CW_EOVERFLOW, "JPEG: row too long");
        }
        r->row = cw_malloc(r->row_len);
        if (r->row == NULL) {
            return cw_diag_set(diag, diag_len, CW_ENOMEM, "JPEG: out of memory");
        }
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = r->img.data + (size_t)cinfo->output_scanline * r->img.stride;
        JSAMPROW rows[1] = {cmyk ? r->row : dst};
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1) {
            // Only a suspending source returns short, and ours never suspends; be safe anyway.
            return cw_diag_set(diag, diag_len, CW_EFORMAT, "JPEG: truncated scanline data");
        }
        if (cmyk) {
            cmyk_row(r->row, (int)width, cinfo->saw_Adobe_marker, r->want, dst);
        }
    }
    // jpeg_finish_decompress is skipped on purpose: every row is decoded, and what follows the
    // last scan (a missing EOI, trailing bytes) does not change the picture.
    return 0;
}

int cw__decode_jpeg(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                    cw_image_t *out, int *orientation, char *diag, size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    *orientation = 1;
#if SIZE_MAX > ULONG_MAX
    if (len > ULONG_MAX) { // jpeg_mem_src takes an unsigned long
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "JPEG: input too large");
    }
#endif
    jpeg_reader *r = cw_calloc(1, sizeof(*r));
    if (r == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "JPEG: out of memory");
    }
    r->buf = buf;
    r->len = len;
    r->want = want;
    r->caps = caps;
    // The error manager must be in place before jpeg_create_decompress, which can fail.
    r->cinfo.err = jpeg_std_error(&r->jerr);
    r->jerr.error_exit = on_error;
    r->jerr.emit_message = on_message;
    r->jerr.output_message = on_output;
    r->cinfo.client_data = r;
    int rc = read_run(r, orientation, diag, diag_len);
    jpeg_destroy_decompress(&r->cinfo);
    cw_free_wipe(r->row, r->row_len);
    if (rc != 0) {
        cw_image_free(&r->img);
        *orientation = 1;
    } else {
        *out = r->img;
    }
    cw_free(r);
    return rc;
}
