// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the masking of names and numbers: whatever the bytes (up to the first NUL),
// each function returns 0 or CW_ETOOBIG, writes a terminated string inside cap that is valid
// UTF-8 without control characters, and the masked number never holds a whole document number.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Structural UTF-8 check plus no C0 controls or DEL (what the masks promise never to copy out).
static int clean_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0) {
            return 0;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
        }
        p += n;
    }
    return 1;
}

// A plain document number: non-empty, ASCII letters and digits.
static int alnum(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t cap = 1 + data[0] % CW_MASK_MAX; // the first byte picks the cap
    char *in = malloc(size);
    if (in == NULL) {
        return 0;
    }
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    int (*const fns[3])(const char *, char *, size_t) = {cw_mask_name_latin, cw_mask_name_local,
                                                         cw_mask_number};
    for (int f = 0; f < 3; f++) {
        char *out = malloc(cap); // exactly cap, so ASan sees a write past it
        if (out == NULL) {
            break;
        }
        int rc = fns[f](in, out, cap);
        if ((rc != 0 && rc != CW_ETOOBIG) || strnlen(out, cap) == cap || !clean_utf8(out) ||
            (rc == CW_ETOOBIG && out[0] != '\0')) {
            abort();
        }
        if (f == 2 && rc == 0 && alnum(in) && strstr(out, in) != NULL) {
            abort();
        }
        free(out);
    }
    free(in);
    return 0;
}
