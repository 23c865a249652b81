// Module ouro_mpgemm: CUDA C compiled at run time by NVRTC (and for the host by EmulatedGPUDevice).
// Embedded in the binary at build time (the EmbedCUDA plugin); see GPUMixedPrecisionKernels.swift.
// Mixed-precision GEMM (method.md 4.9) for sm_80+: int8 x int8 -> int32 with
// mma.sync.m16n8k32, cp.async multi-stage pipeline, swizzled shared memory, fused
// dequantization + 8-bit outlier term + FP16 store. No headers: NVRTC compiles it alone.
#define OURO_BM 128
#define OURO_BK 64

struct alignas(16) ouro_u4 { unsigned x, y, z, w; };
struct alignas(8) ouro_u2 { unsigned x, y; };

__device__ __forceinline__ unsigned ouro_smem(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }

// 16-byte async copy global -> shared; bytes = 0 writes zeros (out-of-range rows/columns).
__device__ __forceinline__ void ouro_cp16(unsigned dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void ouro_cp_commit() { asm volatile("cp.async.commit_group;" ::); }
template <int N> __device__ __forceinline__ void ouro_cp_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N)); }

__device__ __forceinline__ void ouro_ldm4(unsigned addr, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// D = A(16x32 s8, row) * B(32x8 s8, col) + D, int32.
__device__ __forceinline__ void ouro_mma(int* d, const unsigned* a, unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Byte offset of 16-byte chunk ch (0..3) of row r in a tile of 64-byte rows. The XOR swizzle
// makes the 8 row addresses of each ldmatrix phase hit 8 different 16-byte bank groups.
__device__ __forceinline__ int ouro_swz(int r, int ch) { return r * 64 + ((ch ^ ((r >> 1) & 3)) << 4); }

// Two floats -> packed f16x2 (lo in the low half), round to nearest even.
__device__ __forceinline__ unsigned ouro_pack_half2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ float ouro_h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short ouro_f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// out[t,o] (FP16) = s_w[o] * (S_I[t] * sum_k X[t,k] W[o,k] + s_O[t] * sum_j qO[t,j] W[o, cols[g,j]])
// X: M x K int8 row-major (inlier integers, zeros at outlier columns); W: N x K int8 row-major;
// cols: per group g of 128 rows, P column indices (-1 = padding); qO: M x P int8; s_O: M floats.
// Block: 128 x BN outputs; warps as 2 (rows) x WARPS_N (cols), each warp 64 x BN/WARPS_N.
// Requires K % 16 == 0, N % 8 == 0, P % 16 == 0; M arbitrary.
template <int BN, int WARPS_N, int THREADS, int STAGES>
__device__ __forceinline__ void ouro_mp_gemm(const signed char* __restrict__ X, const signed char* __restrict__ W,
                                             const float* __restrict__ sI, const float* __restrict__ sw,
                                             const int* __restrict__ cols, const signed char* __restrict__ qO,
                                             const float* __restrict__ sO, unsigned* __restrict__ out,
                                             int M, int N, int K, int P) {
    constexpr int BM = OURO_BM, BK = OURO_BK;
    constexpr int WN = BN / WARPS_N, NT = WN / 8, MT = 4;
    static_assert(THREADS == 64 * WARPS_N, "2 x WARPS_N warps");
    __shared__ __align__(128) signed char sA[STAGES][BM * BK];
    __shared__ __align__(128) signed char sB[STAGES][BN * BK];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int kTiles = (K + BK - 1) / BK;

    int acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0;

    // Tile loads: 16-byte chunks, 4 per 64-byte row; out-of-range chunks are zero-filled.
    auto loadA = [&](int stage, const signed char* src, int ld, int kLimit, int k0) {
#pragma unroll
        for (int i = 0; i < BM * 4 / THREADS; i++) {
            int c = tid + i * THREADS, r = c >> 2, ch = c & 3;
            int gr = m0 + r, gk = k0 + ch * 16;
            bool ok = gr < M && gk < kLimit;
            ouro_cp16(ouro_smem(&sA[stage][ouro_swz(r, ch)]), src + (ok ? (long long)gr * ld + gk : 0), ok ? 16 : 0);
        }
    };
    auto loadB = [&](int stage, int k0) {
#pragma unroll
        for (int i = 0; i < BN * 4 / THREADS; i++) {
            int c = tid + i * THREADS, r = c >> 2, ch = c & 3;
            int gr = n0 + r, gk = k0 + ch * 16;
            bool ok = gr < N && gk < K;
            ouro_cp16(ouro_smem(&sB[stage][ouro_swz(r, ch)]), W + (ok ? (long long)gr * K + gk : 0), ok ? 16 : 0);
        }
    };
    // One BK = 64 slice: 2 k32 steps; A fragments by ldmatrix.x4 (16 rows x 32 bytes), B by
    // ldmatrix.x4 (16 output channels x 32 bytes = two n8 fragments).
    auto loadFrags = [&](int stage, int ks, unsigned (&a)[MT][4], unsigned (&b)[NT][2]) {
        unsigned aBase = ouro_smem(sA[stage]), bBase = ouro_smem(sB[stage]);
#pragma unroll
        for (int i = 0; i < MT; i++) {
            int r = wm * 64 + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            ouro_ldm4(aBase + ouro_swz(r, ks * 2 + (lane >> 4)), a[i][0], a[i][1], a[i][2], a[i][3]);
        }
#pragma unroll
        for (int p = 0; p < NT / 2; p++) {
            int r = wn * WN + p * 16 + (lane & 7) + (lane >> 4) * 8;
            ouro_ldm4(bBase + ouro_swz(r, ks * 2 + ((lane >> 3) & 1)), b[2 * p][0], b[2 * p][1], b[2 * p + 1][0], b[2 * p + 1][1]);
        }
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < kTiles) { loadA(s, X, K, K, s * BK); loadB(s, s * BK); }
        ouro_cp_commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        ouro_cp_wait<STAGES - 2>();
        __syncthreads();
        // Prefetch into the stage consumed in the previous iteration (everyone is past it).
        int nk = kt + STAGES - 1;
        if (nk < kTiles) { loadA(nk % STAGES, X, K, K, nk * BK); loadB(nk % STAGES, nk * BK); }
        ouro_cp_commit();
        const int st = kt % STAGES;
#pragma unroll
        for (int ks = 0; ks < 2; ks++) {
            unsigned a[MT][4], b[NT][2];
            loadFrags(st, ks, a, b);
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int j = 0; j < NT; j++) ouro_mma(acc[i][j], a[i], b[j][0], b[j][1]);
        }
    }
    ouro_cp_wait<0>();

    // Dequantize the inlier sum: f = S_I[t] * acc (float, in the accumulators' registers).
    float f[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++) {
        int r0 = m0 + wm * 64 + i * 16 + (lane >> 2);
        float s0 = r0 < M ? sI[r0] : 0.f, s1 = r0 + 8 < M ? sI[r0 + 8] : 0.f;
#pragma unroll
        for (int j = 0; j < NT; j++) {
            f[i][j][0] = (float)acc[i][j][0] * s0; f[i][j][1] = (float)acc[i][j][1] * s0;
            f[i][j][2] = (float)acc[i][j][2] * s1; f[i][j][3] = (float)acc[i][j][3] * s1;
        }
    }

    // Outlier term: the group's P gathered columns, 64 at a time, as extra MMA k-steps into a
    // small temporary int32 accumulator per 16x8 sub-tile (4 registers), added with s_O[t].
    if (P > 0) {
        const int* gcols = cols + (long long)blockIdx.y * P;
        for (int pc = 0; pc < P; pc += BK) {
            __syncthreads();   // stage 0 is free (main loop or previous chunk done)
            loadA(0, qO, P, P, pc);
            ouro_cp_commit();
            // Gather W[o, cols[j]] for 64 columns (bytes, from L2) into the B tile, 4 per word.
            // A thread always fills the same 4 columns (THREADS % 16 == 0): their indices are
            // read once, and the unrolled loop issues all its loads before any is used.
            {
                const int q = tid & 15;
                int c4[4];
#pragma unroll
                for (int b = 0; b < 4; b++) { int j = pc + q * 4 + b; c4[b] = j < P ? gcols[j] : -1; }
#pragma unroll
                for (int e0 = 0; e0 < BN * 16; e0 += THREADS) {
                    int r = (e0 + tid) >> 4, o = n0 + r;
                    const signed char* wr = W + (long long)(o < N ? o : 0) * K;
                    unsigned word = 0;
#pragma unroll
                    for (int b = 0; b < 4; b++) {
                        unsigned v = (o < N && c4[b] >= 0) ? (unsigned char)wr[c4[b]] : 0u;
                        word |= v << (8 * b);
                    }
                    *(unsigned*)&sB[0][ouro_swz(r, q >> 2) + (q & 3) * 4] = word;
                }
            }
            ouro_cp_wait<0>();
            __syncthreads();
#pragma unroll
            for (int i = 0; i < MT; i++) {
                int r0 = m0 + wm * 64 + i * 16 + (lane >> 2);
                float o0 = r0 < M ? sO[r0] : 0.f, o1 = r0 + 8 < M ? sO[r0 + 8] : 0.f;
                unsigned aBase = ouro_smem(sA[0]), bBase = ouro_smem(sB[0]);
                unsigned a[2][4];
#pragma unroll
                for (int ks = 0; ks < 2; ks++) {
                    int r = wm * 64 + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                    ouro_ldm4(aBase + ouro_swz(r, ks * 2 + (lane >> 4)), a[ks][0], a[ks][1], a[ks][2], a[ks][3]);
                }
#pragma unroll
                for (int p = 0; p < NT / 2; p++) {
                    unsigned b[2][4];
#pragma unroll
                    for (int ks = 0; ks < 2; ks++) {
                        int r = wn * WN + p * 16 + (lane & 7) + (lane >> 4) * 8;
                        ouro_ldm4(bBase + ouro_swz(r, ks * 2 + ((lane >> 3) & 1)), b[ks][0], b[ks][1], b[ks][2], b[ks][3]);
                    }
#pragma unroll
                    for (int jj = 0; jj < 2; jj++) {
                        int t[4] = {0, 0, 0, 0};
                        ouro_mma(t, a[0], b[0][2 * jj], b[0][2 * jj + 1]);
                        ouro_mma(t, a[1], b[1][2 * jj], b[1][2 * jj + 1]);
                        f[i][2 * p + jj][0] += (float)t[0] * o0; f[i][2 * p + jj][1] += (float)t[1] * o0;
                        f[i][2 * p + jj][2] += (float)t[2] * o1; f[i][2 * p + jj][3] += (float)t[3] * o1;
                    }
                }
            }
        }
    }

    // Times s_w[o], rounded to FP16, two adjacent columns per 32-bit store.
#pragma unroll
    for (int i = 0; i < MT; i++) {
        int r0 = m0 + wm * 64 + i * 16 + (lane >> 2);
#pragma unroll
        for (int j = 0; j < NT; j++) {
            int c = n0 + wn * WN + j * 8 + (lane & 3) * 2;
            if (c >= N) continue;
            float w0 = sw[c], w1 = sw[c + 1];
            if (r0 < M) out[((long long)r0 * N + c) >> 1] = ouro_pack_half2(f[i][j][0] * w0, f[i][j][1] * w1);
            if (r0 + 8 < M) out[((long long)(r0 + 8) * N + c) >> 1] = ouro_pack_half2(f[i][j][2] * w0, f[i][j][3] * w1);
        }
    }
}

#define OURO_GEMM_KERNEL(NAME, BN, WARPS_N, THREADS, STAGES, MINB)                                                 \
    extern "C" __global__ void __launch_bounds__(THREADS, MINB)                                                      \
    NAME(const signed char* X, const signed char* W, const float* sI, const float* sw, const int* cols,              \
         const signed char* qO, const float* sO, unsigned* out, int M, int N, int K, int P) {                        \
        ouro_mp_gemm<BN, WARPS_N, THREADS, STAGES>(X, W, sI, sw, cols, qO, sO, out, M, N, K, P);                     \
    }
// Tiles: rows x cols of the block, warp tile, pipeline stages (48 KB static shared memory).
OURO_GEMM_KERNEL(ouro_mp_gemm_128x128, 128, 4, 256, 3, 2)      // 8 warps of 64 x 32
OURO_GEMM_KERNEL(ouro_mp_gemm_128x128w4, 128, 2, 128, 3, 2)    // 4 warps of 64 x 64
OURO_GEMM_KERNEL(ouro_mp_gemm_128x256, 256, 4, 256, 2, 1)      // 8 warps of 64 x 64

// Activation quantization of one token row per block: inliers q = clamp(rint(x / S_I[t]), +-qmax)
// at every column, then the row group's outlier columns are zeroed in qI and quantized to 8 bits
// with the dynamic s_O[t] = max(max |x_cols|, 1e-8) / 127 into qO (M x P). Requires K % 8 == 0.
template <bool HALF>
__device__ __forceinline__ void ouro_mp_quant(const void* xv, const float* __restrict__ sI, int qmax,
                                              const int* __restrict__ cols, int P, signed char* __restrict__ qI,
                                              signed char* __restrict__ qO, float* __restrict__ sO, int M, int K) {
    __shared__ float red[32];
    const int t = blockIdx.x;
    if (t >= M) return;
    const float s = sI[t], qm = (float)qmax;
    auto xAt = [&](long long i) -> float {
        return HALF ? ouro_h2f(((const unsigned short*)xv)[i]) : ((const float*)xv)[i];
    };
    for (int c = threadIdx.x; c < K / 8; c += blockDim.x) {
        float v[8];
        long long base = (long long)t * K + c * 8;
        if (HALF) {
            ouro_u4 u = *(const ouro_u4*)((const unsigned short*)xv + base);
            unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
            for (int e = 0; e < 4; e++) { v[2 * e] = ouro_h2f((unsigned short)(w[e] & 0xffff)); v[2 * e + 1] = ouro_h2f((unsigned short)(w[e] >> 16)); }
        } else {
#pragma unroll
            for (int e = 0; e < 8; e++) v[e] = ((const float*)xv)[base + e];
        }
        unsigned lo = 0, hi = 0;
#pragma unroll
        for (int e = 0; e < 8; e++) {
            int q = (int)fminf(fmaxf(rintf(v[e] / s), -qm), qm);
            if (e < 4) lo |= ((unsigned)q & 0xffu) << (8 * e); else hi |= ((unsigned)q & 0xffu) << (8 * (e - 4));
        }
        ouro_u2 o; o.x = lo; o.y = hi;
        *(ouro_u2*)(qI + base) = o;
    }
    if (P == 0) {
        if (threadIdx.x == 0) sO[t] = 1e-8f / 127.f;   // what an empty list gives
        return;
    }
    __syncthreads();
    const int* gcols = cols + (long long)(t / OURO_BM) * P;
    float m = 0.f;
    for (int j = threadIdx.x; j < P; j += blockDim.x) {
        int c = gcols[j];
        if (c >= 0) m = fmaxf(m, fabsf(xAt((long long)t * K + c)));
    }
    for (int d = 16; d > 0; d >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, d));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x < 32) {
        m = threadIdx.x < (blockDim.x + 31) / 32 ? red[threadIdx.x] : 0.f;
        for (int d = 16; d > 0; d >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, d));
        if (threadIdx.x == 0) red[0] = m;
    }
    __syncthreads();
    const float so = fmaxf(red[0], 1e-8f) / 127.f;
    if (threadIdx.x == 0) sO[t] = so;
    for (int j = threadIdx.x; j < P; j += blockDim.x) {
        int c = gcols[j];
        float v = c >= 0 ? xAt((long long)t * K + c) : 0.f;
        qO[(long long)t * P + j] = (signed char)(int)fminf(fmaxf(rintf(v / so), -127.f), 127.f);
        if (c >= 0) qI[(long long)t * K + c] = 0;
    }
}

extern "C" __global__ void ouro_mp_quantize_f16(const unsigned short* x, const float* sI, int qmax, const int* cols, int P,
                                                signed char* qI, signed char* qO, float* sO, int M, int K) {
    ouro_mp_quant<true>(x, sI, qmax, cols, P, qI, qO, sO, M, K);
}
extern "C" __global__ void ouro_mp_quantize_f32(const float* x, const float* sI, int qmax, const int* cols, int P,
                                                signed char* qI, signed char* qO, float* sO, int M, int K) {
    ouro_mp_quant<false>(x, sI, qmax, cols, P, qI, qO, sO, M, K);
}

// FP32 -> FP16 (round to nearest even), for benchmark inputs.
extern "C" __global__ void ouro_f32_to_f16(const float* x, unsigned short* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = ouro_f2h(x[i]);
}
