/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU feature detection for SIMD dispatch. Kernels ask once at start-up which instruction sets
 * the CPU and the operating system support (CPUID plus XGETBV for the register state) and pick
 * a variant; CW_FORCE_SCALAR=1 in the environment makes every check report no features so the
 * scalar reference kernels run everywhere.
 */
#ifndef CLEARWAY_CPU_H
#define CLEARWAY_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

enum cw_cpu_feature {
    CW_CPU_SSE2 = 1u << 0,
    CW_CPU_SSE41 = 1u << 1,
    CW_CPU_AVX = 1u << 2,
    CW_CPU_FMA = 1u << 3,
    CW_CPU_F16C = 1u << 4,
    CW_CPU_AVX2 = 1u << 5,
    CW_CPU_AVX512F = 1u << 6,
    CW_CPU_AVX512BW = 1u << 7,
    CW_CPU_AVX512DQ = 1u << 8,
    CW_CPU_AVX512VL = 1u << 9,
    CW_CPU_AVX512VNNI = 1u << 10,
    CW_CPU_AVXVNNI = 1u << 11,
    CW_CPU_POPCNT = 1u << 12,
};

/*
 * cw_cpu_features: the features usable for dispatch: what the hardware and OS support, or 0
 * when CW_FORCE_SCALAR is set to a value other than "0" or empty. Computed once; thread-safe.
 */
unsigned cw_cpu_features(void);

/* cw_cpu_features_hw: what the hardware and OS support, ignoring CW_FORCE_SCALAR. */
unsigned cw_cpu_features_hw(void);

/* cw_cpu_has: all of the given feature bits usable (per cw_cpu_features)? */
int cw_cpu_has(unsigned features);

/* cw_cpu_forced_scalar: was CW_FORCE_SCALAR honoured? */
int cw_cpu_forced_scalar(void);

/*
 * cw_cpu_describe: write the names of the features in mask ("avx2 fma avx512f ...", or "none")
 * into buf (always NUL-terminated when len > 0). Returns the length the full text needs.
 */
int cw_cpu_describe(unsigned mask, char *buf, unsigned long len);

/* cw_cpu_model_name: the CPU brand string ("unknown" if the CPU has none). Static; thread-safe. */
const char *cw_cpu_model_name(void);

/* cw_cpu_count: online logical CPUs (at least 1). */
int cw_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
