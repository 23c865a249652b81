import Testing
import OuroEngine
import OuroModel
import OuroQuant
import OuroTestSupport

/// Calibration blocks split between a CPU and a GPU worker (emulated here, CUDA where present)
/// merge into the CPU-only result; the GPU's statistics kernels equal the host reduction bit for
/// bit on the same activations, so any difference comes from float rounding of the GPU forward.
@Suite struct GPUCalibrationTests {
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), .enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"))
    func mixedCPUAndGPUBlocksMergeToTheCPUScales() throws {
        let path = try #require(Fixtures.path("vim-micro.safetensors"))
        let golden = try #require(try Golden.open("quant-micro.golden.safetensors"))
        let model = try VisionMamba.load(path: path)
        let images = try golden.tensor("calib_images")
        var cfg = QuantConfig(setting: .w4a4, method: .ouromamba)
        cfg.calibBlock = (images.shape[0] + 1) / 2
        let cpu = try Calibrator(model: model, config: cfg, threads: 2)
        let reference = try cpu.calibrate(images: images).points
        // Two CPU workers reproduce the one-process result exactly (the merge is exact).
        #expect(try cpu.calibrate(images: images, workers: [cpu, cpu]).points == reference)
        for (label, dev) in try GPUTestDevices.all("mixed CPU+GPU calibration") {
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

    /// The device reduction (`GPUCalibrationStatistics`) against the host code on copies of the
    /// same device activations: every statistic of both passes identical, for each method, a
    /// short refresh window (several windows per sequence) and both bit widths.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), .enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)"),
          arguments: [(QuantMethod.ouromamba, QuantSetting.w4a4, 3), (.ouromamba, .w4a8, 10),
                      (.staticOutlierList, .w4a4, 10), (.staticPerToken, .w4a4, 10), (.staticMinmax, .w4a8, 10)])
    func deviceStatisticsEqualTheHostReduction(method: QuantMethod, setting: QuantSetting, refresh: Int) throws {
        let path = try #require(Fixtures.path("vim-micro.safetensors"))
        let golden = try #require(try Golden.open("quant-micro.golden.safetensors"))
        let model = try VisionMamba.load(path: path)
        let images = try golden.tensor("calib_images")
        var cfg = QuantConfig(setting: setting, method: method)
        cfg.calibBlock = (images.shape[0] + 1) / 2
        cfg.nRefresh = refresh
        cfg.candidates = 20
        for (label, dev) in try GPUTestDevices.all("GPU calibration statistics") {
            let gpuModel = try GPUVisionMamba(model: model, device: dev)
            let onDevice = try Calibrator(model: model, config: cfg, threads: 2, gpu: gpuModel)
            var onHost = onDevice
            onHost.statisticsOnHost = true
            let a = try onDevice.calibrate(images: images), b = try onHost.calibrate(images: images)
            // Compared outside #expect so a failure names the pass instead of dumping every value.
            let samePass1 = a.pass1 == b.pass1, samePass2 = a.pass2 == b.pass2, samePoints = a.points == b.points
            #expect(samePass1, "\(label) \(method.rawValue): pass-1 statistics differ")
            #expect(samePass2, "\(label) \(method.rawValue): pass-2 error sums differ")
            #expect(samePoints, "\(label) \(method.rawValue): calibrated points differ")
            // The comparison is not vacuous: outliers were marked and the search ran.
            if method == .ouromamba { #expect(a.pass1.points.contains { $0.outlierEntries > 0 }) }
            if method != .staticMinmax { #expect(a.pass2?.points.first?.width == model.config.seqLen * cfg.candidates) }
        }
    }

    /// The statistics kernels compile for Ampere and Hopper, and no Double multiply-add was
    /// fused (the host never fuses, so a fused one would break bit-identity on a real GPU).
    @Test(.enabled(if: GPUTestDevices.nvrtcAvailable, "\(GPUTestDevices.nvrtcMissingReason)"))
    func statisticsKernelsCompileWithoutFusedDoubleMultiplyAdds() throws {
        let nv = try NVRTCCompiler()
        for arch in [80, 90] {
            let ptx = String(decoding: try nv.ptx(Calibrator.gpuKernelModule, arch: arch).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let complete = ptx.contains("cal_pass2_partial"), explicit = ptx.contains("mul.rn.f64"), fused = ptx.contains("fma.rn.f64")
            #expect(complete, "sm_\(arch): a kernel is missing from the PTX")
            #expect(explicit, "sm_\(arch): the intrinsics should appear as explicit mul.rn.f64")
            #expect(!fused, "sm_\(arch): a Double multiply-add was fused")
        }
    }
}
