/// Rows of a row-major float matrix scaled to unit L2 norm in float64 (norm floor 1e-8), as
/// the cosine similarities of the contrastive and PSE losses use them.
struct UnitRows {
    /// ‖row‖ (unfloored).
    let norms: [Double]
    /// row / max(‖row‖, 1e-8), rows × cols.
    let unit: [Double]

    init(_ x: UnsafePointer<Float>, rows: Int, cols: Int) {
        var norms = [Double](repeating: 0, count: rows), unit = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<cols { s += Double(x[r * cols + j]) * Double(x[r * cols + j]) }
            norms[r] = s.squareRoot()
            let inv = 1 / max(norms[r], 1e-8)
            for j in 0..<cols { unit[r * cols + j] = Double(x[r * cols + j]) * inv }
        }
        self.norms = norms; self.unit = unit
    }
}
