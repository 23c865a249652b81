// Run-time outlier detection and activation fake quantization of one point (method.md 4.5).
// Every path gives bit-identical results: the vector loops only compute exact operations
// (max, min, and per-element divide/round/clamp/multiply); the mean and deviation are
// sequential double sums in channel order. The deviation's second pass is skipped where the
// one-pass sums already decide the float threshold (threshold_from_moments), which gives the
// same threshold; the AVX-512 windows go further and take the lists from float sums wherever
// those decide them (win_step), which gives the same lists.
#include "internal.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#pragma STDC FP_CONTRACT OFF

// keep[c] = all ones for an inlier channel, 0 for a listed one (masks with and/andnot).
typedef struct {
    uint32_t *keep;
    int32_t *list;  // sorted listed channels
    int32_t *fresh; // channels flagged at this step
    int n;
} point_state;

static inline float keep_f(const uint32_t *keep, int c, float v) {
    uint32_t b;
    memcpy(&b, &v, 4);
    b &= keep[c];
    memcpy(&v, &b, 4);
    return v;
}

// Inlier statistics: max |x| (symmetric) or lo = min(0, min x), hi = max(0, max x), where listed
// channels read as 0 (which changes none of the three).
static void inlier_range_portable(const float *x, const uint32_t *keep, int C, float *lo, float *hi, float *amax) {
    float l = 0, h = 0, m = 0;
    for (int c = 0; c < C; c++) {
        const float v = keep_f(keep, c, x[c]);
        l = v < l ? v : l;
        h = v > h ? v : h;
        const float a = fabsf(v);
        m = a > m ? a : m;
    }
    *lo = l; *hi = h; *amax = m;
}

OURO_AVX2 static float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

OURO_AVX2 static float hmin8(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

OURO_AVX2 static void inlier_range_avx2(const float *x, const uint32_t *keep, int C, float *lo, float *hi, float *amax) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 l = _mm256_setzero_ps(), h = l, m = l;
    int c = 0;
    for (; c + 8 <= C; c += 8) {
        const __m256 v = _mm256_and_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps((const float *)(keep + c)));
        l = _mm256_min_ps(l, v);
        h = _mm256_max_ps(h, v);
        m = _mm256_max_ps(m, _mm256_and_ps(v, absmask));
    }
    float tl, th, tm;
    inlier_range_portable(x + c, keep + c, C - c, &tl, &th, &tm);
    const float vl = hmin8(l), vh = hmax8(h), vm = hmax8(m);
    *lo = tl < vl ? tl : vl; *hi = th > vh ? th : vh; *amax = tm > vm ? tm : vm;
}

// Sums over channels for mu and sigma. Both paths use eight double lanes (lane j takes the
// channels c = j mod 8 below C rounded down to 8), combined as
// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then the tail in order: the same bits on
// every path. Listed channels read as 0 in `sum`; `ss` counts them only with `all`.
static inline double lanes8(const double l[8]) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

// Returns sum |x| and, when ssq is not NULL, sets *ssq = sum x^2 (in the same lanes; a float's
// square is exact in double). Inlined, so that each call specializes on ssq.
static inline __attribute__((always_inline)) double sum_abs_portable(const float *x, const uint32_t *keep, int C, double *ssq) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int C8 = C / 8 * 8;
    for (int c = 0; c < C8; c++) {
        const double v = (double)fabsf(keep_f(keep, c, x[c]));
        l[c & 7] += v;
        if (ssq) q[c & 7] += v * v;
    }
    double s = lanes8(l), s2 = lanes8(q);
    for (int c = C8; c < C; c++) {
        const double v = (double)fabsf(keep_f(keep, c, x[c]));
        s += v;
        s2 += v * v;
    }
    if (ssq) *ssq = s2;
    return s;
}

static double sum_sq_portable(const float *x, const uint32_t *keep, int C, double mu, int all) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int C8 = C / 8 * 8;
    for (int c = 0; c < C8; c++) {
        if (!all && !keep[c]) continue;
        const double d = (double)fabsf(keep_f(keep, c, x[c])) - mu;
        l[c & 7] += d * d;
    }
    double s = lanes8(l);
    for (int c = C8; c < C; c++) {
        if (!all && !keep[c]) continue;
        const double d = (double)fabsf(keep_f(keep, c, x[c])) - mu;
        s += d * d;
    }
    return s;
}

OURO_AVX2 static inline __m256d abs4_pd(const float *x, const uint32_t *keep) {
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    const __m128 k = _mm_loadu_ps((const float *)keep);
    return _mm256_cvtps_pd(_mm_and_ps(_mm_and_ps(_mm_loadu_ps(x), k), absmask));
}

OURO_AVX2 static inline double lanes_ab(__m256d a, __m256d b) {
    double l[8];
    _mm256_storeu_pd(l, a);
    _mm256_storeu_pd(l + 4, b);
    return lanes8(l);
}

__attribute__((target("avx2,fma"), always_inline))
static inline double sum_abs_avx2(const float *x, const uint32_t *keep, int C, double *ssq) {
    __m256d a = _mm256_setzero_pd(), b = a, qa = a, qb = a;
    const int C8 = C / 8 * 8;
    for (int c = 0; c < C8; c += 8) {
        const __m256d va = abs4_pd(x + c, keep + c), vb = abs4_pd(x + c + 4, keep + c + 4);
        a = _mm256_add_pd(a, va);
        b = _mm256_add_pd(b, vb);
        if (ssq) {
            qa = _mm256_fmadd_pd(va, va, qa);
            qb = _mm256_fmadd_pd(vb, vb, qb);
        }
    }
    double s = lanes_ab(a, b), s2 = lanes_ab(qa, qb);
    for (int c = C8; c < C; c++) {
        const double v = (double)fabsf(keep_f(keep, c, x[c]));
        s += v;
        s2 += v * v;
    }
    if (ssq) *ssq = s2;
    return s;
}

// The AVX2 sums with and without x^2, for the baseline-compiled detect().
OURO_AVX2 static double sum_abs_sq_avx2(const float *x, const uint32_t *keep, int C, double *ssq) { return sum_abs_avx2(x, keep, C, ssq); }
OURO_AVX2 static double sum_abs_only_avx2(const float *x, const uint32_t *keep, int C) { return sum_abs_avx2(x, keep, C, NULL); }

OURO_AVX2 static inline __m256d sq4_pd(const float *x, const uint32_t *keep, __m256d vmu, int all) {
    const __m256d d = _mm256_sub_pd(abs4_pd(x, keep), vmu);
    const __m256d sq = _mm256_mul_pd(d, d);
    if (all) return sq;
    return _mm256_and_pd(sq, _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)keep))));
}

OURO_AVX2 static double sum_sq_avx2(const float *x, const uint32_t *keep, int C, double mu, int all) {
    __m256d a = _mm256_setzero_pd(), b = a;
    const __m256d vmu = _mm256_set1_pd(mu);
    const int C8 = C / 8 * 8;
    for (int c = 0; c < C8; c += 8) {
        a = _mm256_add_pd(a, sq4_pd(x + c, keep + c, vmu, all));
        b = _mm256_add_pd(b, sq4_pd(x + c + 4, keep + c + 4, vmu, all));
    }
    double s = lanes_ab(a, b);
    for (int c = C8; c < C; c++) {
        if (!all && !keep[c]) continue;
        const double d = (double)fabsf(keep_f(keep, c, x[c])) - mu;
        s += d * d;
    }
    return s;
}

// AVX-512: the sums take 8 doubles at a time, with lane j = channel mod 8 and the same final tree,
// so every path agrees bit for bit.
OURO_AVX512 static inline double lanes512(__m512d a) {
    double l[8];
    _mm512_storeu_pd(l, a);
    return lanes8(l);
}

// One step of the two-pass sum over 8 channels: a + (|v| - mu)^2, where v holds the channels with
// listed ones as 0 and `in` marks the inliers, which alone count unless `all`. The one step of
// both AVX-512 sums (sum_sq_avx512 and the windows' win_sum_sq_lanes), so that they agree bit
// for bit.
OURO_AVX512 static inline __m512d sum_sq_step8(__m512d a, __m256 v, __mmask8 in, __m512d vmu, int all) {
    const __m512d d = _mm512_sub_pd(_mm512_abs_pd(_mm512_cvtps_pd(v)), vmu);
    const __m512d sq = _mm512_mul_pd(d, d);
    return _mm512_add_pd(a, all ? sq : _mm512_maskz_mov_pd(in, sq));
}

OURO_AVX512 static double sum_sq_avx512(const float *x, const uint32_t *keep, int C, double mu, int all) {
    __m512d a = _mm512_setzero_pd();
    const __m512d vmu = _mm512_set1_pd(mu);
    const int C8 = C / 8 * 8;
    for (int c = 0; c < C8; c += 8) {
        const __m256 k = _mm256_loadu_ps((const float *)(keep + c));
        const __mmask8 in = _mm256_cmpneq_epi32_mask(_mm256_castps_si256(k), _mm256_setzero_si256());
        a = sum_sq_step8(a, _mm256_and_ps(_mm256_loadu_ps(x + c), k), in, vmu, all);
    }
    double s = lanes512(a);
    for (int c = C8; c < C; c++) {
        if (!all && !keep[c]) continue;
        const double d = (double)fabsf(keep_f(keep, c, x[c])) - mu;
        s += d * d;
    }
    return s;
}

// The largest float g <= thr: for every float a, (double)a > thr exactly when a > g, so the
// flag test can run in float.
static inline float float_floor(double thr) {
    const float g = (float)thr;
    // nextafterf(g, -inf) by its bits, chosen by an SSE compare mask: whether the conversion
    // rounded up is as likely as not, so a branch on it (which compilers make of a select or of
    // integer masks) is mispredicted half the time.
    uint32_t b;
    memcpy(&b, &g, 4);
    const uint32_t sign = (uint32_t)((int32_t)b >> 31);           // all ones for a negative g
    const uint32_t zero = 0u - (uint32_t)((b << 1) == 0);          // all ones for +0 and -0
    const uint32_t step = b - (sign | 1u);                         // one float towards -inf
    const uint32_t down = (step & ~zero) | (0x80000001u & zero);   // below +-0: -denorm_min
    const __m128 up = _mm_castpd_ps(_mm_cmpgt_sd(_mm_set_sd((double)g), _mm_set_sd(thr))); // lane 0 all ones when g > thr
    const __m128 r = _mm_or_ps(_mm_and_ps(up, _mm_castsi128_ps(_mm_cvtsi32_si128((int)down))), _mm_andnot_ps(up, _mm_set_ss(g)));
    return _mm_cvtss_f32(r);
}

// mu + lambda sigma from the sum of squared deviations ss over n channels: the one expression
// both ways of finding ss go through.
static inline double threshold_of(double mu, double lambda, double ss, int n) {
    return mu + lambda * sqrt(ss / (double)(n - 1));
}

// Below this many channels the two-pass sum is a vector or two and costs less than the bracket's
// square roots.
enum { BRACKET_MIN_CHANNELS = 32 };

// float_floor(threshold_of(mu, lambda, ss, n)) for the ss the two-pass sum (sum_sq_*) would give,
// found from the one-pass sums s1 = sum |x|, s2 = sum x^2 (double, in the pass that finds the
// range) when they decide it. In reals, sum (|x| - mu)^2 = s2 - mu (2 s1 - n mu); the rounding of
// s1, s2 and of that expression, and the two-pass sum's own rounding (each at most about C/8 + 8
// units of 2^-53 of the magnitudes involved), lie well inside the bracket below (2^-46 per
// channel). Every step from ss to the float threshold is monotonic, so when both ends of the
// bracket give the same float, so does the two-pass ss, and detection skips that pass. Near-equal
// values (sigma tiny against mu), NaN or inf leave the bracket undecided: returns 0, and the
// caller runs the two-pass sum.
static int threshold_from_moments(double s1, double s2, double mu, int n, double lambda, int C, float *g) {
    const double e = s2 - mu * (2.0 * s1 - (double)n * mu);
    const double mag = s2 + mu * (2.0 * s1 + (double)n * mu);
    const double rel = (double)(C + 16) * 0x1p-46;
    double lo = (e - rel * mag) * (1.0 - rel), hi = (e + rel * mag) * (1.0 + rel);
    if (lo < 0) lo = 0;
    const float glo = float_floor(threshold_of(mu, lambda, lo, n)), ghi = float_floor(threshold_of(mu, lambda, hi, n));
    if (!(glo == ghi)) return 0;
    *g = glo;
    return 1;
}

// Inlier channels with |x| > g (g = float_floor(mu + lambda sigma)) leave `keep` and are appended
// to `fresh` in ascending order; returns how many.
static int flag_portable(const float *x, uint32_t *keep, int c0, int C, float g, int32_t *fresh) {
    int m = 0;
    for (int c = c0; c < C; c++)
        if (keep[c] && fabsf(x[c]) > g) { keep[c] = 0; fresh[m++] = c; }
    return m;
}

OURO_AVX2 static int flag_avx2(const float *x, uint32_t *keep, int C, float g, int32_t *fresh) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 vt = _mm256_set1_ps(g);
    int m = 0, c = 0;
    for (; c + 8 <= C; c += 8) {
        // Only inliers can be flagged: listed channels read as 0.
        const __m256 v = _mm256_and_ps(_mm256_and_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps((const float *)(keep + c))), absmask);
        int over = _mm256_movemask_ps(_mm256_cmp_ps(v, vt, _CMP_GT_OQ));
        while (over) {
            const int j = __builtin_ctz(over);
            over &= over - 1;
            keep[c + j] = 0;
            fresh[m++] = c + j;
        }
    }
    return m + flag_portable(x, keep, c, C, g, fresh + m);
}

// Merges the ascending `fresh` channels into the ascending list.
static void merge_fresh(point_state *st, const int32_t *fresh, int m) {
    int i = st->n - 1, j = m - 1, k = st->n + m - 1;
    while (j >= 0) st->list[k--] = (i >= 0 && st->list[i] > fresh[j]) ? st->list[i--] : fresh[j--];
    st->n += m;
}

// Pass 1's range over one block of 16 (v with listed and masked-off lanes read as 0, which changes
// none of lo, hi, max |x|): min and max x for an asymmetric point, else max |x| in *h. Inlined
// with a constant `asym`: only the range that point needs.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void pass1_range(__m512 v, __m512 av, int asym, __m512 *l, __m512 *h) {
    if (asym) {
        *l = _mm512_min_ps(*l, v);
        *h = _mm512_max_ps(*h, v);
    } else *h = _mm512_max_ps(*h, av);
}

// Pass 1 over a whole block of 16 channels: the range, and the lane sums of |x| into `a` (lane j
// takes channels j and j + 8, in that order) and, with `sq`, of x^2 into q and q1. The one block
// step of both AVX-512 detections (range_sum_avx512 and the windows' exact path), so that their
// sums agree bit for bit.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void pass1_block16(__m512 v, int asym, int sq, __m512 *l, __m512 *h, __m512d *a, __m512d *q, __m512d *q1) {
    const __m512 av = _mm512_abs_ps(v);
    pass1_range(v, av, asym, l, h);
    const __m512d a0 = _mm512_cvtps_pd(_mm512_castps512_ps256(av)), a1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(av, 1));
    *a = _mm512_add_pd(*a, a0);
    *a = _mm512_add_pd(*a, a1);
    // A float's square is exact in double, so only the sum rounds. Its order is free (the
    // bracket covers any order's rounding), so two chains keep it off the critical path.
    if (sq) {
        *q = _mm512_fmadd_pd(a0, a0, *q);
        *q1 = _mm512_fmadd_pd(a1, a1, *q1);
    }
}

// AVX-512 detection in up to three passes over the row, each with a masked tail instead of the
// narrower paths: (1) the inlier range together with the sums of |x| and x^2 (computed whether or
// not the step triggers, since they ride on the same loads), (2) the squared deviations, only
// where the sums of pass 1 leave the threshold undecided, (3) the flags.
// The sums keep the lanes and order of the other paths (lane j = channel mod 8 below C rounded
// down to 8, then the rest in order), so the bits are the same.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void range_sum_avx512(const float *x, const uint32_t *keep, int C, int asym, float *amax_or_lo,
                                    float *hi, double *sabs, double *ssq) {
    __m512 l = _mm512_setzero_ps(), h = l;
    __m512d a = _mm512_setzero_pd(), q = a, q1 = a;
    int c = 0;
    for (; c + 16 <= C; c += 16)
        pass1_block16(_mm512_and_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps((const float *)(keep + c))), asym, ssq != NULL,
                      &l, &h, &a, &q, &q1);
    const int rem = C - c;
    if (rem > 0) {
        const __mmask16 k = ouro_tail_mask16(rem);
        const __m512 v = _mm512_and_ps(_mm512_maskz_loadu_ps(k, x + c), _mm512_maskz_loadu_ps(k, (const float *)(keep + c)));
        const __m512 av = _mm512_abs_ps(v);
        pass1_range(v, av, asym, &l, &h);
        if (rem >= 8) {
            const __m512d a0 = _mm512_cvtps_pd(_mm512_castps512_ps256(av));
            a = _mm512_add_pd(a, a0);
            if (ssq) q = _mm512_fmadd_pd(a0, a0, q);
        }
    }
    double s = lanes512(a), s2 = lanes512(_mm512_add_pd(q, q1));
    for (int k = C / 8 * 8; k < C; k++) {
        const double v = (double)fabsf(keep_f(keep, k, x[k]));
        s += v;
        s2 += v * v;
    }
    *sabs = s;
    if (ssq) *ssq = s2;
    if (asym) { *amax_or_lo = _mm512_reduce_min_ps(l); *hi = _mm512_reduce_max_ps(h); }
    else { *amax_or_lo = _mm512_reduce_max_ps(h); *hi = 0; }
}

OURO_AVX512 static int flag_masked_avx512(const float *x, uint32_t *keep, int C, float g, int32_t *fresh) {
    const __m512 vt = _mm512_set1_ps(g);
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    int m = 0, c = 0;
    // Whole blocks without masks; the tail below with one.
    for (; c + 16 <= C; c += 16) {
        const __m512 v = _mm512_and_ps(_mm512_and_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps((const float *)(keep + c))), absmask);
        unsigned over = _mm512_cmp_ps_mask(v, vt, _CMP_GT_OQ);
        while (over) {
            const int j = __builtin_ctz(over);
            over &= over - 1;
            keep[c + j] = 0;
            fresh[m++] = c + j;
        }
    }
    if (c < C) {
        const __mmask16 k = ouro_tail_mask16(C - c);
        const __m512 v = _mm512_abs_ps(_mm512_and_ps(_mm512_maskz_loadu_ps(k, x + c), _mm512_maskz_loadu_ps(k, (const float *)(keep + c))));
        unsigned over = _mm512_mask_cmp_ps_mask(k, v, vt, _CMP_GT_OQ);
        while (over) {
            const int j = __builtin_ctz(over);
            over &= over - 1;
            keep[c + j] = 0;
            fresh[m++] = c + j;
        }
    }
    return m;
}

// s_dyn > S: the current inliers overflow the step's static range (Delta: from lo and hi, the
// other points: from the largest |x|), which triggers detection.
static inline int inliers_overflow(const ouro_point_params *p, float lo, float hi, float amax, float S) {
    const double sdyn = p->asymmetric ? ((double)hi - (double)lo) / (double)((1 << p->inlier_bits) - 1)
                                      : (double)amax / (double)((1 << (p->inlier_bits - 1)) - 1);
    return sdyn > (double)S;
}

// The two-pass sum of squared deviations on `path`.
static inline double sum_sq_path(int path, const float *x, const uint32_t *keep, int C, double mu, int all) {
    if (path == OURO_PATH_AVX512) return sum_sq_avx512(x, keep, C, mu, all);
    return ouro_simd(path) ? sum_sq_avx2(x, keep, C, mu, all) : sum_sq_portable(x, keep, C, mu, all);
}

// After pass 1 found sabs = sum |x| over the n counted channels (and ssq = sum x^2 from
// BRACKET_MIN_CHANNELS): returns 1 and sets *g to the float floor of mu + lambda sigma when the
// largest inlier |x|, amax, lies above it, 0 when no channel can be flagged.
static inline int flag_threshold(int path, const ouro_point_params *p, const float *x, const uint32_t *keep, int n,
                                 double sabs, double ssq, float amax, float *g) {
    const int C = p->C;
    const double mu = sabs / n;
    if (C >= BRACKET_MIN_CHANNELS && threshold_from_moments(sabs, ssq, mu, n, p->lambda, C, g)) return amax > *g;
    const double thr = threshold_of(mu, p->lambda, sum_sq_path(path, x, keep, C, mu, p->stats_all_with_zeros), n);
    if (!((double)amax > thr)) return 0; // decided before the float floor, which only flagging needs
    *g = float_floor(thr);
    return 1; // amax > thr, so amax > g
}

OURO_AVX512 static int detect_avx512(const ouro_point_params *p, const float *x, float S, point_state *st) {
    const int C = p->C;
    float lo_or_amax, hi;
    double sabs;
    double ssq = 0;
    // Below BRACKET_MIN_CHANNELS the one-pass sum of squares goes unused.
    if (p->asymmetric) {
        if (C >= BRACKET_MIN_CHANNELS) range_sum_avx512(x, st->keep, C, 1, &lo_or_amax, &hi, &sabs, &ssq);
        else range_sum_avx512(x, st->keep, C, 1, &lo_or_amax, &hi, &sabs, NULL);
    } else {
        if (C >= BRACKET_MIN_CHANNELS) range_sum_avx512(x, st->keep, C, 0, &lo_or_amax, &hi, &sabs, &ssq);
        else range_sum_avx512(x, st->keep, C, 0, &lo_or_amax, &hi, &sabs, NULL);
    }
    // lo_or_amax is lo for the asymmetric point, max |x| for the others.
    if (!inliers_overflow(p, lo_or_amax, hi, lo_or_amax, S)) return 0;
    const int n = p->stats_all_with_zeros ? C : C - st->n;
    if (n < 2) return 0;
    // The largest inlier |x| came with pass 1: when it is not above the threshold, no channel is.
    const float amax = p->asymmetric ? fmaxf(-lo_or_amax, hi) : lo_or_amax;
    float g;
    if (!flag_threshold(OURO_PATH_AVX512, p, x, st->keep, n, sabs, ssq, amax, &g)) return 0;
    const int m = flag_masked_avx512(x, st->keep, C, g, st->fresh);
    if (m == 0) return 0;
    merge_fresh(st, st->fresh, m);
    return 1;
}

// Detection at one step: when the inliers overflow S (s_dyn > S), channels with |x| > mu + lambda
// sigma (over the current inliers, or all channels with listed ones as zeros) join the list.
// Returns 1 when the list changed.
static int detect(int path, const ouro_point_params *p, const float *x, float S, point_state *st) {
    if (path == OURO_PATH_AVX512) return detect_avx512(p, x, S, st);
    const int C = p->C, avx2 = ouro_simd(path);
    float lo, hi, amax;
    if (avx2) inlier_range_avx2(x, st->keep, C, &lo, &hi, &amax);
    else inlier_range_portable(x, st->keep, C, &lo, &hi, &amax);
    if (!inliers_overflow(p, lo, hi, amax, S)) return 0;
    const int n = p->stats_all_with_zeros ? C : C - st->n;
    if (n < 2) return 0;
    double ssq = 0, sabs;
    if (C >= BRACKET_MIN_CHANNELS) sabs = avx2 ? sum_abs_sq_avx2(x, st->keep, C, &ssq) : sum_abs_portable(x, st->keep, C, &ssq);
    else sabs = avx2 ? sum_abs_only_avx2(x, st->keep, C) : sum_abs_portable(x, st->keep, C, NULL);
    float g;
    if (!flag_threshold(path, p, x, st->keep, n, sabs, ssq, amax, &g)) return 0; // no inlier is above the threshold
    const int m = avx2 ? flag_avx2(x, st->keep, C, g, st->fresh) : flag_portable(x, st->keep, 0, C, g, st->fresh);
    if (m == 0) return 0;
    merge_fresh(st, st->fresh, m);
    return 1;
}

static inline float qsym(float x, float s, float q) {
    float r = nearbyintf(x / s);
    r = r > -q ? r : -q;
    r = r < q ? r : q;
    return s * r;
}

static inline float qasym(float x, float s, float z, float lv) {
    float r = nearbyintf(x / s) + z;
    r = r > 0 ? r : 0;
    r = r < lv ? r : lv;
    return s * (r - z);
}

/// The outliers' dynamic asymmetric scale and zero point (Δ) for the range [lo, hi] (which holds 0)
/// on lvO = 2^b_O - 1 levels, computed in double; the row-by-row and windows paths share it.
static inline void outlier_asym_params(float lo, float hi, double lvO, float *scale, float *zero) {
    const double range = (double)hi - (double)lo;
    const float sO = (float)((range > 1e-8 ? range : 1e-8) / lvO);
    double zr = nearbyint(-(double)lo / (double)sO);
    zr = zr > 0 ? zr : 0;
    zr = zr < lvO ? zr : lvO;
    *scale = sO;
    *zero = (float)zr;
}

OURO_AVX2 static void quantize_inliers_avx2(float *x, const uint32_t *keep, int C, int asym, float s, float z,
                                            float qmax_or_levels) {
    const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(z), top = _mm256_set1_ps(qmax_or_levels);
    const __m256 bottom = asym ? _mm256_setzero_ps() : _mm256_set1_ps(-qmax_or_levels);
    int c = 0;
    for (; c + 8 <= C; c += 8) {
        const __m256 v = _mm256_loadu_ps(x + c);
        __m256 r = _mm256_round_ps(_mm256_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (asym) r = _mm256_add_ps(r, vz);
        r = _mm256_min_ps(_mm256_max_ps(r, bottom), top);
        if (asym) r = _mm256_sub_ps(r, vz);
        const __m256 k = _mm256_loadu_ps((const float *)(keep + c));
        _mm256_storeu_ps(x + c, _mm256_blendv_ps(v, _mm256_mul_ps(vs, r), k));
    }
    for (; c < C; c++)
        if (keep[c]) x[c] = asym ? qasym(x[c], s, z, qmax_or_levels) : qsym(x[c], s, qmax_or_levels);
}

// One block of 16 of the AVX-512 inlier quantization: the lanes in `in` of v (read from x) become
// s·(clamp(rne(v/s) + z) − z) in x, and with `table` also sp = table[level]. The one block step of
// quantize_inliers_avx512 and of the windows' quantizers (win_quantize_sym, win_quantize_delta).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void quantize_inliers_block16(__m512 v, float *x, float *sp, __mmask16 in, int asym, __m512 vs, __m512 vz,
                                            __m512 bottom, __m512 top, int table, __m512 vt) {
    __m512 r = _mm512_roundscale_ps(_mm512_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (asym) r = _mm512_add_ps(r, vz);
    r = _mm512_min_ps(_mm512_max_ps(r, bottom), top);
    if (table) _mm512_mask_storeu_ps(sp, in, _mm512_permutexvar_ps(_mm512_cvttps_epi32(r), vt));
    if (asym) r = _mm512_sub_ps(r, vz);
    _mm512_mask_storeu_ps(x, in, _mm512_mul_ps(vs, r));
}

// AVX-512 inlier quantization with a masked tail: the same per-lane operations as the AVX2 loop.
// With `sp`, also sp[c] = table[level] for the inliers (the levels index a 16-entry table).
OURO_AVX512 static void quantize_inliers_avx512(float *x, const uint32_t *keep, int C, int asym, float s, float z,
                                               float qmax_or_levels, const float *table, float *sp) {
    const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(z), top = _mm512_set1_ps(qmax_or_levels);
    const __m512 bottom = asym ? _mm512_setzero_ps() : _mm512_set1_ps(-qmax_or_levels);
    const __m512 vt = table ? _mm512_loadu_ps(table) : _mm512_setzero_ps();
    for (int c = 0; c < C; c += 16) {
        const __mmask16 k = ouro_tail_mask16(C - c);
        const __mmask16 in = _mm512_mask_test_epi32_mask(k, _mm512_maskz_loadu_epi32(k, keep + c), _mm512_set1_epi32(-1));
        quantize_inliers_block16(_mm512_maskz_loadu_ps(k, x + c), x + c, sp ? sp + c : NULL, in, asym, vs, vz, bottom, top,
                                 table != NULL, vt);
    }
}

// The inlier softplus table of one step: the very values the inliers are quantized to, s·(r − z),
// through p->softplus, so the table agrees with the separate softplus bit for bit.
static void softplus_table(const ouro_point_params *p, float S, int32_t zi, float table[16]) {
    const int top = (1 << p->inlier_bits) - 1;
    float levels[16] = {0};
    for (int r = 0; r <= top; r++) levels[r] = S * ((float)r - (float)zi);
    p->softplus(p->softplus_path, 16, levels, table);
}

// A point with inlier softplus tables: asymmetric, at most 16 inlier levels, outliers below 16
// bits (so that they are rewritten), and a softplus kernel.
static int has_softplus_tables(const ouro_point_params *p) {
    return p->asymmetric && p->inlier_bits >= 1 && p->inlier_bits <= 4 && p->outlier_bits < 16 && p->softplus != NULL;
}

int ouro_point_softplus_tables(const ouro_point_params *p, float *tables) {
    if (!has_softplus_tables(p)) return -2;
    for (int i = 0; i < p->nscales; i++) softplus_table(p, p->scales[i], p->zeros ? p->zeros[i] : 0, tables + 16 * (size_t)i);
    return 0;
}

// Fake quantization of one row: inliers at b_I with (S, z); listed channels at b_O with a
// dynamic scale, or unchanged at b_O = 16. With `sp` (AVX-512, asymmetric, at most 16 inlier
// levels, b_O < 16), also sp = softplus(x̂): inliers from `table` (the step's softplus table),
// outliers through p->softplus; `scratch` holds 2C floats.
static void quantize_row(int path, const ouro_point_params *p, float *x, float S, int32_t zi, const point_state *st,
                         float *sp, const float *table, float *scratch) {
    const int C = p->C;
    const float z = (float)zi;
    const float top = p->asymmetric ? (float)((1 << p->inlier_bits) - 1) : (float)((1 << (p->inlier_bits - 1)) - 1);
    if (path == OURO_PATH_AVX512) {
        quantize_inliers_avx512(x, st->keep, C, p->asymmetric, S, z, top, sp ? table : NULL, sp);
    } else if (ouro_simd(path)) quantize_inliers_avx2(x, st->keep, C, p->asymmetric, S, z, top);
    else
        for (int c = 0; c < C; c++)
            if (st->keep[c]) x[c] = p->asymmetric ? qasym(x[c], S, z, top) : qsym(x[c], S, top);
    if (st->n == 0 || p->outlier_bits >= 16) return;
    if (p->asymmetric) {
        float lo = 0, hi = 0;
        for (int j = 0; j < st->n; j++) {
            const float v = x[st->list[j]];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        const double lvO = (double)((1 << p->outlier_bits) - 1);
        float sO, zO;
        outlier_asym_params(lo, hi, lvO, &sO, &zO);
        for (int j = 0; j < st->n; j++) x[st->list[j]] = qasym(x[st->list[j]], sO, zO, (float)lvO);
        if (sp) {
            for (int j = 0; j < st->n; j++) scratch[j] = x[st->list[j]];
            p->softplus(p->softplus_path, st->n, scratch, scratch + C);
            for (int j = 0; j < st->n; j++) sp[st->list[j]] = scratch[C + j];
        }
        return;
    }
    float m = 0;
    for (int j = 0; j < st->n; j++) {
        const float a = fabsf(x[st->list[j]]);
        m = a > m ? a : m;
    }
    const float qO = (float)((1 << (p->outlier_bits - 1)) - 1);
    const float sO = outlier_sym_scale(m, qO);
    for (int j = 0; j < st->n; j++) x[st->list[j]] = qsym(x[st->list[j]], sO, qO);
}

int ouro_point_softplus_supported(int path, const ouro_point_params *p) {
    return path == OURO_PATH_AVX512 && has_softplus_tables(p) && p->softplus_tables != NULL;
}

// Whether mu + lambda sigma can be exceeded among C channels at all. Of n values, none lies more
// than sigma (n - 1) / sqrt(n) above their mean (Samuelson's inequality, unbiased sigma), and the
// bound grows with n <= C. A lambda above it by a relative 1e-6, far more than the rounding of mu
// and sigma, can never flag a channel (lambda 3 with at most 10 channels, lambda 4 with at most
// 17: dt_low of the smaller models), so detection is skipped: the same lists.
static int can_flag(double lambda, int C) {
    if (C < 2) return 0;
    return lambda * sqrt((double)C) < (double)(C - 1) * (1.0 + 1e-6);
}

// One row's list into the caller's slots: on the AVX-512 path by masked vector moves, since a
// memcpy call for a few entries on every row of every linear point costs more than the copy.
OURO_AVX512 static void copy_list_avx512(int32_t *dst, const int32_t *src, int n) {
    for (int i = 0; i < n; i += 16) {
        const __mmask16 k = ouro_tail_mask16(n - i);
        _mm512_mask_storeu_epi32(dst + i, k, _mm512_maskz_loadu_epi32(k, src + i));
    }
}

static inline void copy_list(int path, int32_t *dst, const int32_t *src, int n) {
    if (path == OURO_PATH_AVX512) copy_list_avx512(dst, src, n);
    else memcpy(dst, src, sizeof(int32_t) * (size_t)n);
}

OURO_AVX512 static void gather_lists_avx512(int rows, int cols, const int32_t *counts, const int32_t *slots,
                                            const int32_t *ptr, int32_t *flat) {
    for (int t = 0; t < rows; t++) copy_list_avx512(flat + ptr[t], slots + (size_t)t * cols, counts[t]);
}

void ouro_gather_lists(int path, int rows, int cols, const int32_t *counts, const int32_t *slots, const int32_t *ptr,
                       int32_t *flat) {
    // The AVX-512 loop inlines copy_list_avx512; copy_list would call it once per row.
    if (path == OURO_PATH_AVX512) { gather_lists_avx512(rows, cols, counts, slots, ptr, flat); return; }
    for (int t = 0; t < rows; t++)
        if (counts[t] > 0) copy_list(path, flat + ptr[t], slots + (size_t)t * cols, counts[t]); // flat is NULL when all are empty
}

// Detection of up to eight windows side by side (AVX-512, dynamic lists, C a multiple of 16 up
// to 16·WIN_MAX_BLOCKS). The list restarts at every window, so the windows of a sample are
// independent. One row at a time, detection is a long chain of scalar steps (the lane sums'
// tree, the mean, the square roots, the float floor) with branches that mispredict on it. Here
// the eight windows' rows of one step go through pass 1 one by one, and then through those
// scalar steps together, one window per double lane. Pass 1 sums in float, and the lists come
// from a bracket of the exact threshold wherever it decides them (win_step); elsewhere, and for
// the range and the trigger always, every value comes from the operations of detect_avx512
// (range_sum_avx512's sum of |x|, sum_sq_avx512, threshold_of, float_floor), so the lists are
// the same; only a NaN can make the range differ, and a NaN among the inliers makes the sums
// NaN, which flags nothing on either path.
// Above 384 channels the row-by-row path is as fast or faster (in cache: 225 against 233 ns per
// row at 768), so the windows stop there.
enum { WIN_LANES = 8, WIN_MAX_BLOCKS = 24 };

typedef struct {
    uint16_t listed[WIN_LANES][WIN_MAX_BLOCKS]; // bit j of block b: channel 16b + j is listed
    __m256i n;                                  // list sizes, one lane per window
} win_group;

// float_floor in eight lanes.
OURO_AVX512 static inline __m256 win_float_floor(__m512d thr) {
    const __m256 g = _mm512_cvtpd_ps(thr);
    const __m256i b = _mm256_castps_si256(g);
    const __m256i sign = _mm256_srai_epi32(b, 31);
    const __m256i zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(b, 1), _mm256_setzero_si256());
    const __m256i step = _mm256_sub_epi32(b, _mm256_or_si256(sign, _mm256_set1_epi32(1)));
    const __m256i down = _mm256_or_si256(_mm256_andnot_si256(zero, step), _mm256_and_si256(zero, _mm256_set1_epi32((int)0x80000001u)));
    const __mmask8 up = _mm512_cmp_pd_mask(_mm512_cvtps_pd(g), thr, _CMP_GT_OQ);
    return _mm256_mask_blend_ps(up, g, _mm256_castsi256_ps(down));
}

// sum_sq_avx512's lane sums (before the tree) with the listed channels given as bits.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline __m512d win_sum_sq_lanes(const float *x, const uint16_t *listed, int NB, double mu, int all) {
    __m512d a = _mm512_setzero_pd();
    const __m512d vmu = _mm512_set1_pd(mu);
    for (int b = 0; b < NB; b++) {
        for (int half = 0; half < 2; half++) {
            const __mmask8 in = (__mmask8)(~listed[b] >> (8 * half));
            a = sum_sq_step8(a, _mm256_maskz_loadu_ps(in, x + 16 * b + 8 * half), in, vmu, all);
        }
    }
    return a;
}

// The lane sums of |x| over the inliers of one row of C = 16·NB channels, in pass1_block16's
// order (range_sum_avx512's, so lanes512 of it is the row path's exact sum).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline __m512d win_sum_abs_lanes(const float *x, const uint16_t *listed, int NB) {
    __m512 l = _mm512_setzero_ps(), h = l;
    __m512d a = _mm512_setzero_pd(), q = a, q1 = a;
    for (int b = 0; b < NB; b++)
        pass1_block16(_mm512_maskz_loadu_ps((__mmask16)~listed[b], x + 16 * b), 0, 0, &l, &h, &a, &q, &q1);
    return a;
}

// Eight rows' eight-lane minima or maxima reduced: lane w of the result is the min or max of v[w]'s
// lanes. The order differs from _mm512_reduce_max_ps, which changes nothing but which NaN wins,
// and a NaN among the inliers flags nothing on either path (the sums are NaN).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline __m256 win_reduce8(const __m256 v[WIN_LANES], int is_max) {
#define WIN_OP(a, b) (is_max ? _mm256_max_ps(a, b) : _mm256_min_ps(a, b))
    __m256 p[4];
    for (int i = 0; i < 4; i++) p[i] = WIN_OP(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    const __m256 q0 = WIN_OP(_mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 q1 = WIN_OP(_mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return WIN_OP(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
#undef WIN_OP
}

// Pass 1 in float on one row of C = 16·NB channels: the lane sums of |x| and of x^2 (16 lanes,
// one chain each), and the inlier range folded to eight lanes (min and max x, or max |x| in *hi).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_pass1_float(const float *x, const uint16_t *listed, int NB, int asym, __m256 *sabs, __m256 *ssq,
                                   __m256 *lo, __m256 *hi) {
    __m512 l = _mm512_setzero_ps(), h = l, a = l, q = l;
    for (int b = 0; b < NB; b++) {
        const __m512 v = _mm512_maskz_loadu_ps((__mmask16)~listed[b], x + 16 * b);
        const __m512 av = _mm512_abs_ps(v);
        pass1_range(v, av, asym, &l, &h);
        a = _mm512_add_ps(a, av);
        q = _mm512_fmadd_ps(av, av, q);
    }
    *sabs = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    *ssq = _mm256_add_ps(_mm512_castps512_ps256(q), _mm512_extractf32x8_ps(q, 1));
    *lo = _mm256_min_ps(_mm512_castps512_ps256(l), _mm512_extractf32x8_ps(l, 1));
    *hi = _mm256_max_ps(_mm512_castps512_ps256(h), _mm512_extractf32x8_ps(h, 1));
}

// Eight rows' eight-lane sums: lane w of the result is a sum of v[w]'s lanes, three additions deep
// (win_reduce8's tree with + instead of max).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline __m256 win_sum8(const __m256 v[WIN_LANES]) {
    __m256 p[4];
    for (int i = 0; i < 4; i++) p[i] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    const __m256 q0 = _mm256_add_ps(_mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 q1 = _mm256_add_ps(_mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

// The float sums' bracket of the exact threshold, in eight lanes. Every sum above is of
// non-negative terms with at most NB + 4 roundings on any term's path (the chain of NB, the fold
// to eight lanes, the three-deep tree), so it lies within gamma = k u / (1 - k u), k = NB + 4,
// u = 2^-24, of the true sum; an underflowing square adds at most 2^-149 a term. From sums within
// E = 2 gamma + 2^-40 of the true ones, mu = S1 / n and ss = S2 - S1 mu are bracketed by monotonic
// steps; 2^-39 of the magnitudes and 2^-40 of the threshold cover the rounding of these steps
// (reciprocals included) and all of the exact path's (its double sums, mu, two-pass ss and
// threshold_of, each far below 2^-40 relative for C <= 384). So the exact threshold lies in
// [*tlo, *thi] whenever both are finite; inf and NaN (from inf or NaN inputs, or float overflow
// of the squares) leave *ok clear.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_float_bracket(__m256 s1f, __m256 s2f, __m512d n, double lambda, int NB, int C, __m512d *tlo, __m512d *thi,
                                     __mmask8 *ok) {
    const double k = (double)(NB + 4) * 0x1p-24, E = 2.0 * k / (1.0 - k) + 0x1p-40;
    const __m512d s1 = _mm512_cvtps_pd(s1f), s2 = _mm512_cvtps_pd(s2f);
    const __m512d under = _mm512_set1_pd((double)(C + 16) * 0x1p-149);
    const __m512d s1lo = _mm512_mul_pd(s1, _mm512_set1_pd(1.0 - E)), s1hi = _mm512_mul_pd(s1, _mm512_set1_pd(1.0 + E));
    const __m512d s2lo = _mm512_sub_pd(_mm512_mul_pd(s2, _mm512_set1_pd(1.0 - E)), under);
    const __m512d s2hi = _mm512_add_pd(_mm512_mul_pd(s2, _mm512_set1_pd(1.0 + E)), under);
    // Reciprocals instead of divides: their rounding is far inside the bracket's slack.
    const __m512d rn = _mm512_div_pd(_mm512_set1_pd(1.0), n), rden = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_sub_pd(n, _mm512_set1_pd(1.0)));
    const __m512d mulo = _mm512_mul_pd(s1lo, rn), muhi = _mm512_mul_pd(s1hi, rn);
    const __m512d mag = _mm512_mul_pd(_mm512_add_pd(s2hi, _mm512_mul_pd(s1hi, muhi)), _mm512_set1_pd(0x1p-39));
    __m512d sslo = _mm512_sub_pd(_mm512_sub_pd(s2lo, _mm512_mul_pd(s1hi, muhi)), mag);
    const __m512d sshi = _mm512_add_pd(_mm512_sub_pd(s2hi, _mm512_mul_pd(s1lo, mulo)), mag);
    sslo = _mm512_max_pd(sslo, _mm512_setzero_pd()); // also sends NaN to 0; *thi keeps it
    const __m512d vl = _mm512_set1_pd(lambda);
    *tlo = _mm512_mul_pd(_mm512_add_pd(mulo, _mm512_mul_pd(vl, _mm512_sqrt_pd(_mm512_mul_pd(sslo, rden)))), _mm512_set1_pd(1.0 - 0x1p-40));
    *thi = _mm512_mul_pd(_mm512_add_pd(muhi, _mm512_mul_pd(vl, _mm512_sqrt_pd(_mm512_mul_pd(sshi, rden)))), _mm512_set1_pd(1.0 + 0x1p-40));
    *ok = _mm512_cmp_pd_mask(*thi, _mm512_set1_pd(INFINITY), _CMP_LT_OQ) & _mm512_cmp_pd_mask(*tlo, *tlo, _CMP_ORD_Q);
    if (!(lambda >= 0)) *ok = 0; // the steps are monotonic only for lambda >= 0
}

// The inliers of one row (listed channels as bits) with |x| above glo, one mask per block of 16,
// into f; returns nonzero when any of them is not above ghi (a value within the bracket
// (glo, ghi], which leaves the flags undecided). With glo == ghi these are the flags of that
// float threshold, and the return is 0.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline unsigned win_flags(const float *x, const uint16_t *listed, int NB, float glo, float ghi, __mmask16 *f) {
    const __m512 vl = _mm512_set1_ps(glo), vh = _mm512_set1_ps(ghi);
    unsigned within = 0;
    for (int b = 0; b < NB; b++) {
        const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + 16 * b));
        f[b] = _mm512_mask_cmp_ps_mask((__mmask16)~listed[b], v, vl, _CMP_GT_OQ);
        within |= _mm512_mask_cmp_ps_mask(f[b], v, vh, _CMP_LE_OQ);
    }
    return within;
}

// Adds the flags f to a window's listed bits; returns how many there are.
static inline int win_commit(uint16_t *listed, const __mmask16 *f, int NB) {
    int a = 0;
    for (int b = 0; b < NB; b++) {
        listed[b] |= f[b];
        a += __builtin_popcount(f[b]);
    }
    return a;
}

// One step of the windows of a group in `active`: row[w] is window w's row at this step, lane w of
// S its static scale. Detection as detect_avx512 does it, the listed bits of every window updated.
// The threshold comes from float sums and their bracket (win_float_bracket) wherever that decides
// the lists: the largest inlier |x| and every inlier that could be flagged lie outside the
// bracket, so they compare with the exact threshold as with either end. The other windows (rare:
// a value within about 1e-5 of the threshold, sigma tiny against mu, inf or NaN) take the exact
// path of detect_avx512: double sums in lanes8's order, the two-pass ss, threshold_of.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_step(const ouro_point_params *p, const float *const row[WIN_LANES], __m256 S, __mmask8 active,
                            int NB, win_group *gr) {
    const int C = p->C, asym = p->asymmetric, all = p->stats_all_with_zeros;
    __m256 A[WIN_LANES], Q[WIN_LANES], lo[WIN_LANES], hi[WIN_LANES];
    for (int w = 0; w < WIN_LANES; w++) {
        if ((active >> w) & 1) win_pass1_float(row[w], gr->listed[w], NB, asym, &A[w], &Q[w], &lo[w], &hi[w]);
        else A[w] = Q[w] = lo[w] = hi[w] = _mm256_setzero_ps();
    }
    const __m256 vlo = asym ? win_reduce8(lo, 0) : _mm256_setzero_ps(), vhi = win_reduce8(hi, 1);
    const __m256 amax = asym ? _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), vlo), vhi) : vhi;
    // inliers_overflow in eight lanes
    __m512d sdyn;
    if (asym) sdyn = _mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(vhi), _mm512_cvtps_pd(vlo)), _mm512_set1_pd((double)((1 << p->inlier_bits) - 1)));
    else sdyn = _mm512_div_pd(_mm512_cvtps_pd(amax), _mm512_set1_pd((double)((1 << (p->inlier_bits - 1)) - 1)));
    const __m512d n = _mm512_cvtepi32_pd(all ? _mm256_set1_epi32(C) : _mm256_sub_epi32(_mm256_set1_epi32(C), gr->n));
    const __mmask8 trig = _mm512_cmp_pd_mask(sdyn, _mm512_cvtps_pd(S), _CMP_GT_OQ) & _mm512_cmp_pd_mask(n, _mm512_set1_pd(2.0), _CMP_GE_OQ) & active;
    if (!trig) return; // no window's inliers overflow: no list changes
    __m512d tlo, thi;
    __mmask8 ok;
    win_float_bracket(win_sum8(A), win_sum8(Q), n, p->lambda, NB, C, &tlo, &thi, &ok);
    const __m256 glo = win_float_floor(tlo), ghi = win_float_floor(thi);
    // Windows whose largest inlier |x| is above the bracket's low end may flag; one with a value
    // within the bracket (the largest |x| too) goes to the exact path from the flag loop.
    __mmask8 exact = trig & (__mmask8)~ok;
    const __mmask8 fire = trig & ok & _mm256_cmp_ps_mask(amax, glo, _CMP_GT_OQ);
    float gl[WIN_LANES], gh[WIN_LANES];
    _mm256_storeu_ps(gl, glo);
    _mm256_storeu_ps(gh, ghi);
    int32_t added[WIN_LANES] = {0};
    __mmask16 f[WIN_MAX_BLOCKS];
    for (__mmask8 m = fire; m; m &= (__mmask8)(m - 1)) {
        const int w = __builtin_ctz(m);
        if (win_flags(row[w], gr->listed[w], NB, gl[w], gh[w], f)) { exact |= (__mmask8)(1u << w); continue; }
        added[w] = win_commit(gr->listed[w], f, NB);
    }
    float am[WIN_LANES];
    int32_t nlist[WIN_LANES];
    if (exact) {
        _mm256_storeu_ps(am, amax);
        _mm256_storeu_si256((__m256i *)nlist, gr->n);
    }
    for (__mmask8 m = exact; m; m &= (__mmask8)(m - 1)) { // detect_avx512's exact threshold
        const int w = __builtin_ctz(m);
        const int nw = all ? C : C - nlist[w];
        const double mu = lanes512(win_sum_abs_lanes(row[w], gr->listed[w], NB)) / (double)nw;
        const double thr = threshold_of(mu, p->lambda, lanes512(win_sum_sq_lanes(row[w], gr->listed[w], NB, mu, all)), nw);
        if (!((double)am[w] > thr)) continue;
        const float g = float_floor(thr);
        win_flags(row[w], gr->listed[w], NB, g, g, f);
        added[w] = win_commit(gr->listed[w], f, NB);
    }
    gr->n = _mm256_add_epi32(gr->n, _mm256_loadu_si256((const __m256i *)added));
}

// The ascending list of window w into dst.
OURO_AVX512 static void win_list(const win_group *gr, int w, int NB, int32_t *dst) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int pos = 0;
    for (int b = 0; b < NB; b++) {
        const __mmask16 k = gr->listed[w][b];
        const int c = __builtin_popcount(k);
        _mm512_mask_storeu_epi32(dst + pos, ouro_tail_mask16(c), _mm512_maskz_compress_epi32(k, _mm512_add_epi32(iota, _mm512_set1_epi32(16 * b))));
        pos += c;
    }
}

// quantize_row for a symmetric point without softplus, with the listed channels given as bits:
// quantize_inliers_avx512's block step and the outlier loop's operations (the largest
// listed |x| ignores NaN, as that loop's compare does; qsym's selects are max and min with the
// bound second, which also send NaN to -q).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_quantize_sym(const ouro_point_params *p, float *x, const uint16_t *listed, int n, int NB, float S) {
    const float q = (float)((1 << (p->inlier_bits - 1)) - 1);
    const __m512 vs = _mm512_set1_ps(S), top = _mm512_set1_ps(q), bottom = _mm512_set1_ps(-q), zero = _mm512_setzero_ps();
    __m512 m = zero;
    for (int b = 0; b < NB; b++) {
        const __m512 v = _mm512_loadu_ps(x + 16 * b);
        quantize_inliers_block16(v, x + 16 * b, NULL, (__mmask16)~listed[b], 0, vs, zero, bottom, top, 0, zero);
        m = _mm512_mask_max_ps(m, listed[b], _mm512_abs_ps(v), m);
    }
    if (n == 0 || p->outlier_bits >= 16) return;
    const float mx = _mm512_reduce_max_ps(m);
    const float qO = (float)((1 << (p->outlier_bits - 1)) - 1);
    const __m512 vo = _mm512_set1_ps(outlier_sym_scale(mx, qO)), otop = _mm512_set1_ps(qO), obottom = _mm512_set1_ps(-qO);
    for (int b = 0; b < NB; b++) {
        if (!listed[b]) continue;
        __m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + 16 * b), vo), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_min_ps(_mm512_max_ps(r, obottom), otop);
        _mm512_mask_storeu_ps(x + 16 * b, listed[b], _mm512_mul_ps(vo, r));
    }
}

// quantize_row for the Δ points with softplus (asymmetric, at most 16 inlier levels, outliers
// below 16 bits), with the listed channels given as bits: quantize_inliers_avx512's block step
// with its table, then the outlier loops. The outliers' range starts at
// 0 and takes a value only when it is strictly beyond, as the loop's compares do (min and max
// with the running value second: NaN and equal zeros keep it), and their softplus goes through
// p->softplus in list order, as quantize_row calls it.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_quantize_delta(const ouro_point_params *p, float *x, const uint16_t *listed, int n, int NB, float S,
                                      int32_t zi, const float *table, float *sp, float *scratch) {
    const int C = p->C;
    const __m512 vs = _mm512_set1_ps(S), vz = _mm512_set1_ps((float)zi), top = _mm512_set1_ps((float)((1 << p->inlier_bits) - 1));
    const __m512 zero = _mm512_setzero_ps(), vt = _mm512_loadu_ps(table);
    __m512 lo = zero, hi = zero;
    for (int b = 0; b < NB; b++) {
        const __m512 v = _mm512_loadu_ps(x + 16 * b);
        quantize_inliers_block16(v, x + 16 * b, sp + 16 * b, (__mmask16)~listed[b], 1, vs, vz, zero, top, 1, vt);
        lo = _mm512_mask_min_ps(lo, listed[b], v, lo);
        hi = _mm512_mask_max_ps(hi, listed[b], v, hi);
    }
    if (n == 0) return;
    const float l = _mm512_reduce_min_ps(lo), h = _mm512_reduce_max_ps(hi);
    const double lvO = (double)((1 << p->outlier_bits) - 1);
    float sO, zO;
    outlier_asym_params(l, h, lvO, &sO, &zO);
    const __m512 vo = _mm512_set1_ps(sO), vzo = _mm512_set1_ps(zO), lvo = _mm512_set1_ps((float)lvO);
    int pos = 0;
    for (int b = 0; b < NB; b++) {
        if (!listed[b]) continue;
        __m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + 16 * b), vo), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, vzo), zero), lvo);
        const __m512 q = _mm512_mul_ps(vo, _mm512_sub_ps(r, vzo));
        _mm512_mask_storeu_ps(x + 16 * b, listed[b], q);
        const int c = __builtin_popcount(listed[b]);
        _mm512_mask_storeu_ps(scratch + pos, ouro_tail_mask16(c), _mm512_maskz_compress_ps(listed[b], q));
        pos += c;
    }
    p->softplus(p->softplus_path, n, scratch, scratch + C);
    pos = 0;
    for (int b = 0; b < NB; b++) {
        if (!listed[b]) continue;
        _mm512_mask_storeu_ps(sp + 16 * b, listed[b], _mm512_maskz_expandloadu_ps(listed[b], scratch + C + pos));
        pos += __builtin_popcount(listed[b]);
    }
}

// point_run's loop for the points win_step serves, over `ns` samples (sample s at x + s·xs, its
// counts at counts + s·L, lists at lists + s·L·C, softplus at sp + s·sps). The windows of all
// samples are chains, eight to a group. `st` is point_run's scratch, which the fake quantization
// of a row reads (its keep words and list). Inlined with a constant NB for the common widths.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma"), always_inline))
static inline void win_run(const ouro_point_params *p, int NB, float *x, int ldx, int L, int ns, size_t xs, int reversed,
                           int apply, int32_t *counts, int32_t *lists, float *sp, int ldsp, size_t sps, point_state *st,
                           float *scratch) {
    const int C = p->C, nr = p->n_refresh, nw = (L + nr - 1) / nr, chains = ns * nw;
    win_group gr;
    for (int c0 = 0; c0 < chains; c0 += WIN_LANES) {
        memset(&gr, 0, sizeof gr);
        int ss[WIN_LANES], first[WIN_LANES]; // each lane's sample and first step
        for (int w = 0; w < WIN_LANES; w++) {
            ss[w] = (c0 + w) / nw;
            first[w] = c0 + w < chains ? (c0 + w) % nw * nr : L;
        }
        for (int k = 0; k < nr; k++) {
            const float *row[WIN_LANES];
            int rs[WIN_LANES], ts[WIN_LANES];
            __m256 S = _mm256_setzero_ps();
            __mmask8 active = 0;
            for (int w = 0; w < WIN_LANES; w++) {
                const int t = first[w] + k;
                row[w] = x;
                if (t >= L) continue;
                ts[w] = t;
                rs[w] = reversed ? L - 1 - t : t;
                row[w] = x + (size_t)ss[w] * xs + (size_t)rs[w] * ldx;
                S = _mm256_mask_broadcastss_ps(S, (__mmask8)(1u << w), _mm_load_ss(p->scales + (p->nscales == 1 ? 0 : t)));
                active |= (__mmask8)(1u << w);
            }
            if (!active) break;
            win_step(p, row, S, active, NB, &gr);
            int32_t n[WIN_LANES];
            _mm256_storeu_si256((__m256i *)n, gr.n);
            for (int w = 0; w < WIN_LANES; w++) {
                if (!((active >> w) & 1)) continue;
                const size_t r = (size_t)ss[w] * L + (size_t)rs[w];
                counts[r] = n[w];
                if (lists && n[w]) win_list(&gr, w, NB, lists + r * C);
                if (!apply) continue;
                const int ti = p->nscales == 1 ? 0 : ts[w]; // the step's scale (and zero point, and table)
                if (!p->asymmetric && !sp) {
                    win_quantize_sym(p, (float *)row[w], gr.listed[w], n[w], NB, p->scales[ti]);
                    continue;
                }
                if (sp) { // only the Δ points with softplus tables get here (ouro_point_softplus_supported)
                    win_quantize_delta(p, (float *)row[w], gr.listed[w], n[w], NB, p->scales[ti], p->zeros ? p->zeros[ti] : 0,
                                       p->softplus_tables + 16 * (size_t)ti, sp + (size_t)ss[w] * sps + (size_t)rs[w] * ldsp, scratch);
                    continue;
                }
                // The asymmetric points without softplus: quantize_row on the row's keep words and list.
                for (int b = 0; b < NB; b++)
                    _mm512_storeu_si512((void *)(st->keep + 16 * b), _mm512_movm_epi32((__mmask16)~gr.listed[w][b]));
                st->n = n[w];
                if (st->n) win_list(&gr, w, NB, st->list);
                quantize_row(OURO_PATH_AVX512, p, (float *)row[w], p->scales[ti], p->zeros ? p->zeros[ti] : 0, st, NULL, NULL, scratch);
            }
        }
    }
}

OURO_AVX512 static void point_run_windows(const ouro_point_params *p, float *x, int ldx, int L, int ns, size_t xs, int reversed,
                                          int apply, int32_t *counts, int32_t *lists, float *sp, int ldsp, size_t sps,
                                          point_state *st, float *scratch) {
#define WIN_RUN(nb) win_run(p, nb, x, ldx, L, ns, xs, reversed, apply, counts, lists, sp, ldsp, sps, st, scratch)
    switch (p->C / 16) { // B and C (16), the smaller models' D and E (64, 128), Vim-T's E (384)
    case 1: WIN_RUN(1); break;
    case 4: WIN_RUN(4); break;
    case 8: WIN_RUN(8); break;
    case 24: WIN_RUN(24); break;
    default: WIN_RUN(p->C / 16); break;
    }
#undef WIN_RUN
}

// One sample's steps with the scratch `st` (keep words, list, fresh flags).
static void point_run_sample(int path, const ouro_point_params *p, int dynamic, float *x, int ldx, int L, int reversed,
                             int apply, int32_t *counts, int32_t *lists, float *sp, int ldsp, point_state *st, float *scratch) {
    const int C = p->C;
    for (int c = 0; c < C; c++) st->keep[c] = 0xffffffffu;
    st->n = 0;
    if (p->mode == OURO_OUTLIERS_FIXED) {
        for (int j = 0; j < p->nfixed; j++) st->keep[p->fixed[j]] = 0;
        for (int c = 0; c < C; c++)
            if (!st->keep[c]) st->list[st->n++] = c;
    }
    for (int t = 0; t < L; t++) {
        const int r = reversed ? L - 1 - t : t;
        float *xr = x + (size_t)r * ldx;
        const float S = p->nscales == 1 ? p->scales[0] : p->scales[t];
        // The next step's row, while this one is detected or quantized: rows that have left L2
        // cost 3x as much (bench detect, streamed: 420 -> 310 ns at 384 channels).
        if ((dynamic || apply) && t + 1 < L) {
            const float *xn = x + (size_t)(reversed ? L - 2 - t : t + 1) * ldx;
            for (int c = 0; c < C; c += 16) __builtin_prefetch(xn + c);
        }
        if (dynamic) {
            if (t % p->n_refresh == 0 && st->n > 0) {
                for (int j = 0; j < st->n; j++) st->keep[st->list[j]] = 0xffffffffu;
                st->n = 0;
            }
            detect(path, p, xr, S, st);
        }
        if (apply)
            quantize_row(path, p, xr, S, p->zeros ? (p->nscales == 1 ? p->zeros[0] : p->zeros[t]) : 0, st,
                         sp ? sp + (size_t)r * ldsp : NULL, sp ? p->softplus_tables + 16 * (size_t)(p->nscales == 1 ? 0 : t) : NULL,
                         scratch);
        counts[r] = st->n;
        if (lists && st->n) copy_list(path, lists + (size_t)r * C, st->list, st->n);
    }
}

static int point_run(int path, const ouro_point_params *p, float *x, int ldx, int L, int ns, size_t xs, int reversed,
                     int apply, int32_t *counts, int32_t *lists, float *sp, int ldsp, size_t sps) {
    const int C = p->C;
    const size_t cn = (size_t)(C > 0 ? C : 1);
    point_state st;
    st.keep = malloc(sizeof(uint32_t) * cn);
    st.list = malloc(sizeof(int32_t) * cn);
    st.fresh = malloc(sizeof(int32_t) * cn);
    float *scratch = sp ? malloc(sizeof(float) * 2 * cn) : NULL;
    if (!st.keep || !st.list || !st.fresh || (sp && !scratch)) {
        free(st.keep); free(st.list); free(st.fresh); free(scratch);
        return -1;
    }
    const int dynamic = p->mode == OURO_OUTLIERS_DYNAMIC && can_flag(p->lambda, C);
    if (path == OURO_PATH_AVX512 && dynamic && C % 16 == 0 && C <= 16 * WIN_MAX_BLOCKS && p->n_refresh > 0)
        point_run_windows(p, x, ldx, L, ns, xs, reversed, apply, counts, lists, sp, ldsp, sps, &st, scratch);
    else
        for (int s = 0; s < ns; s++)
            point_run_sample(path, p, dynamic, x + (size_t)s * xs, ldx, L, reversed, apply, counts + (size_t)s * L,
                             lists ? lists + (size_t)s * L * C : NULL, sp ? sp + (size_t)s * sps : NULL, ldsp, &st, scratch);
    free(st.keep);
    free(st.list);
    free(st.fresh);
    free(scratch);
    return 0;
}

int ouro_point_run(int path, const ouro_point_params *p, float *x, int ldx, int L, int nsamples, long sample_stride,
                   int reversed, int apply, int32_t *counts, int32_t *lists) {
    return point_run(path, p, x, ldx, L, nsamples, (size_t)sample_stride, reversed, apply, counts, lists, NULL, 0, 0);
}

int ouro_point_run_softplus(int path, const ouro_point_params *p, float *x, int ldx, int L, int nsamples, long sample_stride,
                            int reversed, int32_t *counts, int32_t *lists, float *sp, int ldsp, long sp_sample_stride) {
    if (!ouro_point_softplus_supported(path, p)) return -2;
    return point_run(path, p, x, ldx, L, nsamples, (size_t)sample_stride, reversed, 1, counts, lists, sp, ldsp,
                     (size_t)sp_sample_stride);
}

// The probe's pass-1 sums on the AVX-512 path (the target attribute lets the inlined pass compile).
OURO_AVX512 static double probe_moments_avx512(const float *x, const uint32_t *keep, int C, double *s2) {
    float lo, hi;
    double s1;
    range_sum_avx512(x, keep, C, 0, &lo, &hi, &s1, s2);
    return s1;
}

int ouro_detect_threshold_probe(int path, const float *x, const uint32_t *keep, int C, int all_with_zeros, double lambda,
                                double *threshold, float *exact, float *bracketed) {
    path = ouro_resolve_path(path);
    if (path < 0) return -1;
    int inliers = 0;
    for (int c = 0; c < C; c++) inliers += keep[c] != 0;
    const int n = all_with_zeros ? C : inliers;
    if (n < 2) return -1;
    double s2;
    const double s1 = path == OURO_PATH_AVX512 ? probe_moments_avx512(x, keep, C, &s2)
                    : ouro_simd(path)          ? sum_abs_sq_avx2(x, keep, C, &s2)
                                               : sum_abs_portable(x, keep, C, &s2);
    const double mu = s1 / n;
    *threshold = threshold_of(mu, lambda, sum_sq_path(path, x, keep, C, mu, all_with_zeros), n);
    *exact = float_floor(*threshold);
    return threshold_from_moments(s1, s2, mu, n, lambda, C, bracketed);
}
