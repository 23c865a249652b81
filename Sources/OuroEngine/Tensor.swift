/// A contiguous, row-major float32 tensor with value semantics (copy-on-write storage).
public struct Tensor: Equatable, Sendable {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Elements in row-major order.
    public var data: [Float]

    /// Number of elements of a shape.
    @inline(__always)
    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: Tensor.count(of: shape))
    }

    /// Wraps `data` with `shape`; the element count must match.
    public init(shape: [Int], data: [Float]) {
        precondition(Tensor.count(of: shape) == data.count,
                     "Tensor: shape \(shape) needs \(Tensor.count(of: shape)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Element count.
    @inline(__always) public var count: Int { data.count }

    /// The same elements with a new shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, data: data) }

    /// Flat element access.
    @inline(__always)
    public subscript(flat i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// Maximum absolute value (0 for an empty tensor).
    public var maxAbs: Float { data.reduce(0) { max($0, abs($1)) } }

    /// Rows [start, start+n) of the outermost dimension.
    public func slice(outer start: Int, count n: Int) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        var s = shape
        s[0] = n
        return Tensor(shape: s, data: Array(data[(start * inner)..<((start + n) * inner)]))
    }
}

/// max|a − b| / max|b|, the comparison measure used by every golden test.
public func relativeMaxError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "relativeMaxError: \(a.count) vs \(b.count) elements")
    var num = 0.0, den = 0.0
    for i in 0..<a.count {
        num = max(num, Double(abs(a[i] - b[i])))
        den = max(den, Double(abs(b[i])))
    }
    return den == 0 ? num : num / den
}
