/// Index of the first largest value of `v`, counted from the slice's start (ties go to the lower
/// index, as `torch.argmax`).
public func argmax(_ v: ArraySlice<Float>) -> Int { v.indices.max { v[$0] < v[$1] }! - v.startIndex }

extension Tensor {
    /// `argmax` of every row of a [rows, K] tensor: logits to predicted classes.
    public func rowArgmax() -> [Int] {
        let K = shape[shape.count - 1], rows = count / max(K, 1)
        return (0..<rows).map { b in argmax(data[(b * K)..<((b + 1) * K)]) }
    }
}
