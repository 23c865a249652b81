import Foundation
import OuroEngine
import OuroTestSupport
import Testing
import OuroQuant

/// Random test data for the integer GEMM.
struct GEMMCase {
    var rng: Xoshiro256StarStar
    init(seed: UInt64) { rng = Xoshiro256StarStar(seed: seed) }

    mutating func ints(_ n: Int, qmax: Int, extreme: Bool = false) -> [Int8] {
        (0..<n).map { _ in
            extreme ? Int8((rng.next() & 1) == 0 ? qmax : -qmax) : Int8(Int(rng.next() % UInt64(2 * qmax + 1)) - qmax)
        }
    }
    mutating func floats(_ n: Int) -> [Float] {
        var v = [Float](repeating: 0, count: n)
        v.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
        return v
    }
    mutating func weights(N: Int, K: Int, bits: Int, extreme: Bool = false) throws -> PackedWeights {
        let q = ints(N * K, qmax: bits == 4 ? 7 : 127, extreme: extreme)
        let s = (0..<N).map { _ in Float(0.001 + 0.01 * rng.nextUniform()) }
        return try PackedWeights(int8: q, rows: N, cols: K, bits: bits, rowScales: s)
    }
}

let paths: [KernelPath] = KernelPath.available
let oddShapes: [(T: Int, K: Int, N: Int)] = [
    (1, 1, 1), (7, 3, 5), (1, 17, 44), (7, 33, 5), (7, 100, 44), (1, 384, 5), (7, 384, 44), (13, 100, 17),
]

@Suite("IntGEMM int32 exactness") struct IntGEMMExactTests {
    @Test(arguments: [4, 8], [4, 8])
    func int32MatchesInt64Reference(wbits: Int, abits: Int) throws {
        var g = GEMMCase(seed: UInt64(wbits * 10 + abits))
        for s in oddShapes {
            let w = try g.weights(N: s.N, K: s.K, bits: wbits)
            let a = g.ints(s.T * s.K, qmax: abits == 4 ? 7 : 127)
            let ref = IntGEMMReference.accumulate(a: a, rows: s.T, weights: w.int8Values(), outRows: s.N, cols: s.K)
            for p in paths {
                let c = try MixedPrecisionGEMM.accumulateInt32(a: a, rows: s.T, weights: w, activationBits: abits, path: p)
                #expect(c.map { Int64($0) } == ref, "shape \(s) path \(p) w\(wbits)a\(abits)")
            }
        }
    }

    /// All values at ±qmax and K long enough for several int16 flushes: overflow would show here.
    @Test(arguments: [4, 8], [4, 8])
    func extremeValuesLongK(wbits: Int, abits: Int) throws {
        var g = GEMMCase(seed: 99)
        let T = 7, K = 1536, N = 20
        let w = try g.weights(N: N, K: K, bits: wbits, extreme: true)
        var a = g.ints(T * K, qmax: abits == 4 ? 7 : 127, extreme: true)
        // Row 0 follows weight row 0's signs: the largest possible sum.
        let q = w.int8Values()
        for k in 0..<K { a[k] = Int8((q[k] > 0 ? 1 : -1) * (abits == 4 ? 7 : 127)) }
        let ref = IntGEMMReference.accumulate(a: a, rows: T, weights: q, outRows: N, cols: K)
        for p in paths {
            let c = try MixedPrecisionGEMM.accumulateInt32(a: a, rows: T, weights: w, activationBits: abits,
                                                           threads: 2, path: p)
            #expect(c.map { Int64($0) } == ref, "path \(p)")
        }
    }
}

@Suite("IntGEMM packing and input checks") struct IntGEMMPackingTests {
    @Test func int4LayoutLowNibbleEven() throws {
        let q: [Int8] = [1, -2, 7, -7, 0, 3, -1]   // one row, K = 7
        let w = try PackedWeights(int8: q, rows: 1, cols: 7, bits: 4, rowScales: [1])
        #expect(w.storage.count == 16)
        #expect(Array(w.storage.prefix(4)) == [0xE1, 0x97, 0x30, 0x0F])
        #expect(w.int8Values() == q)
    }

    @Test func int4RoundTripOddShape() throws {
        var g = GEMMCase(seed: 4)
        let q = g.ints(5 * 33, qmax: 7)
        let w = try PackedWeights(int8: q, rows: 5, cols: 33, bits: 4, rowScales: [Float](repeating: 1, count: 5))
        #expect(w.storage.count == 5 * 32)
        #expect(w.int8Values() == q)
    }

    @Test func badInputsThrow() throws {
        #expect(throws: IntGEMMError.valueOutOfRange(what: "weights", index: 1, value: -8)) {
            try PackedWeights(int8: [0, -8], rows: 1, cols: 2, bits: 4, rowScales: [1])
        }
        #expect(throws: IntGEMMError.unsupportedBits(what: "weights", bits: 2)) {
            try PackedWeights(int8: [0, 1], rows: 1, cols: 2, bits: 2, rowScales: [1])
        }
        #expect(throws: IntGEMMError.badScale(what: "rowScales", index: 0)) {
            try PackedWeights(int8: [0, 1], rows: 1, cols: 2, bits: 8, rowScales: [0])
        }
        #expect(throws: IntGEMMError.badOutlierColumn(row: 0, column: 2)) {
            try OutlierColumns(perRow: [[1, 2]], cols: 2)
        }
        #expect(throws: IntGEMMError.badOutlierColumn(row: 1, column: 0)) {
            try OutlierColumns(perRow: [[], [0, 0]], cols: 2)
        }
        let w = try PackedWeights(int8: [1, 2], rows: 1, cols: 2, bits: 8, rowScales: [1])
        var y: [Float] = [0]
        #expect(throws: IntGEMMError.shapeMismatch("inlierScales: 2 for 1 rows")) {
            try MixedPrecisionGEMM.run(x: [1, 2], rows: 1, ldx: 2, weights: w, inlierScales: [1, 1], inlierBits: 8,
                                       outliers: .none(rows: 1, cols: 2), outlierBits: 8, y: &y, ldy: 1)
        }
        #expect(throws: IntGEMMError.unsupportedBits(what: "outliers", bits: 4)) {
            try MixedPrecisionGEMM.run(x: [1, 2], rows: 1, ldx: 2, weights: w, inlierScales: [1], inlierBits: 8,
                                       outliers: .none(rows: 1, cols: 2), outlierBits: 4, y: &y, ldy: 1)
        }
        #expect(throws: IntGEMMError.valueOutOfRange(what: "activations", index: 0, value: 8)) {
            try MixedPrecisionGEMM.accumulateInt32(a: [8, 0], rows: 1, weights: w, activationBits: 4)
        }
    }
}

/// Outlier patterns exercised by the fused tests.
enum OutlierPattern: CaseIterable { case none, windows, all }

/// Builds activations (outlier columns ×20), outliers and per-row inlier scales.
func fusedInputs(_ g: inout GEMMCase, T: Int, K: Int, pattern: OutlierPattern, inlierBits: Int, ldx: Int)
    throws -> (x: [Float], outliers: OutlierColumns, scales: [Float]) {
    var x = g.floats(T * ldx)
    let outliers: OutlierColumns
    switch pattern {
    case .none: outliers = .none(rows: T, cols: K)
    case .all: outliers = try OutlierColumns(perRow: Array(repeating: Array(0..<K), count: T), cols: K)
    case .windows:
        let windows = (T + 2) / 3
        let lists = (0..<windows).map { _ in (0..<K).filter { _ in g.rng.next() % 5 == 0 } }
        outliers = try OutlierColumns(windows: lists, rowsPerWindow: 3, rows: T, cols: K)
    }
    for t in 0..<T { for c in outliers.columns(ofRow: t) { x[t * ldx + Int(c)] *= 20 } }
    // Scale at 80% of the inlier max so some inliers saturate.
    let qmax = Float(inlierBits == 4 ? 7 : 127)
    let scales = (0..<T).map { t -> Float in
        let out = Set(outliers.columns(ofRow: t).map { Int($0) })
        let m = (0..<K).filter { !out.contains($0) }.map { abs(x[t * ldx + $0]) }.max() ?? 0
        return max(0.8 * m, 1e-3) / qmax
    }
    return (x, outliers, scales)
}

func runFused(x: [Float], T: Int, ldx: Int, w: PackedWeights, scales: [Float], ib: Int, outliers: OutlierColumns,
              ob: Int, threads: Int, path: KernelPath) throws -> [Float] {
    let ldy = w.rows + 3
    var y = [Float](repeating: .nan, count: T * ldy)
    try MixedPrecisionGEMM.run(x: x, rows: T, ldx: ldx, weights: w, inlierScales: scales, inlierBits: ib,
                               outliers: outliers, outlierBits: ob, y: &y, ldy: ldy, threads: threads, path: path)
    return (0..<T).flatMap { t in y[(t * ldy)..<(t * ldy + w.rows)] }
}

@Suite("IntGEMM fused vs simulated fake-quant") struct IntGEMMFusedTests {
    /// |y - y_ref| <= 1e-5 · Σ_k |x̂_k·Ŵ_ok| (relative to the dot product's absolute scale, so
    /// cancellation between inlier and outlier terms cannot make the bound meaningless).
    @Test(arguments: QuantSetting.integerPresets, [8, 16])
    func matchesSimulation(setting: QuantSetting, outlierBits: Int) throws {
        var g = GEMMCase(seed: 1234)
        let shapes: [(T: Int, K: Int, N: Int)] = oddShapes + [(50, 384, 44), (61, 64, 36)]
        for s in shapes {
            let w = try g.weights(N: s.N, K: s.K, bits: setting.weightBits)
            for pattern in OutlierPattern.allCases {
                let ldx = s.K + 1
                let inp = try fusedInputs(&g, T: s.T, K: s.K, pattern: pattern, inlierBits: setting.inlierBits, ldx: ldx)
                let ref = IntGEMMReference.simulate(x: inp.x, rows: s.T, ldx: ldx, weights: w, inlierScales: inp.scales,
                                                    inlierBits: setting.inlierBits, outliers: inp.outliers,
                                                    outlierBits: outlierBits)
                for p in paths {
                    let y = try runFused(x: inp.x, T: s.T, ldx: ldx, w: w, scales: inp.scales, ib: setting.inlierBits,
                                         outliers: inp.outliers, ob: outlierBits, threads: 2, path: p)
                    var worst = 0.0
                    for i in 0..<y.count { worst = max(worst, abs(Double(y[i]) - ref.y[i]) / max(ref.magnitude[i], 1e-30)) }
                    #expect(worst <= 1e-5, "\(setting) o\(outlierBits) \(s) \(pattern) \(p): \(worst)")
                }
            }
        }
    }

    /// 1, 2, 3 threads and AVX2 vs portable: bit-identical outputs.
    @Test(arguments: QuantSetting.integerPresets)
    func deterministicAcrossThreadsAndPaths(setting: QuantSetting) throws {
        var g = GEMMCase(seed: 77)
        let T = 205, K = 100, N = 44
        let w = try g.weights(N: N, K: K, bits: setting.weightBits)
        let inp = try fusedInputs(&g, T: T, K: K, pattern: .windows, inlierBits: setting.inlierBits, ldx: K)
        var results: [[Float]] = []
        for p in paths {
            for threads in [1, 2, 3] {
                results.append(try runFused(x: inp.x, T: T, ldx: K, w: w, scales: inp.scales, ib: setting.inlierBits,
                                            outliers: inp.outliers, ob: setting.outlierBits, threads: threads, path: p))
            }
        }
        for (i, r) in results.enumerated().dropFirst() {
            let differing = zip(r, results[0]).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "run \(i) (path-major, threads 1/2/3)")
        }
        #expect(!results[0].contains { $0.isNaN })
    }
}

@Suite("IntGEMMBenchmarkRun", .enabled(if: TestEnvironment.optedIn("OUROMAMBA_BENCH"), "opt-in benchmark: set OUROMAMBA_BENCH=1")) struct IntGEMMBenchmarkRun {
    /// Prints the benchmark table only when OUROMAMBA_BENCH=1:
    /// `OUROMAMBA_BENCH=1 swift test -c release --filter IntGEMMBenchmarkRun`.
    @Test func benchmarkTable() throws {
        let env = ProcessInfo.processInfo.environment
        // OUROMAMBA_BENCH_QUICK=1: only the two target shapes, w4a4. OUROMAMBA_BENCH_THREADS=n.
        let threads = Int(env["OUROMAMBA_BENCH_THREADS"] ?? "") ?? 2
        let rows = env["OUROMAMBA_BENCH_QUICK"] == "1"
            ? try IntGEMMBenchmark.run(shapes: [(1576, 192, 768), (1576, 384, 192)], settings: [.w4a4], threads: threads)
            : try IntGEMMBenchmark.run(threads: threads)
        print(IntGEMMBenchmark.format(rows, threads: threads))
    }
}

@Suite("IntGEMM outlier windows") struct IntGEMMWindowTests {
    /// Lists as detection makes them: they grow inside 10-step windows of 23-step samples (the
    /// last window 3 steps; reversed samples start their windows at the last row) or of 7-step
    /// samples (one window each), and some steps list nothing. Grouping the outlier term's rows
    /// by the declared windows must give the bits of grouping them by checking that they nest.
    @Test(arguments: [false, true], [8, 16])
    func declaredWindowsGiveTheSameBits(reversed: Bool, outlierBits: Int) throws {
        for L in [23, 7] { try declaredWindows(L: L, reversed: reversed, outlierBits: outlierBits) }
    }

    private func declaredWindows(L: Int, reversed: Bool, outlierBits: Int) throws {
        var g = GEMMCase(seed: UInt64(L) + (reversed ? 5 : 6))
        let samples = 3, K = 64, N = 40, rows = samples * L
        let nest = WindowNesting(length: L, refresh: 10, reversed: reversed)
        var lists = [[Int]](repeating: [], count: rows)
        for b in 0..<samples {
            for start in stride(from: 0, to: L, by: nest.refresh) {
                var list = Set<Int>()
                for t in start..<min(start + nest.refresh, L) {
                    for _ in 0..<Int(g.rng.next() % 3) where t > start || g.rng.next() % 2 == 0 { list.insert(Int(g.rng.next() % UInt64(K))) }
                    lists[b * L + nest.row(ofStep: t)] = list.sorted()
                }
            }
        }
        var x = g.floats(rows * K)
        for r in 0..<rows { for c in lists[r] { x[r * K + c] *= 20 } }
        let scales = (0..<rows).map { _ in Float(0.2 + 0.2 * g.rng.nextUniform()) }
        let w = try g.weights(N: N, K: K, bits: 4)
        let declared = try OutlierColumns(perRow: lists, cols: K, windows: nest)
        let checked = try OutlierColumns(perRow: lists, cols: K)
        #expect(declared.windows == nest && checked.windows == nil)
        #expect(declared.columns.count > rows / 3)
        for p in paths {
            let a = try runFused(x: x, T: rows, ldx: K, w: w, scales: scales, ib: 4, outliers: declared, ob: outlierBits, threads: 2, path: p)
            let b = try runFused(x: x, T: rows, ldx: K, w: w, scales: scales, ib: 4, outliers: checked, ob: outlierBits, threads: 2, path: p)
            #expect(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(p) reversed \(reversed) o\(outlierBits) L \(L)")
        }
    }

    /// A list that loses a column inside its window, or rows that are not whole samples, are refused.
    @Test func listsThatDoNotNestThrow() {
        let nest = WindowNesting(length: 4, refresh: 2, reversed: true)
        // Reversed: row 3 is step 0 and row 2 step 1 (one window), rows 1 and 0 steps 2 and 3.
        #expect(throws: IntGEMMError.listsDoNotNest(row: 2, column: 5)) {
            try OutlierColumns(perRow: [[], [], [1], [1, 5]], cols: 8, windows: nest)
        }
        #expect(throws: Never.self) { try OutlierColumns(perRow: [[2], [], [1, 5], [1]], cols: 8, windows: nest) }
        #expect(throws: IntGEMMError.self) { try OutlierColumns(perRow: [[], [], []], cols: 8, windows: nest) }
    }
}
