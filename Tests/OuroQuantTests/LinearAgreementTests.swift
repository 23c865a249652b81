import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

/// Runs the simulated engine and, at every quantized linear, also computes the integer GEMM on
/// the same input with the outlier lists the shared detection produced. Records per linear
/// max|int − x̂·Ŵᵀ| / max|x̂·Ŵᵀ| against a Double reference on independently fake-quantized
/// inputs x̂, and whether int and sim gave the same bits.
final class LinearProbe: ForwardHooks {
    let inner: QuantizedHooks
    let q: QuantizedModel
    let layout: QuantLayout
    var lists: [Int: [Int: [Int]]] = [:]   // point index → row → channels
    var worst: [String: Double] = [:]
    var bitwise: [String: Bool] = [:]
    var modifiesLinearInputs: Bool { false }

    init(_ q: QuantizedModel) throws {
        self.q = q; layout = QuantLayout(q.config)
        inner = try q.hooks(engine: .sim, threads: 1)
        inner.observer = { [unowned self] idx, b, t, list in
            let spec = self.layout.points[idx], L = self.layout.length
            if !list.isEmpty { self.lists[idx, default: [:]][b * L + (spec.reversed ? L - 1 - t : t)] = list }
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
        let idx = layout.index(layer: layer, pt), L = input.length, rows = input.batch * L, K = m.cols
        let S = q.points[idx].scales, s = q.quant.setting
        let scales = (0..<rows).map { r -> Float in
            let pos = r % L, t = pt.direction == .backward ? L - 1 - pos : pos
            return S.count == 1 ? S[0] : S[t]
        }
        let perRow = (0..<rows).map { lists[idx]?[$0] ?? [] }
        lists[idx] = nil
        var y = [Float](repeating: 0, count: rows * m.rows)
        try! MixedPrecisionGEMM.run(x: input.values, rows: rows, ldx: input.ld, weights: try! m.packed(), inlierScales: scales,
                                    inlierBits: s.inlierBits, outliers: try! OutlierColumns(perRow: perRow, cols: K),
                                    outlierBits: s.outlierBits, y: &y, ldy: m.rows, threads: 2)
        // x̂: inliers S·level, outliers at b_O with a dynamic scale (or unchanged at 16).
        let qI = Float(Quantizer.qmax(bits: s.inlierBits)), w = m.dequantized()
        var xhat = [Double](repeating: 0, count: rows * K)
        for r in 0..<rows {
            let x = input.values + r * input.ld, listed = Set(perRow[r])
            var mO: Float = 0
            for c in listed { mO = max(mO, abs(x[c])) }
            let qO = Float(Quantizer.qmax(bits: min(s.outlierBits, 15))), sO = max(mO, 1e-8) / qO
            for k in 0..<K {
                if !listed.contains(k) { xhat[r * K + k] = Double(Quantizer.symmetric(x[k], scale: scales[r], qmax: qI)) }
                else { xhat[r * K + k] = s.outlierBits >= 16 ? Double(x[k]) : Double(Quantizer.symmetric(x[k], scale: sO, qmax: qO)) }
            }
        }
        var num = 0.0, den = 0.0
        for r in 0..<rows {
            for o in 0..<m.rows {
                var acc = 0.0
                for k in 0..<K { acc += xhat[r * K + k] * Double(w[o * K + k]) }
                num = max(num, abs(Double(y[r * m.rows + o]) - acc)); den = max(den, abs(acc))
            }
        }
        worst["\(layer).\(kind)"] = den == 0 ? num : num / den
        let used = inner.linear(kind, layer: layer, input: input, output: output, ldOut: ldOut)
        var same = used
        for r in 0..<rows { for o in 0..<m.rows where output[r * ldOut + o].bitPattern != y[r * m.rows + o].bitPattern { same = false } }
        bitwise["\(layer).\(kind)"] = same
        return used
    }
}

@Suite("Integer GEMM per linear", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct LinearAgreementTests {
    @Test("every quantized linear: integer GEMM = float fake-quant to float rounding, and = the simulated engine bit for bit",
          arguments: [(QuantSetting.w4a4, QuantMethod.ouromamba), (.w4a8, .ouromamba), (.w8a8, .ouromamba), (.w4a4, .staticOutlierList)])
    func perLinear(setting: QuantSetting, method: QuantMethod) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(setting, method)
        let probe = try LinearProbe(q)
        _ = try q.simulatedModel().forward(f.input, hooks: probe, threads: 1)
        #expect(probe.worst.count == 12)
        for (k, v) in probe.worst { #expect(v <= 1e-6, "\(setting) \(method.rawValue) \(k): \(v)") }
        for (k, v) in probe.bitwise { #expect(v, "\(setting) \(method.rawValue) \(k): int and sim differ") }
    }
}
