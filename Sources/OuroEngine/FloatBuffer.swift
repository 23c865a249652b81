/// An owned, fixed-size float32 scratch buffer for pointer-based kernels.
///
/// Layer internals are large and short-lived; a class with a raw allocation avoids nested
/// `withUnsafeMutableBufferPointer` closures and copy-on-write checks in hot code.
public final class FloatBuffer: Sendable {
    public let count: Int
    /// The allocation. `nonisolated(unsafe)`: a buffer has one owner at a time; threads of the
    /// parallel-for write disjoint ranges of it (that type's contract), never the same element.
    nonisolated(unsafe) public let pointer: UnsafeMutablePointer<Float>

    /// A zero-filled buffer.
    public init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocation without initialisation (see `init(uninitialized:)`).
    init(rawCount count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
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

extension FloatBuffer {
    /// A buffer whose contents are unspecified (for outputs that are fully overwritten).
    public convenience init(uninitialized count: Int) {
        self.init(rawCount: count)
    }
}

#if os(Linux)
@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// Process-level memory settings for the engine.
public enum MemoryTuning {
    /// Keeps large freed blocks in the heap instead of returning them to the OS: layer
    /// buffers are reallocated on every layer, and fresh mmaps cost page faults and zeroing.
    public static func keepLargeAllocations() {
        #if os(Linux)
        _ = glibcMallopt(-3, 512 << 20)   // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, 1 << 30)     // M_TRIM_THRESHOLD
        #endif
    }
}
