import Foundation
import OuroEngine
import OuroModel

/// Fresh weights following the official Vim/Mamba initialisation.
public enum Initializer {
    /// Linear layers U(±1/√fan_in) (PyTorch default), dt_proj U(±R^-½), dt bias = softplus⁻¹ of a
    /// log-uniform draw in [1e-3, 0.1], A_log = log(1..N), D = 1, norms 1, pos/cls/head N(0, 0.02),
    /// out_proj rescaled by 1/√depth (prenorm residual rescale).
    public static func weights(_ c: VisionMambaConfig, seed: UInt64) -> VisionMambaWeights {
        var rng = Xoshiro256StarStar(seed: seed)
        var w = VisionMambaWeights(zerosFor: c)
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(c).map { ($0.name, $0.shape) })
        func uniform(_ n: Int, _ bound: Double) -> [Float] { (0..<n).map { _ in Float((rng.nextUniform() * 2 - 1) * bound) } }
        func normal(_ n: Int, _ std: Float) -> [Float] { rng.normals(n).map { max(-2 * std, min(2 * std, $0 * std)) } }
        w.forEachParameter { name, v in
            let shape = shapes[name]!
            let fanIn = Double(shape.dropFirst().reduce(1, *))
            switch name {
            case "cls_token", "pos_embed", "head.weight":
                v = normal(v.count, 0.02)
            case "head.bias":
                break
            case _ where name.hasSuffix("A_log") || name.hasSuffix("A_b_log"):
                for i in v.indices { v[i] = Float(Foundation.log(Double(i % c.dState + 1))) }
            case _ where name.hasSuffix(".D") || name.hasSuffix(".D_b") || name.hasSuffix("norm.weight") || name == "norm_f.weight":
                for i in v.indices { v[i] = 1 }
            case _ where name.hasSuffix("dt_proj.weight") || name.hasSuffix("dt_proj_b.weight"):
                v = uniform(v.count, 1 / Double(c.dtRank).squareRoot())
            case _ where name.hasSuffix("dt_proj.bias") || name.hasSuffix("dt_proj_b.bias"):
                for i in v.indices {
                    let dt = max(1e-4, Foundation.exp(rng.nextUniform() * (Foundation.log(0.1) - Foundation.log(0.001)) + Foundation.log(0.001)))
                    v[i] = Float(dt + Foundation.log(-Foundation.expm1(-dt)))
                }
            case _ where name.hasSuffix("out_proj.weight"):
                v = uniform(v.count, 1 / fanIn.squareRoot()).map { $0 / Float(c.depth).squareRoot() }
            case _ where name.hasSuffix("conv1d.bias") || name.hasSuffix("conv1d_b.bias") || name == "patch_embed.proj.bias":
                v = uniform(v.count, 1 / fanIn.squareRoot())
            default:
                v = uniform(v.count, 1 / fanIn.squareRoot())
            }
        }
        // Conv biases: PyTorch bounds them by the weight's fan-in.
        for l in 0..<c.depth {
            w.layers[l].forward.convBias = uniform(c.dInner, 1 / Double(c.dConv).squareRoot())
            w.layers[l].backward.convBias = uniform(c.dInner, 1 / Double(c.dConv).squareRoot())
        }
        w.patchBias = uniform(c.embedDim, 1 / Double(c.patchDim).squareRoot())
        return w
    }
}
