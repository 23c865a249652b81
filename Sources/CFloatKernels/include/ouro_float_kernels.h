#ifndef OURO_FLOAT_KERNELS_H
#define OURO_FLOAT_KERNELS_H
/// Float32 SIMD kernels of the engine (selective scan, causal conv, softplus, gate), compiled
/// per function for AVX2+FMA and AVX-512 and chosen at run time. Every path gives bit-identical
/// results: the same float operations, in the same order, in every lane.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel path selector.
enum {
    OURO_FLOAT_PATH_AUTO = 0,    ///< The widest path this CPU supports.
    OURO_FLOAT_PATH_AVX2 = 1,    ///< 8 lanes (AVX2 + FMA).
    OURO_FLOAT_PATH_AVX512 = 2   ///< 16 lanes (AVX-512 F); only when ouro_float_has_avx512().
};

/// 1 when this CPU supports AVX-512 F (the 16-lane path may be used).
int ouro_float_has_avx512(void);
/// AUTO -> concrete path; -1 when the path is unknown or this CPU lacks it.
int ouro_float_resolve_path(int path);

/// Arguments of one scan call; all tensors in original token order.
typedef struct {
    int L, E, N;              ///< tokens, channels, state size
    const float *u;           ///< [B][L][E]
    const float *delta;       ///< [B][L][E]
    const float *a2T;         ///< A * log2(e), transposed to [N][E]
    const float *bc;          ///< token-shared B and C: B[b,t,n] = bc[(b*L+t)*ld + boff + n]
    long ld, boff, coff;
    const float *d;           ///< [E]
    int reverse;              ///< run from the last token to the first
    float *y;                 ///< [B][L][E] output
    float *states;            ///< optional [B][L][N][E]: h after every step (NULL: not kept)
} ouro_scan_args;

/// Channels per scan block and the largest state size the scan holds on its stack.
#define OURO_SCAN_BLOCK 64
#define OURO_SCAN_MAX_STATE 64

/// y for image b and channels [e0, e1) (e1 - e0 <= OURO_SCAN_BLOCK, N <= OURO_SCAN_MAX_STATE).
/// y = D*u + sum_n C[n] * h[n], with h[n] = 2^(dt * a2[n]) * h[n] + (dt*u) * B[n] accumulated
/// in two chains (even n, odd n), exactly as OuroEngine's reference order. Expects dt >= 0 and
/// a2 <= 0 (the softplus and A = -exp(A_log) give them): the 16-lane path does not clamp 2^x above
/// 2^127 as the reference does, so a positive exponent past 127 would differ there (inf).
void ouro_scan_forward_block(int path, const ouro_scan_args *args, int b, int e0, int e1);

/// Arguments of the scan's backward pass (OuroEngine's SelectiveScan.backward).
typedef struct {
    int L, E, N;              ///< tokens, channels, state size
    const float *u, *delta;   ///< [B][L][E]
    const float *a2T, *aT;    ///< A * log2(e) and A, transposed to [N][E]
    const float *bc;          ///< token-shared B and C, as in ouro_scan_args
    long ld, boff, coff;
    const float *d;           ///< [E]
    int reverse;
    const float *states;      ///< [B][L][N][E]: h after every step
    const float *gy;          ///< [B][L][E]
    const float *ghExt;       ///< optional [B][L][N][E] extra gradient on every h (NULL: none)
    float *gu, *gDelta;       ///< [B][L][E] outputs
    float *pA;                ///< optional [B][E][N]: gA of each image (NULL: not wanted)
    float *pD;                ///< optional [B][E]: gD of each image (NULL: not wanted)
} ouro_scan_backward_args;

/// Image b, 8-channel chunks [c0, c1) in order: writes gu and gDelta of those channels, adds
/// the chunks' lane-wise gB and gC contributions to pB and pC ([L][N][8], chunk after chunk,
/// one fused multiply-add per chunk and entry) and writes pA/pD of those channels. The same
/// operations in the same order as the Swift SIMD8 reference, so the results are bit-identical.
void ouro_scan_backward_chunks(int path, const ouro_scan_backward_args *args, int b, int c0, int c1,
                               float *pB, float *pC);

/// y[i] += a * x[i]: one fused multiply-add per element in whole groups of 8, a multiply and
/// an add for the last n mod 8 (OuroEngine's Vec.axpy).
void ouro_axpy(int path, long n, float a, const float *x, float *y);

/// y[i] = Σ_j w[j]·x[j][i] for j < k (k ≥ 1), in order: a product, then fused multiply-adds
/// (OuroEngine's Vec.weightedSum; the patched-state window sums of OuroMamba-Gen).
void ouro_weighted_sum(int path, long n, int k, const float *const *x, const float *w, float *y);

/// g[i] = x[0][i] + … + x[k-1][i] (in order), y[i] = fma(a, g[i], +0) (written, not read: the
/// bits of an accumulation into zeros); returns Σ g[i]·h[i] with Vec.dot's partials
/// (OuroEngine's Vec.sumScaleDot).
double ouro_sum_scale_dot(int path, long n, int k, const float *const *x, float a, float *y, const float *h);

/// Σ x[i]·y[i]: 32 float partials (element i of each whole block of 32 goes to partial i mod 32,
/// fused), summed in double in order, then the remaining products in double (Vec.dot).
double ouro_dot(int path, long n, const float *x, const float *y);

/// out[i] = 2^x[i] (base2 != 0) or e^x[i], the inline exponentials the kernels use: a test hook
/// that checks them against VectorMath.exp2 and VectorMath.exp bit for bit.
void ouro_exp_probe(int path, int base2, long n, const float *x, float *out);

/// out[i] = softplus(x[i]) with PyTorch's threshold 20 (x > 20 passes through).
void ouro_softplus(int path, long n, const float *x, float *out);

/// m[r][e] = (0 + 0.5 * yf[r][e] * s) + 0.5 * yb[r][e] * s with s = SiLU(z[r][e]), for r < rows,
/// e < E: the mixer's gate, averaged over the two scan directions (yf and yb share the stride ldy).
void ouro_gate(int path, long rows, int E, const float *yf, const float *yb, long ldy, const float *z, long ldz,
               float *m, long ldm);

/// Depthwise causal conv1d (vim-architecture.md 2.4) in original token order.
typedef struct {
    int L, E, K;              ///< tokens, channels, taps
    const float *x;           ///< input rows [B][L] with stride ldx
    long ldx;
    const float *wT;          ///< taps transposed to [K][E]
    const float *bias;        ///< [E]
    int reverse;              ///< anti-causal with reversed taps (the backward scan direction)
    float *out;               ///< [B][L][E] pre-activation
    float *silu;              ///< optional [B][L][E]: SiLU(out) (NULL: not written)
} ouro_conv_args;

/// Rows [t0, t1) of image b.
void ouro_conv_forward_rows(int path, const ouro_conv_args *args, int b, int t0, int t1);

#ifdef __cplusplus
}
#endif
#endif
