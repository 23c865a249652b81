import Testing
import OuroEngine
import OuroModel
import OuroQuant
import OuroTestSupport

/// The format table and the layer-tensor table are the single source of truth: check them
/// against what the kernels, the model and the artifact actually do.
@Suite struct FormatTableTests {
    @Test func settingsTakeTheirEnginesFromTheTable() throws {
        #expect(QuantSetting.w4a4.engines == [.sim, .int])
        #expect(QuantSetting.w8a8.engines == [.sim, .int])
        let odd = try QuantSetting(parsing: "w4a6o8")
        #expect(odd.engines == [.sim])
        #expect(odd.unsupported(by: .int) == "--engine int supports inlier bits 4/8 and outlier bits 8/16, not w4a6o8")
        #expect(odd.unsupported(by: .sim) == nil)
        #expect(throws: QuantError.self) { try QuantSetting(weightBits: 5, inlierBits: 4, outlierBits: 8) }
        #expect(throws: QuantError.self) { try QuantSetting(weightBits: 4, inlierBits: 4, outlierBits: 12) }
        for f in QuantFormat.table where f.bits < 16 { #expect(f.qmax == Quantizer.qmax(bits: f.bits), "\(f)") }
    }

    /// The integer GEMM accepts exactly the inlier and outlier widths the table gives it.
    @Test func integerGEMMAgreesWithTheTable() throws {
        let K = 32, N = 8, rows = 2
        var rng = Xoshiro256StarStar(seed: 1, stream: 0)
        let w = QuantizedMatrix.quantize(rng.normals(N * K), rows: N, cols: K, bits: 4)
        let packed = try w.packed()
        let x = rng.normals(rows * K)
        for role in [QuantFormat.Role.inlier, .outlier] {
            for bits in [2, 3, 4, 5, 6, 7, 8, 16] {
                let inlier = role == .inlier ? bits : 8, outlier = role == .outlier ? bits : 16
                guard QuantFormat.lookup(role, bits: bits) != nil else { continue }
                var y = [Float](repeating: 0, count: rows * N)
                let ok = (try? x.withUnsafeBufferPointer { xp in
                    try y.withUnsafeMutableBufferPointer { yp in
                        try MixedPrecisionGEMM.run(x: xp.baseAddress!, rows: rows, ldx: K, weights: packed,
                                                   inlierScales: [0.1, 0.1], inlierBits: inlier,
                                                   outliers: try OutlierColumns(perRow: [[3], [5]], cols: K), outlierBits: outlier,
                                                   y: yp.baseAddress!, ldy: N, threads: 1)
                    }
                }) != nil
                #expect(ok == QuantFormat.supports(role, bits: bits, engine: .int), "\(role) \(bits) bits")
            }
        }
    }

    /// Every table entry names a parameter of the model with the table's shape, and the layer
    /// built from the table's order reads back in that order.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func layerTensorsMatchTheModel() throws {
        let m = try VisionMamba.load(path: try #require(Fixtures.path("vim-micro.safetensors")))
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(m.config).map { ($0.name, $0.shape) })
        #expect(LayerTensor.all.count == 10)
        #expect(Set(LayerTensor.all.map(\.name)).count == 10)
        #expect(LayerTensor.linears.count == 6)
        for t in LayerTensor.all {
            let shape = try #require(shapes["layers.0.mixer." + t.official], "\(t.official) is not a model parameter")
            let (rows, cols) = t.shape(m.config)
            #expect(shape.reduce(1, *) == rows * cols, "\(t.name): \(shape) vs \(rows)×\(cols)")
            #expect(t.values(m.weights.layers[0]).count == rows * cols, "\(t.name)")
        }
        let q = QuantizedLayer.quantize(m.weights.layers[0], config: m.config, weightBits: 4, adBits: 8, candidates: 4)
        #expect(QuantizedLayer(tensors: q.tensors) == q)
        #expect(q.tensors.map(\.bits) == LayerTensor.all.map { $0.bits == .weight ? 4 : 8 })
    }
}
