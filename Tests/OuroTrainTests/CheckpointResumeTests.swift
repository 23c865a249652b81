import Foundation
import Testing
import OuroData
import OuroEngine
import OuroModel
import OuroTestSupport
import OuroTrain

/// A run stopped mid-epoch and resumed from its last periodic checkpoint ends with exactly the
/// weights and optimiser state of an uninterrupted run (augmentation on, so the replay of the
/// epoch's random draws is exercised).
@Suite struct CheckpointResumeTests {
    struct Killed: Error {}

    static func setup() throws -> (VisionMamba, TrainOptions, ImageDataset) {
        var rng = Xoshiro256StarStar(seed: 11)
        let data = try TinyTrainingSet.data(rng: &rng)
        var opts = TinyTrainingSet.options
        opts.warmupEpochs = 0.5
        return (TinyTrainingSet.model(seed: 3), opts, data)
    }

    @Test func resumingFromAMidEpochCheckpointGivesTheSameModel() throws {
        let (initial, opts, data) = try Self.setup()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ouro-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        var whole = Trainer(model: initial, options: opts, threads: 2)
        try whole.run(train: data, checkpointPath: nil) { _ in }
        #expect(whole.step == 12)

        // 6 steps per epoch; checkpoints after steps 4 and 6 (epoch end) and 8; killed after step 9.
        let ckpt = dir + "/t.ckpt"
        var first = Trainer(model: initial, options: opts, threads: 2)
        #expect(throws: Killed.self) {
            try first.run(train: data, checkpointPath: ckpt, checkpointEvery: 4) { p in if p.step == 9 { throw Killed() } }
        }
        var resumed = try Trainer.resume(from: ckpt, options: opts, threads: 2)
        #expect(resumed.step == 8, "the last periodic checkpoint is after step 8, got \(resumed.step)")
        try resumed.run(train: data, checkpointPath: nil) { _ in }
        #expect(resumed.step == whole.step)
        let sameWeights = resumed.model.weights == whole.model.weights
        let sameMoments = resumed.optimizer.m == whole.optimizer.m && resumed.optimizer.v == whole.optimizer.v
        #expect(sameWeights, "resumed weights differ from the uninterrupted run's")
        #expect(sameMoments, "resumed AdamW moments differ from the uninterrupted run's")
        // Training moved the weights, so equality is not vacuous.
        #expect(whole.model.weights != initial.weights)
    }

    @Test func aZeroIntervalIsRejected() throws {
        let (initial, opts, data) = try Self.setup()
        var t = Trainer(model: initial, options: opts, threads: 2)
        #expect(throws: ModelError.self) { try t.run(train: data, checkpointPath: "/dev/null", checkpointEvery: 0) { _ in } }
        #expect(t.step == 0)
    }
}
