// On-the-fly activation quantization into int8 rows (inliers; zeros at outlier columns).
#include "internal.h"
#include <immintrin.h>
#include <math.h>
#pragma STDC FP_CONTRACT OFF

// Scalar element: rne(x / s) clamped, in the same operation order as the vector code.
static inline int quant1(float x, float s, float qmax) {
    float r = nearbyintf(x / s); // default rounding mode: half to even
    r = r < qmax ? r : qmax;
    r = r > -qmax ? r : -qmax;
    return (int)r;
}

static int32_t quant_row_portable(const float *x, int K, float s, int qmax, int8_t *a) {
    int32_t sum = 0;
    for (int k = 0; k < K; k++) { int v = quant1(x[k], s, (float)qmax); a[k] = (int8_t)v; sum += v; }
    return sum;
}

OURO_AVX2 static inline __m256i quant8_avx2(const float *x, __m256 s, __m256 hi, __m256 lo) {
    __m256 r = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(r, hi), lo));
}

OURO_AVX2 static int32_t quant_row_avx2(const float *x, int K, float s, int qmax, int8_t *a) {
    const __m256 vs = _mm256_set1_ps(s), hi = _mm256_set1_ps((float)qmax), lo = _mm256_set1_ps((float)-qmax);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i acc = _mm256_setzero_si256();
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i q0 = quant8_avx2(x + k, vs, hi, lo), q1 = quant8_avx2(x + k + 8, vs, hi, lo);
        __m256i q2 = quant8_avx2(x + k + 16, vs, hi, lo), q3 = quant8_avx2(x + k + 24, vs, hi, lo);
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
        // packs work per 128-bit lane; the permute restores k order.
        __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        _mm256_storeu_si256((__m256i *)(a + k), _mm256_permutevar8x32_epi32(b, perm));
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    return _mm_cvtsi128_si32(s4) + quant_row_portable(x + k, K - k, s, qmax, a + k);
}

// 16 values per step: the same per-element divide, round, clamp; int8 by a saturating narrow
// (the values are already within +-qmax, so nothing saturates).
OURO_AVX512 static int32_t quant_row_avx512(const float *x, int K, float s, int qmax, int8_t *a) {
    const __m512 vs = _mm512_set1_ps(s), hi = _mm512_set1_ps((float)qmax), lo = _mm512_set1_ps((float)-qmax);
    __m512i acc = _mm512_setzero_si512();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + k), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i q = _mm512_cvtps_epi32(_mm512_max_ps(_mm512_min_ps(r, hi), lo));
        acc = _mm512_add_epi32(acc, q);
        _mm_storeu_si128((__m128i *)(a + k), _mm512_cvtsepi32_epi8(q));
    }
    const int32_t sum = _mm512_reduce_add_epi32(acc);
    return k == K ? sum : sum + quant_row_avx2(x + k, K - k, s, qmax, a + k); // the common widths need no tail
}

void ouro_quantize_rows(int path, const float *x, int ldx, int row0, int row1, int rowpad, int K,
                        const float *scale, int qmax, const int32_t *optr, const int32_t *ocols,
                        int8_t *a, int lda, int32_t *rowsum) {
    for (int t = row0; t < row1; t++) {
        int8_t *at = a + (size_t)t * lda;
        const float *xt = x + (size_t)t * ldx;
        int32_t sum = path == OURO_PATH_AVX512 ? quant_row_avx512(xt, K, scale[t], qmax, at)
                    : ouro_simd(path) ? quant_row_avx2(xt, K, scale[t], qmax, at)
                                      : quant_row_portable(xt, K, scale[t], qmax, at);
        if (optr) {
            for (int j = optr[t]; j < optr[t + 1]; j++) { sum -= at[ocols[j]]; at[ocols[j]] = 0; }
        }
        if (lda > K) memset(at + K, 0, (size_t)(lda - K));
        rowsum[t] = sum;
    }
    for (int t = row1; t < rowpad; t++) { memset(a + (size_t)t * lda, 0, (size_t)lda); rowsum[t] = 0; }
}
