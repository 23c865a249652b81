import Foundation
import OuroCheckpoint

extension VisionMamba {
    /// Loads a model from a `.pth` (torch zip) or `.safetensors` checkpoint.
    ///
    /// The config comes from, in order: `configPath`; a sidecar `<name>.config.json` next to
    /// the checkpoint (the fixtures' and `models/` layout); a `config` entry of safetensors
    /// metadata; otherwise it is inferred from the tensor shapes (`stride` overrides).
    public static func load(path: String, configPath: String? = nil, stride: Int? = nil) throws -> VisionMamba {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelError("\(path): no such model file")
        }
        let records = try CheckpointReader.loadStateDict(path: path)
        var dict: [String: (shape: [Int], values: [Float])] = [:]
        for r in records {
            guard r.tensor.dtype.isFloatingPoint else {
                throw ModelError("\(path): key '\(r.name)' has dtype \(r.tensor.dtype.rawValue), expected a float tensor")
            }
            dict[r.name] = (r.tensor.shape, try r.tensor.floats())
        }
        var config: VisionMambaConfig
        if let configPath {
            config = try VisionMambaConfig.load(path: configPath)
        } else if let sidecar = sidecarConfigPath(for: path) {
            config = try VisionMambaConfig.load(path: sidecar)
        } else if (try? CheckpointReader.format(path: path)) == .safetensors,
                  let meta = try? SafeTensorsFile.read(path: path).metadata["config"] {
            config = try VisionMambaConfig.parse(Data(meta.utf8), source: "\(path) metadata 'config'")
        } else {
            config = try VisionMambaConfig.infer(from: dict.mapValues { $0.shape }, stride: stride, source: path)
        }
        if let stride, stride != config.stride {
            config.stride = stride
            try config.validate(source: path)
        }
        let weights = try VisionMambaWeights(stateDict: dict, config: config, source: path)
        return VisionMamba(config: config, weights: weights)
    }

    /// `<dir>/<stem>.config.json` for `<dir>/<stem>.{pth,safetensors}`, if present.
    public static func sidecarConfigPath(for path: String) -> String? {
        let url = URL(fileURLWithPath: path)
        let cand = url.deletingPathExtension().path + ".config.json"
        return FileManager.default.fileExists(atPath: cand) ? cand : nil
    }

    /// Writes the weights as F32 safetensors with official key names (atomically) and the
    /// config JSON in the metadata under `config`.
    public func save(to path: String, metadata extra: [String: String] = [:]) throws {
        var w = SafeTensorsWriter(metadata: extra)
        w.metadata["config"] = String(decoding: config.jsonData(), as: UTF8.self)
        w.metadata["format"] = "pt"
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(config).map { ($0.name, $0.shape) })
        try weights.forEachParameterValue { name, v in
            try w.add(name, shape: shapes[name]!, floats: v)
        }
        try w.write(to: path)
    }
}
