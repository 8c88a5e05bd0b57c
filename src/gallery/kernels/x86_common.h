/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every x86 variant of the scan kernels shares: forced inlining (the kernels are templates
 * instantiated per row width) and the software prefetch of the rows ahead of the scan.
 */
#ifndef CW_GALLERY_KERNELS_X86_COMMON_H
#define CW_GALLERY_KERNELS_X86_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define CW__GK_INLINE static inline __attribute__((always_inline))

/*
 * How far ahead of the rows being multiplied the scan asks for rows, in bytes. The hardware
 * prefetchers stop at 4 KB page boundaries and ramp up slowly after each; asking explicitly
 * keeps enough lines in flight for one core to approach the read loop's bandwidth
 * (bench/gallery_kernels). Override with -DCW__GK_PREFETCH=0 to measure without.
 */
#ifndef CW__GK_PREFETCH
#define CW__GK_PREFETCH 4096
#endif

/* Prefetch bytes [lo, hi) of the rows block base, clamped to its total bytes. */
CW__GK_INLINE void cw__gk_prefetch(const int8_t *base, size_t lo, size_t hi, size_t total)
{
#if CW__GK_PREFETCH > 0
    hi = hi < total ? hi : total;
    for (size_t o = lo; o < hi; o += 64) {
        _mm_prefetch((const char *)(base + o), _MM_HINT_T0);
    }
#else
    (void)base, (void)lo, (void)hi, (void)total;
#endif
}

#endif
