import OuroSupport
import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant
import OuroTrain

/// `ouromamba bench train`: training images/s (forward + backward + AdamW).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training throughput for the embedded model's config and the PyTorch reference config.",
        discussion: """
        Times full training steps (forward, recomputing backward, AdamW) on random data. \
        The reference figure for the official PyTorch path on this machine is about 9 images/s \
        (6 layers, width 96, patch 4, batch 64).

        Example:
          ouromamba bench train --steps 3
        """)

    @Option(name: .long, help: "Timed steps per config.") var steps = 3
    @Option(name: .long, help: "Batch size.") var batch = 64
    @Option(name: .long, help: "Time this checkpoint instead of the two built-in configs (e.g. vim-tiny-shape at batch 1).")
    var model: String?
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let resolved = try device.resolve(command: "bench train", gpuImplemented: true, console: common.console())
        let threads = common.resolvedThreads()
        var rows: [[String: Any]] = []
        var targets: [(String, VisionMamba)] = []
        if let model {
            targets.append((model, try clusterCLI { try VisionMamba.load(path: model) }))
        } else {
            for (name, d) in [("embedded (D=64, depth 6)", 64), ("PyTorch reference (D=96, depth 6)", 96)] {
                let cfg = VisionMambaConfig(imageSize: 28, channels: 1, patchSize: 4, embedDim: d, depth: 6, numClasses: 10)
                targets.append((name, VisionMamba(config: cfg, weights: Initializer.weights(cfg, seed: 1))))
            }
        }
        for (name, initial) in targets {
            let cfg = initial.config
            let gf = measureSgemm(m: cfg.seqLen * batch, k: cfg.embedDim, n: 2 * cfg.dInner, threads: threads)
            let per = cfg.channels * cfg.imageSize * cfg.imageSize
            var rng = Xoshiro256StarStar(seed: 3)
            let x = Tensor(shape: [batch, cfg.channels, cfg.imageSize, cfg.imageSize], data: rng.normals(batch * per))
            let labels = (0..<batch).map { Int32($0 % cfg.numClasses) }
            var model = initial
            var opt = AdamW(config: cfg, weightDecay: 0.05)
            let gpuModel = try resolved.model(initial)
            let lossGradient = { (logits: Tensor) -> Tensor in
                let (_, g, _) = SmoothedCrossEntropy.evaluate(logits: logits.data, labels: labels, classes: cfg.numClasses, smoothing: 0.1)
                return Tensor(shape: logits.shape, data: g)
            }
            let step = {
                try Trainer.optimizerStep(model: &model, optimizer: &opt, gpu: gpuModel, input: x, lr: 1e-3, clipNorm: 1, threads: threads,
                                 lossGradient: lossGradient)
            }
            let t = try bestTime(repeats: steps, step)   // its warm-up step also compiles the GPU kernels
            // Forward, recompute and backward (2 GEMMs per forward GEMM) ≈ 4× the forward GEMM work.
            let floor = 4 * ModelCost.gemmFlops(cfg) * Double(batch) / (gf * 1e9)
            let ips = Double(batch) / t
            rows.append(["config": name, "images_per_s": ips, "step_s": t, "cpu_gemm_floor_step_s": floor,
                         "vs_pytorch_9_img_s": ips / 9, "device": resolved.backendName])
            if !common.json {
                let vsTorch = self.model == nil ? String(format: "; %.1f× the PyTorch 9 img/s", ips / 9) : ""
                print(String(format: "%@ on %@: %.1f images/s (%.3f s/step, batch %d); CPU GEMM floor %.3f s/step%@",
                             name, resolved.backendName, ips, t, batch, floor, vsTorch))
            }
        }
        if common.json { Console.printJSON(["threads": threads, "results": rows]) }
    }
}

/// `ouromamba bench gen`: generator sample-iterations/s.
struct BenchGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Generator throughput (sample-iterations/s) next to the forward+backward FLOP floor.",
        discussion: """
        Example:
          ouromamba bench gen --tiny ../shared/fixtures/vim-tiny-shape.pth
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Also time this vim-tiny-shape checkpoint (224×224).") var tiny: String?
    @Option(name: .long, help: "Generator.") var method: GeneratorKind = .ouromamba
    @Option(name: .long, help: "Timed iterations.") var iterations = 3
    @Option(name: .long, help: "Samples per block (one objective evaluation).") var block = 8
    @Flag(name: .long, help: "With --device gpu: time every GPU operation of one more evaluation and print the breakdown.")
    var profile = false
    @Option(name: .long, help: "With --device gpu: GiB of device memory for keeping layer internals between the forward and backward (default 30 % of the device memory, at most 24; above it layers are recomputed).")
    var cacheGib: Int?
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let resolved = try device.resolve(command: "bench gen", gpuImplemented: true, console: common.console())
        let threads = common.resolvedThreads()
        var targets: [(String, VisionMamba)] = [(try model.modelPath(), try model.load().0)]
        if let tiny { targets.append((tiny, try VisionMamba.load(path: tiny))) }
        var rows: [[String: Any]] = []
        for (path, m) in targets {
            let c = m.config
            var cfg = GenConfig(); cfg.generator = method
            let B = block
            var rng = Xoshiro256StarStar(seed: 1)
            let x = Tensor(shape: [B, c.channels, c.imageSize, c.imageSize], data: rng.normals(B * c.channels * c.imageSize * c.imageSize))
            let labels = (0..<B).map { $0 % c.numClasses }
            let gpuModel = try resolved.model(m)
            if let cacheGib, let gpuModel { gpuModel.cacheBudgetBytes = cacheGib << 30 }
            let obj = GenObjective(model: m, config: cfg, threads: threads, gpu: gpuModel)
            if obj.gpu != nil { _ = try obj.evaluate(images: x, labels: labels) }   // compile kernels, fill the arena
            let t = try bestTime(repeats: iterations) { _ = try obj.evaluate(images: x, labels: labels) }
            var breakdown: [[String: Any]] = []
            if profile, case .gpu(let dev) = resolved {
                dev.profiling = true
                let wall = try bestTime(repeats: 1, warmup: 0) { _ = try obj.evaluate(images: x, labels: labels) }
                let ops = dev.profile
                dev.profiling = false
                let gpuTotal = ops.reduce(0) { $0 + $1.seconds }
                breakdown = ops.prefix(20).map { ["op": $0.name, "calls": $0.calls, "ms": $0.seconds * 1000] }
                breakdown.append(["op": "host (wall − device ops)", "calls": 1, "ms": (wall - gpuTotal) * 1000])
                if !common.json {
                    print(String(format: "profile of one evaluation (synchronised, %.1f ms wall):", wall * 1000))
                    for r in breakdown { print(String(format: "  %-28@ %6d calls %9.2f ms", r["op"] as! String, r["calls"] as! Int, r["ms"] as! Double)) }
                }
            }
            let gf = measureSgemm(m: c.seqLen * 8, k: c.embedDim, n: 2 * c.dInner, threads: threads)
            // Forward + recompute + input-only backward ≈ 3× the forward GEMM work.
            let floor = 3 * ModelCost.gemmFlops(c) * Double(B) / (gf * 1e9)
            let sips = Double(B) / t
            rows.append(["model": path, "sample_iterations_per_s": sips, "gemm_floor_sample_iterations_per_s": Double(B) / floor,
                         "block": B, "device": resolved.backendName, "profile": breakdown])
            if !common.json {
                print(String(format: "%@ (L=%d, D=%d, depth %d) on %@: %.2f sample-it/s (block of %d: %.3f s); CPU GEMM floor %.1f sample-it/s",
                             path, c.seqLen, c.embedDim, c.depth, resolved.backendName, sips, B, t, Double(B) / floor))
            }
        }
        if common.json { Console.printJSON(["threads": threads, "generator": method.rawValue, "results": rows]) }
    }
}

/// `ouromamba bench gemm`: the integer mixed-precision GEMM against OpenBLAS sgemm.
struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Integer W4A4/W4A8/W8A8 GEMM with 0/2/5% outlier columns vs OpenBLAS sgemm, same shapes, one run.",
        discussion: """
        Shapes: Vim-tiny layers over 8 images (M = 197×8; (K,N) = (192,768), (384,44), (12,384), (384,192)) \
        and the embedded model over 64 images (M = 50×64). Ratios > 1 mean faster than sgemm.

        With --device gpu: the GPU kernel (int8 tensor-core MMA, FP16 out; W4A8 and W4A4, 8-bit outliers at 2% and 5% of K per group of 128 rows) vs cuBLAS FP16 on Vim-base shapes (M = 197×64 = 12608; (K,N) = (768,3072), (1536,768)), each cell checked against the CPU reference; medians of --repeats samples (default 20 there). Ratios > 1 mean faster than cuBLAS.

        Example:
          ouromamba bench gemm --repeats 10
          ouromamba bench gemm --device gpu --json
        """)
    @Option(name: .long, help: "Timed repetitions per cell (CPU: best of, default 30; GPU: median of, default 20).") var repeats: Int?
    @Flag(name: .long, help: "Only the two target shapes in w4a4.") var quick = false
    @Option(name: .long, help: "GPU only: a shape MxKxN to run instead of the defaults (repeatable).") var shape: [String] = []
    @Option(name: .long, help: "GPU only: block tile(s) to time (128x128, 128x128w4, 128x256; repeatable; default all, the fastest is reported).")
    var tile: [String] = []
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        if case .gpu(let dev) = try device.resolve(command: "bench gemm", gpuImplemented: true, console: common.console()) {
            try runGPU(dev)
            return
        }
        let repeats = self.repeats ?? 30
        let threads = common.resolvedThreads()
        if let w = BLAS.coreTypeWarning { FileHandle.standardError.write(Data((w + "\n").utf8)) }
        let shapes = quick ? [(M: 1576, K: 192, N: 768), (M: 1576, K: 384, N: 192)] : IntGEMMBenchmark.defaultShapes
        let rows = try cliQuant {
            try IntGEMMBenchmark.run(shapes: shapes, settings: quick ? [.w4a4] : QuantSetting.integerPresets, threads: threads, repeats: repeats)
        }
        if common.json {
            Console.printJSON(["threads": threads, "openblas_core": BLAS.coreName, "rows": rows.map {
                ["M": $0.M, "K": $0.K, "N": $0.N, "setting": "\($0.setting)", "outlier_fraction": $0.realisedFraction,
                 "int_gops": $0.fullGOPs, "inner_gops": $0.innerGOPs, "sgemm_gflops": $0.sgemmGFLOPs, "ratio": $0.ratio] as [String: Any]
            }])
        } else {
            print(IntGEMMBenchmark.format(rows, threads: threads))
        }
    }

    /// The GPU benchmark (`GPUGEMMBenchmark`): one JSON object or a table.
    func runGPU(_ dev: CUDADevice) throws {
        let shapes = try shape.map { s -> (M: Int, K: Int, N: Int) in
            let v = s.lowercased().split(separator: "x").compactMap { Int($0) }
            guard v.count == 3, v.allSatisfy({ $0 > 0 }) else { throw CLIError("--shape \(s): expected MxKxN, e.g. 12608x768x3072") }
            return (v[0], v[1], v[2])
        }
        let tiles = try tile.map { t -> GPUMixedPrecisionGEMM.Tile in
            guard let v = GPUMixedPrecisionGEMM.Tile(rawValue: t) else {
                throw CLIError("--tile \(t): one of \(GPUMixedPrecisionGEMM.Tile.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return v
        }
        if !common.json { print("device \(dev.name) (compute \(dev.computeCapability.major).\(dev.computeCapability.minor))") }
        let json = common.json
        let rows: [GPUGEMMBenchRow]
        do {
            rows = try GPUGEMMBenchmark.run(device: dev, shapes: shapes.isEmpty ? GPUGEMMBenchmark.defaultShapes : shapes,
                                            tiles: tiles.isEmpty ? GPUMixedPrecisionGEMM.Tile.allCases : tiles, repeats: repeats ?? 20,
                                            progress: { line in if !json { print(line, terminator: "") } })
        } catch let e as CUDAError { throw CLIError("bench gemm --device gpu: \(e.description)") }
        catch let e as IntGEMMError { throw CLIError("bench gemm --device gpu: \(e)") }
        if json {
            Console.printJSON(["device": dev.name, "compute_capability": "\(dev.computeCapability.major).\(dev.computeCapability.minor)",
                               "baseline": "cublasGemmEx FP16 in/out, FP32 accumulate (hgemmNT)",
                               "ours": "int8 mma.sync m16n8k32 GEMM, fused dequantization + 8-bit outlier term, FP16 out",
                               "all_passed": rows.allSatisfy(\.passed), "results": rows.map(\.json)])
        } else {
            print("")
            print(GPUGEMMBenchmark.format(rows))
            print("ms = median GPU time per call; ratio = cuBLAS FP16 ms / ours ms (ratio+q: ours including activation quantization from FP16)")
        }
        guard rows.allSatisfy(\.passed) else { throw CLIError("GPU GEMM result differs from the CPU reference (see the check columns)") }
    }
}

/// `ouromamba bench scan`: the selective scan on the CPU and (with `--device gpu`) the GPU.
struct BenchScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Selective-scan forward at Vim-tiny size (8 images, L=197, E=384, N=16): CPU, and GPU parity and speed.",
        discussion: """
        Without a usable NVIDIA driver and GPU, `--device gpu` fails with a message naming what \
        was searched (set OUROMAMBA_CUDA_LIBS to add library folders).

        Example:
          ouromamba bench scan --device gpu
        """)
    @Option(name: .long, help: "Timed repetitions (best of).") var repeats = 5
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let threads = common.resolvedThreads()
        let s = SelectiveScan.Shape(batch: 8, length: 197, channels: 384, state: 16)
        let rows = s.batch * s.length, E = s.channels, N = s.state, xw = 12 + 2 * N
        var rng = Xoshiro256StarStar(seed: 9)
        let u = rng.normals(rows * E), delta = rng.normals(rows * E).map { 0.01 + 0.1 * abs($0) }
        let a = (0..<(E * N)).map { -Float($0 % N + 1) * (1 + 0.05 * Float($0 % 7)) }
        let bc = rng.normals(rows * xw), d = rng.normals(E)
        var a2T = [Float](repeating: 0, count: N * E)
        for e in 0..<E { for n in 0..<N { a2T[n * E + e] = a[e * N + n] * 1.4426950408889634 } }
        var y = [Float](repeating: 0, count: rows * E)
        let runner = ParallelRunner(threads: threads)
        let tc = bestTime(repeats: repeats) {
            u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { ap in
            bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in y.withUnsafeMutableBufferPointer { yp in
                SelectiveScan.forward(shape: s, u: up.baseAddress!, delta: dp.baseAddress!, a2T: ap.baseAddress!,
                                      bc: .init(base: bp.baseAddress!, ld: xw, bOffset: 12, cOffset: 12 + N), d: ddp.baseAddress!,
                                      reverse: false, y: yp.baseAddress!, states: nil, runner: runner)
            }}}}}}
        }
        var result: [String: Any] = ["cpu_ms": tc * 1000, "threads": threads]
        if !common.json { print(String(format: "CPU scan (%d threads): %.2f ms", threads, tc * 1000)) }
        // The backward pass (Gen and training), the C kernel next to the Swift reference, same inputs.
        var states = [Float](repeating: 0, count: rows * N * E)
        let gy = rng.normals(rows * E)
        var gu = [Float](repeating: 0, count: rows * E), gDelta = gu, gB = [Float](repeating: 0, count: rows * N), gC = gB
        var gA = [Float](repeating: 0, count: E * N), gD = [Float](repeating: 0, count: E)
        let aT = (0..<(N * E)).map { a[($0 % E) * N + $0 / E] }
        func backward(_ kernel: FloatKernelPath) -> Double {
            bestTime(repeats: repeats) {
                u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { ap in
                aT.withUnsafeBufferPointer { atp in bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in
                states.withUnsafeMutableBufferPointer { sp in gy.withUnsafeBufferPointer { gyp in
                gu.withUnsafeMutableBufferPointer { gup in gDelta.withUnsafeMutableBufferPointer { gdp in
                gB.withUnsafeMutableBufferPointer { gbp in gC.withUnsafeMutableBufferPointer { gcp in
                gA.withUnsafeMutableBufferPointer { gap in gD.withUnsafeMutableBufferPointer { gdd in
                    let tm = SelectiveScan.TokenMatrices(base: bp.baseAddress!, ld: xw, bOffset: 12, cOffset: 12 + N)
                    SelectiveScan.forward(shape: s, u: up.baseAddress!, delta: dp.baseAddress!, a2T: ap.baseAddress!, bc: tm,
                                          d: ddp.baseAddress!, reverse: false, y: gup.baseAddress!, states: sp.baseAddress!, runner: runner)
                    SelectiveScan.backward(shape: s, u: up.baseAddress!, delta: dp.baseAddress!, a2T: ap.baseAddress!, aT: atp.baseAddress!,
                                           bc: tm, d: ddp.baseAddress!, reverse: false, states: sp.baseAddress!, gy: gyp.baseAddress!,
                                           ghExt: nil, gu: gup.baseAddress!, gDelta: gdp.baseAddress!, gB: gbp.baseAddress!,
                                           gC: gcp.baseAddress!, gA: gap.baseAddress!, gD: gdd.baseAddress!, runner: runner, kernel: kernel)
                }}}}}}}}}}}}}}
            }
        }
        let tbRef = backward(.reference), tbC = backward(.automatic)
        result["cpu_forward_backward_reference_ms"] = tbRef * 1000
        result["cpu_forward_backward_ms"] = tbC * 1000
        result["cpu_float_kernels"] = "\(FloatKernelPath.selected)"
        if !common.json {
            print(String(format: "CPU scan forward (states kept) + backward: %.2f ms with the %@ kernels, %.2f ms with the Swift reference backward (%.2f×)",
                         tbC * 1000, "\(FloatKernelPath.selected)", tbRef * 1000, tbRef / tbC))
        }
        if case .gpu(let dev) = try device.resolve(command: "bench scan", gpuImplemented: true, console: common.console()) {
            var yg: [Float] = []
            let tg = try bestTime(repeats: repeats) {
                yg = try GPUScan.forward(dev, shape: s, u: u, delta: delta, a: a, bc: bc, ld: xw, bOffset: 12, cOffset: 12 + N, d: d, reverse: false)
            }
            let err = relativeMaxError(yg, y)
            result["gpu"] = dev.name; result["gpu_ms_including_transfers"] = tg * 1000; result["max_rel_diff_vs_cpu"] = err
            if !common.json {
                print(String(format: "GPU scan on %@ (sm_%d%d): %.2f ms including transfers; max|gpu − cpu|/max|cpu| = %.2e",
                             dev.name, dev.computeCapability.major, dev.computeCapability.minor, tg * 1000, err))
            }
        }
        if common.json { Console.printJSON(result) }
    }
}
