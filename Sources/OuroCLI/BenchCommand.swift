import ArgumentParser
import Foundation
import OuroEngine
import OuroModel
import OuroPipeline
import OuroQuant
import OuroSupport

/// `ouromamba bench`: throughput measurements (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: forward, train, gen, gemm, scan, decode.",
        subcommands: [BenchForward.self, BenchTrain.self, BenchGen.self, BenchGemm.self, BenchScan.self, BenchDetect.self, BenchDecode.self, BenchGPUParity.self])
}

/// Best-of timing of a closure.
func bestTime(repeats: Int, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var best = Double.infinity
    for _ in 0..<max(1, repeats) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

/// The sgemm of a compute floor at a given shape (row-major X·Wᵀ, as the model calls it):
/// `threads` single-threaded OpenBLAS calls side by side, each into its own output, as the lanes
/// of the forward run them. (OpenBLAS's own threads, once woken, keep spinning for a while and
/// slowed down whatever was timed next.)
final class SgemmProbe {
    let m: Int, k: Int, n: Int, lanes: Int
    private let runner: ParallelRunner
    private let a: [Float], b: [Float]
    private let c: UnsafeMutablePointer<Float>

    init(m: Int, k: Int, n: Int, threads: Int = Hardware.cores) {
        self.m = m; self.k = k; self.n = n
        lanes = max(1, threads); runner = ParallelRunner(threads: threads)
        BLAS.setThreads(1)
        var rng = Xoshiro256StarStar(seed: 1)
        a = rng.normals(m * k); b = rng.normals(n * k)
        c = UnsafeMutablePointer<Float>.allocate(capacity: lanes * m * n)
        c.initialize(repeating: 0, count: lanes * m * n)
    }
    deinit { c.deallocate() }

    /// One timed unit: every lane's sgemm once.
    func run() {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                runner.forEach(lanes) { i in
                    BLAS.sgemm(transB: true, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k,
                               c: c + i * m * n, ldc: n)
                }
            }
        }
    }

    /// GFLOP/s of `run` taking `seconds`.
    func gflops(seconds: Double) -> Double { 2.0 * Double(lanes * m * n * k) / seconds / 1e9 }
}

/// Measured sgemm GFLOP/s at a given shape (`SgemmProbe`), best of `repeats`. This is the
/// reference the floors use.
func measureSgemm(m: Int, k: Int, n: Int, repeats: Int = 30, threads: Int = Hardware.cores) -> Double {
    let probe = SgemmProbe(m: m, k: k, n: n, threads: threads)
    return probe.gflops(seconds: bestTime(repeats: repeats) { probe.run() })
}

struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Images/s of the FP forward pass, next to the sgemm compute floor.",
        discussion: """
        With --pair MODEL=ARTIFACT (repeatable) several models run in one invocation, each FP32 \
        next to its quantized artifact, and a closing table lists the int/FP32 ratios side by side.

        Example:
          ouromamba bench forward --model ../shared/fixtures/vim-tiny-shape.pth \\
              --batch 1 --batch 8
          ouromamba bench forward --pair m1.pth=q1.safetensors \\
              --pair m2.safetensors=q2.safetensors --engine int --batch 8 \\
              --batch 64
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Batch sizes to time (repeatable).") var batch: [Int] = [1, 8]
    @Option(name: .long, help: "Timed repetitions (best of).") var repeats = 3
    @Option(name: .long, help: "Also time this quantized artifact with the integer engine (and sim), side by side.")
    var quantized: String?
    @Option(name: .long, help: "Engines to time with --quantized: int, sim or both.")
    var engine: EngineChoice = .both
    @Flag(name: .customLong("skip-fp32"), help: "With --quantized, time only the quantized engines (to profile them alone).")
    var skipFP32 = false
    @Option(name: .long, help: ArgumentHelp("A checkpoint and its quantized artifact to time side by side (repeatable; replaces --model and --quantized).",
                                            valueName: "model=artifact"))
    var pair: [String] = []
    @Option(name: .long, help: "Lanes: the batch is shared among this many lanes that run side by side, each on its share of the threads (as eval runs).")
    var lanes = 1
    @Option(name: .customLong("per-forward"), help: "Images per forward on a lane, for every engine (default: the model's cache-sized count, as eval: about 200 token rows; 0: all of a lane's images in one forward).")
    var perForward: Int?
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        guard lanes >= 1 else { throw ValidationError("--lanes must be at least 1, got \(lanes)") }
        if let perForward, perForward < 0 { throw ValidationError("--per-forward must be 0 or more, got \(perForward)") }
        for b in batch where b % lanes != 0 {
            throw ValidationError("--batch \(b) is not a multiple of --lanes \(lanes): every lane takes the same number of images")
        }
        if !pair.isEmpty && (model.model != nil || quantized != nil) {
            throw ValidationError("--pair replaces --model and --quantized; give one or the other")
        }
        for p in pair where p.split(separator: "=", maxSplits: 1).count != 2 {
            throw ValidationError("--pair \(p): expected MODEL=ARTIFACT")
        }
    }

    func run() throws {
        let resolved = try device.resolve(command: "bench forward", gpuImplemented: true, console: common.console())
        let threads = common.resolvedThreads()
        if let w = BLAS.coreTypeWarning { FileHandle.standardError.write(Data((w + "\n").utf8)) }
        var jsonModels: [[String: Any]] = []
        var summary: [String] = []
        if pair.isEmpty {
            let (m, path) = try model.load()
            let q = try quantized.map { file in try cliQuant { try QuantArtifact.read(path: file) } }
            if let q, let quantized { try QuantEvaluation.checkSource(q, model: m, modelPath: path, artifact: quantized) }
            jsonModels.append(try time(m, path: path, q, resolved: resolved, threads: threads, summary: &summary))
        } else {
            for p in pair {
                let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
                let path = parts[0], m = try ModelOptions.load(path: path)
                let q = try cliQuant { try QuantArtifact.read(path: parts[1]) }
                try QuantEvaluation.checkSource(q, model: m, modelPath: path, artifact: parts[1])
                jsonModels.append(try time(m, path: path, q, resolved: resolved, threads: threads, summary: &summary))
            }
        }
        if common.json {
            if jsonModels.count == 1 { Console.printJSON(jsonModels[0]) } else { Console.printJSON(["models": jsonModels]) }
        } else if !summary.isEmpty && (pair.count > 1 || batch.count > 1) {
            print("\nside by side (ratios > 1: the quantized engine is faster)")
            print("| model | D | depth | L | batch | FP32 ms/image | engine | ms/image | × FP32 |")
            print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
            summary.forEach { print($0) }
        }
    }

    /// Images per forward for `perLane` images on a lane, for every engine alike: the largest
    /// divisor of `perLane` within `limit`, so that every chunk has the same size.
    static func imagesPerForward(perLane: Int, limit: Int) -> Int {
        var n = max(1, min(perLane, limit))
        while perLane % n != 0 { n -= 1 }
        return n
    }

    /// Times one model (and its artifact) at every batch size; returns its JSON object and adds
    /// its rows to `summary`.
    private func time(_ m: VisionMamba, path: String, _ q: QuantizedModel?, resolved: ResolvedDevice, threads: Int,
                      summary: inout [String]) throws -> [String: Any] {
        let c = m.config
        let flops = ModelCost.gemmFlops(c)
        let gpu = try resolved.model(m)
        // sgemm at the model's dominant shape: in_proj over 8 images. It is timed again with
        // every batch, round-robin with the engines, and the best of all its timings makes the
        // floor: on a shared machine a separate measurement could catch a slow moment.
        let probe = SgemmProbe(m: c.seqLen * 8, k: c.embedDim, n: 2 * c.dInner, threads: threads)
        var probeBest = bestTime(repeats: 30) { probe.run() }
        /// The floor (ms/image) from the best sgemm timing so far.
        func currentFloorMs() -> Double { flops / (probe.gflops(seconds: probeBest) * 1e9) * 1000 }
        var rows: [[String: Any]] = []
        if !common.json {
            print("model \(path): D=\(c.embedDim) depth=\(c.depth) L=\(c.seqLen), threads \(threads), lanes \(lanes), "
                  + "images per forward \(perForward == 0 ? "all of a lane's" : "at most \(perForward ?? c.imagesPerForward)"), OpenBLAS core \(BLAS.coreName)")
            print(String(format: "GEMM work %.2f GFLOP/image; sgemm %.1f GFLOP/s at (%d×%d×%d) → floor %.2f ms/image",
                         flops / 1e9, probe.gflops(seconds: probeBest), c.seqLen * 8, c.embedDim, 2 * c.dInner, currentFloorMs()))
        }
        for b in batch {
            var rng = Xoshiro256StarStar(seed: 7)
            let x = Tensor(shape: [b, c.channels, c.imageSize, c.imageSize], data: rng.normals(b * c.channels * c.imageSize * c.imageSize))
            // The floor's sgemm, FP32 and the quantized engines are timed round-robin: their
            // ratios come from one run.
            var bodies: [() throws -> Void] = [{ probe.run() }]
            let chunk = BenchForward.imagesPerForward(perLane: b / lanes, limit: perForward == 0 ? b : perForward ?? c.imagesPerForward)
            if !(skipFP32 && q != nil) {
                bodies.append { _ = try m.logits(x, batchSize: chunk, laneHooks: [ForwardHooks?](repeating: nil, count: lanes), threads: threads) }
            }
            let sim = q?.simulatedModel()
            var engineHooks: [(QuantEngine, [QuantizedHooks])] = []
            if let q, let sim {
                for engine in self.engine.engines {
                    let hooks = try cliQuant { try q.laneHooks(engine: engine, images: b, batchSize: chunk, threads: threads) }
                    engineHooks.append((engine, hooks))
                    bodies.append { _ = try sim.logits(x, batchSize: chunk, laneHooks: hooks, threads: threads) }
                }
            }
            var times = try Timing.bestSeconds(repeats: repeats, bodies)
            probeBest = min(probeBest, times.removeFirst())
            let floorMs = currentFloorMs()
            let t = skipFP32 && q != nil ? Double.nan : times.removeFirst()
            let msPer = t / Double(b) * 1000
            var row: [String: Any] = ["batch": b, "images_per_forward": chunk, "floor_ms_per_image": floorMs]
            if !t.isNaN {
                row["images_per_s"] = Double(b) / t; row["ms_per_image"] = msPer; row["ratio_to_floor"] = msPer / floorMs
            }
            if !common.json && !t.isNaN {
                print(String(format: "batch %3d: FP32 %8.2f images/s  %8.2f ms/image  (%.2f× the floor)", b, Double(b) / t, msPer, msPer / floorMs))
            }
            if let gpu {
                _ = try gpu.logits(x)   // compile the kernels and fill the arena first
                let tg = try bestTime(repeats: repeats) { _ = try gpu.logits(x) }
                row["gpu_images_per_s"] = Double(b) / tg
                if !t.isNaN { row["gpu_speedup_vs_cpu_fp32"] = t / tg }
                if !common.json {
                    print(String(format: "batch %3d: GPU FP32 (%@) %8.2f images/s  %8.3f ms/image", b, resolved.backendName,
                                 Double(b) / tg, tg / Double(b) * 1000) + (t.isNaN ? "" : String(format: "  (%.1f× CPU FP32)", t / tg)))
                }
            }
            if let q {
                var report: OutlierReport?
                for ((engine, hooks), tq) in zip(engineHooks, times) {
                    let merged: OutlierReport
                    do { merged = try QuantizedModel.report(of: hooks) } catch { throw CLIError("\(engine.rawValue) engine: \(error)") }
                    if report == nil { report = merged }
                    row["\(engine.rawValue)_images_per_s"] = Double(b) / tq
                    if !t.isNaN { row["\(engine.rawValue)_speedup_vs_fp32"] = t / tq }
                    if !t.isNaN {
                        summary.append(String(format: "| %@ | %d | %d | %d | %d | %.2f | %@ %@ | %.2f | %.2f |", (path as NSString).lastPathComponent,
                                              c.embedDim, c.depth, c.seqLen, b, msPer, q.quant.setting.description, engine.rawValue,
                                              tq / Double(b) * 1000, t / tq))
                    }
                    if !common.json {
                        let vsFP = t.isNaN ? "" : String(format: "  (%.2f× FP32)", t / tq)
                        print(String(format: "batch %3d: %@ %@: %8.2f images/s  %8.2f ms/image", b, q.quant.setting.description,
                                     engine.rawValue, Double(b) / tq, tq / Double(b) * 1000) + vsFP)
                    }
                }
                if let report, b == batch.last {
                    let layout = QuantLayout(q.config)
                    let fr = (0..<q.config.depth).map { l in
                        ActivationPoint.all.filter { $0.kind == .input || $0.kind == .out || $0.kind == .xproj || $0.kind == .dtproj }
                            .map { report.fraction(layout.index(layer: l, $0)) }.reduce(0, +) / 6
                    }
                    row["outlier_fraction_per_layer"] = fr
                    if !common.json {
                        print("           measured outlier fraction at the linear inputs, per layer: " + fr.map { String(format: "%.3f", $0) }.joined(separator: " "))
                    }
                }
            }
            rows.append(row)
        }
        return ["model": path, "threads": threads, "lanes": lanes, "sgemm_gflops": probe.gflops(seconds: probeBest), "gemm_gflop_per_image": flops / 1e9,
                "openblas_core": BLAS.coreName, "results": rows]
    }
}
