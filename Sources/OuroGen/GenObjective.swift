import OuroSupport
import Foundation
import OuroEngine
import OuroModel

/// Per-image loss parts of one evaluation.
public struct GenLossParts: Sendable {
    /// Total L(X_i).
    public var total: [Double]
    /// L^O per image (0 for generators without it).
    public var output: [Double]
    /// L_C,l per image and selected layer (contrastive generators).
    public var contrastivePerLayer: [[Double]]
    /// H_l per image and layer (pse).
    public var entropyPerLayer: [[Double]]
}

/// Adds the generator's losses on layer internals during the model's backward pass.
final class GenLossHook: BackwardLayerHook {
    let config: GenConfig
    let model: VisionMambaConfig
    let batch: Int
    let layers: [Int]
    var contrastive: [[Double]]
    var entropy: [[Double]]
    /// Inspection output for (image, layer): filled when `inspect` is set.
    var inspect = false
    var details: [String: ContrastiveLoss.Result] = [:]

    let runner: ParallelRunner

    init(config: GenConfig, model: VisionMambaConfig, batch: Int, threads: Int) {
        self.config = config; self.model = model; self.batch = batch
        runner = ParallelRunner(threads: threads)
        layers = config.contrastLayers ?? Array(0..<model.depth)
        contrastive = [[Double]](repeating: [Double](repeating: 0, count: layers.count), count: batch)
        entropy = [[Double]](repeating: [Double](repeating: 0, count: model.depth), count: batch)
    }

    func layerBackward(layer l: Int, internals a: MixerInternals, gHidden: FloatBuffer) -> [DirectionExtraGradients?]? {
        let c = model, L = c.seqLen, E = c.dInner, N = c.dState, R = c.dtRank, xw = R + 2 * N
        let grid = PatchGrid(side: c.gridSize, clsIndex: c.clsIndex)
        switch config.generator {
        case .pse:
            let pse = PSELoss(bandwidth: config.pseBandwidth, gridPoints: config.pseGridPoints)
            let M = grid.count, D = c.embedDim
            for b in 0..<batch {
                var f = [Float](repeating: 0, count: M * D), g = [Float](repeating: 0, count: M * D)
                for p in 0..<M { for d in 0..<D { f[p * D + d] = a.out.pointer[(b * L + grid.position(p)) * D + d] } }
                // L^PSE = −mean_l H_l.
                let H = f.withUnsafeBufferPointer { fp in g.withUnsafeMutableBufferPointer { gp in
                    pse.entropy(fp.baseAddress!, rows: M, cols: D, grad: gp.baseAddress!, scale: -1 / Double(c.depth))
                }}
                entropy[b][l] = H
                for p in 0..<M { for d in 0..<D { gHidden.pointer[(b * L + grid.position(p)) * D + d] += g[p * D + d] } }
            }
            return nil
        case .ouromamba, .contrastiveRaw:
            guard let li = layers.firstIndex(of: l) else { return nil }
            let loss = ContrastiveLoss(grid: grid, E: E, N: N, config: config, raw: config.generator == .contrastiveRaw)
            // The loss writes the state sink at every patch position; only the class token's
            // rows need zeros (zeroing the whole sink cost about 2 % of Gen).
            let extras = ScanDirection.allCases.map { _ in
                let states = FloatBuffer(uninitialized: batch * L * N * E)
                for b in 0..<batch { (states.pointer + (b * L + grid.clsIndex) * N * E).initialize(repeating: 0, count: N * E) }
                return DirectionExtraGradients(states: states, c: FloatBuffer(zeros: batch * L * N), delta: FloatBuffer(zeros: batch * L * E))
            }
            // Images are independent and write disjoint slices of the sinks.
            var results = [ContrastiveDetails?](repeating: nil, count: batch)
            results.withUnsafeMutableBufferPointer { res in
            runner.forEach(batch) { b in
                let views = ScanDirection.allCases.map { d -> DirectionView in
                    let di = a[d]
                    return DirectionView(states: di.states!.ptr + b * L * N * E, c: di.xdbl.ptr + b * L * xw + R + N, ldc: xw,
                                         delta: di.delta.ptr + b * L * E)
                }
                let sinks = ScanDirection.allCases.map { d -> DirectionGradSink in
                    let x = extras[d.rawValue]
                    return DirectionGradSink(states: x.states!.pointer + b * L * N * E, c: x.c!.pointer + b * L * N,
                                             delta: x.delta!.pointer + b * L * E)
                }
                res[b] = loss.evaluate(views, sinks: sinks, scale: 1 / Double(layers.count))
            }
            }
            for b in 0..<batch {
                contrastive[b][li] = results[b]!.loss
                if inspect { details["\(b).\(l)"] = results[b]! }
            }
            return extras
        case .noise, .outputOnly:
            return nil
        }
    }
}

/// The generator objective J = Σ_i L(X_i) and its gradient w.r.t. the images.
public struct GenObjective {
    public let model: VisionMamba
    public let config: GenConfig
    public var threads: Int
    /// When set, the model's forward and backward run on this GPU copy of `model`; the losses
    /// still run on the host, on the layer internals the GPU model downloads for them.
    public var gpu: GPUVisionMamba?

    public init(model: VisionMamba, config: GenConfig, threads: Int, gpu: GPUVisionMamba? = nil) {
        self.model = model; self.config = config; self.threads = threads; self.gpu = gpu
    }

    /// Loss parts per image and ∂J/∂images. `noise` has no loss (zero gradient).
    public func evaluate(images: Tensor, labels: [Int]) throws -> (GenLossParts, Tensor) {
        try evaluateWithDetails(images: images, labels: labels, inspect: false).0
    }

    /// Contrastive details keyed by "image.layer", next to the loss and gradient.
    public func inspect(images: Tensor, labels: [Int]) throws -> (GenLossParts, Tensor, [String: ContrastiveDetails]) {
        let ((parts, g), d) = try evaluateWithDetails(images: images, labels: labels, inspect: true)
        return (parts, g, d)
    }

    func evaluateWithDetails(images: Tensor, labels: [Int], inspect: Bool) throws
        -> ((GenLossParts, Tensor), [String: ContrastiveDetails]) {
        let B = images.shape[0], K = model.config.numClasses
        guard labels.count == B else { throw GenError("gen: \(labels.count) labels for \(B) images") }
        let hook = GenLossHook(config: config, model: model.config, batch: B, threads: threads)
        hook.inspect = inspect
        var lo = [Double](repeating: 0, count: B)
        let usesOutput = config.generator != .noise && config.lambdaO != 0
        let layerHook: BackwardLayerHook? = config.generator == .noise ? nil : hook
        let lossGradient = { (logits: Tensor) -> Tensor in
            var g = [Float](repeating: 0, count: B * K)
            for b in 0..<B {
                let (l, gz) = OutputLoss.evaluate(logits.data[(b * K)..<((b + 1) * K)], label: labels[b], kind: config.outputLoss)
                lo[b] = l
                if usesOutput { for k in 0..<K { g[b * K + k] = Float(Double(config.lambdaO) * gz[k]) } }
            }
            return Tensor(shape: logits.shape, data: g)
        }
        let inputGradient: Tensor
        if let gpu {
            // The contrastive losses run on the device; PSE runs on host copies of the layer.
            let onDevice = (config.generator == .ouromamba || config.generator == .contrastiveRaw) && !inspect
            let gpuHook = onDevice ? try GPUContrastiveHook(host: hook, device: gpu.device) : nil
            inputGradient = try gpu.inputGradient(images, layerHook: onDevice ? nil : layerHook, gpuHook: gpuHook,
                                                  lossGradient: lossGradient).inputGradient
            try gpuHook?.recordLosses(batch: images.shape[0])
        } else {
            inputGradient = try model.backward(images, parameters: false, layerHook: layerHook, threads: threads,
                                               lossGradient: lossGradient).inputGradient
        }
        var total = [Double](repeating: 0, count: B)
        for b in 0..<B {
            var t = usesOutput ? Double(config.lambdaO) * lo[b] : 0
            switch config.generator {
            case .ouromamba, .contrastiveRaw: t += hook.contrastive[b].reduce(0, +) / Double(hook.layers.count)
            case .pse: t -= hook.entropy[b].reduce(0, +) / Double(model.config.depth)
            default: break
            }
            total[b] = t
        }
        let parts = GenLossParts(total: total, output: lo, contrastivePerLayer: hook.contrastive, entropyPerLayer: hook.entropy)
        return ((parts, inputGradient), hook.details)
    }
}
