/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny TIFF writer for the finger tests and the fuzz corpus: builds baseline 8-bit grayscale
 * files in memory with a chosen byte order, strip height and photometric interpretation, so
 * the reader is tested on layouts the FVC files do not use. Test code only.
 */
#ifndef CW_TEST_TIFF_BUILDER_H
#define CW_TEST_TIFF_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tb_opts {
    int big; /* 1: "MM" */
    uint32_t width, height;
    uint32_t rps;  /* rows per strip */
    uint32_t bits; /* 8 */
    uint32_t compression;
    uint32_t photometric;
    uint32_t dpi; /* 0: no resolution tags */
} tb_opts_t;

static void tb_put(uint8_t *p, int big, uint32_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[big ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
    }
}

/* Returns a malloc'ed file of *len bytes; pixel (x, y) = pix[y * width + x]. */
static uint8_t *tb_build(const tb_opts_t *o, const uint8_t *pix, size_t *len)
{
    uint32_t rps = o->rps ? o->rps : o->height;
    uint32_t ns = (o->height + rps - 1) / rps;
    int nent = 10 + (o->dpi ? 3 : 0);
    size_t ifd = 8, ifd_len = 2 + 12 * (size_t)nent + 4;
    size_t arrays = ifd + ifd_len; /* strip offsets then byte counts (LONG) then rational */
    size_t data = arrays + 8 * (size_t)ns + 8;
    size_t total = data + (size_t)o->width * o->height;
    uint8_t *b = calloc(1, total);
    if (b == NULL) {
        return NULL;
    }
    b[0] = b[1] = o->big ? 'M' : 'I';
    tb_put(b + 2, o->big, 42, 2);
    tb_put(b + 4, o->big, (uint32_t)ifd, 4);
    tb_put(b + ifd, o->big, (uint32_t)nent, 2);
    uint8_t *e = b + ifd + 2;
    struct {
        uint32_t tag, type, count, value;
    } ents[13] = {
        {256, 4, 1, o->width},
        {257, 4, 1, o->height},
        {258, 3, 1, o->bits},
        {259, 3, 1, o->compression},
        {262, 3, 1, o->photometric},
        {273, 4, ns, ns == 1 ? (uint32_t)data : (uint32_t)arrays},
        {277, 3, 1, 1},
        {278, 4, 1, rps},
        {279, 4, ns, ns == 1 ? o->width * o->height : (uint32_t)(arrays + 4 * ns)},
        {284, 3, 1, 1},
        {282, 5, 1, (uint32_t)(arrays + 8 * ns)},
        {283, 5, 1, (uint32_t)(arrays + 8 * ns)},
        {296, 3, 1, 2},
    };
    for (int i = 0; i < nent; i++, e += 12) {
        tb_put(e, o->big, ents[i].tag, 2);
        tb_put(e + 2, o->big, ents[i].type, 2);
        tb_put(e + 4, o->big, ents[i].count, 4);
        if (ents[i].type == 3 && ents[i].count == 1) {
            tb_put(e + 8, o->big, ents[i].value, 2);
        } else {
            tb_put(e + 8, o->big, ents[i].value, 4);
        }
    }
    for (uint32_t s = 0; s < ns && ns > 1; s++) {
        uint32_t rows = o->height - s * rps < rps ? o->height - s * rps : rps;
        tb_put(b + arrays + 4 * s, o->big, (uint32_t)(data + (size_t)s * rps * o->width), 4);
        tb_put(b + arrays + 4 * ns + 4 * s, o->big, rows * o->width, 4);
    }
    tb_put(b + arrays + 8 * ns, o->big, o->dpi, 4);
    tb_put(b + arrays + 8 * ns + 4, o->big, 1, 4);
    if (pix != NULL) {
        memcpy(b + data, pix, (size_t)o->width * o->height);
    }
    *len = total;
    return b;
}

#endif
