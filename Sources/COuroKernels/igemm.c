// Integer microkernels (AVX2 vpmaddubsw/vpmaddwd and portable C) and the int32 GEMM driver.
#include "internal.h"
#include <immintrin.h>

void ouro_microtile_portable(const int8_t *a, int lda, const uint8_t *panel, int G, int mr,
                             int wbits, int32_t ct[OURO_MR_W4][OURO_NR]) {
    const int off = wbits == 4 ? 8 : 0;
    for (int r = 0; r < mr; r++)
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 8; j++) {
                int32_t s = 0;
                for (int g = 0; g < G; g++) {
                    const uint8_t *b = panel + (size_t)g * 64 + 32 * h + 4 * j;
                    const int8_t *ar = a + (size_t)r * lda + 4 * g;
                    for (int i = 0; i < 4; i++) s += (int32_t)ar[i] * ((int32_t)(int8_t)b[i] - off);
                }
                ct[r][8 * h + j] = s;
            }
}

// 4-bit weights: vpmaddubsw(w + 8 [unsigned], a [signed]) accumulated in int16 for F groups,
// then vpmaddwd(., 1) into int32; finally subtract 8 * rowsum(a). Exact (see flush interval).
#define W4_ROW(r)                                                                    \
    do {                                                                             \
        __m256i av = _mm256_set1_epi32(ouro_load_i32(ap + (r) * (size_t)lda));      \
        c##r##0 = _mm256_add_epi16(c##r##0, _mm256_maddubs_epi16(b0, av));          \
        c##r##1 = _mm256_add_epi16(c##r##1, _mm256_maddubs_epi16(b1, av));          \
    } while (0)

OURO_AVX2 void ouro_microtile_w4_avx2(const int8_t *a, int lda, const int32_t *rowsum,
                                      const uint8_t *panel, int G, int F,
                                      int32_t ct[OURO_MR_W4][OURO_NR]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[OURO_MR_W4][2];
    for (int r = 0; r < OURO_MR_W4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int g0 = 0; g0 < G; g0 += F) {
        const int g1 = ouro_min(G, g0 + F);
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        const uint8_t *b = panel + (size_t)g0 * 64;
        const int8_t *ap = a + (size_t)g0 * 4;
        for (int g = g0; g < g1; g++, b += 64, ap += 4) {
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
            W4_ROW(0); W4_ROW(1); W4_ROW(2); W4_ROW(3); W4_ROW(4); W4_ROW(5);
        }
#define FLUSH(r)                                                                          \
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(c##r##0, ones));        \
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(c##r##1, ones));
        FLUSH(0) FLUSH(1) FLUSH(2) FLUSH(3) FLUSH(4) FLUSH(5)
#undef FLUSH
    }
    for (int r = 0; r < OURO_MR_W4; r++) {
        const __m256i corr = _mm256_set1_epi32(8 * rowsum[r]);
        _mm256_storeu_si256((__m256i *)&ct[r][0], _mm256_sub_epi32(acc[r][0], corr));
        _mm256_storeu_si256((__m256i *)&ct[r][8], _mm256_sub_epi32(acc[r][1], corr));
    }
}

// 8-bit weights, signed x signed: vpmaddubsw(|w|, sign(a, w)) then vpmaddwd into int32 every
// group (pair sums reach 2 * 127 * 127 = 32258, so no int16 accumulation).
#define W8_ROW(r)                                                                              \
    do {                                                                                       \
        __m256i av = _mm256_set1_epi32(ouro_load_i32(ap + (r) * (size_t)lda));                \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(                                \
                      _mm256_maddubs_epi16(ab0, _mm256_sign_epi8(av, b0)), ones));             \
        c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(                                \
                      _mm256_maddubs_epi16(ab1, _mm256_sign_epi8(av, b1)), ones));             \
    } while (0)

OURO_AVX2 void ouro_microtile_w8_avx2(const int8_t *a, int lda, const uint8_t *panel, int G,
                                      int32_t ct[OURO_MR_W4][OURO_NR]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
            c30 = c00, c31 = c00;
    const uint8_t *b = panel;
    const int8_t *ap = a;
    for (int g = 0; g < G; g++, b += 64, ap += 4) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        const __m256i ab0 = _mm256_abs_epi8(b0), ab1 = _mm256_abs_epi8(b1);
        W8_ROW(0); W8_ROW(1); W8_ROW(2); W8_ROW(3);
    }
#define STORE(r)                                                        \
    _mm256_storeu_si256((__m256i *)&ct[r][0], c##r##0);                 \
    _mm256_storeu_si256((__m256i *)&ct[r][8], c##r##1);
    STORE(0) STORE(1) STORE(2) STORE(3)
#undef STORE
}

// 4-bit weights with AVX-512 VNNI: one vpdpbusd(w + 8 [unsigned], a [signed]) per row and
// group adds the four products of all 16 columns straight into int32 (exact, no int16 stage);
// finally subtract 8 * rowsum(a), as the AVX2 kernel does.
OURO_AVX512 void ouro_microtile_w4_vnni512(const int8_t *a, int lda, const int32_t *rowsum,
                                           const uint8_t *panel, int G, int32_t ct[OURO_MR_W4][OURO_NR]) {
    __m512i c[OURO_MR_W4];
    ouro_tile_w4_vnni512(a, lda, panel, G, c);
    for (int r = 0; r < OURO_MR_W4; r++)
        _mm512_storeu_si512((void *)&ct[r][0], _mm512_sub_epi32(c[r], _mm512_set1_epi32(8 * rowsum[r])));
}

void ouro_igemm_s32(int path, const int8_t *a, const int32_t *rowsum, int row0, int row1,
                    const uint8_t *wpack, int N, int K, int wbits, int abits,
                    int32_t *c, int ldc) {
    const int lda = ouro_kpad(K), G = lda / 4, P = ouro_roundup(N, OURO_NR) / OURO_NR;
    int32_t ct[OURO_MR_W4][OURO_NR];
    for (int p = 0; p < P; p++) {
        const uint8_t *panel = wpack + (size_t)p * G * 64;
        const int ncol = ouro_min(OURO_NR, N - p * OURO_NR);
        for (int t = row0; t < row1;) {
            const int mr = ouro_min(wbits == 4 ? OURO_MR_W4 : OURO_MR_W8, row1 - t);
            const int step = ouro_microtile(path, a + (size_t)t * lda, lda, rowsum + t, panel, G, mr,
                                            wbits, abits, ct);
            for (int r = 0; r < mr; r++)
                memcpy(c + (size_t)(t + r) * ldc + p * OURO_NR, ct[r], sizeof(int32_t) * (size_t)ncol);
            t += step;
        }
    }
}
