import Testing
import OuroEngine
import OuroGen
import OuroModel
import OuroTestSupport

/// Gen-loss gradients with the model on a GPU (emulated here; CUDA where present) against
/// the CPU objective: acceptance is 1e-4 relative.
@Suite struct GPUGenTests {
    @Test(arguments: [GeneratorKind.ouromamba, .pse, .contrastiveRaw])
    func gpuGenGradientsMatchCPU(kind: GeneratorKind) throws {
        guard let golden = try Golden.open("gen-micro.golden.safetensors"),
              let path = Fixtures.path("vim-micro.safetensors") else { return }
        let model = try VisionMamba.load(path: path)
        let x = try golden.tensor("input").slice(outer: 0, count: 2)
        var cfg = GenConfig(); cfg.generator = kind
        let (cpuParts, cpuGrad) = try GenObjective(model: model, config: cfg, threads: 2).evaluate(images: x, labels: [3, 1])
        for (label, dev) in GPUTestDevices.all("GPU Gen gradients") {
            let obj = GenObjective(model: model, config: cfg, threads: 2, gpu: try GPUVisionMamba(model: model, device: dev))
            let (parts, grad) = try obj.evaluate(images: x, labels: [3, 1])
            let eg = relativeMaxError(grad.data, cpuGrad.data)
            let el = relativeMaxError(parts.total.map(Float.init), cpuParts.total.map(Float.init))
            #expect(eg <= 1e-4, "\(label) \(kind.rawValue): gradient error \(eg)")
            #expect(el <= 1e-5, "\(label) \(kind.rawValue): loss error \(el)")
        }
    }

    @Test func contrastiveKernelsCompileWithNVRTC() throws {
        let nv: NVRTCCompiler
        do { nv = try NVRTCCompiler() } catch { print("SKIPPING NVRTC compile check: \(error)"); return }
        for arch in [80, 90] { #expect(try nv.ptx(GenObjective.gpuKernelModule, arch: arch).count > 500) }
    }

    /// A random config (4×4 grid, E = 12): every window and candidate table at the border.
    @Test func gpuGenGradientsMatchCPUOnRandomConfig() throws {
        let c = VisionMambaConfig(imageSize: 16, channels: 2, patchSize: 4, stride: 4, embedDim: 6, depth: 2,
                                  dState: 3, dConv: 3, expand: 2, dtRank: 2, numClasses: 4)
        let model = RandomModel.make(c, seed: 11)
        var rng = Xoshiro256StarStar(seed: 12)
        let x = Tensor(shape: [3, 2, 16, 16], data: rng.normals(3 * 512))
        var cfg = GenConfig(); cfg.contrastTopk = 6
        let (_, cpuGrad) = try GenObjective(model: model, config: cfg, threads: 2).evaluate(images: x, labels: [2, 0, 1])
        for (label, dev) in GPUTestDevices.all("GPU Gen gradients (random config)") {
            let obj = GenObjective(model: model, config: cfg, threads: 2, gpu: try GPUVisionMamba(model: model, device: dev))
            let e = relativeMaxError(try obj.evaluate(images: x, labels: [2, 0, 1]).1.data, cpuGrad.data)
            #expect(e <= 1e-4, "\(label): gradient error \(e)")
        }
    }
}
