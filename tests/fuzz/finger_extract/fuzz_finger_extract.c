// SPDX-License-Identifier: Apache-2.0
// Fuzz target for minutiae extraction on arbitrary pixels: the first byte sets the width
// (32..287), the rest are grey levels row by row. Whatever the image, cw_finger_extract returns
// 0 with minutiae inside it and a verdict, or an error; the template prepares and compares.
#include "clearway/finger.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int w = 32 + data[0];
    size_t n = size - 1;
    int h = (int)(n / (size_t)w);
    if (h < 32 || h > 400) {
        return 0;
    }
    cw_image_t img;
    if (cw_finger_image_from_raw(data + 1, w, h, (size_t)w, 500, &img) != 0) {
        abort();
    }
    static cw_finger_template_t t;
    cw_finger_quality_t q;
    if (cw_finger_extract(&img, &t, &q, NULL, 0) == 0) {
        if (t.n > CW_FINGER_MAX_MINUTIAE || q.score < 0 || q.score > 100 ||
            (unsigned)q.verdict > CW_FINGER_PLACE_CENTRE) {
            abort();
        }
        for (int i = 0; i < t.n; i++) {
            if (t.m[i].x >= w || t.m[i].y >= h || t.m[i].quality > 100) {
                abort();
            }
        }
        cw_finger_prepared_t p;
        if (cw_finger_prepare(&t, &p) == 0) {
            float s = cw_finger_compare(&p, &p);
            if (!(s >= 0.0f && s <= 1.0f)) {
                abort();
            }
            cw_finger_prepared_free(&p);
        }
    }
    cw_image_free(&img);
    return 0;
}
