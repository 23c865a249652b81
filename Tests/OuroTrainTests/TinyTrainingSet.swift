import OuroData
import OuroEngine
import OuroModel
import OuroTrain

/// The tiny training problem the trainer tests share: an 8×8 one-channel, 3-class Vim and 24
/// random images with cyclic labels, small enough that two epochs run in milliseconds.
enum TinyTrainingSet {
    static let config = VisionMambaConfig(imageSize: 8, channels: 1, patchSize: 4, stride: 4, embedDim: 8, depth: 2,
                                          dState: 4, numClasses: 3, normalizeMean: [0.5], normalizeStd: [0.25])

    /// 24 images drawn from `rng`, which is returned advanced so that a caller can keep drawing
    /// (probe inputs) from the same stream.
    static func data(rng: inout Xoshiro256StarStar) throws -> ImageDataset {
        let n = 24
        let pixels = (0..<(n * 64)).map { _ in UInt8(truncatingIfNeeded: Int(rng.next() % 256)) }
        return try ImageDataset(channels: 1, height: 8, width: 8, pixels: pixels, labels: (0..<n).map { Int32($0 % 3) },
                                classNames: ["a", "b", "c"])
    }

    /// Two epochs of batch 4 at lr 1e-2: 12 steps.
    static var options: TrainOptions {
        var opts = TrainOptions()
        opts.epochs = 2; opts.batchSize = 4; opts.lr = 1e-2
        return opts
    }

    static func model(seed: UInt64) -> VisionMamba {
        VisionMamba(config: config, weights: Initializer.weights(config, seed: seed))
    }
}
