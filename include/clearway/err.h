/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes shared by every Clearway module. Functions return int: 0 on success or a negative
 * CW_E* code from the one table below, which also generates cw_strerror() and cw_err_name().
 * "No match", "low quality", "ambiguous" and "spoof suspected" are results, not errors: they
 * never appear here. Codes are stable once published; new ones are appended.
 */
#ifndef CLEARWAY_ERR_H
#define CLEARWAY_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message). Values are negative and never reused. */
#define CW_ERRNO_MAP(XX)                                                                           \
    XX(ENOMEM, -1, "out of memory")                                                                \
    XX(EINVAL, -2, "invalid argument")                                                             \
    XX(EIO, -3, "input/output error")                                                              \
    XX(ENOENT, -4, "no such file, record or item")                                                 \
    XX(EEXIST, -5, "already exists")                                                               \
    XX(EOVERFLOW, -6, "size or count out of range")                                                \
    XX(EFORMAT, -7, "malformed input")                                                             \
    XX(ECORRUPT, -8, "corrupt data (checksum or structure mismatch)")                              \
    XX(EUNSUPPORTED, -9, "unsupported format, version or feature")                                 \
    XX(ETOOBIG, -10, "input exceeds a configured limit")                                           \
    XX(EMODEL, -11, "model missing or invalid")                                                    \
    XX(EMISMATCH, -12, "incompatible inputs (model, dimension or modality differ)")                \
    XX(EBUSY, -13, "resource busy")                                                                \
    XX(ETIMEDOUT, -14, "timed out")                                                                \
    XX(ECANCELED, -15, "operation canceled")                                                       \
    XX(EPERM, -16, "operation not permitted")                                                      \
    XX(ESTATE, -17, "operation not valid in the current state")                                    \
    XX(EDB, -18, "database error")                                                                 \
    XX(ECRYPTO, -19, "cryptographic check failed")                                                 \
    XX(EINTERNAL, -20, "internal error")

enum {
    CW_OK = 0,
#define CW__ERR_ENUM(name, value, msg) CW_##name = (value),
    CW_ERRNO_MAP(CW__ERR_ENUM)
#undef CW__ERR_ENUM
};

/*
 * cw_strerror: the message for an error code ("success" for 0). Never returns NULL: an unknown
 * code gives "unknown error". The string is static. Thread-safe.
 */
const char *cw_strerror(int err);

/*
 * cw_err_name: the symbolic name of an error code ("CW_ENOMEM", "CW_OK"), or "CW_E?" when
 * unknown; for logs and machine-readable output. The string is static. Thread-safe.
 */
const char *cw_err_name(int err);

/*
 * cw_diag_set: write a printf-style detail message into an optional caller-supplied diagnostic
 * buffer (diag may be NULL or diag_len 0, in which case nothing happens) and return err, so that
 * library code can write `return cw_diag_set(diag, len, CW_EFORMAT, "bad magic %x", m);`.
 * The message is always NUL-terminated and truncated to fit.
 */
int cw_diag_set(char *diag, size_t diag_len, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
