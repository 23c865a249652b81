import Foundation
import OuroEngine
import OuroModel

/// One generated block of samples.
public struct GeneratedBlock: Sendable {
    /// Index of the block (samples block·size ..< block·size + count).
    public var index: Int
    public var firstSample: Int
    /// [count, C, H, W] in normalised input space.
    public var images: Tensor
    public var labels: [Int]
    /// Final per-sample losses (after the last step; recomputed at the final images).
    public var finalLoss: [Double]
    public var finalContrastive: [Double]
    public var finalOutput: [Double]
    /// Mean total loss of the block at each iteration.
    public var lossCurve: [Double]

    /// Creates a block (the cluster rebuilds blocks from worker results).
    public init(index: Int, firstSample: Int, images: Tensor, labels: [Int], finalLoss: [Double],
                finalContrastive: [Double], finalOutput: [Double], lossCurve: [Double]) {
        self.index = index; self.firstSample = firstSample; self.images = images; self.labels = labels
        self.finalLoss = finalLoss; self.finalContrastive = finalContrastive; self.finalOutput = finalOutput
        self.lossCurve = lossCurve
    }
}

/// OuroMamba-Gen: optimises synthetic images block by block (`method.md` §3.1, §3.10).
///
/// Every random quantity derives from (seed, sample index) and the objective is a sum of
/// per-image losses, so a block's images are the same whichever process or worker makes
/// them, and however the blocks are sharded.
public struct Generator {
    public let model: VisionMamba
    public let config: GenConfig
    public var threads: Int
    /// When set, the model's passes run on this GPU copy of `model` (see `GenObjective.gpu`).
    public var gpu: GPUVisionMamba?

    public init(model: VisionMamba, config: GenConfig, threads: Int, gpu: GPUVisionMamba? = nil) throws {
        try config.validate()
        self.model = model; self.config = config; self.threads = threads; self.gpu = gpu
    }

    /// Number of blocks for the configured sample count.
    public var blockCount: Int { (config.samples + config.block - 1) / config.block }

    /// Target labels y_i = π[i mod K] with π a permutation seeded by `seed` alone.
    public static func labels(count: Int, classes: Int, seed: UInt64) -> [Int] {
        var rng = Xoshiro256StarStar(seed: seed)
        let perm = rng.permutation(classes)
        return (0..<count).map { perm[$0 % classes] }
    }

    /// The N(0,1) initial image of sample i (its own stream).
    public static func initialImage(sample i: Int, elements: Int, seed: UInt64) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(i))
        return rng.normals(elements)
    }

    /// Generates block `b`. `progress(iteration)` is called after every Adam step.
    public func generateBlock(_ b: Int, progress: (Int) -> Void = { _ in }) throws -> GeneratedBlock {
        let c = model.config
        let first = b * config.block, count = min(config.block, config.samples - first)
        guard count > 0 else { throw GenError("gen: block \(b) is past the last sample (\(config.samples) samples)") }
        let per = c.channels * c.imageSize * c.imageSize
        let allLabels = Self.labels(count: config.samples, classes: c.numClasses, seed: config.seed)
        let labels = Array(allLabels[first..<(first + count)])
        var x = [Float]()
        x.reserveCapacity(count * per)
        for i in first..<(first + count) { x += Self.initialImage(sample: i, elements: per, seed: config.seed) }
        let shape = [count, c.channels, c.imageSize, c.imageSize]
        let objective = GenObjective(model: model, config: config, threads: threads, gpu: gpu)
        var curve: [Double] = []
        if config.generator != .noise {
            var adam = AdamPixels(count: x.count, config: config)
            let norm = c.normalization(defaultMean: 0, defaultStd: 1)
            for k in 0..<config.iterations {
                let views = randomViews(firstSample: first, count: count, iteration: k)
                let input = views.isEmpty ? x : transformed(x, views: views, pullBack: false)
                let (parts, gv) = try objective.evaluate(images: Tensor(shape: shape, data: input), labels: labels)
                var g = views.isEmpty ? gv.data : transformed(gv.data, views: views, pullBack: true)
                let prior = addPriors(x, count: count, grad: &g)
                let mean = (parts.total.reduce(0, +) + prior) / Double(count)
                guard mean.isFinite, g.allSatisfy({ $0.isFinite }) else {
                    throw GenError("gen: non-finite loss or gradient in block \(b) at iteration \(k)")
                }
                curve.append(mean)
                adam.step(k, x: &x, grad: g)
                if config.clampValidRange { clampToValidRange(&x, channels: c.channels, mean: norm.mean, std: norm.std) }
                progress(k + 1)
            }
        }
        // Final losses at the final images (the noise generator reports its output loss too).
        var finalConfig = config
        if finalConfig.generator == .noise { finalConfig.generator = .outputOnly }
        let (parts, _) = try GenObjective(model: model, config: finalConfig, threads: threads, gpu: gpu)
            .evaluate(images: Tensor(shape: shape, data: x), labels: labels)
        let lc = parts.contrastivePerLayer.map { $0.isEmpty ? 0 : $0.reduce(0, +) / Double($0.count) }
        return GeneratedBlock(index: b, firstSample: first, images: Tensor(shape: shape, data: x), labels: labels,
                              finalLoss: parts.total, finalContrastive: lc, finalOutput: parts.output, lossCurve: curve)
    }

    /// The random views of a block's samples at one iteration (empty without jitter and flips).
    func randomViews(firstSample: Int, count: Int, iteration k: Int) -> [ImagePriors.View] {
        let jitter = config.jitter ?? 0, flip = config.flip ?? false
        guard jitter > 0 || flip else { return [] }
        return (0..<count).map {
            ImagePriors.View.draw(seed: config.seed, sample: firstSample + $0, iteration: k, jitter: jitter, flip: flip)
        }
    }

    /// Each image of `x` through its view (or, with `pullBack`, a gradient back through it).
    func transformed(_ x: [Float], views: [ImagePriors.View], pullBack: Bool) -> [Float] {
        let C = model.config.channels, S = model.config.imageSize, per = C * S * S
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                for (i, v) in views.enumerated() {
                    if pullBack { v.pullBack(xp.baseAddress! + i * per, channels: C, side: S, out: op.baseAddress! + i * per) }
                    else { v.apply(xp.baseAddress! + i * per, channels: C, side: S, out: op.baseAddress! + i * per) }
                }
            }
        }
        return out
    }

    /// Adds the TV and L2 priors' gradients to `grad`; returns their summed loss over the images.
    func addPriors(_ x: [Float], count: Int, grad: inout [Float]) -> Double {
        let tv = config.tvWeight ?? 0, l2 = config.l2Weight ?? 0
        guard tv > 0 || l2 > 0 else { return 0 }
        let C = model.config.channels, S = model.config.imageSize, per = C * S * S
        var loss = 0.0
        x.withUnsafeBufferPointer { xp in
            grad.withUnsafeMutableBufferPointer { gp in
                for i in 0..<count {
                    let xi = xp.baseAddress! + i * per, gi = gp.baseAddress! + i * per
                    if tv > 0 { loss += ImagePriors.totalVariation(xi, channels: C, side: S, weight: tv, grad: gi) }
                    if l2 > 0 { loss += ImagePriors.l2(xi, count: per, weight: l2, grad: gi) }
                }
            }
        }
        return loss
    }

    /// Clamps each channel to the normalised image of [0, 1].
    func clampToValidRange(_ x: inout [Float], channels C: Int, mean: [Float], std: [Float]) {
        let hw = model.config.imageSize * model.config.imageSize
        for i in x.indices {
            let ch = (i / hw) % C
            let lo = -mean[ch] / std[ch], hi = (1 - mean[ch]) / std[ch]
            x[i] = min(max(x[i], lo), hi)
        }
    }
}
