// SPDX-License-Identifier: Apache-2.0
// A minimal, bounds-checked reader of baseline TIFF images as fingerprint sensors and the FVC
// sets deliver them: one image, 8-bit grayscale, uncompressed, in strips, either byte order.
// Everything else is refused with a reason. Every offset and length read from the file is
// checked against the buffer before use, and sizes are capped before anything is allocated.
#include "finger_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <string.h>

enum {
    TAG_WIDTH = 256,
    TAG_HEIGHT = 257,
    TAG_BITS = 258,
    TAG_COMPRESSION = 259,
    TAG_PHOTOMETRIC = 262,
    TAG_STRIP_OFFSETS = 273,
    TAG_SAMPLES = 277,
    TAG_ROWS_PER_STRIP = 278,
    TAG_STRIP_BYTES = 279,
    TAG_XRES = 282,
    TAG_PLANAR = 284,
    TAG_RES_UNIT = 296,
    TAG_TILE_WIDTH = 322,
    TAG_SAMPLE_FORMAT = 339,
    MAX_ENTRIES = 512,
    MAX_STRIPS = 1 << 16,
};

enum { T_BYTE = 1, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5 };

typedef struct reader {
    const uint8_t *buf;
    size_t len;
    int big; // 1: "MM" (big-endian)
} reader_t;

static uint32_t rd16(const reader_t *r, size_t off)
{
    const uint8_t *p = r->buf + off;
    return r->big ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const reader_t *r, size_t off)
{
    const uint8_t *p = r->buf + off;
    if (r->big) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

typedef struct entry {
    uint32_t tag, type, count;
    size_t value_off; // where the values start (inline or at the offset), checked in range
} entry_t;

static size_t type_size(uint32_t type)
{
    switch (type) {
    case T_BYTE:
        return 1;
    case T_SHORT:
        return 2;
    case T_LONG:
        return 4;
    case T_RATIONAL:
        return 8;
    default:
        return 0;
    }
}

// Value i of an integer entry (BYTE, SHORT or LONG); the caller has checked i < count.
static uint32_t entry_value(const reader_t *r, const entry_t *e, uint32_t i)
{
    switch (e->type) {
    case T_BYTE:
        return r->buf[e->value_off + i];
    case T_SHORT:
        return rd16(r, e->value_off + 2 * (size_t)i);
    default:
        return rd32(r, e->value_off + 4 * (size_t)i);
    }
}

static int is_int_type(uint32_t t)
{
    return t == T_BYTE || t == T_SHORT || t == T_LONG;
}

typedef struct tiff_info {
    uint32_t width, height, bits, samples, compression, photometric, planar, sample_format;
    uint32_t rows_per_strip, res_unit;
    double xres;
    int have_width, have_height, tiled;
    entry_t offsets, bytes;
    int have_offsets, have_bytes;
} tiff_info_t;

static int single(const reader_t *r, const entry_t *e, uint32_t *v, char *diag, size_t diag_len)
{
    if (!is_int_type(e->type) || e->count < 1) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: tag %u has type %u count %u", e->tag,
                           e->type, e->count);
    }
    *v = entry_value(r, e, 0);
    return 0;
}

static int parse_ifd(const reader_t *r, size_t ifd, tiff_info_t *t, char *diag, size_t diag_len)
{
    if (ifd < 8 || ifd > r->len || r->len - ifd < 2) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: directory offset %zu out of range",
                           ifd);
    }
    uint32_t n = rd16(r, ifd);
    if (n == 0 || n > MAX_ENTRIES || (r->len - ifd - 2) / 12 < n) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: directory of %u entries does not fit",
                           n);
    }
    memset(t, 0, sizeof(*t));
    t->bits = 1;
    t->samples = 1;
    t->compression = 1;
    t->planar = 1;
    t->sample_format = 1;
    t->rows_per_strip = UINT32_MAX;
    t->res_unit = 2;
    for (uint32_t k = 0; k < n; k++) {
        size_t off = ifd + 2 + 12 * (size_t)k;
        entry_t e = {rd16(r, off), rd16(r, off + 2), rd32(r, off + 4), 0};
        size_t ts = type_size(e.type);
        if (ts == 0) {
            continue; // a type we never need: ignore the tag
        }
        if (e.count > r->len / ts) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: tag %u claims %u values", e.tag,
                               e.count);
        }
        size_t bytes = ts * e.count;
        if (bytes <= 4) {
            e.value_off = off + 8;
        } else {
            size_t vo = rd32(r, off + 8);
            if (vo > r->len || r->len - vo < bytes) {
                return cw_diag_set(diag, diag_len, CW_EFORMAT,
                                   "tiff: values of tag %u lie outside the file", e.tag);
            }
            e.value_off = vo;
        }
        int rc = 0;
        switch (e.tag) {
        case TAG_WIDTH:
            rc = single(r, &e, &t->width, diag, diag_len);
            t->have_width = 1;
            break;
        case TAG_HEIGHT:
            rc = single(r, &e, &t->height, diag, diag_len);
            t->have_height = 1;
            break;
        case TAG_BITS:
            rc = single(r, &e, &t->bits, diag, diag_len);
            break;
        case TAG_COMPRESSION:
            rc = single(r, &e, &t->compression, diag, diag_len);
            break;
        case TAG_PHOTOMETRIC:
            rc = single(r, &e, &t->photometric, diag, diag_len);
            break;
        case TAG_SAMPLES:
            rc = single(r, &e, &t->samples, diag, diag_len);
            break;
        case TAG_ROWS_PER_STRIP:
            rc = single(r, &e, &t->rows_per_strip, diag, diag_len);
            break;
        case TAG_PLANAR:
            rc = single(r, &e, &t->planar, diag, diag_len);
            break;
        case TAG_SAMPLE_FORMAT:
            rc = single(r, &e, &t->sample_format, diag, diag_len);
            break;
        case TAG_RES_UNIT:
            rc = single(r, &e, &t->res_unit, diag, diag_len);
            break;
        case TAG_TILE_WIDTH:
            t->tiled = 1;
            break;
        case TAG_XRES:
            if (e.type == T_RATIONAL && e.count >= 1) {
                uint32_t num = rd32(r, e.value_off), den = rd32(r, e.value_off + 4);
                t->xres = den ? (double)num / den : 0.0;
            }
            break;
        case TAG_STRIP_OFFSETS:
        case TAG_STRIP_BYTES:
            if (!is_int_type(e.type) || e.count > MAX_STRIPS) {
                return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: bad strip table (tag %u)",
                                   e.tag);
            }
            if (e.tag == TAG_STRIP_OFFSETS) {
                t->offsets = e;
                t->have_offsets = 1;
            } else {
                t->bytes = e;
                t->have_bytes = 1;
            }
            break;
        default:
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int check_info(const tiff_info_t *t, char *diag, size_t diag_len)
{
    if (!t->have_width || !t->have_height || !t->have_offsets) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "tiff: missing image width, length or strip offsets");
    }
    if (t->tiled) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED, "tiff: tiled images unsupported");
    }
    if (t->compression != 1) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "tiff: compression %u unsupported (uncompressed only)", t->compression);
    }
    if (t->bits != 8 || t->samples != 1 || t->sample_format != 1 || t->planar != 1) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "tiff: %u bits x %u samples unsupported (8-bit grayscale only)", t->bits,
                           t->samples);
    }
    if (t->photometric > 1) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "tiff: photometric %u unsupported (grayscale only)", t->photometric);
    }
    if (t->width == 0 || t->height == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: empty image (%ux%u)", t->width,
                           t->height);
    }
    if (t->width > CW_FINGER_MAX_SIDE || t->height > CW_FINGER_MAX_SIDE ||
        (uint64_t)t->width * t->height > CW_FINGER_MAX_PIXELS) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "tiff: %ux%u exceeds the %dx%d cap",
                           t->width, t->height, CW_FINGER_MAX_SIDE, CW_FINGER_MAX_SIDE);
    }
    if (t->offsets.count == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: no strips");
    }
    if (t->rows_per_strip == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: zero rows per strip");
    }
    return 0;
}

int cw_finger_tiff_decode(const uint8_t *buf, size_t len, cw_image_t *out, int *dpi, char *diag,
                          size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (dpi != NULL) {
        *dpi = 0;
    }
    if (buf == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "tiff: invalid arguments");
    }
    if (len < 8 || !((buf[0] == 'I' && buf[1] == 'I') || (buf[0] == 'M' && buf[1] == 'M'))) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED, "tiff: not a TIFF file");
    }
    reader_t r = {buf, len, buf[0] == 'M'};
    if (rd16(&r, 2) != 42) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED, "tiff: bad version (BigTIFF?)");
    }
    tiff_info_t t;
    int rc = parse_ifd(&r, rd32(&r, 4), &t, diag, diag_len);
    if (rc == 0) {
        rc = check_info(&t, diag, diag_len);
    }
    if (rc != 0) {
        return rc;
    }
    uint32_t rps = t.rows_per_strip < t.height ? t.rows_per_strip : t.height;
    uint32_t n_strips = (t.height + rps - 1) / rps;
    if (t.offsets.count < n_strips || (t.have_bytes && t.bytes.count < n_strips)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "tiff: %u strips listed, %u needed",
                           t.offsets.count, n_strips);
    }
    rc = cw_image_alloc((int)t.width, (int)t.height, 1, out);
    if (rc != 0) {
        return cw_diag_set(diag, diag_len, rc, "tiff: cannot allocate %ux%u", t.width, t.height);
    }
    for (uint32_t s = 0; s < n_strips; s++) {
        uint32_t y0 = s * rps;
        uint32_t rows = t.height - y0 < rps ? t.height - y0 : rps;
        size_t need = (size_t)rows * t.width;
        size_t off = entry_value(&r, &t.offsets, s);
        size_t have = t.have_bytes ? entry_value(&r, &t.bytes, s) : need;
        if (have < need || off > len || len - off < need) {
            cw_image_free(out);
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "tiff: strip %u (%zu bytes at %zu) truncated or short", s, need,
                               off);
        }
        for (uint32_t y = 0; y < rows; y++) {
            memcpy(out->data + (size_t)(y0 + y) * out->stride, buf + off + (size_t)y * t.width,
                   t.width);
        }
    }
    if (t.photometric == 0) { // WhiteIsZero: make 0 black, as everywhere else
        for (size_t y = 0; y < t.height; y++) {
            for (size_t x = 0; x < t.width; x++) {
                out->data[y * out->stride + x] = (uint8_t)(255 - out->data[y * out->stride + x]);
            }
        }
    }
    if (dpi != NULL && t.xres > 0.0) {
        double d = t.res_unit == 3 ? t.xres * 2.54 : t.res_unit == 2 ? t.xres : 0.0;
        *dpi = d >= 50.0 && d <= 5000.0 ? (int)(d + 0.5) : 0;
    }
    return 0;
}
