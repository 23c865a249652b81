import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroModel

/// Hyper-parameters of a training run.
public struct TrainOptions: Codable, Sendable, Equatable {
    public var epochs = 10
    public var batchSize = 64
    public var lr: Float = 2e-3
    public var minLR: Float = 1e-5
    public var warmupEpochs: Float = 1
    public var weightDecay: Float = 0.05
    public var labelSmoothing: Float = 0.1
    public var clipNorm: Float = 1.0
    public var seed: UInt64 = 0
    public var augment = true
    /// Stop after this many training images per epoch (quick runs); nil = all.
    public var limit: Int?
    public init() {}
}

/// Progress of a training run.
public struct TrainProgress: Sendable {
    public var epoch: Int, epochs: Int, step: Int, stepsPerEpoch: Int, totalSteps: Int
    public var loss: Double, accuracy: Double, imagesPerSecond: Double, lr: Float
}

/// The training loop: seeded shuffling and augmentation, AdamW, warm-up + cosine,
/// label smoothing, gradient clipping and atomic checkpoints every epoch.
public struct Trainer {
    public var options: TrainOptions
    public var model: VisionMamba
    public var optimizer: AdamW
    /// Completed optimiser steps.
    public var step: Int = 0
    public var threads: Int
    /// When set, each step's forward and backward run on this GPU copy of `model` (its weights
    /// are refreshed after every optimiser step); AdamW runs on the host.
    public var gpu: GPUVisionMamba?
    /// Host memory for keeping every layer's forward tensors for the backward instead of
    /// recomputing them (`VisionMamba.backward`). Not a training option: both ways give the
    /// same bits, so it is not stored in checkpoints.
    public var cacheBudgetBytes = VisionMamba.defaultCacheBudgetBytes

    public init(model: VisionMamba, options: TrainOptions, threads: Int) {
        self.model = model; self.options = options; self.threads = threads
        optimizer = AdamW(config: model.config, weightDecay: options.weightDecay)
    }

    func stepsPerEpoch(_ n: Int) -> Int { n / options.batchSize }

    /// Trains on `train` up to `options.epochs`, resuming from `step`. Saves a checkpoint to
    /// `checkpointPath` after every epoch and, when `checkpointEvery` is set, also after every
    /// that many steps (a resumed run continues mid-epoch with the same bits as an uninterrupted
    /// one). `progress` is called after every step; an error thrown from it stops the run.
    public mutating func run(train: ImageDataset, checkpointPath: String?, checkpointEvery: Int? = nil,
                             progress: (TrainProgress) throws -> Void) throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ModelError("train: checkpoint interval must be ≥ 1 step, got \(checkpointEvery)") }
        let n = min(options.limit ?? train.count, train.count)
        let spe = stepsPerEpoch(n)
        guard spe > 0 else { throw ModelError("train: \(n) images is fewer than one batch of \(options.batchSize)") }
        let total = spe * options.epochs
        let sched = WarmupCosine(peak: options.lr, minLR: options.minLR,
                                 warmupSteps: Int(options.warmupEpochs * Float(spe)), totalSteps: total)
        let norm = model.config.normalization(defaultMean: FashionMNIST.mean[0], defaultStd: FashionMNIST.std[0])
        let aug = options.augment ? Augmentation() : nil
        var lossEMA = 0.0, accEMA = 0.0, fresh = true
        try gpu?.setWeights(model.weights)
        while step < total {
            let epoch = step / spe
            let order = try Shuffler.epochOrder(count: train.count, seed: options.seed, epoch: epoch)
            var rng = Xoshiro256StarStar(seed: options.seed &+ 0x5EED, stream: UInt64(epoch))
            // On resume mid-epoch, replay the augmentation draws of the batches already done so
            // the rest of the epoch sees exactly the same images as an uninterrupted run.
            let first = step % spe
            if let aug, first > 0 { for _ in 0..<(first * options.batchSize) { _ = aug.draw(using: &rng) } }
            for s in first..<spe {
                let t0 = Date()
                let idx = Array(order[(s * options.batchSize)..<((s + 1) * options.batchSize)])
                let (x, y) = try train.batch(indices: idx, mean: norm.mean, std: norm.std, augment: aug, rng: &rng)
                var lossValue = 0.0, correct = 0
                let classes = model.config.numClasses, smoothing = options.labelSmoothing, current = step
                let lr = sched.lr(at: step)
                try Self.optimizerStep(model: &model, optimizer: &optimizer, gpu: gpu, input: x, lr: lr, clipNorm: options.clipNorm,
                                       threads: threads, cacheBudgetBytes: cacheBudgetBytes) { logits in
                    let (l, g, c) = SmoothedCrossEntropy.evaluate(logits: logits.data, labels: y, classes: classes, smoothing: smoothing)
                    guard l.isFinite else { throw ModelError("train: loss became \(l) at step \(current)") }
                    lossValue = l; correct = c
                    return Tensor(shape: logits.shape, data: g)
                }
                step += 1
                let acc = Double(correct) / Double(options.batchSize)
                lossEMA = fresh ? lossValue : 0.98 * lossEMA + 0.02 * lossValue
                accEMA = fresh ? acc : 0.98 * accEMA + 0.02 * acc
                fresh = false
                let ips = Double(options.batchSize) / Date().timeIntervalSince(t0)
                if let checkpointPath, let checkpointEvery, step % checkpointEvery == 0, s + 1 < spe { try save(to: checkpointPath) }
                try progress(TrainProgress(epoch: epoch, epochs: options.epochs, step: step, stepsPerEpoch: spe, totalSteps: total,
                                           loss: lossEMA, accuracy: accEMA, imagesPerSecond: ips, lr: lr))
            }
            if let checkpointPath { try save(to: checkpointPath) }
        }
    }

    /// One optimiser step on the batch `x`: forward and backward (on `gpu` when set, whose
    /// weights are refreshed afterwards), gradients clipped to `clipNorm`, AdamW at `lr`.
    /// `lossGradient` maps logits to ∂loss/∂logits; throwing from it stops before the update.
    public static func optimizerStep(model: inout VisionMamba, optimizer: inout AdamW, gpu: GPUVisionMamba?, input x: Tensor, lr: Float,
                                     clipNorm: Float, threads: Int, cacheBudgetBytes: Int = VisionMamba.defaultCacheBudgetBytes,
                                     lossGradient: (Tensor) throws -> Tensor) throws {
        let r = try gpu.map { try $0.backward(x, parameters: true, lossGradient: lossGradient) }
            ?? model.backward(x, parameters: true, threads: threads, cacheBudgetBytes: cacheBudgetBytes, lossGradient: lossGradient)
        var grads = r.parameterGradients!
        clipGradients(&grads, maxNorm: clipNorm)
        optimizer.update(&model.weights, grads: grads, lr: lr, config: model.config)
        try gpu?.setWeights(model.weights)
    }

    // MARK: - Checkpoints

    /// Writes model, optimiser state and progress atomically (safetensors).
    public func save(to path: String) throws {
        var w = SafeTensorsWriter()
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(model.config).map { ($0.name, $0.shape) })
        try model.weights.forEachParameterValue { name, v in try w.add("model." + name, shape: shapes[name]!, floats: v) }
        try optimizer.m.forEachParameterValue { name, v in try w.add("adam_m." + name, shape: shapes[name]!, floats: v) }
        try optimizer.v.forEachParameterValue { name, v in try w.add("adam_v." + name, shape: shapes[name]!, floats: v) }
        w.metadata["config"] = String(decoding: model.config.jsonData(), as: UTF8.self)
        w.metadata["train_options"] = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        w.metadata["step"] = String(step)
        w.metadata["adam_step"] = String(optimizer.step)
        w.metadata["kind"] = "ouromamba-train-checkpoint"
        try w.write(to: path)
    }

    /// Restores a trainer from `save(to:)` output. Options other than the epoch count must match.
    public static func resume(from path: String, options: TrainOptions, threads: Int) throws -> Trainer {
        let f = try SafeTensorsFile.read(path: path)
        guard f.metadata["kind"] == "ouromamba-train-checkpoint", let cfgJSON = f.metadata["config"],
              let stepS = f.metadata["step"], let step = Int(stepS), let adamS = f.metadata["adam_step"], let adamStep = Int(adamS),
              let optJSON = f.metadata["train_options"] else {
            throw ModelError("\(path): not an ouromamba training checkpoint (metadata 'kind', 'config', 'step' expected)")
        }
        let config = try VisionMambaConfig.parse(Data(cfgJSON.utf8), source: "\(path) metadata 'config'")
        var saved = try JSONDecoder().decode(TrainOptions.self, from: Data(optJSON.utf8))
        saved.epochs = options.epochs
        guard saved == options else {
            throw ModelError("\(path): training options differ from the checkpoint's (\(optJSON)); resume with the same options")
        }
        func load(_ prefix: String) throws -> VisionMambaWeights {
            var dict: [String: (shape: [Int], values: [Float])] = [:]
            for name in f.names where name.hasPrefix(prefix) {
                let t = try f.tensor(name)
                dict[String(name.dropFirst(prefix.count))] = (t.shape, try t.floats())
            }
            return try VisionMambaWeights(stateDict: dict, config: config, source: "\(path) [\(prefix)*]")
        }
        var t = Trainer(model: VisionMamba(config: config, weights: try load("model.")), options: options, threads: threads)
        t.optimizer = AdamW(m: try load("adam_m."), v: try load("adam_v."), step: adamStep, weightDecay: options.weightDecay)
        t.step = step
        return t
    }
}
