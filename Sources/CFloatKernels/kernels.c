// Dispatch of the float kernels over the AVX2 (8-lane) and AVX-512 (16-lane) instantiations of
// body.inc.
#include "ouro_float_kernels.h"
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

// Fused multiply-adds only where body.inc asks for them: the Swift reference does not contract.
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define LANES 8
#define TARGET __attribute__((target("avx2,fma")))
#define NAME(x) x##_avx2
#include "body.inc"
#undef LANES
#undef TARGET
#undef NAME

#define LANES 16
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define NAME(x) x##_avx512
#include "body.inc"
#undef LANES
#undef TARGET
#undef NAME

static int has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int ouro_float_has_avx512(void) {
    __builtin_cpu_init();
    return has_avx2() && __builtin_cpu_supports("avx512f");
}

int ouro_float_resolve_path(int path) {
    switch (path) {
    case OURO_FLOAT_PATH_AUTO:
        return ouro_float_has_avx512() ? OURO_FLOAT_PATH_AVX512 : (has_avx2() ? OURO_FLOAT_PATH_AVX2 : -1);
    case OURO_FLOAT_PATH_AVX2: return has_avx2() ? OURO_FLOAT_PATH_AVX2 : -1;
    case OURO_FLOAT_PATH_AVX512: return ouro_float_has_avx512() ? OURO_FLOAT_PATH_AVX512 : -1;
    default: return -1;
    }
}

void ouro_scan_forward_block(int path, const ouro_scan_args *args, int b, int e0, int e1) {
    if (path == OURO_FLOAT_PATH_AVX512) scan_block_avx512(args, b, e0, e1);
    else scan_block_avx2(args, b, e0, e1);
}

void ouro_scan_backward_chunks(int path, const ouro_scan_backward_args *args, int b, int c0, int c1,
                               float *pB, float *pC) {
    if (path == OURO_FLOAT_PATH_AVX512) scan_backward_avx512(args, b, c0, c1, pB, pC);
    else scan_backward_avx2(args, b, c0, c1, pB, pC);
}

void ouro_axpy(int path, long n, float a, const float *x, float *y) {
    if (path == OURO_FLOAT_PATH_AVX512) axpy_avx512(n, a, x, y);
    else axpy_avx2(n, a, x, y);
}

void ouro_weighted_sum(int path, long n, int k, const float *const *x, const float *w, float *y) {
    if (path == OURO_FLOAT_PATH_AVX512) weighted_sum_avx512(n, k, x, w, y);
    else weighted_sum_avx2(n, k, x, w, y);
}

double ouro_sum_scale_dot(int path, long n, int k, const float *const *x, float a, float *y, const float *h) {
    return path == OURO_FLOAT_PATH_AVX512 ? sum_scale_dot_avx512(n, k, x, a, y, h) : sum_scale_dot_avx2(n, k, x, a, y, h);
}

double ouro_dot(int path, long n, const float *x, const float *y) {
    return path == OURO_FLOAT_PATH_AVX512 ? dot_avx512(n, x, y) : dot_avx2(n, x, y);
}

void ouro_softplus(int path, long n, const float *x, float *out) {
    if (path == OURO_FLOAT_PATH_AVX512) softplus_n_avx512(n, x, out);
    else softplus_n_avx2(n, x, out);
}

void ouro_exp_probe(int path, int base2, long n, const float *x, float *out) {
    if (path == OURO_FLOAT_PATH_AVX512) exp_n_avx512(base2, n, x, out);
    else exp_n_avx2(base2, n, x, out);
}

void ouro_gate(int path, long rows, int E, const float *yf, const float *yb, long ldy, const float *z, long ldz,
               float *m, long ldm) {
    if (path == OURO_FLOAT_PATH_AVX512) gate_avx512(rows, E, yf, yb, ldy, z, ldz, m, ldm);
    else gate_avx2(rows, E, yf, yb, ldy, z, ldz, m, ldm);
}

void ouro_conv_forward_rows(int path, const ouro_conv_args *args, int b, int t0, int t1) {
    if (path == OURO_FLOAT_PATH_AVX512) conv_rows_avx512(args, b, t0, t1);
    else conv_rows_avx2(args, b, t0, t1);
}
