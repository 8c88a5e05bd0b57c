/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of the cylinder comparison, included by each variant's file so that every variant
 * is the same C compiled with different instruction sets (POPCNT or the portable fallback).
 * Defines static cyl_pair(); the including file names the table entry.
 */
#include "kernels.h"

static int cyl_pair(const uint64_t *a, const uint64_t *ma, const uint64_t *b, const uint64_t *mb,
                    int min_cells, unsigned *pa, unsigned *pb, unsigned *px)
{
    uint64_t m[MSK_WORDS];
    int common = 0;
    for (int w = 0; w < MSK_WORDS; w++) {
        m[w] = ma[w] & mb[w];
        common += __builtin_popcountll(m[w]);
    }
    if (common < min_cells) {
        return 1;
    }
    unsigned na = 0, nb = 0, nx = 0;
    for (int k = 0; k < MCC_ND; k++) {
        for (int w = 0; w < MSK_WORDS; w++) {
            uint64_t x = a[k * MSK_WORDS + w] & m[w], y = b[k * MSK_WORDS + w] & m[w];
            na += (unsigned)__builtin_popcountll(x);
            nb += (unsigned)__builtin_popcountll(y);
            nx += (unsigned)__builtin_popcountll(x ^ y);
        }
    }
    *pa = na;
    *pb = nb;
    *px = nx;
    return 0;
}
