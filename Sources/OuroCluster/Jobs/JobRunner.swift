import Foundation
import Logging
import OuroCheckpoint
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant

/// The coordinator-side job driver: runs the phases of a `JobPlan` on a `Coordinator`, merges
/// the results by the rules of cluster.md §6 and writes the outputs (sample set, artifact).
///
/// The coordinator holds no model compute: it only merges (max/min, block-ordered sums,
/// concatenation), takes the arg-min and assembles. The outputs are byte-identical to the
/// single-process path with the workers' thread count, whatever the number of workers or the
/// shard size. With a `Journal`, a restarted job takes finished shards from the journal.
public final class JobRunner {
    /// The coordinator the phases run on.
    public let coordinator: Coordinator
    /// The job journal, if any.
    public let journal: Journal?
    /// The FP model (for shapes, FP tensors of the artifact and the preview image).
    public let model: VisionMamba
    /// SHA-256 of the model file; every TASK requires it.
    public let modelSHA256: String
    private let logger: Logger
    private let onProgress: ((ClusterProgress) -> Void)?
    private var reports: [PhaseReport] = []

    /// Creates a driver. `onProgress` is called on this thread during phases (≥ every progress interval).
    public init(coordinator: Coordinator, journal: Journal?, model: VisionMamba, modelSHA256: String,
                logger: Logger = Logger(label: "ouromamba.cluster.job"), onProgress: ((ClusterProgress) -> Void)? = nil) {
        self.coordinator = coordinator
        self.journal = journal
        self.model = model
        self.modelSHA256 = modelSHA256
        self.logger = logger
        self.onProgress = onProgress
    }

    /// `summary.json` in the job directory: per-phase shard counts (resumed, computed, retries).
    public var summaryFile: URL? { journal?.directory.appendingPathComponent("summary.json") }

    /// Runs every phase of `plan` and writes its outputs.
    public func run(_ plan: JobPlan) throws -> JobReport {
        try plan.validate()
        let started = Date()
        reports = []
        writeSummary(state: "running", error: nil)
        do {
            var report = JobReport(phases: [], samplesDirectory: nil, generatedSamples: 0, labelFidelity: nil,
                                   artifactPath: nil, calibCount: 0, seconds: 0)
            var images = plan.calibImages
            if let gen = plan.gen, let dir = plan.samplesDirectory {
                let (set, preds) = try generate(gen, plan: plan, directory: dir)
                images = set.images
                report.samplesDirectory = dir
                report.generatedSamples = set.labels.count
                report.labelFidelity = Double(zip(preds, set.labels).filter { $0 == $1 }.count) / Double(max(1, set.labels.count))
            }
            if plan.kind == .quantize, let quant = plan.quant, let images, let out = plan.artifactPath {
                let points = try calibrate(images: images, quant: quant, perTask: plan.blocksPerTask)
                let layers = try quantizeWeights(quant)
                let prov = QuantProvenance(calibSource: plan.calibSource, calibCount: images.shape[0],
                                           calibSHA256: SHA256.hex(floats: images.data), modelSHA256: modelSHA256)
                let q = try QuantizedModel(config: model.config, quant: quant, fp: model.weights, layers: layers, points: points,
                                           provenance: prov)
                try QuantArtifact.write(q, to: out)
                logger.info("assembled and wrote \(out)")
                report.artifactPath = out
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
        let o = try coordinator.runPhase(name, tasks: tasks, journal: journal, onProgress: onProgress)
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
        logger.notice("\(line)")
        writeSummary(state: "running", error: nil)
        return results
    }

    private func generate(_ gen: GenConfig, plan: JobPlan, directory: String) throws -> (SampleSet, [Int]) {
        let blockCount = (gen.samples + gen.block - 1) / gen.block
        let tasks = try GenPhase.tasks(config: gen, blockCount: blockCount, perTask: plan.blocksPerTask, modelSHA256: modelSHA256)
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
        try set.write(to: directory, config: gen, model: model, modelSHA256: modelSHA256, predictions: preds,
                      wallSeconds: Date().timeIntervalSince(started), extraMeta: plan.sampleMeta)
        logger.info("wrote \(set.labels.count) samples to \(directory)")
        return (set, preds)
    }

    private func calibrate(images: Tensor, quant: QuantConfig, perTask: Int) throws -> [CalibratedPoint] {
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

    private func quantizeWeights(_ quant: QuantConfig) throws -> [QuantizedLayer] {
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

    private func writeSummary(state: String, error: String?) {
        guard let url = summaryFile else { return }
        struct Summary: Codable {
            var state: String
            var error: String?
            var phases: [PhaseReport]
        }
        do {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.writeAtomically(try e.encode(Summary(state: state, error: error, phases: reports)), to: url.path)
        } catch {
            logger.warning("cannot write \(url.path): \(error)")
        }
    }
}
