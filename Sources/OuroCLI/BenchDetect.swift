import ArgumentParser
import OuroEngine
import OuroQuant
import OuroSupport

/// Run-time outlier detection of one activation point on rows that stay in cache against rows
/// streamed from memory: how much of its cost is the loads rather than the arithmetic.
struct BenchDetect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Outlier detection of one point (vim-tiny shape: L=197 steps), cache-resident vs streamed rows.",
        discussion: """
        One thread runs the W4A4 dynamic detection of `ouromamba` (λ = 3, refresh 10) over \
        heavy-tailed rows: first one sample again and again (its rows stay in L2), then \
        `--samples` samples once each (they stream from memory). The ratio says how much of \
        detection's time is waiting for the rows.

        Example:
          ouromamba bench detect --channels 384 --samples 64
          ouromamba bench detect --channels 128 --path avx2
        """)
    @Option(name: .long, help: "Channels of the point.") var channels = 384
    @Option(name: .long, help: "Samples in the streamed run.") var samples = 64
    @Option(name: .long, help: "Timed repetitions (best of).") var repeats = 5
    @Option(name: .long, help: "Kernel path: auto (the widest this CPU has), portable, avx2 or avx512.")
    var path: KernelPathArgument = .auto
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard channels >= 2 else { throw ValidationError("--channels must be at least 2, got \(channels)") }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") }
    }

    func run() throws {
        guard let resolved = try? path.path.resolved() else {
            throw ValidationError("--path \(path): this CPU cannot run it (AVX2: \(KernelPath.avx2Available), AVX-512 with VNNI: \(KernelPath.avx512Available))")
        }
        let L = 197, C = channels
        var rng = Xoshiro256StarStar(seed: 5)
        var x = (0..<(samples * L * C)).map { i -> Float in
            let v = Float(rng.nextUniform() * 2 - 1)
            return i % 37 == 3 ? v * 20 : v
        }
        let q = PointQuantizer(channels: C, asymmetric: false, scales: [Float](repeating: 0.12, count: L), zeros: [],
                               inlierBits: 4, outlierBits: 8, outliers: .dynamic(lambda: 3, nRefresh: 10, stats: .inliers))
        var counts = [Int32](repeating: 0, count: L), lists = [Int32](repeating: 0, count: L * C)
        func pass(_ sample: Int) {
            x.withUnsafeMutableBufferPointer { xp in counts.withUnsafeMutableBufferPointer { cp in lists.withUnsafeMutableBufferPointer { lp in
                q.run(xp.baseAddress! + sample * L * C, ld: C, length: L, reversed: sample % 2 == 1, apply: false,
                      counts: cp.baseAddress!, lists: lp.baseAddress!, path: resolved)
            }}}
        }
        // The same number of rows in both runs.
        let resident = bestTime(repeats: repeats) { for _ in 0..<samples { pass(0) } }
        let streamed = bestTime(repeats: repeats) { for s in 0..<samples { pass(s) } }
        let rows = Double(samples * L), path = "\(resolved)"
        let nsResident = resident / rows * 1e9, nsStreamed = streamed / rows * 1e9
        if common.json {
            Console.printJSON(["channels": C, "samples": samples, "ns_per_row_resident": nsResident,
                               "ns_per_row_streamed": nsStreamed, "path": path])
        } else {
            print(String(format: "detection, %d channels, %@ path: %.0f ns/row with the rows in cache, %.0f ns/row streamed (%d samples, %.1f MB): %.2f×",
                         C, path, nsResident, nsStreamed, samples, Double(samples * L * C * 4) / 1e6,
                         nsStreamed / nsResident))
        }
    }
}
