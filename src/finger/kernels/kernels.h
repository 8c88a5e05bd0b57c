/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matcher's inner kernel: the masked popcount comparison of two Minutia Cylinder-Code bit
 * vectors. ref.c is the scalar reference (portable popcount); popcnt.c is the same code built
 * with the POPCNT instruction; avx512.c uses AVX-512 VPOPCNTDQ; dispatch.c picks one at
 * start-up (CW_FORCE_SCALAR=1 keeps the reference). All variants are bit-exact: they count the
 * same bits.
 */
#ifndef CLEARWAY_FINGER_KERNELS_H
#define CLEARWAY_FINGER_KERNELS_H

#include <stdint.h>

/* Cylinder layout: MCC_ND direction slices of MCC_NS x MCC_NS spatial cells, one bit each. */
#define MCC_NS 16
#define MCC_ND 6
#define MSK_WORDS ((MCC_NS * MCC_NS + 63) / 64)
#define CYL_WORDS (MSK_WORDS * MCC_ND)
#define CYL_BITS (CYL_WORDS * 64)

typedef struct cw__finger_kernels {
    const char *name;
    /*
     * Compare cylinder a with cylinders j0 .. j0 + nj - 1 of a template (bcyl, bmsk, brep: its
     * cell bits, masks and repeated masks, indexed by minutia), on the cells valid in both. A
     * cylinder's cell bits are only set where it is valid; ma, mb are validity masks
     * (MSK_WORDS words) and ra, rb the same masks repeated for each of the MCC_ND slices
     * (CYL_WORDS words). Pairs with fewer than min_cells common valid cells are skipped; for
     * the others, in order, jout gets the index and sim the bit-vector similarity
     * 1 - sqrt(|x ^ y|) / (sqrt(|x|) + sqrt(|y|)) of the restricted cylinders x and y (0 when
     * both are empty), in IEEE single precision (sqrt and division correctly rounded, so every
     * variant gives the same bits). Returns the number of pairs written.
     */
    int (*cyl_row)(const uint64_t *a, const uint64_t *ma, const uint64_t *ra, const uint64_t *bcyl,
                   const uint64_t *bmsk, const uint64_t *brep, int j0, int nj, int min_cells,
                   int *jout, float *sim);
} cw__finger_kernels_t;

extern const cw__finger_kernels_t cw__finger_kernels_ref;
#ifdef CW_FINGER_HAVE_POPCNT
extern const cw__finger_kernels_t cw__finger_kernels_popcnt;
#endif
#ifdef CW_FINGER_HAVE_AVX512
extern const cw__finger_kernels_t cw__finger_kernels_avx512;
#endif

/* The variant chosen for this CPU (once, thread-safe). */
const cw__finger_kernels_t *cw__finger_kernels(void);

/* Every variant this CPU can run, reference first; returns the count (for tests and bench). */
int cw__finger_kernels_all(const cw__finger_kernels_t **out, int max);

#endif
