import OuroEngine

/// Outlier columns for the GPU GEMM: one list per group of `groupRows` (= 128, the kernel's
/// row tile) consecutive token rows, shared by every row of the group.
///
/// Why per group: one block of the GEMM computes 128 rows, and it gathers the weight columns
/// of the outlier term once per block. Per-row (or per-window) lists map onto this by their
/// union over the group (`init(unionOf:)`), which only moves more columns to the 8-bit path.
public struct GPUOutlierGroups: Sendable, Equatable {
    /// Rows per group (the GEMM's row tile).
    public static let groupRows = 128
    /// Token rows M.
    public let rows: Int
    /// Reduction length K the indices refer to.
    public let cols: Int
    /// Padded list length P: the longest list rounded up to a multiple of 16 (0 = no outliers).
    public let width: Int
    /// `groupCount × width` column indices, each list ascending, padded with -1.
    public let indices: [Int32]

    /// Number of row groups, ceil(rows / 128).
    public var groupCount: Int { (rows + Self.groupRows - 1) / Self.groupRows }

    /// One list per group of 128 rows. Throws on a bad index, a repeat, or a wrong list count.
    public init(groups: [[Int]], rows: Int, cols: Int) throws {
        let g = (rows + Self.groupRows - 1) / Self.groupRows
        guard groups.count == g else {
            throw IntGEMMError.shapeMismatch("\(groups.count) outlier groups for \(rows) rows (need \(g))")
        }
        let longest = groups.map(\.count).max() ?? 0
        let width = (longest + 15) / 16 * 16
        var idx = [Int32](repeating: -1, count: g * width)
        for (gi, l) in groups.enumerated() {
            let s = l.sorted()
            for (i, c) in s.enumerated() {
                if c < 0 || c >= cols || (i > 0 && s[i - 1] == c) {
                    throw IntGEMMError.badOutlierColumn(row: gi * Self.groupRows, column: c)
                }
                idx[gi * width + i] = Int32(c)
            }
        }
        self.rows = rows; self.cols = cols; self.width = width; self.indices = idx
    }

    /// No outliers.
    public static func none(rows: Int, cols: Int) -> GPUOutlierGroups {
        // Cannot throw: every list is empty.
        try! GPUOutlierGroups(groups: Array(repeating: [], count: (rows + groupRows - 1) / groupRows), rows: rows, cols: cols)
    }

    /// The union of per-row lists over each group of 128 rows.
    public init(unionOf o: OutlierColumns) throws {
        let g = (o.rows + Self.groupRows - 1) / Self.groupRows
        let lists = (0..<g).map { gi -> [Int] in
            var s = Set<Int>()
            for t in (gi * Self.groupRows)..<min(o.rows, (gi + 1) * Self.groupRows) { for c in o.columns(ofRow: t) { s.insert(Int(c)) } }
            return s.sorted()
        }
        try self.init(groups: lists, rows: o.rows, cols: o.cols)
    }

    /// The columns of group `g` (ascending, padding removed).
    public func columns(ofGroup g: Int) -> [Int] {
        indices[(g * width)..<((g + 1) * width)].filter { $0 >= 0 }.map { Int($0) }
    }
}

/// Integer weights resident on the GPU: N×K int8, row-major (PyTorch layout), plus s_w.
///
/// 4-bit weights are unpacked to int8 once, here (sm_90 has no int4 MMA; the int8 copy costs
/// 2x the memory of the nibbles and is read from L2 by every block).
public final class GPUInt8Weights {
    /// Output channels N.
    public let rows: Int
    /// Reduction length K.
    public let cols: Int
    /// N×K int8 values.
    public let values: GPUBuffer
    /// N float32 scales s_w.
    public let scales: GPUBuffer

    /// Uploads int8 integer weights `q` (row-major rows×cols) and their row scales.
    public init(device: GPUDevice, int8 q: [Int8], rows: Int, cols: Int, rowScales: [Float]) throws {
        guard q.count == rows * cols, rowScales.count == rows else {
            throw IntGEMMError.shapeMismatch("GPU weights: \(q.count) values / \(rowScales.count) scales for \(rows) x \(cols)")
        }
        self.rows = rows; self.cols = cols
        values = try device.upload(q)
        scales = try device.upload(rowScales)
    }

    /// Uploads packed weights (4-bit nibbles are unpacked on the host first).
    public convenience init(device: GPUDevice, weights w: PackedWeights) throws {
        let q = w.bits == 4 ? GPUMixedPrecisionReference.unpackInt4(w.storage, rows: w.rows, cols: w.cols)
                            : w.storage.map { Int8(bitPattern: $0) }
        try self.init(device: device, int8: q, rows: w.rows, cols: w.cols, rowScales: w.rowScales)
    }
}

/// Quantized activations of one GEMM call on the GPU: q_I (M×K int8), q_O (M×P int8), S_I, s_O
/// and the group outlier lists.
public final class GPUQuantizedActivations {
    public let rows: Int, cols: Int
    /// The outlier lists (host copy).
    public let outliers: GPUOutlierGroups
    /// M×K inlier integers (zeros at the group's outlier columns).
    public let qI: GPUBuffer
    /// M×P outlier integers, in the order of the group's list.
    public let qO: GPUBuffer
    /// M static inlier scales S_I[t] (set by the caller).
    public let inlierScales: GPUBuffer
    /// M dynamic outlier scales s_O[t].
    public let outlierScales: GPUBuffer
    /// groupCount×P column indices.
    public let indices: GPUBuffer

    /// Allocates buffers for `outliers.rows × outliers.cols` activations; uploads the lists and S_I.
    public init(device: GPUDevice, outliers: GPUOutlierGroups, inlierScales sI: [Float]) throws {
        guard sI.count == outliers.rows else { throw IntGEMMError.shapeMismatch("\(sI.count) inlier scales for \(outliers.rows) rows") }
        rows = outliers.rows; cols = outliers.cols; self.outliers = outliers
        qI = try device.allocate(bytes: rows * cols)
        let o = try device.allocate(bytes: max(1, rows * outliers.width))
        try device.zero(o, offset: 0, bytes: max(1, rows * outliers.width))
        qO = o
        inlierScales = try device.upload(sI)
        outlierScales = try device.zeros(rows)
        let idx = try device.allocate(bytes: max(4, 4 * outliers.indices.count))
        try device.upload(outliers.indices, to: idx)
        indices = idx
    }

    /// Uploads already quantized integers (tests and the benchmark's GEMM-only timing).
    public func upload(qI a: [Int8], qO o: [Int8], outlierScales so: [Float]) throws {
        let d = qI.device
        guard a.count == rows * cols, o.count == rows * outliers.width, so.count == rows else {
            throw IntGEMMError.shapeMismatch("activation upload: \(a.count), \(o.count), \(so.count) values")
        }
        try d.upload(a, to: qI)
        try d.upload(o, to: qO)
        try d.upload(so, to: outlierScales)
    }

    /// Downloads (qI, qO, s_O) of the first `count` rows.
    public func download(rows count: Int) throws -> (qI: [Int8], qO: [Int8], sO: [Float]) {
        let d = qI.device, P = outliers.width
        return (try d.download(qI, count: count * cols, as: Int8.self), try d.download(qO, count: count * P, as: Int8.self),
                try d.download(outlierScales, count: count))
    }
}

/// The GPU mixed-precision GEMM of method.md 4.9 with FP16 output:
///
///     out[t,o] = s_w[o]·(S_I[t]·Σ_k q_I[t,k]·q_W[o,k] + s_O[t]·Σ_{j} q_O[t,j]·q_W[o, cols_g[j]])
///
/// Both sums are exact int32 (int8 tensor-core MMA); dequantization is float32, the store FP16
/// (round to nearest even). W4A4 and W4A8 run the same kernel: 4-bit integers are int8 values
/// in -7...7. Outliers are always 8-bit here. Requires K % 16 == 0 (a multiple of 8 for the
/// quantizer) and N % 8 == 0; M is arbitrary (rows past M are masked).
public final class GPUMixedPrecisionGEMM {
    /// Block tile (rows × output channels) of the GEMM kernel.
    public enum Tile: String, CaseIterable, Sendable {
        /// 8 warps of 64x32, 3-stage pipeline, 2 blocks per SM (the default: fastest measured).
        case t128x128 = "128x128"
        /// 4 warps of 64x64, 3-stage pipeline.
        case t128x128w4 = "128x128w4"
        /// 8 warps of 64x64, 2-stage pipeline, 1 block per SM.
        case t128x256 = "128x256"
        var columns: Int { self == .t128x256 ? 256 : 128 }
        var threads: Int { self == .t128x128w4 ? 128 : 256 }
        var kernel: String { "ouro_mp_gemm_" + rawValue }
    }

    /// The CUDA C module (for compile checks).
    public static var module: GPUModuleSource { GPUMixedPrecisionKernels.module }
    /// Kernel names in the module.
    public static let kernelNames = ["ouro_mp_gemm_128x128", "ouro_mp_gemm_128x128w4", "ouro_mp_gemm_128x256", "ouro_mp_quantize_f16",
                                     "ouro_mp_quantize_f32", "ouro_f32_to_f16"]

    public let device: GPUDevice
    public let tile: Tile
    private let gemmFn: GPUFunction, quantHalf: GPUFunction, quantFloat: GPUFunction, toHalfFn: GPUFunction

    /// Compiles (once per device) and loads the kernels.
    public init(device: GPUDevice, tile: Tile = .t128x128) throws {
        self.device = device; self.tile = tile
        let m = Self.module
        gemmFn = try device.function(tile.kernel, in: m)
        quantHalf = try device.function("ouro_mp_quantize_f16", in: m)
        quantFloat = try device.function("ouro_mp_quantize_f32", in: m)
        toHalfFn = try device.function("ouro_f32_to_f16", in: m)
    }

    /// Queues out (M×N FP16 at device address `out`) = the GEMM of `x` and `w`.
    public func gemm(_ x: GPUQuantizedActivations, weights w: GPUInt8Weights, out: UInt64) throws {
        guard x.cols == w.cols else { throw IntGEMMError.shapeMismatch("GEMM: K \(x.cols) vs weights \(w.cols)") }
        guard x.cols % 16 == 0, w.rows % 8 == 0 else {
            throw IntGEMMError.shapeMismatch("GPU GEMM needs K % 16 == 0 and N % 8 == 0 (K \(x.cols), N \(w.rows))")
        }
        let grid = GPUDim((w.rows + tile.columns - 1) / tile.columns, (x.rows + 127) / 128)
        try device.launch(gemmFn, grid: grid, block: GPUDim(tile.threads), args: [
            .pointer(x.qI.address), .pointer(w.values.address), .pointer(x.inlierScales.address), .pointer(w.scales.address),
            .pointer(x.indices.address), .pointer(x.qO.address), .pointer(x.outlierScales.address), .pointer(out),
            .i(x.rows), .i(w.rows), .i(x.cols), .i(x.outliers.width),
        ])
    }

    /// Queues the activation quantization of `input` (M×K row-major, FP16 when `half`, else
    /// float32) into `x` with b_I = `inlierBits` (4: ±7, 8: ±127).
    public func quantize(input: UInt64, half: Bool, into x: GPUQuantizedActivations, inlierBits: Int) throws {
        guard QuantFormat.supports(.inlier, bits: inlierBits, device: .gpu) else {
            throw IntGEMMError.unsupportedBits(what: "activations", bits: inlierBits)
        }
        guard x.cols % 8 == 0 else { throw IntGEMMError.shapeMismatch("GPU quantizer needs K % 8 == 0 (K \(x.cols))") }
        try device.launch(half ? quantHalf : quantFloat, grid: GPUDim(x.rows), block: GPUDim(128), args: [
            .pointer(input), .pointer(x.inlierScales.address), .i(Quantizer.qmax(bits: inlierBits)),
            .pointer(x.indices.address), .i(x.outliers.width), .pointer(x.qI.address), .pointer(x.qO.address),
            .pointer(x.outlierScales.address), .i(x.rows), .i(x.cols),
        ])
    }

    /// Queues dst (FP16) = src (float32), `count` values.
    public func toHalf(_ src: UInt64, _ dst: UInt64, count: Int) throws {
        try device.launch(toHalfFn, grid: .cover(count, block: 256), block: GPUDim(256), args: [.pointer(src), .pointer(dst), .i(count)])
    }
}
