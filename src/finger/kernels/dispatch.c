// SPDX-License-Identifier: Apache-2.0
// Which variant of the cylinder comparison this process runs: chosen once, on first use, from
// the CPU's features. CW_FORCE_SCALAR=1 keeps the reference. AVX-512 VPOPCNTDQ is not among
// the core module's feature bits, so it is asked of the compiler's CPU probe, and only when
// the core reports AVX-512F usable (which includes the OS saving the registers).
#include "kernels.h"

#include "clearway/cpu.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const cw__finger_kernels_t *chosen = &cw__finger_kernels_ref;

static int have_avx512(void)
{
#if defined(CW_FINGER_HAVE_AVX512) && defined(__GNUC__)
    __builtin_cpu_init();
    return cw_cpu_has(CW_CPU_AVX512F) && __builtin_cpu_supports("avx512vpopcntdq");
#else
    return 0;
#endif
}

static void choose(void)
{
#ifdef CW_FINGER_HAVE_AVX512
    if (have_avx512()) {
        chosen = &cw__finger_kernels_avx512;
        return;
    }
#endif
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

int cw__finger_kernels_all(const cw__finger_kernels_t **out, int max)
{
    int n = 0;
    if (n < max) {
        out[n++] = &cw__finger_kernels_ref;
    }
    unsigned hw = cw_cpu_features_hw();
    (void)hw;
#ifdef CW_FINGER_HAVE_POPCNT
    if (n < max && (hw & CW_CPU_POPCNT)) {
        out[n++] = &cw__finger_kernels_popcnt;
    }
#endif
#ifdef CW_FINGER_HAVE_AVX512
    __builtin_cpu_init();
    if (n < max && (hw & CW_CPU_AVX512F) && __builtin_cpu_supports("avx512vpopcntdq")) {
        out[n++] = &cw__finger_kernels_avx512;
    }
#endif
    return n;
}
