// SPDX-License-Identifier: Apache-2.0
// Tests of image decoding: JPEG and PNG round trips in every colour layout we convert, EXIF
// orientation 1..8 in both byte orders, and the untrusted-input guarantees (empty, truncated at
// every length, bit-flipped and random bytes, forged huge headers refused before allocation,
// every allocation failure cleaned up, nothing printed). Every test image is generated here
// with libjpeg and libpng; no picture is stored in the repository.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/image.h"
#include "../../../src/image/image_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

// ---- helpers ---------------------------------------------------------------------------------

typedef struct membuf {
    uint8_t *p; // malloc'd (test side), free with free()
    size_t n;
    size_t cap;
} membuf;

static void membuf_append(membuf *m, const void *data, size_t n)
{
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->n + n) {
            cap *= 2;
        }
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
}

// memmem is a GNU extension; the build is plain POSIX.
static uint8_t *find_bytes(uint8_t *hay, size_t n, const void *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static uint32_t rng_state = 0x12345678u;

static uint32_t rng(void)
{
    uint32_t x = rng_state; // xorshift32: reproducible everywhere
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
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

static const uint8_t *px(const cw_image_t *img, int x, int y)
{
    return img->data + (size_t)y * img->stride + (size_t)x * img->channels;
}

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    membuf_append(png_get_io_ptr(png), data, n);
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

typedef struct png_opts {
    int type;  // PNG_COLOR_TYPE_*
    int depth; // 1, 2, 4, 8, 16
    int interlace;
    const png_color *palette;
    int palette_len;
    const png_byte *trans; // palette alpha, or NULL
    int trans_len;
} png_opts;

// rows: packed as PNG stores them (16-bit samples big-endian), height rows of rowbytes.
static membuf encode_png(const uint8_t *rows, int w, int h, const png_opts *o)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) {
        fail_msg("libpng could not encode the test image");
    }
    png_set_write_fn(png, &m, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, o->depth, o->type,
                 o->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->palette != NULL) {
        png_set_PLTE(png, info, o->palette, o->palette_len);
    }
    if (o->trans != NULL) {
        png_set_tRNS(png, info, o->trans, o->trans_len, NULL);
    }
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++) {
        for (int y = 0; y < h; y++) {
            png_write_row(png, rows + (size_t)y * rowbytes);
        }
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return m;
}

typedef struct jpeg_opts {
    J_COLOR_SPACE in;  // JCS_RGB, JCS_GRAYSCALE or JCS_CMYK
    J_COLOR_SPACE out; // JCS_UNKNOWN: libjpeg's default for `in`
    int quality;
    int progressive;
    int full_chroma; // 4:4:4 instead of the default 4:2:0
    int no_adobe;
    const uint8_t *app1;
    size_t app1_len;
} jpeg_opts;

static membuf encode_jpeg(const uint8_t *pixels, int w, int h, const jpeg_opts *o)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = o->in == JCS_GRAYSCALE ? 1 : o->in == JCS_CMYK ? 4 : 3;
    c.in_color_space = o->in;
    jpeg_set_defaults(&c);
    if (o->out != JCS_UNKNOWN) {
        jpeg_set_colorspace(&c, o->out);
    }
    if (o->full_chroma) {
        for (int i = 0; i < c.num_components; i++) {
            c.comp_info[i].h_samp_factor = 1;
            c.comp_info[i].v_samp_factor = 1;
        }
    }
    if (o->no_adobe) {
        c.write_Adobe_marker = FALSE;
    }
    jpeg_set_quality(&c, o->quality ? o->quality : 95, TRUE);
    if (o->progressive) {
        jpeg_simple_progression(&c);
    }
    jpeg_start_compress(&c, TRUE);
    if (o->app1 != NULL) {
        jpeg_write_marker(&c, JPEG_APP0 + 1, o->app1, (unsigned)o->app1_len);
    }
    size_t stride = (size_t)w * (size_t)c.input_components;
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    membuf m = {out, out_len, out_len};
    return m;
}

// A smooth RGB picture: JPEG's error on it is small and predictable.
static uint8_t *smooth_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1));
            q[1] = (uint8_t)(y * 255 / (h - 1));
            q[2] = (uint8_t)(64 + (x + y) * 64 / (w + h));
        }
    }
    return p;
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(rng() >> 24);
    }
    return p;
}

static int decode(const membuf *m, int want, cw_image_t *img)
{
    char diag[256];
    return cw_image_decode(m->p, m->n, (cw_image_format_t)want, NULL, img, diag, sizeof(diag));
}

// ---- PNG ---------------------------------------------------------------------------------------

static void test_png_rgb_exact(void **state)
{
    (void)state;
    const int w = 37;
    const int h = 23;
    uint8_t *rgb = random_bytes((size_t)w * h * 3);
    for (int interlace = 0; interlace <= 1; interlace++) {
        png_opts o = {PNG_COLOR_TYPE_RGB, 8, interlace, NULL, 0, NULL, 0};
        membuf m = encode_png(rgb, w, h, &o);
        cw_image_t img;
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
        assert_int_equal(img.width, w);
        assert_int_equal(img.height, h);
        assert_int_equal(img.channels, 3);
        assert_int_equal(img.stride, (size_t)w * 3);
        assert_memory_equal(img.data, rgb, (size_t)w * h * 3);
        cw_image_free(&img);
        assert_zeroed(&img);

        assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img), 0);
        assert_int_equal(img.channels, 1);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
                assert_int_equal(*px(&img, x, y), cw__luma(s[0], s[1], s[2]));
            }
        }
        cw_image_free(&img);
        free(m.p);
    }
    free(rgb);
    // The luma is the usual one: pure red, green and blue.
    assert_int_equal(cw__luma(255, 0, 0), 76);
    assert_int_equal(cw__luma(0, 255, 0), 150);
    assert_int_equal(cw__luma(0, 0, 255), 29);
    assert_int_equal(cw__luma(255, 255, 255), 255);
}

static void test_png_gray_layouts(void **state)
{
    (void)state;
    const int w = 19;
    const int h = 7;
    uint8_t gray[19 * 7];
    uint8_t gray_alpha[19 * 7 * 2];
    uint8_t gray16[19 * 7 * 2];
    for (int i = 0; i < w * h; i++) {
        gray[i] = (uint8_t)(i * 7 + 3);
        gray_alpha[2 * i] = gray[i];
        gray_alpha[2 * i + 1] = (uint8_t)(i * 13); // alpha is dropped, whatever it is
        gray16[2 * i] = gray[i];                   // v * 257 reduces to exactly v
        gray16[2 * i + 1] = gray[i];
    }
    const png_opts layouts[] = {
        {PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, NULL, 0, NULL, 0},
        {PNG_COLOR_TYPE_GRAY, 16, 0, NULL, 0, NULL, 0},
        {PNG_COLOR_TYPE_GRAY, 16, 1, NULL, 0, NULL, 0},
    };
    const uint8_t *data[] = {gray, gray_alpha, gray16, gray16};
    for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
        membuf m = encode_png(data[k], w, h, &layouts[k]);
        cw_image_t img;
        assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img), 0);
        assert_int_equal(img.channels, 1);
        assert_memory_equal(img.data, gray, sizeof(gray));
        cw_image_free(&img);
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
        assert_int_equal(img.channels, 3);
        for (int i = 0; i < w * h; i++) {
            const uint8_t *p = px(&img, i % w, i / w);
            assert_int_equal(p[0], gray[i]);
            assert_int_equal(p[1], gray[i]);
            assert_int_equal(p[2], gray[i]);
        }
        cw_image_free(&img);
        free(m.p);
    }

    // 1-bit gray: black and white become 0 and 255.
    uint8_t bits[2 * 3] = {0xa5, 0x80, 0x0f, 0x00, 0xff, 0xff}; // 9 x 3, row = 2 bytes
    png_opts o1 = {PNG_COLOR_TYPE_GRAY, 1, 0, NULL, 0, NULL, 0};
    membuf m = encode_png(bits, 9, 3, &o1);
    cw_image_t img;
    assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img), 0);
    for (int y = 0; y < 3; y++) {
        for (int x = 0; x < 9; x++) {
            int bit = (bits[y * 2 + x / 8] >> (7 - x % 8)) & 1;
            assert_int_equal(*px(&img, x, y), bit ? 255 : 0);
        }
    }
    cw_image_free(&img);
    free(m.p);
}

static void test_png_palette_and_16bit_rgba(void **state)
{
    (void)state;
    const png_color palette[4] = {{10, 20, 30}, {200, 100, 0}, {0, 255, 0}, {255, 255, 255}};
    const png_byte trans[4] = {255, 0, 128, 255}; // alpha is dropped: colours stay as they are
    const int w = 6;
    const int h = 2;
    uint8_t idx8[12] = {0, 1, 2, 3, 0, 1, 3, 2, 1, 0, 3, 3};
    uint8_t idx4[6];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x += 2) {
            idx4[y * 3 + x / 2] = (uint8_t)(idx8[y * w + x] << 4 | idx8[y * w + x + 1]);
        }
    }
    png_opts o8 = {PNG_COLOR_TYPE_PALETTE, 8, 0, palette, 4, trans, 4};
    png_opts o4 = {PNG_COLOR_TYPE_PALETTE, 4, 1, palette, 4, NULL, 0};
    membuf ms[2] = {encode_png(idx8, w, h, &o8), encode_png(idx4, w, h, &o4)};
    for (int k = 0; k < 2; k++) {
        cw_image_t rgb;
        cw_image_t gray;
        assert_int_equal(decode(&ms[k], CW_IMAGE_RGB, &rgb), 0);
        assert_int_equal(decode(&ms[k], CW_IMAGE_GRAY, &gray), 0);
        for (int i = 0; i < w * h; i++) {
            const png_color *c = &palette[idx8[i]];
            const uint8_t *p = px(&rgb, i % w, i / w);
            assert_int_equal(p[0], c->red);
            assert_int_equal(p[1], c->green);
            assert_int_equal(p[2], c->blue);
            assert_int_equal(*px(&gray, i % w, i / w), cw__luma(c->red, c->green, c->blue));
        }
        cw_image_free(&rgb);
        cw_image_free(&gray);
        free(ms[k].p);
    }

    // 16-bit RGBA: samples v * 257 come back as v, alpha dropped.
    uint8_t rgba16[5 * 3 * 8];
    uint8_t expect[5 * 3 * 3];
    for (int i = 0; i < 15; i++) {
        for (int c = 0; c < 4; c++) {
            uint8_t v = (uint8_t)(i * 17 + c * 50);
            rgba16[i * 8 + c * 2] = v;
            rgba16[i * 8 + c * 2 + 1] = v;
            if (c < 3) {
                expect[i * 3 + c] = v;
            }
        }
    }
    png_opts o16 = {PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, NULL, 0, NULL, 0};
    membuf m = encode_png(rgba16, 5, 3, &o16);
    cw_image_t img;
    assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
    assert_memory_equal(img.data, expect, sizeof(expect));
    cw_image_free(&img);
    free(m.p);
}

// ---- JPEG --------------------------------------------------------------------------------------

static void error_stats(const cw_image_t *img, const uint8_t *ref, int ch, double *mean, int *max)
{
    long sum = 0;
    *max = 0;
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width * ch; x++) {
            int d = abs((int)img->data[(size_t)y * img->stride + x] -
                        (int)ref[((size_t)y * img->width) * ch + x]);
            sum += d;
            *max = d > *max ? d : *max;
        }
    }
    *mean = (double)sum / ((double)img->width * img->height * ch);
}

static void test_jpeg_rgb_round_trip(void **state)
{
    (void)state;
    const int w = 64;
    const int h = 48;
    uint8_t *rgb = smooth_rgb(w, h);
    for (int progressive = 0; progressive <= 1; progressive++) {
        jpeg_opts o = {JCS_RGB, JCS_UNKNOWN, 95, progressive, 0, 0, NULL, 0};
        membuf m = encode_jpeg(rgb, w, h, &o);
        cw_image_t img;
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
        assert_int_equal(img.width, w);
        assert_int_equal(img.height, h);
        assert_int_equal(img.channels, 3);
        double mean;
        int max;
        error_stats(&img, rgb, 3, &mean, &max);
        assert_true(mean < 2.0);
        assert_true(max <= 16);

        // Gray from colour is the luma of the colour, within JPEG's error.
        cw_image_t gray;
        assert_int_equal(decode(&m, CW_IMAGE_GRAY, &gray), 0);
        assert_int_equal(gray.channels, 1);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const uint8_t *s = px(&img, x, y);
                int d = abs((int)*px(&gray, x, y) - cw__luma(s[0], s[1], s[2]));
                assert_true(d <= 6);
            }
        }
        cw_image_free(&gray);
        cw_image_free(&img);
        free(m.p);
    }
    free(rgb);
}

static void test_jpeg_gray(void **state)
{
    (void)state;
    const int w = 40;
    const int h = 24;
    uint8_t g[40 * 24];
    for (int i = 0; i < w * h; i++) {
        g[i] = (uint8_t)(((i % w) * 6 + (i / w) * 3) & 0xff);
    }
    jpeg_opts o = {JCS_GRAYSCALE, JCS_UNKNOWN, 95, 0, 0, 0, NULL, 0};
    membuf m = encode_jpeg(g, w, h, &o);
    cw_image_t gray;
    cw_image_t rgb;
    assert_int_equal(decode(&m, CW_IMAGE_GRAY, &gray), 0);
    assert_int_equal(decode(&m, CW_IMAGE_RGB, &rgb), 0);
    double mean;
    int max;
    error_stats(&gray, g, 1, &mean, &max);
    assert_true(mean < 2.0);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = px(&rgb, x, y);
            assert_int_equal(p[0], *px(&gray, x, y));
            assert_int_equal(p[1], p[0]);
            assert_int_equal(p[2], p[0]);
        }
    }
    cw_image_free(&gray);
    cw_image_free(&rgb);
    free(m.p);
}

// CMYK from print workflows: Adobe's inverted CMYK, Adobe YCCK, and plain CMYK without the
// Adobe marker must all come out as the intended colours.
static void test_jpeg_cmyk(void **state)
{
    (void)state;
    // Ink (0 = none) for red, green, blue, white, black, a mid grey via K only.
    const uint8_t ink[6][4] = {{0, 255, 255, 0}, {255, 0, 255, 0}, {255, 255, 0, 0},
                               {0, 0, 0, 0},     {0, 0, 0, 255},   {0, 0, 0, 128}};
    const uint8_t want[6][3] = {{255, 0, 0},     {0, 255, 0}, {0, 0, 255},
                                {255, 255, 255}, {0, 0, 0},   {127, 127, 127}};
    const int bw = 16;
    const int w = 6 * bw;
    const int h = 16;
    const J_COLOR_SPACE spaces[3] = {JCS_CMYK, JCS_YCCK, JCS_CMYK};
    for (int k = 0; k < 3; k++) {
        int adobe = k < 2;
        uint8_t *cmyk = malloc((size_t)w * h * 4);
        assert_non_null(cmyk);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 4; c++) {
                    uint8_t v = ink[x / bw][c];
                    cmyk[((size_t)y * w + x) * 4 + c] = adobe ? (uint8_t)(255 - v) : v;
                }
            }
        }
        jpeg_opts o = {JCS_CMYK, spaces[k], 95, 0, 1, !adobe, NULL, 0};
        membuf m = encode_jpeg(cmyk, w, h, &o);
        cw_image_t rgb;
        cw_image_t gray;
        assert_int_equal(decode(&m, CW_IMAGE_RGB, &rgb), 0);
        assert_int_equal(decode(&m, CW_IMAGE_GRAY, &gray), 0);
        for (int b = 0; b < 6; b++) {
            const uint8_t *p = px(&rgb, b * bw + bw / 2, h / 2);
            for (int c = 0; c < 3; c++) {
                assert_true(abs((int)p[c] - want[b][c]) <= 8);
            }
            int luma = cw__luma(want[b][0], want[b][1], want[b][2]);
            assert_true(abs((int)*px(&gray, b * bw + bw / 2, h / 2) - luma) <= 8);
        }
        cw_image_free(&rgb);
        cw_image_free(&gray);
        free(m.p);
        free(cmyk);
    }
}

// A progressive gray JPEG whose AC bands are refined in `passes` successive-approximation
// scans each: 6 DC scans + 63 * passes AC scans.
static membuf many_scan_jpeg(int passes)
{
    static jpeg_scan_info scans[6 + 63 * 8];
    int n = 0;
    for (int al = 5; al >= 0; al--) {
        jpeg_scan_info s = {1, {0}, 0, 0, al == 5 ? 0 : al + 1, al};
        scans[n++] = s;
    }
    for (int k = 1; k <= 63; k++) {
        for (int al = passes - 1; al >= 0; al--) {
            jpeg_scan_info s = {1, {0}, k, k, al == passes - 1 ? 0 : al + 1, al};
            scans[n++] = s;
        }
    }
    uint8_t g[16 * 16];
    for (int i = 0; i < 256; i++) {
        g[i] = (uint8_t)(i * 7);
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = 16;
    c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    c.scan_info = scans;
    c.num_scans = n;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = g + c.next_scanline * 16;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    membuf m = {out, out_len, out_len};
    return m;
}

// Each scan costs a pass over the whole image, so a file made of hundreds of them is refused;
// a merely unusual one (195 scans) still decodes.
static void test_jpeg_scan_limit(void **state)
{
    (void)state;
    membuf ok = many_scan_jpeg(3);
    membuf too_many = many_scan_jpeg(4);
    cw_image_t img;
    char diag[128] = "";
    assert_int_equal(decode(&ok, CW_IMAGE_GRAY, &img), 0);
    cw_image_free(&img);
    assert_int_equal(
        cw_image_decode(too_many.p, too_many.n, CW_IMAGE_GRAY, NULL, &img, diag, sizeof(diag)),
        CW_EFORMAT);
    assert_non_null(strstr(diag, "scans"));
    assert_zeroed(&img);
    free(ok.p);
    free(too_many.p);
}

// ---- EXIF orientation --------------------------------------------------------------------------

static void put16(uint8_t *p, unsigned v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++) {
        p[be ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

// An APP1 payload "Exif\0\0" + TIFF with IFD0 = {Make, Orientation}; returns its length (44).
static size_t build_exif(uint8_t *p, unsigned orientation, int be)
{
    memcpy(p, "Exif\0\0", 6);
    uint8_t *t = p + 6;
    t[0] = t[1] = be ? 'M' : 'I';
    put16(t + 2, 42, be);
    put32(t + 4, 8, be);
    put16(t + 8, 2, be);
    uint8_t *e = t + 10;
    put16(e, 0x010f, be); // Make, ASCII, 4 bytes inline: the parser must skip it
    put16(e + 2, 2, be);
    put32(e + 4, 4, be);
    memcpy(e + 8, "Cw\0\0", 4);
    e += 12;
    put16(e, 0x0112, be);
    put16(e + 2, 3, be);
    put32(e + 4, 1, be);
    put16(e + 8, orientation, be);
    put16(e + 10, 0, be);
    put32(e + 12, 0, be); // no next IFD
    return 6 + 8 + 2 + 24 + 4;
}

// The upright picture, 3 x 2 blocks:   a b c
//                                       d e f
// and how each orientation stores it, written out from the EXIF definitions of where the stored
// row 0 and column 0 belong (e.g. 6: row 0 is the right-hand side, column 0 the top).
static const char *const stored_grids[9][3] = {
    {NULL},
    {"abc", "def", NULL},
    {"cba", "fed", NULL},
    {"fed", "cba", NULL},
    {"def", "abc", NULL},
    {"ad", "be", "cf"},
    {"cf", "be", "ad"},
    {"fc", "eb", "da"},
    {"da", "eb", "fc"},
};

static const uint8_t block_rgb[6][3] = {{220, 40, 40},  {40, 200, 40},  {40, 40, 220},
                                        {230, 230, 60}, {60, 220, 220}, {120, 60, 160}};

enum { BLOCK = 16 };

static membuf oriented_jpeg(int orientation, int be)
{
    const char *const *grid = stored_grids[orientation];
    int gh = grid[2] != NULL ? 3 : 2;
    int gw = (int)strlen(grid[0]);
    int w = gw * BLOCK;
    int h = gh * BLOCK;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    assert_non_null(rgb);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            memcpy(rgb + ((size_t)y * w + x) * 3, block_rgb[grid[y / BLOCK][x / BLOCK] - 'a'], 3);
        }
    }
    uint8_t app1[64];
    size_t n = build_exif(app1, (unsigned)orientation, be);
    jpeg_opts o = {JCS_RGB, JCS_UNKNOWN, 95, 0, 1, 0, app1, n};
    membuf m = encode_jpeg(rgb, w, h, &o);
    free(rgb);
    return m;
}

static void assert_upright(const cw_image_t *img)
{
    static const char *const upright[2] = {"abc", "def"};
    assert_int_equal(img->width, 3 * BLOCK);
    assert_int_equal(img->height, 2 * BLOCK);
    for (int by = 0; by < 2; by++) {
        for (int bx = 0; bx < 3; bx++) {
            const uint8_t *want = block_rgb[upright[by][bx] - 'a'];
            // Sample the block's interior, away from JPEG's ringing at block edges.
            for (int y = by * BLOCK + 4; y < by * BLOCK + 12; y += 7) {
                for (int x = bx * BLOCK + 4; x < bx * BLOCK + 12; x += 7) {
                    const uint8_t *p = px(img, x, y);
                    if (img->channels == 3) {
                        for (int c = 0; c < 3; c++) {
                            assert_true(abs((int)p[c] - want[c]) <= 12);
                        }
                    } else {
                        assert_true(abs((int)p[0] - cw__luma(want[0], want[1], want[2])) <= 12);
                    }
                }
            }
        }
    }
}

static void test_exif_orientations(void **state)
{
    (void)state;
    for (int be = 0; be <= 1; be++) {
        for (int o = 1; o <= 8; o++) {
            membuf m = oriented_jpeg(o, be);
            cw_image_t img;
            assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
            assert_upright(&img);
            cw_image_free(&img);
            assert_int_equal(decode(&m, CW_IMAGE_GRAY, &img), 0);
            assert_upright(&img);
            cw_image_free(&img);
            free(m.p);
        }
    }
    // The check can fail: orientation 6 stored but the tag says 1 gives a sideways picture.
    membuf m = oriented_jpeg(6, 1);
    uint8_t app1[64];
    build_exif(app1, 6, 1);
    uint8_t *tag = find_bytes(m.p, m.n, app1 + 6 + 10 + 12, 10);
    assert_non_null(tag);
    tag[9] = 1; // big-endian SHORT 6 -> 1
    cw_image_t img;
    assert_int_equal(decode(&m, CW_IMAGE_RGB, &img), 0);
    assert_int_equal(img.width, 2 * BLOCK);
    assert_int_equal(img.height, 3 * BLOCK);
    cw_image_free(&img);
    free(m.p);
}

static void test_exif_parser_bounds(void **state)
{
    (void)state;
    for (int be = 0; be <= 1; be++) {
        uint8_t app1[64];
        size_t n = build_exif(app1, 6, be);
        const uint8_t *tiff = app1 + 6;
        size_t len = n - 6;
        assert_int_equal(cw__exif_orientation(tiff, len), 6);
        // Every prefix: the directory is refused whole unless all of it is there.
        for (size_t k = 0; k < len; k++) {
            int o = cw__exif_orientation(tiff, k);
            assert_int_equal(o, k >= 10 + 24 ? 6 : 1);
        }
        uint8_t t[64];
        // Value out of range, wrong type, count 2, bad magic, bad byte order, IFD offset past
        // the end or inside the header, entry count too large: all "no rotation".
        const struct {
            size_t off;
            int width; // 2 or 4 bytes
            uint32_t value;
        } breaks[] = {{10 + 12 + 8, 2, 9}, {10 + 12 + 8, 2, 0}, {10 + 12 + 2, 2, 4},
                      {10 + 12 + 4, 4, 2}, {2, 2, 43},          {4, 4, 1000},
                      {4, 4, 0xffffffffu}, {4, 4, 4},           {8, 2, 3},
                      {8, 2, 0xffff}};
        for (size_t b = 0; b < sizeof(breaks) / sizeof(breaks[0]); b++) {
            memcpy(t, tiff, len);
            if (breaks[b].width == 2) {
                put16(t + breaks[b].off, breaks[b].value, be);
            } else {
                put32(t + breaks[b].off, breaks[b].value, be);
            }
            assert_int_equal(cw__exif_orientation(t, len), 1);
        }
        memcpy(t, tiff, len);
        t[0] = 'X';
        assert_int_equal(cw__exif_orientation(t, len), 1);
        assert_int_equal(cw__exif_orientation(NULL, 100), 1);
        // Random bytes after a valid header never read out of bounds (ASan) and stay in 1..8.
        for (int i = 0; i < 2000; i++) {
            size_t rl = 8 + rng() % 56;
            memcpy(t, tiff, 8);
            for (size_t j = 8; j < rl; j++) {
                t[j] = (uint8_t)(rng() >> 24);
            }
            int o = cw__exif_orientation(t, rl);
            assert_true(o >= 1 && o <= 8);
        }
    }
}

// ---- untrusted input ---------------------------------------------------------------------------

static void test_bad_arguments_and_unknown_formats(void **state)
{
    (void)state;
    cw_image_t img;
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    char diag[128] = "";
    assert_int_equal(cw_image_decode(gif, 0, CW_IMAGE_RGB, NULL, &img, diag, sizeof(diag)),
                     CW_EFORMAT);
    assert_zeroed(&img);
    assert_true(strlen(diag) > 0);
    assert_int_equal(cw_image_decode(NULL, 10, CW_IMAGE_RGB, NULL, &img, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_image_decode(gif, sizeof(gif), 2, NULL, &img, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_image_decode(gif, sizeof(gif), CW_IMAGE_RGB, NULL, NULL, NULL, 0),
                     CW_EINVAL);
    cw_image_limits_t neg = {-1, 0};
    assert_int_equal(cw_image_decode(gif, sizeof(gif), CW_IMAGE_RGB, &neg, &img, NULL, 0),
                     CW_EINVAL);
    assert_int_equal(cw_image_decode(gif, sizeof(gif), CW_IMAGE_RGB, NULL, &img, NULL, 0),
                     CW_EUNSUPPORTED);
    assert_zeroed(&img);
    // Signatures cut short are truncated files, not other formats.
    const uint8_t sig_jpeg[2] = {0xff, 0xd8};
    const uint8_t sig_png[5] = {0x89, 'P', 'N', 'G', '\r'};
    assert_int_equal(cw_image_decode(sig_jpeg, 2, CW_IMAGE_RGB, NULL, &img, NULL, 0), CW_EFORMAT);
    assert_int_equal(cw_image_decode(sig_png, 5, CW_IMAGE_RGB, NULL, &img, NULL, 0), CW_EFORMAT);

    // Random garbage, with and without a valid signature in front.
    for (int i = 0; i < 3000; i++) {
        size_t n = 1 + rng() % 700;
        uint8_t *b = random_bytes(n);
        if (i % 3 == 1 && n >= 3) {
            memcpy(b, "\xff\xd8\xff", 3);
        } else if (i % 3 == 2 && n >= 8) {
            memcpy(b, "\x89PNG\r\n\x1a\n", 8);
        }
        int rc = cw_image_decode(b, n, (i & 1) ? CW_IMAGE_RGB : CW_IMAGE_GRAY, NULL, &img, NULL, 0);
        assert_true(rc < 0);
        assert_zeroed(&img);
        free(b);
    }
}

// Every prefix of a file must give an error or a whole image, never a crash or a leak; and a
// file cut in the middle of the pixel data must be refused, not padded with gray.
static void check_prefixes(const membuf *m)
{
    int errors = 0;
    for (size_t k = 0; k <= m->n; k++) {
        uint8_t *copy = malloc(k ? k : 1); // exact size so ASan sees any over-read
        assert_non_null(copy);
        memcpy(copy, m->p, k);
        cw_image_t img;
        int rc =
            cw_image_decode(copy, k, (k & 1) ? CW_IMAGE_RGB : CW_IMAGE_GRAY, NULL, &img, NULL, 0);
        if (rc == 0) {
            assert_true(img.width > 0 && img.height > 0);
            assert_non_null(img.data);
            cw_image_free(&img);
        } else {
            assert_true(rc == CW_EFORMAT || rc == CW_EUNSUPPORTED);
            assert_zeroed(&img);
            errors++;
        }
        free(copy);
    }
    // Cut halfway through the compressed pixels (after the first SOS, or inside IDAT).
    uint8_t *sos = find_bytes(m->p, m->n, "\xff\xda", 2);
    assert_true(m->p[0] != 0xff || sos != NULL);
    size_t data_start = m->p[0] == 0xff ? (size_t)(sos - m->p) + 14 : 33 + 8;
    cw_image_t img;
    assert_int_equal(
        cw_image_decode(m->p, (data_start + m->n) / 2, CW_IMAGE_RGB, NULL, &img, NULL, 0),
        CW_EFORMAT);
    assert_int_equal(cw_image_decode(m->p, m->n, CW_IMAGE_RGB, NULL, &img, NULL, 0), 0);
    cw_image_free(&img);
    assert_true(errors > (int)m->n / 2);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    const int w = 24;
    const int h = 16;
    uint8_t *rgb = smooth_rgb(w, h);
    for (int progressive = 0; progressive <= 1; progressive++) {
        uint8_t app1[64];
        size_t n = build_exif(app1, 6, progressive);
        jpeg_opts o = {JCS_RGB, JCS_UNKNOWN, 90, progressive, 0, 0, app1, n};
        membuf m = encode_jpeg(rgb, w, h, &o);
        check_prefixes(&m);
        free(m.p);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
        png_opts o = {PNG_COLOR_TYPE_RGB, 8, interlace, NULL, 0, NULL, 0};
        membuf m = encode_png(rgb, w, h, &o);
        check_prefixes(&m);
        free(m.p);
    }
    free(rgb);
}

static void test_bit_flips(void **state)
{
    (void)state;
    const int w = 16;
    const int h = 8;
    uint8_t *rgb = smooth_rgb(w, h);
    jpeg_opts jo = {JCS_RGB, JCS_UNKNOWN, 80, 1, 0, 0, NULL, 0};
    png_opts po = {PNG_COLOR_TYPE_RGB, 8, 1, NULL, 0, NULL, 0};
    membuf files[2] = {encode_jpeg(rgb, w, h, &jo), encode_png(rgb, w, h, &po)};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < files[f].n; i++) {
            for (int k = 0; k < 3; k++) {
                uint8_t *copy = malloc(files[f].n);
                assert_non_null(copy);
                memcpy(copy, files[f].p, files[f].n);
                copy[i] ^= k == 0 ? 0x01 : k == 1 ? 0x80 : 0xff;
                cw_image_t img;
                int rc = cw_image_decode(copy, files[f].n, k == 1 ? CW_IMAGE_GRAY : CW_IMAGE_RGB,
                                         NULL, &img, NULL, 0);
                if (rc == 0) {
                    cw_image_free(&img);
                } else {
                    assert_zeroed(&img);
                }
                free(copy);
            }
        }
        free(files[f].p);
    }
    free(rgb);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        }
    }
    return c ^ 0xffffffffu;
}

static membuf forged_png(uint32_t w, uint32_t h)
{
    uint8_t one[3] = {1, 2, 3};
    png_opts o = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0};
    membuf m = encode_png(one, 1, 1, &o);
    put32(m.p + 16, w, 1);
    put32(m.p + 20, h, 1);
    put32(m.p + 29, crc32_png(m.p + 12, 17), 1);
    return m;
}

static membuf forged_jpeg(unsigned w, unsigned h)
{
    uint8_t *rgb = smooth_rgb(16, 16);
    jpeg_opts o = {JCS_RGB, JCS_UNKNOWN, 90, 0, 0, 0, NULL, 0};
    membuf m = encode_jpeg(rgb, 16, 16, &o);
    free(rgb);
    uint8_t *sof = find_bytes(m.p, m.n, "\xff\xc0", 2);
    assert_non_null(sof);
    put16(sof + 5, h, 1);
    put16(sof + 7, w, 1);
    return m;
}

// A forged header is refused before anything proportional to its claim is allocated.
static void test_huge_headers_refused_unallocated(void **state)
{
    (void)state;
    membuf files[2] = {forged_png(60000, 60000), forged_jpeg(60000, 60000)};
    for (int f = 0; f < 2; f++) {
        for (int want = 1; want <= 3; want += 2) {
            cw_alloc_counting_install(); // nothing is live: this only resets peak_bytes
            cw_image_t img;
            char diag[128] = "";
            int rc = cw_image_decode(files[f].p, files[f].n, (cw_image_format_t)want, NULL, &img,
                                     diag, sizeof(diag));
            assert_int_equal(rc, CW_ETOOBIG);
            assert_non_null(strstr(diag, "60000"));
            assert_zeroed(&img);
            cw_alloc_stats_t s;
            cw_alloc_counting_stats(&s);
            assert_true(s.peak_bytes < 64 * 1024);
            assert_int_equal(s.live_blocks, 0);
        }
        free(files[f].p);
    }
    // Just over and exactly at custom caps: the limit is the limit.
    uint8_t *rgb = smooth_rgb(32, 24);
    png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0};
    jpeg_opts jo = {JCS_RGB, JCS_UNKNOWN, 90, 0, 0, 0, NULL, 0};
    membuf small[2] = {encode_png(rgb, 32, 24, &po), encode_jpeg(rgb, 32, 24, &jo)};
    const struct {
        cw_image_limits_t lim;
        int rc;
    } cases[] = {{{31, 0}, CW_ETOOBIG},
                 {{32, 0}, 0},
                 {{0, 32 * 24 - 1}, CW_ETOOBIG},
                 {{0, 32 * 24}, 0},
                 {{0, 0}, 0}};
    for (int f = 0; f < 2; f++) {
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            cw_image_t img;
            assert_int_equal(
                cw_image_decode(small[f].p, small[f].n, CW_IMAGE_RGB, &cases[c].lim, &img, NULL, 0),
                cases[c].rc);
            cw_image_free(&img);
        }
        free(small[f].p);
    }
    free(rgb);
    // A forged PNG just over the default side cap, and one whose area alone is over.
    membuf side = forged_png(CW_IMAGE_MAX_SIDE + 1, 1);
    membuf area = forged_png(7000, 7000);
    cw_image_t img;
    assert_int_equal(decode(&side, CW_IMAGE_RGB, &img), CW_ETOOBIG);
    assert_int_equal(decode(&area, CW_IMAGE_RGB, &img), CW_ETOOBIG);
    free(side.p);
    free(area.p);
}

// Fail each allocation in turn: every failure is CW_ENOMEM with nothing left allocated, until
// the decode runs without hitting the injected failure.
static void fail_every_allocation(const membuf *m, int want)
{
    int clean_run = 0;
    for (uint64_t nth = 1; nth < 1000 && !clean_run; nth++) {
        cw_alloc_stats_t before;
        cw_alloc_stats_t after;
        cw_alloc_counting_stats(&before);
        cw_alloc_fail_nth(nth);
        cw_image_t img;
        int rc = cw_image_decode(m->p, m->n, (cw_image_format_t)want, NULL, &img, NULL, 0);
        cw_alloc_fail_nth(0);
        cw_alloc_counting_stats(&after);
        int injected = after.failures != before.failures;
        if (rc == 0) {
            assert_int_equal(img.channels, want);
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

static void test_allocation_failures(void **state)
{
    (void)state;
    uint8_t *rgb = smooth_rgb(20, 12);
    png_opts po = {PNG_COLOR_TYPE_RGB, 8, 1, NULL, 0, NULL, 0};
    membuf p = encode_png(rgb, 20, 12, &po);
    fail_every_allocation(&p, CW_IMAGE_RGB);
    fail_every_allocation(&p, CW_IMAGE_GRAY);
    free(p.p);
    membuf j = oriented_jpeg(6, 0);
    fail_every_allocation(&j, CW_IMAGE_RGB);
    fail_every_allocation(&j, CW_IMAGE_GRAY);
    free(j.p);
    uint8_t cmyk[16 * 8 * 4];
    memset(cmyk, 0x80, sizeof(cmyk));
    jpeg_opts co = {JCS_CMYK, JCS_UNKNOWN, 90, 0, 0, 0, NULL, 0};
    membuf c = encode_jpeg(cmyk, 16, 8, &co);
    fail_every_allocation(&c, CW_IMAGE_GRAY);
    free(c.p);
    free(rgb);
}

// Corrupt-but-usable and broken files alike: libjpeg and libpng must not print anything.
static void test_library_stays_silent(void **state)
{
    (void)state;
    uint8_t *rgb = smooth_rgb(16, 16);
    uint8_t *big = smooth_rgb(64, 64);
    jpeg_opts jo = {JCS_RGB, JCS_UNKNOWN, 90, 0, 0, 0, NULL, 0};
    membuf j = encode_jpeg(big, 64, 64, &jo);
    free(big);
    // Stray bytes before the DQT marker: libjpeg warns "extraneous bytes" and decodes on.
    membuf stray = {0};
    uint8_t *dqt = find_bytes(j.p, j.n, "\xff\xdb", 2);
    assert_non_null(dqt);
    membuf_append(&stray, j.p, (size_t)(dqt - j.p));
    membuf_append(&stray, "\x01\x02\x03", 3);
    membuf_append(&stray, dqt, j.n - (size_t)(dqt - j.p));
    // A PNG with a damaged ancillary chunk (libpng warns and skips it).
    png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0};
    membuf p = encode_png(rgb, 16, 16, &po);
    membuf bad_chunk = {0};
    membuf_append(&bad_chunk, p.p, 33); // signature + IHDR
    membuf_append(&bad_chunk, "\x00\x00\x00\x04tEXtabcd\x00\x00\x00\x00", 16);
    membuf_append(&bad_chunk, p.p + 33, p.n - 33);

    fflush(stderr);
    int saved = dup(2);
    FILE *capture = tmpfile();
    assert_non_null(capture);
    assert_true(dup2(fileno(capture), 2) >= 0);
    cw_image_t img;
    int rc_stray = decode(&stray, CW_IMAGE_RGB, &img);
    cw_image_free(&img);
    int rc_chunk = decode(&bad_chunk, CW_IMAGE_RGB, &img);
    cw_image_free(&img);
    membuf cut_j = {j.p, j.n - 40, 0};
    membuf cut_p = {p.p, p.n - 30, 0};
    int rc_cut_j = decode(&cut_j, CW_IMAGE_RGB, &img);
    int rc_cut_p = decode(&cut_p, CW_IMAGE_RGB, &img);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(fseek(capture, 0, SEEK_END), 0);
    long printed = ftell(capture);
    fclose(capture);

    assert_int_equal(printed, 0);
    assert_int_equal(rc_stray, 0);
    assert_int_equal(rc_chunk, 0);
    assert_int_equal(rc_cut_j, CW_EFORMAT);
    assert_int_equal(rc_cut_p, CW_EFORMAT);
    free(stray.p);
    free(bad_chunk.p);
    free(j.p);
    free(p.p);
    free(rgb);
}

// ---- alloc, free, files ------------------------------------------------------------------------

static void test_alloc_free(void **state)
{
    (void)state;
    cw_image_t img;
    assert_int_equal(cw_image_alloc(5, 4, 3, &img), 0);
    assert_int_equal(img.stride, 15);
    for (size_t i = 0; i < 60; i++) {
        assert_int_equal(img.data[i], 0);
    }
    cw_image_free(&img);
    assert_zeroed(&img);
    cw_image_free(&img); // empty: no-op
    cw_image_free(NULL);
    assert_int_equal(cw_image_alloc(0, 4, 3, &img), CW_EINVAL);
    assert_zeroed(&img);
    assert_int_equal(cw_image_alloc(4, 4, 2, &img), CW_EINVAL);
    assert_int_equal(cw_image_alloc(4, 4, 1, NULL), CW_EINVAL);
    cw_alloc_fail_nth(1);
    assert_int_equal(cw_image_alloc(4, 4, 1, &img), CW_ENOMEM);
    assert_zeroed(&img);
}

static void test_write_and_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/cw_image_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/out.png", dir);
    uint8_t *rgb = random_bytes(13 * 9 * 3);
    for (int ch = 1; ch <= 3; ch += 2) {
        cw_image_t img;
        assert_int_equal(cw_image_alloc(13, 9, ch, &img), 0);
        memcpy(img.data, rgb, (size_t)13 * 9 * ch);
        char diag[256] = "";
        assert_int_equal(cw_image_write_png(&img, path, diag, sizeof(diag)), 0);
        cw_image_t back;
        assert_int_equal(
            cw_image_load(path, (cw_image_format_t)ch, NULL, &back, diag, sizeof(diag)), 0);
        assert_int_equal(back.width, 13);
        assert_int_equal(back.channels, ch);
        assert_memory_equal(back.data, img.data, (size_t)13 * 9 * ch);
        cw_image_free(&back);

        // Every allocation failure while writing: no leak, and no half-written file left.
        int clean = 0;
        for (uint64_t nth = 1; nth < 200 && !clean; nth++) {
            remove(path);
            cw_alloc_stats_t before;
            cw_alloc_stats_t after;
            cw_alloc_counting_stats(&before);
            cw_alloc_fail_nth(nth);
            int rc = cw_image_write_png(&img, path, NULL, 0);
            cw_alloc_fail_nth(0);
            cw_alloc_counting_stats(&after);
            struct stat st;
            if (rc == 0) {
                clean = after.failures == before.failures;
                assert_int_equal(stat(path, &st), 0);
            } else {
                assert_int_equal(rc, CW_ENOMEM);
                assert_int_not_equal(stat(path, &st), 0);
            }
            assert_int_equal(after.live_blocks, 1); // img itself
        }
        assert_true(clean);
        cw_image_free(&img);
    }
    free(rgb);

    cw_image_t img;
    char diag[256] = "";
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing.png", dir);
    assert_int_equal(cw_image_load(missing, CW_IMAGE_RGB, NULL, &img, diag, sizeof(diag)), CW_EIO);
    assert_non_null(strstr(diag, "missing.png"));
    assert_zeroed(&img);
    assert_int_equal(cw_image_alloc(2, 2, 1, &img), 0);
    assert_int_equal(cw_image_write_png(&img, "/nonexistent-dir/x.png", NULL, 0), CW_EIO);
    cw_image_free(&img);
    assert_int_equal(cw_image_write_png(&img, path, NULL, 0), CW_EINVAL);

    // A file over 64 MiB is refused without decoding (sparse, so it costs no disk).
    char big[300];
    snprintf(big, sizeof(big), "%s/big.bin", dir);
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("\x89PNG\r\n\x1a\n", 1, 8, f), 8);
    assert_int_equal(ftruncate(fileno(f), ((off_t)64 << 20) + 1), 0);
    fclose(f);
    assert_int_equal(cw_image_load(big, CW_IMAGE_RGB, NULL, &img, NULL, 0), CW_ETOOBIG);
    assert_zeroed(&img);
    remove(big);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_png_rgb_exact, install, uninstall),
        cmocka_unit_test_setup_teardown(test_png_gray_layouts, install, uninstall),
        cmocka_unit_test_setup_teardown(test_png_palette_and_16bit_rgba, install, uninstall),
        cmocka_unit_test_setup_teardown(test_jpeg_rgb_round_trip, install, uninstall),
        cmocka_unit_test_setup_teardown(test_jpeg_gray, install, uninstall),
        cmocka_unit_test_setup_teardown(test_jpeg_cmyk, install, uninstall),
        cmocka_unit_test_setup_teardown(test_jpeg_scan_limit, install, uninstall),
        cmocka_unit_test_setup_teardown(test_exif_orientations, install, uninstall),
        cmocka_unit_test(test_exif_parser_bounds),
        cmocka_unit_test_setup_teardown(test_bad_arguments_and_unknown_formats, install, uninstall),
        cmocka_unit_test_setup_teardown(test_truncated_everywhere, install, uninstall),
        cmocka_unit_test_setup_teardown(test_bit_flips, install, uninstall),
        cmocka_unit_test_setup_teardown(test_huge_headers_refused_unallocated, install, uninstall),
        cmocka_unit_test_setup_teardown(test_allocation_failures, install, uninstall),
        cmocka_unit_test_setup_teardown(test_library_stays_silent, install, uninstall),
        cmocka_unit_test_setup_teardown(test_alloc_free, install, uninstall),
        cmocka_unit_test_setup_teardown(test_write_and_load, install, uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
