// SPDX-License-Identifier: Apache-2.0
// Which build of the kernels (kernels.h) this process runs: chosen once, on first use, from the
// CPU's features. cw_cpu_has() already honours CW_FORCE_SCALAR, but with it set ops.c does not
// call these kernels at all; it runs its reference loops.
#include "kernels.h"

#include "clearway/cpu.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const cw__nn_kernels_t *chosen = &cw__nn_kernels_generic;

static void choose(void)
{
#ifdef CW_NN_HAVE_AVX2
    if (cw_cpu_has(CW_CPU_AVX2)) {
        chosen = &cw__nn_kernels_avx2;
    }
#endif
}

const cw__nn_kernels_t *cw__nn_kernels(void)
{
    pthread_once(&once, choose);
    return chosen;
}

int cw__nn_kernels_all(const cw__nn_kernels_t **out, int max)
{
    int n = 0;
    if (n < max) {
        out[n++] = &cw__nn_kernels_generic;
    }
#ifdef CW_NN_HAVE_AVX2
    if (n < max && (cw_cpu_features_hw() & CW_CPU_AVX2) != 0) {
        out[n++] = &cw__nn_kernels_avx2;
    }
#endif
    return n;
}
