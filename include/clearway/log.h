/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The logger: one line per event, as text or as JSON lines, to stderr by default. Programs
 * (the CLI, the server) log; library code reports detail through diagnostic buffers instead and
 * logs only at debug level. The level and format come from CLEARWAY_LOG, a comma-separated list
 * of a level (trace, debug, info, warn, error, off) and a format (text, json), e.g.
 * CLEARWAY_LOG=debug,json. Each line is written with one write(2) so concurrent lines never mix.
 */
#ifndef CLEARWAY_LOG_H
#define CLEARWAY_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cw_log_level {
    CW_LOG_TRACE = 0,
    CW_LOG_DEBUG,
    CW_LOG_INFO,
    CW_LOG_WARN,
    CW_LOG_ERROR,
    CW_LOG_OFF
} cw_log_level_t;

typedef enum cw_log_format { CW_LOG_TEXT = 0, CW_LOG_JSON } cw_log_format_t;

/*
 * A sink receives each finished line (NUL-terminated, ending in '\n') and its length. It may be
 * called from several threads at once. The default sink writes to stderr.
 */
typedef void (*cw_log_sink_fn)(void *ctx, cw_log_level_t level, const char *line, size_t len);

/*
 * cw_log_parse_spec: parse a CLEARWAY_LOG value into level and format. Tokens are separated by
 * commas, case-insensitive, surrounding spaces ignored; an empty spec leaves the outputs as
 * given. Returns 0, or CW_EINVAL for an unknown token (outputs then unchanged). Pure function.
 */
int cw_log_parse_spec(const char *spec, size_t len, cw_log_level_t *level, cw_log_format_t *format);

/*
 * cw_log_init_from_env: set level and format from CLEARWAY_LOG (default info, text). Returns 0,
 * or CW_EINVAL if the variable is malformed (defaults are kept, so logging still works).
 */
int cw_log_init_from_env(void);

void cw_log_set_level(cw_log_level_t level);
cw_log_level_t cw_log_get_level(void);
void cw_log_set_format(cw_log_format_t format);
/* NULL restores the stderr sink. Not thread-safe with concurrent logging: set at start-up. */
void cw_log_set_sink(cw_log_sink_fn sink, void *ctx);
/* "info" etc.; "?" for out-of-range values. */
const char *cw_log_level_name(cw_log_level_t level);

/*
 * cw_log: format one event from module (a short static name such as "core") at level. Lines
 * longer than 4 KiB are truncated (marked with "..."). Thread-safe.
 */
void cw_log(cw_log_level_t level, const char *module, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* cw_log_enabled: would a message at level be written? Cheap; for guarding costly formatting. */
int cw_log_enabled(cw_log_level_t level);

#define CW_LOG_T(mod, ...) cw_log(CW_LOG_TRACE, mod, __VA_ARGS__)
#define CW_LOG_D(mod, ...) cw_log(CW_LOG_DEBUG, mod, __VA_ARGS__)
#define CW_LOG_I(mod, ...) cw_log(CW_LOG_INFO, mod, __VA_ARGS__)
#define CW_LOG_W(mod, ...) cw_log(CW_LOG_WARN, mod, __VA_ARGS__)
#define CW_LOG_E(mod, ...) cw_log(CW_LOG_ERROR, mod, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
