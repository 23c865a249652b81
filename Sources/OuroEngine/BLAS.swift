import OuroSupport
import CBLAS
import CFloatKernels
#if canImport(Glibc)
import Glibc
#endif

/// Row-major single-precision GEMM through OpenBLAS `cblas_sgemm`.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major with leading dimensions.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS with k = 0 only scales C; make that explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Deterministic parallel sgemm: C's rows are cut into a partition that depends only on
    /// `m`, each block is one single-threaded OpenBLAS call, and the blocks run on `runner`.
    ///
    /// OpenBLAS's own threading splits the work by its thread count, which changes the
    /// rounding of some outputs; this keeps every result independent of the thread count.
    /// `rowsPerCall` (which must divide `m`) fixes the blocks at that many rows instead, so that
    /// a row's result does not depend on `m` either (OpenBLAS's rounding of a row can depend on
    /// the number of rows in the call).
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int, runner: ParallelRunner, rowsPerCall: Int? = nil) {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        if let size = rowsPerCall {
            precondition(size > 0 && m % size == 0, "BLAS.sgemm: \(m) rows are not a multiple of \(size)")
            runner.forEach(m / size) { i in
                let r0 = i * size
                sgemm(transA: transA, transB: transB, m: size, n: n, k: k, alpha: alpha, a: transA ? a + r0 : a + r0 * lda, lda: lda,
                      b: b, ldb: ldb, beta: beta, c: c + r0 * ldc, ldc: ldc)
            }
            return
        }
        let blocks = max(1, min(16, m / 96))
        runner.forEach(blocks) { i in
            let r0 = m * i / blocks, r1 = m * (i + 1) / blocks
            if r1 <= r0 { return }
            // Row r of op(A) starts at a + r·lda (no transpose) or a + r (transposed storage).
            let aBlock = transA ? a + r0 : a + r0 * lda
            sgemm(transA: transA, transB: transB, m: r1 - r0, n: n, k: k, alpha: alpha, a: aBlock, lda: lda,
                  b: b, ldb: ldb, beta: beta, c: c + r0 * ldc, ldc: ldc)
        }
    }

    /// Sets the OpenBLAS thread count (process-wide by OpenBLAS's design).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// The OpenBLAS thread count in force.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The OpenBLAS kernel family in use (printed next to every timing).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// When OpenBLAS runs pre-AVX kernels on a CPU with AVX2 or AVX-512 (OpenBLAS 0.3.21 does not
    /// know newer CPUs such as Emerald Rapids and falls back to "Prescott", about 5× slower), the
    /// `OPENBLAS_CORETYPE` value to set before starting; nil when the kernels fit the CPU or the
    /// variable is already set.
    public static var suggestedCoreType: String? {
        guard getenv("OPENBLAS_CORETYPE") == nil else { return nil }
        let generic: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                                    "coppermine", "northwood", "banias", "opteron", "opteron_sse3", "barcelona"]
        guard generic.contains(coreName.lowercased()) else { return nil }
        if ouro_float_has_avx512() != 0 { return "SkylakeX" }
        if ouro_float_resolve_path(Int32(OURO_FLOAT_PATH_AVX2)) >= 0 { return "Haswell" }
        return nil
    }

    /// A one-line warning for `suggestedCoreType`, or nil.
    public static var coreTypeWarning: String? {
        suggestedCoreType.map {
            "note: OpenBLAS uses its generic \(coreName) kernels on this CPU; FP32 GEMMs run several times faster with OPENBLAS_CORETYPE=\($0)"
        }
    }

    /// OpenBLAS build configuration string.
    public static var config: String { String(cString: openblas_get_config()) }
}
