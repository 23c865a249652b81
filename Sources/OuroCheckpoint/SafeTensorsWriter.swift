import OuroSupport

/// Builds a safetensors file in memory and writes it atomically.
///
/// Output is deterministic: `__metadata__` comes first with its keys sorted, then the tensors
/// in the order they were added (header and data alike), each as
/// `{"dtype":…,"shape":[…],"data_offsets":[b,e]}`, with no whitespace; the header is padded with
/// spaces so that the data section starts at a multiple of 8. The same adds in the same order
/// with the same metadata therefore give byte-identical files.
public struct SafeTensorsWriter {
    private struct Item {
        let name: String
        let dtype: DType
        let shape: [Int]
        let bytes: [UInt8]
    }

    /// String metadata stored under `__metadata__`.
    public var metadata: [String: String]
    private var items: [Item] = []
    private var taken: Set<String> = []

    /// An empty writer.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Names added so far, in order.
    public var names: [String] { items.map(\.name) }

    /// Adds float data stored as F32, F16 (round to nearest even) or BF16 (round to nearest even).
    public mutating func add(_ name: String, shape: [Int], floats: [Float], dtype: DType = .f32) throws {
        var out = [UInt8]()
        switch dtype {
        case .f32:
            out.reserveCapacity(floats.count * 4)
            for v in floats { out.appendLE(v.bitPattern) }
        case .f16:
            out.reserveCapacity(floats.count * 2)
            for v in floats { out.appendLE(Float16(v).bitPattern) }
        case .bf16:
            out.reserveCapacity(floats.count * 2)
            for v in floats { out.appendLE(Self.bfloat16Bits(v)) }
        default:
            throw CheckpointError(file: "(safetensors writer)", key: name, "float data can be stored as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        try append(name, dtype, shape, out)
    }

    /// Adds I32 data.
    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) throws {
        var out = [UInt8]()
        out.reserveCapacity(int32s.count * 4)
        for v in int32s { out.appendLE(UInt32(bitPattern: v)) }
        try append(name, .i32, shape, out)
    }

    /// Adds raw bytes as U8 or I8 (e.g. packed 4-bit weights).
    public mutating func add(_ name: String, shape: [Int], bytes: [UInt8], dtype: DType = .u8) throws {
        guard dtype == .u8 || dtype == .i8 else {
            throw CheckpointError(file: "(safetensors writer)", key: name, "byte data can be stored as U8 or I8, not \(dtype.rawValue)")
        }
        try append(name, dtype, shape, bytes)
    }

    /// Adds a tensor as it is (any dtype).
    public mutating func add(_ name: String, tensor: StoredTensor) throws {
        try append(name, tensor.dtype, tensor.shape, tensor.bytes)
    }

    private mutating func append(_ name: String, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws {
        func fail(_ m: String) -> CheckpointError { CheckpointError(file: "(safetensors writer)", key: name, m) }
        guard !name.isEmpty, name != "__metadata__" else { throw fail("tensor name must be non-empty and not __metadata__") }
        guard !taken.contains(name) else { throw fail("a tensor with this name was already added") }
        guard let n = StoredTensor.elementCount(shape), n.multipliedReportingOverflow(by: dtype.byteSize) == (bytes.count, false) else {
            throw fail("shape \(shape) does not match \(bytes.count / dtype.byteSize) \(dtype.rawValue) elements")
        }
        taken.insert(name)
        items.append(Item(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// The complete file contents.
    public func encoded() -> [UInt8] {
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { JSONText.quote($0) + ":" + JSONText.quote(metadata[$0]!) }.joined(separator: ",")
            header += "}"
            first = false
        }
        var offset = 0
        for it in items {
            if !first { header += "," }
            first = false
            header += JSONText.quote(it.name) + ":{\"dtype\":\"\(it.dtype.rawValue)\",\"shape\":["
            header += it.shape.map(String.init).joined(separator: ",")
            header += "],\"data_offsets\":[\(offset),\(offset + it.bytes.count)]}"
            offset += it.bytes.count
        }
        header += "}"
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + h.count + offset)
        out.appendLE(UInt64(h.count))
        out += h
        for it in items { out += it.bytes }
        return out
    }

    /// Writes the file atomically (temporary file in the same folder, then rename).
    public func write(to path: String) throws {
        try AtomicFile.write(encoded(), to: path)
    }

    /// Float → bfloat16 with round to nearest even; NaN stays a quiet NaN.
    static func bfloat16Bits(_ v: Float) -> UInt16 {
        let b = v.bitPattern
        if v.isNaN { return UInt16(b >> 16) | 0x0040 }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}
