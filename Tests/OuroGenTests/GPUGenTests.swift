import Testing
import OuroEngine
import OuroGen
import OuroModel
import OuroTestSupport

/// Gen-loss gradients with the model on a GPU (emulated here; CUDA where present) against
/// the CPU objective: acceptance is 1e-4 relative.
@Suite struct GPUGenTests {
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), .enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"),
          arguments: [GeneratorKind.ouromamba, .pse, .contrastiveRaw])
    func gpuGenGradientsMatchCPU(kind: GeneratorKind) throws {
        let golden = try #require(try Golden.open("gen-micro.golden.safetensors"))
        let path = try #require(Fixtures.path("vim-micro.safetensors"))
        let model = try VisionMamba.load(path: path)
        let x = try golden.tensor("input").slice(outer: 0, count: 2)
        var cfg = GenConfig(); cfg.generator = kind
        let (cpuParts, cpuGrad) = try GenObjective(model: model, config: cfg, threads: 2).evaluate(images: x, labels: [3, 1])
        for (label, dev) in try GPUTestDevices.all("GPU Gen gradients") {
            let obj = GenObjective(model: model, config: cfg, threads: 2, gpu: try GPUVisionMamba(model: model, device: dev))
            let (parts, grad) = try obj.evaluate(images: x, labels: [3, 1])
            let eg = relativeMaxError(grad.data, cpuGrad.data)
            let el = relativeMaxError(parts.total.map(Float.init), cpuParts.total.map(Float.init))
            #expect(eg <= 1e-4, "\(label) \(kind.rawValue): gradient error \(eg)")
            #expect(el <= 1e-5, "\(label) \(kind.rawValue): loss error \(el)")
            let perLayer = relativeMaxError(parts.contrastivePerLayer.flatMap { $0 }.map(Float.init),
                                            cpuParts.contrastivePerLayer.flatMap { $0 }.map(Float.init))
            #expect(perLayer <= 1e-5, "\(label) \(kind.rawValue): per-layer contrastive loss error \(perLayer)")
        }
    }

    @Test(.enabled(if: GPUTestDevices.nvrtcAvailable, "\(GPUTestDevices.nvrtcMissingReason)"))
    func contrastiveKernelsCompileWithNVRTC() throws {
        let nv = try NVRTCCompiler()
        for arch in [80, 90] { #expect(try nv.ptx(GenObjective.gpuKernelModule, arch: arch).count > 500) }
    }

    /// Random configs (E = 12): a 4×4 grid, where every window and candidate table is at the
    /// border, and a 12×12 grid with a 13×13 contrast window (up to 168 candidates, more than
    /// the device InfoNCE holds, so InfoNCE runs on the host).
    @Test(.enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"), arguments: [(16, 5), (48, 13)])
    func gpuGenGradientsMatchCPUOnRandomConfig(imageSize: Int, contrastWindow: Int) throws {
        let c = VisionMambaConfig(imageSize: imageSize, channels: 2, patchSize: 4, stride: 4, embedDim: 6, depth: 2,
                                  dState: 3, dConv: 3, expand: 2, dtRank: 2, numClasses: 4)
        let model = RandomModel.make(c, seed: 11)
        var rng = Xoshiro256StarStar(seed: 12)
        let x = Tensor(shape: [3, 2, imageSize, imageSize], data: rng.normals(3 * 2 * imageSize * imageSize))
        var cfg = GenConfig(); cfg.contrastTopk = 6; cfg.contrastNbhd = contrastWindow
        let (cpuParts, cpuGrad) = try GenObjective(model: model, config: cfg, threads: 2).evaluate(images: x, labels: [2, 0, 1])
        for (label, dev) in try GPUTestDevices.all("GPU Gen gradients (random config)") {
            let obj = GenObjective(model: model, config: cfg, threads: 2, gpu: try GPUVisionMamba(model: model, device: dev))
            let (parts, grad) = try obj.evaluate(images: x, labels: [2, 0, 1])
            let e = relativeMaxError(grad.data, cpuGrad.data)
            let el = relativeMaxError(parts.total.map(Float.init), cpuParts.total.map(Float.init))
            #expect(e <= 1e-4, "\(label), \(imageSize)² with a \(contrastWindow)² window: gradient error \(e)")
            #expect(el <= 1e-5, "\(label), \(imageSize)² with a \(contrastWindow)² window: loss error \(el)")
        }
    }
}
