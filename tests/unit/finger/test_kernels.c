// SPDX-License-Identifier: Apache-2.0
// The cylinder comparison kernels (finger/kernels): every variant this CPU runs (scalar
// reference, POPCNT, AVX-512 VPOPCNTDQ) gives exactly the similarities of a plain bit-by-bit loop,
// on random cylinders and masks, on empty and full ones, with skipped pairs and sub-ranges.
#include "kernels/kernels.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { N = 40 };

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t cyl[N][CYL_WORDS], rep[N][CYL_WORDS], msk[N][MSK_WORDS];

static void make(int i, int density)
{
    for (int w = 0; w < MSK_WORDS; w++) {
        msk[i][w] = density == 0 ? 0 : density == 3 ? ~0ull : next() | next();
    }
    for (int k = 0; k < MCC_ND; k++) {
        for (int w = 0; w < MSK_WORDS; w++) {
            uint64_t bits = density == 3 ? ~0ull : density == 1 ? next() & next() : next();
            cyl[i][k * MSK_WORDS + w] = bits & msk[i][w]; // cells only where valid
            rep[i][k * MSK_WORDS + w] = msk[i][w];
        }
    }
}

static int bit(const uint64_t *v, int b)
{
    return (int)(v[b / 64] >> (b % 64) & 1);
}

static void plain(int a, int b, int *common, unsigned *pa, unsigned *pb, unsigned *px)
{
    *common = 0;
    *pa = *pb = *px = 0;
    for (int c = 0; c < MSK_WORDS * 64; c++) {
        *common += bit(msk[a], c) & bit(msk[b], c);
    }
    for (int k = 0; k < MCC_ND; k++) {
        for (int c = 0; c < MSK_WORDS * 64; c++) {
            int both = bit(msk[a], c) & bit(msk[b], c);
            int x = both & bit(cyl[a], k * MSK_WORDS * 64 + c);
            int y = both & bit(cyl[b], k * MSK_WORDS * 64 + c);
            *pa += (unsigned)x;
            *pb += (unsigned)y;
            *px += (unsigned)(x ^ y);
        }
    }
}

static void variants_agree_with_plain_loop(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        make(i, i < 2 ? 0 : i < 4 ? 3 : 1 + i % 2);
    }
    const cw__finger_kernels_t *all[8];
    int nk = cw__finger_kernels_all(all, 8);
    assert_true(nk >= 1);
    assert_string_equal(all[0]->name, "scalar");
    const int min_cells[3] = {0, 100, 10000};
    const int ranges[3][2] = {{0, N}, {5, 12}, {N - 1, 1}}; // first cylinder, count
    for (int k = 0; k < nk; k++) {
        for (int mc = 0; mc < 3; mc++) {
            for (int r = 0; r < 3; r++) {
                for (int a = 0; a < N; a++) {
                    int jout[N];
                    float sim[N];
                    int m =
                        all[k]->cyl_row(cyl[a], msk[a], rep[a], &cyl[0][0], &msk[0][0], &rep[0][0],
                                        ranges[r][0], ranges[r][1], min_cells[mc], jout, sim);
                    int q = 0;
                    for (int j = ranges[r][0]; j < ranges[r][0] + ranges[r][1]; j++) {
                        int common;
                        unsigned ea, eb, ex;
                        plain(a, j, &common, &ea, &eb, &ex);
                        if (common < min_cells[mc]) {
                            continue;
                        }
                        float den = sqrtf((float)ea) + sqrtf((float)eb);
                        float want = den > 0.0f ? 1.0f - sqrtf((float)ex) / den : 0.0f;
                        assert_true(q < m);
                        assert_int_equal(jout[q], j);
                        assert_memory_equal(&sim[q], &want, sizeof(float)); // bit-exact
                        q++;
                    }
                    assert_int_equal(q, m);
                }
            }
        }
    }
    // The chosen variant is one of them.
    const cw__finger_kernels_t *chosen = cw__finger_kernels();
    int found = 0;
    for (int k = 0; k < nk; k++) {
        found |= all[k] == chosen;
    }
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(variants_agree_with_plain_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
