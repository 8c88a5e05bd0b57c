// SPDX-License-Identifier: Apache-2.0
// JPEG 2000 decoding of untrusted bytes with OpenJPEG: JP2 files and raw J2K codestreams, as
// e-passport chips store faces. Before OpenJPEG sees anything, the JP2 boxes are walked to the
// codestream and its SIZ marker is read here, so forged dimensions (against the caps), tile
// counts, component counts, subsampling and precisions are refused without decoding. OpenJPEG
// then reads from memory through stream callbacks that never go past the buffer, in strict mode
// (a truncated codestream is an error, not a half-gray picture), on the calling thread, with its
// messages captured for diag instead of printed. Gray or RGB components of up to 16 bits, signed
// or not, are scaled to 8 bits; sYCC is converted to RGB. OpenJPEG allocates its own working
// memory with malloc (it has no allocator hook); the decoded planes are wiped before release.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "image_internal.h"

#include <math.h>
#include <openjpeg.h>
#include <stdio.h>
#include <string.h>

enum {
    MAX_TILES = 4096,       // 8192 x 8192 in 128 x 128 tiles; OpenJPEG itself allows 65535
    MAX_PRECISION = 16,     // bits per sample
    STREAM_CHUNK = 1 << 16, // OpenJPEG's read buffer
    SIZ_FIXED = 38,         // Lsiz without the per-component bytes
    MSG_LEN = 160,
};

static const uint8_t jp2_signature[12] = {0,   0,   0,    0x0c, 'j',  'P',
                                          ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// ---- the header, read here --------------------------------------------------------------------

// Walks the top-level boxes of a JP2 file to the contiguous codestream box.
static int find_codestream(const uint8_t *buf, size_t len, size_t *offset, char *diag,
                           size_t diag_len)
{
    size_t pos = 0;
    while (len - pos >= 8) {
        uint64_t box = be32(buf + pos);
        uint32_t type = be32(buf + pos + 4);
        size_t header = 8;
        if (box == 1) {
            if (len - pos < 16) {
                break;
            }
            box = (uint64_t)be32(buf + pos + 8) << 32 | be32(buf + pos + 12);
            header = 16;
        } else if (box == 0) {
            box = len - pos; // the last box: to the end of the file
        }
        if (type == 0x6a703263) { // 'jp2c'
            *offset = pos + header;
            return 0;
        }
        if (box < header || box > len - pos) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "JPEG 2000: box at %zu has length %llu (file of %zu bytes)", pos,
                               (unsigned long long)box, len);
        }
        pos += (size_t)box;
    }
    return cw_diag_set(diag, diag_len, CW_EFORMAT, "JPEG 2000: no codestream box");
}

typedef struct siz {
    uint32_t width, height;
    int components;
} siz_t;

// The SIZ marker segment that must follow SOC at the start of the codestream.
static int read_siz(const uint8_t *cs, size_t len, const cw__image_caps_t *caps, siz_t *siz,
                    char *diag, size_t diag_len)
{
    if (len < 6 || be16(cs) != 0xff4f || be16(cs + 2) != 0xff51) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "JPEG 2000: the codestream does not start with SOC and SIZ");
    }
    uint32_t lsiz = be16(cs + 4);
    if (len - 4 < SIZ_FIXED || len - 4 < lsiz) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "JPEG 2000: truncated SIZ marker");
    }
    const uint8_t *p = cs + 4;
    uint32_t xsiz = be32(p + 4);
    uint32_t ysiz = be32(p + 8);
    uint32_t xosiz = be32(p + 12);
    uint32_t yosiz = be32(p + 16);
    uint32_t xtsiz = be32(p + 20);
    uint32_t ytsiz = be32(p + 24);
    uint32_t xtosiz = be32(p + 28);
    uint32_t ytosiz = be32(p + 32);
    uint32_t csiz = be16(p + 36);
    if (csiz == 0 || lsiz != SIZ_FIXED + 3 * csiz) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "JPEG 2000: SIZ length %u does not match %u components", lsiz, csiz);
    }
    if (xsiz <= xosiz || ysiz <= yosiz || xtsiz == 0 || ytsiz == 0 || xtosiz > xosiz ||
        ytosiz > yosiz || (uint64_t)xtosiz + xtsiz <= xosiz || (uint64_t)ytosiz + ytsiz <= yosiz) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "JPEG 2000: inconsistent image and tile geometry in SIZ");
    }
    uint32_t width = xsiz - xosiz;
    uint32_t height = ysiz - yosiz;
    if (!cw__image_within_caps(caps, width, height)) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "JPEG 2000: %lux%lu exceeds the caps",
                           (unsigned long)width, (unsigned long)height);
    }
    uint64_t tiles_x = ((uint64_t)xsiz - xtosiz + xtsiz - 1) / xtsiz;
    uint64_t tiles_y = ((uint64_t)ysiz - ytosiz + ytsiz - 1) / ytsiz;
    if (tiles_x * tiles_y > MAX_TILES) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "JPEG 2000: %llu tiles (at most %d)",
                           (unsigned long long)(tiles_x * tiles_y), MAX_TILES);
    }
    if (csiz != 1 && csiz != 3) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "JPEG 2000: %u components (only gray or RGB)", csiz);
    }
    for (uint32_t c = 0; c < csiz; c++) {
        const uint8_t *q = p + SIZ_FIXED + 3 * c;
        unsigned prec = (q[0] & 0x7fu) + 1;
        if (q[1] == 0 || q[2] == 0) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "JPEG 2000: component %u has a zero sampling step", c);
        }
        if (q[1] != 1 || q[2] != 1) {
            return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                               "JPEG 2000: component %u is subsampled %ux%u", c, q[1], q[2]);
        }
        if (prec > MAX_PRECISION) {
            return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                               "JPEG 2000: component %u has %u bits (at most %d)", c, prec,
                               MAX_PRECISION);
        }
    }
    siz->width = width;
    siz->height = height;
    siz->components = (int)csiz;
    return 0;
}

// ---- OpenJPEG glue ----------------------------------------------------------------------------

typedef struct mem_stream {
    const uint8_t *buf;
    size_t len;
    size_t pos;
} mem_stream;

static OPJ_SIZE_T mem_read(void *dst, OPJ_SIZE_T n, void *user)
{
    mem_stream *m = user;
    if (m->pos >= m->len) {
        return (OPJ_SIZE_T)-1; // OpenJPEG's end of stream
    }
    size_t k = n < m->len - m->pos ? n : m->len - m->pos;
    memcpy(dst, m->buf + m->pos, k);
    m->pos += k;
    return k;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user)
{
    mem_stream *m = user;
    if (n < 0) {
        if ((uint64_t) - (n + 1) >= m->pos) { // -n > pos, without overflowing -n
            return -1;
        }
        m->pos -= (size_t)-n;
        return n;
    }
    if ((uint64_t)n > m->len - m->pos) {
        m->pos = m->len;
        return -1;
    }
    m->pos += (size_t)n;
    return n;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T off, void *user)
{
    mem_stream *m = user;
    if (off < 0 || (uint64_t)off > m->len) {
        return OPJ_FALSE;
    }
    m->pos = (size_t)off;
    return OPJ_TRUE;
}

typedef struct jp2_reader {
    mem_stream mem;
    int want;
    siz_t siz;
    opj_codec_t *codec;
    opj_stream_t *stream;
    opj_image_t *image;
    char msg[MSG_LEN]; // OpenJPEG's first error
} jp2_reader;

// Keeps the first error: OpenJPEG follows the cause with more general messages.
static void on_error(const char *msg, void *user)
{
    jp2_reader *r = user;
    if (msg == NULL || r->msg[0] != '\0') {
        return;
    }
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
    size_t n = strlen(r->msg);
    while (n > 0 && (r->msg[n - 1] == '\n' || r->msg[n - 1] == ' ')) {
        r->msg[--n] = '\0';
    }
}

static void on_quiet(const char *msg, void *user)
{
    (void)msg; // library code never prints; warnings and information are not needed
    (void)user;
}

// An OpenJPEG failure: CW_ENOMEM when it says so, otherwise the data is at fault.
static int opj_failure(const jp2_reader *r, const char *what, char *diag, size_t diag_len)
{
    int rc = strstr(r->msg, "memory") != NULL ? CW_ENOMEM : CW_EFORMAT;
    return cw_diag_set(diag, diag_len, rc, "JPEG 2000: %s: %s", what,
                       r->msg[0] != '\0' ? r->msg : "corrupt data");
}

static void wipe_planes(opj_image_t *image)
{
    if (image == NULL || image->comps == NULL) {
        return;
    }
    for (OPJ_UINT32 c = 0; c < image->numcomps; c++) {
        opj_image_comp_t *comp = &image->comps[c];
        size_t n;
        if (comp->data != NULL && cw_size_mul(comp->w, comp->h, &n) == 0 &&
            cw_size_mul(n, sizeof(OPJ_INT32), &n) == 0) {
            cw_memzero(comp->data, n);
        }
    }
}

// What decoding produced must be what SIZ promised, in a layout we convert.
static int check_decoded(const jp2_reader *r, char *diag, size_t diag_len)
{
    const opj_image_t *im = r->image;
    if (im->numcomps != 1 && im->numcomps != 3) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "JPEG 2000: %u components after the colour mapping (only gray or RGB)",
                           im->numcomps);
    }
    if (im->color_space == OPJ_CLRSPC_CMYK || im->color_space == OPJ_CLRSPC_EYCC) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "JPEG 2000: unsupported colour space (%d)", (int)im->color_space);
    }
    for (OPJ_UINT32 c = 0; c < im->numcomps; c++) {
        const opj_image_comp_t *comp = &im->comps[c];
        if (comp->data == NULL || comp->w != r->siz.width || comp->h != r->siz.height ||
            comp->dx != 1 || comp->dy != 1) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "JPEG 2000: component %u decoded to an unexpected layout", c);
        }
        if (comp->prec < 1 || comp->prec > MAX_PRECISION || comp->alpha != 0) {
            return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                               "JPEG 2000: component %u has %u bits%s", c, comp->prec,
                               comp->alpha != 0 ? " and is an alpha channel" : "");
        }
    }
    return 0;
}

// Sample i of comp as 8 bits: signed samples moved to unsigned, clamped, rounded to 0..255.
static unsigned sample8(const opj_image_comp_t *comp, size_t i)
{
    int64_t v = comp->data[i];
    int64_t max = ((int64_t)1 << comp->prec) - 1;
    if (comp->sgnd) {
        v += (int64_t)1 << (comp->prec - 1);
    }
    v = v < 0 ? 0 : v > max ? max : v;
    return comp->prec == 8 ? (unsigned)v : (unsigned)((v * 255 + max / 2) / max);
}

static uint8_t clamp8(double v)
{
    return v <= 0.0 ? 0 : v >= 255.0 ? 255 : (uint8_t)lrint(v);
}

static void convert(const opj_image_t *im, cw_image_t *img)
{
    const opj_image_comp_t *c = im->comps;
    int ycc = im->numcomps == 3 && im->color_space == OPJ_CLRSPC_SYCC;
    for (int y = 0; y < img->height; y++) {
        uint8_t *d = img->data + (size_t)y * img->stride;
        for (int x = 0; x < img->width; x++) {
            size_t i = (size_t)y * (size_t)img->width + (size_t)x;
            unsigned r = sample8(&c[0], i);
            unsigned g = r;
            unsigned b = r;
            if (im->numcomps == 3) {
                g = sample8(&c[1], i);
                b = sample8(&c[2], i);
            }
            if (ycc) { // BT.601 full range, as JFIF
                double cb = (double)g - 128.0;
                double cr = (double)b - 128.0;
                double luma = r;
                r = clamp8(luma + 1.402 * cr);
                g = clamp8(luma - 0.344136 * cb - 0.714136 * cr);
                b = clamp8(luma + 1.772 * cb);
            }
            if (img->channels == 3) {
                d[3 * x] = (uint8_t)r;
                d[3 * x + 1] = (uint8_t)g;
                d[3 * x + 2] = (uint8_t)b;
            } else {
                d[x] = im->numcomps == 1 ? (uint8_t)r : cw__luma(r, g, b);
            }
        }
    }
}

static int decode_run(jp2_reader *r, int jp2, cw_image_t *out, char *diag, size_t diag_len)
{
    r->codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    if (r->codec == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "JPEG 2000: out of memory");
    }
    opj_set_info_handler(r->codec, on_quiet, r);
    opj_set_warning_handler(r->codec, on_quiet, r);
    opj_set_error_handler(r->codec, on_error, r);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    // One thread whatever OPJ_NUM_THREADS says: callers decode several images side by side.
    if (!opj_setup_decoder(r->codec, &params) || !opj_decoder_set_strict_mode(r->codec, OPJ_TRUE)) {
        return opj_failure(r, "cannot set up the decoder", diag, diag_len);
    }
    (void)opj_codec_set_threads(r->codec, 0); // fails only without thread support: one thread then

    r->stream = opj_stream_create(STREAM_CHUNK, OPJ_TRUE);
    if (r->stream == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "JPEG 2000: out of memory");
    }
    opj_stream_set_user_data(r->stream, &r->mem, NULL);
    opj_stream_set_user_data_length(r->stream, r->mem.len);
    opj_stream_set_read_function(r->stream, mem_read);
    opj_stream_set_skip_function(r->stream, mem_skip);
    opj_stream_set_seek_function(r->stream, mem_seek);

    if (!opj_read_header(r->stream, r->codec, &r->image) || r->image == NULL) {
        return opj_failure(r, "bad header", diag, diag_len);
    }
    if (r->image->x1 - r->image->x0 != r->siz.width ||
        r->image->y1 - r->image->y0 != r->siz.height ||
        r->image->numcomps != (OPJ_UINT32)r->siz.components) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "JPEG 2000: the header OpenJPEG read disagrees with SIZ");
    }
    for (OPJ_UINT32 c = 0; c < r->image->numcomps; c++) {
        const opj_image_comp_t *comp = &r->image->comps[c];
        if (comp->dx != 1 || comp->dy != 1 || comp->prec < 1 || comp->prec > MAX_PRECISION) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "JPEG 2000: the header OpenJPEG read disagrees with SIZ");
        }
    }
    if (!opj_decode(r->codec, r->stream, r->image)) {
        return opj_failure(r, "cannot decode", diag, diag_len);
    }
    // opj_end_decompress is skipped on purpose: the codestream is decoded, and what follows it
    // (boxes after the codestream, trailing bytes) does not change the picture.
    int rc = check_decoded(r, diag, diag_len);
    if (rc != 0) {
        return rc;
    }
    rc = cw__image_alloc((int)r->siz.width, (int)r->siz.height, r->want, 0, out);
    if (rc != 0) {
        return cw_diag_set(diag, diag_len, rc, "JPEG 2000: cannot allocate %lux%lu",
                           (unsigned long)r->siz.width, (unsigned long)r->siz.height);
    }
    convert(r->image, out);
    return 0;
}

int cw__decode_jp2(const uint8_t *buf, size_t len, int want, const cw__image_caps_t *caps,
                   cw_image_t *out, char *diag, size_t diag_len)
{
    memset(out, 0, sizeof(*out));
    int jp2 = len >= sizeof(jp2_signature) && memcmp(buf, jp2_signature, 12) == 0;
    size_t cs = 0;
    jp2_reader r;
    memset(&r, 0, sizeof(r));
    int rc = jp2 ? find_codestream(buf, len, &cs, diag, diag_len) : 0;
    if (rc == 0) {
        rc = read_siz(buf + cs, len - cs, caps, &r.siz, diag, diag_len);
    }
    if (rc != 0) {
        return rc;
    }
    r.mem.buf = buf;
    r.mem.len = len;
    r.want = want;
    rc = decode_run(&r, jp2, out, diag, diag_len);
    wipe_planes(r.image);
    opj_image_destroy(r.image);
    opj_stream_destroy(r.stream);
    opj_destroy_codec(r.codec);
    if (rc != 0) {
        cw_image_free(out);
    }
    return rc;
}
