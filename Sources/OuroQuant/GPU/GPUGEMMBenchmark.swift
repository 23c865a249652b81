import Foundation
import OuroEngine

/// One benchmark cell of the GPU mixed-precision GEMM against cuBLAS FP16.
public struct GPUGEMMBenchRow: Sendable {
    public var M: Int, K: Int, N: Int
    /// The setting (`w4a8o8` or `w4a4`: the GPU GEMM keeps outliers at 8 bits).
    public var setting: String
    /// Requested fraction of K marked as outlier columns (per group of 128 rows).
    public var outlierFraction: Double
    /// Outlier columns per group, and the padded list length P.
    public var outlierColumns: Int, outlierWidth: Int
    /// Checked slice: rows × outputs compared with the CPU reference.
    public var checkRows: Int, checkCols: Int
    /// Max relative error of the FP16 output vs the CPU reference (see `maxRelativeError`).
    public var maxRelError: Double
    /// Quantized integers / s_O that differ from the CPU quantizer on the checked rows.
    public var quantMismatches: Int
    public var passed: Bool
    /// Median milliseconds of the GEMM kernel alone, per tile ("128x128": ms, …), and the best tile.
    public var gemmMsByTile: [String: Double]
    public var tile: String
    public var gemmMs: Double
    /// Median ms of the quantizer alone and of quantizer + GEMM (FP16 activations in, FP16 out).
    public var quantMs: Double, fullMs: Double
    /// Median ms of cuBLAS FP16 `hgemmNT` on the same shape.
    public var cublasMs: Double

    public var ops: Double { 2 * Double(M) * Double(N) * Double(K) }
    public func tops(_ ms: Double) -> Double { ops / (ms * 1e-3) / 1e12 }
    /// cuBLAS ms / ours ms (> 1: ours faster).
    public var ratioGemm: Double { cublasMs / gemmMs }
    public var ratioFull: Double { cublasMs / fullMs }

    public var json: [String: Any] {
        ["M": M, "K": K, "N": N, "setting": setting, "outlier_fraction": outlierFraction, "outlier_columns_per_group": outlierColumns,
         "outlier_width_padded": outlierWidth,
         "check": ["rows": checkRows, "cols": checkCols, "max_rel_error": maxRelError, "quant_mismatches": quantMismatches,
                   "tolerance": GPUGEMMBenchmark.tolerance, "passed": passed] as [String: Any],
         "tile": tile, "gemm_ms_by_tile": gemmMsByTile,
         "ours_gemm_ms": gemmMs, "ours_gemm_tops": tops(gemmMs), "quantize_ms": quantMs,
         "ours_with_quant_ms": fullMs, "ours_with_quant_tops": tops(fullMs),
         "cublas_fp16_ms": cublasMs, "cublas_fp16_tops": tops(cublasMs),
         "ratio_gemm": ratioGemm, "ratio_with_quant": ratioFull]
    }
}

/// `ouromamba bench gemm --device gpu`: the GPU mixed-precision GEMM (int8 MMA, FP16 out) vs
/// cuBLAS FP16 on Vim-base shapes, with a CPU-reference check of every cell.
public enum GPUGEMMBenchmark {
    /// Vim-base linears over 64 images: M = 197·64 tokens; in_proj (768 → 3072), out_proj (1536 → 768).
    public static let defaultShapes: [(M: Int, K: Int, N: Int)] = [(12608, 768, 3072), (12608, 1536, 768)]
    /// Settings: the formats the GPU GEMM runs (8-bit outliers).
    public static let settings: [QuantSetting] = [try! QuantSetting(weightBits: 4, inlierBits: 8, outlierBits: 8), .w4a4]
    public static let fractions = [0.02, 0.05]
    /// Relative error allowed against the CPU reference (FP16 rounding is 4.9e-4).
    public static let tolerance = 2e-3
    /// Launches per timed sample (one launch is shorter than its CPU launch cost).
    static let launchesPerSample = 10

    /// Median of `repeats` samples (after 3 warm-up samples) of `body`'s GPU time, in ms per call.
    static func median(_ dev: CUDADevice, repeats: Int, _ body: () throws -> Void) throws -> Double {
        let n = launchesPerSample
        for _ in 0..<3 { _ = try dev.time { for _ in 0..<n { try body() } } }
        var s: [Double] = []
        for _ in 0..<max(1, repeats) { s.append(try dev.time { for _ in 0..<n { try body() } } / Double(n)) }
        s.sort()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Runs every (shape, setting, fraction) cell; `progress` gets a line per cell.
    public static func run(device dev: CUDADevice, shapes: [(M: Int, K: Int, N: Int)] = defaultShapes,
                           tiles: [GPUMixedPrecisionGEMM.Tile] = GPUMixedPrecisionGEMM.Tile.allCases,
                           repeats: Int = 20, progress: (String) -> Void = { _ in }) throws -> [GPUGEMMBenchRow] {
        let gemms = try tiles.map { try GPUMixedPrecisionGEMM(device: dev, tile: $0) }
        var rows: [GPUGEMMBenchRow] = []
        for (si, s) in shapes.enumerated() {
            let (M, K, N) = s
            var rng = Xoshiro256StarStar(seed: 21, stream: UInt64(si))
            var x0 = [Float](repeating: 0, count: M * K)
            x0.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
            // 4-bit weights (through the nibble packing and the GPU-side unpacked int8 copy).
            let qW = (0..<(N * K)).map { _ in Int8(Int(rng.next() % 15) - 7) }
            let sw = (0..<N).map { _ in Float(0.001 + 0.01 * rng.nextUniform()) }
            let packed = try PackedWeights(int8: qW, rows: N, cols: K, bits: 4, rowScales: sw)
            let w = try GPUInt8Weights(device: dev, weights: packed)
            // cuBLAS operands: FP16 activations (the same as ours) and dequantized FP16 weights.
            let wf = try dev.upload((0..<(N * K)).map { Float(qW[$0]) * sw[$0 / K] })
            let wh = try dev.allocate(bytes: 2 * N * K)
            try gemms[0].toHalf(wf.address, wh.address, count: N * K)
            let xf = try dev.floats(M * K), xh = try dev.allocate(bytes: 2 * M * K)
            let out = try dev.allocate(bytes: 2 * M * N), outRef = try dev.allocate(bytes: 2 * M * N)

            for f in fractions {
                let nOut = Int((f * Double(K)).rounded())
                var r2 = Xoshiro256StarStar(seed: 5, stream: UInt64(nOut))
                let groups = (0..<((M + 127) / 128)).map { _ -> [Int] in
                    var set = Set<Int>()
                    while set.count < nOut { set.insert(Int(r2.next() % UInt64(K))) }
                    return set.sorted()
                }
                let outliers = try GPUOutlierGroups(groups: groups, rows: M, cols: K)
                // Outlier columns are 20x larger (as in the CPU benchmark).
                var x = x0
                for t in 0..<M { for c in groups[t / 128] { x[t * K + c] *= 20 } }
                try x.withUnsafeBufferPointer { try dev.upload($0.baseAddress!, count: M * K, to: xf) }
                try gemms[0].toHalf(xf.address, xh.address, count: M * K)
                // The FP16 values both paths see.
                let xhHost = try dev.download(xh, count: M * K, as: UInt16.self)
                let xq = GPUMixedPrecisionReference.halfToFloat(xhHost)

                for st in settings {
                    let qmax = Float(Quantizer.qmax(bits: st.inlierBits))
                    // Static S_I[t] from the inlier maximum (stands in for calibration).
                    var isOut = [Bool](repeating: false, count: K), group = -1
                    let sI = (0..<M).map { t -> Float in
                        if t / 128 != group {
                            for c in groups[max(0, group)] { isOut[c] = false }
                            group = t / 128
                            for c in groups[group] { isOut[c] = true }
                        }
                        var m: Float = 0
                        for k in 0..<K where !isOut[k] { m = max(m, abs(xq[t * K + k])) }
                        return max(m, 1e-8) / qmax
                    }
                    let act = try GPUQuantizedActivations(device: dev, outliers: outliers, inlierScales: sI)
                    // Correctness: first 256 and last 128 rows (the partial tile) x first 256 and last 128 outputs.
                    let rowSlices = [0..<min(256, M), max(0, M - 128)..<M], outSlices = [0..<min(256, N), max(0, N - 128)..<N]
                    var maxRel = 0.0, mismatches = 0, checked = (rows: 0, cols: 0)
                    var byTile: [String: Double] = [:]
                    for g in gemms {
                        try g.quantize(input: xh.address, half: true, into: act, inlierBits: st.inlierBits)
                        try g.gemm(act, weights: w, out: out.address)
                        let (dqI, dqO, dsO) = try act.download(rows: M)
                        let y = try dev.download(out, count: M * N, as: UInt16.self)
                        let yf = GPUMixedPrecisionReference.halfToFloat(y)
                        checked = (0, 0)
                        for rr in rowSlices {
                            let P = outliers.width
                            let h = GPUMixedPrecisionReference.quantize(x: Array(xq[(rr.lowerBound * K)..<(rr.upperBound * K)]), rowRange: rr,
                                                                       cols: K, inlierScales: sI, inlierBits: st.inlierBits, outliers: outliers)
                            mismatches += zip(h.qI, dqI[(rr.lowerBound * K)..<(rr.upperBound * K)]).filter { $0 != $1 }.count
                            mismatches += zip(h.qO, dqO[(rr.lowerBound * P)..<(rr.upperBound * P)]).filter { $0 != $1 }.count
                            mismatches += zip(h.sO, dsO[rr]).filter { $0 != $1 }.count
                            checked.rows += rr.count
                            for oc in outSlices {
                                let ref = GPUMixedPrecisionReference.gemm(qI: h.qI, qO: h.qO, sO: h.sO, rowRange: rr, cols: K, sI: sI,
                                                                          qW: qW, sw: sw, outRange: oc, outliers: outliers)
                                let got = rr.flatMap { t in oc.map { o in yf[t * N + o] } }
                                maxRel = max(maxRel, GPUMixedPrecisionReference.maxRelativeError(got, ref))
                            }
                        }
                        checked.cols = outSlices.map(\.count).reduce(0, +)
                        byTile[g.tile.rawValue] = try median(dev, repeats: repeats) { try g.gemm(act, weights: w, out: out.address) }
                    }
                    let best = gemms.min { byTile[$0.tile.rawValue]! < byTile[$1.tile.rawValue]! }!
                    let quantMs = try median(dev, repeats: repeats) {
                        try best.quantize(input: xh.address, half: true, into: act, inlierBits: st.inlierBits)
                    }
                    let fullMs = try median(dev, repeats: repeats) {
                        try best.quantize(input: xh.address, half: true, into: act, inlierBits: st.inlierBits)
                        try best.gemm(act, weights: w, out: out.address)
                    }
                    let cublasMs = try median(dev, repeats: repeats) {
                        try dev.hgemmNT(m: M, n: N, k: K, a: xh.address, b: wh.address, c: outRef.address)
                    }
                    let row = GPUGEMMBenchRow(
                        M: M, K: K, N: N, setting: st.description, outlierFraction: f, outlierColumns: nOut, outlierWidth: outliers.width,
                        checkRows: checked.rows, checkCols: checked.cols, maxRelError: maxRel, quantMismatches: mismatches,
                        passed: maxRel <= tolerance && mismatches == 0, gemmMsByTile: byTile, tile: best.tile.rawValue,
                        gemmMs: byTile[best.tile.rawValue]!, quantMs: quantMs, fullMs: fullMs, cublasMs: cublasMs)
                    progress(format([row], header: false))
                    rows.append(row)
                }
            }
        }
        return rows
    }

    /// A text table of the rows.
    public static func format(_ rows: [GPUGEMMBenchRow], header: Bool = true) -> String {
        var s = header ? "    M     K     N  setting outl  P  check(maxrel,mism)  tile     ours ms  TOPS  +quant ms  TOPS  cuBLAS ms  TOPS  ratio  ratio+q\n" : ""
        for r in rows {
            s += String(format: "%5d %5d %5d  %@ %3.0f%% %3d  %.1e %d %@  %@  %7.4f %5.0f  %7.4f %5.0f  %7.4f %5.0f  %5.2f  %5.2f\n",
                        r.M, r.K, r.N, r.setting.padding(toLength: 6, withPad: " ", startingAt: 0), 100 * r.outlierFraction, r.outlierWidth,
                        r.maxRelError, r.quantMismatches, r.passed ? "ok  " : "FAIL", r.tile.padding(toLength: 7, withPad: " ", startingAt: 0),
                        r.gemmMs, r.tops(r.gemmMs), r.fullMs, r.tops(r.fullMs), r.cublasMs, r.tops(r.cublasMs), r.ratioGemm, r.ratioFull)
        }
        return s
    }
}
