import COuroKernels
import Foundation
import OuroEngine
import OuroQuant
import Testing

/// Detection skips its second pass (the squared deviations) where the one-pass sums Σ|x| and Σx²
/// bracket the float threshold μ + λσ. Whenever the bracket decides, it must give exactly the
/// threshold of the two-pass sum, on every path; where cancellation makes the one-pass sums
/// inaccurate (σ tiny against μ), it must leave the threshold undecided.
@Suite("Detection threshold from one-pass sums") struct DetectionThresholdTests {
    struct Probe {
        var threshold: Double
        var exact: Float
        var bracketed: Float?
    }

    static func probe(_ x: [Float], keep: [UInt32], allWithZeros: Bool, lambda: Double, path: KernelPath) -> Probe {
        var threshold = 0.0, exact: Float = 0, bracketed: Float = 0
        let decided = ouro_detect_threshold_probe(Int32(path.rawValue), x, keep, Int32(x.count), allWithZeros ? 1 : 0, lambda,
                                                  &threshold, &exact, &bracketed)
        return Probe(threshold: threshold, exact: exact, bracketed: decided == 1 ? bracketed : nil)
    }

    /// Rows of C channels: heavy-tailed (every 11th value 20× larger), or near-constant (a base
    /// value plus 0–3 units in its last place, so σ/μ is about 1e-7).
    static func rows(nearConstant: Bool, count: Int, seed: UInt64) -> [[Float]] {
        var rng = Xoshiro256StarStar(seed: seed)
        let sizes = [32, 33, 67, 128, 384, 1536]
        return (0..<count).map { r in
            let C = sizes[r % sizes.count]
            if nearConstant {
                let base = Float(1 + 9999 * rng.nextUniform())
                return (0..<C).map { _ in
                    var v = base
                    for _ in 0..<Int(rng.nextUniform() * 4) { v = v.nextUp }
                    return rng.nextUniform() < 0.5 ? -v : v
                }
            }
            let scale = Float(pow(10.0, Double(Int(rng.nextUniform() * 9)) - 4))
            return (0..<C).map { c in
                let v = Float(rng.nextUniform() * 2 - 1) * scale
                return c % 11 == 3 ? v * 20 : v
            }
        }
    }

    @Test("the bracket gives the two-pass threshold whenever it decides, on every path",
          arguments: [false, true])
    func bracketMatchesTwoPass(nearConstant: Bool) {
        var rng = Xoshiro256StarStar(seed: 11)
        var decided = 0, undecided = 0
        for (i, x) in Self.rows(nearConstant: nearConstant, count: 600, seed: nearConstant ? 3 : 4).enumerated() {
            // Some channels already listed (0 in keep), as inside a window.
            let keep = x.indices.map { _ in rng.nextUniform() < 0.1 ? UInt32(0) : UInt32.max }
            let all = i % 2 == 1, lambda = i % 3 == 0 ? 4.0 : 3.0
            let probes = KernelPath.available.map { Self.probe(x, keep: keep, allWithZeros: all, lambda: lambda, path: $0) }
            for p in probes {
                #expect(p.exact.bitPattern == probes[0].exact.bitPattern, "row \(i): the two-pass threshold differs between paths")
                // The largest float not above the threshold: a float is above one exactly when
                // it is above the other.
                #expect(Double(p.exact) <= p.threshold && Double(p.exact.nextUp) > p.threshold,
                        "row \(i): \(p.exact) is not the float floor of \(p.threshold)")
                if let b = p.bracketed {
                    decided += 1
                    #expect(b.bitPattern == p.exact.bitPattern, "row \(i) (C = \(x.count)): bracket \(b), two-pass \(p.exact)")
                } else {
                    undecided += 1
                }
            }
        }
        if nearConstant {
            #expect(undecided > 0, "near-constant rows must reach the two-pass fallback")
        } else {
            #expect(undecided * 100 <= decided, "the bracket should decide almost every ordinary row: \(undecided) undecided, \(decided) decided")
        }
    }
}
