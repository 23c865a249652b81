import Testing
import OuroEngine
import OuroModel
import OuroTestSupport

/// Forward parity with the official PyTorch code (fixtures README, "Tolerances").
@Suite struct GoldenForwardTests {
    func check(_ model: VisionMamba, golden: Golden, tolerance: Double, residualLayers: [Int], hiddens: Bool) throws {
        let input = try golden.tensor("input")
        let r = try model.forward(input, capture: hiddens ? [.residuals, .hiddens] : [.residuals])
        let e = relativeMaxError(r.logits.data, try golden.tensor("logits").data)
        #expect(e <= tolerance, "logits error \(e)")
        for l in residualLayers {
            let g = try golden.tensor("residual_after_layer_\(l)")
            #expect(r.residuals[l].shape == g.shape)
            let er = relativeMaxError(r.residuals[l].data, g.data)
            #expect(er <= tolerance, "residual_after_layer_\(l) error \(er)")
            if hiddens {
                let eh = relativeMaxError(r.hiddens[l].data, try golden.tensor("hidden_after_layer_\(l)").data)
                #expect(eh <= tolerance, "hidden_after_layer_\(l) error \(eh)")
            }
        }
        if hiddens {
            let ef = relativeMaxError(r.finalFeatures.data, try golden.tensor("final_features").data)
            #expect(ef <= tolerance, "final_features error \(ef)")
        }
    }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), arguments: ["vim-micro.safetensors", "vim-micro.pth"])
    func microMatchesOfficial(file: String) throws {
        let golden = try #require(try Golden.open("vim-micro.golden.safetensors")), path = try #require(Fixtures.path(file))
        let model = try VisionMamba.load(path: path)
        try check(model, golden: golden, tolerance: 1e-5, residualLayers: [0, 1], hiddens: true)
    }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func tinyShapeMatchesOfficial() throws {
        let golden = try #require(try Golden.open("vim-tiny-shape.golden.safetensors"))
        let path = try #require(Fixtures.path("vim-tiny-shape.pth"))
        let model = try VisionMamba.load(path: path)
        #expect(model.weights.parameterCount == 7_148_008)
        try check(model, golden: golden, tolerance: 2e-5, residualLayers: [0, 11, 23], hiddens: false)
    }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), arguments: ["vim-micro", "vim-tiny-shape"])
    func inferredConfigEqualsFixtureConfig(name: String) throws {
        let cfgPath = try #require(Fixtures.path("\(name).config.json")), pth = try #require(Fixtures.path("\(name).pth"))
        let expected = try VisionMambaConfig.load(path: cfgPath)
        let shapes = try OuroCheckpointShapes.shapes(path: pth)
        let inferred = try VisionMambaConfig.infer(from: shapes, stride: expected.stride)
        #expect(inferred == expected)
    }

    @Test func officialVariantsHaveDocumentedParameterCounts() {
        let cases: [(VisionMambaConfig, Int)] = [
            (.tiny(), 7_148_008), (.tiny(stride: 8), 7_250_344), (.small(), 25_796_584),
            (.small(stride: 8), 26_001_256), (.base(), 97_598_440),
        ]
        for (c, n) in cases {
            let total = VisionMambaWeights.parameterShapes(c).reduce(0) { $0 + $1.shape.reduce(1, *) }
            #expect(total == n, "\(c.embedDim)/\(c.stride)")
        }
        #expect(VisionMambaConfig.tiny(stride: 8).seqLen == 730 && VisionMambaConfig.tiny(stride: 8).clsIndex == 364)
    }
}
