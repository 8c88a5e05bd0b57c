// SPDX-License-Identifier: Apache-2.0
// The machine-readable zone of travel documents (ICAO Doc 9303 parts 3, 4 and 5): passports
// (TD3, two lines of 44) and identity cards (TD1, three lines of 30). The text is untrusted (an
// OCR reader, a gate device, a person typing), so the layout is checked exactly, every field is
// checked for the characters it may hold, dates must be real calendar dates, and every check
// digit is verified; the first failure is reported with the field it concerns. Choices where the
// standard leaves room: fillers inside a document number are refused rather than dropped (two
// numbers must not read the same); a TD1 long document number (more than 9 characters: '<' in
// the check-digit position, the rest of the number, its check digit and a filler at the start of
// the optional data) is joined into `number`; `optional` holds the TD3 personal number, or the
// TD1 line-1 and line-2 optional data joined by one '<' when the second is present, each without
// its trailing fillers.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <string.h>

enum { TD1_WIDTH = 30, TD3_WIDTH = 44, MAX_LINES = 3 };

typedef struct mrz_text {
    const char *line[MAX_LINES];
    int lines;
} mrz_text;

typedef struct field_error {
    char *diag;
    size_t diag_len;
} field_error;

static int char_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }
    return c == '<' ? 0 : -1;
}

static int is_alpha(char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cw_mrz_check_digit(const char *s, size_t n)
{
    static const unsigned weights[3] = {7, 3, 1};
    if (s == NULL && n > 0) {
        return -1;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = char_value(s[i]);
        if (v < 0) {
            return -1;
        }
        sum = (sum + (unsigned)v * weights[i % 3]) % 10;
    }
    return (int)sum;
}

// ---- layout -------------------------------------------------------------------------------------

static const char *memchr_nl(const char *p, size_t n)
{
    return memchr(p, '\n', n);
}

// Splits text into its lines: separated by "\n" or "\r\n" (one terminator after the last line is
// allowed), or one unbroken run of 88 or 90 characters. Only the layout is checked here.
static int split_lines(const char *text, size_t len, mrz_text *t, char *diag, size_t diag_len)
{
    memset(t, 0, sizeof(*t));
    if (len > 0 && text[len - 1] == '\n') {
        len--;
        if (len > 0 && text[len - 1] == '\r') {
            len--;
        }
    }
    if (memchr_nl(text, len) == NULL) {
        if (len == 2 * TD3_WIDTH || len == 3 * TD1_WIDTH) {
            size_t width = len == 2 * TD3_WIDTH ? TD3_WIDTH : TD1_WIDTH;
            t->lines = len == 2 * TD3_WIDTH ? 2 : 3;
            for (int i = 0; i < t->lines; i++) {
                t->line[i] = text + (size_t)i * width;
            }
            return 0;
        }
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: %zu characters on one line: expected 88 (TD3, 2 x 44) or 90 (TD1, "
                           "3 x 30)",
                           len);
    }
    size_t widths[MAX_LINES + 1];
    int n = 0;
    size_t pos = 0;
    for (;;) {
        const char *nl = memchr_nl(text + pos, len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t w = end - pos;
        if (w > 0 && text[end - 1] == '\r' && nl != NULL) {
            w--;
        }
        if (n == MAX_LINES) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: more than 3 lines: expected 2 lines of 44 characters (TD3) or "
                               "3 lines of 30 (TD1)");
        }
        t->line[n] = text + pos;
        widths[n++] = w;
        if (nl == NULL) {
            break;
        }
        pos = end + 1;
    }
    size_t want = n == 2 ? TD3_WIDTH : TD1_WIDTH;
    for (int i = 0; i < n; i++) {
        if (n < 2 || widths[i] != want) {
            memset(t, 0, sizeof(*t));
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: %d lines, line %d of %zu characters: expected 2 lines of 44 "
                               "characters (TD3) or 3 lines of 30 (TD1)",
                               n, i + 1, widths[i]);
        }
    }
    t->lines = n;
    return 0;
}

static int check_characters(const mrz_text *t, size_t width, char *diag, size_t diag_len)
{
    for (int l = 0; l < t->lines; l++) {
        for (size_t i = 0; i < width; i++) {
            char c = t->line[l][i];
            if (c >= 'a' && c <= 'z') {
                return cw_diag_set(diag, diag_len, CW_EFORMAT,
                                   "MRZ: lower-case '%c' at line %d, column %zu (the MRZ is upper "
                                   "case)",
                                   c, l + 1, i + 1);
            }
            if (char_value(c) < 0) {
                return cw_diag_set(diag, diag_len, CW_EFORMAT,
                                   "MRZ: byte 0x%02x at line %d, column %zu is not allowed (only "
                                   "A-Z, 0-9 and '<')",
                                   (unsigned)(unsigned char)c, l + 1, i + 1);
            }
        }
    }
    return 0;
}

// ---- fields -------------------------------------------------------------------------------------

// Length of s[0..n) without its trailing fillers.
static size_t trimmed_len(const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == '<') {
        n--;
    }
    return n;
}

// Copies s[0..n) without trailing fillers; the caller's buffer is large enough by construction.
static void copy_trimmed(char *dst, const char *s, size_t n)
{
    n = trimmed_len(s, n);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int doc_code(const char *s, const char *allowed, char *out, char *diag, size_t diag_len)
{
    if (strchr(allowed, s[0]) == NULL || !is_alpha(s[0]) || (s[1] != '<' && !is_alpha(s[1]))) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: document code '%c%c' is not one of this format (%s followed by a "
                           "letter or '<')",
                           s[0], s[1], allowed);
    }
    copy_trimmed(out, s, 2);
    return 0;
}

// A state code: letters, then fillers ("D<<" for Germany).
static int state_code(const char *s, const char *what, char *out, char *diag, size_t diag_len)
{
    size_t n = trimmed_len(s, 3);
    for (size_t i = 0; i < n; i++) {
        if (!is_alpha(s[i])) {
            n = 0;
            break;
        }
    }
    if (n == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: %s '%.3s' is not a state code (letters, then fillers)", what, s);
    }
    copy_trimmed(out, s, 3);
    return 0;
}

static int check_digit(const char *field, size_t n, char found, const char *what, char *diag,
                       size_t diag_len)
{
    int want = cw_mrz_check_digit(field, n);
    if (!is_digit(found)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: check digit of the %s is '%c', not a digit", what, found);
    }
    if (want != found - '0') {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: check digit of the %s fails: %d expected, %c found", what, want,
                           found);
    }
    return 0;
}

// The 9-character document number field and its check digit. TD1 only (long_ok): '<' as the
// check digit means the number continues in the optional data at `rest` (15 characters), as
// the number's remaining characters, its check digit, then a filler; *rest_used says how much of
// it the number took.
static int doc_number(const char *field, char cd, const char *rest, int long_ok, char *out,
                      size_t *rest_used, char *diag, size_t diag_len)
{
    size_t n = trimmed_len(field, 9);
    for (size_t i = 0; i < n; i++) {
        if (field[i] == '<') {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: document number '%.9s' has a filler inside", field);
        }
    }
    if (n == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "MRZ: document number is empty");
    }
    *rest_used = 0;
    if (cd == '<' && long_ok) {
        if (n < 9) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: '<' in place of the check digit of the document number, but "
                               "the number '%.*s' does not fill its field",
                               (int)n, field);
        }
        size_t k = 0; // the number's part in the optional data, check digit included
        while (k < 15 && rest[k] != '<') {
            k++;
        }
        if (k < 2) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: the long document number continues with no characters and "
                               "check digit in the optional data");
        }
        char full[CW_STORE_DOCNO_MAX];
        memcpy(full, field, 9);
        memcpy(full + 9, rest, k - 1);
        int rc = check_digit(full, 9 + k - 1, rest[k - 1], "document number", diag, diag_len);
        if (rc != 0) {
            return rc;
        }
        full[9 + k - 1] = '\0';
        memcpy(out, full, 9 + k);
        *rest_used = k < 15 ? k + 1 : k;
        return 0;
    }
    int rc = check_digit(field, 9, cd, "document number", diag, diag_len);
    if (rc != 0) {
        return rc;
    }
    copy_trimmed(out, field, 9);
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int valid_date(const cw_date_t *d)
{
    return d->year >= 1 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month);
}

static long date_key(int y, int m, int d)
{
    return (long)y * 10000 + m * 100 + d;
}

// YYMMDD and its check digit; birth dates take the century that does not put them after today,
// expiry dates are 20YY.
static int mrz_date(const char *s, char cd, const char *what, const cw_date_t *today,
                    cw_date_t *out, char *diag, size_t diag_len)
{
    for (int i = 0; i < 6; i++) {
        if (!is_digit(s[i])) {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: %s '%.6s' is not six digits (YYMMDD)", what, s);
        }
    }
    int yy = (s[0] - '0') * 10 + (s[1] - '0');
    int mm = (s[2] - '0') * 10 + (s[3] - '0');
    int dd = (s[4] - '0') * 10 + (s[5] - '0');
    cw_date_t d = {2000 + yy, mm, dd};
    if (today != NULL &&
        date_key(d.year, mm, dd) > date_key(today->year, today->month, today->day)) {
        d.year = 1900 + yy;
    }
    if (!valid_date(&d)) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "MRZ: %s '%.6s' is not a calendar date",
                           what, s);
    }
    int rc = check_digit(s, 6, cd, what, diag, diag_len);
    if (rc != 0) {
        return rc;
    }
    *out = d;
    return 0;
}

static int sex_field(char c, char *out, char *diag, size_t diag_len)
{
    if (c != 'F' && c != 'M' && c != 'X' && c != '<') {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "MRZ: sex '%c' is not F, M, X or '<'", c);
    }
    *out = c == '<' ? 'X' : c;
    return 0;
}

// '<' to one space, runs collapsed, ends trimmed. dst holds at least n + 1 bytes.
static void name_part(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') {
            space = o > 0;
            continue;
        }
        if (space) {
            dst[o++] = ' ';
            space = 0;
        }
        dst[o++] = s[i];
    }
    dst[o] = '\0';
}

// Primary identifier, "<<", secondary identifier; letters and fillers only.
static int name_field(const char *s, size_t n, cw_mrz_t *out, char *diag, size_t diag_len)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_alpha(s[i]) && s[i] != '<') {
            return cw_diag_set(diag, diag_len, CW_EFORMAT,
                               "MRZ: the name has '%c' at position %zu (letters and '<' only)",
                               s[i], i + 1);
        }
    }
    if (s[0] == '<') {
        return cw_diag_set(diag, diag_len, CW_EFORMAT,
                           "MRZ: the name starts with a filler (no primary identifier)");
    }
    size_t split = n;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '<' && s[i + 1] == '<') {
            split = i;
            break;
        }
    }
    name_part(out->surname, s, split);
    if (split < n) {
        name_part(out->given, s + split + 2, n - split - 2);
    }
    return 0;
}

// ---- formats ------------------------------------------------------------------------------------

static int parse_td3(const mrz_text *t, const cw_date_t *today, cw_mrz_t *out, char *diag,
                     size_t diag_len)
{
    const char *l1 = t->line[0];
    const char *l2 = t->line[1];
    size_t unused;
    int rc;
    out->format = CW_MRZ_TD3;
    if ((rc = doc_code(l1, "P", out->doc_code, diag, diag_len)) != 0 ||
        (rc = state_code(l1 + 2, "issuing state", out->issuer, diag, diag_len)) != 0 ||
        (rc = name_field(l1 + 5, 39, out, diag, diag_len)) != 0 ||
        (rc = doc_number(l2, l2[9], NULL, 0, out->number, &unused, diag, diag_len)) != 0 ||
        (rc = state_code(l2 + 10, "nationality", out->nationality, diag, diag_len)) != 0 ||
        (rc = mrz_date(l2 + 13, l2[19], "date of birth", today, &out->birth, diag, diag_len)) !=
            0 ||
        (rc = sex_field(l2[20], &out->sex, diag, diag_len)) != 0 ||
        (rc = mrz_date(l2 + 21, l2[27], "date of expiry", NULL, &out->expiry, diag, diag_len)) !=
            0) {
        return rc;
    }
    // The personal number's check digit may be '<' when the field holds nothing.
    const char *personal = l2 + 28;
    if (!(l2[42] == '<' && trimmed_len(personal, 14) == 0) &&
        (rc = check_digit(personal, 14, l2[42], "personal number", diag, diag_len)) != 0) {
        return rc;
    }
    copy_trimmed(out->optional, personal, 14);
    char composite[10 + 7 + 22];
    memcpy(composite, l2, 10);
    memcpy(composite + 10, l2 + 13, 7);
    memcpy(composite + 17, l2 + 21, 22);
    return check_digit(composite, sizeof(composite), l2[43], "composite (line 2)", diag, diag_len);
}

static int parse_td1(const mrz_text *t, const cw_date_t *today, cw_mrz_t *out, char *diag,
                     size_t diag_len)
{
    const char *l1 = t->line[0];
    const char *l2 = t->line[1];
    const char *l3 = t->line[2];
    size_t used = 0;
    int rc;
    out->format = CW_MRZ_TD1;
    if ((rc = doc_code(l1, "ACI", out->doc_code, diag, diag_len)) != 0 ||
        (rc = state_code(l1 + 2, "issuing state", out->issuer, diag, diag_len)) != 0 ||
        (rc = doc_number(l1 + 5, l1[14], l1 + 15, 1, out->number, &used, diag, diag_len)) != 0 ||
        (rc = mrz_date(l2, l2[6], "date of birth", today, &out->birth, diag, diag_len)) != 0 ||
        (rc = sex_field(l2[7], &out->sex, diag, diag_len)) != 0 ||
        (rc = mrz_date(l2 + 8, l2[14], "date of expiry", NULL, &out->expiry, diag, diag_len)) !=
            0 ||
        (rc = state_code(l2 + 15, "nationality", out->nationality, diag, diag_len)) != 0 ||
        (rc = name_field(l3, 30, out, diag, diag_len)) != 0) {
        return rc;
    }
    char composite[25 + 7 + 7 + 11];
    memcpy(composite, l1 + 5, 25);
    memcpy(composite + 25, l2, 7);
    memcpy(composite + 32, l2 + 8, 7);
    memcpy(composite + 39, l2 + 18, 11);
    if ((rc = check_digit(composite, sizeof(composite), l2[29], "composite (line 2)", diag,
                          diag_len)) != 0) {
        return rc;
    }
    copy_trimmed(out->optional, l1 + 15 + used, 15 - used);
    size_t n2 = trimmed_len(l2 + 18, 11);
    if (n2 > 0) {
        size_t o = strlen(out->optional);
        out->optional[o] = '<';
        memcpy(out->optional + o + 1, l2 + 18, n2);
        out->optional[o + 1 + n2] = '\0';
    }
    return 0;
}

int cw_mrz_parse(const char *text, size_t len, const cw_date_t *today, cw_mrz_t *out, char *diag,
                 size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (out == NULL || (text == NULL && len > 0) || today == NULL || !valid_date(today)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "MRZ: invalid arguments");
    }
    mrz_text t;
    int rc = split_lines(text != NULL ? text : "", len, &t, diag, diag_len);
    if (rc == 0) {
        size_t width = t.lines == 2 ? TD3_WIDTH : TD1_WIDTH;
        rc = check_characters(&t, width, diag, diag_len);
    }
    if (rc == 0) {
        rc = t.lines == 2 ? parse_td3(&t, today, out, diag, diag_len)
                          : parse_td1(&t, today, out, diag, diag_len);
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
