// SPDX-License-Identifier: Apache-2.0
// Fingerprint image input: files (TIFF through tiff.c, PNG through the image module) and raw
// sensor buffers, all brought to the 500 dpi working resolution that extraction and matching
// assume (ridge periods, block sizes and cylinder radii are in 500 dpi pixels).
#include "finger_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { MAX_FILE = 64 << 20 };

int cw__finger_to_500dpi(cw_image_t *img, int dpi)
{
    if (dpi <= 0 || (dpi >= 490 && dpi <= 510)) {
        return 0; // within 2% of 500 dpi: resampling would only blur
    }
    long w = ((long)img->width * CW_FINGER_DPI + dpi / 2) / dpi;
    long h = ((long)img->height * CW_FINGER_DPI + dpi / 2) / dpi;
    if (w < 1 || h < 1) {
        return CW_EINVAL;
    }
    if (w > CW_FINGER_MAX_SIDE || h > CW_FINGER_MAX_SIDE || w * h > CW_FINGER_MAX_PIXELS) {
        return CW_ETOOBIG;
    }
    cw_image_t out;
    int rc = cw_image_resize(img, (int)w, (int)h, &out);
    if (rc != 0) {
        return rc;
    }
    cw_image_free(img);
    *img = out;
    return 0;
}

int cw_finger_image_from_raw(const uint8_t *pixels, int width, int height, size_t stride, int dpi,
                             cw_image_t *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (pixels == NULL || out == NULL || width <= 0 || height <= 0 || stride < (size_t)width ||
        dpi < 100 || dpi > 2000) {
        return CW_EINVAL;
    }
    if (width > CW_FINGER_MAX_SIDE || height > CW_FINGER_MAX_SIDE ||
        (long)width * height > CW_FINGER_MAX_PIXELS) {
        return CW_ETOOBIG;
    }
    int rc = cw_image_alloc(width, height, 1, out);
    if (rc != 0) {
        return rc;
    }
    for (int y = 0; y < height; y++) {
        memcpy(out->data + (size_t)y * out->stride, pixels + (size_t)y * stride, (size_t)width);
    }
    rc = cw__finger_to_500dpi(out, dpi);
    if (rc != 0) {
        cw_image_free(out);
    }
    return rc;
}

int cw_finger_image_load(const char *path, int dpi_hint, cw_image_t *out, char *diag,
                         size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (path == NULL || out == NULL || dpi_hint < 0 || dpi_hint > 5000) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "finger: invalid arguments");
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cw_file_read(path, MAX_FILE, &data, &len, diag, diag_len);
    if (rc != 0) {
        return rc;
    }
    int dpi = 0;
    if (len >= 4 && (memcmp(data, "II*", 3) == 0 || memcmp(data, "MM\0*", 4) == 0)) {
        rc = cw_finger_tiff_decode(data, len, out, &dpi, diag, diag_len);
    } else {
        cw_image_limits_t lim = {CW_FINGER_MAX_SIDE, CW_FINGER_MAX_PIXELS};
        rc = cw_image_decode(data, len, CW_IMAGE_GRAY, &lim, out, diag, diag_len);
    }
    cw_free_wipe(data, len);
    if (rc != 0) {
        return rc;
    }
    // Sensors often write 72 dpi placeholders: trust only plausible fingerprint resolutions.
    if (dpi < 250 || dpi > 2000) {
        dpi = dpi_hint > 0 ? dpi_hint : CW_FINGER_DPI;
    }
    rc = cw__finger_to_500dpi(out, dpi);
    if (rc != 0) {
        cw_image_free(out);
        return cw_diag_set(diag, diag_len, rc, "finger: cannot resample '%s' to 500 dpi", path);
    }
    return 0;
}
