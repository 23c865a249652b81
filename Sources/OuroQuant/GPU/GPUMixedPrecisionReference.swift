/// Plain-loop CPU references for the GPU mixed-precision GEMM (tests and the benchmark check).
public enum GPUMixedPrecisionReference {
    /// Unpacks 4-bit two's complement nibbles (low nibble = even column, rows padded to 16
    /// bytes, the `PackedWeights.storage` layout) to int8, row-major rows×cols.
    public static func unpackInt4(_ storage: [UInt8], rows: Int, cols: Int) -> [Int8] {
        let rowBytes = ((cols + 1) / 2 + 15) / 16 * 16
        precondition(storage.count >= rows * rowBytes, "unpackInt4: \(storage.count) bytes for \(rows) x \(cols)")
        var out = [Int8](repeating: 0, count: rows * cols)
        for o in 0..<rows {
            for k in 0..<cols {
                let byte = storage[o * rowBytes + k / 2]
                let nib = Int(k & 1 == 1 ? byte >> 4 : byte & 0x0F)
                out[o * cols + k] = Int8(nib >= 8 ? nib - 16 : nib)   // sign-extend
            }
        }
        return out
    }

    /// What the GPU quantizer computes for `rowRange` of the M×K activations `x` (row-major,
    /// `x` holds rows `rowRange` only): q_I (`count`×K), q_O (`count`×P), s_O.
    public static func quantize(x: [Float], rowRange: Range<Int>, cols K: Int, inlierScales sI: [Float], inlierBits: Int,
                                outliers: GPUOutlierGroups) -> (qI: [Int8], qO: [Int8], sO: [Float]) {
        let n = rowRange.count, P = outliers.width, qmax = Quantizer.qmax(bits: inlierBits)
        var qI = [Int8](repeating: 0, count: n * K), qO = [Int8](repeating: 0, count: n * P)
        var sO = [Float](repeating: 0, count: n)
        for (i, t) in rowRange.enumerated() {
            for k in 0..<K { qI[i * K + k] = Int8(IntGEMMReference.quantize(x[i * K + k], scale: sI[t], qmax: qmax)) }
            let g = t / GPUOutlierGroups.groupRows
            var m: Float = 0
            for j in 0..<P { let c = Int(outliers.indices[g * P + j]); if c >= 0 { m = max(m, abs(x[i * K + c])) } }
            let so = max(m, 1e-8) / 127
            sO[i] = so
            for j in 0..<P {
                let c = Int(outliers.indices[g * P + j])
                guard c >= 0 else { continue }
                qO[i * P + j] = Int8(IntGEMMReference.quantize(x[i * K + c], scale: so, qmax: 127))
                qI[i * K + c] = 0
            }
        }
        return (qI, qO, sO)
    }

    /// out[i, j] for rows `rowRange` and outputs `outRange` (Double, from exact Int32 sums):
    /// s_w[o]·(S_I[t]·Σ_k qI·qW + s_O[t]·Σ_j qO·qW[o, cols_g[j]]). `qI`, `qO`, `sO` hold the
    /// rows of `rowRange` only; `qW` is the full N×K, `sI` and `sw` are full length.
    public static func gemm(qI: [Int8], qO: [Int8], sO: [Float], rowRange: Range<Int>, cols K: Int, sI: [Float],
                            qW: [Int8], sw: [Float], outRange: Range<Int>, outliers: GPUOutlierGroups) -> [Double] {
        let P = outliers.width
        var out = [Double](repeating: 0, count: rowRange.count * outRange.count)
        for (i, t) in rowRange.enumerated() {
            let g = t / GPUOutlierGroups.groupRows
            for (j, o) in outRange.enumerated() {
                var sum: Int32 = 0
                for k in 0..<K { sum &+= Int32(qI[i * K + k]) * Int32(qW[o * K + k]) }
                var so: Int32 = 0
                for p in 0..<P {
                    let c = Int(outliers.indices[g * P + p])
                    if c >= 0 { so &+= Int32(qO[i * P + p]) * Int32(qW[o * K + c]) }
                }
                out[i * outRange.count + j] = Double(sw[o]) * (Double(sI[t]) * Double(sum) + Double(sO[i]) * Double(so))
            }
        }
        return out
    }

    /// max |gpu − ref| / max(|ref|, 1e-3·max|ref|): relative error with a floor so that
    /// near-zero outputs (cancellation) are judged against the slice's scale.
    public static func maxRelativeError(_ gpu: [Float], _ ref: [Double]) -> Double {
        precondition(gpu.count == ref.count)
        let floor = 1e-3 * (ref.map { abs($0) }.max() ?? 0)
        var e = 0.0
        for (g, r) in zip(gpu, ref) {
            let d = abs(Double(g) - r) / max(abs(r), floor, 1e-30)
            e = max(e, d.isNaN ? .infinity : d)
        }
        return e
    }

    /// FP16 bit patterns to Float.
    public static func halfToFloat(_ h: [UInt16]) -> [Float] { h.map { Float(Float16(bitPattern: $0)) } }
}
