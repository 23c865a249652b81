import Testing
import OuroEngine
import OuroModel
import OuroQuant
import OuroTestSupport

/// Calibration blocks split between a CPU and a GPU worker (emulated here, CUDA where present)
/// merge into the CPU-only result. The statistics are reduced on the host by the same code on
/// both, so any difference comes from float rounding of the GPU forward itself.
@Suite struct GPUCalibrationTests {
    @Test func mixedCPUAndGPUBlocksMergeToTheCPUScales() throws {
        guard let path = Fixtures.path("vim-micro.safetensors"), let golden = try Golden.open("quant-micro.golden.safetensors") else { return }
        let model = try VisionMamba.load(path: path)
        let images = try golden.tensor("calib_images")
        var cfg = QuantConfig(setting: .w4a4, method: .ouromamba)
        cfg.calibBlock = (images.shape[0] + 1) / 2
        let cpu = try Calibrator(model: model, config: cfg, threads: 2)
        let reference = try cpu.calibrate(images: images).points
        // Two CPU workers reproduce the one-process result exactly (the merge is exact).
        #expect(try cpu.calibrate(images: images, workers: [cpu, cpu]).points == reference)
        for (label, dev) in GPUTestDevices.all("mixed CPU+GPU calibration") {
            let gpu = try Calibrator(model: model, config: cfg, threads: 2, gpu: try GPUVisionMamba(model: model, device: dev))
            let mixed = try cpu.calibrate(images: images, workers: [cpu, gpu]).points
            var worst = 0.0, differentSteps = 0, steps = 0
            for (a, b) in zip(mixed, reference) {
                for (x, y) in zip(a.scales, b.scales) {
                    steps += 1
                    if x != y { differentSteps += 1 }
                    worst = max(worst, Double(abs(x - y)) / Double(max(abs(y), 1e-12)))
                }
            }
            print("mixed CPU+\(label) calibration: \(differentSteps) of \(steps) scales differ from CPU-only, max relative difference \(worst)")
            // Only last-bit differences of m(t) are expected; a flipped clipping candidate (a 1 % step) fails.
            #expect(worst <= 1e-5, "\(label): scales differ by up to \(worst) (\(differentSteps) of \(steps))")
        }
    }
}
