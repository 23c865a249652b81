import CBLAS
import COuroKernels
import OuroEngine

/// Synthetic data for one benchmark shape: normal activations whose outlier columns (per window of
/// 10 rows) are scaled ×20, random integer weights, per-row scales.
struct BenchProblem {
    let M: Int, K: Int, N: Int
    let x: [Float]
    static let window = 10

    init(M: Int, K: Int, N: Int, seed: UInt64) {
        self.M = M; self.K = K; self.N = N
        var rng = Xoshiro256StarStar(seed: seed)
        var x = [Float](repeating: 0, count: M * K)
        x.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
        self.x = x
    }

    func weights(bits: Int) throws -> PackedWeights {
        var r = Xoshiro256StarStar(seed: 11, stream: UInt64(bits))
        let qmax = bits == 4 ? 7 : 127
        let q = (0..<(N * K)).map { _ in Int8(Int(r.next() % UInt64(2 * qmax + 1)) - qmax) }
        let s = (0..<N).map { _ in Float(0.001 + 0.01 * r.nextUniform()) }
        return try PackedWeights(int8: q, rows: N, cols: K, bits: bits, rowScales: s)
    }

    /// round(fraction·K) distinct random columns per window; marks them in `x` (×20).
    func outliers(fraction: Double) throws -> OutlierColumns {
        let n = Int((fraction * Double(K)).rounded())
        let windows = (M + Self.window - 1) / Self.window
        var lists: [[Int]] = []
        var r = Xoshiro256StarStar(seed: 5, stream: UInt64(n))
        for _ in 0..<windows {
            var set = Set<Int>()
            while set.count < n { set.insert(Int(r.next() % UInt64(K))) }
            lists.append(set.sorted())
        }
        return try OutlierColumns(windows: lists, rowsPerWindow: Self.window, rows: M, cols: K)
    }

    /// Static per-row scale from the inlier maximum (stands in for calibrated S_I(t)).
    func inlierScales(outliers: OutlierColumns, bits: Int) -> [Float] {
        let qmax = Float(bits == 4 ? 7 : 127)
        return (0..<M).map { t in
            let out = Set(outliers.columns(ofRow: t).map { Int($0) })
            var m: Float = 0
            for k in 0..<K where !out.contains(k) { m = max(m, abs(x[t * K + k])) }
            return max(m, 1e-8) / qmax
        }
    }

    /// The full op (quantize + int GEMM + outliers + dequantize) as a closure.
    func fullOp(weights: PackedWeights, scales: [Float], outliers: OutlierColumns, setting: QuantSetting,
                threads: Int, path: KernelPath) -> () throws -> Void {
        var xo = x
        for t in 0..<M { for c in outliers.columns(ofRow: t) { xo[t * K + Int(c)] *= 20 } }
        let xb = UnsafeMutableBufferPointer<Float>.allocate(capacity: M * K)
        _ = xb.initialize(from: xo)
        let yb = UnsafeMutableBufferPointer<Float>.allocate(capacity: M * N)
        let keep = BenchBuffers(xb, yb)
        return {
            try MixedPrecisionGEMM.run(x: keep.x.baseAddress!, rows: M, ldx: K, weights: weights,
                                       inlierScales: scales, inlierBits: setting.inlierBits,
                                       outliers: outliers, outlierBits: setting.outlierBits,
                                       y: keep.y.baseAddress!, ldy: N, threads: threads, path: path)
        }
    }

    /// The int32 GEMM alone on pre-quantized, padded activations.
    func innerOp(weights: PackedWeights, scales: [Float], outliers: OutlierColumns, setting: QuantSetting,
                 threads: Int, path: KernelPath) throws -> () -> Void {
        let p = try path.resolved()
        let lda = Int(ouro_kpad(Int32(K))), rowsPad = (M + 11) / 12 * 12
        let qmax = Int32(Quantizer.qmax(bits: setting.inlierBits))
        var a = [Int8](repeating: 0, count: rowsPad * lda)
        var rowsum = [Int32](repeating: 0, count: rowsPad)
        x.withUnsafeBufferPointer { xb in
            outliers.rowPtr.withUnsafeBufferPointer { optr in
                outliers.columns.withUnsafeBufferPointer { oc in
                    ouro_quantize_rows(p.rawValue, xb.baseAddress, Int32(K), 0, Int32(M), Int32(rowsPad), Int32(K),
                                       scales, qmax, optr.baseAddress, oc.baseAddress, &a, Int32(lda), &rowsum)
                }
            }
        }
        let c = UnsafeMutablePointer<Int32>.allocate(capacity: M * N)
        let keep = BenchInts(a, rowsum, c)
        return {
            weights.kernel.withUnsafeBufferPointer { wk in
                MixedPrecisionGEMM.int32Blocks(path: p, a: keep.a, rowsum: keep.rowsum, rows: M, weights: weights,
                                               wk: wk.baseAddress!, activationBits: setting.inlierBits,
                                               c: keep.c, threads: threads)
            }
        }
    }

    /// cblas_sgemm Y = X·Wᵀ (row-major, W is N x K) with OpenBLAS's own threads.
    func sgemmOp() -> () -> Void {
        var r = Xoshiro256StarStar(seed: 3)
        let w = UnsafeMutableBufferPointer<Float>.allocate(capacity: N * K)
        r.fillNormal(w)
        let xb = UnsafeMutableBufferPointer<Float>.allocate(capacity: M * K)
        _ = xb.initialize(from: x)
        let keep = BenchBuffers(xb, UnsafeMutableBufferPointer<Float>.allocate(capacity: M * N), w)
        let (m, n, k) = (Int32(M), Int32(N), Int32(K))
        return {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, keep.x.baseAddress, k,
                        keep.w!.baseAddress, k, 0, keep.y.baseAddress, n)
        }
    }
}

/// Owns benchmark float buffers for the lifetime of the timed closures.
final class BenchBuffers {
    let x: UnsafeMutableBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
    let w: UnsafeMutableBufferPointer<Float>?
    init(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
         _ w: UnsafeMutableBufferPointer<Float>? = nil) { self.x = x; self.y = y; self.w = w }
    deinit { x.deallocate(); y.deallocate(); w?.deallocate() }
}

/// Owns the prepared int8 activations and int32 output of the inner-loop timing.
final class BenchInts {
    let a: UnsafeMutablePointer<Int8>, rowsum: UnsafeMutablePointer<Int32>, c: UnsafeMutablePointer<Int32>
    init(_ a: [Int8], _ rowsum: [Int32], _ c: UnsafeMutablePointer<Int32>) {
        self.a = .allocate(capacity: a.count); self.a.initialize(from: a, count: a.count)
        self.rowsum = .allocate(capacity: rowsum.count); self.rowsum.initialize(from: rowsum, count: rowsum.count)
        self.c = c
    }
    deinit { a.deallocate(); rowsum.deallocate(); c.deallocate() }
}
