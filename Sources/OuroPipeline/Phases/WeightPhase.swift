import OuroSupport
import OuroCluster
import OuroModel
import OuroQuant

/// Weight quantization (cluster.md §9.2): one task per layer, no data needed; the result holds
/// the layer's quantized tensors (`LayerTensor.all`). Merge = collect, exactly one result per layer.
public enum WeightPhase {
    /// The phase name.
    public static let name = "weights"

    /// One task per layer.
    public static func tasks(layers: Int, quant: QuantConfig, modelSHA256: String) -> [TaskSpec] {
        (0..<layers).map { l in
            TaskSpec(id: String(format: "\(name).l%03d", l), requiredModel: modelSHA256,
                     metadata: ["layer": .int(l), "quant_config": JobCoding.quantJSON(quant)])
        }
    }

    /// Worker side: quantizes one layer.
    static func run(_ spec: TaskSpec, model: VisionMamba) throws -> TaskOutput {
        let source = "task \(spec.id)"
        let quant = try JobCoding.quant(spec.metadata["quant_config"], source: source)
        guard let l = spec.metadata["layer"]?.intValue, model.weights.layers.indices.contains(l) else {
            throw JobError("\(source): layer missing or outside 0..<\(model.weights.layers.count)")
        }
        let q = QuantizedLayer.quantize(model.weights.layers[l], config: model.config, weightBits: quant.setting.weightBits,
                                        adBits: quant.adBits, candidates: quant.candidates)
        var tensors: [WireTensor] = []
        for (t, m) in zip(LayerTensor.all, q.tensors) {
            let n = t.name
            tensors += [WireTensor(name: n + ".values", dtype: .i8, shape: [m.rows, m.cols], frame: Frame(copyingElementsOf: m.values)),
                        WireTensor(name: n + ".scales", floats: m.scales), WireTensor(name: n + ".istar", ints: m.istar),
                        WireTensor(name: n + ".bits", ints: [Int32(m.bits)])]
        }
        let (list, frames) = WireTensors.encode(tensors)
        return TaskOutput(metadata: ["layer": .int(l), WireTensors.key: list], frames: frames)
    }

    /// Coordinator side: rebuilds the layer (shapes and finiteness checked; coverage is checked again on assembly).
    public static func decode(_ r: TaskResult, task: TaskSpec) throws -> (layer: Int, quantized: QuantizedLayer) {
        let source = "result of task \(r.taskId)"
        guard let l = task.metadata["layer"]?.intValue, r.metadata["layer"]?.intValue == l else {
            throw JobError("\(source): layer does not match its task")
        }
        let t = WireTensors.byName(try WireTensors.decode(r.metadata[WireTensors.key], frames: r.frames, source: source))
        let names = LayerTensor.all.map(\.name)
        guard t.count == 4 * names.count else { throw JobError("\(source): \(t.count) tensors, expected \(4 * names.count)") }
        let mats: [QuantizedMatrix] = try names.map { n in
            let v = try t.require(n + ".values", source)
            guard v.dtype == .i8, v.shape.count == 2, let values = v.frame.elements(as: Int8.self) else {
                throw JobError("\(source): \(n).values must be a 2-D int8 tensor")
            }
            let rows = v.shape[0], cols = v.shape[1]
            let scales = try t.require(n + ".scales", source).finiteFloats(source, shape: [rows])
            let istar = try t.require(n + ".istar", source).int32s(source, count: rows)
            let bits = try t.require(n + ".bits", source).int32s(source, count: 1)[0]
            return QuantizedMatrix(rows: rows, cols: cols, bits: Int(bits), values: values, scales: scales, istar: istar)
        }
        return (l, QuantizedLayer(tensors: mats))
    }
}
