import COuroKernels
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
    /// How the lists nest, when they come from detection (`nil`: nothing is assumed).
    public let windows: WindowNesting?

    /// No outliers on any row.
    public static func none(rows: Int, cols: Int) -> OutlierColumns {
        OutlierColumns(rows: rows, cols: cols, rowPtr: [Int32](repeating: 0, count: rows + 1), columns: [])
    }

    private init(rows: Int, cols: Int, rowPtr: [Int32], columns: [Int32], windows: WindowNesting? = nil) {
        self.rows = rows; self.cols = cols; self.rowPtr = rowPtr; self.columns = columns; self.windows = windows
    }

    /// One list per row. Throws on an index outside `0..<cols` or a repeated index.
    public init(perRow lists: [[Int]], cols: Int) throws {
        try self.init(rows: lists.count, cols: cols, listOfRow: { lists[$0] })
    }

    /// One list per row, from detection-like windows: throws unless the rows are whole samples of
    /// `windows.length` steps and every list holds the one of the step before it in its window.
    public init(perRow lists: [[Int]], cols: Int, windows: WindowNesting) throws {
        let L = windows.length
        guard windows.fits(rows: lists.count) else {
            throw IntGEMMError.shapeMismatch("\(lists.count) rows are not samples of \(L) steps in \(windows.refresh)-step windows")
        }
        for r in lists.indices {
            let t = windows.step(ofRow: r)
            guard t % windows.refresh != 0 else { continue }
            let previous = r - r % L + windows.row(ofStep: t - 1)
            if let c = Set(lists[previous]).subtracting(lists[r]).min() {
                throw IntGEMMError.listsDoNotNest(row: r, column: c)
            }
        }
        try self.init(rows: lists.count, cols: cols, windows: windows, listOfRow: { lists[$0] })
    }

    /// One list per window of `rowsPerWindow` consecutive rows (the last window may be short);
    /// `windows.count` must be `ceil(rows / rowsPerWindow)`.
    public init(windows: [[Int]], rowsPerWindow: Int, rows: Int, cols: Int) throws {
        guard rowsPerWindow >= 1, windows.count == (rows + rowsPerWindow - 1) / rowsPerWindow else {
            throw IntGEMMError.shapeMismatch("\(windows.count) windows of \(rowsPerWindow) for \(rows) rows")
        }
        try self.init(rows: rows, cols: cols, listOfRow: { windows[$0 / rowsPerWindow] })
    }

    private init(rows: Int, cols: Int, windows: WindowNesting? = nil, listOfRow: (Int) -> [Int]) throws {
        var ptr: [Int32] = [0], flat: [Int32] = []
        for t in 0..<rows {
            let l = listOfRow(t).sorted()
            for (i, c) in l.enumerated() where c < 0 || c >= cols || (i > 0 && l[i - 1] == c) {
                throw IntGEMMError.badOutlierColumn(row: t, column: c)
            }
            flat.append(contentsOf: l.map { Int32($0) })
            ptr.append(Int32(flat.count))
        }
        self.init(rows: rows, cols: cols, rowPtr: ptr, columns: flat, windows: windows)
    }

    /// Gathers per-row lists written by `PointQuantizer.run`: row t holds `counts[t]` ascending
    /// columns at `slots + t·cols` (valid by construction, so not re-checked), and nest as
    /// `windows` says.
    init(rows: Int, cols: Int, counts: UnsafePointer<Int32>, slots: UnsafePointer<Int32>, windows: WindowNesting) {
        var ptr = [Int32](repeating: 0, count: rows + 1)
        for t in 0..<rows { ptr[t + 1] = ptr[t] + counts[t] }
        var flat = [Int32](repeating: 0, count: Int(ptr[rows]))
        // In C: a row's few entries as one masked vector move (AVX-512), not an element loop.
        flat.withUnsafeMutableBufferPointer { f in
            ptr.withUnsafeBufferPointer { p in
                ouro_gather_lists(KernelPath.detected.rawValue, Int32(rows), Int32(cols), counts, slots,
                                  p.baseAddress!, f.baseAddress)
            }
        }
        self.init(rows: rows, cols: cols, rowPtr: ptr, columns: flat, windows: windows)
    }

    /// The sorted outlier columns of row `t`.
    public func columns(ofRow t: Int) -> ArraySlice<Int32> { columns[Int(rowPtr[t])..<Int(rowPtr[t + 1])] }

    /// Mean of |O_t| / K over rows (reported next to timings, method.md 4.9).
    public var fraction: Double { rows == 0 ? 0 : Double(columns.count) / Double(rows * cols) }
}

/// The window structure of detection's lists (method.md 4.5): rows are samples of `length`
/// steps (row r of a sample is step r, or `length − 1 − r` when `reversed`), and a list only grows
/// inside each window of `refresh` steps, so the lists of one window nest.
public struct WindowNesting: Sendable, Equatable {
    public let length: Int, refresh: Int, reversed: Bool
    public init(length: Int, refresh: Int, reversed: Bool) {
        self.length = length; self.refresh = refresh; self.reversed = reversed
    }
    /// The step of row `r` (rows are whole samples).
    public func step(ofRow r: Int) -> Int { reversed ? length - 1 - r % length : r % length }
    /// The row of step `t` within its sample.
    public func row(ofStep t: Int) -> Int { reversed ? length - 1 - t : t }
    /// Whether `rows` rows are whole samples of positive-length steps in positive-length windows.
    public func fits(rows: Int) -> Bool { length >= 1 && refresh >= 1 && rows % length == 0 }
}
