// SPDX-License-Identifier: Apache-2.0
// cw_file_read: whole files of every size around the buffer's growth steps and the limit, the
// NUL after the data, and the errors.
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/file.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

// A temporary file of n bytes, byte i = i * 7 + 3.
static void make_file(char *path, size_t n)
{
    strcpy(path, "/tmp/cw_test_file_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        fputc((int)((i * 7 + 3) & 0xff), f);
    }
    assert_int_equal(fclose(f), 0);
}

static void test_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 65534, 65535, 65536, 65537, 200000, 1 << 20};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char path[64];
        make_file(path, sizes[k]);
        uint8_t *data = NULL;
        size_t len = 99;
        assert_int_equal(cw_file_read(path, (size_t)1 << 20, &data, &len, NULL, 0), 0);
        assert_int_equal(len, sizes[k]);
        for (size_t i = 0; i < len; i++) {
            if (data[i] != (uint8_t)((i * 7 + 3) & 0xff)) {
                fail_msg("size %zu: byte %zu differs", sizes[k], i);
            }
        }
        assert_int_equal(data[len], 0);
        cw_free_wipe(data, len);
        unlink(path);
    }
}

static void test_limit(void **state)
{
    (void)state;
    const size_t limits[] = {0, 10, 65535, 65536, 100000};
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        size_t max = limits[k];
        char path[64];
        uint8_t *data = NULL;
        size_t len = 0;
        make_file(path, max); // exactly the limit: read
        assert_int_equal(cw_file_read(path, max, &data, &len, NULL, 0), 0);
        assert_int_equal(len, max);
        cw_free_wipe(data, len);
        unlink(path);
        make_file(path, max + 1); // one byte over: refused, nothing handed back
        char diag[128] = "";
        assert_int_equal(cw_file_read(path, max, &data, &len, diag, sizeof(diag)), CW_ETOOBIG);
        assert_null(data);
        assert_int_equal(len, 0);
        assert_non_null(strstr(diag, "is over"));
        unlink(path);
    }
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t *data = (uint8_t *)"x";
    size_t len = 5;
    char diag[128] = "";
    assert_int_equal(cw_file_read("/nonexistent/cw_file", 10, &data, &len, diag, sizeof(diag)),
                     CW_EIO);
    assert_null(data);
    assert_non_null(strstr(diag, "/nonexistent/cw_file"));
    assert_int_equal(cw_file_read(NULL, 10, &data, &len, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_file_read("/tmp", 10, NULL, &len, NULL, 0), CW_EINVAL);
    // A directory opens but cannot be read.
    assert_int_equal(cw_file_read("/tmp", 10, &data, &len, NULL, 0), CW_EIO);
    assert_null(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
