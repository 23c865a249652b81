import Foundation
import OuroModel

/// AdamW with decoupled weight decay; no decay on 1-D parameters, `pos_embed` and `cls_token`
/// (as timm's optimizer factory does for Vim).
public struct AdamW: Sendable {
    public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public var weightDecay: Float
    public private(set) var step = 0
    public var m: VisionMambaWeights
    public var v: VisionMambaWeights

    public init(config: VisionMambaConfig, weightDecay: Float) {
        self.weightDecay = weightDecay
        m = VisionMambaWeights(zerosFor: config)
        v = VisionMambaWeights(zerosFor: config)
    }

    /// Restores state (checkpoint resume).
    public init(m: VisionMambaWeights, v: VisionMambaWeights, step: Int, weightDecay: Float) {
        self.m = m; self.v = v; self.step = step; self.weightDecay = weightDecay
    }

    static func decays(_ name: String, _ count: Int, _ shapes: [String: [Int]]) -> Bool {
        if name == "pos_embed" || name == "cls_token" { return false }
        return (shapes[name]?.count ?? 1) > 1
    }

    /// One update of `params` with gradients `grads` at learning rate `lr`.
    public mutating func update(_ params: inout VisionMambaWeights, grads: VisionMambaWeights, lr: Float, config: VisionMambaConfig) {
        step += 1
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(config).map { ($0.name, $0.shape) })
        let bc1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let bc2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        var gList: [[Float]] = []
        grads.forEachParameterValue { _, g in gList.append(g) }
        var mList: [[Float]] = [], vList: [[Float]] = []
        m.forEachParameterValue { _, x in mList.append(x) }
        v.forEachParameterValue { _, x in vList.append(x) }
        var idx = 0
        let (b1, b2, e, wd) = (beta1, beta2, eps, weightDecay)
        params.forEachParameter { name, p in
            let g = gList[idx]
            let decay = Self.decays(name, p.count, shapes) ? wd : 0
            var mm = mList[idx], vv = vList[idx]
            for i in p.indices {
                mm[i] = b1 * mm[i] + (1 - b1) * g[i]
                vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i]
                let mh = mm[i] / bc1, vh = vv[i] / bc2
                p[i] -= lr * (mh / (vh.squareRoot() + e) + decay * p[i])
            }
            mList[idx] = mm; vList[idx] = vv
            idx += 1
        }
        idx = 0
        m.forEachParameter { _, x in x = mList[idx]; idx += 1 }
        idx = 0
        v.forEachParameter { _, x in x = vList[idx]; idx += 1 }
    }
}

/// Linear warm-up then cosine decay to `minLR`.
public struct WarmupCosine: Sendable {
    public var peak: Float, minLR: Float, warmupSteps: Int, totalSteps: Int
    public init(peak: Float, minLR: Float, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.minLR = minLR; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }
    public func lr(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let t = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        return minLR + (peak - minLR) * Float(0.5 * (1 + Foundation.cos(Double.pi * min(1, t))))
    }
}

/// Label-smoothed cross-entropy, averaged over the batch.
public enum SmoothedCrossEntropy {
    /// Returns (mean loss, ∂loss/∂logits, correct top-1 count).
    public static func evaluate(logits: [Float], labels: [Int32], classes K: Int, smoothing: Float) -> (Double, [Float], Int) {
        let B = labels.count
        var grad = [Float](repeating: 0, count: B * K)
        var loss = 0.0, correct = 0
        for b in 0..<B {
            let row = Array(logits[(b * K)..<((b + 1) * K)])
            let mx = row.max()!
            var s = 0.0
            for k in 0..<K { s += Foundation.exp(Double(row[k] - mx)) }
            let logZ = Double(mx) + Foundation.log(s)
            let y = Int(labels[b])
            if row.indices.max(by: { row[$0] < row[$1] }) == y { correct += 1 }
            for k in 0..<K {
                let p = Foundation.exp(Double(row[k]) - logZ)
                let target = Double(smoothing) / Double(K) + (k == y ? Double(1 - smoothing) : 0)
                loss -= target * (Double(row[k]) - logZ)
                grad[b * K + k] = Float((p - target) / Double(B))
            }
        }
        return (loss / Double(B), grad, correct)
    }
}

/// Scales gradients so that their global L2 norm is at most `maxNorm`; returns the norm.
@discardableResult
public func clipGradients(_ g: inout VisionMambaWeights, maxNorm: Float) -> Float {
    var ss = 0.0
    g.forEachParameterValue { _, v in for x in v { ss += Double(x) * Double(x) } }
    let norm = Float(ss.squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let s = maxNorm / (norm + 1e-6)
        g.forEachParameter { _, v in for i in v.indices { v[i] *= s } }
    }
    return norm
}
