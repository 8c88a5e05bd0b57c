// SPDX-License-Identifier: Apache-2.0
// Tests of JPEG 2000 decoding (JP2 files and J2K codestreams): lossless round trips in gray and
// RGB, every precision from 1 to 16 bits signed and unsigned, sYCC, tiles; refusal of what is not
// gray or RGB (two or four components, subsampling, more than 16 bits) as CW_EUNSUPPORTED;
// forged dimensions and tile counts refused before decoding; truncated, bit-flipped and
// structurally broken files refused without a crash, a leak or a word on stderr. Every image is
// encoded here with OpenJPEG's encoder; no picture is stored in the repository. Run with
// --write-corpus DIR to (re)write the JPEG 2000 part of the fuzz corpus of tests/fuzz/image.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/image.h"
#include "../../../src/image/image_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openjpeg.h>

// ---- encoding ----------------------------------------------------------------------------------

typedef struct membuf {
    uint8_t *p; // malloc'd (test side), free with free()
    size_t n;
    size_t cap;
    size_t pos; // the encoder seeks back to fill in box lengths
} membuf;

static OPJ_SIZE_T mb_write(void *src, OPJ_SIZE_T n, void *user)
{
    membuf *m = user;
    if (m->pos + n > m->cap) {
        size_t cap = m->cap ? m->cap : 1024;
        while (cap < m->pos + n) {
            cap *= 2;
        }
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->pos, src, n);
    m->pos += n;
    m->n = m->pos > m->n ? m->pos : m->n;
    return n;
}

static OPJ_OFF_T mb_skip(OPJ_OFF_T n, void *user)
{
    membuf *m = user;
    m->pos += (size_t)n;
    return n;
}

static OPJ_BOOL mb_seek(OPJ_OFF_T off, void *user)
{
    membuf *m = user;
    m->pos = (size_t)off;
    return OPJ_TRUE;
}

static void quiet(const char *msg, void *user)
{
    (void)msg;
    (void)user;
}

typedef struct enc_opts {
    OPJ_CODEC_FORMAT codec; // OPJ_CODEC_JP2 or OPJ_CODEC_J2K
    int comps;
    int prec;
    int sgnd;
    OPJ_COLOR_SPACE space;
    int sub;  // subsampling of components 1.. (1: none)
    int tile; // tile side (0: one tile)
    int mct;
} enc_opts;

// Lossless encoding of planes[c] (w x h each, or subsampled for c > 0).
static membuf encode(int32_t *const *planes, int w, int h, const enc_opts *o)
{
    opj_cparameters_t p;
    opj_set_default_encoder_parameters(&p);
    p.tcp_numlayers = 1;
    p.tcp_rates[0] = 0; // lossless
    p.cp_disto_alloc = 1;
    p.irreversible = 0;
    int side = w < h ? w : h;
    if (o->tile > 0 && o->tile < side) {
        side = o->tile;
    }
    int sub_side = o->sub > 1 ? side / o->sub : side;
    p.numresolution = 1;
    while (p.numresolution < 6 && (1 << p.numresolution) <= sub_side) {
        p.numresolution++;
    }
    p.tcp_mct = (char)(o->mct ? 1 : 0);
    if (o->tile > 0) {
        p.tile_size_on = OPJ_TRUE;
        p.cp_tdx = o->tile;
        p.cp_tdy = o->tile;
    }
    opj_image_cmptparm_t cp[4];
    memset(cp, 0, sizeof(cp));
    for (int c = 0; c < o->comps; c++) {
        int s = c > 0 ? o->sub : 1;
        cp[c].dx = (OPJ_UINT32)s;
        cp[c].dy = (OPJ_UINT32)s;
        cp[c].w = (OPJ_UINT32)((w + s - 1) / s);
        cp[c].h = (OPJ_UINT32)((h + s - 1) / s);
        cp[c].prec = (OPJ_UINT32)o->prec;
        cp[c].sgnd = (OPJ_UINT32)o->sgnd;
    }
    opj_image_t *im = opj_image_create((OPJ_UINT32)o->comps, cp, o->space);
    assert_non_null(im);
    im->x0 = 0;
    im->y0 = 0;
    im->x1 = (OPJ_UINT32)w;
    im->y1 = (OPJ_UINT32)h;
    for (int c = 0; c < o->comps; c++) {
        memcpy(im->comps[c].data, planes[c], sizeof(int32_t) * cp[c].w * cp[c].h);
    }
    opj_codec_t *codec = opj_create_compress(o->codec);
    assert_non_null(codec);
    opj_set_info_handler(codec, quiet, NULL);
    opj_set_warning_handler(codec, quiet, NULL);
    opj_set_error_handler(codec, quiet, NULL);
    assert_true(opj_setup_encoder(codec, &p, im));
    membuf m = {0};
    opj_stream_t *s = opj_stream_create(1 << 16, OPJ_FALSE);
    assert_non_null(s);
    opj_stream_set_user_data(s, &m, NULL);
    opj_stream_set_write_function(s, mb_write);
    opj_stream_set_skip_function(s, mb_skip);
    opj_stream_set_seek_function(s, mb_seek);
    assert_true(opj_start_compress(codec, im, s));
    assert_true(opj_encode(codec, s));
    assert_true(opj_end_compress(codec, s));
    opj_stream_destroy(s);
    opj_destroy_codec(codec);
    opj_image_destroy(im);
    return m;
}

static uint32_t rng_state = 0x6b8b4567u;

static uint32_t rng(void)
{
    uint32_t x = rng_state; // xorshift32: reproducible everywhere
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

// A plane of w x h samples of prec bits, signed or not: random, with the extremes included.
static int32_t *plane(int w, int h, int prec, int sgnd)
{
    int32_t *p = malloc(sizeof(int32_t) * (size_t)w * (size_t)h);
    assert_non_null(p);
    int64_t lo = sgnd ? -((int64_t)1 << (prec - 1)) : 0;
    int64_t span = (int64_t)1 << prec;
    for (int i = 0; i < w * h; i++) {
        p[i] = (int32_t)(lo + (int64_t)(rng() % (uint64_t)span));
    }
    p[0] = (int32_t)lo;
    p[w * h - 1] = (int32_t)(lo + span - 1);
    return p;
}

static unsigned expect8(int32_t v, int prec, int sgnd)
{
    int64_t u = v + (sgnd ? ((int64_t)1 << (prec - 1)) : 0);
    int64_t max = ((int64_t)1 << prec) - 1;
    return (unsigned)((u * 255 + max / 2) / max);
}

static int install(void **state)
{
    (void)state;
    cw_alloc_counting_install();
    return 0;
}

static int uninstall(void **state)
{
    (void)state;
    cw_alloc_stats_t s;
    cw_alloc_counting_stats(&s);
    cw_alloc_counting_uninstall();
    return s.live_blocks == 0 ? 0 : -1; // a leak fails the test
}

static void assert_zeroed(const cw_image_t *img)
{
    assert_null(img->data);
    assert_int_equal(img->width, 0);
    assert_int_equal(img->height, 0);
    assert_int_equal(img->channels, 0);
    assert_int_equal(img->stride, 0);
}

static int decode(const membuf *m, int want, cw_image_t *img, char *diag, size_t diag_len)
{
    // An exactly-sized copy, so that a read past the end is caught by ASan.
    uint8_t *copy = malloc(m->n);
    assert_non_null(copy);
    memcpy(copy, m->p, m->n);
    int rc = cw_image_decode(copy, m->n, (cw_image_format_t)want, NULL, img, diag, diag_len);
    free(copy);
    return rc;
}

static const OPJ_CODEC_FORMAT codecs[2] = {OPJ_CODEC_JP2, OPJ_CODEC_J2K};

// ---- round trips -------------------------------------------------------------------------------

static void test_gray_exact(void **state)
{
    (void)state;
    const int w = 37;
    const int h = 23;
    int32_t *g = plane(w, h, 8, 0);
    for (int k = 0; k < 2; k++) {
        enc_opts o = {codecs[k], 1, 8, 0, OPJ_CLRSPC_GRAY, 1, 0, 0};
        membuf m = encode(&g, w, h, &o);
        // The signatures we sniff.
        if (k == 0) {
            assert_memory_equal(m.p, "\x00\x00\x00\x0cjP  \r\n\x87\n", 12);
        } else {
            assert_memory_equal(m.p, "\xff\x4f\xff\x51", 4);
        }
        cw_image_t img;
        char diag[256] = "";
        assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img, diag, sizeof(diag)), 0);
        assert_int_equal(img.width, w);
        assert_int_equal(img.height, h);
        assert_int_equal(img.channels, 1);
        assert_int_equal(img.stride, (size_t)w);
        for (int i = 0; i < w * h; i++) {
            assert_int_equal(img.data[i], g[i]);
        }
        cw_image_free(&img);
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &img, diag, sizeof(diag)), 0);
        assert_int_equal(img.channels, 3);
        for (int i = 0; i < w * h; i++) {
            for (int c = 0; c < 3; c++) {
                assert_int_equal(img.data[3 * i + c], g[i]);
            }
        }
        cw_image_free(&img);
        free(m.p);
    }
    free(g);
}

static void test_rgb_exact(void **state)
{
    (void)state;
    const int w = 29;
    const int h = 17;
    int32_t *rgb[3] = {plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0)};
    for (int k = 0; k < 2; k++) {
        for (int mct = 0; mct <= 1; mct++) {
            enc_opts o = {codecs[k], 3, 8, 0, OPJ_CLRSPC_SRGB, 1, 0, mct};
            membuf m = encode(rgb, w, h, &o);
            cw_image_t img;
            char diag[256] = "";
            assert_int_equal(decode(&m, CW_IMAGE_RGB, &img, diag, sizeof(diag)), 0);
            assert_int_equal(img.width, w);
            assert_int_equal(img.height, h);
            assert_int_equal(img.channels, 3);
            for (int i = 0; i < w * h; i++) {
                for (int c = 0; c < 3; c++) {
                    assert_int_equal(img.data[3 * i + c], rgb[c][i]);
                }
            }
            cw_image_free(&img);
            assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img, diag, sizeof(diag)), 0);
            assert_int_equal(img.channels, 1);
            for (int i = 0; i < w * h; i++) {
                assert_int_equal(img.data[i], cw__luma((unsigned)rgb[0][i], (unsigned)rgb[1][i],
                                                       (unsigned)rgb[2][i]));
            }
            cw_image_free(&img);
            free(m.p);
        }
    }
    for (int c = 0; c < 3; c++) {
        free(rgb[c]);
    }
}

// Precisions 1..16, unsigned and signed: scaled to 8 bits with rounding (v * 255 / max).
static void test_precisions(void **state)
{
    (void)state;
    const int w = 13;
    const int h = 11;
    for (int prec = 1; prec <= 16; prec++) {
        for (int sgnd = 0; sgnd <= 1; sgnd++) {
            int32_t *g = plane(w, h, prec, sgnd);
            enc_opts o = {codecs[(prec + sgnd) % 2], 1, prec, sgnd, OPJ_CLRSPC_GRAY, 1, 0, 0};
            membuf m = encode(&g, w, h, &o);
            cw_image_t img;
            char diag[256] = "";
            if (decode(&m, CW_IMAGE_GRAY, &img, diag, sizeof(diag)) != 0) {
                fail_msg("%d bits %s: %s", prec, sgnd ? "signed" : "unsigned", diag);
            }
            for (int i = 0; i < w * h; i++) {
                assert_int_equal(img.data[i], expect8(g[i], prec, sgnd));
            }
            // The extremes are black and white.
            assert_int_equal(img.data[0], 0);
            assert_int_equal(img.data[w * h - 1], 255);
            cw_image_free(&img);
            free(m.p);
            free(g);
        }
    }
    // 16 bits that are 8-bit values times 257 come back exactly (as PNG's scale_16 does).
    int32_t *g = plane(w, h, 8, 0);
    int32_t *g16 = malloc(sizeof(int32_t) * (size_t)(w * h));
    assert_non_null(g16);
    for (int i = 0; i < w * h; i++) {
        g16[i] = g[i] * 257;
    }
    enc_opts o = {OPJ_CODEC_J2K, 1, 16, 0, OPJ_CLRSPC_GRAY, 1, 0, 0};
    membuf m = encode(&g16, w, h, &o);
    cw_image_t img;
    assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img, NULL, 0), 0);
    for (int i = 0; i < w * h; i++) {
        assert_int_equal(img.data[i], g[i]);
    }
    cw_image_free(&img);
    free(m.p);
    free(g);
    free(g16);
}

static uint8_t ref_clamp(double v)
{
    return v <= 0.0 ? 0 : v >= 255.0 ? 255 : (uint8_t)lrint(v);
}

// A JP2 that says sYCC holds Y, Cb, Cr: converted to RGB.
static void test_sycc(void **state)
{
    (void)state;
    const int w = 8;
    const int h = 8;
    int32_t *ycc[3] = {plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0)};
    // Pure grays (Cb = Cr = 128) stay gray.
    for (int i = 0; i < 8; i++) {
        ycc[1][i] = 128;
        ycc[2][i] = 128;
    }
    enc_opts o = {OPJ_CODEC_JP2, 3, 8, 0, OPJ_CLRSPC_SYCC, 1, 0, 0};
    membuf m = encode(ycc, w, h, &o);
    cw_image_t img;
    char diag[256] = "";
    assert_int_equal(decode(&m, CW_IMAGE_RGB, &img, diag, sizeof(diag)), 0);
    for (int i = 0; i < w * h; i++) {
        double y = ycc[0][i];
        double cb = ycc[1][i] - 128.0;
        double cr = ycc[2][i] - 128.0;
        const uint8_t *p = img.data + 3 * i;
        assert_int_equal(p[0], ref_clamp(y + 1.402 * cr));
        assert_int_equal(p[1], ref_clamp(y - 0.344136 * cb - 0.714136 * cr));
        assert_int_equal(p[2], ref_clamp(y + 1.772 * cb));
        if (i < 8) {
            assert_int_equal(p[0], ycc[0][i]);
            assert_int_equal(p[1], ycc[0][i]);
            assert_int_equal(p[2], ycc[0][i]);
        }
    }
    cw_image_free(&img);
    free(m.p);
    for (int c = 0; c < 3; c++) {
        free(ycc[c]);
    }
}

static void test_tiles(void **state)
{
    (void)state;
    const int w = 50;
    const int h = 41;
    int32_t *rgb[3] = {plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0)};
    for (int k = 0; k < 2; k++) {
        enc_opts o = {codecs[k], 3, 8, 0, OPJ_CLRSPC_SRGB, 1, 16, 1};
        membuf m = encode(rgb, w, h, &o);
        cw_image_t img;
        char diag[256] = "";
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &img, diag, sizeof(diag)), 0);
        for (int i = 0; i < w * h; i++) {
            for (int c = 0; c < 3; c++) {
                assert_int_equal(img.data[3 * i + c], rgb[c][i]);
            }
        }
        cw_image_free(&img);
        free(m.p);
    }
    for (int c = 0; c < 3; c++) {
        free(rgb[c]);
    }
}

// ---- refusals ----------------------------------------------------------------------------------

static uint8_t *find_bytes(uint8_t *hay, size_t n, const void *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// The SIZ segment of m (after its FF51 marker: Lsiz, Rsiz, Xsiz, ...).
static uint8_t *siz_of(membuf *m)
{
    uint8_t *p = find_bytes(m->p, m->n, "\xff\x4f\xff\x51", 4);
    assert_non_null(p);
    return p + 4;
}

static void expect_refused(const membuf *m, int rc_want, const char *needle)
{
    for (int want = 1; want <= 3; want += 2) {
        cw_image_t img;
        char diag[256] = "";
        int rc = decode(m, want, &img, diag, sizeof(diag));
        if (rc != rc_want || (needle != NULL && strstr(diag, needle) == NULL)) {
            fail_msg("rc %d (wanted %d), diag '%s' (wanted '%s')", rc, rc_want, diag,
                     needle != NULL ? needle : "");
        }
        assert_zeroed(&img);
    }
}

static void test_unsupported_layouts(void **state)
{
    (void)state;
    const int w = 16;
    const int h = 12;
    int32_t *p[4] = {plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0)};
    for (int k = 0; k < 2; k++) {
        // Gray + alpha, CMYK-like four components.
        enc_opts two = {codecs[k], 2, 8, 0, OPJ_CLRSPC_GRAY, 1, 0, 0};
        membuf m = encode(p, w, h, &two);
        expect_refused(&m, CW_EUNSUPPORTED, "2 components");
        free(m.p);
        enc_opts four = {codecs[k], 4, 8, 0, OPJ_CLRSPC_CMYK, 1, 0, 0};
        m = encode(p, w, h, &four);
        expect_refused(&m, CW_EUNSUPPORTED, "4 components");
        free(m.p);
        // 4:2:0 chroma.
        int32_t *sub[3] = {p[0], plane(w / 2, h / 2, 8, 0), plane(w / 2, h / 2, 8, 0)};
        enc_opts s = {codecs[k], 3, 8, 0, OPJ_CLRSPC_SYCC, 2, 0, 0};
        m = encode(sub, w, h, &s);
        expect_refused(&m, CW_EUNSUPPORTED, "subsampled 2x2");
        free(m.p);
        free(sub[1]);
        free(sub[2]);
        // More than 16 bits (Ssiz says 20; nothing is decoded).
        enc_opts g = {codecs[k], 1, 8, 0, OPJ_CLRSPC_GRAY, 1, 0, 0};
        m = encode(p, w, h, &g);
        uint8_t *siz = siz_of(&m);
        siz[38] = 19;
        expect_refused(&m, CW_EUNSUPPORTED, "20 bits");
        free(m.p);
    }
    for (int c = 0; c < 4; c++) {
        free(p[c]);
    }
}

static membuf small_file(OPJ_CODEC_FORMAT codec, int w, int h, int comps)
{
    int32_t *p[3] = {plane(w, h, 8, 0), plane(w, h, 8, 0), plane(w, h, 8, 0)};
    enc_opts o = {codec, comps, 8, 0, comps == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY, 1, 0, 0};
    membuf m = encode(p, w, h, &o);
    for (int c = 0; c < 3; c++) {
        free(p[c]);
    }
    return m;
}

// Forged dimensions and tile counts are refused from SIZ, before OpenJPEG allocates anything.
static void test_oversize_refused_unread(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        membuf m = small_file(codecs[k], 32, 24, 3);
        membuf big = {malloc(m.n), m.n, m.n, 0};
        assert_non_null(big.p);
        memcpy(big.p, m.p, m.n);
        uint8_t *siz = siz_of(&big);
        put32(siz + 4, 60000);
        put32(siz + 8, 60000);
        put32(siz + 20, 60000);
        put32(siz + 24, 60000);
        cw_alloc_counting_install(); // nothing is live: this only resets peak_bytes
        expect_refused(&big, CW_ETOOBIG, "60000x60000");
        cw_alloc_stats_t s;
        cw_alloc_counting_stats(&s);
        assert_int_equal(s.peak_bytes, 0);
        // Within the caps but cut into 16 x 16 tiles: 140625 tiles.
        put32(siz + 4, 6000);
        put32(siz + 8, 6000);
        put32(siz + 20, 16);
        put32(siz + 24, 16);
        expect_refused(&big, CW_ETOOBIG, "tiles");
        free(big.p);

        // Exactly at custom caps, and one over: the limit is the limit.
        const struct {
            cw_image_limits_t lim;
            int rc;
        } cases[] = {{{31, 0}, CW_ETOOBIG},
                     {{32, 0}, 0},
                     {{0, 32 * 24 - 1}, CW_ETOOBIG},
                     {{0, 32 * 24}, 0},
                     {{0, 0}, 0}};
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            cw_image_t img;
            assert_int_equal(cw_image_decode(m.p, m.n, CW_IMAGE_RGB, &cases[c].lim, &img, NULL, 0),
                             cases[c].rc);
            cw_image_free(&img);
        }
        free(m.p);
    }
}

// Structural damage to the boxes and to SIZ: clear errors, not crashes.
static void test_corrupt_headers(void **state)
{
    (void)state;
    membuf jp2 = small_file(OPJ_CODEC_JP2, 16, 16, 1);
    membuf j2k = small_file(OPJ_CODEC_J2K, 16, 16, 1);
    struct {
        int jp2;
        size_t at; // offset in the SIZ segment (jp2 == 0 or 1) or in the file (2)
        uint32_t value;
        int width; // 4 or 1 bytes
        const char *needle;
    } cases[] = {
        {0, 4, 0, 4, "geometry"},            // Xsiz = 0
        {1, 12, 16, 4, "geometry"},          // XOsiz = Xsiz
        {0, 20, 0, 4, "geometry"},           // XTsiz = 0
        {1, 28, 100, 4, "geometry"},         // XTOsiz > XOsiz
        {0, 0, 0x002c0000, 4, "SIZ length"}, // Lsiz 44 for one component
        {1, 36, 0, 1, "SIZ length"},         // Csiz 0 (high byte stays 0)
        {0, 39, 0, 1, "zero sampling"},      // XRsiz 0
        {2, 12, 0x7fffffff, 4, "box"},       // the ftyp box longer than the file
        {2, 16, 0x6a703278, 4, NULL},        // ftyp renamed: OpenJPEG refuses the file
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        membuf *src = cases[i].jp2 == 0 ? &j2k : &jp2;
        membuf m = {malloc(src->n), src->n, src->n, 0};
        assert_non_null(m.p);
        memcpy(m.p, src->p, src->n);
        uint8_t *at = cases[i].jp2 == 2 ? m.p + cases[i].at : siz_of(&m) + cases[i].at;
        if (cases[i].width == 4) {
            put32(at, cases[i].value);
        } else {
            *at = (uint8_t)cases[i].value;
        }
        if (cases[i].value == 0 && cases[i].at == 36) {
            at[1] = 0; // Csiz is 16 bits
        }
        expect_refused(&m, CW_EFORMAT, cases[i].needle);
        free(m.p);
    }
    // No codestream box at all, and a codestream that is not one.
    membuf nobox = {malloc(jp2.n), jp2.n, jp2.n, 0};
    assert_non_null(nobox.p);
    memcpy(nobox.p, jp2.p, jp2.n);
    uint8_t *jp2c = find_bytes(nobox.p, nobox.n, "jp2c", 4);
    assert_non_null(jp2c);
    memcpy(jp2c, "free", 4);
    expect_refused(&nobox, CW_EFORMAT, NULL);
    memcpy(jp2c, "jp2c", 4);
    jp2c[4] = 0;
    expect_refused(&nobox, CW_EFORMAT, "SOC and SIZ");
    free(nobox.p);
    free(jp2.p);
    free(j2k.p);
}

// Every prefix is an error (or, past the codestream's end, the whole image): never a crash, a
// leak or a partial picture; a cut in the middle of the coded data is CW_EFORMAT.
static void test_truncated(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        membuf m = small_file(codecs[k], 24, 20, 3);
        cw_image_t full;
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &full, NULL, 0), 0);
        int errors = 0;
        for (size_t len = 0; len < m.n; len++) {
            membuf cut = {m.p, len, len, 0};
            cw_image_t img;
            char diag[256] = "";
            int rc = decode(&cut, CW_IMAGE_RGB, &img, diag, sizeof(diag));
            if (rc == 0) {
                // Only the end-of-codestream marker (or nothing) may be missing.
                assert_true(len + 2 >= m.n);
                assert_memory_equal(img.data, full.data, (size_t)24 * 20 * 3);
                cw_image_free(&img);
            } else {
                assert_true(rc == CW_EFORMAT);
                assert_true(strlen(diag) > 0);
                assert_zeroed(&img);
                errors++;
            }
        }
        assert_true(errors >= (int)m.n - 2);
        membuf half = {m.p, m.n * 3 / 4, 0, 0};
        cw_image_t img;
        char diag[256] = "";
        assert_int_equal(decode(&half, CW_IMAGE_RGB, &img, diag, sizeof(diag)), CW_EFORMAT);
        cw_image_free(&full);
        free(m.p);
    }
    // Signatures cut short are truncated files, not other formats.
    cw_image_t img;
    assert_int_equal(cw_image_decode((const uint8_t *)"\x00\x00\x00\x0cjP", 6, CW_IMAGE_RGB, NULL,
                                     &img, NULL, 0),
                     CW_EFORMAT);
    assert_int_equal(
        cw_image_decode((const uint8_t *)"\xff\x4f\xff", 3, CW_IMAGE_RGB, NULL, &img, NULL, 0),
        CW_EFORMAT);
    // A J2K signature followed by nothing useful.
    assert_int_equal(cw_image_decode((const uint8_t *)"\xff\x4f\xff\x51\x00\x29", 6, CW_IMAGE_RGB,
                                     NULL, &img, NULL, 0),
                     CW_EFORMAT);
}

static void test_bit_flips(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        membuf m = small_file(codecs[k], 16, 8, k == 0 ? 3 : 1);
        for (size_t i = 0; i < m.n; i++) {
            for (int f = 0; f < 3; f++) {
                membuf copy = {malloc(m.n), m.n, m.n, 0};
                assert_non_null(copy.p);
                memcpy(copy.p, m.p, m.n);
                copy.p[i] ^= f == 0 ? 0x01 : f == 1 ? 0x80 : 0xff;
                cw_image_t img;
                int rc = decode(&copy, f == 1 ? CW_IMAGE_GRAY : CW_IMAGE_RGB, &img, NULL, 0);
                if (rc == 0) {
                    assert_int_equal(img.width > 0 && img.height > 0, 1);
                    cw_image_free(&img);
                } else {
                    assert_true(rc == CW_EFORMAT || rc == CW_EUNSUPPORTED || rc == CW_ETOOBIG ||
                                rc == CW_ENOMEM);
                    assert_zeroed(&img);
                }
                free(copy.p);
            }
        }
        free(m.p);
    }
}

// Our allocations failing one at a time: CW_ENOMEM with nothing left allocated.
static void test_allocation_failures(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        membuf m = small_file(codecs[k], 20, 12, 3);
        for (int want = 1; want <= 3; want += 2) {
            int clean_run = 0;
            for (uint64_t nth = 1; nth < 100 && !clean_run; nth++) {
                cw_alloc_stats_t before;
                cw_alloc_stats_t after;
                cw_alloc_counting_stats(&before);
                cw_alloc_fail_nth(nth);
                cw_image_t img;
                int rc = cw_image_decode(m.p, m.n, (cw_image_format_t)want, NULL, &img, NULL, 0);
                cw_alloc_fail_nth(0);
                cw_alloc_counting_stats(&after);
                int injected = after.failures != before.failures;
                if (rc == 0) {
                    cw_image_free(&img);
                    clean_run = !injected;
                } else {
                    assert_true(injected);
                    assert_int_equal(rc, CW_ENOMEM);
                    assert_zeroed(&img);
                }
                cw_alloc_counting_stats(&after);
                assert_int_equal(after.live_blocks, 0);
            }
            assert_true(clean_run);
        }
        free(m.p);
    }
}

// Broken files make OpenJPEG complain; none of it may reach stderr (or stdout).
static void test_library_stays_silent(void **state)
{
    (void)state;
    membuf files[2] = {small_file(OPJ_CODEC_JP2, 32, 32, 3), small_file(OPJ_CODEC_J2K, 32, 32, 1)};
    fflush(stderr);
    fflush(stdout);
    int saved_err = dup(2);
    int saved_out = dup(1);
    FILE *capture = tmpfile();
    assert_non_null(capture);
    assert_true(dup2(fileno(capture), 2) >= 0);
    assert_true(dup2(fileno(capture), 1) >= 0);
    int failures = 0;
    for (int f = 0; f < 2; f++) {
        for (size_t cut = 10; cut < files[f].n; cut += 7) {
            membuf c = {files[f].p, cut, 0, 0};
            cw_image_t img;
            failures += decode(&c, CW_IMAGE_RGB, &img, NULL, 0) != 0;
            cw_image_free(&img);
        }
        for (size_t i = 0; i < files[f].n; i += 3) {
            files[f].p[i] ^= 0x5a;
            cw_image_t img;
            failures += decode(&files[f], CW_IMAGE_RGB, &img, NULL, 0) != 0;
            cw_image_free(&img);
            files[f].p[i] ^= 0x5a;
        }
    }
    fflush(stderr);
    fflush(stdout);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    assert_int_equal(fseek(capture, 0, SEEK_END), 0);
    long printed = ftell(capture);
    fclose(capture);
    assert_int_equal(printed, 0);
    assert_true(failures > 20);
    free(files[0].p);
    free(files[1].p);
}

// ---- corpus ------------------------------------------------------------------------------------

static int write_file(const char *dir, const char *name, const membuf *m)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(m->p, 1, m->n, f) != m->n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int write_corpus(const char *dir)
{
    int bad = 0;
    int32_t *p[3] = {plane(16, 16, 8, 0), plane(16, 16, 8, 0), plane(16, 16, 8, 0)};
    int32_t *s12 = plane(8, 8, 12, 1);
    enc_opts gray = {OPJ_CODEC_J2K, 1, 8, 0, OPJ_CLRSPC_GRAY, 1, 0, 0};
    membuf m = encode(p, 8, 8, &gray);
    bad |= write_file(dir, "j2k_gray_8x8.j2k", &m);
    m.n = m.n * 2 / 3;
    bad |= write_file(dir, "j2k_truncated.j2k", &m);
    free(m.p);
    enc_opts rgb = {OPJ_CODEC_JP2, 3, 8, 0, OPJ_CLRSPC_SRGB, 1, 0, 1};
    m = encode(p, 8, 6, &rgb);
    bad |= write_file(dir, "jp2_rgb_8x6.jp2", &m);
    free(m.p);
    enc_opts signed12 = {OPJ_CODEC_J2K, 1, 12, 1, OPJ_CLRSPC_GRAY, 1, 0, 0};
    m = encode(&s12, 8, 8, &signed12);
    bad |= write_file(dir, "j2k_signed12_8x8.j2k", &m);
    free(m.p);
    enc_opts tiled = {OPJ_CODEC_JP2, 3, 8, 0, OPJ_CLRSPC_SRGB, 1, 8, 1};
    m = encode(p, 12, 10, &tiled);
    bad |= write_file(dir, "jp2_tiled_12x10.jp2", &m);
    free(m.p);
    enc_opts ycc = {OPJ_CODEC_JP2, 3, 8, 0, OPJ_CLRSPC_SYCC, 1, 0, 0};
    m = encode(p, 6, 6, &ycc);
    bad |= write_file(dir, "jp2_sycc_6x6.jp2", &m);
    free(m.p);
    for (int c = 0; c < 3; c++) {
        free(p[c]);
    }
    free(s12);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) {
        return write_corpus(argv[2]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gray_exact, install, uninstall),
        cmocka_unit_test_setup_teardown(test_rgb_exact, install, uninstall),
        cmocka_unit_test_setup_teardown(test_precisions, install, uninstall),
        cmocka_unit_test_setup_teardown(test_sycc, install, uninstall),
        cmocka_unit_test_setup_teardown(test_tiles, install, uninstall),
        cmocka_unit_test_setup_teardown(test_unsupported_layouts, install, uninstall),
        cmocka_unit_test_setup_teardown(test_oversize_refused_unread, install, uninstall),
        cmocka_unit_test_setup_teardown(test_corrupt_headers, install, uninstall),
        cmocka_unit_test_setup_teardown(test_truncated, install, uninstall),
        cmocka_unit_test_setup_teardown(test_bit_flips, install, uninstall),
        cmocka_unit_test_setup_teardown(test_allocation_failures, install, uninstall),
        cmocka_unit_test_setup_teardown(test_library_stays_silent, install, uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
