// Module ouro_ops: CUDA C compiled at run time by NVRTC (and for the host by EmulatedGPUDevice).
// Embedded in the binary at build time (the EmbedCUDA plugin); see GPUKernels.swift.
#ifndef OURO_MAXN
#define OURO_MAXN 16  // the Swift side prepends GPUKernels.maxState
#endif
__device__ __forceinline__ float ouro_sigmoid(float x) { return 1.f / (1.f + expf(-x)); }
__device__ __forceinline__ float ouro_softplus(float v) { return v > 20.f ? v : log1pf(expf(v)); }

// RMSNorm forward, one thread per row; rstd may be null.
extern "C" __global__ void ouro_rmsnorm_fwd(const float* __restrict__ x, const float* __restrict__ w,
                                            float* __restrict__ out, float* __restrict__ rstd, int rows, int d, float eps) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* xr = x + (size_t)r * d;
    float ss = 0.f;
    for (int j = 0; j < d; j++) ss += xr[j] * xr[j];
    float inv = 1.f / sqrtf(ss / (float)d + eps);
    if (rstd) rstd[r] = inv;
    for (int j = 0; j < d; j++) out[(size_t)r * d + j] = xr[j] * inv * w[j];
}

// RMSNorm backward of the input, one thread per row; gx is overwritten or accumulated.
extern "C" __global__ void ouro_rmsnorm_bwd(const float* __restrict__ x, const float* __restrict__ w,
                                            const float* __restrict__ rstd, const float* __restrict__ gy,
                                            float* __restrict__ gx, int rows, int d, int accumulate) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* xr = x + (size_t)r * d; const float* g = gy + (size_t)r * d; float* o = gx + (size_t)r * d;
    float inv = rstd[r], dot = 0.f;
    for (int j = 0; j < d; j++) dot += g[j] * w[j] * xr[j] * inv;
    float meanDot = dot / (float)d;
    for (int j = 0; j < d; j++) {
        float v = inv * (g[j] * w[j] - xr[j] * inv * meanDot);
        o[j] = accumulate ? o[j] + v : v;
    }
}

// Depthwise causal conv1d + SiLU, one thread per (b, t, e); taps summed in ascending k.
extern "C" __global__ void ouro_conv_fwd(const float* __restrict__ x, int ldx, const float* __restrict__ wT,
                                         const float* __restrict__ bias, float* __restrict__ pre, float* __restrict__ xc,
                                         int B, int L, int E, int K, int reverse) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * L * E) return;
    int e = (int)(idx % E); size_t bt = idx / E; int t = (int)(bt % L); int b = (int)(bt / L);
    float acc = bias[e];
    for (int k = 0; k < K; k++) {
        int s = reverse ? t + (K - 1 - k) : t + k - (K - 1);
        if (s < 0 || s >= L) continue;
        acc = acc + wT[k * E + e] * x[((size_t)b * L + s) * ldx + e];
    }
    pre[idx] = acc;
    xc[idx] = acc * ouro_sigmoid(acc);
}

// Conv backward of the input, added into gx (rows ldgx apart), one thread per (b, s, e).
extern "C" __global__ void ouro_conv_bwd_x(const float* __restrict__ gpre, const float* __restrict__ wT,
                                           float* __restrict__ gx, int ldgx, int B, int L, int E, int K, int reverse) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * L * E) return;
    int e = (int)(idx % E); size_t bs = idx / E; int s = (int)(bs % L); int b = (int)(bs / L);
    float acc = 0.f;
    for (int k = 0; k < K; k++) {
        int off = reverse ? (K - 1 - k) : (k - (K - 1));
        int t = s - off;
        if (t < 0 || t >= L) continue;
        acc = acc + wT[k * E + e] * gpre[((size_t)b * L + t) * E + e];
    }
    float* dst = gx + ((size_t)b * L + s) * ldgx + e;
    *dst = *dst + acc;
}

// v += bias (in place) and Δ = softplus(v).
extern "C" __global__ void ouro_bias_softplus(float* __restrict__ v, const float* __restrict__ bias,
                                              float* __restrict__ delta, int rows, int E) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * E) return;
    float x = v[i] + bias[i % E];
    v[i] = x;
    delta[i] = ouro_softplus(x);
}

// gΔ (+ extra) → gv = gΔ·softplus'(v), in place.
extern "C" __global__ void ouro_softplus_bwd(float* __restrict__ g, const float* __restrict__ extra,
                                             const float* __restrict__ v, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gg = g[i];
    if (extra) gg = gg + extra[i];
    g[i] = v[i] > 20.f ? gg : gg * ouro_sigmoid(v[i]);
}

// g *= SiLU'(pre), in place.
extern "C" __global__ void ouro_silu_bwd(float* __restrict__ g, const float* __restrict__ pre, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float z = pre[i], s = ouro_sigmoid(z);
    g[i] = g[i] * (s * (1.f + z * (1.f - s)));
}

// m (+)= ½·y ⊙ SiLU(z); z rows are ldz apart.
extern "C" __global__ void ouro_gate_fwd(const float* __restrict__ y, const float* __restrict__ z, int ldz,
                                         float* __restrict__ m, int rows, int E, int first) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * E) return;
    size_t r = i / E; int e = (int)(i % E);
    float zz = z[r * ldz + e];
    float v = 0.5f * y[i] * (zz * ouro_sigmoid(zz));
    m[i] = first ? v : m[i] + v;
}

// Gate backward: gy = ½g·z·σ(z) (overwritten), gz += ½g·y·SiLU'(z).
extern "C" __global__ void ouro_gate_bwd(const float* __restrict__ gm, const float* __restrict__ y,
                                         const float* __restrict__ z, int ldz, float* __restrict__ gy,
                                         float* __restrict__ gz, int rows, int E) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * E) return;
    size_t r = i / E; int e = (int)(i % E);
    float gg = 0.5f * gm[i], zz = z[r * ldz + e], s = ouro_sigmoid(zz);
    gy[i] = gg * zz * s;
    float* gzp = gz + r * ldz + e;
    *gzp = *gzp + gg * y[i] * s * (1.f + zz * (1.f - s));
}

// dst += src.
extern "C" __global__ void ouro_add(float* __restrict__ dst, const float* __restrict__ src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = dst[i] + src[i];
}

extern "C" __global__ void ouro_copy(float* __restrict__ dst, const float* __restrict__ src, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = src[i];
}

// Selective-scan forward, one thread per (image, channel), state in registers; tokens in
// original order (reverse runs the backward direction). A is (E, N). States, when not
// null, are stored as [b][t][n][e].
extern "C" __global__ void ouro_scan_fwd(const float* __restrict__ u, const float* __restrict__ delta,
                                         const float* __restrict__ A, const float* __restrict__ bc,
                                         int ld, int bOff, int cOff, const float* __restrict__ D,
                                         float* __restrict__ y, float* __restrict__ states,
                                         int B, int L, int E, int N, int reverse) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * E) return;
    int b = idx / E, e = idx % E;
    float h[OURO_MAXN], a[OURO_MAXN];
    #pragma unroll
    for (int n = 0; n < OURO_MAXN; n++) { h[n] = 0.f; a[n] = n < N ? A[e * N + n] : 0.f; }
    float d = D[e];
    for (int i = 0; i < L; i++) {
        int t = reverse ? L - 1 - i : i;
        size_t row = (size_t)b * L + t;
        float dt = delta[row * E + e], uu = u[row * E + e];
        const float* r = bc + row * ld;
        float acc = d * uu;
        #pragma unroll
        for (int n = 0; n < OURO_MAXN; n++) {
            if (n < N) {
                h[n] = expf(dt * a[n]) * h[n] + dt * r[bOff + n] * uu;
                acc += r[cOff + n] * h[n];
                if (states) states[(row * N + n) * E + e] = h[n];
            }
        }
        y[row * E + e] = acc;
    }
}

// Selective-scan backward of the inputs (no parameter gradients), one thread per (image,
// state, channel): each state's adjoint runs its own recurrence, so 16× more threads than
// channels hide the latency of the 197-step walk. Writes, as [b][t][n][e], the per-state
// terms of gB, gC, Σ_n λ·B (for gu and gΔ) and Σ_n λ·a·h_{t−1}·A (for gΔ); ouro_scan_bwd_reduce
// and ouro_sum_channels sum them in a fixed order, so results are deterministic. ghExt is an
// optional gradient on every state ([b][t][n][e]).
extern "C" __global__ void ouro_scan_bwd(const float* __restrict__ u, const float* __restrict__ delta,
                                         const float* __restrict__ A, const float* __restrict__ bc,
                                         int ld, int bOff, int cOff, const float* __restrict__ states,
                                         const float* __restrict__ gy, const float* __restrict__ ghExt,
                                         float* __restrict__ pB, float* __restrict__ pC, float* __restrict__ pLB,
                                         float* __restrict__ pDt, float* __restrict__ pA, int B, int L, int E, int N,
                                         int reverse) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N * E) return;
    int e = (int)(idx % E); int n = (int)((idx / E) % N); int b = (int)(idx / ((size_t)E * N));
    float a = A[e * N + n], lam = 0.f, aNext = 0.f, gA = 0.f;
    int tLast = reverse ? 0 : L - 1;
    float cur = states[(((size_t)b * L + tLast) * N + n) * E + e];
    for (int i = L - 1; i >= 0; i--) {
        int t = reverse ? L - 1 - i : i;
        int tp = reverse ? t + 1 : t - 1;
        size_t row = (size_t)b * L + t;
        float dt = delta[row * E + e], uu = u[row * E + e], g = gy[row * E + e];
        const float* r = bc + row * ld;
        size_t s = (row * N + n) * E + e;
        float l = g * r[cOff + n] + aNext * lam;
        if (ghExt) l = l + ghExt[s];
        lam = l;
        float h = cur;
        float hp = i > 0 ? states[(((size_t)b * L + tp) * N + n) * E + e] : 0.f;
        cur = hp;
        float an = expf(dt * a);
        aNext = an;
        pC[s] = g * h;
        pB[s] = l * (dt * uu);
        pLB[s] = l * r[bOff + n];
        float lah = l * an * hp;
        pDt[s] = lah * a;
        gA = gA + lah * dt;
    }
    // ∂/∂A for this (image, channel, state), summed over images by ouro_sum_batches.
    if (pA) pA[((size_t)b * E + e) * N + n] = gA;
}

// ∂/∂D per (image, channel): Σ_t g·u in the scan's step order.
extern "C" __global__ void ouro_scan_grad_d(const float* __restrict__ u, const float* __restrict__ gy,
                                            float* __restrict__ pD, int B, int L, int E, int reverse) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * E) return;
    int e = idx % E, b = idx / E;
    float acc = 0.f;
    for (int i = L - 1; i >= 0; i--) {
        int t = reverse ? L - 1 - i : i;
        size_t row = (size_t)b * L + t;
        acc = acc + gy[row * E + e] * u[row * E + e];
    }
    pD[idx] = acc;
}

// out[k] = Σ_b part[b·count + k], b ascending.
extern "C" __global__ void ouro_sum_batches(const float* __restrict__ part, float* __restrict__ out, int B, int count) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= count) return;
    float acc = 0.f;
    for (int b = 0; b < B; b++) acc = acc + part[(size_t)b * count + k];
    out[k] = acc;
}

// out[j] = Σ_r x[r·ld + j], rows in order (bias and embedding gradients).
extern "C" __global__ void ouro_col_sums(const float* __restrict__ x, float* __restrict__ out, int rows, int cols, int ld) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    float acc = 0.f;
    for (int r = 0; r < rows; r++) acc = acc + x[(size_t)r * ld + j];
    out[j] = acc;
}

// RMSNorm weight gradient: gw[j] = Σ_r gy·x·rstd, rows in order.
extern "C" __global__ void ouro_rmsnorm_bwd_w(const float* __restrict__ x, const float* __restrict__ rstd,
                                              const float* __restrict__ gy, float* __restrict__ gw, int rows, int d) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    float acc = 0.f;
    for (int r = 0; r < rows; r++) acc = acc + gy[(size_t)r * d + j] * x[(size_t)r * d + j] * rstd[r];
    gw[j] = acc;
}

// Conv weight (K, E) and bias (E) gradients: per image Σ_t, then Σ over images in order.
extern "C" __global__ void ouro_conv_bwd_w(const float* __restrict__ gpre, const float* __restrict__ x, int ldx,
                                           float* __restrict__ gwT, float* __restrict__ gb, int B, int L, int E, int K,
                                           int reverse) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (K + 1) * E) return;
    int k = idx / E, e = idx % E;
    float total = 0.f;
    for (int b = 0; b < B; b++) {
        float acc = 0.f;
        for (int t = 0; t < L; t++) {
            float g = gpre[((size_t)b * L + t) * E + e];
            if (k == K) { acc = acc + g; continue; }
            int s = t + (reverse ? (K - 1 - k) : (k - (K - 1)));
            if (s < 0 || s >= L) continue;
            acc = acc + g * x[((size_t)b * L + s) * ldx + e];
        }
        total = total + acc;
    }
    if (k == K) gb[e] = total; else gwT[k * E + e] = total;
}

// gu = D·g + Δ·Σ_n λB and gΔ = u·Σ_n λB + Σ_n λ·a·h_{t−1}·A, n ascending; one thread per (b, t, e).
extern "C" __global__ void ouro_scan_bwd_reduce(const float* __restrict__ u, const float* __restrict__ delta,
                                                const float* __restrict__ D, const float* __restrict__ gy,
                                                const float* __restrict__ pLB, const float* __restrict__ pDt,
                                                float* __restrict__ gu, float* __restrict__ gDelta, int rows, int E, int N) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)rows * E) return;
    int e = (int)(idx % E); size_t row = idx / E;
    float sumLB = 0.f, gdt = 0.f;
    for (int n = 0; n < N; n++) {
        size_t s = (row * N + n) * E + e;
        sumLB = sumLB + pLB[s];
        gdt = gdt + pDt[s];
    }
    gu[idx] = D[e] * gy[idx] + delta[idx] * sumLB;
    gDelta[idx] = u[idx] * sumLB + gdt;
}

// Sums partials [i][e] over e into dst[(i / N)·ld + off + i % N] (+ extra[i]).
extern "C" __global__ void ouro_sum_channels(const float* __restrict__ part, const float* __restrict__ extra,
                                             float* __restrict__ dst, int ld, int off, int count, int N, int E) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    const float* p = part + (size_t)i * E;
    float s = 0.f;
    for (int e = 0; e < E; e++) s += p[e];
    if (extra) s = s + extra[i];
    dst[(size_t)(i / N) * ld + off + i % N] = s;
}
