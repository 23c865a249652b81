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
}

/// Calibration outlier marking (`method.md` §4.4). Rows are C contiguous floats. The run-time
/// detection of §4.5 is `PointQuantizer.run`.
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
}
