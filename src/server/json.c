// SPDX-License-Identifier: Apache-2.0
// Reading request bodies: jansson routed through a wiping allocator (bodies carry face images,
// fingerprints and personal fields), strict typed field readers that answer 400 with the
// field's name, base64 decoding of images (RFC 4648 with padding, whitespace ignored), and the
// plain unsigned-decimal parser the path and query use for ids.
#include "server_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

// Every block jansson allocates carries its size in front, so the free can wipe it.
enum { HDR = 16 };

void *cw__json_malloc(size_t size)
{
    size_t total;
    if (cw_size_add(size, HDR, &total) != 0) {
        return NULL;
    }
    unsigned char *p = cw_malloc(total);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    return p + HDR;
}

void cw__json_free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t size;
    memcpy(&size, p, sizeof(size));
    cw_free_wipe(p, size + HDR);
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_init_once(void)
{
    json_set_alloc_funcs(cw__json_malloc, cw__json_free);
}

void cw__json_init(void)
{
    pthread_once(&json_once, json_init_once);
}

int cw__parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0')) {
        return -1;
    }
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cw__b64_decode(const char *s, size_t n, uint8_t **out, size_t *len)
{
    // The decoded size is at most 3/4 of the text; +1 so an empty image still gets a block.
    size_t cap = n / 4 * 3 + 3;
    uint8_t *buf = cw_malloc(cap);
    if (buf == NULL) {
        return CW_ENOMEM;
    }
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, s, n, " \t\r\n", &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != s + n) {
        cw_free_wipe(buf, cap);
        return CW_EFORMAT;
    }
    *out = buf;
    *len = got;
    return 0;
}

int cw__body_allow(cw__req_t *r, json_t *obj, const char *where, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        (void)v;
        int known = 0;
        for (size_t i = 0; keys[i] != NULL && !known; i++) {
            known = strcmp(keys[i], k) == 0;
        }
        if (!known) {
            cw__reply_error(r, 400, CW_EFORMAT, "UNKNOWN_FIELD", "unknown field '%s%s%s'",
                            where != NULL ? where : "", where != NULL ? "." : "", k);
            return -1;
        }
    }
    return 0;
}

static json_t *field(cw__req_t *r, json_t *obj, const char *key, int required, int *missing)
{
    json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
    *missing = 0;
    if (v == NULL || json_is_null(v)) {
        *missing = 1;
        if (required) {
            cw__reply_error(r, 400, CW_EINVAL, "MISSING_FIELD", "field '%s' is required", key);
        }
        return NULL;
    }
    return v;
}

int cw__get_string(cw__req_t *r, json_t *obj, const char *key, int required, const char **out)
{
    int missing;
    json_t *v = field(r, obj, key, required, &missing);
    if (missing) {
        return required ? -1 : 0;
    }
    if (!json_is_string(v)) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "field '%s' must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int cw__get_text(cw__req_t *r, json_t *obj, const char *key, int required, char *dst, size_t cap)
{
    const char *s = NULL;
    if (cw__get_string(r, obj, key, required, &s) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    size_t n = strlen(s);
    if (n >= cap) {
        cw__reply_error(r, 400, CW_ETOOBIG, "BAD_FIELD", "field '%s' is longer than %zu bytes", key,
                        cap - 1);
        return -1;
    }
    memcpy(dst, s, n + 1);
    return 0;
}

int cw__get_int(cw__req_t *r, json_t *obj, const char *key, int required, int64_t min, int64_t max,
                int64_t *out)
{
    int missing;
    json_t *v = field(r, obj, key, required, &missing);
    if (missing) {
        return required ? -1 : 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD",
                        "field '%s' must be an integer in %lld..%lld", key, (long long)min,
                        (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int cw__get_bool(cw__req_t *r, json_t *obj, const char *key, int required, int *out)
{
    int missing;
    json_t *v = field(r, obj, key, required, &missing);
    if (missing) {
        return required ? -1 : 0;
    }
    if (!json_is_boolean(v)) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "field '%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int cw__get_date(cw__req_t *r, json_t *obj, const char *key, int required, cw_date_t *out)
{
    const char *s = NULL;
    if (cw__get_string(r, obj, key, required, &s) != 0) {
        return -1;
    }
    if (s != NULL && cw_date_parse(s, out) != 0) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD",
                        "field '%s' must be a date YYYY-MM-DD (a real one)", key);
        return -1;
    }
    return 0;
}

int cw__get_b64(cw__req_t *r, json_t *obj, const char *key, int required, uint8_t **out,
                size_t *len)
{
    int missing;
    json_t *v = field(r, obj, key, required, &missing);
    if (missing) {
        return required ? -1 : 0;
    }
    if (!json_is_string(v)) {
        cw__reply_error(r, 400, CW_EFORMAT, "BAD_FIELD", "field '%s' must be a base64 string", key);
        return -1;
    }
    int err = cw__b64_decode(json_string_value(v), json_string_length(v), out, len);
    if (err == CW_ENOMEM) {
        cw__reply_error(r, 500, err, "INTERNAL", "out of memory");
        return -1;
    }
    if (err != 0) {
        cw__reply_error(r, 400, err, "BAD_BASE64",
                        "field '%s' is not valid base64 (RFC 4648, with padding)", key);
        return -1;
    }
    return 0;
}
