import Foundation
import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
@testable import OuroQuant

/// Captures every value of one point (test reference for the profile).
final class CaptureHooks: ForwardHooks {
    let layer: Int, point: ActivationPoint
    var values: [Float] = []
    init(layer: Int, point: ActivationPoint) { self.layer = layer; self.point = point }
    var modifiesLinearInputs: Bool { false }
    func activation(_ p: ActivationPoint, layer l: Int, _ v: ActivationView) {
        guard p == point, l == layer else { return }
        for r in 0..<(v.batch * v.length) { for c in 0..<v.channels { values.append(abs(v.values[r * v.ld + c])) } }
    }
}

@Suite struct ActivationProfileTests {
    static func noise(_ n: Int, seed: UInt64) -> Tensor {
        var rng = Xoshiro256StarStar(seed: seed)
        return Tensor(shape: [n, 1, 28, 28], data: rng.normals(n * 784))
    }

    @Test func histogramQuantileIsWithinOneBin() {
        var rng = Xoshiro256StarStar(seed: 5)
        let v = rng.normals(20_000).map { abs($0) * 3 }
        var h = LogHistogram()
        for x in v { h.add(x) }
        let sorted = v.sorted()
        for q in [0.5, 0.99, 0.999] {
            let exact = Double(sorted[Int((q * Double(v.count)).rounded(.up)) - 1])
            let got = h.quantile(q)
            #expect(got >= exact && got <= exact * exp2(1.0 / 64) * 1.0001, "q \(q): \(got) vs exact \(exact)")
        }
        var z = LogHistogram()
        z.add(0); z.add(.nan)
        #expect(z.quantile(0.5) > 0 && z.quantile(0.5) < 1e-6)
    }

    /// max |x| and p99.9 equal a direct computation on the captured values; the outlier rate is
    /// the calibration's outlier fraction (same marking rule); batch size and threads do not matter.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func matchesDirectComputationAndCalibration() throws {
        let f = try QuantFixture.load()
        let images = Self.noise(12, seed: 3)
        let p = try ActivationProfile.measure(model: f.model, images: images, batch: 5, threads: 2)
        let again = try ActivationProfile.measure(model: f.model, images: images, batch: 12, threads: 1)
        #expect(p == again)
        #expect(p.images == 12 && p.points.count == 12 * f.model.config.depth)
        for point in [ActivationPoint(.input), ActivationPoint(.delta, .backward), ActivationPoint(.out)] {
            let cap = CaptureHooks(layer: 1, point: point)
            _ = try f.model.logits(images, batchSize: 12, hooks: cap, threads: 1)
            let k = QuantLayout(f.model.config).index(layer: 1, point)
            #expect(p.points[k].maxAbs == Double(cap.values.max()!))
            let sorted = cap.values.sorted()
            let exact = Double(sorted[Int((0.999 * Double(sorted.count)).rounded(.up)) - 1])
            #expect(p.points[k].p999 >= exact && p.points[k].p999 <= exact * 1.011, "\(point): \(p.points[k].p999) vs \(exact)")
        }
        let cal = try Calibrator(model: f.model, config: QuantConfig(setting: .w4a4, method: .ouromamba), threads: 2)
        let r = try cal.calibrate(images: Self.noise(16, seed: 3))
        let p16 = try ActivationProfile.measure(model: f.model, images: Self.noise(16, seed: 3), threads: 2)
        for (k, pt) in p16.points.enumerated() {
            #expect(abs(pt.outlierRate - r.summary.points[k].outlierFraction) < 1e-12, "\(pt.name)")
        }
        let ratios = try p.ratios(to: p)
        #expect(ratios.allSatisfy { $0.maxAbs == 1 && $0.p999 == 1 })
    }
}
