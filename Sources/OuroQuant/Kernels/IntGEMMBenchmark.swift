import CBLAS
import COuroKernels
import Dispatch
import OuroEngine

/// Times the full integer mixed-precision GEMM (activation quantization + int GEMM + outliers +
/// dequantization), its int32 inner loop alone, and OpenBLAS `cblas_sgemm` (row-major X·Wᵀ) on the
/// same shapes in the same run.
public enum IntGEMMBenchmark {
    /// One measured configuration. Throughputs count 2·M·K·N operations.
    public struct Row: Sendable {
        public var M: Int, K: Int, N: Int
        public var setting: QuantSetting
        /// Requested and realised mean outlier fraction |O_t| / K.
        public var outlierFraction: Double, realisedFraction: Double
        /// Best-of times in milliseconds.
        public var fullMs: Double, innerMs: Double, sgemmMs: Double
        public var fullGOPs: Double { ops / fullMs / 1e6 }
        public var innerGOPs: Double { ops / innerMs / 1e6 }
        public var sgemmGFLOPs: Double { ops / sgemmMs / 1e6 }
        /// Full-op throughput over sgemm throughput.
        public var ratio: Double { sgemmMs / fullMs }
        var ops: Double { 2 * Double(M) * Double(K) * Double(N) }
    }

    /// Shapes of method.md's base model (M = 197·8 tokens) and the small default model (M = 50·64).
    public static let defaultShapes: [(M: Int, K: Int, N: Int)] = [
        (1576, 192, 768), (1576, 384, 44), (1576, 12, 384), (1576, 384, 192),
        (3200, 64, 256), (3200, 128, 64), (3200, 128, 36), (3200, 4, 128),
    ]

    /// Runs every shape × setting × outlier fraction; `repeats` timed runs after one warm-up,
    /// best kept. Outlier lists are shared by windows of 10 rows (method.md 4.5).
    public static func run(shapes: [(M: Int, K: Int, N: Int)] = defaultShapes,
                           settings: [QuantSetting] = QuantSetting.integerPresets,
                           outlierFractions: [Double] = [0, 0.02, 0.05], threads: Int = 2,
                           repeats: Int = 30, path: KernelPath = .auto) throws -> [Row] {
        openblas_set_num_threads(Int32(threads))
        var rows: [Row] = []
        for shape in shapes {
            let problem = BenchProblem(M: shape.M, K: shape.K, N: shape.N, seed: 7)
            let sgemm = problem.sgemmOp()
            for setting in settings {
                let w = try problem.weights(bits: setting.weightBits)
                for f in outlierFractions {
                    let outliers = try problem.outliers(fraction: f)
                    let scales = problem.inlierScales(outliers: outliers, bits: setting.inlierBits)
                    let full = problem.fullOp(weights: w, scales: scales, outliers: outliers, setting: setting,
                                              threads: threads, path: path)
                    let inner = try problem.innerOp(weights: w, scales: scales, outliers: outliers, setting: setting,
                                                    threads: threads, path: path)
                    // Interleaved rounds: load from other processes hits all three alike.
                    let t = try Timing.bestSeconds(repeats: repeats, [sgemm, full, inner]).map { $0 * 1000 }
                    rows.append(Row(M: shape.M, K: shape.K, N: shape.N, setting: setting, outlierFraction: f,
                                    realisedFraction: outliers.fraction, fullMs: t[1], innerMs: t[2], sgemmMs: t[0]))
                }
            }
        }
        return rows
    }

    /// A Markdown table of `rows`, headed by the BLAS core and thread count.
    public static func format(_ rows: [Row], threads: Int = 2) -> String {
        var s = "OpenBLAS core \(String(cString: openblas_get_corename())), threads \(threads), "
        s += "kernel path \((try? KernelPath.auto.resolved()) ?? .portable)\n"
        s += "| M | K | N | setting | outl. | full ms | full GOP/s | inner GOP/s | sgemm GFLOP/s | full/sgemm | inner/sgemm |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += "| \(r.M) | \(r.K) | \(r.N) | \(r.setting.description) | \(fmt(r.realisedFraction * 100, 1))% | "
            s += "\(fmt(r.fullMs, 3)) | \(fmt(r.fullGOPs, 0)) | \(fmt(r.innerGOPs, 0)) | \(fmt(r.sgemmGFLOPs, 0)) | "
            s += "\(fmt(r.ratio, 2))× | \(fmt(r.sgemmMs / r.innerMs, 2))× |\n"
        }
        return s
    }

    static func fmt(_ v: Double, _ digits: Int) -> String {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (v * p).rounded() / p
        return digits == 0 ? String(Int(r)) : String(r)
    }
}
