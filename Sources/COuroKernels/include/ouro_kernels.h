#ifndef OURO_KERNELS_H
#define OURO_KERNELS_H
/// Integer mixed-precision GEMM kernels for OuroMamba-Quant (method.md 4.9).
/// Layouts and the arithmetic contract are described in Sources/COuroKernels/README.md.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel path selector. Every path gives bit-identical results.
enum {
    OURO_PATH_AUTO = 0,     ///< AVX2 when the CPU has AVX2+FMA, else portable.
    OURO_PATH_PORTABLE = 1, ///< Plain C, any x86-64 (or other) CPU.
    OURO_PATH_AVX2 = 2,     ///< vpmaddubsw/vpmaddwd kernels; only when ouro_has_avx2().
    OURO_PATH_AVX512 = 3    ///< AVX-512 BW/VL + VNNI (vpdpbusd) kernels, AVX2 where none exists;
                            ///< only when ouro_has_avx512().
};

/// Microkernel geometry (rows of A per microtile for each weight mode, columns per panel).
#define OURO_MR_W4 6
#define OURO_MR_W8 4
#define OURO_NR 16
/// Row count of activation buffers must be padded to a multiple of this (lcm of the MRs).
#define OURO_ROW_ALIGN 12

int ouro_kernels_version(void);
/// 1 when this CPU supports AVX2 and FMA (the AVX2 path may be used).
int ouro_has_avx2(void);
/// 1 when this CPU supports AVX-512 F/BW/VL/DQ and VNNI (and AVX2+FMA): the AVX512 path may be used.
int ouro_has_avx512(void);
/// AUTO -> concrete path (AVX512, else AVX2, else PORTABLE); returns -1 when a SIMD path is
/// requested but unavailable, or the path is unknown.
int ouro_resolve_path(int path);

/// Reduction length padded to a multiple of 4 (one vpmaddubsw/vpmaddwd group).
int ouro_kpad(int K);
/// Bytes of the kernel weight layout for an N x K matrix.
size_t ouro_kernel_pack_size(int N, int K);
/// Bytes per row of the 4-bit storage layout: ceil(K/2) rounded up to 16.
int ouro_int4_row_bytes(int K);

/// 4-bit storage: two's complement nibbles, low nibble = even column, rows padded to 16 bytes
/// (padding nibbles are 0). Returns 0, or -1 if a value is outside -8..7 (nothing useful written).
int ouro_pack_int4(const int8_t *q, int N, int K, uint8_t *out);
/// Inverse of ouro_pack_int4 (sign-extends every nibble).
void ouro_unpack_int4(const uint8_t *packed, int N, int K, int8_t *out);

/// Kernel layout from int8 weights q[N][K] (values within +-7 for bits 4, +-127 for bits 8).
/// Panels of 16 output rows; inside a panel, for each group g of 4 reduction indices, 64 bytes:
/// byte 32*h + 4*j + i = weight[16*p + 8*h + j][4*g + i] (+8 for bits 4: stored unsigned).
/// Padding rows/columns hold weight 0.
void ouro_pack_kernel(const int8_t *q, int N, int K, int bits, uint8_t *out);

/// Quantizes rows [row0,row1) of X: a[t][k] = clamp(rne(x[t][k] / scale[t]), -qmax, qmax), 0 at the
/// outlier columns of row t (CSR optr/ocols, optr may be NULL) and at padding k in [K, lda).
/// rowsum[t] = sum of the stored int8 values. Rows in [row1, rowpad) are zeroed (rowpad >= row1).
void ouro_quantize_rows(int path, const float *x, int ldx, int row0, int row1, int rowpad, int K,
                        const float *scale, int qmax, const int32_t *optr, const int32_t *ocols,
                        int8_t *a, int lda, int32_t *rowsum);

/// Exact int32 C[t][o] = sum_k a[t][k] * w[o][k] for t in [row0,row1), o in [0,N).
/// a: lda = ouro_kpad(K) bytes per row, rows readable up to row0 + roundup(row1-row0, 12), zero
/// beyond K; rowsum: per-row sums of a (needed for bits 4). abits (4 or 8) bounds |a| for the int16
/// accumulation interval; values of a must lie within +-(2^(abits-1)-1).
void ouro_igemm_s32(int path, const int8_t *a, const int32_t *rowsum, int row0, int row1,
                    const uint8_t *wpack, int N, int K, int wbits, int abits,
                    int32_t *c, int ldc);

/// Everything one fused mixed-precision GEMM needs (see ouro_mpgemm_rows).
typedef struct ouro_mpgemm_args {
    int M, N, K;
    int wbits, abits, obits;     ///< 4|8, 4|8, 8|16
    int path;                    ///< resolved path (PORTABLE or AVX2)
    const float *x; int ldx;     ///< M x K activations
    const float *inlier_scale;   ///< [M] static S_I(t)
    const int32_t *optr;         ///< [M+1] CSR offsets of outlier columns, or NULL
    const int32_t *ocols;        ///< outlier reduction indices
    const uint8_t *wpack;        ///< ouro_pack_kernel layout
    const float *wscale;         ///< [N] s_w[o]
    const int8_t *wT;            ///< K x N: integer weights transposed (qW[o][k] at wT[k*N+o]), for the outlier term
    int8_t *abuf;                ///< scratch: roundup(M,12) x ouro_kpad(K) bytes
    int32_t *rowsum;             ///< scratch: roundup(M,12)
    float *ovals;                ///< scratch: optr[M] floats (qO, or raw x for obits 16)
    float *oscale;               ///< scratch: M floats (s_O(t))
    float *y; int ldy;           ///< M x N output
    /// Window structure of the lists, or win_len = 0 when unknown: rows are samples of win_len
    /// steps (row r is step r mod win_len, or win_len - 1 - that when win_reversed), and inside
    /// every window of win_refresh steps the lists nest (detection's lists only grow). Lets the
    /// outlier term group rows without checking that their lists nest.
    int win_len, win_refresh, win_reversed;
} ouro_mpgemm_args;

/// Computes output rows [row0,row1) (row0 a multiple of 12): quantizes them, int GEMM,
/// dequantizes, adds the outlier term. Different row ranges may run concurrently.
void ouro_mpgemm_rows(const ouro_mpgemm_args *p, int row0, int row1);

/// Outlier rule of a point (method.md 4.5, 4.7).
enum {
    OURO_OUTLIERS_NONE = 0,    ///< everything saturates at the static scale
    OURO_OUTLIERS_DYNAMIC = 1, ///< per-sample lists refreshed every n_refresh steps
    OURO_OUTLIERS_FIXED = 2    ///< one list chosen at calibration
};

/// The run-time quantizer of one activation point.
typedef struct ouro_point_params {
    int C;                        ///< channels
    int asymmetric;               ///< 1 for the asymmetric (Delta) points
    int inlier_bits, outlier_bits;///< outlier_bits 16 = outliers stay float
    int mode;                     ///< OURO_OUTLIERS_*
    double lambda;                ///< threshold mu + lambda sigma
    int n_refresh;                ///< window length
    int stats_all_with_zeros;     ///< mu, sigma over all channels (listed ones as 0) instead of inliers
    const float *scales;          ///< S_I(t): nscales = 1 or L
    int nscales;
    const int32_t *zeros;         ///< z(t) (asymmetric, nscales entries) or NULL
    const int32_t *fixed;         ///< OURO_OUTLIERS_FIXED: listed channels
    int nfixed;
    /// Optional (NULL: unused): the softplus that `ouro_point_run` applies to the fake-quantized
    /// rows when given an output for it, called as softplus(softplus_path, n, x, out).
    void (*softplus)(int path, long n, const float *x, float *out);
    int softplus_path;
    /// The tables of `ouro_point_softplus_tables`, 16 floats per scale, which
    /// `ouro_point_run_softplus` reads (NULL elsewhere).
    const float *softplus_tables;
} ouro_point_params;

/// Runs the L steps of a point for `nsamples` samples, sample s at x + s*sample_stride. Step t
/// reads row (reversed ? L-1-t : t) of the sample (stride ldx); the list is updated (detection),
/// then with `apply` the row is fake-quantized in place. counts[s*L + r] = size of the list in
/// force at row r of sample s; when `lists` is not NULL, that ascending list is written at
/// lists + (s*L + r)*C. Every sample's results are those of a run on that sample alone. Returns
/// 0, or -1 when scratch memory is unavailable.
int ouro_point_run(int path, const ouro_point_params *p, float *x, int ldx, int L, int nsamples, long sample_stride,
                   int reversed, int apply, int32_t *counts, int32_t *lists);

/// The lists `ouro_point_run` wrote (row t: counts[t] entries at slots + t*cols) gathered into
/// one array: row t's entries go to flat + ptr[t] (ptr: the running sums of counts, computed by
/// the caller). `path` as resolved (the AVX-512 path moves them by masked vectors).
void ouro_gather_lists(int path, int rows, int cols, const int32_t *counts, const int32_t *slots, const int32_t *ptr,
                       int32_t *flat);

/// Whether `ouro_point_run_softplus` can run this point on `path`: the AVX-512 path, an
/// asymmetric point with at most 16 inlier levels, outliers at fewer than 16 bits, `softplus` and
/// `softplus_tables` set.
int ouro_point_softplus_supported(int path, const ouro_point_params *p);

/// `ouro_point_run` with `apply`, which also writes sp[s * sp_sample_stride + r * ldsp + c] =
/// softplus(x̂[r][c]) for every row r of every sample s: inliers read softplus from the step's
/// table in p->softplus_tables (the same bits as p->softplus on the fake-quantized value, since
/// the table is p->softplus of those very values), outliers call p->softplus. Returns 0, -1
/// (memory) or -2 (not supported).
int ouro_point_run_softplus(int path, const ouro_point_params *p, float *x, int ldx, int L, int nsamples, long sample_stride,
                            int reversed, int32_t *counts, int32_t *lists, float *sp, int ldsp, long sp_sample_stride);

/// The inlier softplus tables of an asymmetric point with at most 4 inlier bits: for each of the
/// nscales scales, tables[16 i + r] = p->softplus(S_i·(r − z_i)) for the levels r (softplus(0)
/// beyond them). They depend on the step only, so a point builds them once instead of per row.
/// Returns 0, or -2 when the point has no such tables (see ouro_point_softplus_supported).
int ouro_point_softplus_tables(const ouro_point_params *p, float *tables);

/// For tests of detection's one-pass bracket: *threshold = mu + lambda sigma of |x| over the
/// channels with keep[c] != 0 (with `all_with_zeros`, over all C channels, the others as 0), from
/// the two-pass sum of squared deviations, and *exact = the largest float not above it, which the
/// flag test compares with. Returns 1 and sets *bracketed when the one-pass sums decide that float
/// (detection then skips the second pass), 0 when detection would run the two-pass sum, -1 for
/// fewer than 2 channels or a path this CPU cannot run.
int ouro_detect_threshold_probe(int path, const float *x, const uint32_t *keep, int C, int all_with_zeros, double lambda,
                                double *threshold, float *exact, float *bracketed);

/// Calibration's clipping-search errors (method.md 4.1) for one step: for each candidate i,
/// out[i] = sum over the `rows` rows (row r at x + r * row_stride doubles) of
/// sum |x - Q_i(x)|^2.4 over `count4` groups of 4 doubles (zero padding contributes 0).
/// Q_i: symmetric with scale scales[i] and levels +-top when `zeros` is NULL; else asymmetric
/// with zero point zeros[i] and levels 0..top. The same arithmetic as OuroQuant's LpError, bit
/// for bit, on every path (AVX2: 4 doubles per vector; AVX512: 8). Needs an AVX2 or AVX512 path.
void ouro_lp_error_sums(int path, const double *x, int rows, long row_stride, int count4, const float *scales,
                        const int32_t *zeros, int candidates, double top, double *out);

#ifdef __cplusplus
}
#endif
#endif
