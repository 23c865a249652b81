import Foundation
import Testing
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant
import OuroTestSupport
import OuroCluster
@testable import OuroPipeline

/// In-process checks of the job layer: tasks run through the worker handler, results decoded
/// and merged as the coordinator does; tampered, inconsistent or incomplete results fail loudly.
@Suite struct JobMergeTests {
    static let setup: (JobWorker, VisionMamba)? = {
        guard let path = Fixtures.path("vim-micro.safetensors"), let m = try? VisionMamba.load(path: path) else { return nil }
        return (JobWorker(model: m, modelSHA256: "m", threads: 1), m)
    }()

    static func noise(_ n: Int, _ c: VisionMambaConfig) -> Tensor {
        let per = c.channels * c.imageSize * c.imageSize
        var rng = Xoshiro256StarStar(seed: 7, stream: 0)
        return Tensor(shape: [n, c.channels, c.imageSize, c.imageSize], data: rng.normals(n * per))
    }

    func run(_ w: JobWorker, _ t: TaskSpec) throws -> TaskResult {
        let ctx = TaskContext(job: JobContext(jobId: "j", configurationHash: "c"), logger: PipelineHarness.logger)
        let out = try w.handle(t, ctx)
        return TaskResult(taskId: t.id, phase: t.phase, attempt: 1, metadata: out.metadata, frames: out.frames)
    }

    func tasks(_ phase: String, _ images: Tensor, _ q: QuantConfig, perTask: Int, bounds: Pass1Summary? = nil) -> [TaskSpec] {
        CalibrationPhases.tasks(phase: phase, images: images, quant: q, perTask: perTask, modelSHA256: "m", bounds: bounds)
            .map { var t = $0; t.phase = phase; return t }
    }

    /// Sharded pass 1 + pass 2 through the handler equals `Calibrator.calibrate` bit for bit,
    /// for shard sizes 1 and 2 (three blocks, the last one short).
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func shardedCalibrationMatchesSingleProcess() throws {
        let (w, m) = try #require(Self.setup, "fixture vim-micro.safetensors missing or unreadable")
        let images = Self.noise(20, m.config)
        let q = QuantConfig()
        let cal = try Calibrator(model: m, config: q, threads: 1)
        let reference = try cal.calibrate(images: images).points
        for perTask in [1, 2] {
            var p1: CalibrationPass1?
            for t in tasks(CalibrationPhases.pass1, images, q, perTask: perTask).reversed() {
                let s = try CalibrationPhases.decodePass1(try run(w, t), task: t)
                if p1 == nil { p1 = s } else { try p1!.merge(s) }
            }
            let summary = try cal.summary(p1!, blockCount: 3)
            var p2: CalibrationPass2?
            for t in tasks(CalibrationPhases.pass2, images, q, perTask: perTask, bounds: summary).reversed() {
                let s = try CalibrationPhases.decodePass2(try run(w, t), task: t)
                if p2 == nil { p2 = s } else { try p2!.merge(s) }
            }
            #expect(try cal.finalize(summary: summary, pass2: p2, blockCount: 3) == reference, "shard size \(perTask)")
        }
    }

    /// NaN in a result, a result for the wrong blocks, a duplicate and a missing block are errors.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func inconsistentResultsFailLoudly() throws {
        let (w, m) = try #require(Self.setup, "fixture vim-micro.safetensors missing or unreadable")
        let images = Self.noise(16, m.config)
        let q = QuantConfig()
        let cal = try Calibrator(model: m, config: q, threads: 1)
        let t = tasks(CalibrationPhases.pass1, images, q, perTask: 1)
        let r0 = try run(w, t[0]), r1 = try run(w, t[1])
        // NaN in the first maxima tensor.
        var poisoned = r0
        let list = try WireTensors.decode(r0.metadata[WireTensors.key], frames: r0.frames, source: "r0")
        let k = try #require(list.firstIndex { $0.name == "p1.0.max_abs" })
        var values = try #require(list[k].frame.elements(as: Float.self))
        values[0] = .nan
        poisoned.frames[k] = Frame(copyingElementsOf: values)
        #expect(throws: (any Error).self) { try CalibrationPhases.decodePass1(poisoned, task: t[0]) }
        // A result claiming another task's blocks.
        #expect(throws: JobError.self) { try CalibrationPhases.decodePass1(r1, task: t[0]) }
        // Duplicate block.
        var p1 = try CalibrationPhases.decodePass1(r0, task: t[0])
        #expect(throws: QuantError.self) { try p1.merge(try CalibrationPhases.decodePass1(r0, task: t[0])) }
        // Missing block.
        #expect(throws: QuantError.self) { try cal.summary(p1, blockCount: 2) }
        try p1.merge(try CalibrationPhases.decodePass1(r1, task: t[1]))
        _ = try cal.summary(p1, blockCount: 2)
        // Frame sizes that do not match the declared shapes.
        var short = r0
        short.frames[k] = Frame(Array(repeating: UInt8(0), count: 3))
        #expect(throws: JobError.self) { try CalibrationPhases.decodePass1(short, task: t[0]) }
    }

    /// Gen results rebuild the blocks exactly; weights round-trip; a missing Gen block fails the merge.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func genAndWeightResultsRoundTrip() throws {
        let (w, m) = try #require(Self.setup, "fixture vim-micro.safetensors missing or unreadable")
        var g = GenConfig()
        g.samples = 10; g.iterations = 1; g.block = 4
        let genTasks = try GenPhase.tasks(config: g, blockCount: 3, perTask: 2, modelSHA256: "m").map { var t = $0; t.phase = GenPhase.name; return t }
        #expect(genTasks.map(\.id) == ["gen.b0000-0001", "gen.b0002"])
        let blocks = try genTasks.flatMap { try GenPhase.decode(try run(w, $0), task: $0, config: g, model: m.config) }
        let gen = try Generator(model: m, config: g, threads: 1)
        for b in blocks { #expect(b.block.images.data == (try gen.generateBlock(b.block.index)).images.data) }
        #expect(throws: GenError.self) { try SampleSet(blocks: blocks.dropLast().map(\.block), expectedBlocks: 3) }
        let q = QuantConfig()
        let wt = WeightPhase.tasks(layers: m.config.depth, quant: q, modelSHA256: "m").map { var t = $0; t.phase = WeightPhase.name; return t }
        for t in wt {
            let (l, layer) = try WeightPhase.decode(try run(w, t), task: t)
            #expect(layer == QuantizedLayer.quantize(m.weights.layers[l], config: m.config, weightBits: 4, adBits: q.adBits))
        }
        // A task for another model is refused by the handler.
        var other = wt[0]
        other.requiredModel = "other"
        #expect(throws: TaskError.self) { try run(w, other) }
    }

    /// The configuration hash ignores output paths and shard size, and follows the seed.
    @Test func configurationHashCoversWhatChangesResults() {
        var a = JobPlan(kind: .quantize)
        var g = GenConfig()
        g.samples = 16
        a.gen = g; a.quant = QuantConfig(); a.calibSource = "syn:ouromamba:16"; a.samplesDirectory = "x"; a.artifactPath = "x/q"
        var b = a
        b.artifactPath = "elsewhere"; b.samplesDirectory = "y"; b.blocksPerTask = 3
        #expect(a.configurationHash == b.configurationHash)
        b.gen?.seed = 1
        #expect(a.configurationHash != b.configurationHash)
        #expect(BlockShard.cut(blockCount: 5, perTask: 2) == [BlockShard(first: 0, count: 2), BlockShard(first: 2, count: 2), BlockShard(first: 4, count: 1)])
    }
}
