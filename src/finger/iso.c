// SPDX-License-Identifier: Apache-2.0
// ISO/IEC 19794-2:2005 finger minutiae records: a 24-byte record header ("FMR\0", " 20\0",
// 4-byte record length, capture equipment, image size, resolution in pixels per centimetre,
// number of finger views), then per view a 4-byte header (finger position, view number and
// impression type, quality, minutiae count), 6-byte minutiae and an extended data block
// (2-byte length, skipped). All fields big-endian. The reader trusts no length: every count is
// checked against the bytes that are actually there.
#include "finger_internal.h"

#include "clearway/err.h"

#include <string.h>

enum { HDR = 24, VIEW_HDR = 4, MIN_BYTES = 6 };

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

// Pixels per inch to pixels per centimetre and back (500 dpi <-> 197 ppcm).
static unsigned dpi_to_ppcm(unsigned dpi)
{
    return (dpi * 100u + 127u) / 254u;
}

// Exact both ways for the accepted range: 197 px/cm <-> 500 dpi.
static unsigned ppcm_to_dpi(unsigned ppcm)
{
    return (ppcm * 254u + 50u) / 100u;
}

int cw_finger_iso_write(const cw_finger_template_t *tpl, uint8_t *buf, size_t cap, size_t *len)
{
    if (tpl == NULL || len == NULL || tpl->n > CW_FINGER_MAX_MINUTIAE ||
        (tpl->dpi != 0 && (tpl->dpi < 102 || tpl->dpi > 2032))) {
        return CW_EINVAL;
    }
    size_t need = HDR + VIEW_HDR + (size_t)tpl->n * MIN_BYTES + 2;
    *len = need;
    for (int i = 0; i < tpl->n; i++) {
        if (tpl->m[i].x > 0x3fff || tpl->m[i].y > 0x3fff || tpl->m[i].type > 3 ||
            tpl->m[i].quality > 100) {
            return CW_EINVAL;
        }
    }
    if (buf == NULL || cap < need) {
        return CW_ETOOBIG;
    }
    memcpy(buf, "FMR\0 20\0", 8);
    buf[8] = (uint8_t)(need >> 24);
    buf[9] = (uint8_t)(need >> 16);
    buf[10] = (uint8_t)(need >> 8);
    buf[11] = (uint8_t)need;
    put16(buf + 12, 0); // capture equipment: no certification, device type unreported
    put16(buf + 14, tpl->width);
    put16(buf + 16, tpl->height);
    unsigned ppcm = dpi_to_ppcm(tpl->dpi ? tpl->dpi : CW_FINGER_DPI);
    put16(buf + 18, ppcm);
    put16(buf + 20, ppcm);
    buf[22] = 1; // finger views
    buf[23] = 0;
    uint8_t *v = buf + HDR;
    v[0] = tpl->finger;
    v[1] = 0; // view 0, impression type 0 (live-scan plain)
    v[2] = tpl->quality > 100 ? 100 : tpl->quality;
    v[3] = (uint8_t)tpl->n;
    uint8_t *m = v + VIEW_HDR;
    for (int i = 0; i < tpl->n; i++, m += MIN_BYTES) {
        const cw_minutia_t *t = &tpl->m[i];
        put16(m, (unsigned)t->type << 14 | t->x);
        put16(m + 2, t->y);
        m[4] = t->angle;
        m[5] = t->quality;
    }
    put16(m, 0); // no extended data
    return 0;
}

static int read_record(const uint8_t *buf, size_t len, cw_finger_template_t *out, char *diag,
                       size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (buf == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "iso: invalid arguments");
    }
    if (len < 8 || memcmp(buf, "FMR\0 20\0", 8) != 0) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "iso: not an ISO/IEC 19794-2:2005 minutiae record");
    }
    if (len < HDR) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "iso: record header truncated (%zu bytes)",
                           len);
    }
    uint32_t rec =
        (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    if (rec < HDR + VIEW_HDR + 2 || rec > len) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "iso: record length %u disagrees with the %zu bytes given", rec, len);
    }
    unsigned w = get16(buf + 14), h = get16(buf + 16);
    unsigned xr = get16(buf + 18), yr = get16(buf + 20);
    unsigned views = buf[22];
    if (w == 0 || h == 0 || xr == 0 || yr == 0 || views == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "iso: zero image size, resolution or view count");
    }
    if (xr < 40 || xr > 800) { // 100..2000 dpi, as for raw images
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "iso: resolution %u px/cm outside 40..800",
                           xr);
    }
    size_t off = HDR;
    for (unsigned view = 0; view < views; view++) {
        if (rec - off < VIEW_HDR) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT, "iso: view %u header truncated", view);
        }
        const uint8_t *v = buf + off;
        unsigned n = v[3];
        off += VIEW_HDR;
        if ((rec - off) / MIN_BYTES < n) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "iso: view %u claims %u minutiae, the record has room for %zu", view,
                               n, (rec - off) / MIN_BYTES);
        }
        if (view == 0) {
            out->finger = v[0];
            out->quality = v[2] > 100 ? 100 : v[2];
            out->n = (uint16_t)n;
            for (unsigned i = 0; i < n; i++) {
                const uint8_t *m = buf + off + (size_t)i * MIN_BYTES;
                cw_minutia_t *t = &out->m[i];
                t->type = (uint8_t)(m[0] >> 6);
                t->x = (uint16_t)(get16(m) & 0x3fff);
                t->y = (uint16_t)(get16(m + 2) & 0x3fff);
                t->angle = m[4];
                t->quality = m[5];
                if (t->x >= w || t->y >= h || t->type == 3 || t->quality > 100) {
                    memset(out, 0, sizeof(*out));
                    return cw_diag_set(diag, diag_len, CW_EFORMAT,
                                       "iso: minutia %u (%u,%u type %u quality %u) invalid for a "
                                       "%ux%u image",
                                       i, t->x, t->y, t->type, t->quality, w, h);
                }
            }
        }
        off += (size_t)n * MIN_BYTES;
        if (rec - off < 2) {
            memset(out, 0, sizeof(*out));
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "iso: view %u has no extended data "
                               "length",
                               view);
        }
        unsigned ext = get16(buf + off);
        off += 2;
        if (ext > rec - off) {
            memset(out, 0, sizeof(*out));
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "iso: extended data of %u bytes runs past the record", ext);
        }
        off += ext; // extended data (ridge counts, cores, deltas): skipped
    }
    if (off != rec) {
        memset(out, 0, sizeof(*out));
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "iso: %zu bytes of views, the header says %u", off, rec);
    }
    out->width = (uint16_t)w;
    out->height = (uint16_t)h;
    out->dpi = (uint16_t)ppcm_to_dpi(xr);
    return 0;
}

int cw_finger_iso_read(const uint8_t *buf, size_t len, cw_finger_template_t *out, char *diag,
                       size_t diag_len)
{
    int rc = read_record(buf, len, out, diag, diag_len);
    if (rc != 0 && out != NULL) {
        memset(out, 0, sizeof(*out)); // nothing half-read escapes
    }
    return rc;
}
