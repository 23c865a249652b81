/// Outlier reduction indices O_t for every token row, in CSR form (method.md 4.5, 4.9).
///
/// Lists are sorted ascending (the canonical order; it fixes the float summation order).
public struct OutlierColumns: Sendable, Equatable {
    /// Token rows T.
    public let rows: Int
    /// Reduction length K the indices refer to.
    public let cols: Int
    /// `rows + 1` offsets into `columns`.
    public let rowPtr: [Int32]
    /// Concatenated sorted column lists.
    public let columns: [Int32]

    /// No outliers on any row.
    public static func none(rows: Int, cols: Int) -> OutlierColumns {
        OutlierColumns(rows: rows, cols: cols, rowPtr: [Int32](repeating: 0, count: rows + 1), columns: [])
    }

    private init(rows: Int, cols: Int, rowPtr: [Int32], columns: [Int32]) {
        self.rows = rows; self.cols = cols; self.rowPtr = rowPtr; self.columns = columns
    }

    /// One list per row. Throws on an index outside `0..<cols` or a repeated index.
    public init(perRow lists: [[Int]], cols: Int) throws {
        try self.init(rows: lists.count, cols: cols, listOfRow: { lists[$0] })
    }

    /// One list per window of `rowsPerWindow` consecutive rows (the last window may be short);
    /// `windows.count` must be `ceil(rows / rowsPerWindow)`.
    public init(windows: [[Int]], rowsPerWindow: Int, rows: Int, cols: Int) throws {
        guard rowsPerWindow >= 1, windows.count == (rows + rowsPerWindow - 1) / rowsPerWindow else {
            throw IntGEMMError.shapeMismatch("\(windows.count) windows of \(rowsPerWindow) for \(rows) rows")
        }
        try self.init(rows: rows, cols: cols, listOfRow: { windows[$0 / rowsPerWindow] })
    }

    private init(rows: Int, cols: Int, listOfRow: (Int) -> [Int]) throws {
        var ptr: [Int32] = [0], flat: [Int32] = []
        for t in 0..<rows {
            let l = listOfRow(t).sorted()
            for (i, c) in l.enumerated() where c < 0 || c >= cols || (i > 0 && l[i - 1] == c) {
                throw IntGEMMError.badOutlierColumn(row: t, column: c)
            }
            flat.append(contentsOf: l.map { Int32($0) })
            ptr.append(Int32(flat.count))
        }
        self.init(rows: rows, cols: cols, rowPtr: ptr, columns: flat)
    }

    /// Gathers per-row lists written by `PointQuantizer.run`: row t holds `counts[t]` ascending
    /// columns at `slots + t·cols` (valid by construction, so not re-checked).
    init(rows: Int, cols: Int, counts: UnsafePointer<Int32>, slots: UnsafePointer<Int32>) {
        var ptr = [Int32](repeating: 0, count: rows + 1)
        for t in 0..<rows { ptr[t + 1] = ptr[t] + counts[t] }
        var flat = [Int32](repeating: 0, count: Int(ptr[rows]))
        flat.withUnsafeMutableBufferPointer { f in
            // An element loop: a memmove call per row costs more than the few entries it moves.
            for t in 0..<rows where counts[t] > 0 {
                let dst = f.baseAddress! + Int(ptr[t]), src = slots + t * cols
                for j in 0..<Int(counts[t]) { dst[j] = src[j] }
            }
        }
        self.init(rows: rows, cols: cols, rowPtr: ptr, columns: flat)
    }

    /// The sorted outlier columns of row `t`.
    public func columns(ofRow t: Int) -> ArraySlice<Int32> { columns[Int(rowPtr[t])..<Int(rowPtr[t + 1])] }

    /// Mean of |O_t| / K over rows (reported next to timings, method.md 4.9).
    public var fraction: Double { rows == 0 ? 0 : Double(columns.count) / Double(rows * cols) }
}
