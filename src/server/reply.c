// SPDX-License-Identifier: Apache-2.0
// Building answers: JSON bodies (serialised through the wiping allocator), the one error shape
// {"error": {"status", "code", "reason", "message"}}, and the mapping of the service's and the
// store's error codes onto HTTP statuses (store trouble is 503 STORE_UNAVAILABLE: fail closed).
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_body(cw__req_t *r, int status, char *out, size_t len, const char *ctype)
{
    if (r->out != NULL) {
        cw__json_free(r->out);
    }
    r->out = out;
    r->out_len = len;
    r->status = status;
    r->content_type = ctype;
    r->answered = 1;
}

void cw__reply_json(cw__req_t *r, int status, json_t *obj)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text == NULL) {
        // Out of memory serialising: a fixed body that needs no allocation is sent instead.
        set_body(r, 500, NULL, 0, "application/json");
        r->reason = "INTERNAL";
        return;
    }
    set_body(r, status, text, strlen(text), "application/json");
    if (status < 400) {
        r->reason = NULL;
    }
}

void cw__reply_text(cw__req_t *r, int status, const char *content_type, const char *text,
                    size_t len)
{
    size_t n;
    char *copy = cw_size_add(len, 1, &n) == 0 ? cw__json_malloc(n) : NULL;
    if (copy == NULL) {
        set_body(r, 500, NULL, 0, "application/json");
        r->reason = "INTERNAL";
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    set_body(r, status, copy, len, content_type);
}

void cw__reply_owned(cw__req_t *r, int status, const char *content_type, char *body, size_t len)
{
    set_body(r, status, body, len, content_type);
}

void cw__reply_error(cw__req_t *r, int status, int err, const char *reason, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_t *o = json_object();
    if (e != NULL && o != NULL) {
        json_object_set_new(e, "status", json_integer(status));
        json_object_set_new(e, "code", json_string(cw_err_name(err)));
        json_object_set_new(e, "reason", json_string(reason));
        json_object_set_new(e, "message", json_string(msg));
        json_object_set_new(o, "error", e);
        e = NULL;
    }
    json_decref(e);
    cw__reply_json(r, status, o);
    if (r->status == status) {
        r->reason = reason;
    }
}

int cw__store_unavailable(int err)
{
    return err == CW_EIO || err == CW_EDB || err == CW_EBUSY || err == CW_ECORRUPT ||
           err == CW_EPERM || err == CW_ETIMEDOUT;
}

void cw__reply_err(cw__req_t *r, int err, const char *diag, const char *enoent_reason,
                   int store_call)
{
    // Gate devices see no detail from below: a diagnostic may name a record.
    const char *detail = diag != NULL && diag[0] != '\0' ? diag : cw_strerror(err);
    if (r->authed && r->key.role == CW_ROLE_GATE) {
        detail = cw_strerror(err);
    }
    if (store_call && cw__store_unavailable(err)) {
        cw_log(CW_LOG_ERROR, "server", "%s %s: store unavailable: %s (%s)", r->method, r->path,
               diag != NULL ? diag : "", cw_err_name(err));
        cw__reply_error(r, 503, err, "STORE_UNAVAILABLE",
                        "the store cannot be reached; nothing was decided (retry later)");
        return;
    }
    switch (err) {
    case CW_ENOENT:
        cw__reply_error(r, 404, err, enoent_reason != NULL ? enoent_reason : "NOT_FOUND", "%s",
                        detail);
        return;
    case CW_EEXIST:
        cw__reply_error(r, 409, err, "EXISTS", "%s", detail);
        return;
    case CW_ESTATE:
        cw__reply_error(r, 409, err, "STATE_CONFLICT", "%s", detail);
        return;
    case CW_EBUSY:
        cw__reply_error(r, 409, err, "BUSY", "%s", detail);
        return;
    case CW_EINVAL:
    case CW_EFORMAT:
    case CW_ETOOBIG:
    case CW_EOVERFLOW:
        cw__reply_error(r, 400, err, "BAD_REQUEST", "%s", detail);
        return;
    default:
        cw_log(CW_LOG_ERROR, "server", "%s %s: %s (%s)", r->method, r->path,
               diag != NULL ? diag : "", cw_err_name(err));
        cw__reply_error(r, 500, err, "INTERNAL", "internal error (%s)", cw_err_name(err));
        return;
    }
}
