import OuroSupport
import COuroKernels
import OuroEngine

/// Integer mixed-precision GEMM of method.md 4.9:
///
///     Y[t,o] = S_I(t)·s_w[o]·Σ_k qI[t,k]·qW[o,k] + s_O(t)·s_w[o]·Σ_{k∈O_t} qO[t,k]·qW[o,k]
///
/// (outlier term in float against s_w[o]·qW[o,k] when `outlierBits == 16`).
public enum MixedPrecisionGEMM {
    /// Rows per work item (a multiple of `OURO_ROW_ALIGN`); fixed, so the partition does not
    /// depend on the thread count.
    public static let rowBlock = 48

    /// Computes `y[t*ldy + o]` for `t < rows`, `o < weights.rows` from float activations
    /// `x[t*ldx + k]`, `k < weights.cols`. Quantizes the inliers of each row with its static scale
    /// (`inlierBits` 4 or 8; zeros at outlier columns), accumulates in int32, dequantizes and adds
    /// the outlier term (`outlierBits` 8: dynamic symmetric per-row scale; 16: float).
    public static func run(x: UnsafePointer<Float>, rows: Int, ldx: Int, weights: PackedWeights,
                           inlierScales: [Float], inlierBits: Int, outliers: OutlierColumns,
                           outlierBits: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                           threads: Int = 2, path: KernelPath = .auto) throws {
        let K = weights.cols, N = weights.rows
        try validate(rows: rows, inlierBits: inlierBits)
        guard QuantFormat.supports(.outlier, bits: outlierBits, engine: .int) else {
            throw IntGEMMError.unsupportedBits(what: "outliers", bits: outlierBits)
        }
        guard ldx >= K, ldy >= N else { throw IntGEMMError.shapeMismatch("ldx \(ldx) < \(K) or ldy \(ldy) < \(N)") }
        guard inlierScales.count == rows else {
            throw IntGEMMError.shapeMismatch("inlierScales: \(inlierScales.count) for \(rows) rows")
        }
        if let i = inlierScales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw IntGEMMError.badScale(what: "inlierScales", index: i)
        }
        guard outliers.rows == rows, outliers.cols == K else {
            throw IntGEMMError.shapeMismatch("outliers: \(outliers.rows) x \(outliers.cols) for \(rows) x \(K)")
        }
        if let w = outliers.windows, rows > 0, !w.fits(rows: rows) {
            throw IntGEMMError.shapeMismatch("outlier windows: \(w.refresh)-step windows of \(w.length)-step samples for \(rows) rows")
        }
        let p = try path.resolved()
        if rows == 0 { return }
        let lda = Int(ouro_kpad(Int32(K)))
        let rowsPad = (rows + 11) / 12 * 12
        let abuf = UnsafeMutablePointer<Int8>.allocate(capacity: rowsPad * lda)
        let rowsum = UnsafeMutablePointer<Int32>.allocate(capacity: rowsPad)
        let ovals = UnsafeMutablePointer<Float>.allocate(capacity: max(1, outliers.columns.count))
        let oscale = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { abuf.deallocate(); rowsum.deallocate(); ovals.deallocate(); oscale.deallocate() }
        let hasOutliers = !outliers.columns.isEmpty
        inlierScales.withUnsafeBufferPointer { sI in
        outliers.rowPtr.withUnsafeBufferPointer { optr in
        outliers.columns.withUnsafeBufferPointer { ocols in
        weights.kernel.withUnsafeBufferPointer { wk in
        weights.rowScales.withUnsafeBufferPointer { ws in
        weights.transposed.withUnsafeBufferPointer { wT in
            var args = ouro_mpgemm_args(
                M: Int32(rows), N: Int32(N), K: Int32(K), wbits: Int32(weights.bits),
                abits: Int32(inlierBits), obits: Int32(outlierBits), path: p.rawValue,
                x: x, ldx: Int32(ldx), inlier_scale: sI.baseAddress,
                optr: hasOutliers ? optr.baseAddress : nil, ocols: ocols.baseAddress,
                wpack: wk.baseAddress, wscale: ws.baseAddress, wT: wT.baseAddress,
                abuf: abuf, rowsum: rowsum, ovals: ovals, oscale: oscale, y: y, ldy: Int32(ldy),
                win_len: Int32(outliers.windows?.length ?? 0), win_refresh: Int32(outliers.windows?.refresh ?? 0),
                win_reversed: outliers.windows?.reversed == true ? 1 : 0)
            let blocks = (rows + rowBlock - 1) / rowBlock
            withUnsafePointer(to: &args) { ap in
                ParallelRunner(threads: threads).forEachDynamic(blocks) { b in
                    ouro_mpgemm_rows(ap, Int32(b * rowBlock), Int32(min(rows, (b + 1) * rowBlock)))
                }
            }
        }}}}}}
    }

    /// Exact int32 `C[t*N + o] = Σ_k a[t*K + k]·qW[o,k]` for already-quantized activations
    /// `a` (`rows x K`, values within ±(2^(activationBits-1) - 1)). The inner loop of `run`,
    /// exposed so tests can check exactness on each path.
    public static func accumulateInt32(a: [Int8], rows: Int, weights: PackedWeights, activationBits: Int,
                                       threads: Int = 1, path: KernelPath = .auto) throws -> [Int32] {
        let K = weights.cols, N = weights.rows
        try validate(rows: rows, inlierBits: activationBits)
        guard a.count == rows * K else { throw IntGEMMError.shapeMismatch("a: \(a.count) for \(rows) x \(K)") }
        let qmax = activationBits == 4 ? 7 : 127
        if let i = a.firstIndex(where: { abs(Int($0)) > qmax }) {
            throw IntGEMMError.valueOutOfRange(what: "activations", index: i, value: Int(a[i]))
        }
        let p = try path.resolved()
        let lda = Int(ouro_kpad(Int32(K)))
        let rowsPad = (rows + 11) / 12 * 12
        var abuf = [Int8](repeating: 0, count: rowsPad * lda)
        var rowsum = [Int32](repeating: 0, count: rowsPad)
        for t in 0..<rows {
            for k in 0..<K { abuf[t * lda + k] = a[t * K + k] }
            rowsum[t] = a[(t * K)..<(t * K + K)].reduce(0) { $0 + Int32($1) }
        }
        var c = [Int32](repeating: 0, count: rows * N)
        c.withUnsafeMutableBufferPointer { cb in
            let cp = cb.baseAddress!
            weights.kernel.withUnsafeBufferPointer { wk in
                int32Blocks(path: p, a: abuf, rowsum: rowsum, rows: rows, weights: weights, wk: wk.baseAddress!,
                            activationBits: activationBits, c: cp, threads: threads)
            }
        }
        return c
    }

    /// Row-block parallel int32 GEMM on a prepared (padded) activation buffer.
    static func int32Blocks(path: KernelPath, a: UnsafePointer<Int8>, rowsum: UnsafePointer<Int32>, rows: Int,
                            weights: PackedWeights, wk: UnsafePointer<UInt8>, activationBits: Int,
                            c: UnsafeMutablePointer<Int32>, threads: Int) {
        let blocks = (rows + rowBlock - 1) / rowBlock
        ParallelRunner(threads: threads).forEachDynamic(blocks) { b in
            ouro_igemm_s32(path.rawValue, a, rowsum, Int32(b * rowBlock), Int32(min(rows, (b + 1) * rowBlock)),
                           wk, Int32(weights.rows), Int32(weights.cols), Int32(weights.bits),
                           Int32(activationBits), c, Int32(weights.rows))
        }
    }

    private static func validate(rows: Int, inlierBits: Int) throws {
        guard QuantFormat.supports(.inlier, bits: inlierBits, engine: .int) else {
            throw IntGEMMError.unsupportedBits(what: "inliers", bits: inlierBits)
        }
        guard rows >= 0 else { throw IntGEMMError.shapeMismatch("rows \(rows) < 0") }
    }
}
