// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the CLEARWAY_LOG parser and the log line formatter (JSON escaping and the
// truncation of over-long lines): whatever the bytes, no crash, and a JSON line stays one line.
#include "clearway/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sink(void *ctx, cw_log_level_t level, const char *line, size_t len)
{
    (void)ctx;
    (void)level;
    // One event, one line: the only newline is the last byte.
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL ||
        strlen(line) != len) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_log_level_t level = CW_LOG_INFO;
    cw_log_format_t format = CW_LOG_TEXT;
    (void)cw_log_parse_spec((const char *)data, size, &level, &format);
    if (level > CW_LOG_OFF || format > CW_LOG_JSON) {
        abort();
    }

    // The same bytes as a message, in both formats.
    char *msg = malloc(size + 1);
    if (msg == NULL) {
        return 0;
    }
    memcpy(msg, data, size);
    msg[size] = '\0';
    cw_log_set_sink(check_sink, NULL);
    cw_log_set_level(CW_LOG_TRACE);
    cw_log_set_format(CW_LOG_JSON);
    cw_log(CW_LOG_INFO, "fuzz", "%s", msg);
    cw_log_set_format(CW_LOG_TEXT);
    cw_log(CW_LOG_INFO, "fuzz", "%s", msg);
    cw_log_set_sink(NULL, NULL);
    free(msg);
    return 0;
}
