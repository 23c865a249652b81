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
}
