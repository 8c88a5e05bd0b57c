// SPDX-License-Identifier: Apache-2.0
// Masking of personal data for gate screens: enough for travellers to recognise their own record
// ("CHAN T** M**", "陳**", "…F37"), too little to learn someone else's. The names come from the
// store as UTF-8 but are still checked: invalid UTF-8 or control characters give "***" (names)
// or "…" (numbers), never the bytes themselves. Latin names: words are separated by spaces; the
// surname is the leading run of words in capitals (a word with a cased letter and no lower-case
// one: "CHAN", "O'NEILL", "ÅSTRÖM"), or the first word when no word or every word is in capitals
// (then the given names cannot be told apart any other way); each given name becomes its first
// letter and "**" ("Tai-man" -> "T**"; a word with no letter is dropped). Case is known for
// ASCII, Latin-1 and Latin Extended-A letters. Nothing is truncated: a result that does not fit
// cap is CW_ETOOBIG with an empty string.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <stdint.h>
#include <string.h>

static const char ellipsis[] = "\xe2\x80\xa6"; // U+2026

// Length of the valid, non-control UTF-8 sequence at s (1..4), with its code point; 0 if s
// does not start with one. s is NUL-terminated, so the continuation checks stop at the end.
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return c >= 0x20 && c != 0x7f ? 1 : 0;
    }
    size_t n;
    uint32_t v;
    unsigned lo = 0x80;
    unsigned hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80; // no overlong forms
        hi = c == 0xed ? 0x9f : 0xbf; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned b = s[i];
        if (b < lo || b > hi) {
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
        v = v << 6 | (b & 0x3f);
    }
    if (v >= 0x80 && v < 0xa0) {
        return 0; // C1 controls
    }
    *cp = v;
    return n;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0) {
            return 0;
        }
        p += n;
    }
    return 1;
}

// +1 upper case, -1 lower case, 0 neither (or not known: outside Latin Extended-A).
static int letter_case(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z') {
        return 1;
    }
    if (cp >= 'a' && cp <= 'z') {
        return -1;
    }
    if (cp < 0xc0 || cp == 0xd7 || cp == 0xf7 || cp > 0x17f) {
        return 0;
    }
    if (cp <= 0xde) {
        return 1;
    }
    if (cp <= 0xff) {
        return -1; // ß and the lower-case Latin-1 letters
    }
    if (cp == 0x138 || cp == 0x149 || cp == 0x17f) {
        return -1; // ĸ, ŉ, ſ have no capital
    }
    if (cp == 0x178) {
        return 1; // Ÿ
    }
    // The pairs start on even code points except in 0139..0148 and 0179..017E.
    int odd_upper = (cp >= 0x139 && cp <= 0x148) || cp >= 0x179;
    return ((cp & 1) != 0) == odd_upper ? 1 : -1;
}

static int is_letter(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 0xc0 && cp != 0xd7 && cp != 0xf7);
}

typedef struct sink {
    char *out;
    size_t cap;
    size_t len;
    int overflow;
} sink;

static void put(sink *s, const char *p, size_t n)
{
    if (s->overflow || n >= s->cap - s->len) {
        s->overflow = 1;
        return;
    }
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

static int finish(sink *s)
{
    if (s->overflow) {
        s->out[0] = '\0';
        return CW_ETOOBIG;
    }
    s->out[s->len] = '\0';
    return 0;
}

// Writes a fixed replacement ("***", "…", "").
static int put_only(const char *text, char *out, size_t cap)
{
    sink s = {out, cap, 0, 0};
    put(&s, text, strlen(text));
    return finish(&s);
}

static int args_ok(const char *in, char *out, size_t cap, int *rc)
{
    if (in == NULL || out == NULL) {
        *rc = CW_EINVAL;
        return 0;
    }
    if (cap == 0) {
        *rc = CW_ETOOBIG;
        return 0;
    }
    return 1;
}

// [*b, *e) without leading and trailing spaces.
static void trim(const char *s, const char **b, const char **e)
{
    const char *end = s + strlen(s);
    while (*s == ' ') {
        s++;
    }
    while (end > s && end[-1] == ' ') {
        end--;
    }
    *b = s;
    *e = end;
}

// 1 if the word [p, e) has a cased letter and no lower-case one.
static int all_capitals(const char *p, const char *e)
{
    int upper = 0;
    while (p < e) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)p, &cp);
        int c = letter_case(cp);
        if (c < 0) {
            return 0;
        }
        upper |= c > 0;
        p += n;
    }
    return upper;
}

static const char *word_end(const char *p, const char *e)
{
    while (p < e && *p != ' ') {
        p++;
    }
    return p;
}

static const char *skip_spaces(const char *p, const char *e)
{
    while (p < e && *p == ' ') {
        p++;
    }
    return p;
}

int cw_mask_name_latin(const char *name, char *out, size_t cap)
{
    int rc;
    if (!args_ok(name, out, cap, &rc)) {
        return rc;
    }
    if (!valid_utf8(name)) {
        return put_only("***", out, cap);
    }
    const char *b;
    const char *e;
    trim(name, &b, &e);
    // The surname: the leading words in capitals, unless that is none or all of them.
    size_t words = 0;
    size_t capitals = 0;
    int run = 1;
    for (const char *p = b; p < e; p = skip_spaces(word_end(p, e), e)) {
        int caps = all_capitals(p, word_end(p, e));
        run = run && caps;
        capitals += (size_t)run;
        words++;
    }
    size_t surname_words = capitals == 0 || capitals == words ? 1 : capitals;
    sink s = {out, cap, 0, 0};
    size_t w = 0;
    for (const char *p = b; p < e; p = skip_spaces(word_end(p, e), e), w++) {
        const char *we = word_end(p, e);
        if (w < surname_words) {
            if (w > 0) {
                put(&s, " ", 1);
            }
            put(&s, p, (size_t)(we - p));
            continue;
        }
        // A given name: its first letter, then "**".
        for (const char *q = p; q < we;) {
            uint32_t cp;
            size_t n = utf8_next((const unsigned char *)q, &cp);
            if (is_letter(cp)) {
                put(&s, " ", 1);
                put(&s, q, n);
                put(&s, "**", 2);
                break;
            }
            q += n;
        }
    }
    return finish(&s);
}

int cw_mask_name_local(const char *name, char *out, size_t cap)
{
    int rc;
    if (!args_ok(name, out, cap, &rc)) {
        return rc;
    }
    if (!valid_utf8(name)) {
        return put_only("***", out, cap);
    }
    const char *b;
    const char *e;
    trim(name, &b, &e);
    sink s = {out, cap, 0, 0};
    for (const char *p = b; p < e;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)p, &cp);
        if (p == b) {
            put(&s, p, n);
        } else {
            put(&s, "*", 1);
        }
        p += n;
    }
    return finish(&s);
}

int cw_mask_number(const char *number, char *out, size_t cap)
{
    int rc;
    if (!args_ok(number, out, cap, &rc)) {
        return rc;
    }
    if (!valid_utf8(number)) {
        return put_only(ellipsis, out, cap);
    }
    const char *b;
    const char *e;
    trim(number, &b, &e);
    size_t chars = 0;
    for (const char *p = b; p < e; p++) {
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    }
    sink s = {out, cap, 0, 0};
    put(&s, ellipsis, sizeof(ellipsis) - 1);
    if (chars > 3) {
        // The last three characters: back over three lead bytes.
        const char *tail = e;
        for (int k = 0; k < 3; k++) {
            do {
                tail--;
            } while (((unsigned char)*tail & 0xc0) == 0x80);
        }
        put(&s, tail, (size_t)(e - tail));
    }
    return finish(&s);
}
