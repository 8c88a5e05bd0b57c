// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the fingerprint TIFF reader: whatever the bytes, cw_finger_tiff_decode
// returns 0 with a well-formed 8-bit image inside the caps, or an error with nothing allocated.
// A decoded image is also brought to 500 dpi from a few resolutions.
#include "clearway/finger.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_image_t img;
    int dpi = -1;
    char diag[128];
    int rc = cw_finger_tiff_decode(data, size, &img, &dpi, diag, sizeof(diag));
    if (rc != 0) {
        if (rc > 0 || img.data != NULL || img.width != 0) {
            abort();
        }
        return 0;
    }
    if (img.channels != 1 || img.width <= 0 || img.height <= 0 || img.width > CW_FINGER_MAX_SIDE ||
        img.height > CW_FINGER_MAX_SIDE || (long)img.width * img.height > CW_FINGER_MAX_PIXELS ||
        dpi < 0) {
        abort();
    }
    unsigned sum = 0;
    for (int y = 0; y < img.height; y++) {
        for (int x = 0; x < img.width; x++) {
            sum += img.data[(size_t)y * img.stride + x];
        }
    }
    (void)sum;
    if ((long)img.width * img.height <= 256 * 256) {
        cw_image_t raw;
        if (cw_finger_image_from_raw(img.data, img.width, img.height, img.stride, 1000, &raw) ==
            0) {
            cw_image_free(&raw);
        }
    }
    cw_image_free(&img);
    return 0;
}
