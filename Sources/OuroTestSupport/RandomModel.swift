import Foundation
import OuroEngine
import OuroModel

/// Random but well-conditioned models for tests (no tensor all 0 or all 1).
public enum RandomModel {
    public static func make(_ c: VisionMambaConfig, seed: UInt64) -> VisionMamba {
        var rng = Xoshiro256StarStar(seed: seed)
        var w = VisionMambaWeights(zerosFor: c)
        let N = c.dState
        w.forEachParameter { name, v in
            let noise = rng.normals(v.count)
            if name.hasSuffix("A_log") || name.hasSuffix("A_b_log") {
                for i in v.indices { v[i] = Float(Foundation.log(Double(i % N + 1))) + 0.1 * noise[i] }
            } else if name.hasSuffix(".D") || name.hasSuffix("D_b") || name.hasSuffix("norm.weight") || name == "norm_f.weight" {
                for i in v.indices { v[i] = 1 + 0.1 * noise[i] }
            } else if name.hasSuffix("dt_proj.bias") || name.hasSuffix("dt_proj_b.bias") {
                for i in v.indices { v[i] = -3 + 0.5 * noise[i] }
            } else {
                let fanIn = Float(max(1, v.count / max(1, shapeRows(name, c))))
                for i in v.indices { v[i] = noise[i] / fanIn.squareRoot() }
            }
        }
        return VisionMamba(config: c, weights: w)
    }

    static func shapeRows(_ name: String, _ c: VisionMambaConfig) -> Int {
        VisionMambaWeights.parameterShapes(c).first { $0.name == name }?.shape.first ?? 1
    }
}

/// Directional finite-difference checks of `VisionMamba.backward` for loss = Σ logits·probe.
public enum FiniteDifference {
    /// Returns, per parameter (and "input"), max over directions of
    /// |g·v − FD| / Σ|g ⊙ v| with central differences. `corrupt` flips the sign of one
    /// parameter's analytic gradient (to prove the check can fail).
    public static func check(model: VisionMamba, input: Tensor, probe: Tensor, directions: Int, seed: UInt64,
                             step: Float = 1e-2, corrupt: String? = nil) throws -> [(name: String, error: Double)] {
        let r = try model.backward(input, parameters: true, threads: 1) { _ in probe }
        guard var grads = r.parameterGradients else { return [] }
        if let corrupt { grads.forEachParameter { n, g in if n == corrupt { for i in g.indices { g[i] = -g[i] } } } }
        func loss(_ m: VisionMamba, _ x: Tensor) throws -> Double {
            let lg = try m.forward(x, threads: 1).logits
            var s = 0.0
            for i in 0..<lg.count { s += Double(lg.data[i]) * Double(probe.data[i]) }
            return s
        }
        // Richardson extrapolation of central differences: O(h⁴) truncation with a step large
        // enough that float32 forward rounding stays small.
        func richardson(_ h: Float, _ d: (Float) throws -> Double) rethrows -> Double {
            let d1 = try d(h), d2 = try d(h / 2)
            return (4 * d2 - d1) / 3
        }
        var rng = Xoshiro256StarStar(seed: seed)
        var out: [(String, Double)] = []
        // Input.
        var worst = 0.0
        for _ in 0..<directions {
            let v = rng.normals(input.count)
            let fd = try richardson(step) { h in
                var xp = input, xm = input
                for i in 0..<input.count { xp.data[i] += h * v[i]; xm.data[i] -= h * v[i] }
                return (try loss(model, xp) - loss(model, xm)) / (2 * Double(h))
            }
            var gv = 0.0, scale = 0.0
            for i in 0..<input.count { gv += Double(r.inputGradient.data[i]) * Double(v[i]); scale += abs(Double(r.inputGradient.data[i] * v[i])) }
            worst = max(worst, abs(gv - fd) / max(scale, 1e-12))
        }
        out.append(("input", worst))
        var names: [String] = []
        grads.forEachParameterValue { n, _ in names.append(n) }
        for name in names {
            var worst = 0.0
            var g: [Float] = []
            grads.forEachParameterValue { n, v in if n == name { g = v } }
            for _ in 0..<directions {
                let v = rng.normals(g.count)
                let fd = try richardson(step) { h in
                    var mp = model, mm = model
                    mp.weights.forEachParameter { n, w in if n == name { for i in w.indices { w[i] += h * v[i] } } }
                    mm.weights.forEachParameter { n, w in if n == name { for i in w.indices { w[i] -= h * v[i] } } }
                    return (try loss(mp, input) - loss(mm, input)) / (2 * Double(h))
                }
                var gv = 0.0, scale = 0.0
                for i in g.indices { gv += Double(g[i]) * Double(v[i]); scale += abs(Double(g[i] * v[i])) }
                worst = max(worst, abs(gv - fd) / max(scale, 1e-12))
            }
            out.append((name, worst))
        }
        return out
    }
}
