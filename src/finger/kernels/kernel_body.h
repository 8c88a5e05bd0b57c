/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of the scalar cylinder comparison, included by ref.c and popcnt.c so that both are
 * the same C compiled with different instruction sets (the portable popcount or POPCNT).
 * Defines static cyl_row(); the including file names the table entry.
 */
#include "kernels.h"

#include <math.h>
#include <stddef.h>

static int cyl_row(const uint64_t *a, const uint64_t *ma, const uint64_t *ra, const uint64_t *bcyl,
                   const uint64_t *bmsk, const uint64_t *brep, int j0, int nj, int min_cells,
                   int *jout, float *sim)
{
    int m = 0;
    for (int j = j0; j < j0 + nj; j++) {
        const uint64_t *b = bcyl + (size_t)j * CYL_WORDS, *mb = bmsk + (size_t)j * MSK_WORDS;
        const uint64_t *rb = brep + (size_t)j * CYL_WORDS;
        int common = 0;
        for (int w = 0; w < MSK_WORDS; w++) {
            common += __builtin_popcountll(ma[w] & mb[w]);
        }
        if (common < min_cells) {
            continue;
        }
        unsigned na = 0, nb = 0, nx = 0;
        for (int w = 0; w < CYL_WORDS; w++) {
            uint64_t x = a[w] & rb[w], y = b[w] & ra[w];
            na += (unsigned)__builtin_popcountll(x);
            nb += (unsigned)__builtin_popcountll(y);
            nx += (unsigned)__builtin_popcountll(x ^ y);
        }
        float den = sqrtf((float)na) + sqrtf((float)nb);
        jout[m] = j;
        sim[m] = den > 0.0f ? 1.0f - sqrtf((float)nx) / den : 0.0f;
        m++;
    }
    return m;
}
