/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file: reading a whole file into memory, for the modules that take pictures, fingerprints,
 * keys or certificates from disk. The bytes may be personal data: every block that held them is
 * wiped before it is released, including the smaller blocks left behind as the buffer grows.
 */
#ifndef CLEARWAY_FILE_H
#define CLEARWAY_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * cw_file_read: the whole of path, at most max bytes, into *out (a NUL byte follows the data, so
 * text can be used as a C string); *len the number of bytes. Free with cw_free_wipe(*out, *len).
 * Errors (with a detail in diag naming the file): CW_EINVAL (NULL arguments), CW_EIO (cannot
 * open or read), CW_ETOOBIG (more than max bytes), CW_ENOMEM. On error *out is NULL.
 */
int cw_file_read(const char *path, size_t max, uint8_t **out, size_t *len, char *diag,
                 size_t diag_len);

#ifdef __cplusplus
}
#endif

#endif
