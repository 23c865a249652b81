/// A tensor as stored in a checkpoint: element type, shape and raw little-endian bytes
/// (row-major, contiguous).
public struct StoredTensor: Equatable, Sendable {
    /// Element type of `bytes`.
    public let dtype: DType
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Raw little-endian element bytes, exactly `count * dtype.byteSize` of them.
    public let bytes: [UInt8]
    /// File the tensor came from (for error messages; not part of equality).
    public let file: String
    /// Name of the tensor in that file (for error messages; not part of equality).
    public let name: String

    /// Wraps raw bytes; throws when the byte count does not match the shape and dtype.
    public init(dtype: DType, shape: [Int], bytes: [UInt8], file: String = "(memory)", name: String = "") throws {
        guard let n = StoredTensor.elementCount(shape) else {
            throw CheckpointError(file: file, key: name, "shape \(shape) is negative or overflows")
        }
        let (size, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, size == bytes.count else {
            throw CheckpointError(file: file, key: name,
                                  "expected \(n) × \(dtype.byteSize) bytes for \(dtype.rawValue) \(shape), found \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.file = file
        self.name = name
    }

    /// Number of elements (product of `shape`).
    public var count: Int { bytes.count / dtype.byteSize }

    /// Product of the dimensions, or nil when one is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    public static func == (a: StoredTensor, b: StoredTensor) -> Bool {
        a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes
    }

    /// The elements as Float: F32 as is, F16 and BF16 exactly, F64 rounded to nearest.
    /// Throws for integer and bool types.
    public func floats() throws -> [Float] {
        let n = count
        switch dtype {
        case .f32: return read(n) { p, i in Float(bitPattern: p.loadLE(UInt32.self, i * 4)) }
        case .f16: return read(n) { p, i in Float(Float16(bitPattern: p.loadLE(UInt16.self, i * 2))) }
        case .bf16: return read(n) { p, i in Float(bitPattern: UInt32(p.loadLE(UInt16.self, i * 2)) << 16) }
        case .f64: return read(n) { p, i in Float(Double(bitPattern: p.loadLE(UInt64.self, i * 8))) }
        default:
            throw CheckpointError(file: file, key: name, "expected a floating-point tensor, found \(dtype.rawValue)")
        }
    }

    /// The elements as Int32: I32 as is, narrower integers and BOOL widened, wider integers
    /// range-checked. Throws for floating-point types and out-of-range values.
    public func int32s() throws -> [Int32] {
        let n = count
        switch dtype {
        case .i32: return read(n) { p, i in Int32(bitPattern: p.loadLE(UInt32.self, i * 4)) }
        case .i16: return read(n) { p, i in Int32(Int16(bitPattern: p.loadLE(UInt16.self, i * 2))) }
        case .u16: return read(n) { p, i in Int32(p.loadLE(UInt16.self, i * 2)) }
        case .i8: return read(n) { p, i in Int32(Int8(bitPattern: p[i])) }
        case .u8, .bool: return read(n) { p, i in Int32(p[i]) }
        case .i64, .u64, .u32:
            var out = [Int32]()
            out.reserveCapacity(n)
            for i in 0..<n {
                let v: Int32?
                switch dtype {
                case .i64: v = Int32(exactly: Int64(bitPattern: bytes.loadLE(UInt64.self, i * 8)))
                case .u64: v = Int32(exactly: bytes.loadLE(UInt64.self, i * 8))
                default: v = Int32(exactly: bytes.loadLE(UInt32.self, i * 4))
                }
                guard let v else {
                    throw CheckpointError(file: file, key: name, "element \(i) of \(dtype.rawValue) tensor does not fit in Int32")
                }
                out.append(v)
            }
            return out
        default:
            throw CheckpointError(file: file, key: name, "expected an integer tensor, found \(dtype.rawValue)")
        }
    }

    private func read<T>(_ n: Int, _ element: (UnsafeRawBufferPointer, Int) -> T) -> [T] {
        bytes.withUnsafeBytes { p in
            [T](unsafeUninitializedCapacity: n) { buf, done in
                for i in 0..<n { (buf.baseAddress! + i).initialize(to: element(p, i)) }
                done = n
            }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Little-endian unaligned load; callers guarantee `offset + size <= count`.
    @inline(__always)
    func loadLE<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    /// Little-endian unaligned load; callers guarantee `offset + size <= count`.
    @inline(__always)
    func loadLE<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
        withUnsafeBytes { $0.loadLE(T.self, offset) }
    }
}
