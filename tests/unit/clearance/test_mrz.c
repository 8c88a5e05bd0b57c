// SPDX-License-Identifier: Apache-2.0
// Tests of the MRZ parser: the ICAO Doc 9303 specimens (the Utopia passport of part 4, the
// identity card and the long-document-number card of part 5), every check digit changed to
// every wrong value, every composite-covered character changed with its own field's check digit
// repaired (so only the composite can catch it), the century rule for birth dates, the accepted
// line layouts, and refusals of wrong lengths, lower case, foreign characters and trailing junk.
// MRZs built from random fields round-trip.
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

static const char td3_l1[] = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
static const char td3_l2[] = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
static const char td1_l1[] = "I<UTOD231458907<<<<<<<<<<<<<<<";
static const char td1_l2[] = "7408122F1204159UTO<<<<<<<<<<<6";
static const char td1_l3[] = "ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
// Part 5's example of a document number longer than 9 characters: D23145890734.
static const char long_l1[] = "I<UTOD23145890<7349<<<<<<<<<<<";
static const char long_l2[] = "3407127M9507122UTO<<<<<<<<<<<2";
static const char long_l3[] = "STEVENSON<<PETER<JOHN<<<<<<<<<";

static const cw_date_t today = {2024, 6, 1};

static uint32_t rng_state = 0x2468ace1u;

static uint32_t rng(void)
{
    uint32_t x = rng_state; // xorshift32: reproducible everywhere
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

// Lines joined by sep into buf (NUL-terminated); returns the length.
static size_t join(char *buf, size_t cap, const char *const *lines, int n, const char *sep)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", i > 0 ? sep : "", lines[i]);
        assert_true(k > 0 && (size_t)k < cap - len);
        len += (size_t)k;
    }
    return len;
}

// Parses an exactly-sized copy (no terminator after len) so a read past len is caught by ASan.
static int parse(const char *text, size_t len, cw_mrz_t *out, char *diag, size_t diag_len)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = cw_mrz_parse(copy, len, &today, out, diag, diag_len);
    free(copy);
    return rc;
}

static int parse_lines(const char *const *lines, int n, cw_mrz_t *out, char *diag, size_t dl)
{
    char buf[256];
    size_t len = join(buf, sizeof(buf), lines, n, "\n");
    return parse(buf, len, out, diag, dl);
}

static void assert_date(cw_date_t d, int y, int m, int day)
{
    assert_int_equal(d.year, y);
    assert_int_equal(d.month, m);
    assert_int_equal(d.day, day);
}

static void assert_empty(const cw_mrz_t *m)
{
    static const cw_mrz_t zero;
    assert_memory_equal(m, &zero, sizeof(zero));
}

static char digit(int d)
{
    return (char)('0' + d);
}

// Writes the check digit of s[from..from+n) at s[at].
static void fix(char *s, size_t from, size_t n, size_t at)
{
    int cd = cw_mrz_check_digit(s + from, n);
    assert_true(cd >= 0);
    s[at] = digit(cd);
}

static void fix_td3(char *l2)
{
    fix(l2, 0, 9, 9);
    fix(l2, 13, 6, 19);
    fix(l2, 21, 6, 27);
    fix(l2, 28, 14, 42);
    char c[39];
    memcpy(c, l2, 10);
    memcpy(c + 10, l2 + 13, 7);
    memcpy(c + 17, l2 + 21, 22);
    l2[43] = digit(cw_mrz_check_digit(c, 39));
}

static void fix_td1_composite(const char *l1, char *l2)
{
    char c[50];
    memcpy(c, l1 + 5, 25);
    memcpy(c + 25, l2, 7);
    memcpy(c + 32, l2 + 8, 7);
    memcpy(c + 39, l2 + 18, 11);
    l2[29] = digit(cw_mrz_check_digit(c, 50));
}

// ---- check digits ------------------------------------------------------------------------------

static void test_check_digit(void **state)
{
    (void)state;
    assert_int_equal(cw_mrz_check_digit("L898902C3", 9), 6);
    assert_int_equal(cw_mrz_check_digit("740812", 6), 2);
    assert_int_equal(cw_mrz_check_digit("120415", 6), 9);
    assert_int_equal(cw_mrz_check_digit("ZE184226B<<<<<", 14), 1);
    assert_int_equal(cw_mrz_check_digit("D23145890734", 12), 9);
    assert_int_equal(cw_mrz_check_digit("<<<<<<", 6), 0);
    assert_int_equal(cw_mrz_check_digit("", 0), 0);
    assert_int_equal(cw_mrz_check_digit(NULL, 0), 0);
    assert_int_equal(cw_mrz_check_digit(NULL, 3), -1);
    assert_int_equal(cw_mrz_check_digit("AB c", 4), -1);
    assert_int_equal(cw_mrz_check_digit("ab", 2), -1);
    // Only n characters are read: the bad one after them does not count.
    assert_int_equal(cw_mrz_check_digit("740812x", 6), 2);
    // Weights 7, 3, 1 and letter values A = 10 ... Z = 35.
    assert_int_equal(cw_mrz_check_digit("A", 1), 0);   // 70
    assert_int_equal(cw_mrz_check_digit("<Z", 2), 5);  // 105
    assert_int_equal(cw_mrz_check_digit("<<9", 3), 9); // 9
}

// ---- specimens ---------------------------------------------------------------------------------

static void test_td3_specimen(void **state)
{
    (void)state;
    const char *lines[2] = {td3_l1, td3_l2};
    cw_mrz_t m;
    char diag[160] = "";
    assert_int_equal(parse_lines(lines, 2, &m, diag, sizeof(diag)), 0);
    assert_int_equal(m.format, CW_MRZ_TD3);
    assert_string_equal(m.doc_code, "P");
    assert_string_equal(m.issuer, "UTO");
    assert_string_equal(m.number, "L898902C3");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given, "ANNA MARIA");
    assert_string_equal(m.nationality, "UTO");
    assert_date(m.birth, 1974, 8, 12);
    assert_date(m.expiry, 2012, 4, 15);
    assert_int_equal(m.sex, 'F');
    assert_string_equal(m.optional, "ZE184226B");
}

static void test_td1_specimens(void **state)
{
    (void)state;
    const char *lines[3] = {td1_l1, td1_l2, td1_l3};
    cw_mrz_t m;
    char diag[160] = "";
    assert_int_equal(parse_lines(lines, 3, &m, diag, sizeof(diag)), 0);
    assert_int_equal(m.format, CW_MRZ_TD1);
    assert_string_equal(m.doc_code, "I");
    assert_string_equal(m.issuer, "UTO");
    assert_string_equal(m.number, "D23145890");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given, "ANNA MARIA");
    assert_string_equal(m.nationality, "UTO");
    assert_date(m.birth, 1974, 8, 12);
    assert_date(m.expiry, 2012, 4, 15);
    assert_int_equal(m.sex, 'F');
    assert_string_equal(m.optional, "");

    const char *long_lines[3] = {long_l1, long_l2, long_l3};
    assert_int_equal(parse_lines(long_lines, 3, &m, diag, sizeof(diag)), 0);
    assert_string_equal(m.number, "D23145890734");
    assert_string_equal(m.surname, "STEVENSON");
    assert_string_equal(m.given, "PETER JOHN");
    assert_date(m.birth, 1934, 7, 12);
    assert_date(m.expiry, 2095, 7, 12);
    assert_int_equal(m.sex, 'M');
    assert_string_equal(m.optional, "");
}

// ---- layouts -----------------------------------------------------------------------------------

static void test_layouts(void **state)
{
    (void)state;
    const char *td3[2] = {td3_l1, td3_l2};
    const char *td1[3] = {td1_l1, td1_l2, td1_l3};
    const char *seps[3] = {"\n", "\r\n", ""};
    const char *ends[3] = {"", "\n", "\r\n"};
    for (int s = 0; s < 3; s++) {
        for (int e = 0; e < 3; e++) {
            for (int f = 0; f < 2; f++) {
                char buf[256];
                size_t len = f == 0 ? join(buf, sizeof(buf), td3, 2, seps[s])
                                    : join(buf, sizeof(buf), td1, 3, seps[s]);
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", ends[e]);
                cw_mrz_t m;
                char diag[160] = "";
                assert_int_equal(parse(buf, len, &m, diag, sizeof(diag)), 0);
                assert_int_equal(m.format, f == 0 ? CW_MRZ_TD3 : CW_MRZ_TD1);
                assert_string_equal(m.surname, "ERIKSSON");
            }
        }
    }
    // Mixed separators are each fine.
    char mixed[128];
    size_t len = (size_t)snprintf(mixed, sizeof(mixed), "%s\r\n%s\n%s", td1_l1, td1_l2, td1_l3);
    cw_mrz_t m;
    assert_int_equal(parse(mixed, len, &m, NULL, 0), 0);
}

static void expect_format_error(const char *text, size_t len, const char *needle)
{
    cw_mrz_t m;
    char diag[200] = "";
    int rc = parse(text, len, &m, diag, sizeof(diag));
    if (rc != CW_EFORMAT || (needle != NULL && strstr(diag, needle) == NULL)) {
        fail_msg("'%.*s': rc %d, diag '%s' (wanted '%s')", (int)len, text, rc, diag,
                 needle != NULL ? needle : "");
    }
    assert_empty(&m);
}

static void test_layout_refusals(void **state)
{
    (void)state;
    char buf[512];
    const char *td3[2] = {td3_l1, td3_l2};
    size_t n = join(buf, sizeof(buf), td3, 2, "");
    // Every length of one run other than 88 and 90, and one character too many or too few.
    for (size_t len = 0; len < n; len++) {
        expect_format_error(buf, len, NULL);
    }
    strcat(buf, "<");
    expect_format_error(buf, n + 1, "89 characters");
    strcat(buf, "<<");
    expect_format_error(buf, n + 3, NULL);

    // Trailing junk, a blank line, a second terminator, a space, a line too long or short.
    const char *const cases[][5] = {
        {"", td3_l1, "\n", td3_l2, "\nX"},
        {"", td3_l1, "\n", td3_l2, "\n\n"},
        {"", td3_l1, "\n\n", td3_l2, ""},
        {"", td3_l1, "\n", td3_l2, " \n"},
        {" ", td3_l1, "\n", td3_l2, ""},
        {"", td3_l1, "\n", td3_l2, "\r"},
        {"", td3_l1, "\r", td3_l2, ""},
        {"", td3_l1, "<\n", td3_l2, ""},
        {"", td3_l1, "\n", td3_l2, "<"},
        {"", td3_l1, "\n", td3_l2,
         "\n"
         "P<UTO"},
        {"", td3_l1, "\n", td3_l2, "\r\n\n"},
        {"", td3_l1, "\n", td3_l2, "\n\r\n"},
        {"", td3_l1, "\n\r", td3_l2, ""},
        {"\n", td3_l1, "\n", td3_l2, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf[0] = '\0';
        for (int k = 0; k < 5; k++) {
            strcat(buf, cases[i][k]);
        }
        expect_format_error(buf, strlen(buf), NULL);
    }
    // Three lines of 44 or two of 30.
    int len = snprintf(buf, sizeof(buf), "%s\n%s\n%s", td3_l1, td3_l2, td3_l2);
    expect_format_error(buf, (size_t)len, "3 lines");
    len = snprintf(buf, sizeof(buf), "%s\n%s", td1_l1, td1_l2);
    expect_format_error(buf, (size_t)len, "2 lines");
    len = snprintf(buf, sizeof(buf), "%s\n%s\n%s\n%s", td1_l1, td1_l2, td1_l3, td1_l3);
    expect_format_error(buf, (size_t)len, "more than 3 lines");
    // Only len bytes count: a valid MRZ cut short by len is refused, even if the bytes are there.
    len = snprintf(buf, sizeof(buf), "%s\n%s", td3_l1, td3_l2);
    expect_format_error(buf, (size_t)len - 1, NULL);
    // A NUL inside the text is a character like any other.
    char nul[128];
    len = snprintf(nul, sizeof(nul), "%s\n%s", td3_l1, td3_l2);
    nul[50] = '\0';
    expect_format_error(nul, (size_t)len, "0x00");
    expect_format_error("", 0, NULL);
}

static void test_characters(void **state)
{
    (void)state;
    char l1[64];
    char l2[64];
    char buf[128];
    // Lower case anywhere, and every byte outside A-Z 0-9 '<', at several places.
    const size_t where[4] = {0, 7, 30, 43};
    for (int b = 0; b < 256; b++) {
        int ok = (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '<';
        if (ok) {
            continue;
        }
        for (int w = 0; w < 4; w++) {
            memcpy(l1, td3_l1, sizeof(td3_l1));
            memcpy(l2, td3_l2, sizeof(td3_l2));
            char *line = w % 2 == 0 ? l1 : l2;
            line[where[w]] = (char)b;
            if (b == '\n') {
                continue; // a line break changes the layout; covered by the layout tests
            }
            memcpy(buf, l1, 44);
            buf[44] = '\n';
            memcpy(buf + 45, l2, 44);
            expect_format_error(buf, 89, b >= 'a' && b <= 'z' ? "lower-case" : "not allowed");
        }
    }
    memcpy(buf, td3_l1, 44);
    buf[44] = '\n';
    memcpy(buf + 45, td3_l2, 44);
    buf[45 + 2] = 'c';
    expect_format_error(buf, 89, "lower-case 'c' at line 2, column 3");
}

// ---- check digits, one at a time ---------------------------------------------------------------

static void expect_field_error(const char *const *lines, int n, const char *needle)
{
    char buf[256];
    size_t len = join(buf, sizeof(buf), lines, n, "\n");
    expect_format_error(buf, len, needle);
}

static void test_every_check_digit_td3(void **state)
{
    (void)state;
    const struct {
        size_t at;
        const char *field;
    } cds[5] = {{9, "document number"},
                {19, "date of birth"},
                {27, "date of expiry"},
                {42, "personal number"},
                {43, "composite"}};
    for (int k = 0; k < 5; k++) {
        for (int d = 0; d <= 10; d++) {
            char l2[45];
            memcpy(l2, td3_l2, sizeof(l2));
            char wrong = d == 10 ? '<' : digit(d);
            if (wrong == l2[cds[k].at]) {
                continue;
            }
            l2[cds[k].at] = wrong;
            const char *lines[2] = {td3_l1, l2};
            char needle[80];
            snprintf(needle, sizeof(needle), "check digit of the %s", cds[k].field);
            expect_field_error(lines, 2, needle);
        }
    }
    // The exact message names the field and both digits.
    char l2[45];
    memcpy(l2, td3_l2, sizeof(l2));
    l2[19] = '3';
    const char *lines[2] = {td3_l1, l2};
    expect_field_error(lines, 2,
                       "MRZ: check digit of the date of birth fails: 2 expected, 3 found");
}

static void test_every_check_digit_td1(void **state)
{
    (void)state;
    const struct {
        int line;
        size_t at;
        const char *field;
    } cds[4] = {{0, 14, "document number"},
                {1, 6, "date of birth"},
                {1, 14, "date of expiry"},
                {1, 29, "composite"}};
    const char *specimens[2][3] = {{td1_l1, td1_l2, td1_l3}, {long_l1, long_l2, long_l3}};
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 4; k++) {
            for (int d = 0; d <= 10; d++) {
                char l[3][31];
                for (int i = 0; i < 3; i++) {
                    memcpy(l[i], specimens[s][i], 31);
                }
                size_t at = cds[k].at;
                if (s == 1 && k == 0) {
                    at = 18; // the long number's check digit sits in the optional data
                }
                char wrong = d == 10 ? '<' : digit(d);
                if (wrong == l[cds[k].line][at]) {
                    continue;
                }
                l[cds[k].line][at] = wrong;
                const char *lines[3] = {l[0], l[1], l[2]};
                expect_field_error(lines, 3, cds[k].field);
            }
        }
    }
}

// A character changed and its own field's check digit repaired: then only the composite can
// catch it. The expected composite is computed here over the ranges Doc 9303 names (TD3: line 2
// columns 1-10, 14-20, 22-43; TD1: line 1 columns 6-30, line 2 columns 1-7, 9-15, 19-29); the
// parser must fail exactly when it differs. (Not every change is visible: a field's check digit
// moves with the field, and under the composite's weights the two can cancel; the second digit of
// a birth date never shows.) Characters outside (document code, issuer, nationality, sex, name)
// change nothing the composite sees.
static const char alnum_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static int is_date(const char *d6)
{
    int mm = (d6[2] - '0') * 10 + (d6[3] - '0');
    int dd = (d6[4] - '0') * 10 + (d6[5] - '0');
    return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 28;
}

// Returns how many changes the composite caught.
static int composite_case(int td1, int line, size_t i, const char *alphabet, int covered)
{
    int caught = 0;
    for (const char *c = alphabet; *c != '\0'; c++) {
        char l[3][45];
        memcpy(l[0], td1 ? td1_l1 : td3_l1, td1 ? 31 : 45);
        memcpy(l[1], td1 ? td1_l2 : td3_l2, td1 ? 31 : 45);
        memcpy(l[2], td1_l3, 31);
        if (l[line][i] == *c) {
            continue;
        }
        l[line][i] = *c;
        char stored;
        int want;
        if (td1) {
            if (!is_date(l[1]) || !is_date(l[1] + 8)) {
                continue;
            }
            fix(l[0], 5, 9, 14);
            fix(l[1], 0, 6, 6);
            fix(l[1], 8, 6, 14);
            stored = l[1][29];
            fix_td1_composite(l[0], l[1]);
            want = l[1][29];
            l[1][29] = stored;
        } else {
            if (!is_date(l[1] + 13) || !is_date(l[1] + 21)) {
                continue;
            }
            stored = l[1][43];
            fix_td3(l[1]);
            want = l[1][43];
            l[1][43] = stored;
        }
        const char *lines[3] = {l[0], l[1], l[2]};
        char buf[160];
        size_t len = join(buf, sizeof(buf), lines, td1 ? 3 : 2, "\n");
        cw_mrz_t m;
        char diag[160] = "";
        int rc = parse(buf, len, &m, diag, sizeof(diag));
        int expect_fail = want != stored;
        if (expect_fail ? (rc != CW_EFORMAT || strstr(diag, "composite") == NULL) : rc != 0) {
            fail_msg("%s line %d column %zu = '%c': rc %d diag '%s'", td1 ? "TD1" : "TD3", line + 1,
                     i + 1, *c, rc, diag);
        }
        assert_true(covered || !expect_fail);
        caught += expect_fail;
    }
    return caught;
}

static void test_composite_coverage_td3(void **state)
{
    (void)state;
    int caught = 0;
    for (size_t i = 0; i < 44; i++) {
        if (i == 9 || i == 19 || i == 27 || i == 42 || i == 43) {
            continue; // check digits: see test_every_check_digit_td3
        }
        int date = (i >= 13 && i < 19) || (i >= 21 && i < 27);
        const char *alphabet = date                ? "0123456789"
                               : i >= 10 && i < 13 ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               : i == 20           ? "FMX<"
                                                   : alnum_chars;
        caught += composite_case(0, 1, i, alphabet, i != 20 && !(i >= 10 && i < 13));
    }
    assert_true(caught > 500);
    // Line 1 (document code, issuer, name) is outside the composite.
    composite_case(0, 0, 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
    composite_case(0, 0, 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
    composite_case(0, 0, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
}

static void test_composite_coverage_td1(void **state)
{
    (void)state;
    int caught = 0;
    for (size_t i = 0; i < 30; i++) {
        if (i >= 5 && i != 14) {
            caught += composite_case(1, 0, i, alnum_chars, 1);
        }
        if (i == 6 || i == 14 || i == 29) {
            continue;
        }
        int date = i < 14 && i != 7;
        const char *alphabet = date                ? "0123456789"
                               : i == 7            ? "FMX<"
                               : i >= 15 && i < 18 ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   : alnum_chars;
        caught += composite_case(1, 1, i, alphabet, i != 7 && !(i >= 15 && i < 18));
    }
    assert_true(caught > 500);
    composite_case(1, 0, 0, "ACI", 0);
    composite_case(1, 0, 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
    composite_case(1, 0, 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
    composite_case(1, 2, 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0);
}

static void test_personal_number_filler(void **state)
{
    (void)state;
    char l2[45];
    cw_mrz_t m;
    char diag[160];
    // Empty personal number: its check digit may be '<' or 0.
    const char cds[2] = {'<', '0'};
    for (int k = 0; k < 2; k++) {
        memcpy(l2, td3_l2, sizeof(l2));
        memset(l2 + 28, '<', 14);
        fix_td3(l2);
        l2[42] = cds[k];
        char c[39];
        memcpy(c, l2, 10);
        memcpy(c + 10, l2 + 13, 7);
        memcpy(c + 17, l2 + 21, 22);
        l2[43] = digit(cw_mrz_check_digit(c, 39));
        const char *lines[2] = {td3_l1, l2};
        assert_int_equal(parse_lines(lines, 2, &m, diag, sizeof(diag)), 0);
        assert_string_equal(m.optional, "");
        // Any other digit fails.
        l2[42] = '7';
        expect_field_error(lines, 2, "check digit of the personal number fails: 0 expected");
    }
    // A personal number present needs a real check digit: '<' is refused.
    memcpy(l2, td3_l2, sizeof(l2));
    l2[42] = '<';
    const char *lines[2] = {td3_l1, l2};
    expect_field_error(lines, 2, "check digit of the personal number is '<'");
}

static void test_long_document_numbers(void **state)
{
    (void)state;
    // Overflow lengths 1..13 (then a filler), with and without optional data after the number.
    for (size_t extra = 1; extra <= 13; extra++) {
        for (int with_opt = 0; with_opt <= 1; with_opt++) {
            char l1[31];
            char l2[31];
            memcpy(l1, "I<UTOAB1234567<", 15);
            memset(l1 + 15, '<', 15);
            l1[30] = '\0';
            char number[32];
            memcpy(number, "AB1234567", 9);
            for (size_t i = 0; i < extra; i++) {
                number[9 + i] = (char)('0' + (i * 7 + 3) % 10);
            }
            number[9 + extra] = '\0';
            memcpy(l1 + 15, number + 9, extra);
            l1[15 + extra] = digit(cw_mrz_check_digit(number, 9 + extra));
            if (with_opt && extra <= 10) {
                memcpy(l1 + 15 + extra + 2, "OPT", 3);
            }
            memcpy(l2, td1_l2, 31);
            fix_td1_composite(l1, l2);
            const char *lines[3] = {l1, l2, td1_l3};
            cw_mrz_t m;
            char diag[160] = "";
            if (parse_lines(lines, 3, &m, diag, sizeof(diag)) != 0) {
                fail_msg("extra %zu: %s", extra, diag);
            }
            assert_string_equal(m.number, number);
            assert_string_equal(m.optional, with_opt && extra <= 10 ? "OPT" : "");
            // The check digit covers the whole number: change its last character.
            l1[15 + extra - 1] = l1[15 + extra - 1] == '9' ? '8' : '9';
            fix_td1_composite(l1, l2);
            expect_field_error(lines, 3, "check digit of the document number fails");
        }
    }
    // 14 overflow characters: the check digit is the field's last character.
    char l1[31] = "I<UTOAB1234567<";
    memcpy(l1 + 15, "12345678901234", 14);
    l1[29] = digit(cw_mrz_check_digit("AB123456712345678901234", 23));
    l1[30] = '\0';
    char l2[31];
    memcpy(l2, td1_l2, 31);
    fix_td1_composite(l1, l2);
    const char *lines[3] = {l1, l2, td1_l3};
    cw_mrz_t m;
    char diag[160] = "";
    assert_int_equal(parse_lines(lines, 3, &m, diag, sizeof(diag)), 0);
    assert_string_equal(m.number, "AB123456712345678901234");

    // '<' as the check digit with nothing (or only a check digit) after it, or a short number.
    char bad[3][31] = {"I<UTOD23145890<<<<<<<<<<<<<<<<", "I<UTOD23145890<7<<<<<<<<<<<<<<",
                       "I<UTOD2314589<<7349<<<<<<<<<<<"};
    for (int i = 0; i < 3; i++) {
        memcpy(l2, long_l2, 31);
        fix_td1_composite(bad[i], l2);
        const char *bl[3] = {bad[i], l2, long_l3};
        expect_field_error(bl, 3, "document number");
    }
    // Passports have no long numbers: '<' there is simply not a digit.
    char p2[45];
    memcpy(p2, td3_l2, sizeof(p2));
    p2[9] = '<';
    const char *pl[2] = {td3_l1, p2};
    expect_field_error(pl, 2, "check digit of the document number is '<'");
}

// ---- fields ------------------------------------------------------------------------------------

static void test_birth_century_and_dates(void **state)
{
    (void)state;
    const struct {
        const char *yymmdd;
        cw_date_t today;
        int year; // 0: refused
    } cases[] = {
        {"240531", {2024, 6, 1}, 2024},   {"240601", {2024, 6, 1}, 2024},
        {"240602", {2024, 6, 1}, 1924},   {"991231", {2024, 6, 1}, 1999},
        {"000101", {2024, 6, 1}, 2000},   {"000229", {2024, 6, 1}, 2000},
        {"000229", {1999, 12, 31}, 0},    {"960229", {2024, 6, 1}, 1996},
        {"970229", {2024, 6, 1}, 0},      {"740230", {2024, 6, 1}, 0},
        {"741301", {2024, 6, 1}, 0},      {"740001", {2024, 6, 1}, 0},
        {"740100", {2024, 6, 1}, 0},      {"740431", {2024, 6, 1}, 0},
        {"74AB12", {2024, 6, 1}, 0},      {"<<<<<<", {2024, 6, 1}, 0},
        {"250101", {2199, 12, 31}, 2025}, {"991231", {2100, 1, 1}, 2099},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char l2[45];
        memcpy(l2, td3_l2, sizeof(l2));
        memcpy(l2 + 13, cases[i].yymmdd, 6);
        fix_td3(l2);
        char buf[128];
        const char *lines[2] = {td3_l1, l2};
        size_t len = join(buf, sizeof(buf), lines, 2, "\n");
        cw_mrz_t m;
        char diag[160] = "";
        int rc = cw_mrz_parse(buf, len, &cases[i].today, &m, diag, sizeof(diag));
        if (cases[i].year == 0) {
            assert_int_equal(rc, CW_EFORMAT);
            assert_non_null(strstr(diag, "date of birth"));
        } else {
            if (rc != 0) {
                fail_msg("%s: %s", cases[i].yymmdd, diag);
            }
            assert_int_equal(m.birth.year, cases[i].year);
        }
    }
    // Expiry is always 20YY, also in the past and far ahead; dates must be real there too.
    const char *expiries[4] = {"990101", "000229", "120415", "991301"};
    const int years[4] = {2099, 2000, 2012, 0};
    for (int i = 0; i < 4; i++) {
        char l2[45];
        memcpy(l2, td3_l2, sizeof(l2));
        memcpy(l2 + 21, expiries[i], 6);
        fix_td3(l2);
        const char *lines[2] = {td3_l1, l2};
        cw_mrz_t m;
        char diag[160] = "";
        int rc = parse_lines(lines, 2, &m, diag, sizeof(diag));
        if (years[i] == 0) {
            assert_int_equal(rc, CW_EFORMAT);
            assert_non_null(strstr(diag, "date of expiry"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(m.expiry.year, years[i]);
        }
    }
}

static void test_fields(void **state)
{
    (void)state;
    const struct {
        int line;       // 0 or 1 (TD3)
        size_t at;      // where to write
        const char *s;  // what
        const char *ok; // NULL: refused; else what to check
    } cases[] = {
        {0, 0, "I<", NULL},        {0, 0, "V<", NULL},        {0, 0, "<P", NULL},
        {0, 0, "P1", NULL},        {0, 0, "PD", "PD"},        {0, 2, "D<<", "D"},
        {0, 2, "<DE", NULL},       {0, 2, "D<E", NULL},       {0, 2, "U1O", NULL},
        {0, 2, "<<<", NULL},       {1, 10, "D<<", "D"},       {1, 10, "1TO", NULL},
        {1, 20, "<", "X"},         {1, 20, "X", "X"},         {1, 20, "M", "M"},
        {1, 20, "Q", NULL},        {0, 5, "<", NULL},         {0, 5, "ERIKSS0N", NULL},
        {1, 0, "L89<902C3", NULL}, {1, 0, "<<<<<<<<<", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char l[2][45];
        memcpy(l[0], td3_l1, 45);
        memcpy(l[1], td3_l2, 45);
        memcpy(l[cases[i].line] + cases[i].at, cases[i].s, strlen(cases[i].s));
        fix_td3(l[1]);
        const char *lines[2] = {l[0], l[1]};
        cw_mrz_t m;
        char diag[160] = "";
        int rc = parse_lines(lines, 2, &m, diag, sizeof(diag));
        if (cases[i].ok == NULL) {
            if (rc != CW_EFORMAT) {
                fail_msg("case %zu '%s' accepted", i, cases[i].s);
            }
            assert_empty(&m);
            continue;
        }
        if (rc != 0) {
            fail_msg("case %zu '%s': %s", i, cases[i].s, diag);
        }
        const char *got = cases[i].at == 0    ? m.doc_code
                          : cases[i].at == 2  ? m.issuer
                          : cases[i].at == 10 ? m.nationality
                                              : NULL;
        if (got != NULL) {
            assert_string_equal(got, cases[i].ok);
        } else {
            assert_int_equal(m.sex, cases[i].ok[0]);
        }
    }
    // TD1 documents are A, C or I.
    const char codes[5][3] = {"A<", "C<", "ID", "P<", "V<"};
    for (int i = 0; i < 5; i++) {
        char l1[31];
        char l2[31];
        memcpy(l1, td1_l1, 31);
        memcpy(l2, td1_l2, 31);
        memcpy(l1, codes[i], 2);
        const char *lines[3] = {l1, l2, td1_l3};
        cw_mrz_t m;
        assert_int_equal(parse_lines(lines, 3, &m, NULL, 0), i < 3 ? 0 : CW_EFORMAT);
    }
}

static void test_names(void **state)
{
    (void)state;
    const struct {
        const char *field;
        const char *surname; // NULL: refused
        const char *given;
    } cases[] = {
        {"ERIKSSON<<ANNA<MARIA", "ERIKSSON", "ANNA MARIA"},
        {"ERIKSSON", "ERIKSSON", ""},
        {"ERIKSSON<<", "ERIKSSON", ""},
        {"VAN<DER<BERG<<JAN", "VAN DER BERG", "JAN"},
        {"CHAN<<TAI<<MAN", "CHAN", "TAI MAN"},
        {"CHAN<<<TAI<MAN", "CHAN", "TAI MAN"},
        {"<<ANNA", NULL, NULL},
        {"<ERIKSSON<<ANNA", NULL, NULL},
        {"", NULL, NULL},
        {"ERIKSSON<<ANNA2", NULL, NULL},
        // 39 characters with no filler: all surname (truncated by the issuer).
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLM", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLM", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char l1[45];
        memcpy(l1, td3_l1, 45);
        memset(l1 + 5, '<', 39);
        memcpy(l1 + 5, cases[i].field, strlen(cases[i].field));
        const char *lines[2] = {l1, td3_l2};
        cw_mrz_t m;
        char diag[160] = "";
        int rc = parse_lines(lines, 2, &m, diag, sizeof(diag));
        if (cases[i].surname == NULL) {
            assert_int_equal(rc, CW_EFORMAT);
            assert_non_null(strstr(diag, "name"));
            continue;
        }
        if (rc != 0) {
            fail_msg("'%s': %s", cases[i].field, diag);
        }
        assert_string_equal(m.surname, cases[i].surname);
        assert_string_equal(m.given, cases[i].given);
    }
}

static void test_optional_data_td1(void **state)
{
    (void)state;
    char l1[31];
    char l2[31];
    memcpy(l1, td1_l1, 31);
    memcpy(l2, td1_l2, 31);
    memcpy(l1 + 15, "AB<12", 5);
    memcpy(l2 + 18, "XYZ", 3);
    fix_td1_composite(l1, l2);
    const char *lines[3] = {l1, l2, td1_l3};
    cw_mrz_t m;
    assert_int_equal(parse_lines(lines, 3, &m, NULL, 0), 0);
    assert_string_equal(m.optional, "AB<12<XYZ");
    memcpy(l1, td1_l1, 31);
    fix_td1_composite(l1, l2);
    assert_int_equal(parse_lines(lines, 3, &m, NULL, 0), 0);
    assert_string_equal(m.optional, "<XYZ");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char buf[128];
    int len = snprintf(buf, sizeof(buf), "%s\n%s", td3_l1, td3_l2);
    cw_mrz_t m;
    char diag[80] = "";
    assert_int_equal(cw_mrz_parse(buf, (size_t)len, &today, NULL, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_mrz_parse(NULL, 5, &today, &m, diag, sizeof(diag)), CW_EINVAL);
    assert_empty(&m);
    assert_int_equal(cw_mrz_parse(buf, (size_t)len, NULL, &m, NULL, 0), CW_EINVAL);
    const cw_date_t bad_today = {2023, 2, 29};
    assert_int_equal(cw_mrz_parse(buf, (size_t)len, &bad_today, &m, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_mrz_parse(NULL, 0, &today, &m, NULL, 0), CW_EFORMAT);
    assert_int_equal(cw_mrz_parse(buf, (size_t)len, &today, &m, NULL, 0), 0);
}

// ---- round trips and noise ---------------------------------------------------------------------

static void random_chars(char *dst, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++) {
        dst[i] = alphabet[rng() % k];
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int iter = 0; iter < 2000; iter++) {
        int td1 = iter % 2;
        char number[10] = {0};
        size_t nlen = 1 + rng() % 9;
        random_chars(number, nlen, alnum);
        char surname[16] = {0};
        char given[16] = {0};
        random_chars(surname, 1 + rng() % 10, letters);
        random_chars(given, rng() % 10, letters);
        int by = 1930 + (int)(rng() % 94); // up to 2023: before today
        int bm = 1 + (int)(rng() % 12);
        int bd = 1 + (int)(rng() % 28);
        int ey = 2000 + (int)(rng() % 100);
        int em = 1 + (int)(rng() % 12);
        int ed = 1 + (int)(rng() % 28);
        const char sexes[3] = {'F', 'M', 'X'};
        char sex = sexes[rng() % 3];
        char l[3][45];
        char name[64];
        int nn = snprintf(name, sizeof(name), "%s<<%s", surname, given);
        if (td1) {
            memset(l, '<', sizeof(l));
            memcpy(l[0], "I<UTO", 5);
            memcpy(l[0] + 5, number, nlen);
            fix(l[0], 5, 9, 14);
            snprintf(l[1], 16, "%02d%02d%02d0%c%02d%02d%02d", by % 100, bm, bd, sex, ey % 100, em,
                     ed);
            l[1][15] = 'U';
            l[1][16] = 'T';
            l[1][17] = 'O';
            fix(l[1], 0, 6, 6);
            fix(l[1], 8, 6, 14);
            fix_td1_composite(l[0], l[1]);
            memcpy(l[2], name, (size_t)(nn > 30 ? 30 : nn));
            l[0][30] = l[1][30] = l[2][30] = '\0';
        } else {
            memset(l, '<', sizeof(l));
            memcpy(l[0], "P<UTO", 5);
            memcpy(l[0] + 5, name, (size_t)nn);
            memcpy(l[1], number, nlen);
            snprintf(l[1] + 10, 12, "UTO%02d%02d%02d0", by % 100, bm, bd);
            l[1][20] = sex;
            snprintf(l[1] + 21, 8, "%02d%02d%02d0", ey % 100, em, ed);
            l[1][28] = '<';
            fix_td3(l[1]);
            l[0][44] = l[1][44] = '\0';
        }
        const char *lines[3] = {l[0], l[1], l[2]};
        cw_mrz_t m;
        char diag[160] = "";
        if (parse_lines(lines, td1 ? 3 : 2, &m, diag, sizeof(diag)) != 0) {
            fail_msg("%s\n%s\n%s: %s", l[0], l[1], td1 ? l[2] : "", diag);
        }
        assert_string_equal(m.number, number);
        assert_string_equal(m.surname, surname);
        assert_string_equal(m.given, given);
        assert_int_equal(m.sex, sex);
        assert_date(m.birth, by, bm, bd);
        assert_date(m.expiry, ey, em, ed);
    }
}

// Random mutations of valid MRZs: 0 or CW_EFORMAT, and the result zeroed on error.
static void test_mutations(void **state)
{
    (void)state;
    char base[2][128];
    size_t blen[2];
    const char *td3[2] = {td3_l1, td3_l2};
    const char *td1[3] = {long_l1, long_l2, long_l3};
    blen[0] = join(base[0], sizeof(base[0]), td3, 2, "\n");
    blen[1] = join(base[1], sizeof(base[1]), td1, 3, "\r\n");
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        int b = iter % 2;
        char buf[128];
        memcpy(buf, base[b], blen[b]);
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % blen[b];
            buf[at] = (rng() % 4 == 0) ? (char)(rng() & 0xff) : "ABC0123<"[rng() % 8];
        }
        cw_mrz_t m;
        char diag[160] = "";
        int rc = parse(buf, blen[b], &m, diag, sizeof(diag));
        if (rc == 0) {
            accepted++;
        } else {
            assert_int_equal(rc, CW_EFORMAT);
            assert_true(strlen(diag) > 0);
            assert_empty(&m);
        }
    }
    // Edits in the name or the nationality pass; most others are caught.
    assert_true(accepted > 0 && accepted < 20000 / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_digit),
        cmocka_unit_test(test_td3_specimen),
        cmocka_unit_test(test_td1_specimens),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_layout_refusals),
        cmocka_unit_test(test_characters),
        cmocka_unit_test(test_every_check_digit_td3),
        cmocka_unit_test(test_every_check_digit_td1),
        cmocka_unit_test(test_composite_coverage_td3),
        cmocka_unit_test(test_composite_coverage_td1),
        cmocka_unit_test(test_personal_number_filler),
        cmocka_unit_test(test_long_document_numbers),
        cmocka_unit_test(test_birth_century_and_dates),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_optional_data_td1),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
