/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of the scalar cylinder comparison, included by ref.c and popcnt.c so that both are
 * the same C compiled with different instruction sets (the portable popcount or POPCNT).
 * Defines static cyl_pair(); the including file names the table entry.
 */
#include "kernels.h"

static int cyl_pair(const uint64_t *a, const uint64_t *ma, const uint64_t *ra, const uint64_t *b,
                    const uint64_t *mb, const uint64_t *rb, int min_cells, unsigned *pa,
                    unsigned *pb, unsigned *px)
{
    int common = 0;
    for (int w = 0; w < MSK_WORDS; w++) {
        common += __builtin_popcountll(ma[w] & mb[w]);
    }
    if (common < min_cells) {
        return 1;
    }
    unsigned na = 0, nb = 0, nx = 0;
    for (int w = 0; w < CYL_WORDS; w++) {
        uint64_t x = a[w] & rb[w], y = b[w] & ra[w];
        na += (unsigned)__builtin_popcountll(x);
        nb += (unsigned)__builtin_popcountll(y);
        nx += (unsigned)__builtin_popcountll(x ^ y);
    }
    *pa = na;
    *pb = nb;
    *px = nx;
    return 0;
}
