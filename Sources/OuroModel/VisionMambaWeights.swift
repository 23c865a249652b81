/// The parameters of one scan direction of a bimamba-v2 mixer.
public struct DirectionWeights: Sendable, Equatable {
    /// conv1d weight (E, 1, K) stored as (E, K).
    public var convWeight: [Float]
    public var convBias: [Float]
    /// x_proj (R + 2N, E).
    public var xProj: [Float]
    /// dt_proj (E, R) and its bias (E), the Δ bias added inside the softplus.
    public var dtProj: [Float]
    public var dtBias: [Float]
    /// A_log (E, N); A = −exp(A_log).
    public var aLog: [Float]
    /// Skip term D (E).
    public var d: [Float]
    /// A replacement for A = −exp(A_log) (E, N), e.g. the quantized Â. Not a parameter.
    public var aOverride: [Float]? = nil
}

/// The parameters of one layer (block): its RMSNorm and its mixer.
public struct LayerWeights: Sendable, Equatable {
    public var normWeight: [Float]
    /// in_proj (2E, D): rows [0, E) → x, [E, 2E) → z.
    public var inProj: [Float]
    /// out_proj (D, E).
    public var outProj: [Float]
    public var forward: DirectionWeights
    public var backward: DirectionWeights

    /// The direction's weights by index (0 forward, 1 backward).
    public subscript(direction: ScanDirection) -> DirectionWeights {
        get { direction == .forward ? forward : backward }
        set { if direction == .forward { forward = newValue } else { backward = newValue } }
    }
}

/// Scan direction of the bidirectional mixer.
public enum ScanDirection: Int, CaseIterable, Sendable {
    case forward = 0, backward = 1
    /// Suffix used in quantization point names ("f"/"b").
    public var suffix: String { self == .forward ? "f" : "b" }
}

/// All parameters of a Vision Mamba model, in official names and PyTorch layout.
public struct VisionMambaWeights: Sendable, Equatable {
    /// patch_embed.proj.weight (D, C, P, P) and bias (D).
    public var patchWeight: [Float]
    public var patchBias: [Float]
    /// cls_token (1, 1, D) and pos_embed (1, L, D).
    public var clsToken: [Float]
    public var posEmbed: [Float]
    public var layers: [LayerWeights]
    public var normF: [Float]
    /// head.weight (classes, D) and bias.
    public var headWeight: [Float]
    public var headBias: [Float]

    /// Zero-filled weights of the right shapes (gradient accumulators, initialisers).
    public init(zerosFor c: VisionMambaConfig) {
        let D = c.embedDim, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv
        func z(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }
        let dir = DirectionWeights(convWeight: z(E * K), convBias: z(E), xProj: z((R + 2 * N) * E),
                                   dtProj: z(E * R), dtBias: z(E), aLog: z(E * N), d: z(E))
        patchWeight = z(D * c.patchDim); patchBias = z(D)
        clsToken = z(D); posEmbed = z(c.seqLen * D)
        layers = [LayerWeights](repeating: LayerWeights(normWeight: z(D), inProj: z(2 * E * D), outProj: z(D * E),
                                                        forward: dir, backward: dir), count: c.depth)
        normF = z(D); headWeight = z(c.numClasses * D); headBias = z(c.numClasses)
    }

    /// Official state-dict names and shapes, in `state_dict()` order.
    public static func parameterShapes(_ c: VisionMambaConfig) -> [(name: String, shape: [Int])] {
        let D = c.embedDim, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv, P = c.patchSize
        var out: [(String, [Int])] = [
            ("cls_token", [1, 1, D]), ("pos_embed", [1, c.seqLen, D]),
            ("patch_embed.proj.weight", [D, c.channels, P, P]), ("patch_embed.proj.bias", [D]),
        ]
        for l in 0..<c.depth {
            let p = "layers.\(l).mixer."
            out += [
                (p + "A_log", [E, N]), (p + "D", [E]), (p + "A_b_log", [E, N]), (p + "D_b", [E]),
                (p + "in_proj.weight", [2 * E, D]),
                (p + "conv1d.weight", [E, 1, K]), (p + "conv1d.bias", [E]),
                (p + "x_proj.weight", [R + 2 * N, E]),
                (p + "dt_proj.weight", [E, R]), (p + "dt_proj.bias", [E]),
                (p + "conv1d_b.weight", [E, 1, K]), (p + "conv1d_b.bias", [E]),
                (p + "x_proj_b.weight", [R + 2 * N, E]),
                (p + "dt_proj_b.weight", [E, R]), (p + "dt_proj_b.bias", [E]),
                (p + "out_proj.weight", [D, E]),
                ("layers.\(l).norm.weight", [D]),
            ]
        }
        out += [("norm_f.weight", [D]), ("head.weight", [c.numClasses, D]), ("head.bias", [c.numClasses])]
        return out
    }

    /// Visits every parameter by official name, mutably, in `state_dict()` order.
    public mutating func forEachParameter(_ body: (String, inout [Float]) throws -> Void) rethrows {
        try body("cls_token", &clsToken); try body("pos_embed", &posEmbed)
        try body("patch_embed.proj.weight", &patchWeight); try body("patch_embed.proj.bias", &patchBias)
        for l in layers.indices {
            let p = "layers.\(l).mixer."
            try body(p + "A_log", &layers[l].forward.aLog); try body(p + "D", &layers[l].forward.d)
            try body(p + "A_b_log", &layers[l].backward.aLog); try body(p + "D_b", &layers[l].backward.d)
            try body(p + "in_proj.weight", &layers[l].inProj)
            try body(p + "conv1d.weight", &layers[l].forward.convWeight); try body(p + "conv1d.bias", &layers[l].forward.convBias)
            try body(p + "x_proj.weight", &layers[l].forward.xProj)
            try body(p + "dt_proj.weight", &layers[l].forward.dtProj); try body(p + "dt_proj.bias", &layers[l].forward.dtBias)
            try body(p + "conv1d_b.weight", &layers[l].backward.convWeight); try body(p + "conv1d_b.bias", &layers[l].backward.convBias)
            try body(p + "x_proj_b.weight", &layers[l].backward.xProj)
            try body(p + "dt_proj_b.weight", &layers[l].backward.dtProj); try body(p + "dt_proj_b.bias", &layers[l].backward.dtBias)
            try body(p + "out_proj.weight", &layers[l].outProj)
            try body("layers.\(l).norm.weight", &layers[l].normWeight)
        }
        try body("norm_f.weight", &normF); try body("head.weight", &headWeight); try body("head.bias", &headBias)
    }

    /// Non-mutating visit (copies are cheap: arrays are copy-on-write).
    public func forEachParameterValue(_ body: (String, [Float]) throws -> Void) rethrows {
        var copy = self
        try copy.forEachParameter { name, v in try body(name, v) }
    }

    /// Total parameter count.
    public var parameterCount: Int {
        var n = 0
        forEachParameterValue { _, v in n += v.count }
        return n
    }

    /// Builds weights from a state dict (name → (shape, values)), checking every key and shape.
    /// Extra keys are an error unless listed in `ignoring` (strict loading, as the official code).
    public init(stateDict: [String: (shape: [Int], values: [Float])], config c: VisionMambaConfig,
                source: String) throws {
        self.init(zerosFor: c)
        let expected = Dictionary(uniqueKeysWithValues: Self.parameterShapes(c).map { ($0.name, $0.shape) })
        try forEachParameter { name, v in
            guard let t = stateDict[name] else {
                throw ModelError("\(source): missing key '\(name)' (expected shape \(expected[name]!))")
            }
            let want = expected[name]!
            guard t.shape == want else {
                throw ModelError("\(source): key '\(name)' has shape \(t.shape), expected \(want)")
            }
            guard t.values.count == v.count else {
                throw ModelError("\(source): key '\(name)' has \(t.values.count) values, expected \(v.count)")
            }
            v = t.values
        }
        let unknown = stateDict.keys.filter { expected[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw ModelError("\(source): unexpected key(s) \(unknown.prefix(5).joined(separator: ", "))\(unknown.count > 5 ? ", …" : "") for this config")
        }
        try checkFinite(source: source)
    }

    /// Rejects NaN/Inf parameters with the offending key.
    public func checkFinite(source: String) throws {
        try forEachParameterValue { name, v in
            if let i = v.firstIndex(where: { !$0.isFinite }) {
                throw ModelError("\(source): key '\(name)' has a non-finite value at index \(i)")
            }
        }
    }
}
