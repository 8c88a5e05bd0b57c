// SPDX-License-Identifier: Apache-2.0
// CPU feature detection with CPUID and XGETBV (a CPU may have AVX-512 that the OS does not
// enable), computed once and cached; CW_FORCE_SCALAR masks everything for the reference path.
#include "clearway/cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CW_X86 1
#endif

static const struct {
    unsigned bit;
    const char *name;
} feature_names[] = {
    {CW_CPU_SSE2, "sse2"},
    {CW_CPU_SSE41, "sse4.1"},
    {CW_CPU_POPCNT, "popcnt"},
    {CW_CPU_AVX, "avx"},
    {CW_CPU_FMA, "fma"},
    {CW_CPU_F16C, "f16c"},
    {CW_CPU_AVX2, "avx2"},
    {CW_CPU_AVXVNNI, "avx-vnni"},
    {CW_CPU_AVX512F, "avx512f"},
    {CW_CPU_AVX512BW, "avx512bw"},
    {CW_CPU_AVX512DQ, "avx512dq"},
    {CW_CPU_AVX512VL, "avx512vl"},
    {CW_CPU_AVX512VNNI, "avx512vnni"},
};

#ifdef CW_X86
static unsigned long long read_xcr0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static unsigned detect(void)
{
    unsigned a, b, c, d;
    unsigned f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) {
        return 0;
    }
    if (d & bit_SSE2) {
        f |= CW_CPU_SSE2;
    }
    if (c & bit_SSE4_1) {
        f |= CW_CPU_SSE41;
    }
    if (c & bit_POPCNT) {
        f |= CW_CPU_POPCNT;
    }
    int osxsave = (c & bit_OSXSAVE) != 0;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;   // SSE and AVX state saved by the OS
    int zmm_ok = (xcr0 & 0xe6) == 0xe6; // plus opmask and the upper ZMM state
    if (ymm_ok && (c & bit_AVX)) {
        f |= CW_CPU_AVX;
        if (c & bit_FMA) {
            f |= CW_CPU_FMA;
        }
        if (c & bit_F16C) {
            f |= CW_CPU_F16C;
        }
    }
    unsigned max_leaf = (unsigned)__get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (ymm_ok && (f & CW_CPU_AVX) && (b & bit_AVX2)) {
            f |= CW_CPU_AVX2;
        }
        if (zmm_ok && (b & bit_AVX512F)) {
            f |= CW_CPU_AVX512F;
            if (b & bit_AVX512BW) {
                f |= CW_CPU_AVX512BW;
            }
            if (b & bit_AVX512DQ) {
                f |= CW_CPU_AVX512DQ;
            }
            if (b & bit_AVX512VL) {
                f |= CW_CPU_AVX512VL;
            }
            if (c & (1u << 11)) { // AVX512_VNNI
                f |= CW_CPU_AVX512VNNI;
            }
        }
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1;
        (void)c1;
        (void)d1;
        if (ymm_ok && (f & CW_CPU_AVX2) && (a1 & (1u << 4))) { // AVX-VNNI
            f |= CW_CPU_AVXVNNI;
        }
    }
    return f;
}
#else
static unsigned detect(void)
{
    return 0;
}
#endif

// Cached as value + 1 so that 0 means "not yet computed"; racing first calls compute the same.
static atomic_uint hw_cache;
static atomic_int forced_cache = -1;

unsigned cw_cpu_features_hw(void)
{
    unsigned v = atomic_load(&hw_cache);
    if (v == 0) {
        v = detect() + 1;
        atomic_store(&hw_cache, v);
    }
    return v - 1;
}

int cw_cpu_forced_scalar(void)
{
    int v = atomic_load(&forced_cache);
    if (v < 0) {
        const char *e = getenv("CW_FORCE_SCALAR");
        v = e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
        atomic_store(&forced_cache, v);
    }
    return v;
}

unsigned cw_cpu_features(void)
{
    return cw_cpu_forced_scalar() ? 0 : cw_cpu_features_hw();
}

int cw_cpu_has(unsigned features)
{
    return (cw_cpu_features() & features) == features;
}

int cw_cpu_describe(unsigned mask, char *buf, unsigned long len)
{
    size_t pos = 0;
    if (len > 0) {
        buf[0] = '\0';
    }
    for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
        if (mask & feature_names[i].bit) {
            int n = snprintf(pos < len ? buf + pos : NULL, pos < len ? len - pos : 0, "%s%s",
                             pos > 0 ? " " : "", feature_names[i].name);
            pos += (size_t)n;
        }
    }
    if (pos == 0) {
        int n = snprintf(buf, len, "none");
        pos = (size_t)n;
    }
    return (int)pos;
}

static char model_name[49] = "unknown";
static pthread_once_t model_once = PTHREAD_ONCE_INIT;

static void read_model_name(void)
{
#ifdef CW_X86
    unsigned regs[12];
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++) {
            __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                        &regs[4 * i + 3]);
        }
        char tmp[49];
        memcpy(tmp, regs, 48);
        tmp[48] = '\0';
        const char *s = tmp;
        while (*s == ' ') {
            s++;
        }
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == ' ') {
            n--;
        }
        if (n > 0) {
            memcpy(model_name, s, n);
            model_name[n] = '\0';
        }
    }
#endif
}

const char *cw_cpu_model_name(void)
{
    pthread_once(&model_once, read_model_name);
    return model_name;
}

int cw_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
