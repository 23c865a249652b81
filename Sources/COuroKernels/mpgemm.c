// Fused mixed-precision GEMM over a block of rows: quantize, int GEMM, dequantize, outliers.
#include "internal.h"
#include <immintrin.h>
#include <math.h>
#pragma STDC FP_CONTRACT OFF

// Outlier term of one row. vals[j] is q_O (obits 8, integer-valued) or x (obits 16) at column
// cols[j]. Every output is one fma chain over j in list order, so both paths agree bit for bit.
// obits 8: float sums of integer products are exact below 2^24; they are moved to int32 every
// OURO_OUTLIER_CHUNK columns, so the sum is the exact int32 of section 4.9.
void ouro_outlier_row_portable(const int8_t *wT, int ldw, int N, const int32_t *cols, const float *vals,
                               int n, int obits, float so, const float *wscale, float *y) {
    const int chunk = obits == 8 ? OURO_OUTLIER_CHUNK : n;
    for (int o = 0; o < N; o++) {
        float f = 0.0f;
        int32_t iacc = 0;
        for (int j0 = 0; j0 < n; j0 += chunk) {
            const int j1 = ouro_min(n, j0 + chunk);
            f = 0.0f;
            for (int j = j0; j < j1; j++) f = fmaf(vals[j], (float)wT[(size_t)cols[j] * ldw + o], f);
            if (obits == 8) iacc += (int32_t)f;
        }
        if (obits == 8) y[o] = y[o] + (so * wscale[o]) * (float)iacc;
        else y[o] = y[o] + wscale[o] * f;
    }
}

// 8 int8 weights as floats (exact); `count` < 8 reads only that many (the last vector of a row).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 load8_i8_avx2(const int8_t *w, int count) {
    int64_t b = 0;
    memcpy(&b, w, (size_t)(count < 8 ? count : 8));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(b)));
}

// R rows sharing one column list, NV vectors of 8 outputs from column o; `mask` limits the
// last vector when `masked`. Each wT load feeds R rows and R*NV independent fma chains hide the
// fma latency.
__attribute__((target("avx2,fma"), always_inline))
static inline void outlier_block_avx2(const int8_t *wT, int N, int o, const int R, const int NV, const int masked,
                                      __m256i mask, const int32_t *cols, const float *const *vals, int n,
                                      int obits, const float *so, const float *wscale, float *const *y) {
    const int chunk = obits == 8 ? OURO_OUTLIER_CHUNK : n;
    __m256 f[4][2];
    __m256i iacc[4][2];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < NV; q++) iacc[r][q] = _mm256_setzero_si256();
    for (int j0 = 0; j0 < n; j0 += chunk) {
        const int j1 = ouro_min(n, j0 + chunk);
        for (int r = 0; r < R; r++)
            for (int q = 0; q < NV; q++) f[r][q] = _mm256_setzero_ps();
        for (int j = j0; j < j1; j++) {
            const int8_t *w = wT + (size_t)cols[j] * N + o;
            __m256 wv[2];
            for (int q = 0; q < NV; q++) wv[q] = load8_i8_avx2(w + 8 * q, masked ? N - o - 8 * q : 8);
            for (int r = 0; r < R; r++) {
                const __m256 v = _mm256_set1_ps(vals[r][j]);
                for (int q = 0; q < NV; q++) f[r][q] = _mm256_fmadd_ps(v, wv[q], f[r][q]);
            }
        }
        if (obits == 8 && n > chunk) // n <= chunk: f already holds the exact integer sum
            for (int r = 0; r < R; r++)
                for (int q = 0; q < NV; q++) iacc[r][q] = _mm256_add_epi32(iacc[r][q], _mm256_cvttps_epi32(f[r][q]));
    }
    for (int r = 0; r < R; r++) {
        const __m256 vso = _mm256_set1_ps(so[r]);
        for (int q = 0; q < NV; q++) {
            __m256 ws = masked ? _mm256_maskload_ps(wscale + o + 8 * q, mask) : _mm256_loadu_ps(wscale + o + 8 * q);
            __m256 res = f[r][q];
            if (obits == 8) {
                ws = _mm256_mul_ps(vso, ws);
                if (n > chunk) res = _mm256_cvtepi32_ps(iacc[r][q]);
            }
            float *yq = y[r] + o + 8 * q;
            const __m256 yy = masked ? _mm256_maskload_ps(yq, mask) : _mm256_loadu_ps(yq);
            const __m256 out = _mm256_add_ps(yy, _mm256_mul_ps(ws, res));
            if (masked) _mm256_maskstore_ps(yq, mask, out); else _mm256_storeu_ps(yq, out);
        }
    }
}

__attribute__((target("avx2,fma"), always_inline))
static inline void outlier_rows_impl(const int8_t *wT, int N, const int R, const int32_t *cols, const float *const *vals,
                                     int n, int obits, const float *so, const float *wscale, float *const *y) {
    const __m256i none = _mm256_setzero_si256();
    int o = 0;
    for (; o + 16 <= N; o += 16) outlier_block_avx2(wT, N, o, R, 2, 0, none, cols, vals, n, obits, so, wscale, y);
    for (; o + 8 <= N; o += 8) outlier_block_avx2(wT, N, o, R, 1, 0, none, cols, vals, n, obits, so, wscale, y);
    if (o < N) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(N - o), lane);
        outlier_block_avx2(wT, N, o, R, 1, 1, mask, cols, vals, n, obits, so, wscale, y);
    }
}

OURO_AVX2 void ouro_outlier_rows_avx2(const int8_t *wT, int N, int R, const int32_t *cols, const float *const *vals,
                                      int n, int obits, const float *so, const float *wscale, float *const *y) {
    switch (R) {
    case 4: outlier_rows_impl(wT, N, 4, cols, vals, n, obits, so, wscale, y); break;
    case 3: outlier_rows_impl(wT, N, 3, cols, vals, n, obits, so, wscale, y); break;
    case 2: outlier_rows_impl(wT, N, 2, cols, vals, n, obits, so, wscale, y); break;
    default: outlier_rows_impl(wT, N, 1, cols, vals, n, obits, so, wscale, y); break;
    }
}

// The AVX-512 outlier term: the same fma chains as outlier_block_avx2, 16 outputs per vector.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"), always_inline))
static inline void outlier_block_avx512(const int8_t *wT, int N, int o, const int R, const int NV, __mmask16 mask,
                                        const int32_t *cols, const float *const *vals, int n,
                                        int obits, const float *so, const float *wscale, float *const *y) {
    const int chunk = obits == 8 ? OURO_OUTLIER_CHUNK : n;
    __m512 f[4][2];
    __m512i iacc[4][2];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < NV; q++) iacc[r][q] = _mm512_setzero_si512();
    for (int j0 = 0; j0 < n; j0 += chunk) {
        const int j1 = ouro_min(n, j0 + chunk);
        for (int r = 0; r < R; r++)
            for (int q = 0; q < NV; q++) f[r][q] = _mm512_setzero_ps();
        for (int j = j0; j < j1; j++) {
            const int8_t *w = wT + (size_t)cols[j] * N + o;
            __m512 wv[2];
            for (int q = 0; q < NV; q++)
                wv[q] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(q == NV - 1 ? mask : (__mmask16)0xFFFF, w + 16 * q)));
            for (int r = 0; r < R; r++) {
                const __m512 v = _mm512_set1_ps(vals[r][j]);
                for (int q = 0; q < NV; q++) f[r][q] = _mm512_fmadd_ps(v, wv[q], f[r][q]);
            }
        }
        if (obits == 8 && n > chunk)
            for (int r = 0; r < R; r++)
                for (int q = 0; q < NV; q++) iacc[r][q] = _mm512_add_epi32(iacc[r][q], _mm512_cvttps_epi32(f[r][q]));
    }
    for (int r = 0; r < R; r++) {
        const __m512 vso = _mm512_set1_ps(so[r]);
        for (int q = 0; q < NV; q++) {
            const __mmask16 m = q == NV - 1 ? mask : (__mmask16)0xFFFF;
            __m512 ws = _mm512_maskz_loadu_ps(m, wscale + o + 16 * q);
            __m512 res = f[r][q];
            if (obits == 8) {
                ws = _mm512_mul_ps(vso, ws);
                if (n > chunk) res = _mm512_cvtepi32_ps(iacc[r][q]);
            }
            float *yq = y[r] + o + 16 * q;
            const __m512 out = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yq), _mm512_mul_ps(ws, res));
            _mm512_mask_storeu_ps(yq, m, out);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"), always_inline))
static inline void outlier_rows_impl512(const int8_t *wT, int N, const int R, const int32_t *cols, const float *const *vals,
                                        int n, int obits, const float *so, const float *wscale, float *const *y) {
    int o = 0;
    for (; o + 32 <= N; o += 32) outlier_block_avx512(wT, N, o, R, 2, 0xFFFF, cols, vals, n, obits, so, wscale, y);
    for (; o + 16 <= N; o += 16) outlier_block_avx512(wT, N, o, R, 1, 0xFFFF, cols, vals, n, obits, so, wscale, y);
    if (o < N) outlier_block_avx512(wT, N, o, R, 1, ouro_tail_mask16(N - o), cols, vals, n, obits, so, wscale, y);
}

OURO_AVX512 static void ouro_outlier_rows_avx512(const int8_t *wT, int N, int R, const int32_t *cols, const float *const *vals,
                                                 int n, int obits, const float *so, const float *wscale, float *const *y) {
    switch (R) {
    case 4: outlier_rows_impl512(wT, N, 4, cols, vals, n, obits, so, wscale, y); break;
    case 3: outlier_rows_impl512(wT, N, 3, cols, vals, n, obits, so, wscale, y); break;
    case 2: outlier_rows_impl512(wT, N, 2, cols, vals, n, obits, so, wscale, y); break;
    default: outlier_rows_impl512(wT, N, 1, cols, vals, n, obits, so, wscale, y); break;
    }
}

// The 8-bit outlier term of 4-bit weights with VNNI, for up to OURO_VNNI_OUTLIER_ROWS rows that
// share the column list `cols`. The term is the exact int32 sum_j q_O[j] * qW[cols[j]][o] (what
// the fma chains above produce, since their float sums of integers are exact), so any exact
// integer order gives the same bits. vpdpbusd multiplies unsigned by signed bytes: the weights
// go in as qW + 8 (0..15), four list columns interleaved per 32-bit lane, and the sums start
// from -8 * sum_j q_O[j].
#define OURO_VNNI_OUTLIER_ROWS 16

// The 16 lanes of list group g at outputs o..o+15: byte k of lane i is qW[c_k][o + i] + 8.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"), always_inline))
static inline __m512i vnni_weight_quads(const int8_t *wT, int N, int o, __mmask16 mask, const int32_t *cols, int n, int g) {
    __m512i v = _mm512_set1_epi32(0x08080808);
    for (int k = 0; k < 4 && 4 * g + k < n; k++) {
        const __m512i w = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, wT + (size_t)cols[4 * g + k] * N + o));
        // Sign-extended lanes summed with shifts are exact mod 2^32: the bytes come out as qW + 8.
        v = _mm512_add_epi32(v, k == 0 ? w : _mm512_slli_epi32(w, 8 * k));
    }
    return v;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void vnni_outlier_block(const __m512i *wv, int G, const int32_t *xq, int R, const int32_t *sx,
                                      const float *so, const float *wscale, float *const *y, int o, __mmask16 mask) {
    __m512i acc[OURO_VNNI_OUTLIER_ROWS];
    // Starting from -8 sum_j q_O[j] removes the +8 of the weights (exact: int32 sums).
    for (int r = 0; r < R; r++) acc[r] = _mm512_set1_epi32(-8 * sx[r]);
    for (int g = 0; g < G; g++) {
        const __m512i w = wv[g];
        for (int r = 0; r < R; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], w, _mm512_set1_epi32(xq[r * G + g]));
    }
    const __m512 ws = _mm512_maskz_loadu_ps(mask, wscale + o);
    for (int r = 0; r < R; r++) {
        const __m512 res = _mm512_cvtepi32_ps(acc[r]);
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(so[r]), ws);
        float *yr = y[r] + o;
        _mm512_mask_storeu_ps(yr, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, yr), _mm512_mul_ps(s, res)));
    }
}

// Rows t..t+R-1 of p, whose lists nest in the largest one, cols[0..n); pos[c] is a column's
// place in it. y[r] is row t + r's output.
OURO_AVX512 static void outlier_rows_vnni(const ouro_mpgemm_args *p, int t, int R, const int32_t *cols, int n,
                                          const int32_t *pos, float *const *y) {
    const int G = (n + 3) / 4, N = p->N;
    int32_t xq[R * G], sx[OURO_VNNI_OUTLIER_ROWS];
    // Each row's values as bytes at their place in the shared list, four per group (zeros where
    // the row lists nothing and past n), and their sum.
    for (int r = 0; r < R; r++) {
        const int b = p->optr[t + r], m = p->optr[t + r + 1] - b;
        int8_t *q = (int8_t *)(xq + r * G);
        if (m == n) { // the largest list itself (nested and of equal size)
            __m512i s = _mm512_setzero_si512();
            for (int j = 0; j < 4 * G; j += 16) {
                const __m512i v = _mm512_cvttps_epi32(_mm512_maskz_loadu_ps(ouro_tail_mask16(n - j), p->ovals + b + j));
                s = _mm512_add_epi32(s, v);
                _mm_mask_storeu_epi8(q + j, ouro_tail_mask16(4 * G - j), _mm512_cvtepi32_epi8(v));
            }
            sx[r] = _mm512_reduce_add_epi32(s);
        } else {
            int32_t s = 0;
            memset(q, 0, (size_t)(4 * G));
            for (int j = b; j < b + m; j++) {
                const int32_t v = (int32_t)p->ovals[j];
                q[pos[p->ocols[j]]] = (int8_t)v;
                s += v;
            }
            sx[r] = s;
        }
    }
    const int8_t *wT = p->wT;
    const float *so = p->oscale + t, *wscale = p->wscale;
    __m512i wv[G];
    for (int o = 0; o < N; o += 16) {
        const __mmask16 mask = ouro_tail_mask16(N - o);
        for (int g = 0; g < G; g++) wv[g] = vnni_weight_quads(wT, N, o, mask, cols, n, g);
        // A constant row count per case keeps the accumulators in registers.
        switch (R) {
#define OURO_VNNI_CASE(k) case k: vnni_outlier_block(wv, G, xq, k, sx, so, wscale, y, o, mask); break;
        OURO_VNNI_CASE(16) OURO_VNNI_CASE(15) OURO_VNNI_CASE(14) OURO_VNNI_CASE(13) OURO_VNNI_CASE(12)
        OURO_VNNI_CASE(11) OURO_VNNI_CASE(10) OURO_VNNI_CASE(9) OURO_VNNI_CASE(8) OURO_VNNI_CASE(7)
        OURO_VNNI_CASE(6) OURO_VNNI_CASE(5) OURO_VNNI_CASE(4) OURO_VNNI_CASE(3) OURO_VNNI_CASE(2)
#undef OURO_VNNI_CASE
        default: vnni_outlier_block(wv, G, xq, 1, sx, so, wscale, y, o, mask); break;
        }
    }
}

OURO_AVX2 static void ouro_dequant_tile_avx2(const ouro_mpgemm_args *p, int t, int mr, int o0,
                                             int32_t ct[OURO_MR_W4][OURO_NR]);

// Dequantizes one microtile into y: y = (S_I(t) * s_w[o]) * float(c).
// Same arithmetic, one 16-column vector per row.
OURO_AVX512 static void dequant_tile_avx512(const ouro_mpgemm_args *p, int t, int mr, int o0,
                                            int32_t ct[OURO_MR_W4][OURO_NR]) {
    const __m512 w = _mm512_loadu_ps(p->wscale + o0);
    for (int r = 0; r < mr; r++) {
        const __m512 si = _mm512_set1_ps(p->inlier_scale[t + r]);
        float *yr = p->y + (size_t)(t + r) * p->ldy + o0;
        _mm512_storeu_ps(yr, _mm512_mul_ps(_mm512_mul_ps(si, w), _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)&ct[r][0]))));
    }
}

static inline void dequant_tile(const ouro_mpgemm_args *p, int t, int mr, int o0, int ncol,
                                int32_t ct[OURO_MR_W4][OURO_NR]) {
    if (p->path == OURO_PATH_AVX512 && ncol == OURO_NR) { dequant_tile_avx512(p, t, mr, o0, ct); return; }
    if (ouro_simd(p->path) && ncol == OURO_NR) { ouro_dequant_tile_avx2(p, t, mr, o0, ct); return; }
    for (int r = 0; r < mr; r++) {
        const float si = p->inlier_scale[t + r];
        float *yr = p->y + (size_t)(t + r) * p->ldy + o0;
        for (int j = 0; j < ncol; j++) yr[j] = (si * p->wscale[o0 + j]) * (float)ct[r][j];
    }
}

// Same arithmetic as dequant_tile's scalar loop, 16 columns at a time.
OURO_AVX2 static void ouro_dequant_tile_avx2(const ouro_mpgemm_args *p, int t, int mr, int o0,
                                             int32_t ct[OURO_MR_W4][OURO_NR]) {
    const __m256 w0 = _mm256_loadu_ps(p->wscale + o0), w1 = _mm256_loadu_ps(p->wscale + o0 + 8);
    for (int r = 0; r < mr; r++) {
        const __m256 si = _mm256_set1_ps(p->inlier_scale[t + r]);
        float *yr = p->y + (size_t)(t + r) * p->ldy + o0;
        _mm256_storeu_ps(yr, _mm256_mul_ps(_mm256_mul_ps(si, w0), _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)&ct[r][0]))));
        _mm256_storeu_ps(yr + 8, _mm256_mul_ps(_mm256_mul_ps(si, w1), _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)&ct[r][8]))));
    }
}

// q_O (obits 8: dynamic symmetric scale s_O(t) = max(max_O |x|, 1e-8) / 127) or the raw x
// (obits 16) of the outlier columns of rows [row0, row1), into ovals/oscale.
static inline void outlier_values_body(const ouro_mpgemm_args *p, int row0, int row1) {
    for (int t = row0; t < row1; t++) {
        const float *xt = p->x + (size_t)t * p->ldx;
        float m = 0.0f;
        for (int j = p->optr[t]; j < p->optr[t + 1]; j++) m = fmaxf(m, fabsf(xt[p->ocols[j]]));
        const float so = outlier_sym_scale(m, 127.0f);
        p->oscale[t] = so;
        for (int j = p->optr[t]; j < p->optr[t + 1]; j++) {
            float v = xt[p->ocols[j]];
            if (p->obits == 8) {
                float r = nearbyintf(v / so);
                v = r < 127.0f ? r : 127.0f;
                v = v > -127.0f ? v : -127.0f;
            }
            p->ovals[j] = v;
        }
    }
}

static void outlier_values_portable(const ouro_mpgemm_args *p, int row0, int row1) { outlier_values_body(p, row0, row1); }
// Same code; the target lets the compiler inline the rounding as one instruction.
OURO_AVX2 static void outlier_values_avx2(const ouro_mpgemm_args *p, int row0, int row1) { outlier_values_body(p, row0, row1); }

// The same values 16 outlier columns at a time (gathered): max |x| in any order is exact, and
// each value takes the same divide, round and clamp.
OURO_AVX512 static void outlier_values_avx512(const ouro_mpgemm_args *p, int row0, int row1) {
    const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    for (int t = row0; t < row1; t++) {
        const float *xt = p->x + (size_t)t * p->ldx;
        const int b = p->optr[t], n = p->optr[t + 1] - b;
        // One gather per 16 columns: the raw values go to ovals, and are scaled there in place.
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < n; j += 16) {
            const __mmask16 k = ouro_tail_mask16(n - j);
            const __m512i idx = _mm512_maskz_loadu_epi32(k, p->ocols + b + j);
            const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, xt, 4);
            m = _mm512_max_ps(m, _mm512_abs_ps(v));
            _mm512_mask_storeu_ps(p->ovals + b + j, k, v);
        }
        const float so = outlier_sym_scale(_mm512_reduce_max_ps(m), 127.0f);
        p->oscale[t] = so;
        if (p->obits != 8) continue;
        const __m512 vso = _mm512_set1_ps(so);
        for (int j = 0; j < n; j += 16) {
            const __mmask16 k = ouro_tail_mask16(n - j);
            const __m512 v = _mm512_maskz_loadu_ps(k, p->ovals + b + j);
            const __m512 r = _mm512_roundscale_ps(_mm512_div_ps(v, vso), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm512_mask_storeu_ps(p->ovals + b + j, k, _mm512_max_ps(_mm512_min_ps(r, hi), lo));
        }
    }
}

// The 4-bit GEMM and its dequantization when all packed weights fit in L1 (at most
// OURO_L1_WEIGHT_BYTES: dt_proj, and every linear of small models). Rows go outside and panels
// inside, and each tile is dequantized from registers: y = (S_I(t) * s_w[o]) * float(c - 8 * rowsum),
// the microtile's and dequant_tile's arithmetic. For short reductions a microtile's call, its
// tile store and reload and the dequantization's call cost more than its few vpdpbusd.
#define OURO_L1_WEIGHT_BYTES 24576
OURO_AVX512 static void gemm_l1_weights_vnni512(const ouro_mpgemm_args *p, int row0, int row1, int G, int P) {
    const int lda = ouro_kpad(p->K);
    for (int t = row0; t < row1; t += OURO_MR_W4) {
        const int mr = ouro_min(OURO_MR_W4, row1 - t);
        const int8_t *a = p->abuf + (size_t)t * lda; // rows up to the padding are readable and zero
        __m512 si[OURO_MR_W4];
        __m512i corr[OURO_MR_W4];
        for (int r = 0; r < OURO_MR_W4; r++) {
            si[r] = _mm512_set1_ps(r < mr ? p->inlier_scale[t + r] : 0.0f);
            corr[r] = _mm512_set1_epi32(8 * p->rowsum[t + r]);
        }
        for (int pp = 0; pp < P; pp++) {
            __m512i c[OURO_MR_W4];
            ouro_tile_w4_vnni512(a, lda, p->wpack + (size_t)pp * G * 64, G, c);
            const int o = pp * OURO_NR;
            const __mmask16 mask = ouro_tail_mask16(p->N - o);
            const __m512 ws = _mm512_maskz_loadu_ps(mask, p->wscale + o);
            for (int r = 0; r < mr; r++) {
                const __m512 v = _mm512_mul_ps(_mm512_mul_ps(si[r], ws), _mm512_cvtepi32_ps(_mm512_sub_epi32(c[r], corr[r])));
                _mm512_mask_storeu_ps(p->y + (size_t)(t + r) * p->ldy + o, mask, v);
            }
        }
    }
}

// Whether rows r0 and r1 (r0 < r1) lie in one window of one sample (p->win_len > 0).
static inline int same_window(const ouro_mpgemm_args *p, int r0, int r1) {
    const int L = p->win_len, s0 = r0 % L, s1 = r1 % L;
    if (r0 / L != r1 / L) return 0;
    const int t0 = p->win_reversed ? L - 1 - s0 : s0, t1 = p->win_reversed ? L - 1 - s1 : s1;
    return t0 / p->win_refresh == t1 / p->win_refresh;
}

// The outlier term's row groups: up to maxR consecutive rows from t (whose list is not empty)
// whose lists nest, the rows of one window, where a list only grows. Each returns the group's
// row count and puts the row of its largest list, which holds the others, in *big.

// From the declared window structure (p->win_len > 0): the rows of t's window with lists.
static int group_declared(const ouro_mpgemm_args *p, int t, int row1, int maxR, int *big) {
    int R = 1;
    while (R < maxR && t + R < row1) {
        const int r = t + R, nr = p->optr[r + 1] - p->optr[r];
        if (nr == 0 || !same_window(p, r - 1, r)) break;
        if (nr > p->optr[*big + 1] - p->optr[*big]) *big = r;
        R++;
    }
    return R;
}

// By checking: mark[c] == *stamp marks the columns of the largest list so far.
static int group_checked(const ouro_mpgemm_args *p, int t, int row1, int maxR, int32_t *mark, int *stamp, int *big) {
    int R = 1;
    ++*stamp;
    for (int j = p->optr[t]; j < p->optr[t + 1]; j++) mark[p->ocols[j]] = *stamp;
    while (R < maxR && t + R < row1) {
        const int r = t + R, rb = p->optr[r], nr = p->optr[r + 1] - rb, nb = p->optr[*big + 1] - p->optr[*big];
        if (nr == 0) break;
        if (nr <= nb) { // the row's list must lie inside the largest one (equal when it did not grow)
            int inside = 1;
            for (int j = rb; j < rb + nr; j++) inside &= mark[p->ocols[j]] == *stamp;
            if (!inside) break;
        } else { // the row's list is the new largest one: the old one must lie inside it
            ++*stamp;
            for (int j = rb; j < rb + nr; j++) mark[p->ocols[j]] = *stamp;
            int inside = 1;
            for (int j = p->optr[*big]; j < p->optr[*big + 1]; j++) inside &= mark[p->ocols[j]] == *stamp;
            if (!inside) break;
            *big = r;
        }
        R++;
    }
    return R;
}

void ouro_mpgemm_rows(const ouro_mpgemm_args *p, int row0, int row1) {
    const int lda = ouro_kpad(p->K), G = lda / 4, P = ouro_roundup(p->N, OURO_NR) / OURO_NR;
    const int rowpad = ouro_min(row0 + ouro_roundup(row1 - row0, OURO_ROW_ALIGN), ouro_roundup(p->M, OURO_ROW_ALIGN));
    const int qmax = p->abits == 4 ? 7 : 127;
    ouro_quantize_rows(p->path, p->x, p->ldx, row0, row1, rowpad, p->K, p->inlier_scale, qmax,
                       p->optr, p->ocols, p->abuf, lda, p->rowsum);
    // Outlier values: dynamic symmetric 8-bit scale per row, or the raw floats (obits 16).
    if (p->optr) {
        if (p->path == OURO_PATH_AVX512) outlier_values_avx512(p, row0, row1);
        else if (ouro_simd(p->path)) outlier_values_avx2(p, row0, row1);
        else outlier_values_portable(p, row0, row1);
    }
    int32_t ct[OURO_MR_W4][OURO_NR];
    if (p->path == OURO_PATH_AVX512 && p->wbits == 4 && (size_t)P * G * 64 <= OURO_L1_WEIGHT_BYTES) gemm_l1_weights_vnni512(p, row0, row1, G, P);
    else for (int pp = 0; pp < P; pp++) {
        const uint8_t *panel = p->wpack + (size_t)pp * G * 64;
        const int ncol = ouro_min(OURO_NR, p->N - pp * OURO_NR);
        for (int t = row0; t < row1;) {
            const int mr = ouro_min(p->wbits == 4 ? OURO_MR_W4 : OURO_MR_W8, row1 - t);
            const int step = ouro_microtile(p->path, p->abuf + (size_t)t * lda, lda, p->rowsum + t, panel,
                                            G, mr, p->wbits, p->abits, ct);
            dequant_tile(p, t, mr, pp * OURO_NR, ncol, ct);
            t += step;
        }
    }
    if (!p->optr) return;
    // Column maps: mark[] for group_checked, pos[c] a column's place in a group's largest list.
    // Both are only read where written.
    int32_t mark[p->K > 0 ? p->K : 1], pos[p->K > 0 ? p->K : 1];
    if (p->win_len == 0) for (int c = 0; c < p->K; c++) mark[c] = -1;
    int stamp = 0;
    // The VNNI term (8-bit outliers of 4-bit weights) takes up to 16 rows of a window at once.
    const int vnni = p->path == OURO_PATH_AVX512 && p->obits == 8 && p->wbits == 4;
    const int maxR = vnni ? OURO_VNNI_OUTLIER_ROWS : 4;
    for (int t = row0; t < row1;) {
        const int b = p->optr[t], n = p->optr[t + 1] - b;
        if (n == 0) { t++; continue; }
        if (!ouro_simd(p->path)) {
            ouro_outlier_row_portable(p->wT, p->N, p->N, p->ocols + b, p->ovals + b, n, p->obits, p->oscale[t],
                                      p->wscale, p->y + (size_t)t * p->ldy);
            t++;
            continue;
        }
        // Group up to maxR consecutive rows whose lists nest (rows of one window: a list only grows
        // inside a window). They share the largest list; a row gets 0 at the columns it does not
        // list, which leaves its fma chain, and so its result, unchanged.
        int big = t;
        const int R = p->win_len > 0 ? group_declared(p, t, row1, maxR, &big) : group_checked(p, t, row1, maxR, mark, &stamp, &big);
        const int32_t *ucols = p->ocols + p->optr[big];
        const int nu = p->optr[big + 1] - p->optr[big];
        for (int j = 0; j < nu; j++) pos[ucols[j]] = j;
        float *ys[OURO_VNNI_OUTLIER_ROWS];
        for (int r = 0; r < R; r++) ys[r] = p->y + (size_t)(t + r) * p->ldy;
        if (vnni) {
            outlier_rows_vnni(p, t, R, ucols, nu, pos, ys);
            t += R;
            continue;
        }
        float ubuf[4][nu > 0 ? nu : 1];
        const float *vals[4];
        for (int r = 0; r < R; r++) {
            const int rb = p->optr[t + r], rn = p->optr[t + r + 1] - rb;
            if (rn == nu) vals[r] = p->ovals + rb; // the largest list itself (nested and equal size)
            else {
                for (int j = 0; j < nu; j++) ubuf[r][j] = 0.0f;
                for (int j = rb; j < rb + rn; j++) ubuf[r][pos[p->ocols[j]]] = p->ovals[j];
                vals[r] = ubuf[r];
            }
        }
        if (p->path == OURO_PATH_AVX512) ouro_outlier_rows_avx512(p->wT, p->N, R, ucols, vals, nu, p->obits, p->oscale + t, p->wscale, ys);
        else ouro_outlier_rows_avx2(p->wT, p->N, R, ucols, vals, nu, p->obits, p->oscale + t, p->wscale, ys);
        t += R;
    }
}
