// SPDX-License-Identifier: Apache-2.0
// Error messages and names, generated from the one table in include/clearway/err.h, and the
// diagnostic-buffer helper library code uses to say what exactly went wrong.
#include "clearway/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *cw_strerror(int err)
{
    switch (err) {
    case CW_OK:
        return "success";
#define CW__ERR_MSG(name, value, msg)                                                              \
    case CW_##name:                                                                                \
        return msg;
        CW_ERRNO_MAP(CW__ERR_MSG)
#undef CW__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *cw_err_name(int err)
{
    switch (err) {
    case CW_OK:
        return "CW_OK";
#define CW__ERR_NAME(name, value, msg)                                                             \
    case CW_##name:                                                                                \
        return "CW_" #name;
        CW_ERRNO_MAP(CW__ERR_NAME)
#undef CW__ERR_NAME
    default:
        return "CW_E?";
    }
}

int cw_diag_set(char *diag, size_t diag_len, int err, const char *fmt, ...)
{
    if (diag == NULL || diag_len == 0) {
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(diag, diag_len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        diag[0] = '\0';
    }
    return err;
}
