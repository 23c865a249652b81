// Version, CPU feature detection and small helpers.
#include "internal.h"

int ouro_kernels_version(void) { return 2; }

int ouro_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int ouro_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return ouro_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

int ouro_resolve_path(int path) {
    switch (path) {
    case OURO_PATH_AUTO: return ouro_has_avx512() ? OURO_PATH_AVX512 : ouro_has_avx2() ? OURO_PATH_AVX2 : OURO_PATH_PORTABLE;
    case OURO_PATH_PORTABLE: return OURO_PATH_PORTABLE;
    case OURO_PATH_AVX2: return ouro_has_avx2() ? OURO_PATH_AVX2 : -1;
    case OURO_PATH_AVX512: return ouro_has_avx512() ? OURO_PATH_AVX512 : -1;
    default: return -1;
    }
}
