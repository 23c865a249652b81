import Testing
import OuroEngine
import OuroGen
import OuroModel
import OuroTestSupport

/// Parity with gen-micro.golden.safetensors (fixtures README, "Gen goldens").
@Suite(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct GenGoldenTests {
    struct Setup { let model: VisionMamba; let golden: Golden; let input: Tensor; let labels: [Int] }

    /// The model and golden; a failed requirement when the fixtures are missing (CI=true).
    func setup() throws -> Setup {
        let golden = try #require(try Golden.open("gen-micro.golden.safetensors"))
        let path = try #require(Fixtures.path("vim-micro.safetensors"))
        let model = try VisionMamba.load(path: path)
        return Setup(model: model, golden: golden, input: try golden.tensor("input"),
                     labels: try golden.ints("labels").map { Int($0) })
    }

    func config(_ g: GeneratorKind, output: String = "ce") -> GenConfig {
        var c = GenConfig(); c.generator = g; c.outputLoss = output; return c
    }

    @Test(arguments: [("ouromamba", 2e-4), ("contrastive-raw", 2e-4), ("pse", 2e-4), ("output-only", 1e-5)])
    func lossesAndInputGradients(name: String, gradTol: Double) throws {
        let s = try setup()
        let obj = GenObjective(model: s.model, config: config(GeneratorKind(rawValue: name)!), threads: 2)
        let (parts, grad) = try obj.evaluate(images: s.input, labels: s.labels)
        let eL = relativeMaxError(parts.total.map { Float($0) }, try s.golden.tensor("\(name).loss").data)
        #expect(eL <= 2e-5, "\(name).loss error \(eL)")
        let eG = relativeMaxError(grad.data, try s.golden.tensor("\(name).grad_input").data)
        #expect(eG <= gradTol, "\(name).grad_input error \(eG)")
        if name == "ouromamba" || name == "contrastive-raw" {
            let lc = parts.contrastivePerLayer.flatMap { $0 }.map { Float($0) }
            let e = relativeMaxError(lc, try s.golden.tensor("\(name).lc_per_layer").data)
            #expect(e <= 2e-5, "\(name).lc_per_layer error \(e)")
        }
        if name == "ouromamba" {
            let e = relativeMaxError(parts.output.map { Float($0) }, try s.golden.tensor("ouromamba.lo_ce").data)
            #expect(e <= 2e-5, "lo_ce error \(e)")
        }
        if name == "pse" {
            let h = parts.entropyPerLayer.flatMap { $0 }.map { Float($0) }
            let e = relativeMaxError(h, try s.golden.tensor("pse.entropy_per_layer").data)
            #expect(e <= 1e-4, "pse.entropy_per_layer error \(e)")
        }
    }

    /// MAE with the spec's 1/num_classes normaliser (`ouromamba_mae_classmean`, convention 1).
    @Test func maeOutputLoss() throws {
        let s = try setup()
        let obj = GenObjective(model: s.model, config: config(.ouromamba, output: "mae"), threads: 2)
        let (parts, grad) = try obj.evaluate(images: s.input, labels: s.labels)
        let g = "ouromamba_mae_classmean"
        #expect(relativeMaxError(parts.total.map { Float($0) }, try s.golden.tensor("\(g).loss").data) <= 2e-5)
        #expect(relativeMaxError(parts.output.map { Float($0) }, try s.golden.tensor("\(g).lo").data) <= 2e-5)
        let eG = relativeMaxError(grad.data, try s.golden.tensor("\(g).grad_input").data)
        #expect(eG <= 2e-4, "mae grad error \(eG)")
    }

    @Test(arguments: ["ouromamba", "contrastive-raw"])
    func positivesWeightsAndFeatures(name: String) throws {
        let s = try setup()
        let obj = GenObjective(model: s.model, config: config(GeneratorKind(rawValue: name)!), threads: 2)
        let (_, _, details) = try obj.inspect(images: s.input, labels: s.labels)
        let pos = try s.golden.ints("\(name).positives")   // [4, 2, 49, 12]
        var mismatches = 0
        for b in 0..<4 {
            for l in 0..<2 {
                let d = try #require(details["\(b).\(l)"])
                for p in 0..<49 {
                    let gold = (0..<12).map { Int(pos[((b * 2 + l) * 49 + p) * 12 + $0]) }.filter { $0 >= 0 }
                    if Set(gold) != Set(d.positives[p]) { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) positive sets differ")
        guard name == "ouromamba" else { return }
        let w = try s.golden.tensor("ouromamba.w_delta.all").data   // [4, 2, 2, 49]
        var ours: [Float] = []
        for b in 0..<4 { for l in 0..<2 { let d = details["\(b).\(l)"]!; ours += d.weights[0] + d.weights[1] } }
        let ew = relativeMaxError(ours, w)
        #expect(ew <= 1e-4, "w_delta error \(ew)")
        let d0 = details["0.0"]!
        let ef = relativeMaxError(d0.features, try s.golden.tensor("ouromamba.features.l0.img0").data)
        #expect(ef <= 1e-4, "features error \(ef)")
        let ee = relativeMaxError(d0.ell.map { Float($0) }, try s.golden.tensor("ouromamba.ell.l0.img0").data)
        #expect(ee <= 1e-4, "ell error \(ee)")
    }

    /// Two Adam steps of `ouromamba` with T = 10 (fixtures README, "Adam steps").
    @Test func adamSteps() throws {
        let s = try setup()
        var cfg = config(.ouromamba); cfg.iterations = 10
        let obj = GenObjective(model: s.model, config: cfg, threads: 2)
        let g0 = try s.golden.tensor("ouromamba.grad_input").data
        var x = s.input.data
        var adam = AdamPixels(count: x.count, config: cfg)
        let (_, grad0) = try obj.evaluate(images: s.input, labels: s.labels)
        adam.step(0, x: &x, grad: grad0.data)
        let step1 = try s.golden.tensor("adam_step1").data
        var worst: Float = 0
        for i in x.indices where abs(g0[i]) > 1e-5 { worst = max(worst, abs(x[i] - step1[i])) }
        #expect(worst <= 1e-4, "adam_step1 max diff \(worst)")
        for i in x.indices { #expect(abs(x[i] - s.input.data[i]) <= 0.25 + 1e-6) }
        let (_, grad1) = try obj.evaluate(images: Tensor(shape: s.input.shape, data: x), labels: s.labels)
        adam.step(1, x: &x, grad: grad1.data)
        let step2 = try s.golden.tensor("adam_step2").data
        var diffs: [Float] = []
        for i in x.indices where abs(g0[i]) > 1e-5 { diffs.append(abs(x[i] - step2[i])) }
        let within = Double(diffs.filter { $0 <= 1e-3 }.count) / Double(diffs.count)
        #expect(within >= 0.99, "adam_step2: only \(within) of pixels within 1e-3")
        #expect((diffs.max() ?? 0) <= 1e-2)
    }
}
