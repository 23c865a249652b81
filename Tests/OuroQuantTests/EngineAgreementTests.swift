import OuroEngine
import OuroTestSupport
import Testing
import OuroQuant

/// `--engine int` (integer mixed-precision GEMM for every quantized linear) against the float
/// fake-quant reference.
@Suite("Integer vs simulated engine", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct EngineAgreementTests {
    @Test(arguments: [(QuantSetting.w4a4, QuantMethod.ouromamba), (.w4a8, .ouromamba), (.w8a8, .ouromamba),
                      (.w4a4, .staticOutlierList), (.w4a4, .staticMinmax), (.w4a4, .staticPerToken),
                      (.w4a8, .staticMinmax)])
    func agreement(setting: QuantSetting, method: QuantMethod) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(setting, method)
        let (sim, rs) = try q.logits(f.input, engine: .sim, threads: 2)
        let (int, ri) = try q.logits(f.input, engine: .int, threads: 2)
        let err = relativeMaxError(int.data, sim.data)
        // The engines share detection and the §4.9 arithmetic: identical bits, not just 1e-4.
        #expect(int.data.map(\.bitPattern) == sim.data.map(\.bitPattern), "\(setting) \(method.rawValue): \(err)")
        #expect(rs == ri, "same outlier lists in both engines")
    }

    /// The Δ points' softplus read from a table of the quantization levels (AVX-512, ≤ 4 inlier
    /// bits) must give the bits of the separate softplus, outliers included.
    @Test(arguments: [(QuantSetting.w4a4, QuantMethod.ouromamba), (.w4a4, .staticMinmax), (.w4a8, .ouromamba)])
    func fusedDeltaSoftplus(setting: QuantSetting, method: QuantMethod) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(setting, method)
        let deltas = q.pointQuantizers().filter(\.asymmetric)
        #expect(!deltas.isEmpty)
        let expectFused = setting == .w4a4 && KernelPath.avx512Available
        #expect(deltas.allSatisfy { $0.fusesSoftplus() == expectFused }, "fused where the kernels offer it")
        var out: [[UInt32]] = [], reports: [OutlierReport] = []
        for fused in [true, false] {
            let h = try q.hooks(engine: .int, threads: 2)
            h.fusesDeltaSoftplus = fused
            let y = try q.simulatedModel().logits(f.input, batchSize: 8, hooks: h, threads: 2)
            if let e = h.error { throw e }
            out.append(y.data.map(\.bitPattern)); reports.append(h.report)
        }
        #expect(out[0] == out[1], "\(setting) \(method.rawValue): fused and separate softplus differ")
        #expect(reports[0] == reports[1])
    }

    /// Chunks run side by side on lanes (each lane its own hooks and threads) give the logits
    /// and the outlier report of the chunks run one after the other on all threads.
    @Test(arguments: [QuantEngine.int, .sim])
    func lanesEqualSequentialChunks(engine: QuantEngine) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, .ouromamba)
        let x = f.input, B = x.shape[0]
        try #require(B >= 3, "the fixture input must make several chunks")
        let laned = try q.logits(x, engine: engine, batchSize: 1, threads: 3)
        let h = try q.hooks(engine: engine, threads: 3)
        let sequential = try q.simulatedModel().logits(x, batchSize: 1, hooks: h, threads: 3)
        #expect(laned.logits.data.map(\.bitPattern) == sequential.data.map(\.bitPattern))
        #expect(laned.report == h.report)
        // The FP model the same way: lanes without hooks against one lane.
        let m = q.simulatedModel()
        let fpLanes = try m.logits(x, batchSize: 1, threads: 3)
        let fpOne = try m.logits(x, batchSize: 1, laneHooks: [nil], threads: 3)
        #expect(fpLanes.data.map(\.bitPattern) == fpOne.data.map(\.bitPattern))
    }

    @Test("the integer engine refuses settings its kernels cannot run")
    func unsupported() throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(try QuantSetting(parsing: "w4a6o8"), .staticPerToken)
        #expect(throws: QuantError.self) { _ = try q.logits(f.input, engine: .int, threads: 1) }
    }
}
