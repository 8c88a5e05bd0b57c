// SPDX-License-Identifier: Apache-2.0
// Which variant of the cylinder comparison this process runs: chosen once, on first use, from
// the CPU's features (cw_cpu_has honours CW_FORCE_SCALAR, which keeps the reference).
#include "kernels.h"

#include "clearway/cpu.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const cw__finger_kernels_t *chosen = &cw__finger_kernels_ref;

static void choose(void)
{
#ifdef CW_FINGER_HAVE_POPCNT
    if (cw_cpu_has(CW_CPU_POPCNT)) {
        chosen = &cw__finger_kernels_popcnt;
    }
#endif
}

const cw__finger_kernels_t *cw__finger_kernels(void)
{
    pthread_once(&once, choose);
    return chosen;
}
