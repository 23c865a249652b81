import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant

/// `ouromamba bench gpu-parity`: the GPU acceptance checks that need the golden fixtures, for a
/// GPU machine without a Swift toolchain (the test suite runs the same checks on the emulated
/// GPU everywhere).
struct BenchGPUParity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu-parity",
        abstract: "GPU vs official logits, GPU vs CPU Gen-loss gradients, mixed CPU+GPU calibration (needs the fixtures).",
        discussion: """
        Checks, each on the GPU (--device gpu, or --device emulated to run the CUDA kernels on \
        the host):
          forward      vim-micro and vim-tiny-shape logits vs the official PyTorch
                       logits (fixture tolerances 1e-5, 2e-5)
          gen          Gen-loss input gradients, GPU vs CPU, for ouromamba, pse and
                       contrastive-raw on vim-micro and ouromamba on vim-tiny-shape
                       (2 images at 224×224): relative error ≤ 1e-4
          calibration  vim-micro W4A4 calibration with one block on the CPU and one on
                       the GPU, merged, vs CPU only; and the GPU statistics kernels vs
                       the host reduction of the same GPU activations (bit-identical)
        Exits 1 when a check fails.

        Example:
          ouromamba bench gpu-parity --fixtures ../shared/fixtures --device gpu --json
        """)
    @Option(name: .long, help: "Folder of the golden fixtures.") var fixtures: String
    @Option(name: .long, help: "gpu (CUDA) or emulated (the kernels compiled for the host CPU).") var device = "gpu"
    @OptionGroup var common: CommonOptions

    func run() throws {
        let dev: GPUDevice
        do {
            switch device {
            case "gpu": dev = try GPUDevices.cuda()
            case "emulated": dev = try EmulatedGPUDevice()
            default: throw CLIError("--device: expected gpu or emulated, got \(device)")
            }
        } catch let e as CUDAError { throw CLIError("--device \(device): \(e.description)") }
        let threads = common.resolvedThreads()
        func file(_ name: String) throws -> String {
            let p = URL(fileURLWithPath: fixtures).appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: p) else { throw CLIError("\(p): fixture missing (--fixtures \(fixtures))") }
            return p
        }
        func tensor(_ f: SafeTensorsFile, _ name: String) throws -> Tensor {
            let t = try f.tensor(name)
            return Tensor(shape: t.shape, data: try t.floats())
        }
        var checks: [[String: Any]] = []
        var failed = false
        func record(_ name: String, _ value: Double, limit: Double, extra: [String: Any] = [:]) {
            let ok = value <= limit
            if !ok { failed = true }
            checks.append(["check": name, "value": value, "limit": limit, "passed": ok].merging(extra) { a, _ in a })
            if !common.json { print(String(format: "%@ %@: %.3e (limit %.0e)", ok ? "PASS" : "FAIL", name, value, limit)) }
        }
        if !common.json { print("device: \(dev.name)") }

        // Forward parity with the official logits.
        let micro = try VisionMamba.load(path: try file("vim-micro.safetensors"))
        let tiny = try VisionMamba.load(path: try file("vim-tiny-shape.pth"))
        for (model, golden, tol) in [(micro, "vim-micro.golden.safetensors", 1e-5), (tiny, "vim-tiny-shape.golden.safetensors", 2e-5)] {
            let g = try SafeTensorsFile.read(path: try file(golden))
            let logits = try GPUVisionMamba(model: model, device: dev).logits(try tensor(g, "input"))
            record("forward \(golden.replacingOccurrences(of: ".golden.safetensors", with: "")) logits vs official",
                   relativeMaxError(logits.data, try tensor(g, "logits").data), limit: tol)
        }

        // Gen-loss gradients, GPU vs CPU.
        let genGolden = try SafeTensorsFile.read(path: try file("gen-micro.golden.safetensors"))
        let xMicro = try tensor(genGolden, "input").slice(outer: 0, count: 2)
        var rng = Xoshiro256StarStar(seed: 21)
        let c = tiny.config
        let xTiny = Tensor(shape: [2, c.channels, c.imageSize, c.imageSize], data: rng.normals(2 * c.channels * c.imageSize * c.imageSize))
        let cases: [(String, VisionMamba, Tensor, GeneratorKind)] = [
            ("vim-micro", micro, xMicro, .ouromamba), ("vim-micro", micro, xMicro, .pse), ("vim-micro", micro, xMicro, .contrastiveRaw),
            ("vim-tiny-shape", tiny, xTiny, .ouromamba),
        ]
        for (name, model, x, kind) in cases {
            var cfg = GenConfig(); cfg.generator = kind
            let labels = [3, 1]
            let (cpuParts, cpuGrad) = try GenObjective(model: model, config: cfg, threads: threads).evaluate(images: x, labels: labels)
            let gpu = GenObjective(model: model, config: cfg, threads: threads, gpu: try GPUVisionMamba(model: model, device: dev))
            let (parts, grad) = try gpu.evaluate(images: x, labels: labels)
            let lossErr = zip(parts.total, cpuParts.total).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? 0
            record("gen \(kind.rawValue) \(name) input gradient GPU vs CPU", relativeMaxError(grad.data, cpuGrad.data), limit: 1e-4,
                   extra: ["loss_rel_diff": lossErr])
        }

        // Calibration split between the CPU and the GPU, merged, vs the CPU alone.
        let quantGolden = try SafeTensorsFile.read(path: try file("quant-micro.golden.safetensors"))
        let images = try tensor(quantGolden, "calib_images")
        var qc = QuantConfig(setting: .w4a4, method: .ouromamba)
        qc.calibBlock = (images.shape[0] + 1) / 2
        let cpuCal = try Calibrator(model: micro, config: qc, threads: threads)
        let gpuCal = try Calibrator(model: micro, config: qc, threads: threads, gpu: try GPUVisionMamba(model: micro, device: dev))
        let reference = try cpuCal.calibrate(images: images).points
        let mixed = try cpuCal.calibrate(images: images, workers: [cpuCal, gpuCal]).points
        var worst = 0.0, differ = 0, total = 0, istarDiffer = 0
        for (a, b) in zip(mixed, reference) {
            for (x, y) in zip(a.scales, b.scales) {
                total += 1
                if x != y { differ += 1 }
                worst = max(worst, Double(abs(x - y)) / Double(max(abs(y), 1e-12)))
            }
            istarDiffer += zip(a.istar, b.istar).filter { $0 != $1 }.count
        }
        record("calibration CPU+GPU merged vs CPU scales (max relative difference)", worst, limit: 1e-5,
               extra: ["scales_differing": differ, "scales": total, "clipping_choices_differing": istarDiffer])
        // The GPU statistics kernels against the host reduction of the same device activations.
        var hostReduced = gpuCal
        hostReduced.statisticsOnHost = true
        let onDevice = try gpuCal.calibrate(images: images), onHost = try hostReduced.calibrate(images: images)
        let statsIdentical = onDevice.pass1 == onHost.pass1 && onDevice.pass2 == onHost.pass2 && onDevice.points == onHost.points
        record("calibration statistics GPU kernels vs host reduction (0 = bit-identical)", statsIdentical ? 0 : 1, limit: 0)
        if common.json {
            Console.printJSON(["device": dev.name, "checks": checks, "all_passed": !failed])
        } else {
            print("calibration: \(differ) of \(total) scales differ, \(istarDiffer) clipping choices differ")
        }
        if failed { throw ExitCode(1) }
    }
}
