import OuroEngine
import OuroModel
import Testing
import OuroQuant

/// Runs the simulated engine and, at every quantized linear, also computes the integer GEMM on
/// the same (already fake-quantized) input with the outlier lists the shared detection produced;
/// records max|int − x̂·Ŵᵀ| / max|x̂·Ŵᵀ| (reference in Double) per linear.
final class LinearProbe: ForwardHooks {
    let inner: QuantizedHooks
    let q: QuantizedModel
    let layout: QuantLayout
    var lists: [Int: [Int: [Int]]] = [:]   // point index → row → channels
    var worst: [String: Double] = [:]

    init(_ q: QuantizedModel) throws {
        self.q = q; layout = QuantLayout(q.config)
        inner = try q.hooks(engine: .sim, threads: 1)
        inner.observer = { [unowned self] idx, b, t, list in
            let spec = self.layout.points[idx], L = self.layout.length
            if list.count > 0 { self.lists[idx, default: [:]][b * L + (spec.reversed ? L - 1 - t : t)] = list.channels }
        }
    }

    func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView) { inner.activation(point, layer: layer, view) }

    func linear(_ kind: LinearKind, layer: Int, input: ActivationView, output: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool {
        let ql = q.layers[layer]
        let (m, pt): (QuantizedMatrix, ActivationPoint)
        switch kind {
        case .inProj: (m, pt) = (ql.inProj, ActivationPoint(.input))
        case .outProj: (m, pt) = (ql.outProj, ActivationPoint(.out))
        case .xProj(let d): (m, pt) = (ql.xProj[d.rawValue], ActivationPoint(.xproj, d))
        case .dtProj(let d): (m, pt) = (ql.dtProj[d.rawValue], ActivationPoint(.dtproj, d))
        }
        let idx = layout.index(layer: layer, pt), L = input.length, rows = input.batch * L
        let S = q.points[idx].scales
        let scales = (0..<rows).map { r -> Float in
            let pos = r % L, t = pt.direction == .backward ? L - 1 - pos : pos
            return S.count == 1 ? S[0] : S[t]
        }
        let perRow = (0..<rows).map { lists[idx]?[$0] ?? [] }
        lists[idx] = nil
        var y = [Float](repeating: 0, count: rows * m.rows)
        try! MixedPrecisionGEMM.run(x: input.values, rows: rows, ldx: input.ld, weights: try! m.packed(), inlierScales: scales,
                                    inlierBits: q.quant.setting.inlierBits, outliers: try! OutlierColumns(perRow: perRow, cols: m.cols),
                                    outlierBits: q.quant.setting.outlierBits, y: &y, ldy: m.rows, threads: 2)
        let w = m.dequantized()
        var num = 0.0, den = 0.0
        for r in 0..<rows {
            for o in 0..<m.rows {
                var s = 0.0
                for k in 0..<m.cols { s += Double(input.values[r * input.ld + k]) * Double(w[o * m.cols + k]) }
                num = max(num, abs(Double(y[r * m.rows + o]) - s)); den = max(den, abs(s))
            }
        }
        worst["\(layer).\(kind)"] = den == 0 ? num : num / den
        return false
    }
}

@Suite("Integer GEMM per linear") struct LinearAgreementTests {
    @Test("every quantized linear: integer GEMM = float fake-quant to float rounding",
          arguments: [(QuantSetting.w4a4, QuantMethod.ouromamba), (.w4a8, .ouromamba), (.w8a8, .ouromamba), (.w4a4, .staticOutlierList)])
    func perLinear(setting: QuantSetting, method: QuantMethod) throws {
        guard let f = try QuantFixture.load() else { return }
        let (q, _) = try f.quantize(setting, method)
        let probe = try LinearProbe(q)
        _ = try q.simulatedModel().forward(f.input, hooks: probe, threads: 1)
        #expect(probe.worst.count == 12)
        for (k, v) in probe.worst { #expect(v <= 1e-6, "\(setting) \(method.rawValue) \(k): \(v)") }
    }
}
