/// An owned, fixed-size float32 scratch buffer for pointer-based kernels.
///
/// Layer internals are large and short-lived; a class with a raw allocation avoids nested
/// `withUnsafeMutableBufferPointer` closures and copy-on-write checks in hot code.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// A zero-filled buffer.
    public init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: count) } }
    }

    deinit { pointer.deallocate() }

    /// Read-only pointer.
    @inline(__always) public var ptr: UnsafePointer<Float> { UnsafePointer(pointer) }

    /// Copies the contents out.
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }
}
