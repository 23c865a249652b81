import OuroModel

/// One quantized tensor of a Mamba layer: the single description that calibration, the
/// artifact, both engines and the cluster read, instead of each listing the ten matrices.
public struct LayerTensor: Sendable {
    /// Which bit width applies: the weight bits b_w, or the Â/D̂ bits (`ad_bits`).
    public enum Bits: Sendable {
        case weight, scanParameter
    }

    /// Name in the artifact (`layers.L.mixer.NAME.qweight`) and on the wire: `in_proj`, `x_proj_b`, `A_b`, …
    public let name: String
    /// The official parameter it replaces (`in_proj.weight`, `A_b_log`, `D_b`, …) under `layers.L.mixer.`.
    public let official: String
    /// Which bit width it takes.
    public let bits: Bits
    /// The linear layer it drives (nil for Â and D̂, which the scan uses).
    public let linear: LinearKind?
    /// Where it sits in a `QuantizedLayer`.
    public let keyPath: WritableKeyPath<QuantizedLayer, QuantizedMatrix> & Sendable
    /// (rows, cols) for a model.
    public let shape: @Sendable (VisionMambaConfig) -> (rows: Int, cols: Int)
    /// The float values it quantizes (Â: A = −exp(A_log)).
    public let values: @Sendable (LayerWeights) -> [Float]
    /// Puts the dequantized values back into FP weights (the simulated model).
    public let restore: @Sendable (inout LayerWeights, [Float]) -> Void

    /// Its bit width under `config`.
    public func bitWidth(_ config: QuantConfig) -> Int { bits == .weight ? config.setting.weightBits : config.adBits }
}

extension LayerTensor {
    /// The ten quantized tensors of a layer, in artifact and wire order.
    public static let all: [LayerTensor] = {
        var t: [LayerTensor] = [
            LayerTensor(name: "in_proj", official: "in_proj.weight", bits: .weight, linear: .inProj, keyPath: \.inProj,
                        shape: { (2 * $0.dInner, $0.embedDim) }, values: { $0.inProj }, restore: { $0.inProj = $1 }),
            LayerTensor(name: "out_proj", official: "out_proj.weight", bits: .weight, linear: .outProj, keyPath: \.outProj,
                        shape: { ($0.embedDim, $0.dInner) }, values: { $0.outProj }, restore: { $0.outProj = $1 }),
        ]
        for d in ScanDirection.allCases {
            let sfx = d == .forward ? "" : "_b"
            t.append(LayerTensor(name: "x_proj" + sfx, official: "x_proj\(sfx).weight", bits: .weight, linear: .xProj(d),
                                 keyPath: \.xProj[d.rawValue], shape: { ($0.dtRank + 2 * $0.dState, $0.dInner) },
                                 values: { $0[d].xProj }, restore: { $0[d].xProj = $1 }))
        }
        for d in ScanDirection.allCases {
            let sfx = d == .forward ? "" : "_b"
            t.append(LayerTensor(name: "dt_proj" + sfx, official: "dt_proj\(sfx).weight", bits: .weight, linear: .dtProj(d),
                                 keyPath: \.dtProj[d.rawValue], shape: { ($0.dInner, $0.dtRank) },
                                 values: { $0[d].dtProj }, restore: { $0[d].dtProj = $1 }))
        }
        for d in ScanDirection.allCases {
            let sfx = d == .forward ? "" : "_b"
            t.append(LayerTensor(name: "A" + sfx, official: "A\(sfx)_log", bits: .scanParameter, linear: nil,
                                 keyPath: \.a[d.rawValue], shape: { ($0.dInner, $0.dState) },
                                 values: { QuantizedLayer.aMatrix($0[d].aLog) }, restore: { $0[d].aOverride = $1 }))
        }
        for d in ScanDirection.allCases {
            let sfx = d == .forward ? "" : "_b"
            t.append(LayerTensor(name: "D" + sfx, official: "D\(sfx)", bits: .scanParameter, linear: nil,
                                 keyPath: \.d[d.rawValue], shape: { ($0.dInner, 1) },
                                 values: { $0[d].d }, restore: { $0[d].d = $1 }))
        }
        return t
    }()

    /// The tensors that drive linear layers (the integer engine packs these).
    public static var linears: [LayerTensor] { all.filter { $0.linear != nil } }
}

extension QuantizedLayer {
    /// A layer from its tensors in `LayerTensor.all` order.
    public init(tensors: [QuantizedMatrix]) {
        precondition(tensors.count == LayerTensor.all.count, "QuantizedLayer: \(tensors.count) tensors, expected \(LayerTensor.all.count)")
        let placeholder = QuantizedMatrix(rows: 0, cols: 0, bits: 8, values: [], scales: [], istar: [])
        self.init(inProj: placeholder, outProj: placeholder, xProj: [placeholder, placeholder], dtProj: [placeholder, placeholder],
                  a: [placeholder, placeholder], d: [placeholder, placeholder])
        for (t, m) in zip(LayerTensor.all, tensors) { self[keyPath: t.keyPath] = m }
    }

    /// Its tensors in `LayerTensor.all` order.
    public var tensors: [QuantizedMatrix] { LayerTensor.all.map { self[keyPath: $0.keyPath] } }
}
