import Testing
import OuroData
import OuroEngine
import OuroModel
import OuroTestSupport
import OuroTrain

/// Training with the forward and backward on a GPU (emulated here, CUDA where present) tracks
/// the CPU trainer: same data, same AdamW on the host, weights refreshed on the device after
/// every step.
@Suite(.enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)")) struct GPUTrainingTests {
    @Test func gpuTrainingTracksTheCPU() throws {
        var rng = Xoshiro256StarStar(seed: 5)
        let data = try TinyTrainingSet.data(rng: &rng)
        var opts = TinyTrainingSet.options
        opts.warmupEpochs = 0; opts.augment = false
        let initial = TinyTrainingSet.model(seed: 2)
        var cpu = Trainer(model: initial, options: opts, threads: 2)
        try cpu.run(train: data, checkpointPath: nil) { _ in }
        let probe = Tensor(shape: [6, 1, 8, 8], data: (0..<(6 * 64)).map { _ in Float(rng.nextUniform() * 2 - 1) })
        let cpuLogits = try cpu.model.forward(probe, threads: 2).logits
        let moved = relativeMaxError(cpuLogits.data, try initial.forward(probe, threads: 2).logits.data)
        for (label, dev) in try GPUTestDevices.all("GPU training") {
            var gpu = Trainer(model: initial, options: opts, threads: 2)
            gpu.gpu = try GPUVisionMamba(model: initial, device: dev)
            try gpu.run(train: data, checkpointPath: nil) { _ in }
            #expect(gpu.step == cpu.step)
            // The device copy holds the trained weights.
            let refreshed = gpu.gpu!.model.weights == gpu.model.weights
            #expect(refreshed, "\(label): device weights were not refreshed")
            let e = relativeMaxError(try gpu.model.forward(probe, threads: 2).logits.data, cpuLogits.data)
            print("GPU training (\(label)), \(cpu.step) steps: logits differ from the CPU-trained model's by \(e) (training moved them by \(moved))")
            #expect(e <= 1e-3 * moved, "\(label): GPU-trained logits differ by \(e); training moved them by \(moved)")
        }
    }
}
