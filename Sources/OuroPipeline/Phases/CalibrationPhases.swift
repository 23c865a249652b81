import OuroSupport
import OuroCluster
import OuroEngine
import OuroModel
import OuroQuant

/// The two activation-calibration phases (cluster.md §9.3–4, method.md §4.4). Tasks are
/// ranges of calibration blocks with their images inline (one float32 frame). Pass 1 results
/// are max/min-merged (and block-ordered sums), pass-2 TASKs carry the merged bounds, pass-2
/// error sums are summed in block order and the arg-min is taken on the coordinator.
public enum CalibrationPhases {
    /// Pass-1 phase name.
    public static let pass1 = "calib-pass1"
    /// Pass-2 phase name.
    public static let pass2 = "calib-pass2"

    /// Tasks of one pass: each carries its shard's images and, for pass 2, the merged bounds.
    public static func tasks(phase: String, images: Tensor, quant: QuantConfig, perTask: Int, modelSHA256: String,
                             bounds: Pass1Summary? = nil) -> [TaskSpec] {
        let N = images.shape[0], cb = quant.calibBlock
        let blockCount = (N + cb - 1) / cb
        let extra = bounds.map { $0.encode().map(WireTensor.init) } ?? []
        return BlockShard.cut(blockCount: blockCount, perTask: perTask).map { s in
            let start = s.first * cb, n = min(s.count * cb, N - start)
            let (list, frames) = WireTensors.encode([WireTensor(name: "images", tensor: images.slice(outer: start, count: n))] + extra)
            return TaskSpec(id: s.taskId(phase), requiredModel: modelSHA256,
                            metadata: ["shard": s.json, "quant_config": JobCoding.quantJSON(quant), WireTensors.key: list],
                            frames: frames)
        }
    }

    /// Worker side: runs pass 1 or pass 2 over the shard's blocks and returns the shard's merged statistics.
    static func run(_ spec: TaskSpec, _ ctx: TaskContext, model: VisionMamba, threads: Int, gpu: GPUVisionMamba?) throws -> TaskOutput {
        let source = "task \(spec.id)"
        let shard = try BlockShard.parse(spec.metadata, source: source)
        let quant = try JobCoding.quant(spec.metadata["quant_config"], source: source)
        let inputs = try WireTensors.decode(spec.metadata[WireTensors.key], frames: spec.frames, source: source)
        let byName = WireTensors.byName(inputs)
        let t = try byName.require("images", source)
        let c = model.config
        guard t.shape.count == 4, t.shape[1...] == [c.channels, c.imageSize, c.imageSize][...],
              t.shape[0] > (shard.count - 1) * quant.calibBlock, t.shape[0] <= shard.count * quant.calibBlock else {
            throw JobError("\(source): images of shape \(t.shape) do not fit \(shard.count) blocks of \(quant.calibBlock) for this model")
        }
        let images = Tensor(shape: t.shape, data: try t.finiteFloats(source))
        let cal = try Calibrator(model: model, config: quant, threads: threads, gpu: gpu)
        func block(_ j: Int) -> Tensor {
            let start = j * quant.calibBlock
            return images.slice(outer: start, count: min(quant.calibBlock, images.shape[0] - start))
        }
        let encoded: [EncodedTensor]
        if spec.phase == pass1 {
            var merged: CalibrationPass1?
            for (j, b) in shard.blocks.enumerated() {
                if ctx.isCancelled { throw TaskError.system("cancelled") }
                let s = try cal.pass1(block: b, images: block(j))
                if merged == nil { merged = s } else { try merged!.merge(s) }
                ctx.reportProgress(step: j + 1, of: shard.count)
            }
            encoded = merged!.encode()
        } else {
            let boundTensors = inputs.filter { $0.name.hasPrefix("bounds.") }.map(\.encoded)
            let summary = try Pass1Summary.decode(boundTensors, source: source)
            var merged: CalibrationPass2?
            for (j, b) in shard.blocks.enumerated() {
                if ctx.isCancelled { throw TaskError.system("cancelled") }
                let s = try cal.pass2(block: b, images: block(j), summary: summary)
                if merged == nil { merged = s } else { try merged!.merge(s) }
                ctx.reportProgress(step: j + 1, of: shard.count)
            }
            encoded = merged!.encode()
        }
        let (list, frames) = WireTensors.encode(encoded.map(WireTensor.init))
        return TaskOutput(metadata: ["shard": shard.json, WireTensors.key: list], frames: frames)
    }

    /// Coordinator side: the pass-1 statistics of one result, checked against its task's blocks
    /// (non-finite maxima are rejected by the decoder).
    public static func decodePass1(_ r: TaskResult, task: TaskSpec) throws -> CalibrationPass1 {
        let source = "result of task \(r.taskId)"
        let shard = try BlockShard.parse(task.metadata, source: "task \(task.id)")
        let t = try WireTensors.decode(r.metadata[WireTensors.key], frames: r.frames, source: source)
        let p1 = try CalibrationPass1.decode(t.map(\.encoded), source: source)
        guard p1.blocks == Array(shard.blocks) else {
            throw JobError("\(source): holds blocks \(p1.blocks), its task covers \(Array(shard.blocks))")
        }
        return p1
    }

    /// Coordinator side: the pass-2 error sums of one result, checked against its task's blocks.
    public static func decodePass2(_ r: TaskResult, task: TaskSpec) throws -> CalibrationPass2 {
        let source = "result of task \(r.taskId)"
        let shard = try BlockShard.parse(task.metadata, source: "task \(task.id)")
        let t = try WireTensors.decode(r.metadata[WireTensors.key], frames: r.frames, source: source)
        let p2 = try CalibrationPass2.decode(t.map(\.encoded), source: source)
        for (i, p) in p2.points.enumerated() where p.blocks != Array(shard.blocks) {
            throw JobError("\(source): point \(i) holds blocks \(p.blocks), its task covers \(Array(shard.blocks))")
        }
        return p2
    }
}
