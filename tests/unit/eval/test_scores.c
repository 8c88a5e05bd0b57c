// SPDX-License-Identifier: Apache-2.0
// Tests of the score file (src/eval/scores.c): a set written and read back is the same set and
// writes the same bytes again; every kind of malformed line is refused with CW_EFORMAT and its
// line number; appending grows the arrays; a missing file is CW_ENOENT.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/err.h"
#include "clearway/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_path[64];

static const char *write_tmp(const char *content, size_t len)
{
    strcpy(tmp_path, "/tmp/cw_test_scores_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void make_set(cw_eval_scores_t *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->system, "test system v1");
    strcpy(s->modality, "face");
    s->n_samples = 12;
    s->n_fta = 2;
    s->n_subjects = 3;
    s->subject = calloc(3, sizeof(char *));
    assert_non_null(s->subject);
    s->subject[0] = strdup("Ann");
    s->subject[2] = strdup("Carl Smith");
    assert_int_equal(cw_eval_scores_add(s, 1, 0.8125f, 0, 0), 0);
    assert_int_equal(cw_eval_scores_add(s, 1, 0.123456f, 2, 2), 0);
    assert_int_equal(cw_eval_scores_add(s, 0, -0.25f, 0, 2), 0);
    assert_int_equal(cw_eval_scores_add(s, 0, 0.333333f, 1, 2), 0);
    cw_eval_search_t m = {0, 1, 1, 0.75f, 0.5f};
    cw_eval_search_t nm = {1, 0, 0, NAN, 0.4f};
    cw_eval_search_t empty = {2, 1, 0, NAN, NAN};
    assert_int_equal(cw_eval_scores_add_search(s, &m), 0);
    assert_int_equal(cw_eval_scores_add_search(s, &nm), 0);
    assert_int_equal(cw_eval_scores_add_search(s, &empty), 0);
}

static void same_score(float a, float b)
{
    if (isnan(a) || isnan(b)) {
        assert_true(isnan(a) && isnan(b));
    } else {
        assert_true(fabsf(a - b) <= 5e-7f);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    cw_eval_scores_t s, r;
    make_set(&s);
    char p1[] = "/tmp/cw_test_rt1_XXXXXX", p2[] = "/tmp/cw_test_rt2_XXXXXX";
    close(mkstemp(p1));
    close(mkstemp(p2));
    assert_int_equal(cw_eval_scores_write(&s, p1), 0);
    char diag[256] = "";
    assert_int_equal(cw_eval_scores_read(p1, &r, diag, sizeof(diag)), 0);
    assert_string_equal(r.system, s.system);
    assert_string_equal(r.modality, "face");
    assert_int_equal(r.n_samples, 12);
    assert_int_equal(r.n_fta, 2);
    assert_int_equal(r.n_subjects, 3);
    assert_string_equal(r.subject[0], "Ann");
    assert_null(r.subject[1]);
    assert_string_equal(r.subject[2], "Carl Smith");
    assert_int_equal(r.n_gen, 2);
    assert_int_equal(r.n_imp, 2);
    for (size_t i = 0; i < 2; i++) {
        same_score(r.gen[i].score, s.gen[i].score);
        assert_int_equal(r.gen[i].a, s.gen[i].a);
        same_score(r.imp[i].score, s.imp[i].score);
        assert_int_equal(r.imp[i].a, s.imp[i].a);
        assert_int_equal(r.imp[i].b, s.imp[i].b);
    }
    assert_int_equal(r.n_search, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r.search[i].subject, s.search[i].subject);
        assert_int_equal(r.search[i].mated, s.search[i].mated);
        assert_int_equal(r.search[i].mate_rank, s.search[i].mate_rank);
        same_score(r.search[i].mate_score, s.search[i].mate_score);
        same_score(r.search[i].nonmate_score, s.search[i].nonmate_score);
    }
    // Written again, the same bytes.
    assert_int_equal(cw_eval_scores_write(&r, p2), 0);
    size_t n1, n2;
    char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_non_null(strstr(b1, "g\t0.812500\t0\t0\n"));
    assert_non_null(strstr(b1, "s\t1\t0\t0\tnan\t0.400000\n"));
    free(b1);
    free(b2);
    cw_eval_scores_free(&s);
    cw_eval_scores_free(&r);
    assert_null(r.gen);
    assert_int_equal(r.n_gen, 0);
    unlink(p1);
    unlink(p2);
}

typedef struct bad_case {
    const char *text;
    int line;
    const char *why;
} bad_case_t;

#define H "clearway-scores 1\n"

static void test_malformed_files(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"clearway-scores 2\n", 1, "wrong version"},
        {"", 1, "empty file"},
        {"# a comment first\n" H, 1, "no magic"},
        {H "g\t0.5\t0\t0\nx\t1\n", 3, "unknown record"},
        {H "g\t0.5\t0\n", 2, "missing field"},
        {H "g\t0.5\t0\t0\t7\n", 2, "extra field"},
        {H "i\tabc\t0\t1\n", 2, "score not a number"},
        {H "i\tinf\t0\t1\n", 2, "infinite score"},
        {H "i\tnan\t0\t1\n", 2, "NaN pair score"},
        {H "i\t0x1p-1\t0\t1\n", 2, "hex float"},
        {H "i\t 0.5\t0\t1\n", 2, "blank before score"},
        {H "i\t0.5 \t0\t1\n", 2, "blank after score"},
        {H "i\t1e39\t0\t1\n", 2, "score out of float range"},
        {H "i\t0.5\t-1\t1\n", 2, "negative subject"},
        {H "i\t0.5\t0\t99999999999\n", 2, "subject index too large"},
        {H "i\t0.5\t0\t4194304\n", 2, "subject index at the cap"},
        {H "\n", 2, "blank line"},
        {H "g\t0.5\t0\t0\r\n", 2, "CR line end"},
        {H "system\ta\nsystem\tb\n", 3, "system twice"},
        {H "system\t\n", 2, "empty system"},
        {H "modality\tFace!\n", 2, "bad modality"},
        {H "samples\t10\nsamples\t10\n", 3, "samples twice"},
        {H "samples\t-3\n", 2, "negative samples"},
        {H "samples\t3\nfta\t4\n", 3, "fta exceeds samples"},
        {H "subject\t1\tAnn\nsubject\t1\tBob\n", 3, "subject named twice"},
        {H "subject\t1\t\n", 2, "empty subject name"},
        {H "s\t0\t2\t1\t0.5\t0.4\n", 2, "mated not 0 or 1"},
        {H "s\t0\t0\t3\tnan\t0.4\n", 2, "non-mated search with a rank"},
        {H "s\t0\t0\t0\t0.5\t0.4\n", 2, "non-mated search with a mate score"},
        {H "s\t0\t1\t70000\t0.5\t0.4\n", 2, "rank too large"},
        {H "s\t0\t1\t1\t0.5\n", 2, "search missing a field"},
        {H "g\t0.5\t0\t0\n#ok\ng\t0.5\x00\t0\t0\n", 4, "NUL byte"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t len = strlen(cases[c].text);
        if (strcmp(cases[c].why, "NUL byte") == 0) {
            len = sizeof(H "g\t0.5\t0\t0\n#ok\ng\t0.5\x00\t0\t0\n") - 1;
        }
        const char *path = write_tmp(cases[c].text, len);
        cw_eval_scores_t r;
        char diag[256] = "";
        int rc = cw_eval_scores_read(path, &r, diag, sizeof(diag));
        char want[32];
        snprintf(want, sizeof(want), "line %d:", cases[c].line);
        if (rc != CW_EFORMAT || strncmp(diag, want, strlen(want)) != 0) {
            fail_msg("%s: rc %d, diag '%s' (want CW_EFORMAT and '%s')", cases[c].why, rc, diag,
                     want);
        }
        assert_null(r.gen);
        assert_null(r.subject);
        unlink(path);
    }
}

static void test_long_line_refused(void **state)
{
    (void)state;
    size_t n = 3 * 1024 * 1024;
    char *text = malloc(n);
    assert_non_null(text);
    memcpy(text, H "# ", 20);
    memset(text + 20, 'x', n - 20);
    const char *path = write_tmp(text, n);
    cw_eval_scores_t r;
    char diag[256] = "";
    assert_int_equal(cw_eval_scores_read(path, &r, diag, sizeof(diag)), CW_EFORMAT);
    assert_non_null(strstr(diag, "line 2: longer than"));
    unlink(path);
    free(text);
}

static void test_lenient_forms(void **state)
{
    (void)state;
    // Comments anywhere after the first line, no final newline, "-nan", undeclared subjects.
    const char ok[] = H "# made by hand\nmodality\tfinger\ng\t1.5\t4\t4\ni\t-2e-3\t0\t4\n"
                        "s\t3\t1\t2\t0.5\t-nan";
    const char *path = write_tmp(ok, strlen(ok));
    cw_eval_scores_t r;
    char diag[256] = "";
    assert_int_equal(cw_eval_scores_read(path, &r, diag, sizeof(diag)), 0);
    assert_string_equal(r.modality, "finger");
    assert_int_equal(r.n_gen, 1);
    assert_int_equal(r.n_imp, 1);
    assert_true(fabsf(r.imp[0].score + 2e-3f) < 1e-9f);
    assert_int_equal(r.n_search, 1);
    assert_true(isnan(r.search[0].nonmate_score));
    assert_int_equal(r.n_subjects, 5); // indices up to 4 are named by records
    assert_null(r.subject[4]);
    cw_eval_scores_free(&r);
    unlink(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    cw_eval_scores_t r;
    char diag[128] = "";
    assert_int_equal(cw_eval_scores_read("/nonexistent/x.scores", &r, diag, sizeof(diag)),
                     CW_ENOENT);
    assert_int_equal(cw_eval_scores_read(NULL, &r, NULL, 0), CW_EINVAL);
    cw_eval_scores_t s = {0};
    assert_int_equal(cw_eval_scores_write(&s, "/nonexistent/dir/x.scores"), CW_EIO);
}

static void test_add_grows(void **state)
{
    (void)state;
    cw_eval_scores_t s = {0};
    for (uint32_t i = 0; i < 100000; i++) {
        assert_int_equal(cw_eval_scores_add(&s, (int)(i & 1), (float)i, i, i + 1), 0);
    }
    assert_int_equal(s.n_gen, 50000);
    assert_int_equal(s.n_imp, 50000);
    for (size_t i = 0; i < s.n_imp; i++) {
        assert_true(s.imp[i].score == (float)(2 * i) && s.imp[i].a == 2 * i);
    }
    cw_eval_scores_free(&s);
    cw_eval_scores_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_long_line_refused), cmocka_unit_test(test_lenient_forms),
        cmocka_unit_test(test_missing_file),      cmocka_unit_test(test_add_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
