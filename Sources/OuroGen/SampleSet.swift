import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroModel

/// A generated calibration set: images, labels and provenance, ordered by sample index.
public struct SampleSet {
    public var images: Tensor
    public var labels: [Int]
    public var blocks: [GeneratedBlock]

    /// Concatenates blocks in block order; fails loudly on a missing or duplicate block.
    public init(blocks: [GeneratedBlock], expectedBlocks: Int) throws {
        let sorted = blocks.sorted { $0.index < $1.index }
        guard sorted.map(\.index) == Array(0..<expectedBlocks) else {
            throw GenError("gen: blocks \(sorted.map(\.index)) do not cover 0..<\(expectedBlocks) exactly once")
        }
        var data: [Float] = [], labels: [Int] = []
        for b in sorted { data += b.images.data; labels += b.labels }
        var shape = sorted[0].images.shape
        shape[0] = labels.count
        images = Tensor(shape: shape, data: data)
        self.labels = labels
        self.blocks = sorted
    }

    /// Writes `samples.safetensors`, `meta.json` and `preview.png` into `directory`.
    ///
    /// Each file is written to a temporary name and renamed, and `samples.safetensors` is
    /// written last, so an interrupted run never leaves a finished-looking sample set.
    public func write(to directory: String, config: GenConfig, model: VisionMamba, modelSHA256: String,
                      predictions: [Int], wallSeconds: Double, extraMeta: [String: Any] = [:]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        let samplesPath = dir.appendingPathComponent("samples.safetensors").path
        // Remove a stale result first: until the new one lands, the folder holds no samples file.
        try? FileManager.default.removeItem(atPath: samplesPath)
        let norm = model.config.normalization(defaultMean: 0, defaultStd: 1)
        let grid = try ImageGrid.make(images: images, mean: norm.mean, std: norm.std,
                                      columns: min(16, labels.count), scale: max(1, 64 / model.config.imageSize), padding: 2)
        try grid.writePNG(to: dir.appendingPathComponent("preview.png").path)
        let fidelity = zip(predictions, labels).filter { $0 == $1 }.count
        var meta: [String: Any] = [
            "generator": config.generator.rawValue,
            "config": (try? JSONSerialization.jsonObject(with: Self.snakeEncoder.encode(config))) ?? [:],
            "samples": labels.count, "block": config.block, "seed": String(config.seed),
            "rng": GenConfig.rngIdentifier, "model_sha256": modelSHA256,
            "label_fidelity": labels.isEmpty ? 0 : Double(fidelity) / Double(labels.count),
            "wall_seconds": wallSeconds,
            "loss_curve_per_block": blocks.map { $0.lossCurve },
            "final_loss": blocks.flatMap { $0.finalLoss },
            "final_contrastive": blocks.flatMap { $0.finalContrastive },
            "final_output": blocks.flatMap { $0.finalOutput },
            "fp_predictions": predictions,
            "tool": "ouromamba",
        ]
        for (k, v) in extraMeta { meta[k] = v }
        let metaData = try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write([UInt8](metaData), to: dir.appendingPathComponent("meta.json").path)
        var w = SafeTensorsWriter(metadata: ["generator": config.generator.rawValue, "seed": String(config.seed),
                                             "model_sha256": modelSHA256, "rng": GenConfig.rngIdentifier])
        try w.add("images", shape: images.shape, floats: images.data)
        try w.add("labels", shape: [labels.count], int32s: labels.map { Int32($0) })
        try w.write(to: samplesPath)
    }

    /// JSON with the spec's snake_case keys.
    static let snakeEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// The Gen configuration, model checksum and label fidelity recorded in `DIR/meta.json`; nil
    /// when the file is missing or does not hold them.
    public static func recorded(_ directory: String) -> (config: GenConfig, modelSHA256: String, labelFidelity: Double)? {
        let url = URL(fileURLWithPath: directory).appendingPathComponent("meta.json")
        guard let data = try? Data(contentsOf: url),
              let meta = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let sha = meta["model_sha256"] as? String, let fidelity = (meta["label_fidelity"] as? NSNumber)?.doubleValue,
              let c = meta["config"],
              let configData = try? JSONSerialization.data(withJSONObject: c) else { return nil }
        let d = JSONDecoder()
        // The inverse of `snakeEncoder`: Foundation's .convertFromSnakeCase would read
        // `feature_l_2norm` as featureL2Norm.
        d.keyDecodingStrategy = .custom { path in
            let parts = (path.last?.stringValue ?? "").split(separator: "_")
            let camel = parts.enumerated().map { $0.offset == 0 ? String($0.element) : $0.element.prefix(1).uppercased() + $0.element.dropFirst() }
            return SnakeKey(stringValue: camel.joined())
        }
        guard let config = try? d.decode(GenConfig.self, from: configData) else { return nil }
        return (config, sha, fidelity)
    }

    /// Reads `DIR/samples.safetensors` (or a file path) into images and labels.
    public static func read(_ path: String) throws -> (images: Tensor, labels: [Int32], metadata: [String: String]) {
        var file = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = URL(fileURLWithPath: path).appendingPathComponent("samples.safetensors").path
        }
        guard FileManager.default.fileExists(atPath: file) else { throw GenError("\(file): no samples file (run `ouromamba generate` first)") }
        let f = try SafeTensorsFile.read(path: file)
        guard f.contains("images") else { throw GenError("\(file): missing key 'images' (expected [N,C,H,W] float32)") }
        let t = try f.tensor("images")
        guard t.shape.count == 4 else { throw GenError("\(file): key 'images' has shape \(t.shape), expected [N,C,H,W]") }
        let labels = f.contains("labels") ? try f.tensor("labels").int32s() : []
        return (Tensor(shape: t.shape, data: try t.floats()), labels, f.metadata)
    }
}

/// A decoding key made from a snake_case one.
private struct SnakeKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
