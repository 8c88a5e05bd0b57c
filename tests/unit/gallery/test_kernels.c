// SPDX-License-Identifier: Apache-2.0
// The gallery's int8 scan kernels (src/gallery/kernels) against plain loops written here, for
// every variant this CPU can run (the scalar reference included). The kernels' sums are exact
// int32, so every variant must give the plain loop's value bit for bit: over random row counts
// (0, 1, 7, odd, across the 8- and 16-row groups and the row blocks), every width dpad from 64 to
// 1024, every batch size m from 1 to 64, rows and queries at odd addresses, and the extreme values
// (all +-127) that make a careless u8 x s8 kernel saturate, and outside the data contract. No
// kernel may write past out's end.
// The dispatcher must honour CW_FORCE_SCALAR (checked in a child process, as the choice is made
// once per process).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../src/gallery/kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_VARIANTS = 8, CANARY = 0x5a5a5a5a, GUARD = 16 };

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int rand_int(int lo, int hi)
{
    return lo + (int)(next() % (uint32_t)(hi - lo + 1));
}

typedef enum fill { FILL_RANDOM, FILL_PLUS, FILL_MINUS, FILL_SIGNS, FILL_SPARSE } fill_t;

static int8_t value(fill_t f)
{
    switch (f) {
    case FILL_PLUS:
        return 127;
    case FILL_MINUS:
        return -127;
    case FILL_SIGNS:
        return (next() & 1) != 0 ? 127 : -127;
    case FILL_SPARSE:
        return (next() & 7) != 0 ? 0 : (int8_t)rand_int(-127, 127);
    default:
        return (int8_t)rand_int(-127, 127);
    }
}

// A buffer of len int8 values starting `off` bytes past a 64-byte boundary; *block is what to free.
static int8_t *alloc_values(size_t len, size_t off, fill_t f, int8_t **block)
{
    *block = aligned_alloc(64, (len + off + 64) / 64 * 64);
    assert_non_null(*block);
    int8_t *p = *block + off;
    for (size_t i = 0; i < len; i++) {
        p[i] = value(f);
    }
    return p;
}

static int32_t dot_plain(const int8_t *a, const int8_t *b, size_t len)
{
    int64_t s = 0;
    for (size_t j = 0; j < len; j++) {
        s += (int64_t)a[j] * b[j];
    }
    return (int32_t)s;
}

typedef struct scan_case {
    size_t n, dpad;
    int m;
    int8_t *qblock, *rblock;
    const int8_t *q, *rows;
    int32_t *expect; // m x n
    int32_t *out;    // m x n + GUARD
} scan_case_t;

static size_t rand_rows(void)
{
    static const size_t fixed[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 257};
    if (rand_int(0, 2) == 0) {
        return fixed[rand_int(0, (int)(sizeof(fixed) / sizeof(fixed[0])) - 1)];
    }
    return (size_t)rand_int(0, 300);
}

static void make_case(scan_case_t *c, size_t n, size_t dpad, int m, fill_t fq, fill_t fr)
{
    c->n = n;
    c->dpad = dpad;
    c->m = m;
    c->q = alloc_values((size_t)m * dpad, (size_t)rand_int(0, 63), fq, &c->qblock);
    c->rows = alloc_values(n * dpad, (size_t)rand_int(0, 63), fr, &c->rblock);
    c->expect = malloc(((size_t)m * n + 1) * sizeof(int32_t));
    c->out = malloc(((size_t)m * n + GUARD) * sizeof(int32_t));
    assert_true(c->expect != NULL && c->out != NULL);
    for (int qi = 0; qi < m; qi++) {
        for (size_t i = 0; i < n; i++) {
            c->expect[(size_t)qi * n + i] =
                dot_plain(c->q + (size_t)qi * dpad, c->rows + i * dpad, dpad);
        }
    }
}

static void free_case(scan_case_t *c)
{
    free(c->qblock);
    free(c->rblock);
    free(c->expect);
    free(c->out);
}

// Run one variant on the case (dot1 for m == 1 when use_dot1, else dotm) and compare.
static void check(const cw__gallery_kernels_t *k, scan_case_t *c, int use_dot1, const char *what)
{
    size_t total = (size_t)c->m * c->n;
    for (size_t i = 0; i < total + GUARD; i++) {
        c->out[i] = CANARY;
    }
    if (use_dot1) {
        k->dot1(c->q, c->rows, c->n, c->dpad, c->out);
    } else {
        k->dotm(c->q, c->m, c->rows, c->n, c->dpad, c->out);
    }
    for (size_t i = 0; i < total; i++) {
        if (c->out[i] != c->expect[i]) {
            fail_msg("%s %s: n %zu dpad %zu m %d: query %zu row %zu: %d, expected %d", k->name,
                     what, c->n, c->dpad, c->m, c->n != 0 ? i / c->n : 0, c->n != 0 ? i % c->n : 0,
                     c->out[i], c->expect[i]);
        }
    }
    for (size_t i = total; i < total + GUARD; i++) {
        if (c->out[i] != CANARY) {
            fail_msg("%s %s: n %zu dpad %zu m %d: wrote past out[%zu]", k->name, what, c->n,
                     c->dpad, c->m, total);
        }
    }
}

static int variants(const cw__gallery_kernels_t **k)
{
    int nk = cw__gallery_kernels_all(k, MAX_VARIANTS);
    assert_true(nk >= 1);
    assert_string_equal(k[0]->name, "scalar");
    return nk;
}

static void test_dot1_random(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    for (int iter = 0; iter < 400; iter++) {
        scan_case_t c;
        fill_t f = iter % 7 == 0 ? FILL_SPARSE : FILL_RANDOM;
        make_case(&c, rand_rows(), 64 * (size_t)rand_int(1, 16), 1, f, f);
        for (int j = 0; j < nk; j++) {
            check(k[j], &c, 1, "dot1");
        }
        free_case(&c);
    }
}

// Every combination of +-127 (all one sign, or random signs) for the query and the rows: the
// largest sums, and the pairs that saturate a u8 x s8 multiply-add fed q + 128.
static void test_dot1_extremes(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    static const fill_t fills[] = {FILL_PLUS, FILL_MINUS, FILL_SIGNS};
    for (size_t dpad = 64; dpad <= 1024; dpad += 64) {
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                scan_case_t c;
                make_case(&c, (size_t)rand_int(0, 40), dpad, 1, fills[a], fills[b]);
                for (int j = 0; j < nk; j++) {
                    check(k[j], &c, 1, "dot1 extremes");
                }
                free_case(&c);
            }
        }
    }
}

static void test_dotm_random(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    for (int iter = 0; iter < 192; iter++) {
        scan_case_t c;
        int m = iter < 64 ? iter + 1 : rand_int(1, CW__GALLERY_DOTM_MAX);
        size_t dpad = 64 * (size_t)rand_int(1, 16);
        size_t n = rand_rows();
        if (n * dpad > 150000) { // keep the sanitizer build quick
            n = 150000 / dpad;
        }
        make_case(&c, n, dpad, m, FILL_RANDOM, FILL_RANDOM);
        for (int j = 0; j < nk; j++) {
            check(k[j], &c, 0, "dotm");
        }
        free_case(&c);
    }
}

static void test_dotm_extremes(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    static const fill_t fills[] = {FILL_PLUS, FILL_MINUS, FILL_SIGNS};
    static const int ms[] = {1, 2, 7, 8, 16, 17, 33, 64};
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            for (size_t im = 0; im < sizeof(ms) / sizeof(ms[0]); im++) {
                scan_case_t c;
                size_t dpad = im % 2 == 0 ? 1024 : 64 * (size_t)rand_int(1, 16);
                make_case(&c, (size_t)rand_int(0, 40), dpad, ms[im], fills[a], fills[b]);
                for (int j = 0; j < nk; j++) {
                    check(k[j], &c, 0, "dotm extremes");
                }
                free_case(&c);
            }
        }
    }
}

// Outside the data contract (dpad not a multiple of 64 or above 1024, more than 64 queries) the
// kernels take slower paths, but the sums stay exact and nothing is written out of bounds.
static void test_outside_contract(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    static const size_t dpads[] = {4, 100, 160, 1088, 128};
    static const int ms[] = {1, 3, 9, 70};
    for (size_t id = 0; id < sizeof(dpads) / sizeof(dpads[0]); id++) {
        for (size_t im = 0; im < sizeof(ms) / sizeof(ms[0]); im++) {
            scan_case_t c;
            make_case(&c, (size_t)rand_int(0, 40), dpads[id], ms[im], FILL_RANDOM, FILL_RANDOM);
            for (int j = 0; j < nk; j++) {
                if (ms[im] == 1) {
                    check(k[j], &c, 1, "dot1 outside the contract");
                }
                check(k[j], &c, 0, "dotm outside the contract");
            }
            free_case(&c);
        }
    }
}

// find_pass: the first row whose d x scale reaches a bar, the same index from every variant and
// the plain loop, over lengths across the vector widths, bars below, equal to and above the
// products, removed rows (scale 0) and misaligned starts.
static void test_find_pass(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    enum { MAXN = 300 };
    int32_t dbuf[MAXN + 16];
    float sbuf[MAXN + 16];
    for (int iter = 0; iter < 4000; iter++) {
        size_t off = (size_t)rand_int(0, 15);
        size_t n = (size_t)rand_int(0, MAXN);
        int32_t *d = dbuf + off;
        float *sc = sbuf + off;
        for (size_t i = 0; i < n; i++) {
            d[i] = rand_int(-16129 * 8, 16129 * 8);
            sc[i] = rand_int(0, 9) == 0 ? 0.0f : (float)rand_int(1, 1000) * 1e-5f;
        }
        float t;
        switch (iter % 4) {
        case 0: // equal to one product: >= must find it (or an earlier one)
            if (n > 0) {
                size_t p = (size_t)rand_int(0, (int)n - 1);
                t = (float)d[p] * sc[p];
                t = t > 0.0f ? t : 1e-3f;
            } else {
                t = 1.0f;
            }
            break;
        case 1:
            t = 1e-30f; // every positive product passes
            break;
        case 2:
            t = 1e30f; // none
            break;
        default:
            t = (float)rand_int(800, 1300); // rare hits, often none
            break;
        }
        if (iter % 7 == 0 && n > 0) {
            d[n - 1] = 16129 * 8; // the only hit in the last lane
            sc[n - 1] = 0.01f;
            t = 1200.0f;
        }
        size_t want = 0;
        while (want < n && !((float)d[want] * sc[want] >= t)) {
            want++;
        }
        for (int j = 0; j < nk; j++) {
            size_t got = k[j]->find_pass(d, sc, n, t);
            if (got != want) {
                fail_msg("%s: find_pass(n %zu, t %g) = %zu, expected %zu", k[j]->name, n, (double)t,
                         got, want);
            }
        }
    }
}

// The comparison can fail: one row value changed after the expected sums were computed gives
// a different result for that row, and only that row, in every variant.
static void test_comparison_can_fail(void **state)
{
    (void)state;
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = variants(k);
    scan_case_t c;
    make_case(&c, 37, 128, 20, FILL_SIGNS, FILL_RANDOM); // no query value is 0
    // Row 5, value 3 (through the non-const block pointer).
    int8_t *r = c.rblock + (c.rows - c.rblock) + 5 * 128 + 3;
    *r = (int8_t)(*r == 127 ? 126 : *r + 1);
    for (int j = 0; j < nk; j++) {
        k[j]->dot1(c.q, c.rows, c.n, c.dpad, c.out);
        for (size_t i = 0; i < c.n; i++) {
            assert_true((c.out[i] != c.expect[i]) == (i == 5));
        }
        k[j]->dotm(c.q, c.m, c.rows, c.n, c.dpad, c.out);
        for (size_t i = 0; i < (size_t)c.m * c.n; i++) {
            assert_true((c.out[i] != c.expect[i]) == (i % c.n == 5));
        }
    }
    free_case(&c);
}

// The name of the variant a fresh process chooses with CW_FORCE_SCALAR set to force.
static void chosen_in_child(const char *self, const char *force, char *name, size_t len)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char env[64];
        snprintf(env, sizeof(env), "CW_FORCE_SCALAR=%s", force);
        char *const argv[] = {(char *)self, (char *)"--chosen", NULL};
        char *const envp[] = {env, NULL};
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        execve(self, argv, envp);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(fd[0], name + got, len - 1 - got)) > 0) {
        got += (size_t)r;
    }
    name[got] = '\0';
    close(fd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *self_path;

static void test_force_scalar(void **state)
{
    (void)state;
    char name[64];
    chosen_in_child(self_path, "1", name, sizeof(name));
    assert_string_equal(name, "scalar");
    assert_string_equal(cw__gallery_kernels_ref()->name, "scalar");
    // Without the override the child chooses what this process would have chosen unforced:
    // the first variant in dispatch order the CPU runs, which is never the reference when the
    // CPU has AVX2.
    chosen_in_child(self_path, "0", name, sizeof(name));
    const char *env = getenv("CW_FORCE_SCALAR");
    if (env == NULL || env[0] == '\0' || strcmp(env, "0") == 0) {
        assert_string_equal(name, cw__gallery_kernels()->name);
    }
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    if (variants(k) > 1) {
        assert_string_not_equal(name, "scalar");
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--chosen") == 0) {
        fputs(cw__gallery_kernels()->name, stdout);
        return 0;
    }
    self_path = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv[0];
    const cw__gallery_kernels_t *k[MAX_VARIANTS];
    int nk = cw__gallery_kernels_all(k, MAX_VARIANTS);
    for (int j = 0; j < nk; j++) {
        print_message("gallery kernels: %s%s\n", k[j]->name,
                      k[j] == cw__gallery_kernels() ? " (chosen)" : "");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot1_random),         cmocka_unit_test(test_dot1_extremes),
        cmocka_unit_test(test_dotm_random),         cmocka_unit_test(test_dotm_extremes),
        cmocka_unit_test(test_outside_contract),    cmocka_unit_test(test_find_pass),
        cmocka_unit_test(test_comparison_can_fail), cmocka_unit_test(test_force_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
