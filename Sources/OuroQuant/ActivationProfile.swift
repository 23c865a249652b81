import Foundation
import OuroEngine
import OuroModel

/// What a set of images does to a model's quantization points under the FP model: per point,
/// the largest |x|, the 99.9th percentile of |x| and the outlier-channel rate (the calibration
/// marking of `method.md` §4.4: μ + λσ over the channels, cumulative within refresh windows).
///
/// Comparing the profile of a calibration set with that of real images shows *why* one set
/// calibrates better than another: static inlier scales follow the calibration set's ranges,
/// so ranges far from the real ones mean clipped or coarse inliers on real data.
public struct ActivationProfile: Sendable, Equatable, Codable {
    /// The statistics of one point.
    public struct Point: Sendable, Equatable, Codable {
        /// `layer<l>.<point>`.
        public var name: String
        public var layer: Int
        /// `in`, `xproj.f`, … (as `ActivationPoint.description`).
        public var point: String
        /// max |x| over samples, steps and channels.
        public var maxAbs: Double
        /// 99.9th percentile of |x| over samples, steps and channels (histogram bins of 2^(1/64), so
        /// within 1.1 % of the exact value).
        public var p999: Double
        /// Fraction of (sample, step, channel) entries in the outlier list.
        public var outlierRate: Double
    }

    /// Images measured.
    public var images: Int
    /// Per point, in `QuantLayout` order.
    public var points: [Point]

    /// Runs the FP model over `images` [N, C, H, W] (normalised inputs) in batches and profiles
    /// every point; λ and the refresh period come from `config`. The result does not depend on
    /// `threads` or the batch size.
    public static func measure(model: VisionMamba, images: Tensor, config: QuantConfig = QuantConfig(),
                               batch: Int = 16, threads: Int = 1) throws -> ActivationProfile {
        let layout = QuantLayout(model.config)
        let hooks = ProfileHooks(layout: layout, config: config)
        let n = images.shape[0]
        var i = 0
        while i < n {
            let c = min(batch, n - i)
            _ = try model.logits(images.slice(outer: i, count: c), batchSize: c, hooks: hooks, threads: threads)
            i += c
        }
        let points = layout.points.enumerated().map { (k, spec) -> Point in
            let s = hooks.stats[k]
            return Point(name: spec.name, layer: spec.layer, point: spec.point.description, maxAbs: Double(s.maxAbs),
                         p999: s.histogram.quantile(0.999), outlierRate: s.entries == 0 ? 0 : Double(s.outliers) / Double(s.entries))
        }
        return ActivationProfile(images: n, points: points)
    }

    /// Per point: this profile's value over `reference`'s (1 = the same range).
    public func ratios(to reference: ActivationProfile) throws -> [(maxAbs: Double, p999: Double)] {
        guard reference.points.count == points.count else {
            throw QuantError("activation profiles of different models: \(points.count) vs \(reference.points.count) points")
        }
        return zip(points, reference.points).map { a, r in
            (a.maxAbs / max(r.maxAbs, 1e-30), a.p999 / max(r.p999, 1e-30))
        }
    }
}

/// Counts of |x| in log-spaced bins: 64 per octave from 2^−24 to 2^24, zero and tiny values in
/// bin 0, huge values in the last. Integer counts, so merging is exact and order-free.
struct LogHistogram: Sendable {
    static let perOctave = 64, lowExponent = -24, highExponent = 24
    static let bins = (highExponent - lowExponent) * perOctave + 2
    var counts = [Int64](repeating: 0, count: bins)
    var total: Int64 = 0

    @inline(__always) static func bin(_ v: Float) -> Int {
        guard v > 0, v.isFinite else { return v.isNaN || v <= 0 ? 0 : bins - 1 }
        let e = (log2(Double(v)) - Double(lowExponent)) * Double(perOctave)
        if e < 0 { return 0 }
        return min(bins - 1, 1 + Int(e))
    }

    /// Upper edge of bin b.
    static func upperEdge(_ b: Int) -> Double {
        b == 0 ? exp2(Double(lowExponent)) : exp2(Double(lowExponent) + Double(b) / Double(perOctave))
    }

    mutating func add(_ v: Float) { counts[Self.bin(v)] += 1; total += 1 }

    /// The smallest bin edge below which at least `q` of the values lie.
    func quantile(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let need = Int64((q * Double(total)).rounded(.up))
        var acc: Int64 = 0
        for (b, c) in counts.enumerated() {
            acc += c
            if acc >= need { return Self.upperEdge(b) }
        }
        return Self.upperEdge(Self.bins - 1)
    }
}

/// Observes every point of FP forwards and accumulates `ActivationProfile` statistics.
final class ProfileHooks: ForwardHooks {
    struct Stats {
        var maxAbs: Float = 0
        var histogram = LogHistogram()
        var outliers: Int64 = 0
        var entries: Int64 = 0
    }

    let layout: QuantLayout
    let config: QuantConfig
    var stats: [Stats]

    init(layout: QuantLayout, config: QuantConfig) {
        self.layout = layout; self.config = config
        stats = Array(repeating: Stats(), count: layout.points.count)
    }

    var modifiesLinearInputs: Bool { false }

    func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView) {
        let idx = layout.index(layer: layer, point)
        let spec = layout.points[idx], C = spec.channels
        let lambda = QuantLayout.lambda(spec, config)
        var s = stats[idx]
        for b in 0..<view.batch {
            var list = OutlierList(channels: C)
            for t in 0..<view.length {
                let x = view.row(b, spec.reversed ? view.length - 1 - t : t)
                if t % config.nRefresh == 0 { list.reset() }
                OutlierRules.markCalibration(x, channels: C, lambda: lambda, list: &list)
                for c in 0..<C {
                    let a = abs(x[c])
                    s.maxAbs = max(s.maxAbs, a)
                    s.histogram.add(a)
                }
                s.outliers += Int64(list.count)
                s.entries += Int64(C)
            }
        }
        stats[idx] = s
    }
}
