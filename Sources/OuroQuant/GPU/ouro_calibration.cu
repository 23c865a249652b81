// Module ouro_calibration: CUDA C compiled at run time by NVRTC (and for the host by EmulatedGPUDevice).
// Embedded in the binary at build time (the EmbedCUDA plugin); see GPUCalibrationKernels.swift.
#define DADD __dadd_rn
#define DSUB __dsub_rn
#define DMUL __dmul_rn
#define DDIV __ddiv_rn

__device__ __forceinline__ float smax(float x, float y) { return y >= x ? y : x; }
__device__ __forceinline__ float smin(float x, float y) { return y < x ? y : x; }

__device__ __forceinline__ const float* cal_row(const float* x, int ld, int L, int rev, int b, int t) {
    return x + ((long long)b * L + (rev ? L - 1 - t : t)) * ld;
}

// Outlier threshold mu + lambda * sigma (unbiased) of |x| over the C channels of each (b, step);
// +inf when C < 2 (nothing is flagged). params[0] = lambda.
extern "C" __global__ void cal_thresholds(const float* x, int ld, int C, int B, int L, int rev,
                                          const double* params, double* thr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * L) return;
    if (C < 2) { thr[i] = __longlong_as_double(0x7FF0000000000000LL); return; }
    const float* r = cal_row(x, ld, L, rev, i / L, i % L);
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum = DADD(sum, (double)fabsf(r[c]));
    double mu = DDIV(sum, (double)C), ss = 0.0;
    for (int c = 0; c < C; c++) { double d = DSUB((double)fabsf(r[c]), mu); ss = DADD(ss, DMUL(d, d)); }
    thr[i] = DADD(mu, DMUL(params[0], __dsqrt_rn(DDIV(ss, (double)(C - 1)))));
}

// Whether channel c of (b, step t) is an outlier: listed in `fixed`, or (when `thr` is set)
// above the threshold at any step of its refresh window so far (the list is cumulative).
__device__ __forceinline__ bool cal_listed(const float* x, int ld, int L, int rev, int b, int t, int c,
                                           int refresh, const double* thr, const int* fixed) {
    if (fixed && fixed[c]) return true;
    if (!thr) return false;
    for (int u = t - t % refresh; u <= t; u++)
        if ((double)fabsf(cal_row(x, ld, L, rev, b, u)[c]) > thr[b * L + u]) return true;
    return false;
}

// Pass 1 per (b, step): inlier max |x|, min(0, min x), max(0, max x) and the outlier count.
// rows = [max | lo | hi | count (int bits)], B*L each.
extern "C" __global__ void cal_pass1_rows(const float* x, int ld, int C, int B, int L, int rev, int refresh,
                                          const double* thr, float* rows) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * L) return;
    int b = i / L, t = i % L;
    const float* r = cal_row(x, ld, L, rev, b, t);
    float m = 0.f, lo = 0.f, hi = 0.f;
    int count = 0;
    for (int c = 0; c < C; c++) {
        if (cal_listed(x, ld, L, rev, b, t, c, refresh, thr, 0)) { count++; continue; }
        float v = r[c];
        m = smax(m, fabsf(v)); lo = smin(lo, v); hi = smax(hi, v);
    }
    int n = B * L;
    rows[i] = m; rows[n + i] = lo; rows[2 * n + i] = hi; ((int*)rows)[3 * n + i] = count;
}

// Pass 1 per step: the per-row values merged over samples in order. steps = [maxAbs | lo | hi |
// outlier count (int bits)], L each.
extern "C" __global__ void cal_pass1_steps(const float* rows, int B, int L, float* steps) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= L) return;
    int n = B * L;
    float m = 0.f, lo = 0.f, hi = 0.f;
    int count = 0;
    for (int b = 0; b < B; b++) {
        int i = b * L + t;
        m = smax(m, rows[i]); lo = smin(lo, rows[n + i]); hi = smax(hi, rows[2 * n + i]);
        count += ((const int*)rows)[3 * n + i];
    }
    steps[t] = m; steps[L + t] = lo; steps[2 * L + t] = hi; ((int*)steps)[3 * L + t] = count;
}

// static-outlier-list: max and min of x per (step, channel) over samples, [max | min], L*C each.
extern "C" __global__ void cal_channel_extremes(const float* x, int ld, int C, int B, int L, int rev, float* out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= L * C) return;
    int t = i / C, c = i % C;
    float mx = __int_as_float(0xFF800000), mn = __int_as_float(0x7F800000);
    for (int b = 0; b < B; b++) {
        float v = cal_row(x, ld, L, rev, b, t)[c];
        mx = smax(mx, v); mn = smin(mn, v);
    }
    out[i] = mx; out[L * C + i] = mn;
}

// static-outlier-list: per channel, sum over samples of (sum over steps of |x|), in order.
extern "C" __global__ void cal_channel_abs_sums(const float* x, int ld, int C, int B, int L, int rev, double* out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < L; t++) s = DADD(s, (double)fabsf(cal_row(x, ld, L, rev, b, t)[c]));
        total = DADD(total, s);
    }
    out[c] = total;
}

// Pass 2 input: inliers of (b, step) with outliers zeroed, dense [B][L][C] in step order; one
// thread per entry (neighbouring threads read and write neighbouring channels).
extern "C" __global__ void cal_inliers(const float* x, int ld, int C, int B, int L, int rev, int refresh,
                                       const double* thr, const int* fixed, float* out) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)B * L * C) return;
    int c = (int)(i % C), bt = (int)(i / C), b = bt / L, t = bt % L;
    out[i] = cal_listed(x, ld, L, rev, b, t, c, refresh, thr, fixed) ? 0.f : cal_row(x, ld, L, rev, b, t)[c];
}

// Horner coefficients of LpError.pow24, highest order first: the atanh series of ln m and the
// Taylor series of exp.
__device__ const double cal_ln_series[11] = {0.047619047619047616, 0.05263157894736842, 0.058823529411764705, 0.06666666666666667, 0.07692307692307693, 0.09090909090909091, 0.1111111111111111, 0.14285714285714285, 0.2, 0.3333333333333333, 1.0};
__device__ const double cal_exp_series[14] = {1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08, 2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05, 0.0001984126984126984, 0.001388888888888889, 0.008333333333333333, 0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0};

// |d|^2.4 exactly as LpError.pow24: 2^(2.4 log2|d|) with an atanh series for log and a Taylor
// series for exp2; 0 below 1e-280.
__device__ double cal_pow24(double v) {
    unsigned long long bits = (unsigned long long)__double_as_longlong(v) & 0x7FFFFFFFFFFFFFFFULL;
    double d = __longlong_as_double((long long)bits);
    long long e = (long long)((bits >> 52) & 0x7FF) - 1023;
    double m = __longlong_as_double((long long)((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL));
    if (m > 1.4142135623730951) { m = DMUL(m, 0.5); e = e + 1; }
    double s = DDIV(DSUB(m, 1.0), DADD(m, 1.0)), s2 = DMUL(s, s);
    double poly = cal_ln_series[0];
    for (int k = 1; k < 11; k++) poly = DADD(DMUL(poly, s2), cal_ln_series[k]);
    double lnm = DMUL(DMUL(2.0, s), poly);
    double y = DMUL(2.4, DADD((double)e, DMUL(lnm, 1.4426950408889634)));
    double n = rint(y);
    double g = DMUL(DSUB(y, n), 0.6931471805599453);
    double ex = cal_exp_series[0];
    for (int k = 1; k < 14; k++) ex = DADD(DMUL(ex, g), cal_exp_series[k]);
    double scale = __longlong_as_double((long long)(((unsigned long long)((long long)n + 1023)) << 52));
    double r = DMUL(ex, scale);
    return d < 1e-280 ? 0.0 : r;
}

// Pass 2 partial of (step t, candidate i, sample b): the clipping error of one row with the
// host's 4-lane accumulation. scales/zeros: [L*n] (zeros null for symmetric points); params[1] =
// qmax (symmetric) or 2^b - 1 (asymmetric). partial: [(t*n + i)*B + b]. Candidates vary
// fastest over threads, so a warp reads one row (broadcast loads).
extern "C" __global__ void cal_pass2_partial(const float* xs, int C, int B, int L, int n, const double* scales,
                                             const double* zeros, const double* params, double* partial) {
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (long long)L * n * B) return;
    int i = (int)(k % n), bt = (int)(k / n), b = bt / L, t = bt % L, ti = t * n + i;
    const float* r = xs + ((long long)b * L + t) * C;
    double s = scales[ti], top = params[1], acc[4] = {0.0, 0.0, 0.0, 0.0};
    for (int c0 = 0; c0 < C; c0 += 4) {
        for (int lane = 0; lane < 4; lane++) {
            int c = c0 + lane;
            double xv = c < C ? (double)r[c] : 0.0, d;
            if (zeros) {
                double z = zeros[ti];
                double q = fmin(fmax(DADD(rint(DDIV(xv, s)), z), 0.0), top);
                d = DSUB(xv, DMUL(s, DSUB(q, z)));
            } else {
                double q = fmin(fmax(rint(DDIV(xv, s)), -top), top);
                d = DSUB(xv, DMUL(s, q));
            }
            acc[lane] = DADD(acc[lane], cal_pow24(d));
        }
    }
    partial[(long long)ti * B + b] = DADD(DADD(acc[0], acc[1]), DADD(acc[2], acc[3]));
}

// Pass 2 per (step, candidate): the partials summed over samples in order.
extern "C" __global__ void cal_pass2_sums(const double* partial, int B, int count, double* out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= count) return;
    double acc = 0.0;
    for (int b = 0; b < B; b++) acc = DADD(acc, partial[(long long)j * B + b]);
    out[j] = acc;
}
