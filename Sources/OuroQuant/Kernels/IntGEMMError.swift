/// Bad caller input to the integer GEMM API (thrown, never trapped).
public enum IntGEMMError: Error, Equatable, Sendable {
    /// A bit width outside the supported set (`what` names the argument).
    case unsupportedBits(what: String, bits: Int)
    /// An array or leading dimension does not match the declared shape.
    case shapeMismatch(String)
    /// An integer value outside the symmetric range of its bit width.
    case valueOutOfRange(what: String, index: Int, value: Int)
    /// A scale that is not finite and positive.
    case badScale(what: String, index: Int)
    /// An outlier column index outside 0..<cols, or listed twice for one row.
    case badOutlierColumn(row: Int, column: Int)
    /// Row `row`'s list lacks `column`, which the list of the step before it in its window holds
    /// (lists claimed to nest by `WindowNesting` must only grow inside a window).
    case listsDoNotNest(row: Int, column: Int)
    /// The AVX2 path was requested on a CPU without AVX2+FMA.
    case pathUnavailable
}
