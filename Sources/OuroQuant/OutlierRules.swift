/// The outlier-channel list of one sample at one point within one refresh window.
public struct OutlierList: Sendable {
    /// mask[c] = channel c is listed.
    public private(set) var mask: [Bool]
    /// Number of listed channels.
    public private(set) var count: Int = 0

    public init(channels: Int) { mask = [Bool](repeating: false, count: channels) }

    /// Empties the list (first step of a window).
    public mutating func reset() {
        if count > 0 { for c in mask.indices { mask[c] = false }; count = 0 }
    }

    /// Lists channel c (no-op when listed already).
    public mutating func add(_ c: Int) { if !mask[c] { mask[c] = true; count += 1 } }

    /// A list holding exactly `channels` (a fixed list).
    public init(channels n: Int, listed: [Int32]) {
        self.init(channels: n)
        for c in listed { add(Int(c)) }
    }

    /// Listed channels in ascending order.
    public var channels: [Int] { mask.indices.filter { mask[$0] } }
}

/// Outlier marking shared by calibration, the simulated engine and the integer engine
/// (`method.md` §4.4 and §4.5). Rows are C contiguous floats.
public enum OutlierRules {
    /// Calibration marking at one step: with a = |x|, μ and unbiased σ over all C channels, every
    /// channel with a > μ + λσ joins `list` (cumulative within the window). Fewer than 2
    /// channels flag nothing.
    public static func markCalibration(_ x: UnsafePointer<Float>, channels C: Int, lambda: Double, list: inout OutlierList) {
        guard C >= 2 else { return }
        var sum = 0.0
        for c in 0..<C { sum += Double(abs(x[c])) }
        let mu = sum / Double(C)
        var ss = 0.0
        for c in 0..<C { let d = Double(abs(x[c])) - mu; ss += d * d }
        let thr = mu + lambda * (ss / Double(C - 1)).squareRoot()
        for c in 0..<C where Double(abs(x[c])) > thr { list.add(c) }
    }

    /// The dynamic scale of the current inliers: max_I |x| / qmax (symmetric) or
    /// (max(0, max_I x) − min(0, min_I x)) / (2^b − 1) (asymmetric), in Double.
    public static func inlierScale(_ x: UnsafePointer<Float>, channels C: Int, list: OutlierList, asymmetric: Bool,
                                   bits: Int) -> Double {
        if asymmetric {
            var lo: Float = 0, hi: Float = 0
            for c in 0..<C where !list.mask[c] { lo = min(lo, x[c]); hi = max(hi, x[c]) }
            return (Double(hi) - Double(lo)) / Double(Quantizer.levels(bits: bits))
        }
        var m: Float = 0
        for c in 0..<C where !list.mask[c] { m = max(m, abs(x[c])) }
        return Double(m) / Double(Quantizer.qmax(bits: bits))
    }

    /// Run-time detection at one step (§4.5): when the current inliers overflow the static
    /// scale (s_dyn > S^I(t)), channels with |x| > μ + λσ (μ, σ over the current inliers, or over
    /// all channels with listed ones as zeros) join the list. Returns whether it triggered.
    @discardableResult
    public static func detect(_ x: UnsafePointer<Float>, channels C: Int, staticScale: Float, asymmetric: Bool,
                              inlierBits: Int, lambda: Double, stats: OutlierStats, list: inout OutlierList) -> Bool {
        let sDyn = inlierScale(x, channels: C, list: list, asymmetric: asymmetric, bits: inlierBits)
        guard sDyn > Double(staticScale) else { return false }
        var n = 0, sum = 0.0
        for c in 0..<C where stats == .allWithZeros || !list.mask[c] {
            n += 1
            if !list.mask[c] { sum += Double(abs(x[c])) }
        }
        guard n >= 2 else { return true }
        let mu = sum / Double(n)
        var ss = 0.0
        for c in 0..<C where stats == .allWithZeros || !list.mask[c] {
            let d = (list.mask[c] ? 0 : Double(abs(x[c]))) - mu
            ss += d * d
        }
        let thr = mu + lambda * (ss / Double(n - 1)).squareRoot()
        var flagged: [Int] = []
        for c in 0..<C where !list.mask[c] && Double(abs(x[c])) > thr { flagged.append(c) }
        for c in flagged { list.add(c) }
        return true
    }
}
