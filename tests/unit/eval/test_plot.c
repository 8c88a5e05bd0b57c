// SPDX-License-Identifier: Apache-2.0
// Tests of the plots (src/eval/plot.c): the DET and histogram SVGs are well formed (one root
// element, balanced tags), have one curve per system and a legend entry naming it (escaped),
// keep a 1M-pair set to a few thousand points, and PNG conversion reports a missing tool.
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

static char *slurp(const char *path)
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
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

// Starts with <svg, ends with </svg>, and every open tag is closed in order (self-closing
// ones aside); no bare '&' or '<' in text.
static int well_formed(const char *s)
{
    if (strncmp(s, "<svg", 4) != 0) {
        return 0;
    }
    char stack[32][16];
    int depth = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '&' && strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 &&
            strncmp(p, "&gt;", 4) != 0 && strncmp(p, "&quot;", 6) != 0) {
            return 0;
        }
        if (*p != '<') {
            continue;
        }
        const char *end = strchr(p, '>');
        if (end == NULL) {
            return 0;
        }
        if (p[1] == '/') {
            size_t len = strcspn(p + 2, ">");
            if (depth == 0 || strlen(stack[depth - 1]) != len ||
                strncmp(stack[depth - 1], p + 2, len) != 0) {
                return 0;
            }
            depth--;
        } else if (end[-1] != '/') {
            size_t len = strcspn(p + 1, " >");
            if (depth == 32 || len >= 16) {
                return 0;
            }
            memcpy(stack[depth], p + 1, len);
            stack[depth][len] = '\0';
            depth++;
        }
        const char *lt = memchr(p + 1, '<', (size_t)(end - p - 1));
        if (lt != NULL) {
            return 0;
        }
        p = end;
    }
    return depth == 0;
}

static uint64_t rng = 5;

static double normal(void)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        u[k] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static void gauss_set(cw_eval_scores_t *s, const char *name, double d, size_t ng, size_t ni)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->system, sizeof(s->system), "%s", name);
    for (size_t i = 0; i < ng; i++) {
        assert_int_equal(cw_eval_scores_add(s, 1, (float)(d + normal()), 0, 0), 0);
    }
    for (size_t i = 0; i < ni; i++) {
        assert_int_equal(cw_eval_scores_add(s, 0, (float)normal(), 0, 1), 0);
    }
}

static void test_det(void **state)
{
    (void)state;
    cw_eval_scores_t a, b;
    gauss_set(&a, "face <A&B>", 3.0, 20000, 1000000);
    gauss_set(&b, "finger", 2.0, 500, 5000);
    const cw_eval_scores_t *sets[] = {&a, &b};
    char path[] = "/tmp/cw_test_det_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cw_eval_det_svg(path, sets, 2, "two \"systems\""), 0);
    char *svg = slurp(path);
    assert_true(well_formed(svg));
    assert_int_equal(count(svg, "<polyline class=\"det\""), 2);
    assert_non_null(strstr(svg, "face &lt;A&amp;B&gt; (20000 genuine, 1000000 impostor)"));
    assert_non_null(strstr(svg, ">1e-7</text>"));
    assert_non_null(strstr(svg, ">1e-4</text>"));
    // Thinned: the 1M-pair curve is a few thousand points, not a million.
    const char *pts = strstr(svg, "points=\"");
    size_t n_pts = 0;
    for (const char *p = pts; *p != '/'; p++) {
        n_pts += *p == ',';
    }
    assert_true(n_pts > 100 && n_pts < 5000);
    free(svg);
    // One system; a set without impostors is refused.
    assert_int_equal(cw_eval_det_svg(path, sets, 1, "one"), 0);
    svg = slurp(path);
    assert_int_equal(count(svg, "<polyline class=\"det\""), 1);
    free(svg);
    cw_eval_scores_t empty = {0};
    const cw_eval_scores_t *bad[] = {&empty};
    assert_int_equal(cw_eval_det_svg(path, bad, 1, "x"), CW_EINVAL);
    assert_int_equal(cw_eval_det_svg("/nonexistent/d.svg", sets, 1, "x"), CW_EIO);
    unlink(path);
    cw_eval_scores_free(&a);
    cw_eval_scores_free(&b);
}

static void test_well_formed_can_fail(void **state)
{
    (void)state;
    assert_true(well_formed("<svg><g><text>a</text></g></svg>"));
    assert_false(well_formed("<svg><g></svg>"));
    assert_false(well_formed("<svg><text>a & b</text></svg>"));
    assert_false(well_formed("<html></html>"));
}

static int hist_ticks_ok(const cw_eval_scores_t *r, const char *path)
{
    assert_int_equal(cw_eval_hist_svg(path, r, 0, "ticks"), 0);
    char *svg = slurp(path);
    static const char *const want[] = {">-0.6<", ">-0.4<", ">-0.2<", ">0<",
                                       ">0.2<",  ">0.4<",  ">0.6<",  ">0.8<"};
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        assert_non_null(strstr(svg, want[k]));
    }
    assert_null(strstr(svg, ">-0.313<"));
    free(svg);
    return 0;
}

static void test_hist(void **state)
{
    (void)state;
    cw_eval_scores_t a;
    gauss_set(&a, "h", 3.0, 2000, 20000);
    char path[] = "/tmp/cw_test_hist_XXXXXX";
    close(mkstemp(path));
    for (int log_y = 0; log_y <= 1; log_y++) {
        assert_int_equal(cw_eval_hist_svg(path, &a, log_y, "scores & more"), 0);
        char *svg = slurp(path);
        assert_true(well_formed(svg));
        assert_int_equal(count(svg, "<polyline class=\"hist\""), 2);
        assert_non_null(strstr(svg, "genuine (2000)"));
        assert_non_null(strstr(svg, log_y ? "density (log scale)" : ">density<"));
        free(svg);
    }
    // The score axis is labelled at round values (here every 0.2, with 0 exactly), not at
    // fifths of the data's range (-0.313, 0.014, ...).
    cw_eval_scores_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(cw_eval_scores_add(&r, 1, 0.995f, 0, 0), 0);
    assert_int_equal(cw_eval_scores_add(&r, 0, -0.64f, 0, 1), 0);
    assert_int_equal(hist_ticks_ok(&r, path), 0);
    unlink(path);
    cw_eval_scores_free(&a);
    cw_eval_scores_free(&r);
}

static void test_png_without_tool(void **state)
{
    (void)state;
    // With an empty PATH the tool cannot be found: CW_ENOENT, never a crash or a shell.
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent", 1);
    assert_int_equal(cw_eval_svg_to_png("/tmp/x.svg", "/tmp/x.png"), CW_ENOENT);
    if (saved != NULL) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    assert_int_equal(cw_eval_svg_to_png(NULL, "/tmp/x.png"), CW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_det),
        cmocka_unit_test(test_well_formed_can_fail),
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_png_without_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
