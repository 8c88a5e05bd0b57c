// SPDX-License-Identifier: Apache-2.0
// Score sets and their text file ("clearway-scores 1"): appending comparisons and searches,
// writing, and a strict reader. The reader is built for runs of tens of millions of lines (a
// face set's impostor pairs): it reads in large blocks and parses fields in place, with no
// allocation per line, and refuses anything malformed with the line number in diag.
#include "eval_internal.h"

#include "clearway/err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 1 << 20, MAX_FIELDS = 8 };

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    if (need > CW__EVAL_MAX_RECORDS) {
        return CW_ETOOBIG;
    }
    size_t n = *cap < 1024 ? 1024 : *cap + *cap / 2;
    if (n < need) {
        n = need;
    }
    if (n > SIZE_MAX / elem) {
        return CW_ENOMEM;
    }
    void *p = realloc(*arr, n * elem);
    if (p == NULL) {
        return CW_ENOMEM;
    }
    *arr = p;
    *cap = n;
    return 0;
}

// The capacity of an array is not stored in the public struct: it is the count rounded up the
// way grow() rounds, recomputed here (1024, then +half each time).
static size_t cap_of(size_t n)
{
    if (n == 0) {
        return 0;
    }
    size_t c = 1024;
    while (c < n) {
        c = c + c / 2;
    }
    return c;
}

int cw_eval_scores_add(cw_eval_scores_t *s, int genuine, float score, uint32_t a, uint32_t b)
{
    if (s == NULL) {
        return CW_EINVAL;
    }
    cw_eval_pair_t **arr = genuine ? &s->gen : &s->imp;
    size_t *n = genuine ? &s->n_gen : &s->n_imp;
    size_t cap = cap_of(*n);
    if (*n == cap) {
        size_t next = cap < 1024 ? 1024 : cap + cap / 2;
        int rc = grow((void **)arr, &cap, next, sizeof(**arr));
        if (rc != 0) {
            return rc;
        }
    }
    (*arr)[(*n)++] = (cw_eval_pair_t){score, a, b};
    return 0;
}

int cw_eval_scores_add_search(cw_eval_scores_t *s, const cw_eval_search_t *r)
{
    if (s == NULL || r == NULL) {
        return CW_EINVAL;
    }
    size_t cap = cap_of(s->n_search);
    if (s->n_search == cap) {
        size_t next = cap < 1024 ? 1024 : cap + cap / 2;
        int rc = grow((void **)&s->search, &cap, next, sizeof(*s->search));
        if (rc != 0) {
            return rc;
        }
    }
    s->search[s->n_search++] = *r;
    return 0;
}

void cw_eval_scores_free(cw_eval_scores_t *s)
{
    if (s == NULL) {
        return;
    }
    free(s->gen);
    free(s->imp);
    free(s->search);
    for (uint32_t i = 0; s->subject != NULL && i < s->n_subjects; i++) {
        free(s->subject[i]);
    }
    free(s->subject);
    memset(s, 0, sizeof(*s));
}

// ---- writing ----

// A name on one field: tabs, newlines and other control bytes become spaces.
static void put_name(FILE *f, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, f);
    }
}

static void put_score(FILE *f, float v)
{
    if (isnan(v)) {
        fputs("nan", f);
    } else {
        fprintf(f, "%.6f", (double)v);
    }
}

int cw_eval_scores_write(const cw_eval_scores_t *s, const char *path)
{
    if (s == NULL || path == NULL) {
        return CW_EINVAL;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return CW_EIO;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("clearway-scores 1\n", f);
    if (s->system[0] != '\0') {
        fputs("system\t", f);
        put_name(f, s->system);
        fputc('\n', f);
    }
    if (s->modality[0] != '\0') {
        fputs("modality\t", f);
        put_name(f, s->modality);
        fputc('\n', f);
    }
    fprintf(f, "samples\t%llu\nfta\t%llu\n", (unsigned long long)s->n_samples,
            (unsigned long long)s->n_fta);
    for (uint32_t i = 0; s->subject != NULL && i < s->n_subjects; i++) {
        if (s->subject[i] != NULL && s->subject[i][0] != '\0') {
            fprintf(f, "subject\t%u\t", (unsigned)i);
            put_name(f, s->subject[i]);
            fputc('\n', f);
        }
    }
    for (size_t i = 0; i < s->n_gen; i++) {
        fputs("g\t", f);
        put_score(f, s->gen[i].score);
        fprintf(f, "\t%u\t%u\n", (unsigned)s->gen[i].a, (unsigned)s->gen[i].b);
    }
    for (size_t i = 0; i < s->n_imp; i++) {
        fputs("i\t", f);
        put_score(f, s->imp[i].score);
        fprintf(f, "\t%u\t%u\n", (unsigned)s->imp[i].a, (unsigned)s->imp[i].b);
    }
    for (size_t i = 0; i < s->n_search; i++) {
        const cw_eval_search_t *r = &s->search[i];
        fprintf(f, "s\t%u\t%u\t%u\t", (unsigned)r->subject, (unsigned)r->mated,
                (unsigned)r->mate_rank);
        put_score(f, r->mate_score);
        fputc('\t', f);
        put_score(f, r->nonmate_score);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        return CW_EIO;
    }
    return 0;
}

// ---- reading ----

typedef struct field {
    const char *p;
    size_t len;
} field_t;

static int is_keyword(const field_t *f, const char *kw)
{
    size_t n = strlen(kw);
    return f->len == n && memcmp(f->p, kw, n) == 0;
}

// A decimal count: digits only, at most max.
static int parse_uint(const field_t *f, uint64_t max, uint64_t *out)
{
    if (f->len == 0 || f->len > 20) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < f->len; i++) {
        unsigned d = (unsigned)(unsigned char)f->p[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

// A finite decimal score ("nan" too when allow_nan); no blanks, no infinities.
static int parse_score(const field_t *f, int allow_nan, float *out)
{
    char tmp[48];
    if (f->len == 0 || f->len >= sizeof(tmp)) {
        return -1;
    }
    char c = f->p[0];
    if (!((c >= '0' && c <= '9') || c == '-' || c == '.' || c == 'n')) {
        return -1;
    }
    memcpy(tmp, f->p, f->len);
    tmp[f->len] = '\0';
    if (strcmp(tmp, "nan") == 0 || strcmp(tmp, "-nan") == 0) {
        if (!allow_nan) {
            return -1;
        }
        *out = NAN;
        return 0;
    }
    for (size_t i = 0; i < f->len; i++) { // plain decimals only: no hex floats, no "inf"
        char d = tmp[i];
        if (!((d >= '0' && d <= '9') || d == '-' || d == '+' || d == '.' || d == 'e' || d == 'E')) {
            return -1;
        }
    }
    char *end;
    errno = 0;
    float v = strtof(tmp, &end);
    if (end != tmp + f->len || !isfinite(v) || errno == ERANGE) {
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct parse_state {
    cw_eval_scores_t *s;
    size_t cap_gen, cap_imp, cap_search;
    uint32_t cap_subjects;
    uint32_t max_used; // 1 + the highest subject index a record names
    int seen_system, seen_modality, seen_samples, seen_fta;
    size_t fta_line;
} parse_state_t;

static int need_subjects(parse_state_t *st, uint32_t n)
{
    cw_eval_scores_t *s = st->s;
    if (n <= s->n_subjects) {
        return 0;
    }
    if (n > st->cap_subjects) {
        uint32_t c = st->cap_subjects < 256 ? 256 : st->cap_subjects;
        while (c < n) {
            c = c > CW__EVAL_MAX_SUBJECTS / 2 ? CW__EVAL_MAX_SUBJECTS : c * 2;
        }
        char **p = realloc(s->subject, (size_t)c * sizeof(*p));
        if (p == NULL) {
            return CW_ENOMEM;
        }
        s->subject = p;
        st->cap_subjects = c;
    }
    memset(s->subject + s->n_subjects, 0, (size_t)(n - s->n_subjects) * sizeof(char *));
    s->n_subjects = n;
    return 0;
}

#define FAIL(...) cw_diag_set(diag, diag_len, CW_EFORMAT, __VA_ARGS__)

static int parse_line(parse_state_t *st, const char *line, size_t len, size_t lineno, char *diag,
                      size_t diag_len)
{
    cw_eval_scores_t *s = st->s;
    if (len > 0 && line[0] == '#') {
        return 0;
    }
    if (memchr(line, '\0', len) != NULL) {
        return FAIL("line %zu: NUL byte", lineno);
    }
    field_t f[MAX_FIELDS];
    int nf = 0;
    const char *p = line;
    const char *end = line + len;
    for (;;) {
        const char *t = memchr(p, '\t', (size_t)(end - p));
        if (nf == MAX_FIELDS) {
            return FAIL("line %zu: too many fields", lineno);
        }
        f[nf].p = p;
        f[nf].len = (size_t)((t ? t : end) - p);
        nf++;
        if (t == NULL) {
            break;
        }
        p = t + 1;
    }
    uint64_t v[3];
    float sc[2];
    if (is_keyword(&f[0], "g") || is_keyword(&f[0], "i")) {
        int genuine = f[0].p[0] == 'g';
        if (nf != 4 || parse_score(&f[1], 0, &sc[0]) != 0 ||
            parse_uint(&f[2], CW__EVAL_MAX_SUBJECTS - 1, &v[0]) != 0 ||
            parse_uint(&f[3], CW__EVAL_MAX_SUBJECTS - 1, &v[1]) != 0) {
            return FAIL("line %zu: expected '%c<TAB>SCORE<TAB>A<TAB>B' (a finite score, subject "
                        "indices below %u)",
                        lineno, genuine ? 'g' : 'i', (unsigned)CW__EVAL_MAX_SUBJECTS);
        }
        size_t *n = genuine ? &s->n_gen : &s->n_imp;
        size_t *cap = genuine ? &st->cap_gen : &st->cap_imp;
        cw_eval_pair_t **arr = genuine ? &s->gen : &s->imp;
        int rc = grow((void **)arr, cap, *n + 1, sizeof(**arr));
        if (rc != 0) {
            return cw_diag_set(diag, diag_len, rc, "line %zu: too many pairs", lineno);
        }
        (*arr)[(*n)++] = (cw_eval_pair_t){sc[0], (uint32_t)v[0], (uint32_t)v[1]};
        uint32_t hi = (uint32_t)(v[0] > v[1] ? v[0] : v[1]) + 1;
        st->max_used = hi > st->max_used ? hi : st->max_used;
        return 0;
    }
    if (is_keyword(&f[0], "s")) {
        if (nf != 6 || parse_uint(&f[1], CW__EVAL_MAX_SUBJECTS - 1, &v[0]) != 0 ||
            parse_uint(&f[2], 1, &v[1]) != 0 || parse_uint(&f[3], UINT16_MAX, &v[2]) != 0 ||
            parse_score(&f[4], 1, &sc[0]) != 0 || parse_score(&f[5], 1, &sc[1]) != 0) {
            return FAIL("line %zu: expected 's<TAB>SUBJECT<TAB>0|1<TAB>RANK<TAB>MATE_SCORE<TAB>"
                        "NONMATE_SCORE'",
                        lineno);
        }
        if (v[1] == 0 && (v[2] != 0 || !isnan(sc[0]))) {
            return FAIL("line %zu: a non-mated search has no mate rank or score", lineno);
        }
        int rc = grow((void **)&s->search, &st->cap_search, s->n_search + 1, sizeof(*s->search));
        if (rc != 0) {
            return cw_diag_set(diag, diag_len, rc, "line %zu: too many searches", lineno);
        }
        s->search[s->n_search++] =
            (cw_eval_search_t){(uint32_t)v[0], (uint8_t)v[1], (uint16_t)v[2], sc[0], sc[1]};
        st->max_used = (uint32_t)v[0] + 1 > st->max_used ? (uint32_t)v[0] + 1 : st->max_used;
        return 0;
    }
    if (is_keyword(&f[0], "subject")) {
        if (nf != 3 || parse_uint(&f[1], CW__EVAL_MAX_SUBJECTS - 1, &v[0]) != 0 || f[2].len == 0 ||
            f[2].len > CW__EVAL_MAX_NAME) {
            return FAIL("line %zu: expected 'subject<TAB>INDEX<TAB>NAME' (index below %u, a name "
                        "of 1..%d bytes)",
                        lineno, (unsigned)CW__EVAL_MAX_SUBJECTS, CW__EVAL_MAX_NAME);
        }
        uint32_t idx = (uint32_t)v[0];
        int rc = need_subjects(st, idx + 1);
        if (rc != 0) {
            return cw_diag_set(diag, diag_len, rc, "line %zu: out of memory", lineno);
        }
        if (s->subject[idx] != NULL) {
            return FAIL("line %zu: subject %u named twice", lineno, (unsigned)idx);
        }
        s->subject[idx] = malloc(f[2].len + 1);
        if (s->subject[idx] == NULL) {
            return cw_diag_set(diag, diag_len, CW_ENOMEM, "line %zu: out of memory", lineno);
        }
        memcpy(s->subject[idx], f[2].p, f[2].len);
        s->subject[idx][f[2].len] = '\0';
        return 0;
    }
    if (is_keyword(&f[0], "system")) {
        if (nf != 2 || st->seen_system || f[1].len == 0 || f[1].len >= sizeof(s->system)) {
            return FAIL("line %zu: expected one 'system<TAB>NAME' (1..%zu bytes)", lineno,
                        sizeof(s->system) - 1);
        }
        memcpy(s->system, f[1].p, f[1].len);
        s->system[f[1].len] = '\0';
        st->seen_system = 1;
        return 0;
    }
    if (is_keyword(&f[0], "modality")) {
        int ok = nf == 2 && !st->seen_modality && f[1].len > 0 && f[1].len < sizeof(s->modality);
        for (size_t i = 0; ok && i < f[1].len; i++) {
            char c = f[1].p[i];
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (!ok) {
            return FAIL("line %zu: expected one 'modality<TAB>face|finger' (lower-case word of "
                        "at most %zu letters)",
                        lineno, sizeof(s->modality) - 1);
        }
        memcpy(s->modality, f[1].p, f[1].len);
        s->modality[f[1].len] = '\0';
        st->seen_modality = 1;
        return 0;
    }
    if (is_keyword(&f[0], "samples") || is_keyword(&f[0], "fta")) {
        int is_fta = f[0].p[0] == 'f';
        int *seen = is_fta ? &st->seen_fta : &st->seen_samples;
        if (nf != 2 || *seen || parse_uint(&f[1], UINT64_MAX / 2, &v[0]) != 0) {
            return FAIL("line %zu: expected one '%s<TAB>COUNT'", lineno,
                        is_fta ? "fta" : "samples");
        }
        *(is_fta ? &s->n_fta : &s->n_samples) = v[0];
        *seen = 1;
        if (is_fta) {
            st->fta_line = lineno;
        }
        return 0;
    }
    return FAIL("line %zu: unknown record '%.*s'", lineno, (int)(f[0].len > 16 ? 16 : f[0].len),
                f[0].p);
}

int cw__eval_scores_read_stream(FILE *f, cw_eval_scores_t *out, char *diag, size_t diag_len)
{
    if (f == NULL || out == NULL) {
        return CW_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    char *buf = malloc(BLOCK);
    if (buf == NULL) {
        return CW_ENOMEM;
    }
    parse_state_t st = {0};
    st.s = out;
    size_t start = 0;
    size_t end = 0;
    size_t lineno = 0;
    int eof = 0;
    int rc = 0;
    while (rc == 0) {
        char *nl = memchr(buf + start, '\n', end - start);
        if (nl == NULL && !eof) {
            if (end - start > CW__EVAL_MAX_LINE) {
                rc = FAIL("line %zu: longer than %d bytes", lineno + 1, CW__EVAL_MAX_LINE);
                break;
            }
            memmove(buf, buf + start, end - start);
            end -= start;
            start = 0;
            size_t got = fread(buf + end, 1, BLOCK - end, f);
            if (got == 0) {
                if (ferror(f)) {
                    rc = cw_diag_set(diag, diag_len, CW_EIO, "read error after line %zu", lineno);
                    break;
                }
                eof = 1;
            }
            end += got;
            continue;
        }
        if (nl == NULL && start == end) {
            break; // end of file after a newline
        }
        size_t len = (size_t)((nl ? nl : buf + end) - (buf + start));
        const char *line = buf + start;
        start += len + (nl != NULL);
        lineno++;
        if (len > CW__EVAL_MAX_LINE) {
            rc = FAIL("line %zu: longer than %d bytes", lineno, CW__EVAL_MAX_LINE);
        } else if (lineno == 1) {
            static const char magic[] = "clearway-scores 1";
            if (len != sizeof(magic) - 1 || memcmp(line, magic, len) != 0) {
                rc = FAIL("line 1: not a score file (expected 'clearway-scores 1')");
            }
        } else {
            rc = parse_line(&st, line, len, lineno, diag, diag_len);
        }
    }
    if (rc == 0 && lineno == 0) {
        rc = FAIL("line 1: empty file (expected 'clearway-scores 1')");
    }
    if (rc == 0 && out->n_fta > out->n_samples) {
        rc = FAIL("line %zu: fta %llu exceeds samples %llu", st.fta_line,
                  (unsigned long long)out->n_fta, (unsigned long long)out->n_samples);
    }
    if (rc == 0) {
        rc = need_subjects(&st, st.max_used);
    }
    free(buf);
    if (rc != 0) {
        cw_eval_scores_free(out);
    }
    return rc;
}

int cw_eval_scores_read(const char *path, cw_eval_scores_t *out, char *diag, size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (path == NULL || out == NULL) {
        return CW_EINVAL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return cw_diag_set(diag, diag_len, errno == ENOENT ? CW_ENOENT : CW_EIO, "cannot open: %s",
                           strerror(errno));
    }
    int rc = cw__eval_scores_read_stream(f, out, diag, diag_len);
    fclose(f);
    return rc;
}
