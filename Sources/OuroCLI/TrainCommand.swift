import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroModel
import OuroPipeline
import OuroTrain

/// `ouromamba train`: trains a Vision Mamba on Fashion-MNIST.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Vision Mamba classifier on Fashion-MNIST (AdamW, warm-up + cosine).",
        discussion: """
        Writes an atomic checkpoint (model + optimiser) after every epoch to --checkpoint (and every \
        --checkpoint-every steps when given), and the final model to --out (safetensors) with its \
        config beside it (<out>.config.json).

        Example:
          ouromamba train --embed-dim 64 --depth 6 --epochs 8 \\
              --out models/vim-fashion.safetensors
        """)

    @Option(name: .long, help: "Output model (.safetensors).") var out: String
    @Option(name: .long, help: "Training checkpoint path (default: <out>.ckpt).") var checkpoint: String?
    @Flag(name: .long, help: "Resume from --checkpoint.") var resume = false
    @Option(name: .long, help: ArgumentHelp("Also checkpoint every N steps, not only at epoch ends (resuming mid-epoch gives the same model).",
                                            valueName: "steps"))
    var checkpointEvery: Int?
    @Option(name: .long, help: "Dataset: fashion-mnist or fashion-mnist:DIR.") var data = "fashion-mnist"
    @Option(name: .long) var embedDim = 64
    @Option(name: .long) var depth = 6
    @Option(name: .long) var dState = 16
    @Option(name: .long) var patchSize = 4
    @Option(name: .long) var epochs = 10
    @Option(name: .long) var batchSize = 64
    @Option(name: .long) var lr: Float = 2e-3
    @Option(name: .long) var weightDecay: Float = 0.05
    @Option(name: .long) var labelSmoothing: Float = 0.1
    @Option(name: .long) var clipNorm: Float = 1.0
    @Option(name: .long) var warmupEpochs: Float = 1
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Use only the first N training images per epoch.") var limit: Int?
    @Option(name: .long, help: ArgumentHelp("GiB of memory for keeping every layer's forward tensors for the backward instead of recomputing them (the same results; default 0.75).",
                                            valueName: "gib"),
            transform: { text in
                guard let g = Double(text), g >= 0, g.isFinite else { throw ValidationError("expected a number of GiB ≥ 0, got '\(text)'") }
                return g
            })
    var cacheGib: Double?
    @Flag(name: .long, help: "Disable shift/flip augmentation.") var noAugment = false
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be ≥ 1 step, got \(checkpointEvery)") }
    }

    func run() throws {
        let threads = common.resolvedThreads()
        let resolved = try device.resolve(command: "train", gpuImplemented: true, console: common.console())
        try createParentDirectory(of: out)
        let console = common.console()
        var opts = TrainOptions()
        opts.epochs = epochs; opts.batchSize = batchSize; opts.lr = lr; opts.weightDecay = weightDecay
        opts.labelSmoothing = labelSmoothing; opts.clipNorm = clipNorm; opts.warmupEpochs = warmupEpochs
        opts.seed = seed; opts.augment = !noAugment; opts.limit = limit
        let ds: DatasetSpec
        do { ds = try DatasetSpec(parsing: data) } catch { throw CLIError("\(error)") }
        let train = try ds.load(split: .train)
        let ckpt = checkpoint ?? out + ".ckpt"
        var trainer: Trainer
        if resume {
            guard FileManager.default.fileExists(atPath: ckpt) else { throw CLIError("--resume: no checkpoint at \(ckpt)") }
            do { trainer = try Trainer.resume(from: ckpt, options: opts, threads: threads) }
            catch let e as ModelError { throw CLIError(e.description) }
            console.info("resumed from \(ckpt) at step \(trainer.step)")
        } else {
            let cfg = VisionMambaConfig(imageSize: train.height, channels: train.channels, patchSize: patchSize, stride: patchSize,
                                        embedDim: embedDim, depth: depth, dState: dState, numClasses: 10,
                                        normalizeMean: FashionMNIST.mean, normalizeStd: FashionMNIST.std)
            do { try cfg.validate(source: "train options") } catch let e as ModelError { throw CLIError(e.description) }
            trainer = Trainer(model: VisionMamba(config: cfg, weights: Initializer.weights(cfg, seed: seed)), options: opts, threads: threads)
        }
        trainer.gpu = try resolved.model(trainer.model)
        if let cacheGib { trainer.cacheBudgetBytes = Int(cacheGib * Double(1 << 30)) }
        let n = min(limit ?? train.count, train.count)
        let bar = ProgressBar("train", total: (n / batchSize) * epochs, console: console, interval: 10, initial: trainer.step)
        let started = Date()
        try trainer.run(train: train, checkpointPath: ckpt, checkpointEvery: checkpointEvery) { p in
            bar.update(p.step, unit: "step", status: String(format: "epoch %d/%d loss %.4f acc %.3f %.0f img/s lr %.2e",
                                                            p.epoch + 1, p.epochs, p.loss, p.accuracy, p.imagesPerSecond, p.lr))
        }
        let wall = Date().timeIntervalSince(started)
        try trainer.model.save(to: out, metadata: ["train_command": CommandLine.arguments.joined(separator: " "),
                                                  "seed": String(seed), "epochs": String(epochs)])
        let cfgPath = URL(fileURLWithPath: out).deletingPathExtension().path + ".config.json"
        try trainer.model.config.jsonData().write(to: URL(fileURLWithPath: cfgPath), options: .atomic)
        let test = try ds.load(split: .test)
        let norm = trainer.model.config.normalization(defaultMean: FashionMNIST.mean[0], defaultStd: FashionMNIST.std[0])
        let ev = try Evaluation.topOne(model: trainer.model, dataset: test, count: test.count, mean: norm.mean, std: norm.std,
                                       batch: 64, threads: threads)
        if common.json {
            Console.printJSON(["top1": ev.top1, "samples": test.count, "epochs": epochs, "seconds": wall, "model": out,
                               "device": resolved.backendName])
        } else {
            console.result(String(format: "trained %d epochs in %.0f s; test top-1 %.2f%% (%d/%d); wrote %@ and %@",
                                  epochs, wall, 100 * ev.top1, ev.correct, test.count, out, cfgPath))
        }
    }
}
