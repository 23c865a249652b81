// Module ouro_gen_contrastive: CUDA C compiled at run time by NVRTC (and for the host by EmulatedGPUDevice).
// Embedded in the binary at build time (the EmbedCUDA plugin); see GPUContrastiveKernels.swift.
// Patched states Hp(p)[n][e] = Σ_{q ∈ win(p)} w(q) h(σ(q))[n][e] as [b][p][n][e]; one thread per element.
extern "C" __global__ void gen_patched(const float* __restrict__ states, const float* __restrict__ w,
                                       const int* __restrict__ pos, const int* __restrict__ winStart,
                                       const int* __restrict__ winList, float* __restrict__ hp,
                                       int B, int L, int M, int N, int E) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * N * E) return;
    int e = (int)(idx % E); int n = (int)((idx / E) % N); int p = (int)((idx / ((size_t)E * N)) % M);
    int b = (int)(idx / ((size_t)E * N * M));
    float acc = 0.f;
    for (int k = winStart[p]; k < winStart[p + 1]; k++) {
        int q = winList[k]; float wq = w[b * M + q];
        if (wq != 0.f) acc = acc + wq * states[(((size_t)b * L + pos[q]) * N + n) * E + e];
    }
    hp[idx] = acc;
}

// f[b][p][dOff + e] = Σ_n C(σ(p))[n] · Hp(p)[n][e]; one thread per (b, p, e).
extern "C" __global__ void gen_features(const float* __restrict__ hp, const float* __restrict__ xdbl, int ld, int cOff,
                                        const int* __restrict__ pos, float* __restrict__ feats,
                                        int B, int L, int M, int N, int E, int F, int dOff) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * E) return;
    int e = (int)(idx % E); int p = (int)((idx / E) % M); int b = (int)(idx / ((size_t)E * M));
    const float* c = xdbl + ((size_t)b * L + pos[p]) * ld + cOff;
    const float* h = hp + ((size_t)b * M + p) * N * E + e;
    float f = 0.f;
    for (int n = 0; n < N; n++) f = f + c[n] * h[(size_t)n * E];
    feats[((size_t)b * M + p) * F + dOff + e] = f;
}

// Rows scaled to unit norm in float64 (norm floor 1e-8); norms unfloored.
extern "C" __global__ void gen_unit_rows(const float* __restrict__ f, double* __restrict__ unit, double* __restrict__ norms,
                                         int rows, int F) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* x = f + (size_t)r * F;
    double s = 0.0;
    for (int j = 0; j < F; j++) s += (double)x[j] * (double)x[j];
    double n = sqrt(s), inv = 1.0 / (n > 1e-8 ? n : 1e-8);
    norms[r] = n;
    for (int j = 0; j < F; j++) unit[(size_t)r * F + j] = (double)x[j] * inv;
}

// s(p, q_k) for every (b, candidate slot k).
extern "C" __global__ void gen_sims(const double* __restrict__ unit, const int* __restrict__ candOwner,
                                    const int* __restrict__ candList, double* __restrict__ sims, int B, int M, int F, int T) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * T) return;
    int k = idx % T, b = idx / T;
    const double* a = unit + ((size_t)b * M + candOwner[k]) * F;
    const double* c = unit + ((size_t)b * M + candList[k]) * F;
    double s = 0.0;
    for (int j = 0; j < F; j++) s += a[j] * c[j];
    sims[idx] = s;
}

// ∂loss/∂f(p) from the InfoNCE coefficients: p's own candidates first, then the slots where p is the candidate.
extern "C" __global__ void gen_feature_grad(const double* __restrict__ unit, const double* __restrict__ norms,
                                            const double* __restrict__ sims, const double* __restrict__ coef,
                                            const int* __restrict__ candStart, const int* __restrict__ candList,
                                            const int* __restrict__ invStart, const int* __restrict__ invList,
                                            const int* __restrict__ candOwner, float* __restrict__ gfeat,
                                            int B, int M, int F, int T) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * F) return;
    int j = (int)(idx % F); int p = (int)((idx / F) % M); int b = (int)(idx / ((size_t)F * M));
    double g = 0.0, np = norms[b * M + p];
    if (np >= 1e-8) {
        double inv = 1.0 / np, up = unit[((size_t)b * M + p) * F + j];
        for (int k = candStart[p]; k < candStart[p + 1]; k++) {
            double s = sims[(size_t)b * T + k];
            g += coef[(size_t)b * T + k] * (unit[((size_t)b * M + candList[k]) * F + j] - s * up) * inv;
        }
        for (int m = invStart[p]; m < invStart[p + 1]; m++) {
            int k = invList[m];
            double s = sims[(size_t)b * T + k];
            g += coef[(size_t)b * T + k] * (unit[((size_t)b * M + candOwner[k]) * F + j] - s * up) * inv;
        }
    }
    gfeat[idx] = (float)g;
}

// gy(p)[e] · Hp(p)[n][e] for every (b, p, n, e), in place over Hp; summed over e by gen_sum_c.
extern "C" __global__ void gen_grad_c_terms(float* __restrict__ hp, const float* __restrict__ gfeat,
                                            int B, int M, int N, int E, int F, int dOff) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * N * E) return;
    int e = (int)(idx % E); size_t bp = idx / ((size_t)E * N);
    hp[idx] = gfeat[bp * F + dOff + e] * hp[idx];
}

// gC(σ(p))[n] = Σ_e terms[b][p][n][e] in float64, e ascending; one thread per (b, p, n).
extern "C" __global__ void gen_sum_c(const float* __restrict__ terms, const int* __restrict__ pos, float* __restrict__ gc,
                                     int B, int L, int M, int N, int E) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * M * N) return;
    int n = idx % N, p = (idx / N) % M, b = idx / (N * M);
    const float* t = terms + (size_t)idx * E;
    double acc = 0.0;
    for (int e = 0; e < E; e++) acc += (double)t[e];
    gc[((size_t)b * L + pos[p]) * N + n] = (float)acc;
}

// Mean over channels of Δ at each patch, in float64 (the Δ-weights' δ̄); one thread per (b, p).
extern "C" __global__ void gen_delta_means(const float* __restrict__ delta, const int* __restrict__ pos,
                                           double* __restrict__ means, int B, int L, int M, int E) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * M) return;
    int p = idx % M, b = idx / M;
    const float* row = delta + ((size_t)b * L + pos[p]) * E;
    double s = 0.0;
    for (int e = 0; e < E; e++) s += (double)row[e];
    means[idx] = s / (double)E;
}

// Δ-weights of each image (ContrastiveLoss.deltaWeights): w(p) = (δ̄(p) − δ̄min)/z with
// z = δ̄max − δ̄min + 1e-6 (first extremal patch on ties), or 1 when `uniform`. info[b] =
// (qMin, qMax, z) for the gradient. One thread per image.
extern "C" __global__ void gen_delta_weights(const double* __restrict__ means, float* __restrict__ w,
                                             double* __restrict__ info, int B, int M, int uniform) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const double* m = means + (size_t)b * M;
    int qMin = 0, qMax = 0;
    for (int p = 1; p < M; p++) { if (m[p] < m[qMin]) qMin = p; if (m[p] > m[qMax]) qMax = p; }
    double z = (m[qMax] - m[qMin]) + 1e-6;
    for (int p = 0; p < M; p++) w[(size_t)b * M + p] = uniform ? 1.f : (float)((m[p] - m[qMin]) / z);
    info[3 * b] = qMin; info[3 * b + 1] = qMax; info[3 * b + 2] = z;
}

// ∂loss/∂δ̄(q) / E from ∂loss/∂w(q) (ContrastiveLoss.deltaMeanGradient). One thread per image.
extern "C" __global__ void gen_delta_mean_grad(const double* __restrict__ gw, const float* __restrict__ w,
                                               const double* __restrict__ info, float* __restrict__ g, int B, int M, int E) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const double* gb = gw + (size_t)b * M;
    const float* wb = w + (size_t)b * M;
    int qMin = (int)info[3 * b], qMax = (int)info[3 * b + 1];
    double z = info[3 * b + 2], sMin = 0.0, sMax = 0.0;
    for (int q = 0; q < M; q++) { sMin += gb[q] * ((double)wb[q] - 1.0); sMax += gb[q] * (double)wb[q]; }
    for (int q = 0; q < M; q++) {
        double v = gb[q] / z;
        if (q == qMin) v += sMin / z;
        if (q == qMax) v -= sMax / z;
        g[(size_t)b * M + q] = (float)(v / (double)E);
    }
}

// InfoNCE of patch p of image b (ContrastiveLoss.infoNCE): rank the candidates by similarity
// (ties to the lower patch index), the top kPos[p] are positives; softmax at temperature
// params[0]; coef = params[1]/M·(π − ρ)/τ, ell = log Z_all − log Z_pos.
#ifndef GEN_MAX_CAND
#define GEN_MAX_CAND 128  // the Swift side prepends GPUContrastiveKernels.maxCandidates
#endif
extern "C" __global__ void gen_infonce(const double* __restrict__ sims, const int* __restrict__ candStart,
                                       const int* __restrict__ candList, const int* __restrict__ kPos,
                                       const double* __restrict__ params, double* __restrict__ coef,
                                       double* __restrict__ ell, int B, int M, int T) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * M) return;
    int b = idx / M, p = idx % M, base = candStart[p], n = candStart[p + 1] - base;
    const double* s = sims + (size_t)b * T + base;
    const int* cand = candList + base;
    int order[GEN_MAX_CAND]; double ex[GEN_MAX_CAND]; bool positive[GEN_MAX_CAND];
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && (s[i] != s[order[j - 1]] ? s[i] > s[order[j - 1]] : cand[i] < cand[order[j - 1]])) {
            order[j] = order[j - 1]; j--;
        }
        order[j] = i;
    }
    for (int i = 0; i < n; i++) positive[i] = false;
    for (int r = 0; r < kPos[p]; r++) positive[order[r]] = true;
    double mx = s[0], tau = params[0];
    for (int i = 1; i < n; i++) if (s[i] > mx) mx = s[i];
    double zAll = 0.0, zPos = 0.0;
    for (int i = 0; i < n; i++) {
        ex[i] = exp((s[i] - mx) / tau);
        zAll += ex[i];
        if (positive[i]) zPos += ex[i];
    }
    ell[idx] = log(zAll) - log(zPos);
    for (int i = 0; i < n; i++) {
        double pi = ex[i] / zAll, rho = positive[i] ? ex[i] / zPos : 0.0;
        coef[(size_t)b * T + base + i] = params[1] / (double)M * (pi - rho) / tau;
    }
}

// Each image's contrastive loss: the mean over patches of ell, summed in patch order.
extern "C" __global__ void gen_image_losses(const double* __restrict__ ell, double* __restrict__ loss, int B, int M) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    double total = 0.0;
    for (int p = 0; p < M; p++) total += ell[(size_t)b * M + p];
    loss[b] = total / (double)M;
}

// Γ(q) = Σ_{p: q ∈ win(p)} C(σ(p)) ⊗ gy(p); gh(σ(q)) = w(q)·Γ(q); partial = Γ ⊙ h(σ(q)) for ∂loss/∂w(q).
extern "C" __global__ void gen_grad_states(const float* __restrict__ states, const float* __restrict__ xdbl, int ld, int cOff,
                                           const float* __restrict__ w, const int* __restrict__ pos,
                                           const int* __restrict__ invWinStart, const int* __restrict__ invWinList,
                                           const float* __restrict__ gfeat, float* __restrict__ gstates,
                                           float* __restrict__ partial, int B, int L, int M, int N, int E, int F, int dOff) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * N * E) return;
    int e = (int)(idx % E); int n = (int)((idx / E) % N); int q = (int)((idx / ((size_t)E * N)) % M);
    int b = (int)(idx / ((size_t)E * N * M));
    float g = 0.f;
    for (int m = invWinStart[q]; m < invWinStart[q + 1]; m++) {
        int p = invWinList[m];
        g = g + xdbl[((size_t)b * L + pos[p]) * ld + cOff + n] * gfeat[((size_t)b * M + p) * F + dOff + e];
    }
    size_t s = (((size_t)b * L + pos[q]) * N + n) * E + e;
    gstates[s] = w[b * M + q] * g;
    partial[idx] = g * states[s];
}

// out[r] = Σ_j x[r][j] in float64, j ascending (float or double rows).
extern "C" __global__ void gen_row_sums(const float* __restrict__ x, double* __restrict__ out, int rows, int cols) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    double s = 0.0;
    for (int j = 0; j < cols; j++) s += (double)x[(size_t)r * cols + j];
    out[r] = s;
}
extern "C" __global__ void gen_row_sums_d(const double* __restrict__ x, double* __restrict__ out, int rows, int cols) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    double s = 0.0;
    for (int j = 0; j < cols; j++) s += x[(size_t)r * cols + j];
    out[r] = s;
}

// gΔ(σ(q))[e] = g(q) for every channel.
extern "C" __global__ void gen_delta_rows(const float* __restrict__ g, const int* __restrict__ pos, float* __restrict__ gdelta,
                                          int B, int L, int M, int E) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * M * E) return;
    int e = (int)(idx % E); int q = (int)((idx / E) % M); int b = (int)(idx / ((size_t)E * M));
    gdelta[((size_t)b * L + pos[q]) * E + e] = g[b * M + q];
}
