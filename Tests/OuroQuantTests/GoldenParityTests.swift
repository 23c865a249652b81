import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

/// Parity with `quant-micro.golden.safetensors` (fixtures README, "Quant goldens").
@Suite("Quant golden parity", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct GoldenParityTests {
    /// Steps where the golden's best and runner-up errors are within 1e-5 (README "Near-ties").
    static let nearTies: Set<String> = ["w4a4.ouromamba.layer0.out.16", "w4a4.ouromamba.layer0.out.27",
                                        "w4a4.ouromamba.layer1.out.41", "w4a4.static-per-token.layer1.out.46"]

    @Test("integer weights, row scales and i* of both golden matrices (w4 and w8)")
    func weights() throws {
        let f = try QuantFixture.load()
        for (setting, bits) in [("w4a4", 4), ("w8a8", 8)] {
            let l0 = QuantizedLayer.quantize(f.model.weights.layers[0], config: f.model.config, weightBits: bits)
            let l1 = QuantizedLayer.quantize(f.model.weights.layers[1], config: f.model.config, weightBits: bits)
            for (name, m) in [("layers.0.mixer.in_proj.weight", l0.inProj), ("layers.1.mixer.x_proj_b.weight", l1.xProj[1])] {
                let q = try f.golden.ints("\(setting).ouromamba.qweight.\(name)")
                let s = try f.golden.tensor("\(setting).ouromamba.wscale.\(name)").data
                let i = try f.golden.ints("\(setting).ouromamba.wistar.\(name)")
                #expect(m.values.map(Int32.init) == q, "\(setting) \(name) integers")
                #expect(m.scales == s, "\(setting) \(name) scales")
                #expect(m.istar == i, "\(setting) \(name) i*")
            }
        }
    }

    /// Compares S, i*, z of one calibrated run with the golden; returns mismatch descriptions.
    static func compareScales(_ f: QuantFixture, _ r: Calibrator.Result, setting: String, method: QuantMethod) throws -> [String] {
        var bad: [String] = []
        let layout = QuantLayout(f.model.config)
        let prefix = "\(setting).\(method.rawValue)"
        for (idx, spec) in layout.points.enumerated() {
            let p = r.points[idx]
            let gS = try f.golden.tensor("\(prefix).S.\(spec.name)").data
            guard gS.count == p.scales.count else { bad.append("\(spec.name): \(p.scales.count) scales vs \(gS.count)"); continue }
            let gI: [Int32]? = f.golden.file.contains("\(prefix).istar.\(spec.name)") ? try f.golden.ints("\(prefix).istar.\(spec.name)") : nil
            for t in gS.indices {
                if let gI, p.istar[t] != gI[t] {
                    if !nearTies.contains("\(prefix).\(spec.name).\(t)") { bad.append("\(spec.name) t=\(t): i* \(p.istar[t]) vs \(gI[t])") }
                    continue
                }
                if relDiff(p.scales[t], gS[t]) > 2e-6 { bad.append("\(spec.name) t=\(t): S \(p.scales[t]) vs \(gS[t])") }
            }
            if spec.asymmetric {
                let gz = try f.golden.ints("\(prefix).z.\(spec.name)")
                let near = (0..<gz.count).filter { t in nearTies.contains("\(prefix).\(spec.name).\(t)") }
                for t in gz.indices where p.zeros[t] != gz[t] && !near.contains(t) { bad.append("\(spec.name) t=\(t): z \(p.zeros[t]) vs \(gz[t])") }
            }
        }
        return bad
    }

    @Test("ouromamba calibration: S, i*, z (a4 and a8), m, lo/hi and outlier fractions")
    func ouromambaCalibration() throws {
        let f = try QuantFixture.load()
        let layout = QuantLayout(f.model.config)
        let (_, r4) = try f.quantize(.w4a4, .ouromamba)
        let bad4 = try Self.compareScales(f, r4, setting: "w4a4", method: .ouromamba)
        #expect(bad4.isEmpty, "w4a4: \(bad4.prefix(10))")
        for (idx, spec) in layout.points.enumerated() {
            let b = r4.summary.points[idx]
            if spec.asymmetric {
                let lo = try f.golden.tensor("w4a4.ouromamba.lo.\(spec.name)").data
                let hi = try f.golden.tensor("w4a4.ouromamba.hi.\(spec.name)").data
                for t in lo.indices {
                    let ref = Double(max(abs(lo[t]), abs(hi[t])))
                    #expect(Double(abs(b.lo[t] - lo[t])) <= 2e-6 * ref, "\(spec.name) lo t=\(t)")
                    #expect(Double(abs(b.hi[t] - hi[t])) <= 2e-6 * ref, "\(spec.name) hi t=\(t)")
                }
            } else {
                let m = try f.golden.tensor("w4a4.ouromamba.m.\(spec.name)").data
                let worst = m.indices.map { relDiff(b.maxAbs[$0], m[$0]) }.max()!
                #expect(worst <= 2e-6, "\(spec.name) m: \(worst)")
            }
            let frac = try f.golden.tensor("w4a4.ouromamba.outlier_frac.\(spec.name)").data[0]
            #expect(Float(b.outlierFraction) == frac, "\(spec.name) outlier fraction \(b.outlierFraction) vs \(frac)")
        }
        for setting in [QuantSetting.w4a8, .w8a8] {
            let (_, r8) = try f.quantize(setting, .ouromamba)
            let bad8 = try Self.compareScales(f, r8, setting: setting.description, method: .ouromamba)
            #expect(bad8.isEmpty, "\(setting): \(bad8.prefix(10))")
        }
    }

    @Test("baselines: static-minmax and static-per-token scales")
    func baselines() throws {
        let f = try QuantFixture.load()
        for m in [QuantMethod.staticMinmax, .staticPerToken] {
            let (_, r) = try f.quantize(.w4a4, m)
            let bad = try Self.compareScales(f, r, setting: "w4a4", method: m)
            #expect(bad.isEmpty, "\(m.rawValue): \(bad.prefix(10))")
        }
    }

    @Test("the five quantized logits and the w4a4 eval outlier fractions")
    func logits() throws {
        let f = try QuantFixture.load()
        let fp = try f.model.logits(f.input, threads: 2)
        #expect(relativeMaxError(fp.data, try f.golden.tensor("fp.logits").data) <= 1e-5)
        let layout = QuantLayout(f.model.config)
        for (s, m) in [(QuantSetting.w4a4, QuantMethod.ouromamba), (.w4a8, .ouromamba), (.w8a8, .ouromamba),
                       (.w4a4, .staticMinmax), (.w4a4, .staticPerToken)] {
            let (q, _) = try f.quantize(s, m)
            let (y, report) = try q.logits(f.input, threads: 2)
            let g = try f.golden.tensor("\(s).\(m.rawValue).logits").data
            var err = relativeMaxError(y.data, g)
            if s == .w4a4 && m == .ouromamba && err > 1e-5 {
                // Image 0 may take the other side of its one fragile rounding decision.
                let alt = try f.golden.tensor("w4a4.ouromamba.logits_alt").data
                err = max(relativeMaxError(Array(y.data[0..<10]), Array(alt[0..<10])),
                          relativeMaxError(Array(y.data[10...]), Array(g[10...])))
            }
            #expect(err <= 1e-5, "\(s) \(m.rawValue) logits: \(err)")
            if s == .w4a4 && m == .ouromamba {
                for (idx, spec) in layout.points.enumerated() {
                    let gf = try f.golden.tensor("w4a4.ouromamba.eval_outlier_frac.\(spec.name)").data[0]
                    #expect(Float(report.fraction(idx)) == gf, "\(spec.name) eval outlier fraction \(report.fraction(idx)) vs \(gf)")
                }
            }
        }
    }

    @Test("unit goldens: the point quantizer on stored x gives xhat and the outlier mask")
    func unitGoldens() throws {
        let f = try QuantFixture.load()
        let layout = QuantLayout(f.model.config)
        for name in ["layer0.in", "layer1.delta.b", "layer1.out"] {
            let idx = layout.points.firstIndex { $0.name == name }!
            let spec = layout.points[idx], C = spec.channels, L = layout.length
            var x = try f.golden.tensor("w4a4.ouromamba.x.image0.\(name)").data
            let xhat = try f.golden.tensor("w4a4.ouromamba.xhat.image0.\(name)").data
            let mask = try f.golden.ints("w4a4.ouromamba.outlier_mask.image0.\(name)")
            var ours = [Int32](repeating: 0, count: L * C)
            // The quantizer of this point with the golden's stored S (and z).
            let pq = PointQuantizer(channels: C, asymmetric: spec.asymmetric, scales: try f.golden.tensor("w4a4.ouromamba.S.\(name)").data,
                                    zeros: spec.asymmetric ? try f.golden.ints("w4a4.ouromamba.z.\(name)") : [],
                                    inlierBits: 4, outlierBits: 8,
                                    outliers: .dynamic(lambda: spec.asymmetric ? 4 : 3, nRefresh: 10, stats: .inliers))
            // Stored rows are in step order (scan order for the backward direction).
            let lists = x.withUnsafeMutableBufferPointer { pq.stepLists($0.baseAddress!, length: L, apply: true) }
            for (t, list) in lists.enumerated() { for c in list { ours[t * C + c] = 1 } }
            #expect(ours == mask, "\(name) outlier mask")
            var worst = 0.0, inlierBad: [String] = []
            for j in 0..<(L * C) {
                if mask[j] == 0 { if x[j] != xhat[j] { inlierBad.append("[\(j / C), \(j % C)] \(x[j]) vs \(xhat[j])") } }
                else { worst = max(worst, relDiff(x[j], xhat[j])) }
            }
            #expect(inlierBad.isEmpty, "\(name) inlier entries exact: \(inlierBad.count) differ, e.g. \(inlierBad.prefix(4))")
            #expect(worst <= 1e-6, "\(name) outlier entries \(worst)")
        }
    }
}
