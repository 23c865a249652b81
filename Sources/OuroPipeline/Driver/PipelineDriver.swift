import OuroSupport
import Foundation
import Logging
import OuroCluster
import OuroSupport
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant

/// The one pipeline driver: Gen → calibration pass 1 → summary → pass 2 → finalize → weights →
/// assemble → write. Every phase is cut into tasks, run on a `ShardExecutor` (in this process,
/// on local worker processes or on the ZeroMQ cluster) and merged here by the rules of
/// cluster.md §6.
///
/// The driver holds no model compute beyond the merges (max/min, block-ordered sums,
/// concatenation), the arg-min and the assembly, so the outputs are byte-identical whatever the
/// executor, the number of workers or the shard size.
public final class PipelineDriver {
    /// Where the tasks run.
    public let executor: ShardExecutor
    /// The FP model (for shapes, FP tensors of the artifact and the preview image).
    public let model: VisionMamba
    /// SHA-256 of the model file; every task requires it.
    public let modelSHA256: String
    private let logger: Logger
    private var reports: [PhaseReport] = []

    /// Creates a driver over `executor`.
    public init(executor: ShardExecutor, model: VisionMamba, modelSHA256: String,
                logger: Logger = Logger(label: "ouromamba.pipeline")) {
        self.executor = executor
        self.model = model
        self.modelSHA256 = modelSHA256
        self.logger = logger
    }

    /// The phases run so far, in order.
    public var phaseReports: [PhaseReport] { reports }

    /// Runs every phase of `plan` and writes its outputs.
    public func run(_ plan: JobPlan) throws -> JobReport {
        try plan.validate()
        let started = Date()
        reports = []
        writeSummary(state: "running", error: nil)
        do {
            var report = JobReport(phases: [], samplesDirectory: nil, generatedSamples: 0, labelFidelity: nil,
                                   artifactPath: nil, quantized: nil, calibCount: 0, seconds: 0)
            var images = plan.calibImages
            if let gen = plan.gen, let dir = plan.samplesDirectory {
                let (set, preds) = try generate(gen, blocksPerTask: plan.blocksPerTask, directory: dir, meta: plan.sampleMeta)
                images = set.images
                report.samplesDirectory = dir
                report.generatedSamples = set.labels.count
                report.labelFidelity = Double(zip(preds, set.labels).filter { $0 == $1 }.count) / Double(max(1, set.labels.count))
            }
            if plan.kind == .quantize, let quant = plan.quant, let images, let out = plan.artifactPath {
                let points = try calibrate(images: images, quant: quant, perTask: plan.blocksPerTask)
                let q = try assemble(quant: quant, points: points, images: images, sourceName: plan.calibSource)
                try QuantArtifact.write(q, to: out)
                logger.info("assembled and wrote \(out)")
                report.artifactPath = out
                report.quantized = q
                report.calibCount = images.shape[0]
            }
            report.phases = reports
            report.seconds = Date().timeIntervalSince(started)
            writeSummary(state: "done", error: nil)
            return report
        } catch {
            writeSummary(state: "failed", error: "\(error)")
            throw error
        }
    }

    // MARK: phases

    private func runPhase(_ name: String, _ tasks: [TaskSpec]) throws -> [TaskResult] {
        logger.info("phase \(name): \(tasks.count) shards")
        let o = try executor.runPhase(name, tasks: tasks)
        let results = try tasks.map { t -> TaskResult in
            guard let r = o.results[t.id] else { throw JobError("phase \(name): no result for task \(t.id)") }
            return r
        }
        let again = results.filter { $0.attempt > 1 }.map { "\($0.taskId)@\($0.attempt)" }
        let report = PhaseReport(phase: name, tasks: tasks.count, resumed: o.resumed, computed: tasks.count - o.resumed,
                                 retries: o.retries, redispatched: again, seconds: o.elapsedSeconds, workers: o.workers)
        reports.append(report)
        var line = "phase \(name) complete: \(report.tasks) shards, \(report.resumed) resumed from the journal, "
            + "\(report.computed) computed, \(report.retries) retries"
        if !again.isEmpty { line += "; re-dispatched shards: \(again.joined(separator: ", "))" }
        line += " (\(String(format: "%.2f", o.elapsedSeconds)) s)"
        if !o.workers.isEmpty {
            line += "; per worker: " + o.workers.map { "\($0.workerId) \($0.tasks) in \(String(format: "%.2f", $0.busySeconds)) s" }
                .joined(separator: ", ")
        }
        if o.workers.first?.workerId == InProcessExecutor.workerId { logger.info("\(line)") } else { logger.notice("\(line)") }
        writeSummary(state: "running", error: nil)
        return results
    }

    /// The Gen phase: generates `gen.samples` samples in shards of `blocksPerTask` blocks and,
    /// with a `directory`, writes the sample set there (`meta` adds `meta.json` entries).
    /// Returns the set and the FP predictions of its images.
    public func generate(_ gen: GenConfig, blocksPerTask: Int = 1, directory: String?,
                         meta: [String: Any] = [:]) throws -> (set: SampleSet, predictions: [Int]) {
        try gen.validate()
        let blockCount = (gen.samples + gen.block - 1) / gen.block
        let tasks = try GenPhase.tasks(config: gen, blockCount: blockCount, perTask: blocksPerTask, modelSHA256: modelSHA256)
        let started = Date()
        let results = try runPhase(GenPhase.name, tasks)
        var blocks: [GeneratedBlock] = [], preds: [Int] = []
        for (t, r) in zip(tasks, results) {
            for b in try GenPhase.decode(r, task: t, config: gen, model: model.config) {
                blocks.append(b.block)
                preds += b.predictions
            }
        }
        let set = try SampleSet(blocks: blocks, expectedBlocks: blockCount)
        if let directory {
            try set.write(to: directory, config: gen, model: model, modelSHA256: modelSHA256, predictions: preds,
                          wallSeconds: Date().timeIntervalSince(started), extraMeta: meta)
            logger.info("wrote \(set.labels.count) samples to \(directory)")
        }
        return (set, preds)
    }

    /// Both calibration passes over `images` in shards of `perTask` blocks, and the arg-min.
    public func calibrate(images: Tensor, quant: QuantConfig, perTask: Int = 1) throws -> [CalibratedPoint] {
        let cal = try Calibrator(model: model, config: quant, threads: 1)
        try model.checkInput(images, source: "calibration images")
        let blockCount = cal.blockCount(samples: images.shape[0])
        let t1 = CalibrationPhases.tasks(phase: CalibrationPhases.pass1, images: images, quant: quant, perTask: perTask,
                                         modelSHA256: modelSHA256)
        var p1: CalibrationPass1?
        for (t, r) in zip(t1, try runPhase(CalibrationPhases.pass1, t1)) {
            let s = try CalibrationPhases.decodePass1(r, task: t)
            if p1 == nil { p1 = s } else { try p1!.merge(s) }
        }
        let summary = try cal.summary(p1!, blockCount: blockCount)
        var p2: CalibrationPass2?
        if quant.method.searches {
            let t2 = CalibrationPhases.tasks(phase: CalibrationPhases.pass2, images: images, quant: quant, perTask: perTask,
                                             modelSHA256: modelSHA256, bounds: summary)
            for (t, r) in zip(t2, try runPhase(CalibrationPhases.pass2, t2)) {
                let s = try CalibrationPhases.decodePass2(r, task: t)
                if p2 == nil { p2 = s } else { try p2!.merge(s) }
            }
        }
        return try cal.finalize(summary: summary, pass2: p2, blockCount: blockCount)
    }

    /// Weight quantization, one task per layer.
    public func quantizeWeights(_ quant: QuantConfig) throws -> [QuantizedLayer] {
        let depth = model.config.depth
        let tasks = WeightPhase.tasks(layers: depth, quant: quant, modelSHA256: modelSHA256)
        var layers = [QuantizedLayer?](repeating: nil, count: depth)
        for (t, r) in zip(tasks, try runPhase(WeightPhase.name, tasks)) {
            let (l, q) = try WeightPhase.decode(r, task: t)
            guard layers[l] == nil else { throw JobError("weights: layer \(l) quantized twice") }
            layers[l] = q
        }
        return try layers.enumerated().map { l, q in
            guard let q else { throw JobError("weights: layer \(l) missing") }
            return q
        }
    }

    /// Quantizes the weights (a phase) and assembles the model with calibrated `points`.
    public func assemble(quant: QuantConfig, points: [CalibratedPoint], images: Tensor, sourceName: String) throws -> QuantizedModel {
        let layers = try quantizeWeights(quant)
        let prov = QuantProvenance(calibSource: sourceName, calibCount: images.shape[0],
                                   calibSHA256: SHA256.hex(floats: images.data), modelSHA256: modelSHA256)
        return try QuantizedModel(config: model.config, quant: quant, fp: model.weights, layers: layers, points: points,
                                  provenance: prov)
    }

    private func writeSummary(state: String, error: String?) {
        guard let path = executor.summaryPath else { return }
        struct Summary: Codable {
            var state: String
            var error: String?
            var phases: [PhaseReport]
        }
        do {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try e.encode(Summary(state: state, error: error, phases: reports))
            try data.withUnsafeBytes { try DurableWrite.replace(path, with: $0) }
        } catch {
            logger.warning("cannot write \(path): \(error)")
        }
    }
}
