import OuroSupport
import OuroCluster
import OuroEngine
import OuroGen
import OuroModel

/// The Gen phase (cluster.md §9.1): tasks are ranges of sample blocks; a result holds, per
/// block, the images, labels, final per-sample losses, the loss curve and the FP predictions.
/// Merge = concatenation by block index (`SampleSet`, which fails on a missing or duplicate block).
public enum GenPhase {
    /// The phase name.
    public static let name = "gen"

    /// One task per shard of `perTask` blocks.
    public static func tasks(config: GenConfig, blockCount: Int, perTask: Int, modelSHA256: String) throws -> [TaskSpec] {
        let json = try JobCoding.genJSON(config)
        return BlockShard.cut(blockCount: blockCount, perTask: perTask).map { s in
            TaskSpec(id: s.taskId(name), requiredModel: modelSHA256,
                     metadata: ["shard": s.json, "gen_config": .string(json)])
        }
    }

    /// Worker side: generates the shard's blocks.
    static func run(_ spec: TaskSpec, _ ctx: TaskContext, model: VisionMamba, threads: Int, gpu: GPUVisionMamba?) throws -> TaskOutput {
        let source = "task \(spec.id)"
        let shard = try BlockShard.parse(spec.metadata, source: source)
        let config = try JobCoding.gen(spec.metadata["gen_config"]?.stringValue, source: source)
        let gen = try Generator(model: model, config: config, threads: threads, gpu: gpu)
        guard shard.first + shard.count <= gen.blockCount else {
            throw JobError("\(source): blocks \(shard.blocks) outside 0..<\(gen.blockCount)")
        }
        let steps = shard.count * max(1, config.iterations)
        var tensors: [WireTensor] = []
        for (j, b) in shard.blocks.enumerated() {
            if ctx.isCancelled { throw TaskError.system("cancelled") }
            let block = try gen.generateBlock(b) { k in ctx.reportProgress(step: j * max(1, config.iterations) + k, of: steps) }
            let preds = try predictions(model, block.images, threads: threads, gpu: gpu)
            let p = "b\(b)."
            tensors += [WireTensor(name: p + "images", tensor: block.images),
                        WireTensor(name: p + "labels", ints: block.labels.map { Int32($0) }),
                        WireTensor(name: p + "final_loss", doubles: block.finalLoss),
                        WireTensor(name: p + "final_contrastive", doubles: block.finalContrastive),
                        WireTensor(name: p + "final_output", doubles: block.finalOutput),
                        WireTensor(name: p + "loss_curve", doubles: block.lossCurve),
                        WireTensor(name: p + "predictions", ints: preds.map { Int32($0) })]
        }
        let (list, frames) = WireTensors.encode(tensors)
        return TaskOutput(metadata: ["shard": shard.json, WireTensors.key: list], frames: frames)
    }

    /// FP arg-max of each image (the Gen health metric of method.md §3.11).
    static func predictions(_ m: VisionMamba, _ x: Tensor, threads: Int, gpu: GPUVisionMamba? = nil) throws -> [Int] {
        try (gpu.map { try $0.logits(x) } ?? m.logits(x, batchSize: x.shape[0], threads: threads)).rowArgmax()
    }

    /// One decoded block with its predictions.
    public struct Block: Sendable {
        /// The generated block.
        public var block: GeneratedBlock
        /// FP predictions of its images.
        public var predictions: [Int]
    }

    /// Coordinator side: decodes and checks a result against its task (block range, shapes,
    /// finite values). Any inconsistency is an error naming the task.
    public static func decode(_ r: TaskResult, task: TaskSpec, config: GenConfig, model: VisionMambaConfig) throws -> [Block] {
        let source = "result of task \(r.taskId)"
        let shard = try BlockShard.parse(task.metadata, source: "task \(task.id)")
        guard (try? BlockShard.parse(r.metadata, source: source)) == shard else {
            throw JobError("\(source): shard does not match its task (\(shard.blocks))")
        }
        let t = WireTensors.byName(try WireTensors.decode(r.metadata[WireTensors.key], frames: r.frames, source: source))
        guard t.count == 7 * shard.count else { throw JobError("\(source): \(t.count) tensors, expected \(7 * shard.count)") }
        return try shard.blocks.map { b in
            let first = b * config.block, n = min(config.block, config.samples - first)
            guard n > 0 else { throw JobError("\(source): block \(b) is past the last sample") }
            let p = "b\(b).", shape = [n, model.channels, model.imageSize, model.imageSize]
            let images = try t.require(p + "images", source).finiteFloats(source, shape: shape)
            let labels = try t.require(p + "labels", source).int32s(source, count: n).map(Int.init)
            let curve = try t.require(p + "loss_curve", source).finiteDoubles(source,
                                                                             count: config.generator == .noise ? 0 : config.iterations)
            let block = GeneratedBlock(
                index: b, firstSample: first, images: Tensor(shape: shape, data: images), labels: labels,
                finalLoss: try t.require(p + "final_loss", source).finiteDoubles(source, count: n),
                finalContrastive: try t.require(p + "final_contrastive", source).finiteDoubles(source),
                finalOutput: try t.require(p + "final_output", source).finiteDoubles(source, count: n),
                lossCurve: curve)
            let preds = try t.require(p + "predictions", source).int32s(source, count: n).map(Int.init)
            return Block(block: block, predictions: preds)
        }
    }
}
