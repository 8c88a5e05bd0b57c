// SPDX-License-Identifier: Apache-2.0
// Tests of masking for gate screens: Latin names (surname rules, hyphens, spacing, accented
// initials), local-script names, document numbers, and the guarantees a screen depends on: the
// output never holds a full given name or the full number, invalid UTF-8 and control characters
// never pass through, a cap too small is CW_ETOOBIG with an empty string, and every result of
// CW_MASK_MAX or less is valid UTF-8.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/clearance.h"
#include "clearway/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mask_fn)(const char *, char *, size_t);

static void expect(mask_fn fn, const char *in, const char *want)
{
    char out[CW_MASK_MAX];
    memset(out, 'x', sizeof(out));
    int rc = fn(in, out, sizeof(out));
    if (rc != 0 || strcmp(out, want) != 0) {
        fail_msg("'%s': rc %d, '%s' (wanted '%s')", in, rc, rc == 0 ? out : "", want);
    }
}

static void test_latin_names(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"CHAN Tai Man", "CHAN T** M**"},
        {"CHAN Tai-man", "CHAN T**"},
        {"  CHAN   Tai    Man  ", "CHAN T** M**"},
        {"", ""},
        {"   ", ""},
        {"CHAN", "CHAN"},
        {"Chan", "Chan"},
        {"Chan Tai Man", "Chan T** M**"}, // no word in capitals: the first is the surname
        {"CHAN TAI MAN", "CHAN T** M**"}, // every word in capitals: likewise
        {"AU YEUNG Ka Wai", "AU YEUNG K** W**"},
        {"DE LA CRUZ María José", "DE LA CRUZ M** J**"},
        {"O'NEILL Siobhán", "O'NEILL S**"},
        {"MÜLLER Jürgen", "MÜLLER J**"},
        {"ÅSTRÖM Émile", "ÅSTRÖM É**"},
        {"ŁUKASZEWSKI Łukasz", "ŁUKASZEWSKI Ł**"},
        {"ŚLĄSKA ćma", "ŚLĄSKA ć**"},
        {"CHAN, Tai Man", "CHAN, T** M**"},
        {"CHAN (Peter) Tai", "CHAN P** T**"},
        {"CHAN - Tai", "CHAN T**"}, // a word with no letter is dropped
        {"CHAN 12 Tai", "CHAN T**"},
        {"Ng A", "Ng A**"},
        {"LEE Ka-Keung Kenneth", "LEE K** K**"},
        {"CHAN Tai Man David", "CHAN T** M** D**"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect(cw_mask_name_latin, cases[i][0], cases[i][1]);
    }
}

static void test_local_names(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"陳大文", "陳**"}, {"歐陽大文", "歐***"}, {"陳", "陳"},
        {"", ""},           {"  陳大文 ", "陳**"}, {"김민준", "김**"},
        {"Chan", "C***"},   {"𠀋大文", "𠀋**"}, // a four-byte character
        {"é", "é"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect(cw_mask_name_local, cases[i][0], cases[i][1]);
    }
}

static void test_numbers(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"H12345F37", "…F37"},
        {"H1234", "…234"},
        {"ABCD", "…BCD"},
        {"ABC", "…"},
        {"AB", "…"},
        {"A", "…"},
        {"", "…"},
        {" H12345F37 ", "…F37"},
        {"X12é45", "…é45"},
        {"12345678901234567890123", "…123"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect(cw_mask_number, cases[i][0], cases[i][1]);
    }
}

// Invalid UTF-8 (cut sequences, overlong forms, surrogates, beyond U+10FFFF, stray continuation
// bytes) and control characters are never copied out.
static void test_invalid_input(void **state)
{
    (void)state;
    const char *bad[] = {
        "CHAN T\xc3",
        "CHAN \xc0\xaf",
        "CHAN \xe0\x80\xaf",
        "CHAN \xed\xa0\x80",
        "CHAN \xf4\x90\x80\x80",
        "CHAN \x80",
        "CHAN \xff",
        "CHAN\tTai",
        "CHAN\nTai",
        "CHAN \x1b[31mTai",
        "CHAN \x7f",
        "CHAN \xc2\x85",
        "\xe9\x99\xb3\xe5\xa4",
        "\xf0\x9f\x98",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect(cw_mask_name_latin, bad[i], "***");
        expect(cw_mask_name_local, bad[i], "***");
        expect(cw_mask_number, bad[i], "…");
    }
}

static void test_arguments_and_caps(void **state)
{
    (void)state;
    char out[CW_MASK_MAX];
    assert_int_equal(cw_mask_name_latin(NULL, out, sizeof(out)), CW_EINVAL);
    assert_int_equal(cw_mask_name_local(NULL, out, sizeof(out)), CW_EINVAL);
    assert_int_equal(cw_mask_number(NULL, out, sizeof(out)), CW_EINVAL);
    assert_int_equal(cw_mask_name_latin("A", NULL, 8), CW_EINVAL);
    assert_int_equal(cw_mask_name_local("A", NULL, 8), CW_EINVAL);
    assert_int_equal(cw_mask_number("A", NULL, 8), CW_EINVAL);

    // Every cap from 0 up: too small is CW_ETOOBIG with an empty string (nothing partial), and
    // from the exact size on the whole result.
    const struct {
        mask_fn fn;
        const char *in;
        const char *want;
    } cases[] = {
        {cw_mask_name_latin, "CHAN Tai Man", "CHAN T** M**"},
        {cw_mask_name_local, "陳大文", "陳**"},
        {cw_mask_number, "H12345F37", "…F37"},
        {cw_mask_number, "H1", "…"},
        {cw_mask_name_latin, "\xff", "***"},
        {cw_mask_name_latin, "", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t need = strlen(cases[i].want) + 1;
        for (size_t cap = 0; cap <= need + 2; cap++) {
            char buf[CW_MASK_MAX];
            memset(buf, 'x', sizeof(buf));
            int rc = cases[i].fn(cases[i].in, buf, cap);
            if (cap < need) {
                assert_int_equal(rc, CW_ETOOBIG);
                if (cap > 0) {
                    assert_int_equal(buf[0], '\0');
                }
                assert_int_equal(buf[cap > 0 ? cap : 0], 'x'); // nothing written past cap
            } else {
                assert_int_equal(rc, 0);
                assert_string_equal(buf, cases[i].want);
            }
        }
    }
    // A surname longer than CW_MASK_MAX does not fit: refused, not cut.
    char longname[200];
    memset(longname, 'A', 150);
    strcpy(longname + 150, " Tai");
    assert_int_equal(cw_mask_name_latin(longname, out, sizeof(out)), CW_ETOOBIG);
    assert_string_equal(out, "");
}

// ---- properties over generated names ------------------------------------------------------------

static uint32_t rng_state = 0x51ed270bu;

static uint32_t rng(void)
{
    uint32_t x = rng_state; // xorshift32: reproducible everywhere
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0) {
            return 0;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
        }
        p += n;
    }
    return 1;
}

static void test_never_shows_given_names_or_numbers(void **state)
{
    (void)state;
    static const char *const given_pool[] = {"Tai",   "Man",     "Ka-Wai", "Siobhán", "Jürgen",
                                             "Émile", "Kenneth", "Mei",    "Łukasz",  "Wing-kin"};
    static const char *const surname_pool[] = {"CHAN", "AU YEUNG", "LEE", "MÜLLER", "O'NEILL"};
    for (int iter = 0; iter < 5000; iter++) {
        char name[128];
        const char *given[3];
        int ng = 1 + (int)(rng() % 3);
        size_t len = (size_t)snprintf(name, sizeof(name), "%s", surname_pool[rng() % 5]);
        for (int g = 0; g < ng; g++) {
            given[g] = given_pool[rng() % 10];
            len += (size_t)snprintf(name + len, sizeof(name) - len, "%s%s",
                                    rng() % 4 == 0 ? "  " : " ", given[g]);
        }
        char out[CW_MASK_MAX];
        assert_int_equal(cw_mask_name_latin(name, out, sizeof(out)), 0);
        assert_true(valid_utf8(out));
        for (int g = 0; g < ng; g++) {
            if (strstr(out, given[g]) != NULL) {
                fail_msg("'%s' -> '%s' shows '%s'", name, out, given[g]);
            }
        }
        assert_int_equal(cw_mask_name_local(name, out, sizeof(out)), 0);
        assert_true(valid_utf8(out));
        for (int g = 0; g < ng; g++) {
            assert_null(strstr(out, given[g]));
        }

        char number[24];
        size_t n = 1 + rng() % 22;
        for (size_t k = 0; k < n; k++) {
            number[k] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[rng() % 34];
        }
        number[n] = '\0';
        assert_int_equal(cw_mask_number(number, out, sizeof(out)), 0);
        assert_null(strstr(out, number));
        assert_true(strlen(out) <= 3 + 3);
        if (n > 3) {
            assert_string_equal(out + 3, number + n - 3);
        } else {
            assert_string_equal(out, "…");
        }
    }
}

// Random bytes: whatever the input, each function returns 0 with valid UTF-8 or CW_ETOOBIG.
static void test_random_bytes(void **state)
{
    (void)state;
    const mask_fn fns[3] = {cw_mask_name_latin, cw_mask_name_local, cw_mask_number};
    for (int iter = 0; iter < 20000; iter++) {
        char in[48];
        size_t n = rng() % (sizeof(in) - 1);
        for (size_t k = 0; k < n; k++) {
            uint32_t r = rng();
            in[k] = (char)(r % 3 == 0   ? ' '
                           : r % 3 == 1 ? 'A' + (r >> 8) % 58
                                        : 1 + (r >> 8) % 255);
        }
        in[n] = '\0';
        for (int f = 0; f < 3; f++) {
            char out[CW_MASK_MAX];
            size_t cap = 1 + rng() % CW_MASK_MAX;
            int rc = fns[f](in, out, cap);
            assert_true(rc == 0 || rc == CW_ETOOBIG);
            assert_true(strlen(out) < cap);
            assert_true(valid_utf8(out));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latin_names),
        cmocka_unit_test(test_local_names),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_arguments_and_caps),
        cmocka_unit_test(test_never_shows_given_names_or_numbers),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
