import OuroSupport
import OuroEngine

/// Integer levels of a quantized weight matrix as float32, for the simulated engine.
struct LevelWeights: Sendable {
    let rows: Int, cols: Int
    /// Largest |level| (7 or 127).
    let qmax: Int
    /// qW[o][k] as float, row-major `rows × cols`.
    let levels: [Float]
    /// qW[o][k] as float, transposed (`transposed[k·rows + o]`; outlier term).
    let transposed: [Float]
    /// s_w[o].
    let scales: [Float]

    init(_ m: QuantizedMatrix) {
        rows = m.rows; cols = m.cols; qmax = Quantizer.qmax(bits: m.bits)
        levels = m.values.map { Float($0) }; scales = m.scales
        var t = [Float](repeating: 0, count: m.rows * m.cols)
        for o in 0..<m.rows { for k in 0..<m.cols { t[k * m.rows + o] = levels[o * m.cols + k] } }
        transposed = t
    }
}

/// The simulated engine's quantized linear (`method.md` §4.9, in float32 arithmetic):
///
///     Y[t,o] = (S_I(t)·s_w[o])·Σ_k q_I[t,k]·q_W[o,k]  +  (s_O(t)·s_w[o])·Σ_{k∈O_t} q_O[t,k]·q_W[o,k]
///
/// Levels are held as float32 integers and summed by sgemm. Every partial sum is an integer below
/// 2^24, hence exact (longer reductions are cut into exact pieces and added as Int32), so the
/// result is the integer engine's, computed by different code: the two engines agree bit for
/// bit. With b_O = 16 the outlier term is Σ x·q_W as one fused multiply-add chain in list order,
/// scaled by s_w[o], like the kernel.
enum SimulatedLinear {
    static func run(x: UnsafePointer<Float>, rows: Int, ldx: Int, weights w: LevelWeights, inlierScales: [Float],
                    inlierBits: Int, outliers: OutlierColumns, outlierBits: Int,
                    y: UnsafeMutablePointer<Float>, ldy: Int, runner: ParallelRunner, exactPiece: Int? = nil) {
        let K = w.cols, N = w.rows, qI = Float(Quantizer.qmax(bits: inlierBits))
        precondition(inlierScales.count == rows && outliers.rows == rows && outliers.cols == K)
        if rows == 0 { return }
        // Inlier levels, zero at the outlier columns of each row.
        let a = FloatBuffer(uninitialized: rows * K)
        outliers.rowPtr.withUnsafeBufferPointer { ptr in
        outliers.columns.withUnsafeBufferPointer { cols in
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                for t in range {
                    let xt = x + t * ldx, at = a.pointer + t * K, s = inlierScales[t]
                    var k = 0
                    let vs = SIMD8<Float>(repeating: s), vq = SIMD8<Float>(repeating: qI)
                    let magic = SIMD8<Float>(repeating: 12582912)  // 1.5·2^23
                    while k + 8 <= K {
                        let v = UnsafeRawPointer(xt + k).loadUnaligned(as: SIMD8<Float>.self)
                        // Round half to even by the magic constant: exact below 2^22, and larger
                        // values saturate at ±qmax either way. (Generic SIMD rounding and
                        // pointwiseMin/Max are not lowered to single instructions.)
                        var l = (v / vs + magic) - magic
                        l = l.replacing(with: -vq, where: l .< -vq)
                        l = l.replacing(with: vq, where: l .> vq)
                        UnsafeMutableRawPointer(at + k).storeBytes(of: l, as: SIMD8<Float>.self)
                        k += 8
                    }
                    while k < K { at[k] = Quantizer.symmetricLevel(xt[k], scale: s, qmax: qI); k += 1 }
                    for j in Int(ptr[t])..<Int(ptr[t + 1]) { at[Int(cols[j])] = 0 }
                }
            }
        }}
        // Σ_k q_I q_W, exact: pieces of at most `piece` columns keep every partial sum < 2^24
        // (`exactPiece` lets tests force the split on small shapes).
        let piece = exactPiece ?? max(1, (1 << 24) / max(1, Int(qI) * w.qmax))
        w.levels.withUnsafeBufferPointer { wl in
            if K <= piece {
                BLAS.sgemm(transB: true, m: rows, n: N, k: K, a: a.ptr, lda: K, b: wl.baseAddress!, ldb: K,
                           c: y, ldc: ldy, runner: runner)
                return
            }
            let part = FloatBuffer(uninitialized: rows * N)
            var acc = [Int32](repeating: 0, count: rows * N)
            for k0 in stride(from: 0, to: K, by: piece) {
                let kc = min(piece, K - k0)
                BLAS.sgemm(transB: true, m: rows, n: N, k: kc, a: a.ptr + k0, lda: K, b: wl.baseAddress! + k0, ldb: K,
                           c: part.pointer, ldc: N, runner: runner)
                for i in 0..<(rows * N) { acc[i] &+= Int32(part.pointer[i]) }
            }
            for t in 0..<rows { for o in 0..<N { y[t * ldy + o] = Float(acc[t * N + o]) } }
        }
        let qO = Float(Quantizer.qmax(bits: min(outlierBits, 15)))
        // Integer outlier sums in float are exact up to `chunk` columns, then moved to Int32.
        let chunk = outlierBits >= 16 ? max(1, K) : (1 << 24) / max(1, Int(qO) * w.qmax)
        w.scales.withUnsafeBufferPointer { ws in
        w.transposed.withUnsafeBufferPointer { wt in
        outliers.rowPtr.withUnsafeBufferPointer { ptr in
        outliers.columns.withUnsafeBufferPointer { cols in
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                var vals = [Float](repeating: 0, count: K), f = [Float](repeating: 0, count: N)
                var iacc = [Int32](repeating: 0, count: N)
                for t in range {
                    let yt = y + t * ldy, xt = x + t * ldx, s = inlierScales[t]
                    for o in 0..<N { yt[o] = (s * ws[o]) * yt[o] }
                    let lo = Int(ptr[t]), n = Int(ptr[t + 1]) - lo
                    if n == 0 { continue }
                    // Outlier values: raw x (b_O = 16) or q_O with the row's dynamic scale.
                    var sO: Float = 1
                    if outlierBits < 16 {
                        var m: Float = 0
                        for j in 0..<n { m = max(m, abs(xt[Int(cols[lo + j])])) }
                        sO = max(m, Float(Quantizer.scaleFloor)) / qO
                    }
                    for j in 0..<n {
                        let v = xt[Int(cols[lo + j])]
                        vals[j] = outlierBits < 16 ? Quantizer.symmetricLevel(v, scale: sO, qmax: qO) : v
                    }
                    // One fused multiply-add chain per output, in list order (the kernel's order).
                    for o in 0..<N { iacc[o] = 0 }
                    var j0 = 0
                    while j0 < n {
                        let j1 = min(n, j0 + chunk)
                        for o in 0..<N { f[o] = 0 }
                        for j in j0..<j1 {
                            let v = vals[j], row = wt.baseAddress! + Int(cols[lo + j]) * N
                            for o in 0..<N { f[o] = f[o].addingProduct(v, row[o]) }
                        }
                        if outlierBits < 16, n > chunk { for o in 0..<N { iacc[o] &+= Int32(f[o]) } }
                        j0 = j1
                    }
                    if outlierBits >= 16 {
                        for o in 0..<N { yt[o] = yt[o] + ws[o] * f[o] }
                    } else {
                        for o in 0..<N { yt[o] = yt[o] + (sO * ws[o]) * (n > chunk ? Float(iacc[o]) : f[o]) }
                    }
                }
            }
        }}}}
    }
}
