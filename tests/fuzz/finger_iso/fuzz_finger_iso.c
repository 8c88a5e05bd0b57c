// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the ISO/IEC 19794-2 reader: whatever the bytes, cw_finger_iso_read returns an
// error with an empty template, or a template whose minutiae lie inside the stated image; such
// a template writes back to a record that reads again to the same template, and prepares and
// compares with itself without fault.
#include "clearway/finger.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cw_finger_template_t t, r;
    static uint8_t buf[64 + 6 * CW_FINGER_MAX_MINUTIAE];
    char diag[128];
    if (cw_finger_iso_read(data, size, &t, diag, sizeof(diag)) != 0) {
        if (t.n != 0) {
            abort();
        }
        return 0;
    }
    for (int i = 0; i < t.n; i++) {
        if (t.m[i].x >= t.width || t.m[i].y >= t.height || t.m[i].quality > 100) {
            abort();
        }
    }
    size_t len;
    if (cw_finger_iso_write(&t, buf, sizeof(buf), &len) != 0 ||
        cw_finger_iso_read(buf, len, &r, NULL, 0) != 0 || memcmp(&t, &r, sizeof(t)) != 0) {
        abort();
    }
    cw_finger_prepared_t p;
    if (cw_finger_prepare(&t, &p) == 0) {
        float s = cw_finger_compare(&p, &p);
        if (!(s >= 0.0f && s <= 1.0f)) {
            abort();
        }
        cw_finger_prepared_free(&p);
    }
    return 0;
}
