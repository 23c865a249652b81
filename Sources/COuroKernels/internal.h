// Shared internals of COuroKernels (not part of the public header).
#ifndef OURO_INTERNAL_H
#define OURO_INTERNAL_H
#include "ouro_kernels.h"
#include <immintrin.h>
#include <string.h>

#define OURO_AVX2 __attribute__((target("avx2,fma")))
#define OURO_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")))

/// Whether a path may use the AVX2 kernels (the AVX-512 path keeps them where it has no wider one).
static inline int ouro_simd(int path) { return path == OURO_PATH_AVX2 || path == OURO_PATH_AVX512; }

static inline int ouro_min(int a, int b) { return a < b ? a : b; }
static inline int ouro_roundup(int a, int m) { return (a + m - 1) / m * m; }
static inline int32_t ouro_load_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
/// The AVX-512 lane mask of the first min(rem, 16) of 16 lanes (a __mmask16).
static inline uint16_t ouro_tail_mask16(int rem) { return rem >= 16 ? (uint16_t)0xffff : (uint16_t)((1u << rem) - 1u); }

/// Groups between int16 -> int32 flushes for the 4-bit-weight kernel: every int16 lane gains at
/// most 2 * 15 * amax per group (stored weights are 0..15), and must stay <= 32767.
static inline int ouro_flush_interval(int abits) { return 32767 / (2 * 15 * (abits == 4 ? 7 : 127)); }

/// One microtile: ct[r][j] = sum_k a[r][k] * w[16p + j][k] for r < mr (rows beyond mr are
/// computed from readable padding and ignored). `panel` points at the panel, G = kpad/4 groups.
void ouro_microtile_portable(const int8_t *a, int lda, const uint8_t *panel, int G, int mr,
                             int wbits, int32_t ct[OURO_MR_W4][OURO_NR]);
void ouro_microtile_w4_avx2(const int8_t *a, int lda, const int32_t *rowsum, const uint8_t *panel,
                            int G, int F, int32_t ct[OURO_MR_W4][OURO_NR]);
void ouro_microtile_w8_avx2(const int8_t *a, int lda, const uint8_t *panel, int G,
                            int32_t ct[OURO_MR_W4][OURO_NR]);
void ouro_microtile_w4_vnni512(const int8_t *a, int lda, const int32_t *rowsum, const uint8_t *panel,
                               int G, int32_t ct[OURO_MR_W4][OURO_NR]);

/// The VNNI 4-bit tile in registers: c[r] = sum_k a[r][k] * (qW[16p + j][k] + 8) for the
/// OURO_MR_W4 rows from `a` (the stored weights are qW + 8, so callers subtract 8 * rowsum[r]).
/// Shared by the microtile and the GEMM that dequantizes from registers (mpgemm.c).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void ouro_tile_w4_vnni512(const int8_t *a, int lda, const uint8_t *panel, int G, __m512i c[OURO_MR_W4]) {
    for (int r = 0; r < OURO_MR_W4; r++) c[r] = _mm512_setzero_si512();
    for (int g = 0; g < G; g++) {
        const __m512i w = _mm512_loadu_si512((const void *)(panel + (size_t)g * 64));
        for (int r = 0; r < OURO_MR_W4; r++)
            c[r] = _mm512_dpbusd_epi32(c[r], w, _mm512_set1_epi32(ouro_load_i32(a + (size_t)r * lda + 4 * g)));
    }
}

/// Dispatches to the microtile of `path`/`wbits`; returns the microtile height (6 or 4).
static inline int ouro_microtile(int path, const int8_t *a, int lda, const int32_t *rowsum,
                                 const uint8_t *panel, int G, int mr, int wbits, int abits,
                                 int32_t ct[OURO_MR_W4][OURO_NR]) {
    if (path == OURO_PATH_AVX512 && wbits == 4) {
        ouro_microtile_w4_vnni512(a, lda, rowsum, panel, G, ct);
    } else if (ouro_simd(path)) {
        if (wbits == 4) ouro_microtile_w4_avx2(a, lda, rowsum, panel, G, ouro_flush_interval(abits), ct);
        else ouro_microtile_w8_avx2(a, lda, panel, G, ct);
    } else {
        ouro_microtile_portable(a, lda, panel, G, mr, wbits, ct);
    }
    return wbits == 4 ? OURO_MR_W4 : OURO_MR_W8;
}

/// Outlier term of one row, added into y[0..N): see mpgemm.c.
void ouro_outlier_row_portable(const int8_t *wT, int ldw, int N, const int32_t *cols, const float *vals,
                               int n, int obits, float so, const float *wscale, float *y);
/// AVX2: R (1..4) rows sharing the column list `cols`; vals[r], so[r], y[r] per row.
void ouro_outlier_rows_avx2(const int8_t *wT, int N, int R, const int32_t *cols, const float *const *vals,
                            int n, int obits, const float *so, const float *wscale, float *const *y);

/// The outliers' dynamic symmetric scale: max(max_O |x|, 1e-8) / qO, qO = 2^(b_O - 1) - 1 (a NaN
/// maximum gives the floor). Detection's fake quantization and the GEMM's outlier values share it.
static inline float outlier_sym_scale(float maxabs, float qO) { return (maxabs > 1e-8f ? maxabs : 1e-8f) / qO; }

/// Column chunk after which the exact float accumulation of 8-bit outlier products is moved to
/// int32 (sums of integers below 2^24 are exact in float: 1024 * 127 * 127 < 2^24).
#define OURO_OUTLIER_CHUNK 1024
#endif
