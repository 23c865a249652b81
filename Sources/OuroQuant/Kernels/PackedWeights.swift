import COuroKernels

/// Symmetric per-output-channel integer weights W (N x K, PyTorch layout) in the layouts the
/// integer GEMM needs (method.md 4.9).
///
/// `storage` is the compact form (4-bit: two's complement nibbles, low nibble = even column,
/// rows padded to 16 bytes; 8-bit: int8 bytes). The kernel layout (int8 panels of 16 rows,
/// unpacked once here, at load) and a K x N transposed int8 copy of the integer weights (for the
/// gathered outlier columns) are derived from it.
public struct PackedWeights: Sendable {
    /// Output channels N.
    public let rows: Int
    /// Input channels (reduction length) K.
    public let cols: Int
    /// 4 (values -7...7) or 8 (values -127...127).
    public let bits: Int
    /// s_w[o], one per output channel.
    public let rowScales: [Float]
    /// Compact storage: nibbles (bits 4, `ouro_int4_row_bytes(K)` bytes per row) or int8 bytes.
    public let storage: [UInt8]
    /// Microkernel layout (see Sources/COuroKernels/README.md).
    let kernel: [UInt8]
    /// Integer weights transposed, `transposed[k * rows + o] = qW[o][k]`: the rows of the outlier
    /// columns, which the outlier term converts exactly to float as it loads them (a quarter of
    /// the bytes of a float copy).
    let transposed: [Int8]

    /// Packs integer weights `q` (row-major `rows x cols`) with per-row scales.
    /// Throws on a bit width other than 4/8, wrong counts, values outside ±(2^(bits-1) - 1)
    /// or scales that are not finite and positive.
    public init(int8 q: [Int8], rows: Int, cols: Int, bits: Int, rowScales: [Float]) throws {
        guard bits == 4 || bits == 8 else { throw IntGEMMError.unsupportedBits(what: "weights", bits: bits) }
        guard rows >= 1, cols >= 1, q.count == rows * cols else {
            throw IntGEMMError.shapeMismatch("weights: \(q.count) values for \(rows) x \(cols)")
        }
        guard rowScales.count == rows else {
            throw IntGEMMError.shapeMismatch("rowScales: \(rowScales.count) for \(rows) rows")
        }
        let qmax = bits == 4 ? 7 : 127
        if let i = q.firstIndex(where: { abs(Int($0)) > qmax }) {
            throw IntGEMMError.valueOutOfRange(what: "weights", index: i, value: Int(q[i]))
        }
        if let i = rowScales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw IntGEMMError.badScale(what: "rowScales", index: i)
        }
        self.rows = rows; self.cols = cols; self.bits = bits; self.rowScales = rowScales
        if bits == 4 {
            var s = [UInt8](repeating: 0, count: Int(ouro_int4_row_bytes(Int32(cols))) * rows)
            _ = ouro_pack_int4(q, Int32(rows), Int32(cols), &s) // range already checked
            storage = s
        } else {
            storage = q.map { UInt8(bitPattern: $0) }
        }
        var k = [UInt8](repeating: 0, count: ouro_kernel_pack_size(Int32(rows), Int32(cols)))
        ouro_pack_kernel(q, Int32(rows), Int32(cols), Int32(bits), &k)
        kernel = k
        var t = [Int8](repeating: 0, count: rows * cols)
        for o in 0..<rows { for c in 0..<cols { t[c * rows + o] = q[o * cols + c] } }
        transposed = t
    }

    /// The integer weights back as int8, row-major `rows x cols` (unpacked from `storage`).
    public func int8Values() -> [Int8] {
        if bits == 8 { return storage.map { Int8(bitPattern: $0) } }
        var out = [Int8](repeating: 0, count: rows * cols)
        ouro_unpack_int4(storage, Int32(rows), Int32(cols), &out)
        return out
    }
}
