import Foundation

/// Adam on image pixels with cosine decay to zero (`method.md` §3.1).
public struct AdamPixels: Sendable {
    public var m: [Float], v: [Float]
    public let lr0: Float, beta1: Float, beta2: Float, eps: Float, totalSteps: Int

    public init(count: Int, config: GenConfig) {
        m = [Float](repeating: 0, count: count); v = m
        lr0 = config.lr; beta1 = config.beta1; beta2 = config.beta2; eps = config.eps; totalSteps = config.iterations
    }

    /// lr_k = lr0·½(1 + cos(πk/T)).
    public func learningRate(step k: Int) -> Float {
        Float(Double(lr0) * 0.5 * (1 + Foundation.cos(Double.pi * Double(k) / Double(max(1, totalSteps)))))
    }

    /// Step k (0-based) of bias-corrected Adam.
    public mutating func step(_ k: Int, x: inout [Float], grad g: [Float]) {
        let lr = learningRate(step: k)
        let bc1 = Float(1 - Foundation.pow(Double(beta1), Double(k + 1)))
        let bc2 = Float(1 - Foundation.pow(Double(beta2), Double(k + 1)))
        for i in x.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            x[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).squareRoot() + eps)
        }
    }
}
