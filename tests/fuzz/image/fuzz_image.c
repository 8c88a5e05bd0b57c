// SPDX-License-Identifier: Apache-2.0
// Fuzz target for image decoding (JPEG, PNG, EXIF, JPEG 2000): whatever the bytes, cw_image_decode
// in both output modes returns 0 with a well-formed image inside the caps, or an error with nothing
// allocated; a decoded image is also resized, to run the sampling code on odd shapes.
#include "clearway/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const cw_image_t *img, int channels, const cw_image_limits_t *lim)
{
    if (img->channels != channels || img->width <= 0 || img->height <= 0 ||
        img->width > lim->max_side || img->height > lim->max_side ||
        (long)img->width * img->height > lim->max_pixels ||
        img->stride < (size_t)img->width * (size_t)channels || img->data == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // Small caps keep each run fast and memory-bounded; the logic is the same at any size.
    const cw_image_limits_t lim = {2048, 2048L * 2048L};
    const cw_image_format_t modes[2] = {CW_IMAGE_RGB, CW_IMAGE_GRAY};
    for (int m = 0; m < 2; m++) {
        cw_image_t img;
        char diag[128];
        int rc = cw_image_decode(data, size, modes[m], &lim, &img, diag, sizeof(diag));
        if (rc != 0) {
            if (rc > 0 || img.data != NULL || img.width != 0) {
                abort();
            }
            continue;
        }
        check(&img, (int)modes[m], &lim);
        // Touch every byte so ASan/MSan would see uninitialised or out-of-range rows.
        unsigned sum = 0;
        for (int y = 0; y < img.height; y++) {
            for (size_t x = 0; x < (size_t)img.width * img.channels; x++) {
                sum += img.data[(size_t)y * img.stride + x];
            }
        }
        (void)sum;
        cw_image_t small;
        if (cw_image_resize(&img, 7, 5, &small) == 0) {
            cw_image_free(&small);
        }
        cw_image_free(&img);
    }
    return 0;
}
