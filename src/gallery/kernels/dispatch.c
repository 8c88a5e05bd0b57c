// SPDX-License-Identifier: Apache-2.0
// Which variant of the scan kernels (kernels.h) this process runs: chosen once, on first use,
// from the CPU's features (cw_cpu_has honours CW_FORCE_SCALAR, which leaves the reference).
// Preference: AVX-512 VNNI (one vpdpbusd per 64 byte pairs, and the batched dotm), AVX-512BW,
// AVX-VNNI, AVX2. CW_GALLERY_HAVE_* say which variants this build compiled.
#include "kernels.h"

#include "clearway/cpu.h"

#include <pthread.h>

#define NEED_AVX512VNNI (CW_CPU_AVX512F | CW_CPU_AVX512BW | CW_CPU_AVX512VNNI)
#define NEED_AVX512BW (CW_CPU_AVX512F | CW_CPU_AVX512BW)
#define NEED_AVXVNNI (CW_CPU_AVX2 | CW_CPU_AVXVNNI)
#define NEED_AVX2 (CW_CPU_AVX2)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const cw__gallery_kernels_t *chosen = &cw__gallery_kernels_scalar;

// The variants this build has, best first, with the features each needs.
static const struct {
    const cw__gallery_kernels_t *k;
    unsigned need;
} variants[] = {
#ifdef CW_GALLERY_HAVE_AVX512VNNI
    {&cw__gallery_kernels_avx512vnni, NEED_AVX512VNNI},
#endif
#ifdef CW_GALLERY_HAVE_AVX512BW
    {&cw__gallery_kernels_avx512bw, NEED_AVX512BW},
#endif
#ifdef CW_GALLERY_HAVE_AVXVNNI
    {&cw__gallery_kernels_avxvnni, NEED_AVXVNNI},
#endif
#ifdef CW_GALLERY_HAVE_AVX2
    {&cw__gallery_kernels_avx2, NEED_AVX2},
#endif
    {&cw__gallery_kernels_scalar, 0},
};

static void choose(void)
{
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        if (cw_cpu_has(variants[i].need)) {
            chosen = variants[i].k;
            return;
        }
    }
}

const cw__gallery_kernels_t *cw__gallery_kernels(void)
{
    pthread_once(&once, choose);
    return chosen;
}

const cw__gallery_kernels_t *cw__gallery_kernels_ref(void)
{
    return &cw__gallery_kernels_scalar;
}

int cw__gallery_kernels_all(const cw__gallery_kernels_t **out, int max)
{
    int n = 0;
    if (n < max) {
        out[n++] = &cw__gallery_kernels_scalar;
    }
    unsigned hw = cw_cpu_features_hw();
    for (size_t i = sizeof(variants) / sizeof(variants[0]); i-- > 0;) {
        if (variants[i].need != 0 && (hw & variants[i].need) == variants[i].need && n < max) {
            out[n++] = variants[i].k;
        }
    }
    return n;
}
