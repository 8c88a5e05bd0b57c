// SPDX-License-Identifier: Apache-2.0
// Reading a whole file (include/clearway/file.h). The buffer grows by hand rather than with
// realloc, so that each block that held file bytes can be wiped before it is released.
#include "clearway/file.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cw_file_read(const char *path, size_t max, uint8_t **out, size_t *len, char *diag,
                 size_t diag_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (len != NULL) {
        *len = 0;
    }
    if (path == NULL || out == NULL || len == NULL || max == SIZE_MAX) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "file: invalid arguments");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot read '%s': %s", path, strerror(errno));
    }
    // One byte past the limit tells "too big" from "exactly the limit"; one more for the NUL.
    size_t cap = max < ((size_t)1 << 16) ? max + 2 : (size_t)1 << 16;
    size_t n = 0;
    uint8_t *buf = cw_malloc(cap);
    int rc = buf == NULL ? CW_ENOMEM : 0;
    while (rc == 0) {
        if (n + 1 == cap) {
            if (n > max) {
                rc = CW_ETOOBIG;
                break;
            }
            size_t bigger_cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
            uint8_t *bigger = cw_malloc(bigger_cap);
            if (bigger == NULL) {
                rc = CW_ENOMEM;
                break;
            }
            memcpy(bigger, buf, n);
            cw_free_wipe(buf, n);
            buf = bigger;
            cap = bigger_cap;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (rc == 0 && n > max) {
        rc = CW_ETOOBIG;
    }
    if (rc == 0 && ferror(f)) {
        rc = CW_EIO;
    }
    fclose(f);
    if (rc != 0) {
        cw_free_wipe(buf, n);
        if (rc == CW_ETOOBIG) {
            return cw_diag_set(diag, diag_len, rc, "'%s' is over %zu bytes", path, max);
        }
        return cw_diag_set(diag, diag_len, rc, "cannot read '%s': %s", path, cw_strerror(rc));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
