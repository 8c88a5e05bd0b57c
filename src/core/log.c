// SPDX-License-Identifier: Apache-2.0
// The logger: formats one event into a stack buffer (text or a JSON object with the message
// escaped) and hands the whole line to the sink, so a line is never interleaved with another.
#include "clearway/log.h"
#include "clearway/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { LINE_MAX_BYTES = 4096 };

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

static atomic_int current_level = CW_LOG_INFO;
static atomic_int current_format = CW_LOG_TEXT;

static void stderr_sink(void *ctx, cw_log_level_t level, const char *line, size_t len)
{
    (void)ctx;
    (void)level;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, line, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; // nowhere left to report a failing stderr
        }
        line += w;
        len -= (size_t)w;
    }
}

static cw_log_sink_fn sink = stderr_sink;
static void *sink_ctx;

const char *cw_log_level_name(cw_log_level_t level)
{
    if ((int)level < 0 || level > CW_LOG_OFF) {
        return "?";
    }
    return level_names[level];
}

void cw_log_set_level(cw_log_level_t level)
{
    atomic_store(&current_level, (int)level);
}

cw_log_level_t cw_log_get_level(void)
{
    return (cw_log_level_t)atomic_load(&current_level);
}

void cw_log_set_format(cw_log_format_t format)
{
    atomic_store(&current_format, (int)format);
}

void cw_log_set_sink(cw_log_sink_fn fn, void *ctx)
{
    sink = fn != NULL ? fn : stderr_sink;
    sink_ctx = fn != NULL ? ctx : NULL;
}

int cw_log_enabled(cw_log_level_t level)
{
    return level != CW_LOG_OFF && (int)level >= atomic_load(&current_level);
}

static int token_is(const char *tok, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(tok, word, n) == 0;
}

int cw_log_parse_spec(const char *spec, size_t len, cw_log_level_t *level, cw_log_format_t *format)
{
    cw_log_level_t lv = *level;
    cw_log_format_t fmt = *format;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && spec[i] != ',') {
            i++;
        }
        size_t end = i;
        while (start < end && (spec[start] == ' ' || spec[start] == '\t')) {
            start++;
        }
        while (end > start && (spec[end - 1] == ' ' || spec[end - 1] == '\t')) {
            end--;
        }
        const char *tok = spec + start;
        size_t n = end - start;
        int known = 0;
        for (int l = CW_LOG_TRACE; l <= CW_LOG_OFF; l++) {
            if (token_is(tok, n, level_names[l])) {
                lv = (cw_log_level_t)l;
                known = 1;
            }
        }
        if (token_is(tok, n, "warning")) {
            lv = CW_LOG_WARN;
            known = 1;
        } else if (token_is(tok, n, "text")) {
            fmt = CW_LOG_TEXT;
            known = 1;
        } else if (token_is(tok, n, "json")) {
            fmt = CW_LOG_JSON;
            known = 1;
        }
        if (!known && n > 0) {
            return CW_EINVAL;
        }
        i++; // skip the comma
    }
    *level = lv;
    *format = fmt;
    return 0;
}

int cw_log_init_from_env(void)
{
    const char *spec = getenv("CLEARWAY_LOG");
    cw_log_level_t lv = CW_LOG_INFO;
    cw_log_format_t fmt = CW_LOG_TEXT;
    int rc = 0;
    if (spec != NULL) {
        rc = cw_log_parse_spec(spec, strlen(spec), &lv, &fmt);
    }
    cw_log_set_level(lv);
    cw_log_set_format(fmt);
    return rc;
}

// A bounded line buffer. Each piece is written whole or not at all, so a cut never splits a
// JSON escape; after the first piece that does not fit, nothing more is written and the line is
// closed with a marker that the reserve keeps room for.
enum { TAIL_RESERVE = 8 };

typedef struct linebuf {
    char buf[LINE_MAX_BYTES];
    size_t pos;
    int truncated;
} linebuf;

static void lb_write(linebuf *lb, const char *s, size_t n)
{
    if (lb->truncated || lb->pos + n > sizeof(lb->buf) - TAIL_RESERVE) {
        lb->truncated = 1;
        return;
    }
    memcpy(lb->buf + lb->pos, s, n);
    lb->pos += n;
}

static void lb_puts(linebuf *lb, const char *s)
{
    lb_write(lb, s, strlen(s));
}

// JSON string body: escapes quotes, backslashes and control characters; bytes >= 0x80 pass
// through (messages are UTF-8 by convention; invalid UTF-8 is the caller's bug, not a crash).
static void lb_put_json(linebuf *lb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        if (c == '"' || c == '\\') {
            // esc already holds backslash + c
        } else if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        lb_write(lb, esc, n);
    }
}

// Text lines keep one event per line: control characters in the message become spaces.
static void lb_put_text(linebuf *lb, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        lb_write(lb, &ch, 1);
    }
}

void cw_log(cw_log_level_t level, const char *module, const char *fmt, ...)
{
    if (!cw_log_enabled(level)) {
        return;
    }
    char msg[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(msg, sizeof(msg), "(unformattable log message)");
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    linebuf lb;
    lb.pos = 0;
    lb.truncated = 0;
    if (module == NULL) {
        module = "-";
    }
    if (atomic_load(&current_format) == CW_LOG_JSON) {
        lb_puts(&lb, "{\"ts\":\"");
        lb_puts(&lb, when);
        lb_puts(&lb, "\",\"level\":\"");
        lb_puts(&lb, cw_log_level_name(level));
        lb_puts(&lb, "\",\"module\":\"");
        lb_put_json(&lb, module);
        lb_puts(&lb, "\",\"msg\":\"");
        lb_put_json(&lb, msg);
        lb_puts(&lb, "\"}\n");
    } else {
        lb_puts(&lb, when);
        lb_puts(&lb, " ");
        lb_puts(&lb, cw_log_level_name(level));
        lb_puts(&lb, " ");
        lb_put_text(&lb, module);
        lb_puts(&lb, ": ");
        lb_put_text(&lb, msg);
        lb_puts(&lb, "\n");
    }

    // Over-long lines are cut, marked, and still end with a newline (and, for JSON, stay a
    // valid object: only the message can be long enough to overflow, and it comes last).
    if (lb.truncated) {
        const char *tail = atomic_load(&current_format) == CW_LOG_JSON ? "...\"}\n" : "...\n";
        size_t tl = strlen(tail);
        memcpy(lb.buf + lb.pos, tail, tl);
        lb.pos += tl;
    }
    lb.buf[lb.pos] = '\0';
    sink(sink_ctx, level, lb.buf, lb.pos);
}
