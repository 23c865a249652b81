// The clipping-search error sums of calibration (method.md 4.1): for each candidate quantizer,
// the sum over rows of sum |x - Q(x)|^2.4, with OuroQuant's LpError arithmetic (atanh series for
// log, Taylor series for exp2, in double). The 4-lane body equals LpError's SIMD4<Double> code;
// the 8-lane body computes two groups of 4 at once and adds them to the 4-lane accumulator one
// after the other, so every path gives the same bits.
#include "internal.h"
#include <stdint.h>
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

// Horner coefficients, highest power first (LpError's series): 2·atanh(s)/s = Σ s^2k / (2k+1)
// in s², and e^g = Σ g^k / k!.
static const double ATANH_SERIES[] = {0.047619047619047616, 0.05263157894736842, 0.058823529411764705,
                                      0.06666666666666667, 0.07692307692307693, 0.09090909090909091,
                                      0.1111111111111111, 0.14285714285714285, 0.2, 0.3333333333333333, 1.0};
static const double EXP_SERIES[] = {1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08,
                                    2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05,
                                    0.0001984126984126984, 0.001388888888888889, 0.008333333333333333,
                                    0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0};
#define SERIES_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define LP_BODY(LANES, TARGET, SUFFIX)                                                                 \
    typedef double vd##SUFFIX __attribute__((ext_vector_type(LANES)));                                  \
    typedef int64_t vl##SUFFIX __attribute__((ext_vector_type(LANES)));                                 \
    typedef uint64_t vu##SUFFIX __attribute__((ext_vector_type(LANES)));                                \
    static TARGET inline vd##SUFFIX sel##SUFFIX(vl##SUFFIX m, vd##SUFFIX a, vd##SUFFIX b) {             \
        return (vd##SUFFIX)((m & (vl##SUFFIX)a) | (~m & (vl##SUFFIX)b));                                \
    }                                                                                                   \
    static TARGET inline vd##SUFFIX pow24##SUFFIX(vd##SUFFIX v) {                                       \
        const vu##SUFFIX bits = (vu##SUFFIX)v & 0x7FFFFFFFFFFFFFFFull;                                  \
        const vd##SUFFIX d = (vd##SUFFIX)bits;                                                          \
        vl##SUFFIX e = (vl##SUFFIX)((bits >> 52) & 0x7FFull) - 1023;                                    \
        vd##SUFFIX m = (vd##SUFFIX)((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);            \
        const vl##SUFFIX big = m > 1.4142135623730951;                                                  \
        m = sel##SUFFIX(big, m * 0.5, m);                                                               \
        e = e + (big & 1);                                                                              \
        const vd##SUFFIX s = (m - 1.0) / (m + 1.0), s2 = s * s;                                         \
        vd##SUFFIX poly = (vd##SUFFIX)ATANH_SERIES[0];                                                  \
        for (int k = 1; k < SERIES_LEN(ATANH_SERIES); k++) poly = poly * s2 + ATANH_SERIES[k];          \
        const vd##SUFFIX lnm = 2.0 * s * poly;                                                          \
        const vd##SUFFIX ev = __builtin_convertvector(e, vd##SUFFIX);                                   \
        const vd##SUFFIX y = 2.4 * (ev + lnm * 1.4426950408889634);                                     \
        const vd##SUFFIX n = __builtin_elementwise_roundeven(y);                                        \
        const vd##SUFFIX g = (y - n) * 0.6931471805599453;                                              \
        vd##SUFFIX ex = (vd##SUFFIX)EXP_SERIES[0];                                                      \
        for (int k = 1; k < SERIES_LEN(EXP_SERIES); k++) ex = ex * g + EXP_SERIES[k];                   \
        const vu##SUFFIX sc = (vu##SUFFIX)(__builtin_convertvector(n, vl##SUFFIX) + 1023) << 52;        \
        const vd##SUFFIX r = ex * (vd##SUFFIX)sc;                                                       \
        return sel##SUFFIX(d < 1e-280, (vd##SUFFIX)0.0, r);                                             \
    }                                                                                                   \
    /* Quantization error of one vector: symmetric (zero < 0) or asymmetric. */                         \
    static TARGET inline vd##SUFFIX err##SUFFIX(vd##SUFFIX x, double scale, double zero, double top) {   \
        const vd##SUFFIX s = (vd##SUFFIX)scale;                                                         \
        vd##SUFFIX q = __builtin_elementwise_roundeven(x / s);                                          \
        if (zero < 0) {                                                                                 \
            q = __builtin_elementwise_min(__builtin_elementwise_max(q, (vd##SUFFIX)(-top)), (vd##SUFFIX)top); \
            return x - s * q;                                                                           \
        }                                                                                               \
        const vd##SUFFIX z = (vd##SUFFIX)zero;                                                          \
        q = __builtin_elementwise_min(__builtin_elementwise_max(q + z, (vd##SUFFIX)0.0), (vd##SUFFIX)top); \
        return x - s * (q - z);                                                                         \
    }

LP_BODY(4, OURO_AVX2, 4)
LP_BODY(8, OURO_AVX512, 8)

// Sum over `count4` groups of 4 at x, reduced as LpError does: (a0 + a1) + (a2 + a3).
OURO_AVX2 static double row_sum4(const double *x, int count4, double scale, double zero, double top) {
    vd4 acc = 0.0;
    for (int j = 0; j < count4; j++) {
        vd4 v;
        memcpy(&v, x + 4 * j, sizeof v);
        acc = acc + pow244(err4(v, scale, zero, top));
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

OURO_AVX512 static double row_sum8(const double *x, int count4, double scale, double zero, double top) {
    vd4 acc = 0.0;
    int j = 0;
    for (; j + 2 <= count4; j += 2) {
        vd8 v;
        memcpy(&v, x + 4 * j, sizeof v);
        const vd8 p = pow248(err8(v, scale, zero, top));
        acc = acc + __builtin_shufflevector(p, p, 0, 1, 2, 3);
        acc = acc + __builtin_shufflevector(p, p, 4, 5, 6, 7);
    }
    if (j < count4) {
        vd4 v;
        memcpy(&v, x + 4 * j, sizeof v);
        acc = acc + pow244(err4(v, scale, zero, top));
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

void ouro_lp_error_sums(int path, const double *x, int rows, long row_stride, int count4, const float *scales,
                        const int32_t *zeros, int candidates, double top, double *out) {
    for (int i = 0; i < candidates; i++) {
        const double s = (double)scales[i], z = zeros ? (double)zeros[i] : -1.0;
        double acc = 0.0;
        for (int r = 0; r < rows; r++) {
            const double *xr = x + (long)r * row_stride;
            acc += path == OURO_PATH_AVX512 ? row_sum8(xr, count4, s, z, top) : row_sum4(xr, count4, s, z, top);
        }
        out[i] = acc;
    }
}
