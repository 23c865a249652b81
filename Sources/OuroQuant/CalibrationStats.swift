/// Pass-1 statistics of one point (`method.md` §4.4, §4.7): max-merged inlier maxima, min/max
/// ranges for Δ, integer outlier counts and, for `static-outlier-list`, per-(t, channel)
/// extremes and block-ordered per-channel Σ|x|.
public struct Pass1Point: Equatable, Sendable {
    /// m(t) = max |x| over samples and inlier channels (L values).
    public var maxAbs: [Float]
    /// lo(t) = min(0, min x), hi(t) = max(0, max x) over inliers (asymmetric points only).
    public var lo: [Float]
    public var hi: [Float]
    /// Outlier entries marked and entries seen (sample, step, channel).
    public var outlierEntries: Int64
    public var entries: Int64
    /// `static-outlier-list`: max and min of x per (t, c) (L·C each) and Σ|x| per channel.
    public var channelMax: [Float]
    public var channelMin: [Float]
    public var channelAbsSum: BlockOrderedSum?

    /// Max/min merge of maxima/minima, integer sums of counts, block-ordered sums.
    public mutating func merge(_ o: Pass1Point, key: String) throws {
        guard o.maxAbs.count == maxAbs.count, o.lo.count == lo.count, o.channelMax.count == channelMax.count,
              (o.channelAbsSum == nil) == (channelAbsSum == nil) else {
            throw QuantError("pass-1 merge: \(key): shapes differ")
        }
        for t in maxAbs.indices { maxAbs[t] = max(maxAbs[t], o.maxAbs[t]) }
        for t in lo.indices { lo[t] = min(lo[t], o.lo[t]); hi[t] = max(hi[t], o.hi[t]) }
        for j in channelMax.indices { channelMax[j] = max(channelMax[j], o.channelMax[j]); channelMin[j] = min(channelMin[j], o.channelMin[j]) }
        outlierEntries += o.outlierEntries; entries += o.entries
        if let s = o.channelAbsSum { try channelAbsSum!.merge(s) }
    }
}

/// Pass-1 statistics of every point for a set of calibration blocks; merges exactly.
public struct CalibrationPass1: Equatable, Sendable {
    public let method: QuantMethod
    /// Calibration blocks included (sorted).
    public private(set) var blocks: [Int]
    /// Samples included.
    public private(set) var samples: Int
    /// By `QuantLayout` index.
    public var points: [Pass1Point]

    public init(method: QuantMethod, blocks: [Int], samples: Int, points: [Pass1Point]) {
        self.method = method; self.blocks = blocks.sorted(); self.samples = samples; self.points = points
    }

    /// Merges another shard's statistics; a duplicate block, another method or a shape
    /// mismatch is an error.
    public mutating func merge(_ o: CalibrationPass1) throws {
        guard o.method == method else { throw QuantError("pass-1 merge: method \(o.method.rawValue) into \(method.rawValue)") }
        guard o.points.count == points.count else { throw QuantError("pass-1 merge: \(o.points.count) points into \(points.count)") }
        if let dup = Set(blocks).intersection(o.blocks).min() { throw QuantError("pass-1 merge: block \(dup) merged twice") }
        for i in points.indices { try points[i].merge(o.points[i], key: "point \(i)") }
        blocks = (blocks + o.blocks).sorted(); samples += o.samples
    }

    /// Checks that exactly blocks 0..<blockCount are present.
    public func checkComplete(blockCount: Int, what: String) throws {
        guard blocks == Array(0..<blockCount) else {
            throw QuantError("\(what): blocks \(blocks) present, expected 0..<\(blockCount)")
        }
    }
}

/// What pass 2 needs from the merged pass 1 (shipped to pass-2 tasks): per point m(t),
/// lo(t)/hi(t) and the fixed outlier list of `static-outlier-list`.
public struct PointBounds: Equatable, Sendable {
    public var maxAbs: [Float]
    public var lo: [Float]
    public var hi: [Float]
    public var fixed: [Int32]
    /// Fraction of calibration entries marked as outliers.
    public var outlierFraction: Double
}

extension PointBounds {
    /// The `count` candidate quantizers of every step searched by pass 2 (index t·count + i):
    /// scales and, for asymmetric points, zero points (`ClipCandidates`; empty when symmetric).
    func candidateQuantizers(asymmetric: Bool, count n: Int, bits: Int) -> (scales: [Float], zeros: [Int32]) {
        let L = maxAbs.count
        var scales = [Float](repeating: 0, count: L * n), zeros = [Int32](repeating: 0, count: asymmetric ? L * n : 0)
        for t in 0..<L {
            for i in 0..<n {
                if asymmetric {
                    (scales[t * n + i], zeros[t * n + i]) = ClipCandidates.asymmetric(lo: lo[t], hi: hi[t], i: i, count: n, bits: bits)
                } else {
                    scales[t * n + i] = ClipCandidates.symmetric(maxAbs: maxAbs[t], i: i, count: n, qmax: Quantizer.qmax(bits: bits))
                }
            }
        }
        return (scales, zeros)
    }
}

/// Merged pass-1 result of every point.
public struct Pass1Summary: Equatable, Sendable {
    public let method: QuantMethod
    public var points: [PointBounds]
}

/// Pass-2 statistics: per point, per step and candidate, block-ordered Lp error sums.
public struct CalibrationPass2: Equatable, Sendable {
    public let method: QuantMethod
    public let inlierBits: Int
    public let candidates: Int
    /// By `QuantLayout` index; width L·candidates (index t·candidates + i).
    public var points: [BlockOrderedSum]

    public init(method: QuantMethod, inlierBits: Int, candidates: Int, points: [BlockOrderedSum]) {
        self.method = method; self.inlierBits = inlierBits; self.candidates = candidates; self.points = points
    }

    /// Sums another shard's partials (in block order).
    public mutating func merge(_ o: CalibrationPass2) throws {
        guard o.method == method, o.inlierBits == inlierBits, o.candidates == candidates, o.points.count == points.count else {
            throw QuantError("pass-2 merge: (\(o.method.rawValue), a\(o.inlierBits), \(o.candidates) candidates, \(o.points.count) points) into (\(method.rawValue), a\(inlierBits), \(candidates), \(points.count))")
        }
        for i in points.indices { try points[i].merge(o.points[i]) }
    }

    /// Blocks present (those of the first point; merges keep points in step).
    public var blocks: [Int] { points.first?.blocks ?? [] }
}

/// The calibrated static quantizer of one point.
public struct CalibratedPoint: Equatable, Sendable {
    /// S^I(t) (L values), or one value for `static-minmax`.
    public var scales: [Float]
    /// z(t) for Δ (same count as `scales`), else empty.
    public var zeros: [Int32]
    /// i*(t) of the search (empty for `static-minmax` and loaded artifacts without it).
    public var istar: [Int32]
    /// Fixed outlier channels (`static-outlier-list`).
    public var fixed: [Int32]
    /// Calibration outlier fraction.
    public var outlierFraction: Double

    public init(scales: [Float], zeros: [Int32], istar: [Int32], fixed: [Int32], outlierFraction: Double) {
        self.scales = scales; self.zeros = zeros; self.istar = istar; self.fixed = fixed; self.outlierFraction = outlierFraction
    }
}
