import Foundation

/// Hyper-parameters of a Vision Mamba (Vim) model.
///
/// Covers every official variant (tiny/small/base, stride 16 or 8) and any image size,
/// channel count, patch size, depth and class count. Reads the JSON schema of
/// `shared/fixtures/*.config.json`, plus optional `normalize_mean` / `normalize_std`.
public struct VisionMambaConfig: Equatable, Sendable {
    public var imageSize: Int
    public var channels: Int
    public var patchSize: Int
    public var stride: Int
    public var embedDim: Int
    public var depth: Int
    public var dState: Int
    public var dConv: Int
    public var expand: Int
    public var dtRank: Int
    public var numClasses: Int
    public var normEps: Float
    /// Per-channel input normalisation (one value broadcasts). Nil: not stated.
    public var normalizeMean: [Float]?
    public var normalizeStd: [Float]?

    public init(imageSize: Int, channels: Int, patchSize: Int, stride: Int? = nil, embedDim: Int,
                depth: Int, dState: Int = 16, dConv: Int = 4, expand: Int = 2, dtRank: Int? = nil,
                numClasses: Int, normEps: Float = 1e-5,
                normalizeMean: [Float]? = nil, normalizeStd: [Float]? = nil) {
        self.imageSize = imageSize; self.channels = channels; self.patchSize = patchSize
        self.stride = stride ?? patchSize; self.embedDim = embedDim; self.depth = depth
        self.dState = dState; self.dConv = dConv; self.expand = expand
        self.dtRank = dtRank ?? (embedDim + 15) / 16
        self.numClasses = numClasses; self.normEps = normEps
        self.normalizeMean = normalizeMean; self.normalizeStd = normalizeStd
    }

    /// Patch grid side G = (img − patch) / stride + 1.
    public var gridSize: Int { (imageSize - patchSize) / stride + 1 }
    /// M = G².
    public var numPatches: Int { gridSize * gridSize }
    /// L = M + 1.
    public var seqLen: Int { numPatches + 1 }
    /// Images per forward when evaluating many: about 200 token rows, so that one forward's
    /// activations stay in a core's cache (4 images at 50 tokens, 1 at 197). Measured best or
    /// near it for both the FP32 and the integer engine on the models in `docs/results.md`.
    public var imagesPerForward: Int { max(1, 200 / seqLen) }
    /// cls index c = M // 2.
    public var clsIndex: Int { numPatches / 2 }
    /// E = expand · D.
    public var dInner: Int { expand * embedDim }
    /// Values per patch, C·P·P.
    public var patchDim: Int { channels * patchSize * patchSize }

    /// Official registered variants.
    public static func tiny(stride: Int = 16) -> VisionMambaConfig {
        .init(imageSize: 224, channels: 3, patchSize: 16, stride: stride, embedDim: 192, depth: 24, numClasses: 1000,
              normalizeMean: [0.485, 0.456, 0.406], normalizeStd: [0.229, 0.224, 0.225])
    }
    public static func small(stride: Int = 16) -> VisionMambaConfig {
        .init(imageSize: 224, channels: 3, patchSize: 16, stride: stride, embedDim: 384, depth: 24, numClasses: 1000,
              normalizeMean: [0.485, 0.456, 0.406], normalizeStd: [0.229, 0.224, 0.225])
    }
    public static func base() -> VisionMambaConfig {
        .init(imageSize: 224, channels: 3, patchSize: 16, stride: 16, embedDim: 768, depth: 24, numClasses: 1000,
              normalizeMean: [0.485, 0.456, 0.406], normalizeStd: [0.229, 0.224, 0.225])
    }

    /// Checks internal consistency; throws a readable error.
    public func validate(source: String = "config") throws {
        func bad(_ m: String) -> ModelError { ModelError("\(source): \(m)") }
        guard imageSize > 0, channels > 0, patchSize > 0, stride > 0, embedDim > 0, depth > 0,
              dState > 0, dConv > 0, expand > 0, dtRank > 0, numClasses > 0 else {
            throw bad("every size must be positive")
        }
        guard patchSize <= imageSize else { throw bad("patch_size \(patchSize) exceeds img_size \(imageSize)") }
        guard (imageSize - patchSize) % stride == 0 else {
            throw bad("(img_size − patch_size) = \(imageSize - patchSize) is not a multiple of stride \(stride)")
        }
        for (name, v) in [("normalize_mean", normalizeMean), ("normalize_std", normalizeStd)] {
            if let v, v.count != 1 && v.count != channels {
                throw bad("\(name) has \(v.count) values, expected 1 or \(channels)")
            }
        }
        if let s = normalizeStd, s.contains(where: { !($0 > 0) }) { throw bad("normalize_std must be > 0") }
    }

    /// Normalisation mean/std per channel, with a fallback when the config says nothing.
    public func normalization(defaultMean: Float, defaultStd: Float) -> (mean: [Float], std: [Float]) {
        func expand(_ v: [Float]?, _ d: Float) -> [Float] {
            guard let v else { return [Float](repeating: d, count: channels) }
            return v.count == 1 ? [Float](repeating: v[0], count: channels) : v
        }
        return (expand(normalizeMean, defaultMean), expand(normalizeStd, defaultStd))
    }
}

/// An error from the model layer (bad config, missing key, wrong shape, wrong input).
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ message: String) { description = message }
}

// MARK: - JSON

extension VisionMambaConfig {
    /// Reads a config JSON file (fixture schema).
    public static func load(path: String) throws -> VisionMambaConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError("\(path): cannot read config (\(error.localizedDescription))")
        }
        return try parse(data, source: path)
    }

    /// Parses config JSON; `source` names the file in errors.
    public static func parse(_ data: Data, source: String) throws -> VisionMambaConfig {
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError("\(source): not a JSON object")
        }
        func int(_ k: String, _ def: Int? = nil) throws -> Int {
            if let v = obj[k] as? Int { return v }
            if let v = obj[k] as? Double, v == v.rounded() { return Int(v) }
            if let def { return def }
            throw ModelError("\(source): missing or non-integer key '\(k)'")
        }
        func floats(_ k: String) throws -> [Float]? {
            guard let v = obj[k] else { return nil }
            if let d = v as? Double { return [Float(d)] }
            if let a = v as? [Double] { return a.map { Float($0) } }
            if let a = v as? [Int] { return a.map { Float($0) } }
            throw ModelError("\(source): key '\(k)' must be a number or an array of numbers")
        }
        let patch = try int("patch_size")
        let embed = try int("embed_dim")
        var cfg = VisionMambaConfig(
            imageSize: try int("img_size"), channels: try int("channels", 3), patchSize: patch,
            stride: try int("stride", patch), embedDim: embed, depth: try int("depth"),
            dState: try int("d_state", 16), dConv: try int("d_conv", 4), expand: try int("expand", 2),
            dtRank: try int("dt_rank", (embed + 15) / 16), numClasses: try int("num_classes"),
            normEps: Float((obj["norm_eps"] as? Double) ?? 1e-5),
            normalizeMean: try floats("normalize_mean"), normalizeStd: try floats("normalize_std"))
        if let di = obj["d_inner"] as? Int, di != cfg.dInner {
            throw ModelError("\(source): d_inner \(di) != expand·embed_dim \(cfg.dInner)")
        }
        if let gs = obj["grid_size"] as? [Int], gs != [cfg.gridSize, cfg.gridSize] {
            throw ModelError("\(source): grid_size \(gs) inconsistent with img/patch/stride (expected \(cfg.gridSize))")
        }
        if let bi = obj["bidirectional"] as? String, bi != "bimamba_v2" {
            throw ModelError("\(source): bidirectional '\(bi)' unsupported, expected 'bimamba_v2'")
        }
        if let n = obj["norm"] as? String, n != "rmsnorm" {
            throw ModelError("\(source): norm '\(n)' unsupported, expected 'rmsnorm'")
        }
        try cfg.validate(source: source)
        cfg.normEps = Float((obj["norm_eps"] as? Double) ?? 1e-5)
        return cfg
    }

    /// JSON in the fixture schema (plus normalisation when set); keys sorted for stable bytes.
    public func jsonObject() -> [String: Any] {
        var o: [String: Any] = [
            "architecture": "vision_mamba", "img_size": imageSize, "channels": channels,
            "patch_size": patchSize, "stride": stride, "grid_size": [gridSize, gridSize],
            "num_patches": numPatches, "seq_len": seqLen, "embed_dim": embedDim, "depth": depth,
            "d_state": dState, "d_conv": dConv, "expand": expand, "d_inner": dInner, "dt_rank": dtRank,
            "num_classes": numClasses, "cls_token": true, "cls_token_position": clsIndex,
            "cls_token_position_rule": "num_patches // 2",
            "pos_embed": "learned_absolute_added_after_cls_insertion", "norm": "rmsnorm",
            "norm_eps": Double(normEps), "norm_bias": false, "block": "add_norm_mixer",
            "residual_in_fp32": true, "bidirectional": "bimamba_v2", "bidirectional_divide_out": true,
            "conv_bias": true, "in_proj_bias": false, "out_proj_bias": false, "x_proj_bias": false,
            "dt_proj_bias": true, "delta_softplus": true, "softplus_threshold": 20.0,
            "A_parametrization": "A = -exp(A_log)", "final_pool": "cls_token", "head_bias": true,
            "dtype": "float32",
        ]
        if let m = normalizeMean { o["normalize_mean"] = m.count == 1 ? Double(m[0]) as Any : m.map { Double($0) } as Any }
        if let s = normalizeStd { o["normalize_std"] = s.count == 1 ? Double(s[0]) as Any : s.map { Double($0) } as Any }
        return o
    }

    /// Serialised JSON (pretty, sorted keys).
    public func jsonData() -> Data {
        (try? JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }

    /// Infers the config from state-dict shapes. The stride cannot be seen in the weights when
    /// patches overlap, so it is given (default: the patch size, or derived from pos_embed rows).
    public static func infer(from shapes: [String: [Int]], imageSize: Int? = nil, stride: Int? = nil,
                             source: String = "checkpoint") throws -> VisionMambaConfig {
        func shape(_ k: String) throws -> [Int] {
            guard let s = shapes[k] else { throw ModelError("\(source): missing key '\(k)' needed to infer the config") }
            return s
        }
        let pe = try shape("patch_embed.proj.weight")
        guard pe.count == 4, pe[2] == pe[3] else { throw ModelError("\(source): patch_embed.proj.weight has shape \(pe), expected (D, C, P, P)") }
        let D = pe[0], C = pe[1], P = pe[2]
        var depth = 0
        while shapes["layers.\(depth).mixer.in_proj.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw ModelError("\(source): no 'layers.0.mixer.in_proj.weight': not a Vision Mamba state dict") }
        let aLog = try shape("layers.0.mixer.A_log")
        let inProj = try shape("layers.0.mixer.in_proj.weight")
        let conv = try shape("layers.0.mixer.conv1d.weight")
        let dtW = try shape("layers.0.mixer.dt_proj.weight")
        let head = try shape("head.weight")
        let pos = try shape("pos_embed")
        guard pos.count == 3 else { throw ModelError("\(source): pos_embed has shape \(pos), expected (1, L, D)") }
        let L = pos[1], M = L - 1
        let G = Int(Double(M).squareRoot().rounded())
        guard G * G == M else { throw ModelError("\(source): pos_embed has \(L) rows; L − 1 = \(M) is not a square grid") }
        let s = stride ?? P
        let img = imageSize ?? ((G - 1) * s + P)
        let cfg = VisionMambaConfig(imageSize: img, channels: C, patchSize: P, stride: s, embedDim: D, depth: depth,
                                    dState: aLog[1], dConv: conv[2], expand: inProj[0] / 2 / D, dtRank: dtW[1],
                                    numClasses: head[0])
        try cfg.validate(source: source)
        guard cfg.gridSize == G else {
            throw ModelError("\(source): grid \(G)×\(G) from pos_embed does not match img \(img), patch \(P), stride \(s) (give --stride)")
        }
        return cfg
    }
}
