import Foundation
import OuroModel

/// A matrix quantized symmetrically per row (`method.md` §4.2): integers q, row scales s_r and
/// the chosen clipping index i* ∈ 1…100 of each row.
public struct QuantizedMatrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    /// 4 (±7) or 8 (±127).
    public let bits: Int
    /// Row-major integers, `rows × cols`.
    public let values: [Int8]
    /// s_r.
    public let scales: [Float]
    /// i* of each row (1-based, as in the goldens); 0 when unknown (loaded from an artifact).
    public let istar: [Int32]

    public init(rows: Int, cols: Int, bits: Int, values: [Int8], scales: [Float], istar: [Int32]) {
        self.rows = rows; self.cols = cols; self.bits = bits; self.values = values; self.scales = scales; self.istar = istar
    }

    /// Per-row clipping search: m_r = max|W_r|; for i = 1…n, s_i = f32(max(m_r·i/n/qmax, 1e-8)),
    /// E_i = Σ_j |W_rj − Q(W_rj; s_i)|^2.4 (Double, W/s in Double); smallest E_i wins, ties to
    /// the smallest i. `w` is row-major `rows × cols`.
    public static func quantize(_ w: [Float], rows: Int, cols: Int, bits: Int, candidates n: Int = 100) -> QuantizedMatrix {
        precondition(w.count == rows * cols, "QuantizedMatrix: \(w.count) values for \(rows)×\(cols)")
        let qmax = Quantizer.qmax(bits: bits)
        var values = [Int8](repeating: 0, count: rows * cols)
        var scales = [Float](repeating: 0, count: rows), istar = [Int32](repeating: 0, count: rows)
        let c4 = (cols + 3) / 4
        let buf = UnsafeMutablePointer<SIMD4<Double>>.allocate(capacity: c4)
        defer { buf.deallocate() }
        for r in 0..<rows {
            let row = w[(r * cols)..<((r + 1) * cols)]
            buf.initialize(repeating: .zero, count: c4)
            let flat = UnsafeMutableRawPointer(buf).assumingMemoryBound(to: Double.self)
            var m: Float = 0
            for (j, v) in row.enumerated() { flat[j] = Double(v); m = max(m, abs(v)) }
            var best = Double.infinity, bestI = 1
            for i in 1...n {
                let s = ClipCandidates.weight(maxAbs: m, i: i, count: n, qmax: qmax)
                let e = LpError.symmetricSum(buf, count4: c4, scale: Double(s), qmax: Double(qmax))
                if e < best { best = e; bestI = i }
            }
            let s = ClipCandidates.weight(maxAbs: m, i: bestI, count: n, qmax: qmax)
            scales[r] = s; istar[r] = Int32(bestI)
            for (j, v) in row.enumerated() {
                let q = min(max((Double(v) / Double(s)).rounded(.toNearestOrEven), -Double(qmax)), Double(qmax))
                values[r * cols + j] = Int8(q)
            }
        }
        return QuantizedMatrix(rows: rows, cols: cols, bits: bits, values: values, scales: scales, istar: istar)
    }

    /// Ŵ = s_r·q in float32, row-major.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows { for j in 0..<cols { out[r * cols + j] = scales[r] * Float(values[r * cols + j]) } }
        return out
    }

    /// The integer GEMM's packed form.
    public func packed() throws -> PackedWeights {
        try PackedWeights(int8: values, rows: rows, cols: cols, bits: bits, rowScales: scales)
    }
}

/// One layer's quantized weights: the six linears at b_w bits, Â and D̂ of both directions at
/// `ad_bits` per channel. A pure function of that layer's weights (the cluster shards by layer).
public struct QuantizedLayer: Equatable, Sendable {
    public var inProj: QuantizedMatrix
    public var outProj: QuantizedMatrix
    /// Index by `ScanDirection.rawValue`.
    public var xProj: [QuantizedMatrix]
    public var dtProj: [QuantizedMatrix]
    /// Â per row e (E × N).
    public var a: [QuantizedMatrix]
    /// D̂ per channel (E × 1).
    public var d: [QuantizedMatrix]

    public init(inProj: QuantizedMatrix, outProj: QuantizedMatrix, xProj: [QuantizedMatrix], dtProj: [QuantizedMatrix],
                a: [QuantizedMatrix], d: [QuantizedMatrix]) {
        self.inProj = inProj; self.outProj = outProj; self.xProj = xProj; self.dtProj = dtProj; self.a = a; self.d = d
    }

    /// A = −exp(A_log), rounded to float32 (as the FP model computes it).
    public static func aMatrix(_ aLog: [Float]) -> [Float] { aLog.map { -Float(Foundation.exp(Double($0))) } }

    /// Quantizes one layer.
    public static func quantize(_ w: LayerWeights, config c: VisionMambaConfig, weightBits: Int, adBits: Int = 8,
                                candidates: Int = 100) -> QuantizedLayer {
        QuantizedLayer(tensors: LayerTensor.all.map { t in
            let (rows, cols) = t.shape(c)
            return QuantizedMatrix.quantize(t.values(w), rows: rows, cols: cols, bits: t.bits == .weight ? weightBits : adBits,
                                            candidates: candidates)
        })
    }

    /// The matrix of a linear kind.
    public func matrix(_ kind: LinearKind) -> QuantizedMatrix {
        switch kind {
        case .inProj: return inProj
        case .outProj: return outProj
        case .xProj(let d): return xProj[d.rawValue]
        case .dtProj(let d): return dtProj[d.rawValue]
        }
    }
}
