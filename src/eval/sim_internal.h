/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the population model shared with its tests: the two samplers of the direct
 * simulation (the fast one must agree with the plain one).
 */
#ifndef CLEARWAY_EVAL_SIM_INTERNAL_H
#define CLEARWAY_EVAL_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64 step (state must not be 0); a double uniform in (0, 1). */
double cw__sim_uniform(uint64_t *state);

/*
 * The indices into a sorted array of m scores of the best and second best of n >= 1 draws with
 * replacement (*i2 = SIZE_MAX when n is 1): from the two largest of n uniforms, O(1).
 */
void cw__sim_top2(uint64_t *state, size_t m, uint64_t n, size_t *i1, size_t *i2);

/* The same by drawing all n and keeping the best two: O(n), the reference. */
void cw__sim_top2_brute(uint64_t *state, size_t m, uint64_t n, size_t *i1, size_t *i2);

#endif
