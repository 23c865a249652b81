import Testing
import OuroEngine
import OuroModel
import OuroTestSupport

/// The GPU model (emulated on the host here, on CUDA where a GPU exists) against the
/// official logits and against the CPU model's input gradients.
@Suite struct GPUModelTests {
    /// A random config with E = 20 (not a multiple of 8), d_state 5, 4×4 patches.
    static let small = VisionMambaConfig(imageSize: 12, channels: 2, patchSize: 3, stride: 3, embedDim: 10, depth: 2, dState: 5,
                                         dConv: 4, dtRank: 3, numClasses: 4)

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), .enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"),
          arguments: [("vim-micro.safetensors", "vim-micro.golden.safetensors", 1e-5),
                      ("vim-tiny-shape.pth", "vim-tiny-shape.golden.safetensors", 2e-5)])
    func gpuLogitsMatchOfficial(file: String, goldenName: String, tolerance: Double) throws {
        let golden = try #require(try Golden.open(goldenName)), path = try #require(Fixtures.path(file))
        let model = try VisionMamba.load(path: path)
        let input = try golden.tensor("input"), expected = try golden.tensor("logits").data
        for (label, dev) in try GPUTestDevices.all("GPU forward parity") {
            let g = try GPUVisionMamba(model: model, device: dev)
            let e = relativeMaxError(try g.logits(input).data, expected)
            #expect(e <= tolerance, "\(label) \(file): logits error \(e)")
        }
    }

    /// Input gradient and logits equal the CPU's.
    @Test(.enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"))
    func gpuInputGradientMatchesCPU() throws {
        let model = RandomModel.make(Self.small, seed: 11)
        var rng = Xoshiro256StarStar(seed: 5)
        let x = Tensor(shape: [2, 2, 12, 12], data: rng.normals(2 * 2 * 144))
        let probe = Tensor(shape: [2, 4], data: rng.normals(8))
        let cpu = try model.backward(x, parameters: false) { _ in probe }
        for (label, dev) in try GPUTestDevices.all("GPU backward parity") {
            let g = try GPUVisionMamba(model: model, device: dev)
            // Kept layer internals (the default here) and per-layer recomputation (no budget).
            for budget in [g.cacheBudgetBytes, 0] {
                g.cacheBudgetBytes = budget
                let r = try g.inputGradient(x) { _ in probe }
                let el = relativeMaxError(r.logits.data, cpu.logits.data), eg = relativeMaxError(r.inputGradient.data, cpu.inputGradient.data)
                #expect(el <= 1e-5, "\(label), cache budget \(budget): logits error \(el)")
                #expect(eg <= 1e-4, "\(label), cache budget \(budget): input gradient error \(eg)")
            }
        }
    }

    @Test(.enabled(if: GPUTestDevices.nvrtcAvailable, "\(GPUTestDevices.nvrtcMissingReason)"))
    func modelKernelsCompileWithNVRTC() throws {
        let nv = try NVRTCCompiler()
        for arch in [80, 90] { #expect(try nv.ptx(GPUVisionMamba.kernelModule, arch: arch).count > 500) }
    }

    /// Every parameter gradient (training's backward) equals the CPU's, for both scan directions,
    /// the conv, norms, embedding and head.
    @Test(.enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"))
    func gpuParameterGradientsMatchCPU() throws {
        let model = RandomModel.make(Self.small, seed: 13)
        var rng = Xoshiro256StarStar(seed: 6)
        let x = Tensor(shape: [3, 2, 12, 12], data: rng.normals(3 * 2 * 144))
        let probe = Tensor(shape: [3, 4], data: rng.normals(12))
        let cpu = try model.backward(x, parameters: true) { _ in probe }.parameterGradients!
        var expected: [String: [Float]] = [:]
        cpu.forEachParameterValue { expected[$0] = $1 }
        for (label, dev) in try GPUTestDevices.all("GPU parameter gradients") {
            let r = try GPUVisionMamba(model: model, device: dev).backward(x, parameters: true) { _ in probe }
            var checked = 0
            try #require(r.parameterGradients != nil)
            r.parameterGradients!.forEachParameterValue { name, g in
                let e = relativeMaxError(g, expected[name] ?? [])
                #expect(e <= 1e-4, "\(label) \(name): error \(e)")
                checked += 1
            }
            #expect(checked == expected.count)
        }
    }
}
