import OuroModel

/// One activation point of one layer, with the facts its quantizer needs.
public struct PointSpec: Hashable, Sendable {
    public let layer: Int
    public let point: ActivationPoint
    /// Channels C.
    public let channels: Int
    /// Asymmetric (Δ) or symmetric.
    public let asymmetric: Bool
    /// `layer<l>.<point>`, as in the goldens.
    public var name: String { "layer\(layer).\(point)" }
    /// Whether step t of this point is original row L − 1 − t.
    public var reversed: Bool { point.direction == .backward }
    /// Whether the point is the input of a quantized linear (and can feed the integer GEMM).
    public var feedsLinear: Bool { [.input, .out, .xproj, .dtproj].contains(point.kind) }
}

/// The 12 points of every layer of a model, in a fixed order (index = layer·12 + k).
public struct QuantLayout: Sendable {
    public let depth: Int
    public let length: Int
    public let points: [PointSpec]

    public init(_ c: VisionMambaConfig) {
        depth = c.depth; length = c.seqLen
        var p: [PointSpec] = []
        for l in 0..<c.depth {
            for a in ActivationPoint.all {
                let ch: Int
                switch a.kind {
                case .input: ch = c.embedDim
                case .out, .xproj, .delta: ch = c.dInner
                case .dtproj: ch = c.dtRank
                case .B, .C: ch = c.dState
                }
                p.append(PointSpec(layer: l, point: a, channels: ch, asymmetric: a.kind == .delta))
            }
        }
        points = p
    }

    /// Index of a point.
    public func index(layer: Int, _ point: ActivationPoint) -> Int {
        layer * ActivationPoint.all.count + ActivationPoint.all.firstIndex(of: point)!
    }

    /// λ of a point under a configuration (Δ uses `lambda_delta`).
    public static func lambda(_ spec: PointSpec, _ cfg: QuantConfig) -> Double {
        spec.asymmetric ? cfg.lambdaDelta : cfg.lambdaSym
    }
}
