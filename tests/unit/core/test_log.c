// SPDX-License-Identifier: Apache-2.0
// Tests of the logger: CLEARWAY_LOG parsing, level filtering, the text and JSON line formats
// (escaping, one event per line) and the truncation of over-long messages.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct captured {
    char line[8192];
    size_t len;
    int count;
} captured;

static void capture_sink(void *ctx, cw_log_level_t level, const char *line, size_t len)
{
    (void)level;
    captured *c = ctx;
    assert_true(len < sizeof(c->line));
    memcpy(c->line, line, len + 1);
    c->len = len;
    c->count++;
}

static void test_parse_spec(void **state)
{
    (void)state;
    cw_log_level_t lv = CW_LOG_INFO;
    cw_log_format_t fmt = CW_LOG_TEXT;
    assert_int_equal(cw_log_parse_spec("debug", 5, &lv, &fmt), 0);
    assert_int_equal(lv, CW_LOG_DEBUG);
    assert_int_equal(fmt, CW_LOG_TEXT);
    assert_int_equal(cw_log_parse_spec(" Error , JSON ", 14, &lv, &fmt), 0);
    assert_int_equal(lv, CW_LOG_ERROR);
    assert_int_equal(fmt, CW_LOG_JSON);
    assert_int_equal(cw_log_parse_spec("warning,,text,", 14, &lv, &fmt), 0);
    assert_int_equal(lv, CW_LOG_WARN);
    assert_int_equal(fmt, CW_LOG_TEXT);
    assert_int_equal(cw_log_parse_spec("", 0, &lv, &fmt), 0);
    assert_int_equal(lv, CW_LOG_WARN);
    // Unknown tokens are refused and leave the outputs as they were.
    assert_int_equal(cw_log_parse_spec("trace,verbose", 13, &lv, &fmt), CW_EINVAL);
    assert_int_equal(lv, CW_LOG_WARN);
    // The length is honoured: "debugX" cut to 5 is "debug".
    assert_int_equal(cw_log_parse_spec("debugX", 5, &lv, &fmt), 0);
    assert_int_equal(lv, CW_LOG_DEBUG);
    assert_int_equal(cw_log_parse_spec("debugX", 6, &lv, &fmt), CW_EINVAL);
}

static void test_init_from_env(void **state)
{
    (void)state;
    setenv("CLEARWAY_LOG", "trace,json", 1);
    assert_int_equal(cw_log_init_from_env(), 0);
    assert_int_equal(cw_log_get_level(), CW_LOG_TRACE);
    setenv("CLEARWAY_LOG", "loud", 1);
    assert_int_equal(cw_log_init_from_env(), CW_EINVAL);
    assert_int_equal(cw_log_get_level(), CW_LOG_INFO); // defaults kept
    unsetenv("CLEARWAY_LOG");
    assert_int_equal(cw_log_init_from_env(), 0);
    assert_int_equal(cw_log_get_level(), CW_LOG_INFO);
}

static void test_levels_filter(void **state)
{
    (void)state;
    captured c = {0};
    cw_log_set_sink(capture_sink, &c);
    cw_log_set_format(CW_LOG_TEXT);
    cw_log_set_level(CW_LOG_WARN);
    CW_LOG_I("core", "hidden");
    assert_int_equal(c.count, 0);
    CW_LOG_W("core", "shown %d", 7);
    assert_int_equal(c.count, 1);
    assert_non_null(strstr(c.line, " warn core: shown 7\n"));
    cw_log_set_level(CW_LOG_OFF);
    CW_LOG_E("core", "also hidden");
    assert_int_equal(c.count, 1);
    assert_false(cw_log_enabled(CW_LOG_ERROR));
    cw_log_set_sink(NULL, NULL);
}

static void test_text_is_one_line(void **state)
{
    (void)state;
    captured c = {0};
    cw_log_set_sink(capture_sink, &c);
    cw_log_set_level(CW_LOG_DEBUG);
    cw_log_set_format(CW_LOG_TEXT);
    CW_LOG_D("gate", "two\nlines\tand\x1b[31m escape");
    assert_int_equal(c.line[c.len - 1], '\n');
    assert_null(memchr(c.line, '\n', c.len - 1));
    assert_null(memchr(c.line, 0x1b, c.len));
    assert_non_null(strstr(c.line, "debug gate: two lines and [31m escape\n"));
    // Timestamp in UTC ISO 8601 with milliseconds.
    assert_int_equal(c.line[4], '-');
    assert_int_equal(c.line[10], 'T');
    assert_int_equal(c.line[23], 'Z');
    cw_log_set_sink(NULL, NULL);
}

static void test_json_escapes(void **state)
{
    (void)state;
    captured c = {0};
    cw_log_set_sink(capture_sink, &c);
    cw_log_set_level(CW_LOG_INFO);
    cw_log_set_format(CW_LOG_JSON);
    CW_LOG_I("store", "name \"CHAN\" path C:\\x\nnext\x01");
    const char *want = "\"level\":\"info\",\"module\":\"store\","
                       "\"msg\":\"name \\\"CHAN\\\" path C:\\\\x\\nnext\\u0001\"}\n";
    assert_non_null(strstr(c.line, want));
    assert_memory_equal(c.line, "{\"ts\":\"", 7);
    cw_log_set_format(CW_LOG_TEXT);
    cw_log_set_sink(NULL, NULL);
}

static void test_long_lines_are_cut(void **state)
{
    (void)state;
    captured c = {0};
    char *big = malloc(10000);
    assert_non_null(big);
    memset(big, '"', 9999); // every byte needs an escape in JSON
    big[9999] = '\0';
    cw_log_set_sink(capture_sink, &c);
    cw_log_set_level(CW_LOG_INFO);
    cw_log_set_format(CW_LOG_JSON);
    CW_LOG_I("core", "%s", big);
    assert_true(c.len <= 4096);
    assert_true(c.len > 4000);
    assert_string_equal(c.line + c.len - 6, "...\"}\n");
    // The cut never splits an escape: the byte before "..." closes a \" pair.
    assert_memory_equal(c.line + c.len - 8, "\\\"", 2);
    cw_log_set_format(CW_LOG_TEXT);
    CW_LOG_I("core", "%s", big);
    assert_true(c.len <= 4096);
    assert_string_equal(c.line + c.len - 4, "...\n");
    cw_log_set_sink(NULL, NULL);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_spec),    cmocka_unit_test(test_init_from_env),
        cmocka_unit_test(test_levels_filter), cmocka_unit_test(test_text_is_one_line),
        cmocka_unit_test(test_json_escapes),  cmocka_unit_test(test_long_lines_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
