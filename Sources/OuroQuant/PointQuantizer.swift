/// The run-time quantizer of one point (`method.md` §4.5, §4.7): static inlier scales per step
/// (or one per point), the outlier rule of the method, and the outlier precision.
public struct PointQuantizer: Sendable {
    public enum Outliers: Sendable {
        /// No outliers: everything saturates at the static scale.
        case none
        /// Per-sample dynamic lists refreshed every `nRefresh` steps.
        case dynamic(lambda: Double, nRefresh: Int, stats: OutlierStats)
        /// A fixed channel list chosen at calibration.
        case fixed([Int32])
    }

    public let channels: Int
    public let asymmetric: Bool
    /// S^I(t), one per step, or a single scale for every step.
    public let scales: [Float]
    /// z(t) for Δ (same count as `scales`), else empty.
    public let zeros: [Int32]
    public let inlierBits: Int
    /// 16 = outliers stay float.
    public let outlierBits: Int
    public let outliers: Outliers

    public init(channels: Int, asymmetric: Bool, scales: [Float], zeros: [Int32], inlierBits: Int, outlierBits: Int,
                outliers: Outliers) {
        self.channels = channels; self.asymmetric = asymmetric; self.scales = scales; self.zeros = zeros
        self.inlierBits = inlierBits; self.outlierBits = outlierBits; self.outliers = outliers
    }

    @inline(__always) func scale(_ t: Int) -> Float { scales.count == 1 ? scales[0] : scales[t] }
    @inline(__always) func zero(_ t: Int) -> Int32 { zeros.count == 1 ? zeros[0] : zeros[t] }

    /// Runs one sample's sequence: `row(t)` is the row of step t (C contiguous floats). For every
    /// step the list is updated (detection), then, when `apply` is set, the row is fake-quantized
    /// in place; `observe(t, list)` sees the list in force at step t.
    public func run(length L: Int, apply: Bool, row: (Int) -> UnsafeMutablePointer<Float>,
                    observe: (Int, OutlierList) -> Void) {
        var list: OutlierList
        switch outliers {
        case .fixed(let f): list = OutlierList(channels: channels, listed: f)
        default: list = OutlierList(channels: channels)
        }
        for t in 0..<L {
            let x = row(t)
            if case .dynamic(let lambda, let n, let stats) = outliers {
                if t % n == 0 { list.reset() }
                OutlierRules.detect(x, channels: channels, staticScale: scale(t), asymmetric: asymmetric,
                                    inlierBits: inlierBits, lambda: lambda, stats: stats, list: &list)
            }
            if apply { quantizeRow(x, t: t, list: list) }
            observe(t, list)
        }
    }

    /// Fake-quantizes one row: inliers at b_I with S^I(t) (and z(t)), outliers at b_O with a
    /// dynamic scale (float arithmetic as the integer kernel), or unchanged at b_O = 16.
    public func quantizeRow(_ x: UnsafeMutablePointer<Float>, t: Int, list: OutlierList) {
        let s = scale(t), C = channels
        if asymmetric {
            let z = Float(zero(t)), lv = Float(Quantizer.levels(bits: inlierBits))
            var lo: Float = 0, hi: Float = 0
            for c in 0..<C {
                if list.mask[c] { lo = min(lo, x[c]); hi = max(hi, x[c]); continue }
                x[c] = Quantizer.asymmetric(x[c], scale: s, zero: z, levels: lv)
            }
            guard list.count > 0, outlierBits < 16 else { return }
            // Outliers: dynamic asymmetric range [min(0, min_O x), max(0, max_O x)] (convention 8).
            let lvO = Quantizer.levels(bits: outlierBits)
            let sO = Float(max(Double(hi) - Double(lo), Quantizer.scaleFloor) / Double(lvO))
            let zO = Float(Quantizer.zeroPoint(lo: Double(lo), scale: sO, bits: outlierBits))
            for c in 0..<C where list.mask[c] { x[c] = Quantizer.asymmetric(x[c], scale: sO, zero: zO, levels: Float(lvO)) }
            return
        }
        let q = Float(Quantizer.qmax(bits: inlierBits))
        var m: Float = 0
        for c in 0..<C {
            if list.mask[c] { m = max(m, abs(x[c])); continue }
            x[c] = Quantizer.symmetric(x[c], scale: s, qmax: q)
        }
        guard list.count > 0, outlierBits < 16 else { return }
        let qO = Float(Quantizer.qmax(bits: outlierBits))
        let sO = max(m, Float(Quantizer.scaleFloor)) / qO
        for c in 0..<C where list.mask[c] { x[c] = Quantizer.symmetric(x[c], scale: sO, qmax: qO) }
    }
}
